//! The delivery log of customer messages, in memory.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use commerce_core::{
    EventId,
    notify::DeliveryRecord,
    ports::{DeliveryLog, StoreError},
};

use crate::lock;

/// One record per event, for the life of the process.
#[derive(Debug, Default)]
pub struct MemoryDeliveryLog {
    records: Mutex<HashMap<EventId, DeliveryRecord>>,
}

impl MemoryDeliveryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, oldest first.
    pub fn records(&self) -> Vec<DeliveryRecord> {
        let mut all: Vec<_> = lock(&self.records).values().cloned().collect();
        all.sort_by_key(|r| (r.at, r.event_id));
        all
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn delivery(&self, event: EventId) -> Result<Option<DeliveryRecord>, StoreError> {
        Ok(lock(&self.records).get(&event).cloned())
    }

    async fn record(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        lock(&self.records).entry(record.event_id).or_insert_with(|| record.clone());
        Ok(())
    }
}
