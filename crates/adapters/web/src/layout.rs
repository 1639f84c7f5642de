//! [`Layout`]: what the frame around every page shows.

/// The header's shop name and search box.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The shop's name.
    pub shop: String,
    /// The search box's current text.
    pub q: String,
}

impl Layout {
    /// The frame of `config`'s shop, with `q` in the search box.
    pub fn new(config: &crate::WebConfig, q: &str) -> Self {
        Self { shop: config.shop_name.clone(), q: q.to_owned() }
    }

    /// The frame of an error page, which may not know the shop.
    pub fn plain() -> Self {
        Self { shop: "Shop".into(), q: String::new() }
    }
}
