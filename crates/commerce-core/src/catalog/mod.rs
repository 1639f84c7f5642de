//! The catalog: products, collections and the commands that change them.
//!
//! Every input goes through a validated newtype (`Sku::parse`, `ProductName::parse`,
//! ...) so a `Product` can only hold valid values. Commands return the domain
//! event they caused; the application service persists both atomically.

mod collection;
mod fields;
mod product;
mod search;

use serde::{Deserialize, Serialize};

pub use collection::{Collection, CollectionInput, CollectionPatch, CollectionPatchInput};
pub use fields::{AttributeName, AttributeValue, Attributes, CollectionName, Description, ProductName, Sku, Slug};
pub use product::{
    CatalogRuleError, MoneyInput, NewProduct, Product, ProductInput, ProductPatch, ProductPatchInput, ProductStatus,
};
pub use search::ProductSearch;

/// An aggregate's version for optimistic concurrency: 1 when created, +1 per change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of a newly created aggregate.
    pub const INITIAL: Self = Self(1);

    /// Wraps a raw version number.
    pub const fn new(v: u64) -> Self {
        Self(v)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after one more change.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
