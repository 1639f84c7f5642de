//! The ports of what orders cost besides their products: shipping methods and tax rates,
//! as operators set them up. Neither publishes events: they are configuration, read when
//! an order is priced, and an order keeps what it was charged.

use async_trait::async_trait;

use super::StoreError;
use crate::{
    ids::{ShippingMethodId, TaxRateId},
    pricing::{ShippingMethod, TaxRule},
};

/// Shipping methods.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ShippingMethodStore: Send + Sync {
    /// Stores a new method. `Duplicate` when its id exists.
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError>;

    /// Replaces a method. `NotFound` when it does not exist.
    async fn update_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError>;

    /// Deletes a method. `NotFound` when it does not exist. Orders priced with it keep
    /// their copy.
    async fn delete_shipping_method(&self, id: ShippingMethodId) -> Result<(), StoreError>;

    /// A method by id.
    async fn shipping_method(&self, id: ShippingMethodId) -> Result<Option<ShippingMethod>, StoreError>;

    /// Every method, by name, then id.
    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError>;
}

/// Tax rates: at most one per country and collection (and one general rate per country).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TaxRateStore: Send + Sync {
    /// Stores a new rate. `Duplicate` when a rate exists for its country and collection
    /// (or its id exists).
    async fn insert_tax_rate(&self, rule: &TaxRule) -> Result<(), StoreError>;

    /// Deletes a rate. `NotFound` when it does not exist.
    async fn delete_tax_rate(&self, id: TaxRateId) -> Result<(), StoreError>;

    /// A rate by id.
    async fn tax_rate(&self, id: TaxRateId) -> Result<Option<TaxRule>, StoreError>;

    /// Every rate, by country, then the general rate before collections' (by collection id).
    async fn tax_rates(&self) -> Result<Vec<TaxRule>, StoreError>;
}
