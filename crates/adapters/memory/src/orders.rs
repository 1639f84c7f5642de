//! The in-memory order store.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use async_trait::async_trait;
use commerce_core::{
    OrderId, Timestamp,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{OrderQuery, OrderStore, StalledClaim, StoreError},
};

use crate::{MemoryOutbox, lock};

/// Orders in memory (ordered by id, which is time-ordered), writing events to a [`MemoryOutbox`].
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    orders: Mutex<BTreeMap<OrderId, Order>>,
    /// Recovery leases: until when a job holds an order (entries lapse, see `claim_stalled`).
    leases: Mutex<HashMap<OrderId, Timestamp>>,
    outbox: MemoryOutbox,
}

impl MemoryOrderStore {
    /// An empty store with its own outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store writing to a shared outbox.
    pub fn with_outbox(outbox: MemoryOutbox) -> Self {
        Self { orders: Mutex::default(), leases: Mutex::default(), outbox }
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

    async fn claim_stalled(&self, claim: &StalledClaim) -> Result<Vec<Order>, StoreError> {
        let orders = lock(&self.orders);
        let mut leases = lock(&self.leases);
        // Lapsed leases are forgotten, so the map holds at most the orders leased now.
        leases.retain(|_, until| *until > claim.now);
        let mut stalled: Vec<_> = orders
            .values()
            .filter(|o| !o.is_settled() && o.updated_at <= claim.updated_before && !leases.contains_key(&o.id))
            .cloned()
            .collect();
        stalled.sort_by_key(|o| (o.updated_at, o.id));
        stalled.truncate(claim.limit);
        for o in &stalled {
            leases.insert(o.id, claim.lease_until);
        }
        Ok(stalled)
    }
}
