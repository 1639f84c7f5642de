//! Products: their lifecycle, the create and patch commands, and the rules they obey.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Attributes, Description, ProductName, Sku, Version};
use crate::{
    ids::{CollectionId, ProductId},
    money::{Currency, Money},
    timestamp::Timestamp,
    validation::{InvalidValue, ValidationErrors},
};

/// Lifecycle of a product. Only `Active` products are listed and sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Being prepared; invisible to customers.
    Draft,
    /// Listed and for sale.
    Active,
    /// Withdrawn for good; kept for order history.
    Archived,
}

impl ProductStatus {
    /// Parses `draft`, `active` or `archived`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "draft" => Ok(Self::Draft),
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            other => Err(InvalidValue::Other(format!("unknown status {other:?}: expected draft, active or archived"))),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

/// A product as the write model holds it. Also the payload of product events
/// (events carry the full state so consumers never need to read back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Identity (UUIDv7).
    pub id: ProductId,
    /// Unique SKU.
    pub sku: Sku,
    /// Display name.
    pub name: ProductName,
    /// Long description.
    pub description: Description,
    /// Unit price.
    pub price: Money,
    /// Collection it belongs to, if any.
    pub collection_id: Option<CollectionId>,
    /// Filterable attributes.
    pub attributes: Attributes,
    /// Lifecycle status.
    pub status: ProductStatus,
    /// Optimistic-concurrency version.
    pub version: Version,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Why a catalog command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogRuleError {
    /// Archived products are frozen.
    #[error("product is archived and can no longer change")]
    Archived,
    /// A product cannot be created archived, nor archived by a patch (use archive).
    #[error("status {0:?} is not allowed here")]
    StatusNotAllowed(ProductStatus),
}

/// A validated request to create a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// SKU.
    pub sku: Sku,
    /// Name.
    pub name: ProductName,
    /// Description.
    pub description: Description,
    /// Price.
    pub price: Money,
    /// Collection.
    pub collection_id: Option<CollectionId>,
    /// Attributes.
    pub attributes: Attributes,
    /// `Draft` or `Active`.
    pub status: ProductStatus,
}

/// Unvalidated product fields as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProductInput {
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Description (optional).
    #[serde(default)]
    pub description: String,
    /// Price in minor units.
    pub price: MoneyInput,
    /// Collection id.
    #[serde(default)]
    pub collection_id: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// `draft` (default) or `active`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Unvalidated money as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MoneyInput {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl MoneyInput {
    /// The highest price of one unit or one shipment, in minor units (10,000,000,000.00 of
    /// a two-decimal currency). It keeps every order total in range: 100 lines of 10,000
    /// units at this price, plus shipping and 100 % tax, stay far below `i64::MAX`, so a
    /// valid cart can always be totalled.
    pub const MAX_PRICE: i64 = 1_000_000_000_000;

    pub(crate) fn validate(&self, field: &str, errors: &mut ValidationErrors) -> Option<Money> {
        let currency = errors.check(&format!("{field}.currency"), Currency::parse(&self.currency))?;
        errors.check(&format!("{field}.amount"), Money::new(self.amount, currency))
    }

    /// As [`validate`](Self::validate), for a price: at most [`Self::MAX_PRICE`].
    pub(crate) fn validate_price(&self, field: &str, errors: &mut ValidationErrors) -> Option<Money> {
        if self.amount > Self::MAX_PRICE {
            errors.add(
                format!("{field}.amount"),
                InvalidValue::OutOfRange { min: 0, max: Self::MAX_PRICE, actual: self.amount },
            );
            return None;
        }
        self.validate(field, errors)
    }
}

fn parse_collection_id(raw: &str) -> Result<CollectionId, InvalidValue> {
    raw.parse().map_err(|_| InvalidValue::Other(format!("{raw:?} is not a valid collection id")))
}

fn parse_creatable_status(raw: &str) -> Result<ProductStatus, InvalidValue> {
    match ProductStatus::parse(raw)? {
        ProductStatus::Archived => Err(InvalidValue::Other("must be draft or active".into())),
        s => Ok(s),
    }
}

impl ProductInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(&self) -> Result<NewProduct, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let sku = e.check("sku", Sku::parse(&self.sku));
        let name = e.check("name", ProductName::parse(&self.name));
        let description = e.check("description", Description::parse(&self.description));
        let price = self.price.validate_price("price", &mut e);
        let collection_id = match &self.collection_id {
            Some(raw) => e.check("collection_id", parse_collection_id(raw)).map(Some),
            None => Some(None),
        };
        let attributes = Attributes::parse("attributes", &self.attributes, &mut e);
        let status = match &self.status {
            Some(raw) => e.check("status", parse_creatable_status(raw)),
            None => Some(ProductStatus::Draft),
        };
        match (sku, name, description, price, collection_id, attributes, status) {
            (
                Some(sku),
                Some(name),
                Some(description),
                Some(price),
                Some(collection_id),
                Some(attributes),
                Some(status),
            ) if e.is_empty() => Ok(NewProduct { sku, name, description, price, collection_id, attributes, status }),
            _ => Err(e),
        }
    }
}

/// A validated partial update; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    /// New SKU.
    pub sku: Option<Sku>,
    /// New name.
    pub name: Option<ProductName>,
    /// New description.
    pub description: Option<Description>,
    /// New price.
    pub price: Option<Money>,
    /// `Some(None)` removes the product from its collection.
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub collection_id: Option<Option<CollectionId>>,
    /// Replaces all attributes.
    pub attributes: Option<Attributes>,
    /// `Draft` or `Active`.
    pub status: Option<ProductStatus>,
}

/// Unvalidated partial update as a client sends it. `collection_id: null` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProductPatchInput {
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
    pub price: Option<MoneyInput>,
    /// Collection: absent = unchanged, `null` = none.
    #[serde(default, deserialize_with = "double_option")]
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub collection_id: Option<Option<String>>,
    /// Attributes (replaces the whole set).
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// `draft` or `active`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
#[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ProductPatchInput {
    /// Validates every present field.
    pub fn validate(&self) -> Result<ProductPatch, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let patch = ProductPatch {
            sku: self.sku.as_deref().and_then(|v| e.check("sku", Sku::parse(v))),
            name: self.name.as_deref().and_then(|v| e.check("name", ProductName::parse(v))),
            description: self.description.as_deref().and_then(|v| e.check("description", Description::parse(v))),
            price: self.price.as_ref().and_then(|m| m.validate_price("price", &mut e)),
            collection_id: match &self.collection_id {
                None => None,
                Some(None) => Some(None),
                Some(Some(raw)) => e.check("collection_id", parse_collection_id(raw)).map(Some),
            },
            attributes: self.attributes.as_ref().and_then(|a| Attributes::parse("attributes", a, &mut e)),
            status: self.status.as_deref().and_then(|v| e.check("status", parse_creatable_status(v))),
        };
        e.finish(|| patch)
    }
}

impl Product {
    /// Creates a product at version 1.
    pub fn create(id: ProductId, new: NewProduct, now: Timestamp) -> Result<Self, CatalogRuleError> {
        if new.status == ProductStatus::Archived {
            return Err(CatalogRuleError::StatusNotAllowed(new.status));
        }
        Ok(Self {
            id,
            sku: new.sku,
            name: new.name,
            description: new.description,
            price: new.price,
            collection_id: new.collection_id,
            attributes: new.attributes,
            status: new.status,
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
        })
    }

    /// Applies a patch. Returns `false` (and leaves the version alone) when nothing changed.
    pub fn apply_patch(&mut self, patch: ProductPatch, now: Timestamp) -> Result<bool, CatalogRuleError> {
        if self.status == ProductStatus::Archived {
            return Err(CatalogRuleError::Archived);
        }
        if patch.status == Some(ProductStatus::Archived) {
            return Err(CatalogRuleError::StatusNotAllowed(ProductStatus::Archived));
        }
        let before = self.clone();
        if let Some(v) = patch.sku {
            self.sku = v;
        }
        if let Some(v) = patch.name {
            self.name = v;
        }
        if let Some(v) = patch.description {
            self.description = v;
        }
        if let Some(v) = patch.price {
            self.price = v;
        }
        if let Some(v) = patch.collection_id {
            self.collection_id = v;
        }
        if let Some(v) = patch.attributes {
            self.attributes = v;
        }
        if let Some(v) = patch.status {
            self.status = v;
        }
        if *self == before {
            return Ok(false);
        }
        self.version = self.version.next();
        self.updated_at = now;
        Ok(true)
    }

    /// Archives the product. Returns `false` when it already was archived.
    pub fn archive(&mut self, now: Timestamp) -> bool {
        if self.status == ProductStatus::Archived {
            return false;
        }
        self.status = ProductStatus::Archived;
        self.version = self.version.next();
        self.updated_at = now;
        true
    }

    /// Only active products are listed and sold.
    pub fn is_sellable(&self) -> bool {
        self.status == ProductStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            sku: "TEE-RED-M".into(),
            name: "  Red tee ".into(),
            description: "Soft.\nCotton.".into(),
            price: MoneyInput { amount: 1999, currency: "USD".into() },
            collection_id: None,
            attributes: BTreeMap::from([("colour".into(), "red".into())]),
            status: Some("active".into()),
        }
    }
    #[test]
    fn product_input_reports_every_bad_field() {
        let bad = ProductInput {
            sku: "bad sku".into(),
            name: String::new(),
            price: MoneyInput { amount: -1, currency: "USD".into() },
            collection_id: Some("nope".into()),
            attributes: BTreeMap::from([("Bad Name".into(), "x".into())]),
            status: Some("archived".into()),
            ..input()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sku", "name", "price.amount", "collection_id", "attributes.Bad Name", "status"]);
    }

    #[test]
    fn prices_stay_low_enough_for_any_cart_to_total() {
        let at = |amount| ProductInput { price: MoneyInput { amount, currency: "USD".into() }, ..input() };
        assert!(at(MoneyInput::MAX_PRICE).validate().is_ok());
        let errors = at(MoneyInput::MAX_PRICE + 1).validate().unwrap_err();
        assert_eq!(errors.errors()[0].field, "price.amount");
        // The largest cart: 100 lines of 10,000 units at the highest price, shipping at the
        // highest price, 100 % tax on all of it.
        let subtotal = i128::from(MoneyInput::MAX_PRICE) * 10_000 * 100;
        let total = (subtotal + i128::from(MoneyInput::MAX_PRICE)) * 2;
        assert!(total < i128::from(i64::MAX));
    }

    #[test]
    fn create_patch_archive_bump_the_version() {
        let now = Timestamp::from_unix_micros(1);
        let new = input().validate().unwrap();
        let id = ProductId::from_uuid(uuid::Uuid::nil());
        let mut p = Product::create(id, new, now).unwrap();
        assert_eq!(p.version, Version::INITIAL);
        assert_eq!(p.name.as_str(), "Red tee");

        let unchanged = ProductPatch { name: Some(p.name.clone()), ..ProductPatch::default() };
        assert!(!p.apply_patch(unchanged, now).unwrap());
        assert_eq!(p.version, Version::INITIAL);

        let later = Timestamp::from_unix_micros(2);
        let patch = ProductPatchInput { name: Some("Blue tee".into()), ..Default::default() }.validate().unwrap();
        assert!(p.apply_patch(patch, later).unwrap());
        assert_eq!((p.version, p.updated_at), (Version::new(2), later));

        assert!(p.archive(later));
        assert!(!p.archive(later));
        assert_eq!(p.version, Version::new(3));
        assert!(!p.is_sellable());
        assert_eq!(p.apply_patch(ProductPatch::default(), later), Err(CatalogRuleError::Archived));
    }

    #[test]
    fn patch_distinguishes_absent_from_null_collection() {
        let absent: ProductPatchInput = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.collection_id, None);
        let null: ProductPatchInput = serde_json::from_str(r#"{"collection_id":null}"#).unwrap();
        assert_eq!(null.collection_id, Some(None));
        assert_eq!(null.validate().unwrap().collection_id, Some(None));
    }
}
