//! The outbox table as a relay source ([`PgOutbox`]) and as an event source for
//! the in-process projector ([`PgOutboxConsumer`], the "outbox poller").
//!
//! Rows are never read by position offset: a transaction can commit a lower
//! position after a higher one was read, and an offset would skip it forever.
//! Instead each reader marks exactly the rows it handled (`published_at` for
//! relays, `projected_at` for the poller) and always reads the unmarked ones.
//!
//! Retention ([`PgOutbox::prune`]): each kind of reader records when it last read
//! (`commerce.outbox_readers`), and a row is deleted once every kind of reader seen in
//! the last [`READER_DECOMMISSIONED_AFTER`] has marked it. A deployment without any reader
//! (no broker, no poller) still has its old rows deleted, so the table never grows
//! without bound; one with a relay and a poller keeps each row until both handled it.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::{
    events::EventEnvelope,
    ports::{Delivery, EventConsumer, EventError, EventPublisher, Outbox, OutboxRecord},
};
use sqlx::{PgPool, Row};

use crate::append_events;

fn unavailable(e: &sqlx::Error) -> EventError {
    EventError::Unavailable(e.to_string())
}

fn decode(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<(u64, EventEnvelope)>, EventError> {
    rows.iter()
        .map(|r| {
            let position = u64::try_from(r.get::<i64, _>("position")).unwrap_or(0);
            serde_json::from_value(r.get("envelope"))
                .map(|e| (position, e))
                .map_err(|e| EventError::Rejected(format!("outbox row {position} does not decode: {e}")))
        })
        .collect()
}

/// The outbox read by relays (and written by [`EventPublisher::publish`] for callers
/// outside a store transaction).
#[derive(Debug, Clone)]
pub struct PgOutbox {
    pool: PgPool,
    lease_secs: i64,
    presence: Presence,
}

/// A reader kind silent for this long counts as gone: rows it never marked no longer wait
/// for it. Far longer than any outage a reader should come back from (after which the
/// read model is rebuilt from the write model rather than from the outbox).
pub const READER_DECOMMISSIONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Rows deleted per statement, so one prune never holds many row locks for long.
const PRUNE_BATCH: i64 = 10_000;

/// Records, at most once a minute per process, that a kind of reader (`relay`, `poller`)
/// is reading the outbox.
#[derive(Debug, Clone)]
struct Presence {
    reader: &'static str,
    last: Arc<Mutex<Option<Instant>>>,
}

impl Presence {
    fn new(reader: &'static str) -> Self {
        Self { reader, last: Arc::default() }
    }

    async fn record(&self, pool: &PgPool) -> Result<(), EventError> {
        {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        sqlx::query(
            "INSERT INTO commerce.outbox_readers (reader, seen_at) VALUES ($1, now())
             ON CONFLICT (reader) DO UPDATE SET seen_at = now()",
        )
        .bind(self.reader)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| unavailable(&e))
    }
}

impl PgOutbox {
    /// The outbox on `pool`; a claimed batch not marked within `lease_secs` is claimable again.
    pub fn new(pool: PgPool, lease_secs: i64) -> Self {
        Self { pool, lease_secs, presence: Presence::new("relay") }
    }

    /// Deletes up to 10,000 rows created before `cutoff` that every kind of reader still
    /// around has handled (see the module docs); returns how many. Call it again while
    /// it returns 10,000. The outbox is a hand-off, not the event history: the broker (or a
    /// rebuild from the write model) keeps that.
    pub async fn prune(&self, cutoff: commerce_core::Timestamp) -> Result<u64, EventError> {
        let active = |reader: &str| {
            format!(
                "EXISTS (SELECT 1 FROM commerce.outbox_readers WHERE reader = '{reader}' AND seen_at > now() - make_interval(secs => $2))"
            )
        };
        let sql = format!(
            "DELETE FROM commerce.outbox WHERE position IN (
                 SELECT position FROM commerce.outbox
                 WHERE created_at < $1
                   AND (published_at IS NOT NULL OR NOT {relay})
                   AND (projected_at IS NOT NULL OR NOT {poller})
                   AND (notified_at IS NOT NULL OR NOT {notifier})
                 ORDER BY position LIMIT $3)",
            relay = active("relay"),
            poller = active("poller"),
            notifier = active("notifier"),
        );
        sqlx::query(&sql)
            .bind(cutoff.as_datetime())
            .bind(READER_DECOMMISSIONED_AFTER.as_secs_f64())
            .bind(PRUNE_BATCH)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| unavailable(&e))
    }

    /// Rows not yet published.
    pub async fn pending(&self) -> Result<i64, EventError> {
        sqlx::query_scalar("SELECT count(*) FROM commerce.outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable(&e))
    }

    /// The unpublished rows: how many, and how many seconds the oldest has waited (0
    /// when none), for the relay's backlog metrics.
    pub async fn backlog(&self) -> Result<(i64, f64), EventError> {
        let (rows, oldest): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8
             FROM commerce.outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        Ok((rows, oldest.unwrap_or(0.0).max(0.0)))
    }
}

#[async_trait]
impl Outbox for PgOutbox {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        self.presence.record(&self.pool).await?;
        // SKIP LOCKED + a lease: concurrent relays get disjoint batches, and a relay that
        // dies mid-batch only delays its rows by the lease.
        let rows = sqlx::query(
            "UPDATE commerce.outbox SET claimed_until = now() + make_interval(secs => $2)
             WHERE position IN (
                 SELECT position FROM commerce.outbox
                 WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                 ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING position, envelope",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(f64::from(i32::try_from(self.lease_secs).unwrap_or(i32::MAX)))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        let mut records: Vec<OutboxRecord> =
            decode(&rows)?.into_iter().map(|(position, envelope)| OutboxRecord { position, envelope }).collect();
        records.sort_by_key(|r| r.position);
        Ok(records)
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        let positions: Vec<i64> = positions.iter().map(|p| i64::try_from(*p).unwrap_or(i64::MAX)).collect();
        sqlx::query("UPDATE commerce.outbox SET published_at = now() WHERE position = ANY($1) AND published_at IS NULL")
            .bind(&positions)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}

#[async_trait]
impl EventPublisher for PgOutbox {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }
}

/// Feeds a projector straight from the outbox, without a broker. Delivers rows not yet
/// marked `projected_at`, in position order; `ack` marks exactly the rows delivered up
/// to the acknowledged tag. Several pollers may run: they may apply a row twice, which
/// idempotent consumers ignore.
#[derive(Debug)]
pub struct PgOutboxConsumer {
    pool: PgPool,
    delivered: Mutex<Vec<u64>>,
    presence: Presence,
    /// The column this kind of reader marks its rows in (a fixed name, never input).
    column: &'static str,
}

impl PgOutboxConsumer {
    /// The projector's poller on the write database's outbox (marks `projected_at`).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, delivered: Mutex::new(vec![]), presence: Presence::new("poller"), column: "projected_at" }
    }

    /// The notifications service's poller (marks `notified_at`): it reads every row too,
    /// apart from the projector.
    pub fn notifications(pool: PgPool) -> Self {
        Self { pool, delivered: Mutex::new(vec![]), presence: Presence::new("notifier"), column: "notified_at" }
    }
}

#[async_trait]
impl EventConsumer for PgOutboxConsumer {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        self.presence.record(&self.pool).await?;
        let sql = format!(
            "SELECT position, envelope FROM commerce.outbox WHERE {} IS NULL ORDER BY position LIMIT $1",
            self.column
        );
        let rows = sqlx::query(&sql)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        let batch = decode(&rows)?;
        let mut delivered = self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *delivered = batch.iter().map(|(p, _)| *p).collect();
        Ok(batch.into_iter().map(|(tag, envelope)| Delivery { tag, envelope }).collect())
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        let positions: Vec<i64> = {
            let delivered = self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            delivered.iter().filter(|p| **p <= tag).map(|p| i64::try_from(*p).unwrap_or(i64::MAX)).collect()
        };
        let sql = format!(
            "UPDATE commerce.outbox SET {column} = now() WHERE position = ANY($1) AND {column} IS NULL",
            column = self.column
        );
        sqlx::query(&sql).bind(&positions).execute(&self.pool).await.map(|_| ()).map_err(|e| unavailable(&e))
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        let envelope = serde_json::to_value(&delivery.envelope).map_err(|e| EventError::Rejected(e.to_string()))?;
        tracing::warn!(event_id = %delivery.envelope.event_id, reason, "event parked in commerce.dead_letters");
        sqlx::query("INSERT INTO commerce.dead_letters (event_id, envelope, reason, consumer) VALUES ($1, $2, $3, $4)")
            .bind(delivery.envelope.event_id.as_uuid())
            .bind(envelope)
            .bind(reason)
            .bind(self.presence.reader)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
