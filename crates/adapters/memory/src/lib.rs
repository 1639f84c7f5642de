//! # commerce-memory
//!
//! In-memory implementations of every `commerce-core` port. They are the
//! embedded default of the all-in-one binary and the reference every other
//! adapter is checked against: each passes its port's conformance suite.
//!
//! State lives behind a `std::sync::Mutex`; no lock is held across an `.await`.
//! Stores that write events share one [`MemoryOutbox`], appended to under the
//! store's own lock so a change and its events are observed together.

mod catalog;
mod deadletters;
mod events;
mod idempotency;
mod inventory;
mod notify;
mod orders;
mod payments;
mod pricing;
mod read_model;
mod shop;

pub use catalog::MemoryCatalogStore;
pub use deadletters::MemoryDeadLetters;
pub use events::{MemoryConsumer, MemoryEventBus, MemoryOutbox};
pub use idempotency::MemoryIdempotencyStore;
pub use inventory::MemoryInventoryStore;
pub use notify::MemoryDeliveryLog;
pub use orders::MemoryOrderStore;
pub use payments::{GatewayStats, MemoryPaymentGateway, PendingChallenge};
pub use pricing::MemoryPricingStore;
pub use read_model::MemoryReadModel;
pub use shop::{MemoryAdapters, SyncError};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, recovering the data if a panicking thread poisoned it:
/// every critical section here leaves the state consistent before it can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
