//! Shipping methods and tax rates: the operators' set-up, and the shipping offers a
//! customer sees for a country and cart.

use std::sync::Arc;

use serde::Deserialize;

use super::Env;
use crate::{
    address::CountryCode,
    catalog::MoneyInput,
    ids::{CollectionId, ShippingMethodId, TaxRateId},
    money::Money,
    ports::{CollectionStore, ShippingMethodStore, StoreError, TaxRateStore},
    pricing::{ShippingMethod, ShippingMethodInput, TaxRate, TaxRule, TaxTable},
    validation::{InvalidValue, ValidationErrors},
};

/// Why a pricing use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The input is invalid; every bad field is listed.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// No such shipping method or tax rate.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A tax rate exists for this country and collection already.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The store failed; retry later.
    #[error("pricing store unavailable: {0}")]
    Unavailable(String),
}

impl PricingError {
    fn store(e: StoreError, what: &'static str) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound(what),
            StoreError::Duplicate(d) => Self::Duplicate(d),
            StoreError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A change to a shipping method: absent fields stay as they are; `free_above: null`
/// removes the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ShippingMethodPatch {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New countries.
    #[serde(default)]
    pub countries: Option<Vec<String>>,
    /// New price.
    #[serde(default)]
    pub price: Option<MoneyInput>,
    /// New threshold (`Some(None)`: none).
    #[serde(default, deserialize_with = "present")]
    #[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
    pub free_above: Option<Option<MoneyInput>>,
    /// Offered or not.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A field that is present (possibly `null`) deserialises to `Some`.
#[allow(clippy::option_option, reason = "absent and null mean different things in a patch")]
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<MoneyInput>>, D::Error> {
    Option::<MoneyInput>::deserialize(d).map(Some)
}

/// A tax rate as an operator sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaxRateInput {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The collection it is for (`None`: the country's general rate).
    #[serde(default)]
    pub collection_id: Option<String>,
    /// Basis points, 0 to 10,000 (1,900 is 19 %).
    pub rate_bps: i64,
}

/// A shipping method a customer may choose, with its price for the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOffer {
    /// The method.
    pub method: ShippingMethod,
    /// What it costs for the cart (0 above its free threshold).
    pub price: Money,
}

/// Shipping methods and tax rates.
#[derive(Clone)]
pub struct PricingService {
    methods: Arc<dyn ShippingMethodStore>,
    rates: Arc<dyn TaxRateStore>,
    collections: Arc<dyn CollectionStore>,
    env: Env,
}

impl PricingService {
    /// The service over its stores; `collections` checks the collection of a tax rate.
    pub fn new(
        methods: Arc<dyn ShippingMethodStore>,
        rates: Arc<dyn TaxRateStore>,
        collections: Arc<dyn CollectionStore>,
        env: Env,
    ) -> Self {
        Self { methods, rates, collections, env }
    }

    /// Creates a shipping method (active unless the input says otherwise).
    pub async fn create_shipping_method(&self, input: &ShippingMethodInput) -> Result<ShippingMethod, PricingError> {
        let method = input.validate(ShippingMethodId::from_uuid(self.env.ids.new_id()))?;
        self.methods.insert_shipping_method(&method).await.map_err(|e| PricingError::store(e, "shipping method"))?;
        Ok(method)
    }

    /// Changes a shipping method; the result is validated as a whole.
    pub async fn update_shipping_method(
        &self,
        id: ShippingMethodId,
        patch: &ShippingMethodPatch,
    ) -> Result<ShippingMethod, PricingError> {
        let current = self.shipping_method(id).await?;
        let money = |m: Money| MoneyInput { amount: m.amount(), currency: m.currency().to_string() };
        let input = ShippingMethodInput {
            name: patch.name.clone().unwrap_or_else(|| current.name.as_str().to_owned()),
            countries: patch
                .countries
                .clone()
                .unwrap_or_else(|| current.countries.iter().map(ToString::to_string).collect()),
            price: patch.price.clone().unwrap_or_else(|| money(current.price)),
            free_above: patch.free_above.clone().unwrap_or_else(|| current.free_above.map(money)),
            active: Some(patch.active.unwrap_or(current.active)),
        };
        let method = input.validate(id)?;
        self.methods.update_shipping_method(&method).await.map_err(|e| PricingError::store(e, "shipping method"))?;
        Ok(method)
    }

    /// Deletes a shipping method (orders keep their copy).
    pub async fn delete_shipping_method(&self, id: ShippingMethodId) -> Result<(), PricingError> {
        self.methods.delete_shipping_method(id).await.map_err(|e| PricingError::store(e, "shipping method"))
    }

    /// A shipping method.
    pub async fn shipping_method(&self, id: ShippingMethodId) -> Result<ShippingMethod, PricingError> {
        self.methods
            .shipping_method(id)
            .await
            .map_err(|e| PricingError::store(e, "shipping method"))?
            .ok_or(PricingError::NotFound("shipping method"))
    }

    /// Every shipping method, by name.
    pub async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, PricingError> {
        self.methods.shipping_methods().await.map_err(|e| PricingError::store(e, "shipping method"))
    }

    /// The active methods serving `country`, priced for a cart of `subtotal` minor units
    /// (in each method's currency; 0 when not given).
    pub async fn offers(&self, country: &str, subtotal: Option<i64>) -> Result<Vec<ShippingOffer>, PricingError> {
        let mut errors = ValidationErrors::new();
        let country = errors.check("country", CountryCode::parse(country.trim()));
        let subtotal = subtotal.unwrap_or(0);
        if subtotal < 0 {
            errors.add("subtotal", InvalidValue::OutOfRange { min: 0, max: i64::MAX, actual: subtotal });
        }
        let Some(country) = country.filter(|_| errors.is_empty()) else { return Err(errors.into()) };
        Ok(self
            .shipping_methods()
            .await?
            .into_iter()
            .filter(|m| m.serves(country))
            .filter_map(|method| {
                let subtotal = Money::new(subtotal, method.price.currency()).ok()?;
                method.price_for(subtotal).map(|price| ShippingOffer { method, price })
            })
            .collect())
    }

    /// Creates a tax rate; its collection must exist.
    pub async fn create_tax_rate(&self, input: &TaxRateInput) -> Result<TaxRule, PricingError> {
        let mut errors = ValidationErrors::new();
        let country = errors.check("country", CountryCode::parse(input.country.trim()));
        let collection_id = match &input.collection_id {
            None => Some(None),
            Some(raw) => errors
                .check(
                    "collection_id",
                    raw.parse::<CollectionId>()
                        .map_err(|_| InvalidValue::Other(format!("{raw:?} is not a collection id"))),
                )
                .map(Some),
        };
        let rate = errors.check(
            "rate_bps",
            u32::try_from(input.rate_bps).map_err(|_| ()).and_then(|b| TaxRate::from_bps(b).map_err(|_| ())).map_err(
                |()| InvalidValue::OutOfRange { min: 0, max: i64::from(TaxRate::MAX_BPS), actual: input.rate_bps },
            ),
        );
        let (Some(country), Some(collection_id), Some(rate)) = (country, collection_id, rate) else {
            return Err(errors.into());
        };
        if let Some(id) = collection_id {
            let exists = self.collections.collection(id).await.map_err(|e| PricingError::store(e, "collection"))?;
            if exists.is_none() {
                return Err(ValidationErrors::single("collection_id", format!("collection {id} does not exist")).into());
            }
        }
        let rule = TaxRule { id: TaxRateId::from_uuid(self.env.ids.new_id()), country, collection_id, rate };
        self.rates.insert_tax_rate(&rule).await.map_err(|e| PricingError::store(e, "tax rate"))?;
        Ok(rule)
    }

    /// A tax rate.
    pub async fn tax_rate(&self, id: TaxRateId) -> Result<TaxRule, PricingError> {
        self.rates
            .tax_rate(id)
            .await
            .map_err(|e| PricingError::store(e, "tax rate"))?
            .ok_or(PricingError::NotFound("tax rate"))
    }

    /// Every tax rate, by country.
    pub async fn tax_rates(&self) -> Result<Vec<TaxRule>, PricingError> {
        self.rates.tax_rates().await.map_err(|e| PricingError::store(e, "tax rate"))
    }

    /// Deletes a tax rate (orders keep the rates they were charged).
    pub async fn delete_tax_rate(&self, id: TaxRateId) -> Result<(), PricingError> {
        self.rates.delete_tax_rate(id).await.map_err(|e| PricingError::store(e, "tax rate"))
    }

    /// The rates in force, for pricing an order.
    pub async fn tax_table(&self) -> Result<TaxTable, PricingError> {
        Ok(TaxTable::new(self.tax_rates().await?))
    }
}
