//! Bodies of the admin routes: products, collections, stock, orders.

use std::collections::BTreeMap;

use commerce_core::{
    catalog::{Collection, CollectionInput, CollectionPatchInput, Product, ProductInput, ProductPatchInput},
    inventory::StockLevel,
    services::catalog::RestockRequested,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MoneyDto, OrderDto, PriceDto, attributes_of, whole_number};
use crate::openapi::rules;

/// Body of `POST /admin/v1/products`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// Unique SKU: 1-64 of `A-Z a-z 0-9 - _ .`.
    #[schema(schema_with = rules::sku)]
    pub sku: String,
    /// Display name, 1-200 characters.
    #[schema(schema_with = rules::product_name)]
    pub name: String,
    /// Description, up to 10,000 characters.
    #[serde(default)]
    #[schema(schema_with = rules::description)]
    pub description: String,
    /// Unit price.
    pub price: PriceDto,
    /// Collection id, or null.
    #[serde(default)]
    #[schema(schema_with = rules::collection_ref)]
    pub collection_id: Option<String>,
    /// Attributes such as `{"colour": "red", "size": "M"}` (names: `a-z 0-9 _`).
    #[serde(default)]
    #[schema(schema_with = rules::attributes)]
    pub attributes: BTreeMap<String, String>,
    /// `draft` (default) or `active`.
    #[serde(default)]
    #[schema(schema_with = rules::product_status)]
    pub status: Option<String>,
}

impl From<CreateProductRequest> for ProductInput {
    fn from(r: CreateProductRequest) -> Self {
        Self {
            sku: r.sku,
            name: r.name,
            description: r.description,
            price: r.price.into(),
            collection_id: r.collection_id,
            attributes: r.attributes,
            status: r.status,
        }
    }
}

/// Body of `PATCH /admin/v1/products/{id}`: any subset of the create fields;
/// `"collection_id": null` removes the product from its collection.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    /// SKU.
    #[serde(default)]
    #[schema(schema_with = rules::sku_patch)]
    pub sku: Option<String>,
    /// Name.
    #[serde(default)]
    #[schema(schema_with = rules::product_name_patch)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    #[schema(schema_with = rules::description_patch)]
    pub description: Option<String>,
    /// Price.
    #[serde(default)]
    pub price: Option<PriceDto>,
    /// Collection id; null clears it.
    #[serde(default, with = "double_option")]
    #[schema(schema_with = rules::collection_ref)]
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub collection_id: Option<Option<String>>,
    /// Attributes (replaces the whole set).
    #[serde(default)]
    #[schema(schema_with = rules::attributes_patch)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// `draft` or `active`.
    #[serde(default)]
    #[schema(schema_with = rules::product_status)]
    pub status: Option<String>,
}

impl From<UpdateProductRequest> for ProductPatchInput {
    fn from(r: UpdateProductRequest) -> Self {
        Self {
            sku: r.sku,
            name: r.name,
            description: r.description,
            price: r.price.map(Into::into),
            collection_id: r.collection_id,
            attributes: r.attributes,
            status: r.status,
        }
    }
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A product as operators see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminProduct {
    /// Id (UUIDv7).
    pub id: String,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: MoneyDto,
    /// Collection id.
    pub collection_id: Option<String>,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// `draft`, `active` or `archived`.
    pub status: String,
    /// Version for optimistic concurrency (also the `ETag`).
    pub version: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<&Product> for AdminProduct {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id.to_string(),
            sku: p.sku.to_string(),
            name: p.name.to_string(),
            description: p.description.to_string(),
            price: p.price.into(),
            collection_id: p.collection_id.map(|c| c.to_string()),
            attributes: attributes_of(&p.attributes),
            status: p.status.as_str().to_owned(),
            version: p.version.get(),
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
        }
    }
}

/// A page of products for operators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdminProductPage {
    /// Products in id order.
    pub items: Vec<AdminProduct>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
/// Body of `POST /admin/v1/collections`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollectionRequest {
    /// Unique handle: `a-z 0-9 -`, no leading, trailing or doubled hyphen.
    #[schema(schema_with = rules::slug)]
    pub slug: String,
    /// Name, 1-120 characters.
    #[schema(schema_with = rules::collection_name)]
    pub name: String,
    /// Description.
    #[serde(default)]
    #[schema(schema_with = rules::description)]
    pub description: String,
}

impl From<CreateCollectionRequest> for CollectionInput {
    fn from(r: CreateCollectionRequest) -> Self {
        Self { slug: r.slug, name: r.name, description: r.description }
    }
}

/// Body of `PATCH /admin/v1/collections/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollectionRequest {
    /// Handle.
    #[serde(default)]
    #[schema(schema_with = rules::slug_patch)]
    pub slug: Option<String>,
    /// Name.
    #[serde(default)]
    #[schema(schema_with = rules::collection_name_patch)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    #[schema(schema_with = rules::description_patch)]
    pub description: Option<String>,
}

impl From<UpdateCollectionRequest> for CollectionPatchInput {
    fn from(r: UpdateCollectionRequest) -> Self {
        Self { slug: r.slug, name: r.name, description: r.description }
    }
}

/// A collection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionDto {
    /// Id.
    pub id: String,
    /// Handle.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Version (also the `ETag` on admin routes).
    pub version: u64,
}

impl From<&Collection> for CollectionDto {
    fn from(c: &Collection) -> Self {
        Self {
            id: c.id.to_string(),
            slug: c.slug.to_string(),
            name: c.name.to_string(),
            description: c.description.to_string(),
            version: c.version.get(),
        }
    }
}

/// A list of collections.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    /// Collections by name.
    pub items: Vec<CollectionDto>,
}

/// Body of `PUT /admin/v1/products/{id}/stock`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockRequest {
    /// Units physically in stock (at most 1,000,000,000).
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::on_hand)]
    pub on_hand: u64,
}

/// A restock recorded for the inventory service (`202` of `PUT .../stock` where restocks
/// travel as events).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RestockAccepted {
    /// Product id.
    pub product_id: String,
    /// The on-hand units asked for.
    pub on_hand: u64,
    /// The product's restock number (1, 2, ...); the inventory applies restocks in this order.
    pub restock: u64,
}

impl From<RestockRequested> for RestockAccepted {
    fn from(r: RestockRequested) -> Self {
        Self { product_id: r.product_id.to_string(), on_hand: r.on_hand.get(), restock: r.restock }
    }
}

/// A product's stock.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StockDto {
    /// Product id.
    pub product_id: String,
    /// Units in stock.
    pub on_hand: u64,
    /// Units held by open checkouts.
    pub reserved: u64,
    /// `on_hand - reserved`.
    pub available: u64,
}

impl From<StockLevel> for StockDto {
    fn from(l: StockLevel) -> Self {
        Self {
            product_id: l.product_id.to_string(),
            on_hand: l.on_hand,
            reserved: l.reserved,
            available: l.available(),
        }
    }
}
/// A page of orders for operators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    /// Orders, newest first.
    pub items: Vec<OrderDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
