//! Application services: the use cases. Each holds the ports it needs as
//! `Arc<dyn Port>` and contains the rules; adapters only store and transport.
//! Binaries build them in `main` and hand them to HTTP, GraphQL or gRPC adapters.

pub mod catalog;
pub mod checkout;
pub mod dead_letters;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod notifications;
pub mod orders;
pub mod payment_notices;
pub mod pricing;
pub mod recovery;
pub mod refunds;
pub mod replica;
pub mod restock;
pub mod shop;
pub mod storefront;
pub mod transfer;

use std::sync::Arc;

use crate::{
    events::{DomainEvent, EventEnvelope},
    ids::EventId,
    ports::{Clock, IdGenerator},
};

/// The clock and id generator every service stamps its work with.
#[derive(Clone)]
pub struct Env {
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Id source.
    pub ids: Arc<dyn IdGenerator>,
}

impl Env {
    /// Bundles a clock and an id generator.
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { clock, ids }
    }

    /// Wraps `event` in an envelope stamped now.
    pub fn envelope(&self, event: DomainEvent) -> EventEnvelope {
        EventEnvelope::new(EventId::from_uuid(self.ids.new_id()), self.clock.now(), event)
    }
}
