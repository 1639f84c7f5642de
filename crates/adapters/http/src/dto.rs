//! The JSON shapes of the HTTP API (the public contract, see `docs/http.md`).
//!
//! Request bodies are deserialised here and converted to the core's input
//! types, which validate them; responses are built from domain values. Keeping
//! them apart lets the domain evolve without breaking the wire format.

use std::collections::BTreeMap;

use commerce_core::{
    catalog::{
        Collection, CollectionInput, CollectionPatchInput, MoneyInput, Product, ProductInput, ProductPatchInput,
    },
    inventory::StockLevel,
    money::Money,
    order::{FailureReason, Order, OrderLine},
    payment::CardInput,
    query::ProductView,
    services::{
        catalog::RestockRequested,
        checkout::{CheckoutInput, CheckoutItemInput},
    },
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount in minor units of an ISO 4217 currency: `{"amount": 1999, "currency": "USD"}` is $19.99.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Minor units (cents for USD, yen for JPY, fils for KWD).
    #[schema(example = 1999)]
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(example = "USD")]
    pub currency: String,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        Self { amount: m.amount(), currency: m.currency().code().to_owned() }
    }
}

impl From<MoneyDto> for MoneyInput {
    fn from(m: MoneyDto) -> Self {
        Self { amount: m.amount, currency: m.currency }
    }
}

/// Body of `POST /admin/v1/products`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// Unique SKU: 1-64 of `A-Z a-z 0-9 - _ .`.
    #[schema(example = "TEE-RED-M", pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// Display name, 1-200 characters.
    #[schema(example = "Red tee", min_length = 1, max_length = 200)]
    pub name: String,
    /// Description, up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// Unit price.
    pub price: MoneyDto,
    /// Collection id, or null.
    #[serde(default)]
    pub collection_id: Option<String>,
    /// Attributes such as `{"colour": "red", "size": "M"}` (names: `a-z 0-9 _`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// `draft` (default) or `active`.
    #[serde(default)]
    #[schema(example = "active")]
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
    pub sku: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Price.
    #[serde(default)]
    pub price: Option<MoneyDto>,
    /// Collection id; null clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub collection_id: Option<Option<String>>,
    /// Attributes (replaces the whole set).
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// `draft` or `active`.
    #[serde(default)]
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

fn attributes_of(a: &commerce_core::catalog::Attributes) -> BTreeMap<String, String> {
    a.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
    /// The store view of `v`, naming its collection from `collections`.
    pub fn new(v: &ProductView, collections: &[Collection]) -> Self {
        let collection = v.collection_id.and_then(|id| {
            collections
                .iter()
                .find(|c| c.id == id)
                .map(|c| CollectionRef { id: id.to_string(), name: c.name.to_string() })
        });
        Self {
            id: v.id.to_string(),
            sku: v.sku.to_string(),
            name: v.name.to_string(),
            description: v.description.to_string(),
            price: v.price.into(),
            collection,
            attributes: attributes_of(&v.attributes),
            available_stock: v.available_stock,
        }
    }
}

/// One page of a store listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreProductPage {
    /// Products in the requested order.
    pub items: Vec<StoreProduct>,
    /// Pass as `cursor` (with the same `sort`) for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /admin/v1/collections`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollectionRequest {
    /// Unique handle: `a-z 0-9 -`, no leading, trailing or doubled hyphen.
    #[schema(example = "t-shirts", pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 80)]
    pub slug: String,
    /// Name, 1-120 characters.
    #[schema(example = "T-shirts", min_length = 1, max_length = 120)]
    pub name: String,
    /// Description.
    #[serde(default)]
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
    pub slug: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
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
    #[schema(example = 25, minimum = 0, maximum = 1_000_000_000)]
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
        Self { product_id: r.product_id.to_string(), on_hand: r.on_hand, restock: r.restock }
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

/// One item of a checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutItem {
    /// Product id.
    #[schema(format = Uuid)]
    pub product_id: String,
    /// Units, 1-10,000.
    #[schema(example = 1, minimum = 1, maximum = 10_000)]
    pub quantity: i64,
}

/// Card details. Never stored or logged: the processor tokenises them.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// Card number; spaces and dashes allowed.
    #[schema(example = "4242 4242 4242 4242")]
    pub number: String,
    /// 1-12.
    #[schema(example = 12, minimum = 1, maximum = 12)]
    pub exp_month: u8,
    /// Two or four digits.
    #[schema(example = 2030)]
    pub exp_year: u16,
    /// 3 digits (4 for American Express).
    #[schema(example = "123", pattern = r"^[0-9]{3,4}$")]
    pub cvc: String,
}

impl std::fmt::Debug for CardRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRequest").finish_non_exhaustive()
    }
}

/// Body of `POST /store/v1/checkout`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Customer e-mail.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Items.
    pub items: Vec<CheckoutItem>,
    /// Card.
    pub card: CardRequest,
}

impl From<CheckoutRequest> for CheckoutInput {
    fn from(r: CheckoutRequest) -> Self {
        Self {
            email: r.email,
            items: r
                .items
                .into_iter()
                .map(|i| CheckoutItemInput { product_id: i.product_id, quantity: i.quantity })
                .collect(),
            card: CardInput {
                number: r.card.number,
                exp_month: r.card.exp_month,
                exp_year: r.card.exp_year,
                cvc: r.card.cvc,
            },
        }
    }
}

/// One order line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLineDto {
    /// Product id.
    pub product_id: String,
    /// SKU at purchase.
    pub sku: String,
    /// Name at purchase.
    pub name: String,
    /// Unit price at purchase.
    pub unit_price: MoneyDto,
    /// Units.
    pub quantity: u32,
    /// `unit_price * quantity`.
    pub line_total: MoneyDto,
}

impl From<&OrderLine> for OrderLineDto {
    fn from(l: &OrderLine) -> Self {
        Self {
            product_id: l.product_id.to_string(),
            sku: l.sku.to_string(),
            name: l.name.to_string(),
            unit_price: l.unit_price.into(),
            quantity: l.quantity.get(),
            line_total: l.line_total.into(),
        }
    }
}

/// How an order was paid: card brand and last four digits only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentSummary {
    /// `visa`, `mastercard`, `amex`, ...
    pub brand: String,
    /// Last four digits.
    pub last4: String,
}

/// An order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderDto {
    /// Id.
    pub id: String,
    /// `pending`, `stock_reserved`, `payment_authorized`, `paid`, `fulfilled`, `cancelled` or `payment_failed`.
    pub status: String,
    /// Customer e-mail.
    pub email: String,
    /// Lines.
    pub lines: Vec<OrderLineDto>,
    /// Total.
    pub total: MoneyDto,
    /// Card brand and last four.
    pub payment: PaymentSummary,
    /// Why it failed, when it did: `{"code": "out_of_stock" | "payment_declined" | ...}`.
    #[schema(value_type = Option<Object>)]
    pub failure: Option<serde_json::Value>,
    /// Secret for `GET /store/v1/orders/{id}`; returned once, at checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl OrderDto {
    /// The order, with the access token when it is being handed out.
    pub fn new(o: &Order, access_token: Option<String>) -> Self {
        Self {
            id: o.id.to_string(),
            status: o.status.as_str().to_owned(),
            email: o.email.as_str().to_owned(),
            lines: o.lines.iter().map(Into::into).collect(),
            total: o.total.into(),
            payment: PaymentSummary {
                brand: serde_json::to_value(o.payment_method.brand)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                last4: o.payment_method.last4.clone(),
            },
            failure: o.failure.map(failure_json),
            access_token,
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
        }
    }
}

/// The JSON form of a failure reason (`{"code": ..., ...}`).
pub fn failure_json(f: FailureReason) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}

/// A page of orders for operators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    /// Orders, newest first.
    pub items: Vec<OrderDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Why not ready, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
