//! Bodies of the shipping-method and tax-rate routes.

use commerce_core::{
    pricing::{ShippingMethod, ShippingMethodInput, TaxRule},
    services::pricing::{ShippingMethodPatch, ShippingOffer, TaxRateInput},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MoneyDto, PriceDto, whole_number};
use crate::openapi::rules;

/// Body of `POST /admin/v1/shipping-methods`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShippingMethodRequest {
    /// Shown to customers, 1-100 characters.
    #[schema(schema_with = rules::shipping_method_name)]
    pub name: String,
    /// Where it delivers: ISO 3166-1 alpha-2 codes.
    #[schema(schema_with = rules::countries)]
    pub countries: Vec<String>,
    /// Net price (tax is added at checkout).
    pub price: PriceDto,
    /// Free for a cart subtotal at or above this (same currency as `price`), or null.
    #[serde(default)]
    pub free_above: Option<PriceDto>,
    /// Offered at checkout (default true).
    #[serde(default)]
    pub active: Option<bool>,
}

impl From<CreateShippingMethodRequest> for ShippingMethodInput {
    fn from(r: CreateShippingMethodRequest) -> Self {
        Self {
            name: r.name,
            countries: r.countries,
            price: r.price.into(),
            free_above: r.free_above.map(Into::into),
            active: r.active,
        }
    }
}

/// Body of `PATCH /admin/v1/shipping-methods/{id}`: any subset of the create fields;
/// `"free_above": null` removes the threshold.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateShippingMethodRequest {
    /// Name.
    #[serde(default)]
    #[schema(schema_with = rules::shipping_method_name_patch)]
    pub name: Option<String>,
    /// Countries (replaces the set).
    #[serde(default)]
    #[schema(schema_with = rules::countries)]
    pub countries: Option<Vec<String>>,
    /// Net price.
    #[serde(default)]
    pub price: Option<PriceDto>,
    /// Free-above threshold; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub free_above: Option<Option<PriceDto>>,
    /// Offered at checkout.
    #[serde(default)]
    pub active: Option<bool>,
}

#[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<PriceDto>>, D::Error> {
    Option::<PriceDto>::deserialize(d).map(Some)
}

impl From<UpdateShippingMethodRequest> for ShippingMethodPatch {
    fn from(r: UpdateShippingMethodRequest) -> Self {
        Self {
            name: r.name,
            countries: r.countries,
            price: r.price.map(Into::into),
            free_above: r.free_above.map(|f| f.map(Into::into)),
            active: r.active,
        }
    }
}

/// A shipping method as operators see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShippingMethodDto {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// ISO 3166-1 alpha-2 codes, sorted.
    pub countries: Vec<String>,
    /// Net price.
    pub price: MoneyDto,
    /// Free at or above this subtotal, or null.
    pub free_above: Option<MoneyDto>,
    /// Offered at checkout.
    pub active: bool,
}

impl From<&ShippingMethod> for ShippingMethodDto {
    fn from(m: &ShippingMethod) -> Self {
        Self {
            id: m.id.to_string(),
            name: m.name.as_str().to_owned(),
            countries: m.countries.iter().map(ToString::to_string).collect(),
            price: m.price.into(),
            free_above: m.free_above.map(Into::into),
            active: m.active,
        }
    }
}

/// Every shipping method.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShippingMethodList {
    /// By name.
    pub items: Vec<ShippingMethodDto>,
}

/// A shipping method a customer may choose, priced for the cart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShippingOfferDto {
    /// Id (the checkout's `shipping_method_id`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Net price for this cart: 0 where the subtotal reaches the method's free threshold.
    pub price: MoneyDto,
}

impl From<&ShippingOffer> for ShippingOfferDto {
    fn from(o: &ShippingOffer) -> Self {
        Self { id: o.method.id.to_string(), name: o.method.name.as_str().to_owned(), price: o.price.into() }
    }
}

/// The shipping methods serving a country.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShippingOfferList {
    /// By name.
    pub items: Vec<ShippingOfferDto>,
}

/// Body of `POST /admin/v1/tax-rates`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaxRateRequest {
    /// ISO 3166-1 alpha-2 code of the destination country.
    #[schema(schema_with = rules::country)]
    pub country: String,
    /// The collection the rate is for; null (the default) is the country's general rate.
    #[serde(default)]
    #[schema(schema_with = rules::collection_ref)]
    pub collection_id: Option<String>,
    /// Basis points, 0-10,000 (1,900 is 19 %).
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::rate_bps)]
    pub rate_bps: i64,
}

impl From<CreateTaxRateRequest> for TaxRateInput {
    fn from(r: CreateTaxRateRequest) -> Self {
        Self { country: r.country, collection_id: r.collection_id, rate_bps: r.rate_bps }
    }
}

/// A tax rate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxRateDto {
    /// Id.
    pub id: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The collection it is for, or null (the country's general rate).
    pub collection_id: Option<String>,
    /// Basis points.
    pub rate_bps: u32,
}

impl From<&TaxRule> for TaxRateDto {
    fn from(r: &TaxRule) -> Self {
        Self {
            id: r.id.to_string(),
            country: r.country.to_string(),
            collection_id: r.collection_id.map(|c| c.to_string()),
            rate_bps: r.rate.bps(),
        }
    }
}

/// Every tax rate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaxRateList {
    /// By country, the general rate first.
    pub items: Vec<TaxRateDto>,
}
