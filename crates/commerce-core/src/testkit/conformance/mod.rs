//! One conformance suite per port.
//!
//! Each suite is an async function taking a factory (`FnMut() -> Future<Output = Adapter>`)
//! that must return a fresh, empty adapter for every case. Run it from any async
//! test runtime; it panics with the failing case's name.
//!
//! ```text
//! #[tokio::test]
//! async fn product_store_conforms() {
//!     commerce_core::testkit::conformance::products::run(|| async { MyStore::connect_fresh().await }).await;
//! }
//! ```

pub mod collections;
pub mod dead_letters;
pub mod deliveries;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod orders;
pub mod payment;
pub mod pricing;
pub mod products;
pub mod read_model;
pub mod replica;
pub mod restock;
pub mod restock_log;

use std::sync::Arc;

use crate::{
    events::{DomainEvent, EventEnvelope},
    ids::EventId,
    testkit::fixed::{ManualClock, SequentialIds},
};

/// Shared fixtures: a clock and ids every case can use.
pub(crate) struct Fixture {
    pub clock: Arc<ManualClock>,
    pub ids: Arc<SequentialIds>,
}

impl Fixture {
    pub fn new() -> Self {
        Self { clock: Arc::new(ManualClock::default()), ids: Arc::new(SequentialIds::new()) }
    }

    pub fn id(&self) -> uuid::Uuid {
        crate::ports::IdGenerator::new_id(&*self.ids)
    }

    pub fn now(&self) -> crate::timestamp::Timestamp {
        crate::ports::Clock::now(&*self.clock)
    }

    pub fn envelope(&self, event: DomainEvent) -> EventEnvelope {
        EventEnvelope::new(EventId::from_uuid(self.id()), self.now(), event)
    }
}
