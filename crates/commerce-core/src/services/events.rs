//! Moving events: the outbox relay (outbox -> broker), the projector
//! (events -> read model) and the restocker (`stock.set` -> inventory). Each is a
//! single step; the binaries loop over it with their own runtime, back-off and
//! shutdown signal.

use std::sync::Arc;

use super::{Env, inventory::StockEvents};
use crate::{
    events::{DomainEvent, EventEnvelope},
    inventory::{InventoryError, OnHand, RestockOutcome},
    ports::{EventConsumer, EventError, EventPublisher, Outbox, ProductProjection, RestockStore, StoreError},
};

/// Why a projection step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// Receiving or acknowledging failed.
    #[error(transparent)]
    Events(#[from] EventError),
    /// The read model failed; the batch is not acknowledged and will be redelivered.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies events to the read model.
#[derive(Clone)]
pub struct Projector {
    projection: Arc<dyn ProductProjection>,
}

impl Projector {
    /// Aggregates a step applies at once.
    pub const CONCURRENCY: usize = 8;

    /// A projector writing to `projection`.
    pub fn new(projection: Arc<dyn ProductProjection>) -> Self {
        Self { projection }
    }

    /// Applies one event. Returns whether the read model changed (`false` for stale or
    /// duplicate events and for events the read model does not need).
    pub async fn apply(&self, envelope: &EventEnvelope) -> Result<bool, StoreError> {
        match &envelope.event {
            DomainEvent::ProductCreated(p) | DomainEvent::ProductUpdated(p) | DomainEvent::ProductArchived(p) => {
                self.projection.apply_product(p).await
            }
            DomainEvent::CollectionCreated(c) | DomainEvent::CollectionUpdated(c) => {
                self.projection.apply_collection(c).await
            }
            DomainEvent::CollectionDeleted { id } => self.projection.remove_collection(*id).await,
            DomainEvent::StockChanged(s) => {
                self.projection.apply_stock(s.product_id, s.available, envelope.aggregate_version).await
            }
            DomainEvent::OrderStatusChanged(_)
            | DomainEvent::OrderShipmentCreated(_)
            | DomainEvent::OrderRefundIssued(_)
            | DomainEvent::OrderRefundFailed(_)
            | DomainEvent::StockSet(_) => Ok(false),
        }
    }

    /// Applies `events` (a received batch): those of one aggregate in order; different
    /// aggregates, up to [`Projector::CONCURRENCY`] at once. The read model's rules are
    /// order-tolerant (each change by version), so this is for speed only: one event at a
    /// time, a round trip to the read model's database each, held a 500-writes-a-second
    /// stream behind.
    ///
    /// # Errors
    /// The first failure of the read model; some events may have been applied (a retry
    /// applies them again, harmlessly).
    pub async fn apply_all<'a>(&self, events: impl IntoIterator<Item = &'a EventEnvelope>) -> Result<(), StoreError> {
        use futures::TryStreamExt as _;
        let mut by_aggregate: Vec<Vec<&EventEnvelope>> = vec![];
        let mut index = std::collections::HashMap::new();
        for e in events {
            let slot = *index.entry(e.aggregate_id).or_insert_with(|| {
                by_aggregate.push(vec![]);
                by_aggregate.len() - 1
            });
            by_aggregate[slot].push(e);
        }
        futures::stream::iter(by_aggregate.into_iter().map(Ok::<_, StoreError>))
            .try_for_each_concurrent(Self::CONCURRENCY, |events| async move {
                for e in events {
                    self.apply(e).await?;
                }
                Ok(())
            })
            .await
    }

    /// Polls up to `max` events, applies them ([`Projector::apply_all`]) and acknowledges
    /// them once applied. Returns how many were received. On error nothing further is
    /// acknowledged.
    pub async fn step(&self, consumer: &dyn EventConsumer, max: usize) -> Result<usize, ProjectionError> {
        let batch = consumer.poll(max).await?;
        self.apply_all(batch.iter().map(|d| &d.envelope)).await?;
        if let Some(last) = batch.last() {
            consumer.ack(last.tag).await?;
        }
        Ok(batch.len())
    }
}

/// Why a restock step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestockError {
    /// Receiving, dead-lettering or acknowledging failed.
    #[error(transparent)]
    Events(#[from] EventError),
    /// The inventory could not be reached; the batch is not acknowledged and will be redelivered.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

/// What one restock step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestockStep {
    /// Events received.
    pub received: usize,
    /// Restocks that changed the inventory.
    pub applied: usize,
    /// Restocks a rule refused (below the reserved units), parked as dead letters.
    pub refused: usize,
}

/// Applies seller restocks (`stock.set` events from the catalog) to the inventory.
///
/// Each restock carries the product's restock number, so a redelivered or overtaken
/// one changes nothing. A restock the inventory refuses (fewer units than open
/// checkouts hold) can never succeed by retrying: it goes to the dead-letter
/// destination with the reason, and the partition moves on.
///
/// Like [`InventoryService`](super::inventory::InventoryService), a restocker over a
/// store that does not record `stock.changed` itself gets a publisher. It publishes
/// the level after every restock, stale ones included, so a restock redelivered
/// after a failed publish publishes again (consumers ignore versions they hold).
#[derive(Clone)]
pub struct Restocker {
    store: Arc<dyn RestockStore>,
    events: StockEvents,
}

impl Restocker {
    /// A restocker over `store`, publishing `stock.changed` to `publisher`.
    pub fn new(store: Arc<dyn RestockStore>, publisher: Arc<dyn EventPublisher>, env: Env) -> Self {
        Self { store, events: StockEvents::published(publisher, env) }
    }

    /// A restocker over a store that records its own `stock.changed` events atomically
    /// with each change.
    pub fn with_transactional_events(store: Arc<dyn RestockStore>) -> Self {
        Self { store, events: StockEvents::recorded_by_store() }
    }

    /// Applies one event; events other than `stock.set` are ignored (`None`). A failed
    /// publish is reported as `Unavailable`.
    pub async fn apply(&self, envelope: &EventEnvelope) -> Result<Option<RestockOutcome>, InventoryError> {
        let DomainEvent::StockSet(s) = &envelope.event else {
            return Ok(None);
        };
        // A restock above the ceiling is refused like any other rule violation (parked).
        let on_hand = OnHand::new(s.on_hand).map_err(|e| InventoryError::InvalidRequest(format!("on_hand: {e}")))?;
        let outcome = self.store.restock(s.product_id, on_hand, envelope.aggregate_version).await?;
        self.events.publish([outcome.level()]).await?;
        Ok(Some(outcome))
    }

    /// Polls up to `max` events, applies them, parks refused ones as dead letters and
    /// acknowledges the batch once every effect is durable. When the inventory is
    /// unavailable nothing further is acknowledged and the batch comes again.
    pub async fn step(&self, consumer: &dyn EventConsumer, max: usize) -> Result<RestockStep, RestockError> {
        let batch = consumer.poll(max).await?;
        let mut step = RestockStep { received: batch.len(), ..RestockStep::default() };
        for delivery in &batch {
            match self.apply(&delivery.envelope).await {
                Ok(Some(RestockOutcome::Applied(_))) => step.applied += 1,
                Ok(Some(RestockOutcome::Stale { .. }) | None) => {}
                // A misconfigured credential is not the event's fault: keep it for later.
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(refused) => {
                    consumer.dead_letter(delivery, &refused.to_string()).await?;
                    step.refused += 1;
                }
            }
        }
        if let Some(last) = batch.last() {
            consumer.ack(last.tag).await?;
        }
        Ok(step)
    }
}

/// Publishes outbox records to a broker.
#[derive(Clone)]
pub struct OutboxRelay {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
}

impl OutboxRelay {
    /// A relay from `outbox` to `publisher`.
    pub fn new(outbox: Arc<dyn Outbox>, publisher: Arc<dyn EventPublisher>) -> Self {
        Self { outbox, publisher }
    }

    /// Publishes up to `max` pending records and marks them published only after the
    /// publisher acknowledged them. Returns how many were relayed.
    pub async fn step(&self, max: usize) -> Result<usize, EventError> {
        let batch = self.outbox.claim(max).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let events: Vec<_> = batch.iter().map(|r| r.envelope.clone()).collect();
        self.publisher.publish(&events).await?;
        let positions: Vec<_> = batch.iter().map(|r| r.position).collect();
        self.outbox.mark_published(&positions).await?;
        Ok(batch.len())
    }
}
