//! The JSON shapes of the HTTP API (the public contract, see `docs/http.md`), one
//! module per router; everything is re-exported here.
//!
//! Request bodies are deserialised here and converted to the core's input
//! types, which validate them; responses are built from domain values. Keeping
//! them apart lets the domain evolve without breaking the wire format.

mod admin;
mod checkout;
mod store;

use std::collections::BTreeMap;

use commerce_core::{
    catalog::{Attributes, MoneyInput},
    money::Money,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use admin::*;
pub use checkout::*;
pub use store::*;

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
