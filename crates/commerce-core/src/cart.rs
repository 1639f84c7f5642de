//! [`Cart`]: what a customer means to buy, before checkout.
//!
//! A cart belongs to the customer's device (a cookie, an app's storage), not to the shop:
//! the shop keeps nothing until checkout. So the cart travels as a compact text
//! ([`Cart::encode`]) and is checked against the catalog each time it is shown
//! ([`Cart::review`]): a product may have sold out, or left the shop, since it was added.

use crate::{
    ProductId,
    inventory::Quantity,
    money::Money,
    query::{Availability, ProductView},
    services::checkout::CheckoutItemInput,
};

/// Why a cart change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// The cart already holds [`Cart::MAX_LINES`] products.
    #[error("a cart holds at most {} different products", Cart::MAX_LINES)]
    Full,
    /// A line would hold more than [`Quantity::MAX`] units, or fewer than one.
    #[error("a quantity is 1 to {}", Quantity::MAX)]
    Quantity,
    /// Nothing of this product is left.
    #[error("sold out")]
    SoldOut,
    /// The line would ask for more than is in stock.
    #[error("only {available} in stock")]
    NotEnoughStock {
        /// Units available now.
        available: u64,
    },
}

/// One product in the cart and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartLine {
    /// The product.
    pub product_id: ProductId,
    /// How many.
    pub quantity: Quantity,
}

/// The products a customer means to buy, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<CartLine>,
}

impl Cart {
    /// Most different products in one cart (its text stays well under a cookie's 4 KiB).
    pub const MAX_LINES: usize = 50;

    /// The lines, in the order they were added.
    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    /// True with no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Units in the cart, all lines together.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity.get())).sum()
    }

    fn line(&self, product: ProductId) -> Option<&CartLine> {
        self.lines.iter().find(|l| l.product_id == product)
    }

    /// Adds `quantity` of `product` (`view`, as the storefront shows it now), on top of
    /// any already in the cart. Refused when sold out, when the line would pass the
    /// stock, or when the cart is full.
    pub fn add(&mut self, view: &ProductView, quantity: u32) -> Result<(), CartError> {
        let already = self.line(view.id).map_or(0, |l| l.quantity.get());
        self.set(view, already.saturating_add(quantity))
    }

    /// Sets the line of `product` to `quantity` units; 0 removes it. The same checks as
    /// [`add`](Self::add).
    pub fn set(&mut self, view: &ProductView, quantity: u32) -> Result<(), CartError> {
        if quantity == 0 {
            self.remove(view.id);
            return Ok(());
        }
        let quantity = Quantity::new(quantity).map_err(|_| CartError::Quantity)?;
        match view.availability() {
            Availability::SoldOut => return Err(CartError::SoldOut),
            _ if u64::from(quantity.get()) > view.available_stock => {
                return Err(CartError::NotEnoughStock { available: view.available_stock });
            }
            _ => {}
        }
        let full = self.lines.len() >= Self::MAX_LINES;
        match self.lines.iter_mut().find(|l| l.product_id == view.id) {
            Some(line) => line.quantity = quantity,
            None if full => return Err(CartError::Full),
            None => self.lines.push(CartLine { product_id: view.id, quantity }),
        }
        Ok(())
    }

    /// Takes `product` out of the cart (nothing happens if it is not in it).
    pub fn remove(&mut self, product: ProductId) {
        self.lines.retain(|l| l.product_id != product);
    }

    /// The cart as text: `<product id>*<quantity>` lines joined by `.` (URL- and
    /// cookie-safe).
    pub fn encode(&self) -> String {
        self.lines.iter().map(|l| format!("{}*{}", l.product_id, l.quantity.get())).collect::<Vec<_>>().join(".")
    }

    /// Reads [`encode`](Self::encode)'s text. A cart is the customer's own note, so what
    /// cannot be read (a malformed line, a repeated product, lines past the limit) is
    /// left out rather than refused.
    pub fn decode(text: &str) -> Self {
        let mut cart = Self::default();
        for part in text.split('.') {
            let Some((id, quantity)) = part.split_once('*') else { continue };
            let (Ok(product_id), Some(quantity)) =
                (id.parse::<ProductId>(), quantity.parse::<u32>().ok().and_then(|q| Quantity::new(q).ok()))
            else {
                continue;
            };
            if cart.line(product_id).is_none() && cart.lines.len() < Self::MAX_LINES {
                cart.lines.push(CartLine { product_id, quantity });
            }
        }
        cart
    }

    /// The cart against the catalog now: `product` gives each line's product as the
    /// storefront shows it (`None`: no longer for sale).
    pub fn review(&self, mut product: impl FnMut(ProductId) -> Option<ProductView>) -> CartReview {
        let lines: Vec<ReviewedLine> = self
            .lines
            .iter()
            .map(|line| {
                let view = product(line.product_id);
                let wanted = u64::from(line.quantity.get());
                let problem = match &view {
                    None => Some(LineProblem::Unavailable),
                    Some(v) if v.available_stock == 0 => Some(LineProblem::SoldOut),
                    Some(v) if wanted > v.available_stock => {
                        Some(LineProblem::NotEnoughStock { available: v.available_stock })
                    }
                    Some(_) => None,
                };
                let line_total = view.as_ref().and_then(|v| v.price.checked_mul(line.quantity.get()).ok());
                ReviewedLine { line: *line, product: view, line_total, problem }
            })
            .collect();
        let totals: Vec<Money> = lines.iter().filter_map(|l| l.line_total).collect();
        let subtotal = totals.first().and_then(|first| Money::sum(first.currency(), &totals).ok());
        CartReview { lines, subtotal }
    }
}

/// Why a line cannot be bought as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// The product is no longer for sale.
    Unavailable,
    /// Nothing of it is left.
    SoldOut,
    /// Fewer are left than the line asks for.
    NotEnoughStock {
        /// Units available now.
        available: u64,
    },
}

/// One line of a reviewed cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedLine {
    /// The line as the customer left it.
    pub line: CartLine,
    /// The product now, when still for sale.
    pub product: Option<ProductView>,
    /// Unit price times quantity.
    pub line_total: Option<Money>,
    /// What stops the line from being bought, if anything.
    pub problem: Option<LineProblem>,
}

/// A cart checked against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartReview {
    /// Each line, in the cart's order.
    pub lines: Vec<ReviewedLine>,
    /// The sum of the line totals, before shipping and tax (`None`: empty, or lines in
    /// several currencies, which checkout refuses).
    pub subtotal: Option<Money>,
}

impl CartReview {
    /// True when the cart can go to checkout: not empty, every line buyable, one currency.
    pub fn ready(&self) -> bool {
        !self.lines.is_empty() && self.subtotal.is_some() && self.lines.iter().all(|l| l.problem.is_none())
    }

    /// The checkout's items.
    pub fn items(&self) -> Vec<CheckoutItemInput> {
        self.lines
            .iter()
            .map(|l| CheckoutItemInput {
                product_id: l.line.product_id.to_string(),
                quantity: i64::from(l.line.quantity.get()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        catalog::{MoneyInput, Product, ProductInput},
        timestamp::Timestamp,
    };

    /// An active product at 10.00 USD with `n` units available.
    fn stocked(n: u64) -> ProductView {
        let input = ProductInput {
            sku: "MUG-1".into(),
            name: "Mug".into(),
            price: MoneyInput { amount: 1000, currency: "USD".into() },
            status: Some("active".into()),
            ..ProductInput::default()
        };
        let id = ProductId::from_uuid(uuid::Uuid::new_v4());
        let product = Product::create(id, input.validate().unwrap(), Timestamp::from_unix_micros(1)).unwrap();
        ProductView::from_product(&product, n, 1)
    }

    #[test]
    fn adding_merges_lines_and_never_passes_the_stock() {
        let mug = stocked(5);
        let mut cart = Cart::default();
        cart.add(&mug, 2).unwrap();
        cart.add(&mug, 3).unwrap();
        assert_eq!(cart.lines().len(), 1);
        assert_eq!(cart.units(), 5);
        assert_eq!(cart.add(&mug, 1), Err(CartError::NotEnoughStock { available: 5 }));
        assert_eq!(cart.add(&stocked(0), 1), Err(CartError::SoldOut));
        assert_eq!(cart.set(&mug, Quantity::MAX + 1), Err(CartError::Quantity));
        cart.set(&mug, 0).unwrap();
        assert!(cart.is_empty());
    }

    #[test]
    fn a_cart_is_full_at_its_limit() {
        let mut cart = Cart::default();
        for _ in 0..Cart::MAX_LINES {
            let mut v = stocked(9);
            v.id = ProductId::from_uuid(uuid::Uuid::new_v4());
            cart.add(&v, 1).unwrap();
        }
        let mut one_more = stocked(9);
        one_more.id = ProductId::from_uuid(uuid::Uuid::new_v4());
        assert_eq!(cart.add(&one_more, 1), Err(CartError::Full));
    }

    #[test]
    fn the_text_round_trips_and_garbage_is_left_out() {
        let (a, b) = (stocked(9), {
            let mut v = stocked(9);
            v.id = ProductId::from_uuid(uuid::Uuid::new_v4());
            v
        });
        let mut cart = Cart::default();
        cart.add(&a, 2).unwrap();
        cart.add(&b, 7).unwrap();
        assert_eq!(Cart::decode(&cart.encode()), cart);
        let noisy = format!("{}.junk.{}*0.{}*3.x*1", cart.encode(), a.id, a.id);
        assert_eq!(Cart::decode(&noisy), cart, "bad lines and a repeated product are dropped");
        assert!(Cart::decode("").is_empty());
    }

    #[test]
    fn a_review_names_what_stops_each_line() {
        let (fine, short, gone) = (stocked(9), stocked(2), stocked(9));
        let mut short = short;
        short.id = ProductId::from_uuid(uuid::Uuid::new_v4());
        let mut gone = gone;
        gone.id = ProductId::from_uuid(uuid::Uuid::new_v4());
        let mut cart = Cart::default();
        cart.add(&fine, 2).unwrap();
        cart.add(&short, 2).unwrap();
        cart.add(&gone, 1).unwrap();
        let now = |id: ProductId| {
            if id == short.id {
                let mut v = short.clone();
                v.available_stock = 1;
                Some(v)
            } else if id == gone.id {
                None
            } else {
                Some(fine.clone())
            }
        };
        let review = cart.review(now);
        let problems: Vec<_> = review.lines.iter().map(|l| l.problem).collect();
        assert_eq!(
            problems,
            [None, Some(LineProblem::NotEnoughStock { available: 1 }), Some(LineProblem::Unavailable)]
        );
        assert!(!review.ready());
        assert_eq!(review.subtotal.map(|m| m.amount()), Some(4000));
        let ready = Cart::decode(&format!("{}*2", fine.id)).review(|_| Some(fine.clone()));
        assert!(ready.ready());
        assert_eq!(ready.items()[0].quantity, 2);
    }
}
