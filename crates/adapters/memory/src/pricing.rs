//! Shipping methods and tax rates in memory.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use commerce_core::{
    ids::{ShippingMethodId, TaxRateId},
    ports::{ShippingMethodStore, StoreError, TaxRateStore},
    pricing::{ShippingMethod, TaxRule},
};

use crate::lock;

/// Shipping methods and tax rates.
#[derive(Debug, Default)]
pub struct MemoryPricingStore {
    methods: Mutex<BTreeMap<ShippingMethodId, ShippingMethod>>,
    rates: Mutex<BTreeMap<TaxRateId, TaxRule>>,
}

impl MemoryPricingStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ShippingMethodStore for MemoryPricingStore {
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        let mut methods = lock(&self.methods);
        if methods.contains_key(&method.id) {
            return Err(StoreError::Duplicate(format!("shipping method {}", method.id)));
        }
        methods.insert(method.id, method.clone());
        Ok(())
    }

    async fn update_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        match lock(&self.methods).get_mut(&method.id) {
            Some(stored) => {
                *stored = method.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn delete_shipping_method(&self, id: ShippingMethodId) -> Result<(), StoreError> {
        lock(&self.methods).remove(&id).map(|_| ()).ok_or(StoreError::NotFound)
    }

    async fn shipping_method(&self, id: ShippingMethodId) -> Result<Option<ShippingMethod>, StoreError> {
        Ok(lock(&self.methods).get(&id).cloned())
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError> {
        let mut all: Vec<ShippingMethod> = lock(&self.methods).values().cloned().collect();
        all.sort_by(|a, b| (a.name.as_str(), a.id).cmp(&(b.name.as_str(), b.id)));
        Ok(all)
    }
}

#[async_trait]
impl TaxRateStore for MemoryPricingStore {
    async fn insert_tax_rate(&self, rule: &TaxRule) -> Result<(), StoreError> {
        let mut rates = lock(&self.rates);
        let taken = rates.values().any(|r| r.country == rule.country && r.collection_id == rule.collection_id);
        if taken || rates.contains_key(&rule.id) {
            return Err(StoreError::Duplicate(format!("tax rate for {}", rule.country)));
        }
        rates.insert(rule.id, *rule);
        Ok(())
    }

    async fn delete_tax_rate(&self, id: TaxRateId) -> Result<(), StoreError> {
        lock(&self.rates).remove(&id).map(|_| ()).ok_or(StoreError::NotFound)
    }

    async fn tax_rate(&self, id: TaxRateId) -> Result<Option<TaxRule>, StoreError> {
        Ok(lock(&self.rates).get(&id).copied())
    }

    async fn tax_rates(&self) -> Result<Vec<TaxRule>, StoreError> {
        let mut all: Vec<TaxRule> = lock(&self.rates).values().copied().collect();
        all.sort_by_key(|r| (r.country, r.collection_id));
        Ok(all)
    }
}
