//! # commerce-core
//!
//! The pure domain of the commerce toolkit: no I/O, no database, web or
//! runtime types. A short tour:
//!
//! - [`money`]: integer minor units of an ISO 4217 currency; checked arithmetic.
//! - [`catalog`]: products and collections, their validated fields and commands.
//! - [`query`]: storefront listing queries, keyset cursors and the reference evaluator.
//! - [`inventory`]: on-hand/reserved stock, reservations and the reference [`inventory::Ledger`].
//! - [`payment`]: card validation (never printable or serialisable in clear) and gateway vocabulary.
//! - [`order`]: orders and the checkout saga as a pure state machine.
//! - [`credential`]: bearer tokens of operators and services, compared by digest in constant time.
//! - [`idempotency`]: client keys, command fingerprints and stored outcomes of idempotent commands.
//! - [`notify`]: which order events notify the customer, and the messages they become.
//! - [`deadletter`]: events a consumer parked, to replay or discard.
//! - [`events`]: versioned domain events in an envelope (documented in `docs/events.md`).
//! - [`ports`]: the traits adapters implement, with their error contracts.
//! - [`services`]: the use cases, generic over the ports; [`services::shop::Shop`] wires them all.
//! - [`prelude`]: the common imports in one `use commerce_core::prelude::*;`.
//!
//! Features: `mocks` adds mockall mocks of every port (`ports::MockProductStore`, ...);
//! `testkit` adds proptest strategies and one conformance suite per port.

pub mod address;
pub mod cart;
pub mod catalog;
pub mod credential;
pub mod deadletter;
pub mod events;
mod hashing;
pub mod idempotency;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod notify;
pub mod order;
pub mod payment;
pub mod ports;
pub mod prelude;
pub mod pricing;
pub mod query;
pub mod services;
pub mod timestamp;
pub mod validation;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use ids::{CollectionId, EventId, OrderId, ProductId, ReservationId};
pub use money::{Currency, Money};
pub use timestamp::Timestamp;
