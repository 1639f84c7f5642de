//! # commerce-postgres
//!
//! PostgreSQL adapters (sqlx) for the commerce ports:
//!
//! | adapter | port(s) | schema |
//! |---|---|---|
//! | [`PgCatalogStore`] | `CatalogStore` | `commerce` |
//! | [`PgOrderStore`] | `OrderStore` | `commerce` |
//! | [`PgIdempotencyStore`] | `IdempotencyStore` | `commerce` |
//! | [`PgInventoryStore`] | `InventoryStore` | `commerce` |
//! | [`PgOutbox`] | `Outbox`, `EventPublisher` | `commerce` |
//! | [`PgOutboxConsumer`] | `EventConsumer` (the outbox poller) | `commerce` |
//! | [`PgReadModel`] | `ProductReadModel`, `ProductProjection` | `commerce_read` |
//! | [`PgReadModelFeed`] | `ReadModelFeed` (the read model's changes, for replicas) | `commerce_read` |
//!
//! The write model (`commerce` schema) and the read model (`commerce_read`)
//! have separate migration sets ([`migrate_write`], [`migrate_read`]) so the read
//! side can live in another database, on replicas or another cluster. Both are
//! embedded in the binary and idempotent to re-run.
//!
//! Every state change and its events are written in one transaction (the
//! transactional outbox); SQLSTATE codes are mapped to domain errors
//! (23505 unique violation -> `Duplicate`, 23503 foreign key -> `InUse` /
//! `MissingReference`); connection failures are `Unavailable`.

mod catalog;
mod deadletters;
mod feed;
mod idempotency;
mod inventory;
mod notify;
mod orders;
mod outbox;
mod pricing;
mod read_model;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

pub use catalog::PgCatalogStore;
use commerce_core::{Timestamp, events::EventEnvelope, ports::StoreError};
pub use deadletters::PgDeadLetters;
pub use feed::PgReadModelFeed;
pub use idempotency::PgIdempotencyStore;
pub use inventory::PgInventoryStore;
pub use notify::PgDeliveryLog;
pub use orders::PgOrderStore;
pub use outbox::{PgOutbox, PgOutboxConsumer};
pub use pricing::PgPricingStore;
pub use read_model::PgReadModel;
pub use sqlx::PgPool;
use sqlx::{Postgres, Transaction, postgres::PgPoolOptions};

/// Applies the write-model migrations (schema `commerce`). Idempotent.
pub async fn migrate_write(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/write");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    catalog::fill_search_keys(pool).await.map_err(sqlx::migrate::MigrateError::Execute)
}

/// Applies the read-model migrations (schema `commerce_read`). Idempotent.
pub async fn migrate_read(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/read");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await
}

/// A pool that connects lazily: the process starts (and reports not-ready) while the
/// database is down, and reconnects by itself when it comes back.
pub fn lazy_pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    pool_options(max_connections).connect_lazy(url)
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new().max_connections(max_connections).acquire_timeout(Duration::from_secs(3))
}

/// [`lazy_pool`] for customers' queries: every statement is cancelled by the server after
/// `statement_timeout` (PostgreSQL's `statement_timeout`), so one slow or hostile query
/// cannot hold a connection (it fails with SQLSTATE 57014, which the stores report as
/// `Unavailable`); and the planner reads a table whole only where no index applies
/// (`enable_seqscan = off`). Listings are keyset pages that an index serves at any size;
/// left to its estimates the planner reads a small or middling table whole and sorts what
/// matched, a plan whose cost then grows with the catalog (the EXPLAIN test, issue 19).
/// JIT compilation is off (`jit = off`): these queries take a millisecond, and the cost
/// `enable_seqscan = off` gives the plans of small tables (the collections) crossed
/// `jit_above_cost`, so each such query spent 60 ms compiling itself.
pub fn lazy_query_pool(url: &str, max_connections: u32, statement_timeout: Duration) -> Result<PgPool, sqlx::Error> {
    Ok(pool_options(max_connections).connect_lazy_with(query_options(url, statement_timeout)?))
}

/// The connection options of [`lazy_query_pool`].
pub fn query_options(url: &str, statement_timeout: Duration) -> Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
    let millis = statement_timeout.as_millis().max(1).to_string();
    Ok(url.parse::<sqlx::postgres::PgConnectOptions>()?.options([
        ("statement_timeout", millis.as_str()),
        ("enable_seqscan", "off"),
        ("jit", "off"),
    ]))
}

/// `Ok` when the database answers.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ()).map_err(|e| e.to_string())
}

/// The SQLSTATE of a database error, if it is one.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(std::borrow::Cow::into_owned),
        _ => None,
    }
}

/// Maps a database error to the store contract: unique and foreign-key violations
/// are domain errors, everything else (lost connection, timeout) is `Unavailable`.
fn store_error(e: &sqlx::Error, duplicate: &str) -> StoreError {
    match sqlstate(e).as_deref() {
        Some("23505") => {
            let constraint = match e {
                sqlx::Error::Database(db) => db.constraint().unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            StoreError::Duplicate(if constraint.is_empty() {
                duplicate.to_owned()
            } else {
                format!("{duplicate} ({constraint})")
            })
        }
        _ => unavailable(e),
    }
}

fn unavailable(e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(e: &serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("stored record does not decode: {e}"))
}

fn to_datetime(t: Timestamp) -> time::OffsetDateTime {
    t.as_datetime()
}

fn version_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `INSERT`s the outbox rows bound as five arrays at the given parameters (see
/// [`OutboxRows::bind`]). Callers end it with `ORDER BY e.n` (after any `WHERE`), so
/// positions follow the events' order.
macro_rules! outbox_insert {
    ($ids:literal, $kinds:literal, $aggregates:literal, $versions:literal, $envelopes:literal) => {
        concat!(
            "INSERT INTO commerce.outbox (event_id, aggregate_type, aggregate_id, aggregate_version, envelope) ",
            "SELECT e.id, e.kind, e.aggregate, e.version, e.envelope FROM unnest(",
            $ids,
            "::uuid[], ",
            $kinds,
            "::text[], ",
            $aggregates,
            "::uuid[], ",
            $versions,
            "::bigint[], ",
            $envelopes,
            "::jsonb[]) WITH ORDINALITY AS e(id, kind, aggregate, version, envelope, n)"
        )
    };
}
pub(crate) use outbox_insert;

/// Appends events to the outbox inside the caller's transaction, in one statement.
async fn append_events(tx: &mut Transaction<'_, Postgres>, events: &[EventEnvelope]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = OutboxRows::of(events).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    rows.bind(sqlx::query(concat!(outbox_insert!("$1", "$2", "$3", "$4", "$5"), " ORDER BY e.n")))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Events as the columns of their outbox rows, to insert many in one statement. Each
/// envelope keeps the trace context of the work writing it, so the relay and the
/// consumers join that trace.
struct OutboxRows {
    ids: Vec<uuid::Uuid>,
    kinds: Vec<&'static str>,
    aggregates: Vec<uuid::Uuid>,
    versions: Vec<i64>,
    envelopes: Vec<serde_json::Value>,
}

impl OutboxRows {
    fn of(events: &[EventEnvelope]) -> Result<Self, serde_json::Error> {
        let traceparent = commerce_telemetry::current_traceparent();
        let mut rows = Self {
            ids: Vec::with_capacity(events.len()),
            kinds: Vec::with_capacity(events.len()),
            aggregates: Vec::with_capacity(events.len()),
            versions: Vec::with_capacity(events.len()),
            envelopes: Vec::with_capacity(events.len()),
        };
        for e in events {
            let mut envelope = serde_json::to_value(e)?;
            if let (None, Some(tp), Some(fields)) = (&e.traceparent, &traceparent, envelope.as_object_mut()) {
                fields.insert(commerce_telemetry::TRACEPARENT.to_owned(), tp.clone().into());
            }
            rows.ids.push(e.event_id.as_uuid());
            rows.kinds.push(e.aggregate_type.as_str());
            rows.aggregates.push(e.aggregate_id);
            rows.versions.push(version_i64(e.aggregate_version));
            rows.envelopes.push(envelope);
        }
        Ok(rows)
    }

    /// Binds the five arrays, in the order [`outbox_insert`] names them.
    fn bind(self, query: PgQuery<'_>) -> PgQuery<'_> {
        query.bind(self.ids).bind(self.kinds).bind(self.aggregates).bind(self.versions).bind(self.envelopes)
    }
}
