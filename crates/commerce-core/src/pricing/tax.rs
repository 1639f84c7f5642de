//! Tax rates: per country, optionally per collection, in basis points.

use serde::{Deserialize, Serialize};

use crate::{
    address::CountryCode,
    ids::{CollectionId, TaxRateId},
    money::{Money, MoneyError},
    validation::InvalidValue,
};

/// A tax rate in basis points (1,900 is 19 %), 0 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct TaxRate(u32);

impl TaxRate {
    /// Highest rate: 100 %.
    pub const MAX_BPS: u32 = 10_000;
    /// No tax.
    pub const ZERO: Self = Self(0);

    /// A rate of `bps` basis points.
    pub fn from_bps(bps: u32) -> Result<Self, InvalidValue> {
        if bps > Self::MAX_BPS {
            return Err(InvalidValue::OutOfRange { min: 0, max: i64::from(Self::MAX_BPS), actual: i64::from(bps) });
        }
        Ok(Self(bps))
    }

    /// The rate in basis points.
    pub fn bps(self) -> u32 {
        self.0
    }

    /// The tax on `net`, rounded half up on minor units (see the module's documentation).
    pub fn tax_on(self, net: Money) -> Result<Money, MoneyError> {
        let exact = i128::from(net.amount()) * i128::from(self.0);
        let rounded = (exact + 5_000) / 10_000;
        Money::new(i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?, net.currency())
    }
}

impl TryFrom<u32> for TaxRate {
    type Error = InvalidValue;
    fn try_from(bps: u32) -> Result<Self, Self::Error> {
        Self::from_bps(bps)
    }
}

impl From<TaxRate> for u32 {
    fn from(r: TaxRate) -> Self {
        r.0
    }
}

/// A rate an operator set: for a country, or for one collection in a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRule {
    /// Identity.
    pub id: TaxRateId,
    /// The destination country.
    pub country: CountryCode,
    /// The collection it is for; `None` is the country's general rate.
    pub collection_id: Option<CollectionId>,
    /// The rate.
    pub rate: TaxRate,
}

/// The rules in force, for pricing one order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxTable {
    rules: Vec<TaxRule>,
}

impl TaxTable {
    /// A table of `rules`. One rule per (country, collection) is expected; of several,
    /// the first wins.
    pub fn new(rules: Vec<TaxRule>) -> Self {
        Self { rules }
    }

    /// The rate for a line of `collection` shipped to `country`, and the collection the
    /// rate was set for: the collection's own rate in that country, else the country's
    /// general rate, else no tax.
    pub fn rate_for(&self, country: CountryCode, collection: Option<CollectionId>) -> (Option<CollectionId>, TaxRate) {
        let find = |c: Option<CollectionId>| self.rules.iter().find(|r| r.country == country && r.collection_id == c);
        if let Some(rule) = collection.and_then(|c| find(Some(c))) {
            return (rule.collection_id, rule.rate);
        }
        (None, find(None).map_or(TaxRate::ZERO, |r| r.rate))
    }
}
