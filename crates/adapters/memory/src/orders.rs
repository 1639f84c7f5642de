//! The in-memory order store.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use commerce_core::{
    OrderId, Timestamp,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{OrderQuery, OrderStore, StoreError},
};

use crate::{MemoryOutbox, lock};

/// Orders in memory (ordered by id, which is time-ordered), writing events to a [`MemoryOutbox`].
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    orders: Mutex<BTreeMap<OrderId, Order>>,
    outbox: MemoryOutbox,
}

impl MemoryOrderStore {
    /// An empty store with its own outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store writing to a shared outbox.
    pub fn with_outbox(outbox: MemoryOutbox) -> Self {
        Self { orders: Mutex::default(), outbox }
    }
}

#[async_trait]
impl OrderStore for MemoryOrderStore {
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut orders = lock(&self.orders);
        if orders.contains_key(&order.id) {
            return Err(StoreError::Duplicate(format!("order {}", order.id)));
        }
        orders.insert(order.id, order.clone());
        self.outbox.append(events);
        Ok(())
    }

    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut orders = lock(&self.orders);
        let stored = orders.get(&order.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::VersionConflict { expected, actual: stored.version });
        }
        orders.insert(order.id, order.clone());
        self.outbox.append(events);
        Ok(())
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(lock(&self.orders).get(&id).cloned())
    }

    async fn list(&self, query: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        let orders = lock(&self.orders);
        let upper = query.after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        Ok(orders
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, o)| o)
            .filter(|o| query.status.is_none_or(|s| o.status == s))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn stalled(&self, updated_before: Timestamp, limit: usize) -> Result<Vec<Order>, StoreError> {
        let orders = lock(&self.orders);
        let mut stalled: Vec<_> =
            orders.values().filter(|o| !o.is_settled() && o.updated_at <= updated_before).cloned().collect();
        stalled.sort_by_key(|o| (o.updated_at, o.id));
        stalled.truncate(limit);
        Ok(stalled)
    }
}
