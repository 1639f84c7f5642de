//! Stock use cases: the inventory port plus `stock.changed` events.
//!
//! Stores that cannot write events atomically with the change (Redis, memory)
//! get a publisher: events are published after each operation, a failed publish
//! is reported as `Unavailable`, and the caller retries the (idempotent)
//! operation, which publishes again. Stores that append `stock.changed` to
//! their own outbox in the same transaction (PostgreSQL) get no publisher.
//! Consumers ignore stock versions they already hold.

use std::sync::Arc;

use super::Env;
use crate::{
    events::EventEnvelope,
    ids::{EventId, ProductId, ReservationId},
    inventory::{InventoryError, InventoryReceipt, OnHand, ReservationRequest, StockLevel, StockReturn},
    ports::{EventPublisher, InventoryStore},
};

/// Where the `stock.changed` events of a stock change go: to a publisher after the
/// change, or nowhere when the store records them itself (a transactional outbox).
/// Shared by [`InventoryService`] and the restocker.
#[derive(Clone)]
pub(crate) struct StockEvents(Option<(Arc<dyn EventPublisher>, Env)>);

impl StockEvents {
    pub(crate) fn published(publisher: Arc<dyn EventPublisher>, env: Env) -> Self {
        Self(Some((publisher, env)))
    }

    pub(crate) fn recorded_by_store() -> Self {
        Self(None)
    }

    /// Publishes a `stock.changed` per level; a failed publish is `Unavailable`.
    pub(crate) async fn publish(&self, levels: impl IntoIterator<Item = StockLevel>) -> Result<(), InventoryError> {
        let Some((publisher, env)) = &self.0 else {
            return Ok(());
        };
        let now = env.clock.now();
        let events: Vec<_> = levels
            .into_iter()
            .map(|l| EventEnvelope::stock_changed(EventId::from_uuid(env.ids.new_id()), now, l))
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        publisher.publish(&events).await.map_err(|e| InventoryError::Unavailable(e.to_string()))
    }
}

/// The inventory use cases.
#[derive(Clone)]
pub struct InventoryService {
    store: Arc<dyn InventoryStore>,
    events: StockEvents,
    env: Env,
}

impl InventoryService {
    /// A service over `store`, publishing stock events to `publisher`.
    pub fn new(store: Arc<dyn InventoryStore>, publisher: Arc<dyn EventPublisher>, env: Env) -> Self {
        Self { store, events: StockEvents::published(publisher, env.clone()), env }
    }

    /// A service over a store that records its own `stock.changed` events atomically
    /// with each change (a transactional outbox).
    pub fn with_transactional_events(store: Arc<dyn InventoryStore>, env: Env) -> Self {
        Self { store, events: StockEvents::recorded_by_store(), env }
    }

    async fn published(&self, receipt: InventoryReceipt) -> Result<InventoryReceipt, InventoryError> {
        self.events.publish(receipt.levels.iter().copied()).await?;
        Ok(receipt)
    }

    /// Stock of several products (unknown ones left out).
    pub async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        self.store.stock(products).await
    }

    /// Sets on-hand units (a restock or a count correction).
    pub async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let level = self.store.set_on_hand(product, on_hand).await?;
        self.events.publish([level]).await?;
        Ok(level)
    }

    /// Reserves every line or none.
    pub async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        let receipt = self.store.reserve(request).await?;
        self.published(receipt).await
    }

    /// Commits a reservation.
    pub async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let receipt = self.store.commit(id).await?;
        self.published(receipt).await
    }

    /// Releases a reservation.
    pub async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let receipt = self.store.release(id).await?;
        self.published(receipt).await
    }

    /// Returns units to stock (a refund's restock), once per return id.
    pub async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        let receipt = self.store.restore(request).await?;
        self.published(receipt).await
    }

    /// Expires up to `limit` overdue reservations (the sweeper's step). Returns how many.
    pub async fn expire_due(&self, limit: usize) -> Result<usize, InventoryError> {
        let expired = self.store.expire(self.env.clock.now(), limit).await?;
        self.events.publish(expired.iter().flat_map(|r| r.levels.iter().copied())).await?;
        Ok(expired.len())
    }
}
