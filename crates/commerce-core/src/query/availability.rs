//! [`Availability`]: how much of a product a customer is told remains, the same on every
//! storefront (web pages, apps through the APIs).

/// A product's remaining stock as customers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Plenty: the count is shown as is.
    InStock(u64),
    /// At most [`LOW_STOCK`](Self::LOW_STOCK) left: worth saying so.
    LowStock(u64),
    /// Nothing to sell: the product cannot be bought.
    SoldOut,
}

impl Availability {
    /// At or below this many units, stock is low.
    pub const LOW_STOCK: u64 = 5;

    /// The availability of `available` units.
    pub fn of(available: u64) -> Self {
        match available {
            0 => Self::SoldOut,
            n if n <= Self::LOW_STOCK => Self::LowStock(n),
            n => Self::InStock(n),
        }
    }

    /// True unless sold out.
    pub fn purchasable(self) -> bool {
        self != Self::SoldOut
    }
}

impl super::ProductView {
    /// How much of it a customer is told remains.
    pub fn availability(&self) -> Availability {
        Availability::of(self.available_stock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_stock_is_at_most_five_and_none_is_sold_out() {
        assert_eq!(Availability::of(0), Availability::SoldOut);
        assert_eq!(Availability::of(1), Availability::LowStock(1));
        assert_eq!(Availability::of(5), Availability::LowStock(5));
        assert_eq!(Availability::of(6), Availability::InStock(6));
        assert!(!Availability::of(0).purchasable());
        assert!(Availability::of(1).purchasable());
    }
}
