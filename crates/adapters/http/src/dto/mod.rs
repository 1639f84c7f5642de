//! The JSON shapes of the HTTP API (the public contract, see `docs/http.md`), one
//! module per router; everything is re-exported here.
//!
//! Request bodies are deserialised here and converted to the core's input
//! types, which validate them; responses are built from domain values. Keeping
//! them apart lets the domain evolve without breaking the wire format.

mod admin;
mod checkout;
mod pricing;
mod refunds;
mod store;

use std::collections::BTreeMap;

use commerce_core::{
    catalog::{Attributes, MoneyInput},
    money::Money,
};
use serde::{Deserialize, Deserializer, Serialize, de};
use utoipa::ToSchema;

pub use admin::*;
pub use checkout::*;
pub use pricing::*;
pub use refunds::*;
pub use store::*;

use crate::openapi::rules;

/// An amount in minor units of an ISO 4217 currency: `{"amount": 1999, "currency": "USD"}` is $19.99.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Minor units (cents for USD, yen for JPY, fils for KWD).
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::amount)]
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(schema_with = rules::currency)]
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

/// A price in a request (a product's, a shipping method's): `amount` is at most
/// 1,000,000,000,000 minor units, so every cart of valid prices can be totalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceDto {
    /// Minor units (cents for USD, yen for JPY, fils for KWD).
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::price_amount)]
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(schema_with = rules::currency)]
    pub currency: String,
}

impl From<PriceDto> for MoneyInput {
    fn from(m: PriceDto) -> Self {
        Self { amount: m.amount, currency: m.currency }
    }
}

/// Body of `/healthz` and `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Never sent: the reason a service is not ready is logged, not disclosed.
    /// Kept so that clients decoding it still compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn attributes_of(a: &Attributes) -> BTreeMap<String, String> {
    a.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A JSON number that JSON Schema calls an integer: `3`, and also `3.0` or `3e0`, which
/// some clients and generators send for an `integer` field. A fraction, or a float too
/// large to be exact (beyond 2^53), is refused like any other wrong type.
fn whole_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct Whole<T>(std::marker::PhantomData<T>);

    impl<T: TryFrom<i64> + TryFrom<u64>> de::Visitor<'_> for Whole<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number in range")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::custom("a whole number in range"))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::custom("a whole number in range"))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
            const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
            if v.fract() != 0.0 || !(-EXACT..=EXACT).contains(&v) {
                return Err(E::invalid_type(de::Unexpected::Float(v), &self));
            }
            #[allow(clippy::cast_possible_truncation, reason = "whole and within 2^53: exact")]
            self.visit_i64(v as i64)
        }
    }

    d.deserialize_any(Whole(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        let stock = |json: &str| serde_json::from_str::<SetStockRequest>(json).map(|r| r.on_hand);
        assert_eq!(stock(r#"{"on_hand": 25}"#).unwrap(), 25);
        assert_eq!(stock(r#"{"on_hand": 25.0}"#).unwrap(), 25, "JSON Schema calls 25.0 an integer");
        assert_eq!(stock(r#"{"on_hand": 2.5e1}"#).unwrap(), 25);
        for refused in [r#"{"on_hand": 25.5}"#, r#"{"on_hand": -1}"#, r#"{"on_hand": 1e300}"#, r#"{"on_hand": "25"}"#] {
            assert!(stock(refused).is_err(), "{refused}");
        }
        let money = serde_json::from_str::<MoneyDto>(r#"{"amount": -3.0, "currency": "USD"}"#).unwrap();
        assert_eq!(money.amount, -3, "the sign is the core's to judge");
    }
}
