//! [`Layout`]: what the frame around every page shows.

/// The header's shop name and search box.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The shop's name.
    pub shop: String,
    /// The search box's current text.
    pub q: String,
    /// Units in the cart, for the header's cart link.
    pub cart_units: u64,
}

impl Layout {
    /// The frame of `config`'s shop, with `q` in the search box and `cart`'s size.
    pub fn new(config: &crate::WebConfig, q: &str, cart: &commerce_core::cart::Cart) -> Self {
        Self { shop: config.shop_name.clone(), q: q.to_owned(), cart_units: cart.units() }
    }

    /// The frame of an error page, which may not know the shop.
    pub fn plain() -> Self {
        Self { shop: "Shop".into(), q: String::new(), cart_units: 0 }
    }
}
