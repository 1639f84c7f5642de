//! Shipping methods: a name, the countries served, a net price, and an optional
//! subtotal above which shipping is free.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    address::CountryCode,
    catalog::MoneyInput,
    ids::ShippingMethodId,
    money::Money,
    validation::{InvalidValue, ONE_LINE_TEXT, TextRule, ValidationErrors, text},
};

/// A shipping method's name (1 to 100 characters, one line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShippingMethodName(String);

impl ShippingMethodName {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };

    /// Validates a name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        text(raw, Self::RULE.max_chars, false, false).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShippingMethodName {
    type Error = InvalidValue;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(&v)
    }
}

impl From<ShippingMethodName> for String {
    fn from(n: ShippingMethodName) -> Self {
        n.0
    }
}

/// A way to ship, as operators set it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethod {
    /// Identity.
    pub id: ShippingMethodId,
    /// Shown to customers.
    pub name: ShippingMethodName,
    /// Where it delivers (at least one country).
    pub countries: BTreeSet<CountryCode>,
    /// Its net price.
    pub price: Money,
    /// Free for a subtotal at or above this (same currency as `price`).
    pub free_above: Option<Money>,
    /// Offered at checkout.
    pub active: bool,
}

impl ShippingMethod {
    /// Whether customers in `country` may choose it.
    pub fn serves(&self, country: CountryCode) -> bool {
        self.active && self.countries.contains(&country)
    }

    /// What it costs for a cart of `subtotal`: nothing at or above `free_above`. `None`
    /// when the subtotal is in another currency than the method's price.
    pub fn price_for(&self, subtotal: Money) -> Option<Money> {
        if subtotal.currency() != self.price.currency() {
            return None;
        }
        match self.free_above {
            Some(threshold) if subtotal.amount() >= threshold.amount() => Some(Money::zero(self.price.currency())),
            _ => Some(self.price),
        }
    }
}

/// A shipping method as an operator sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShippingMethodInput {
    /// Name.
    pub name: String,
    /// ISO 3166-1 alpha-2 codes, 1 to 249.
    pub countries: Vec<String>,
    /// Net price.
    pub price: MoneyInput,
    /// Free above this subtotal (optional).
    #[serde(default)]
    pub free_above: Option<MoneyInput>,
    /// Offered at checkout (default true).
    #[serde(default)]
    pub active: Option<bool>,
}

impl ShippingMethodInput {
    /// Validates every field into a method with `id`.
    pub fn validate(&self, id: ShippingMethodId) -> Result<ShippingMethod, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", ShippingMethodName::parse(&self.name));
        let mut countries = BTreeSet::new();
        if self.countries.is_empty() {
            errors.add("countries", "must name at least one country");
        }
        for (i, code) in self.countries.iter().enumerate() {
            if let Some(code) = errors.check(&format!("countries[{i}]"), CountryCode::parse(code)) {
                countries.insert(code);
            }
        }
        let price = self.price.validate_price("price", &mut errors);
        let free_above = self.free_above.as_ref().and_then(|f| f.validate_price("free_above", &mut errors));
        if let (Some(price), Some(free)) = (price, free_above)
            && price.currency() != free.currency()
        {
            errors.add("free_above.currency", format!("must be {}, the price's currency", price.currency()));
        }
        match (name, price) {
            (Some(name), Some(price)) if errors.is_empty() => {
                Ok(ShippingMethod { id, name, countries, price, free_above, active: self.active.unwrap_or(true) })
            }
            _ => Err(errors),
        }
    }
}
