//! Moving events: the outbox relay (outbox -> broker) and the projector
//! (events -> read model). Each is a single step; the binaries loop over it
//! with their own runtime, back-off and shutdown signal.

use std::sync::Arc;

use crate::{
    events::{DomainEvent, EventEnvelope},
    ports::{EventConsumer, EventError, EventPublisher, Outbox, ProductProjection, StoreError},
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
            DomainEvent::OrderStatusChanged(_) => Ok(false),
        }
    }

    /// Polls up to `max` events, applies them and acknowledges them once applied.
    /// Returns how many were received. On error nothing further is acknowledged.
    pub async fn step(&self, consumer: &dyn EventConsumer, max: usize) -> Result<usize, ProjectionError> {
        let batch = consumer.poll(max).await?;
        for delivery in &batch {
            self.apply(&delivery.envelope).await?;
        }
        if let Some(last) = batch.last() {
            consumer.ack(last.tag).await?;
        }
        Ok(batch.len())
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
