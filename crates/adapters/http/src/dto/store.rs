//! Bodies of the store routes: listings and product pages.

use std::collections::BTreeMap;

use commerce_core::{catalog::Collection, query::ProductView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::MoneyDto;

/// A collection reference inside a store product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionRef {
    /// Collection id.
    pub id: String,
    /// Collection name.
    pub name: String,
}

/// A product as customers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreProduct {
    /// Id.
    pub id: String,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: MoneyDto,
    /// Collection, or null.
    pub collection: Option<CollectionRef>,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// Units a customer can buy now.
    pub available_stock: u64,
}

impl StoreProduct {
    /// [`StoreProduct::new`] taking `v`'s fields instead of copying them (a listing's views
    /// are its own).
    pub fn from_view(v: ProductView, collections: &[Collection]) -> Self {
        Self {
            id: v.id.to_string(),
            collection: collection_ref(&v, collections),
            sku: v.sku.into(),
            name: v.name.into(),
            description: v.description.into(),
            price: v.price.into(),
            attributes: v.attributes.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            available_stock: v.available_stock,
        }
    }

    /// The store view of `v`, naming its collection from `collections`.
    pub fn new(v: &ProductView, collections: &[Collection]) -> Self {
        Self::from_view(v.clone(), collections)
    }
}

/// `v`'s collection, named from `collections`.
fn collection_ref(v: &ProductView, collections: &[Collection]) -> Option<CollectionRef> {
    let id = v.collection_id?;
    collections.iter().find(|c| c.id == id).map(|c| CollectionRef { id: id.to_string(), name: c.name.to_string() })
}

/// One page of a store listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreProductPage {
    /// Products in the requested order.
    pub items: Vec<StoreProduct>,
    /// Pass as `cursor` (with the same `sort`) for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
