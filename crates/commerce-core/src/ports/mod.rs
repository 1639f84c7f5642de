//! Ports: the traits adapters implement. One per concern, each with its error
//! contract. Nothing here knows which database, broker or network sits behind it.
//!
//! | port | adapters |
//! |---|---|
//! | [`ProductStore`], [`CollectionStore`], [`RestockLog`] | memory, PostgreSQL (write model + outbox) |
//! | [`ProductReadModel`], [`ProductProjection`] | memory, PostgreSQL (read model) |
//! | [`ReadModelFeed`], [`ViewReplica`] | PostgreSQL (read model's changes), memory (a replica's copy) |
//! | [`InventoryStore`] | memory, PostgreSQL, Redis, gRPC client |
//! | [`RestockStore`] | memory, Redis |
//! | [`OrderStore`] | memory, PostgreSQL |
//! | [`IdempotencyStore`] | memory, PostgreSQL |
//! | [`PaymentGateway`] | memory (scriptable), simulated card processor |
//! | [`Outbox`], [`EventPublisher`], [`EventConsumer`] | memory, PostgreSQL, Kafka |
//! | [`DeadLetterStore`] | memory, PostgreSQL, SQLite |
//! | [`Mailer`], [`DeliveryLog`], [`MessageRenderer`] | SMTP and a development mailbox, memory, PostgreSQL, templates |
//! | [`Clock`], [`IdGenerator`] | system, fixed/deterministic for tests |
//!
//! Stores that change state take the events of that change and must persist
//! both atomically (the transactional outbox): an event is never lost after a
//! committed change, and never exists without one.

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    catalog::{Collection, Product, ProductSearch, Version},
    events::EventEnvelope,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    ids::{CollectionId, EventId, OrderId, ProductId, ReservationId},
    inventory::{
        InventoryError, InventoryReceipt, OnHand, ReservationRequest, RestockOutcome, StockLevel, StockReturn,
    },
    order::{Order, OrderStatus},
    query::{Facets, ProductPage, ProductQuery, ProductView},
    timestamp::Timestamp,
};

mod deadletter;
mod notify;
mod payment;
mod pricing;
mod replica;

pub use deadletter::DeadLetterStore;
#[cfg(any(test, feature = "mocks"))]
pub use deadletter::MockDeadLetterStore;
pub use notify::{DeliveryLog, Mailer, MessageRenderer};
#[cfg(any(test, feature = "mocks"))]
pub use notify::{MockDeliveryLog, MockMailer};
#[cfg(any(test, feature = "mocks"))]
pub use payment::MockPaymentGateway;
pub use payment::{PaymentGateway, PaymentNoticeDecoder};
#[cfg(any(test, feature = "mocks"))]
pub use pricing::{MockShippingMethodStore, MockTaxRateStore};
pub use pricing::{ShippingMethodStore, TaxRateStore};
#[cfg(any(test, feature = "mocks"))]
pub use replica::MockReadModelFeed;
pub use replica::{CollectionChange, FeedBatch, FeedPosition, ReadModelFeed, ViewReplica};

/// Failure of a persistence port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record addressed by an update does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the string names what (e.g. `sku TEE-1`).
    #[error("{0} already exists")]
    Duplicate(String),
    /// The stored version differs from the expected one: someone else changed it first.
    #[error("version conflict: expected {expected}, found {actual}")]
    VersionConflict {
        /// Version the caller read.
        expected: Version,
        /// Version stored now.
        actual: Version,
    },
    /// The record is still referenced (a collection with products).
    #[error("still in use: {0}")]
    InUse(String),
    /// The record refers to one that does not exist (a product's collection).
    #[error("refers to a missing record: {0}")]
    MissingReference(String),
    /// The backing service is unreachable or failed; the call may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The catalog's products (write model).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProductStore: Send + Sync {
    /// Inserts a new product and appends `events` to the outbox, atomically.
    ///
    /// Returns `Duplicate` when the SKU (or id) is taken, and `MissingReference` when its
    /// collection does not exist; nothing is written then.
    async fn insert_product(&self, product: &Product, events: &[EventEnvelope]) -> Result<(), StoreError>;

    /// Replaces a product whose stored version is `expected`, and appends `events`, atomically.
    ///
    /// Returns `NotFound` for an unknown id, `VersionConflict` when the stored version is not
    /// `expected` (never a lost update), and `Duplicate` when the new SKU is taken.
    async fn update_product(
        &self,
        product: &Product,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError>;

    /// A product by id, in any status.
    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError>;

    /// Products in id order, starting after `after`, at most `limit`.
    async fn products(&self, after: Option<ProductId>, limit: usize) -> Result<Vec<Product>, StoreError>;

    /// The products `search` finds ([`ProductSearch::matches`]), any status, in id order,
    /// starting after `after`, at most `limit`. Stores keep [`ProductSearch::key_of`] with
    /// each product to answer without reading every product.
    async fn search_products(
        &self,
        search: &ProductSearch,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError>;
}

/// The catalog's collections (write model). A collection cannot be deleted while a
/// product of the same store belongs to it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CollectionStore: Send + Sync {
    /// Inserts a collection and appends `events`. Returns `Duplicate` when the slug (or id) is taken.
    async fn insert_collection(&self, collection: &Collection, events: &[EventEnvelope]) -> Result<(), StoreError>;

    /// Replaces a collection whose stored version is `expected`, and appends `events`.
    ///
    /// Returns `NotFound`, `VersionConflict` or `Duplicate` (slug) like [`ProductStore::update_product`].
    async fn update_collection(
        &self,
        collection: &Collection,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError>;

    /// Deletes a collection and appends `events`.
    ///
    /// Returns `NotFound` for an unknown id and `InUse` when a product still belongs to it.
    async fn delete_collection(&self, id: CollectionId, events: &[EventEnvelope]) -> Result<(), StoreError>;

    /// A collection by id.
    async fn collection(&self, id: CollectionId) -> Result<Option<Collection>, StoreError>;

    /// Every collection, by name.
    async fn collections(&self) -> Result<Vec<Collection>, StoreError>;
}

/// The catalog's record of seller restocks bound for the inventory service, where
/// restocks travel as `stock.set` events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RestockLog: Send + Sync {
    /// Records a seller restock: gives it `product`'s next restock number (1 for the first)
    /// and appends its `stock.set` event ([`EventEnvelope::stock_set`] with `event_id`, `at`
    /// and that number), atomically. Returns the number.
    ///
    /// Returns `NotFound` for a product this store does not hold; nothing is written then.
    async fn record_restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// The storefront's read side: listing, lookup and facets over product views.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProductReadModel: Send + Sync {
    /// One page of active products matching `query`, exactly as [`crate::query::evaluate`] would return it.
    async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StoreError>;

    /// A product view by id, in any status (`None` if never projected).
    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, StoreError>;

    /// Views of several products (unknown ids are left out), in no particular order.
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<ProductView>, StoreError>;

    /// Facet counts over every product matching `query`'s filters, as [`crate::query::facets`] computes them.
    async fn facets(&self, query: &ProductQuery) -> Result<Facets, StoreError>;

    /// Every collection, by name.
    async fn collections(&self) -> Result<Vec<Collection>, StoreError>;
}

/// The write side of the read model, fed by events. Every method is idempotent
/// and order-tolerant: a change whose version is not newer than the stored one is ignored.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProductProjection: Send + Sync {
    /// Stores `product`'s fields unless a version `>= product.version` is already stored.
    /// Keeps the product's stock. Returns whether anything changed.
    async fn apply_product(&self, product: &Product) -> Result<bool, StoreError>;

    /// Stores a product's available stock unless a stock version `>= version` is stored.
    /// Stock may arrive before its product; it is kept and shown once the product arrives.
    async fn apply_stock(&self, product: ProductId, available: u64, version: u64) -> Result<bool, StoreError>;

    /// Stores a collection unless a version `>=` is stored.
    async fn apply_collection(&self, collection: &Collection) -> Result<bool, StoreError>;

    /// Removes a collection for good: it leaves a tombstone that outranks every version, so
    /// a replayed `collection.created` or `updated` never brings it back, even when the
    /// delete arrives first. Idempotent; `Ok(true)` the first time.
    async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError>;

    /// Empties the read model (before a rebuild from the event log).
    async fn reset(&self) -> Result<(), StoreError>;
}

/// Stock per product and reservations: the rules of [`crate::inventory`], applied atomically.
///
/// Every operation is idempotent by reservation id and safe under concurrency:
/// `available` never goes negative however many callers race. Receipts list the
/// stock levels in the order of the reservation's lines (product id order). An
/// adapter may append a `stock.changed` event per changed level to its own outbox
/// in the same transaction; it is then used with
/// [`InventoryService::with_transactional_events`](crate::services::inventory::InventoryService::with_transactional_events).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Stock of the given products; products without a stock record are left out.
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError>;

    /// Sets on-hand units, creating the record. Returns `BelowReserved` when fewer than the reserved units.
    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError>;

    /// Holds every line or none. Returns `InsufficientStock` (and records the refusal, so a
    /// retry returns it again), `UnknownProduct` when a product has no stock record, and
    /// `ReservationMismatch` when the id was used with other lines. A retry of a successful
    /// reserve returns the reservation in its current state.
    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError>;

    /// Takes reserved units out of stock. Idempotent. Returns `UnknownReservation`, or
    /// `InvalidTransition` when the reservation was released, expired or refused.
    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError>;

    /// Gives reserved units back. Idempotent; an unknown id leaves a released tombstone.
    /// Returns `InvalidTransition` when the reservation was committed.
    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError>;

    /// Expires up to `limit` active reservations whose deadline is at or before `now`.
    /// Safe to run from several processes at once: each reservation expires once.
    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError>;

    /// Adds a return's units to on-hand, once per return id (a retry returns the first
    /// receipt), with the rule of [`Ledger::restore`](crate::inventory::Ledger::restore):
    /// `UnknownProduct`, `ReservationMismatch` for the id with other lines,
    /// `InvalidTransition` for the id of a reservation. It belongs to this port, not a
    /// port of its own, because it shares the reservation records and their atomicity:
    /// the seven methods are one stock ledger's operations.
    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError>;
}

/// Applies seller restocks that arrive as `stock.set` events, the rule of
/// [`Ledger::restock`](crate::inventory::Ledger::restock) applied atomically: each
/// restock number applies at most once per product, and never after a higher one.
///
/// An adapter that records `stock.changed` events (a stream or outbox of its own)
/// records the change of an applied restock in the same atomic step.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RestockStore: Send + Sync {
    /// Sets `product`'s on-hand units unless restock `restock` or a later one was applied.
    ///
    /// Returns `BelowReserved` when `on_hand` is below the reserved units (nothing changes
    /// and the number is not recorded), and `Unavailable` when the store cannot be reached.
    async fn restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        restock: u64,
    ) -> Result<RestockOutcome, InventoryError>;
}

/// A page request over orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// Only this status.
    pub status: Option<OrderStatus>,
    /// At most this many (services ask for at most [`OrderQuery::MAX_LIMIT`] + 1).
    pub limit: usize,
    /// Continue after this order (orders are listed newest first).
    pub after: Option<OrderId>,
}

/// What a recovery job claims: see [`OrderStore::claim_stalled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StalledClaim {
    /// Only orders unchanged since this time.
    pub updated_before: Timestamp,
    /// The claimer's now: leases ending at or before it have lapsed.
    pub now: Timestamp,
    /// The claimed orders are leased until then.
    pub lease_until: Timestamp,
    /// At most this many.
    pub limit: usize,
}

impl OrderQuery {
    /// The largest page `OrderService::list_orders` serves.
    pub const MAX_LIMIT: usize = 100;
}

/// Orders with their saga state.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Inserts a new order and appends `events`, atomically. Returns `Duplicate` when the id
    /// exists. `Unavailable` means the outcome is unknown: the connection may have been lost
    /// around the commit, so the order may exist.
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError>;

    /// Replaces an order whose stored version is `expected`, and appends `events`, atomically.
    /// Returns `NotFound`, or `VersionConflict` when another runner advanced it first.
    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError>;

    /// An order by id.
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError>;

    /// Orders newest first (by id, which is time-ordered), filtered by status.
    async fn list(&self, query: &OrderQuery) -> Result<Vec<Order>, StoreError>;

    /// Claims up to `claim.limit` unsettled orders (whose saga has work left, see
    /// `Order::is_settled`) last changed at or before `claim.updated_before` and not leased
    /// at `claim.now`, oldest first, and leases each until `claim.lease_until`. Concurrent
    /// callers (the recovery jobs of several replicas) never receive one order while its
    /// lease runs, so one job at a time drives it. A lease is never released: it lapses.
    async fn claim_stalled(&self, claim: &StalledClaim) -> Result<Vec<Order>, StoreError>;
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The caller owns the key and must `complete` or `release` it (or leave it claimed when
    /// the command's outcome is unknown). `first_claimed_at` is when the key was first
    /// claimed: the claim's `now` for a key claimed afresh (the conformance suite checks
    /// it), and the same earlier time when a stale claim is taken over, so work derived from
    /// it (an order id) is the same on every attempt.
    Acquired {
        /// When the key was first claimed.
        first_claimed_at: Timestamp,
    },
    /// Another request with this key is executing now.
    InProgress,
    /// The key already completed with the same command: answer this outcome again.
    Completed(CommandOutcome),
    /// The key was used with a different command.
    Mismatch,
}

/// Remembers command outcomes by client key so retries never execute twice. Stores see
/// only the key's digest and the command's keyed fingerprint (see [`crate::idempotency`]).
///
/// Every adapter bounds what it keeps: keys older than its retention period are dropped
/// (a retry after that executes anew).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a command with `fingerprint`. Of two concurrent claims exactly one
    /// gets `Acquired`. An in-progress claim made before `stale_before` (its owner crashed)
    /// is taken over. A mismatching fingerprint is `Mismatch` whatever the key's state.
    ///
    /// Returns `Unavailable` when the store cannot be reached (nothing was claimed then),
    /// or when it is full of claims it may not drop.
    async fn claim(
        &self,
        key: &KeyDigest,
        fingerprint: &Fingerprint,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError>;

    /// Stores the outcome of an acquired key. Returns `NotFound` when the key is not claimed.
    async fn complete(&self, key: &KeyDigest, outcome: &CommandOutcome) -> Result<(), StoreError>;

    /// Drops an acquired, uncompleted claim so the command may be retried (idempotent).
    async fn release(&self, key: &KeyDigest) -> Result<(), StoreError>;
}

/// One event waiting in an outbox, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Position in the outbox, increasing in commit order.
    pub position: u64,
    /// The event.
    pub envelope: EventEnvelope,
}

/// Failure of the event pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The broker or store is unreachable; retry later.
    #[error("event transport unavailable: {0}")]
    Unavailable(String),
    /// The event could not be handled and never will be (it goes to a dead-letter destination).
    #[error("event rejected: {0}")]
    Rejected(String),
}

/// The read side of a transactional outbox, used by relays and pollers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` unpublished records in position order (per aggregate, in version order).
    /// Concurrent callers receive disjoint batches.
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError>;

    /// Marks records published; they are never returned again. Idempotent.
    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError>;
}

/// Sends events to a broker (or in-process bus).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes events, keyed by aggregate id so one aggregate's events stay ordered.
    /// Returns only once the broker has acknowledged every event; on error any subset may
    /// have been published, and the caller retries (consumers are idempotent).
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError>;
}

/// One event delivered to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Acknowledgement handle (an offset).
    pub tag: u64,
    /// The event.
    pub envelope: EventEnvelope,
}

/// Receives events, at least once, in order per aggregate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventConsumer: Send + Sync {
    /// Up to `max` deliveries not yet acknowledged by this consumer (may be empty).
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError>;

    /// Acknowledges every delivery up to and including `tag`: call it only after their
    /// effects are durable. Unacknowledged deliveries are delivered again.
    async fn ack(&self, tag: u64) -> Result<(), EventError>;

    /// Parks a delivery that can never be handled (a rule refuses it) in the dead-letter
    /// destination with `reason`, for an operator to look at. It still has to be
    /// acknowledged, like any other delivery, once this returns.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError>;
}

/// The current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, to the microsecond.
    fn now(&self) -> Timestamp;
}

/// Fresh identifiers and secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new UUIDv7 (time-ordered).
    fn new_id(&self) -> Uuid;

    /// A new unguessable URL-safe secret of at least 128 bits.
    fn new_secret(&self) -> String;
}
