//! The outbox table as a relay source ([`SqliteOutbox`]) and as the event source of the
//! in-process projector ([`SqliteOutboxConsumer`], the "outbox poller").
//!
//! Each reader marks exactly the rows it handled (`published_us` for a relay, `projected`
//! for the poller) and always reads the unmarked ones; positions are never used as an
//! offset. Retention ([`SqliteOutbox::prune`]): a row is deleted once the poller projected
//! it and, if a relay read the outbox in the last 7 days, the relay published it.

use std::sync::Mutex;

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    events::EventEnvelope,
    ports::{Delivery, EventConsumer, EventError, EventPublisher, Outbox, OutboxRecord},
};
use rusqlite::params;

use crate::{Abort, OutboxRows, SqliteDb, int, now_us, uint};

fn unavailable(e: &sqlx::Error) -> EventError {
    EventError::Unavailable(e.to_string())
}

fn decode(rows: Vec<(i64, String)>) -> Result<Vec<(u64, EventEnvelope)>, EventError> {
    rows.into_iter()
        .map(|(position, envelope)| {
            let position = uint(position);
            serde_json::from_str(&envelope)
                .map(|e| (position, e))
                .map_err(|e| EventError::Rejected(format!("outbox row {position} does not decode: {e}")))
        })
        .collect()
}

/// What a reader of the outbox marks on the rows it handled.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// A relay published them (at this time, in microseconds); marking twice keeps the first.
    Published { at_us: i64 },
    /// The poller projected them.
    Projected,
    /// The notifier handled them.
    Notified,
}

/// Marks the rows at `positions`, in one change.
async fn mark(db: &SqliteDb, what: Mark, positions: &[u64]) -> Result<(), EventError> {
    if positions.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = positions.iter().map(|p| int(*p)).collect();
    db.write(move |tx| {
        match what {
            Mark::Published { at_us } => {
                let mut mark = tx.prepare_cached(
                    "UPDATE outbox SET published_us = coalesce(published_us, ?2) WHERE position = ?1",
                )?;
                for p in positions {
                    mark.execute([p, at_us])?;
                }
            }
            Mark::Projected | Mark::Notified => {
                let sql = if matches!(what, Mark::Projected) {
                    "UPDATE outbox SET projected = 1 WHERE position = ?"
                } else {
                    "UPDATE outbox SET notified = 1 WHERE position = ?"
                };
                let mut mark = tx.prepare_cached(sql)?;
                for p in positions {
                    mark.execute([p])?;
                }
            }
        }
        Ok::<_, Abort<EventError>>(())
    })
    .await
}

/// A relay that stays silent this long no longer holds rows back from [`SqliteOutbox::prune`].
const RELAY_GONE_AFTER_US: i64 = 7 * 24 * 3600 * 1_000_000;

/// The outbox read by relays (and written by [`EventPublisher::publish`] for callers
/// outside a store transaction).
#[derive(Debug, Clone)]
pub struct SqliteOutbox {
    db: SqliteDb,
    lease_us: i64,
}

impl SqliteOutbox {
    /// The outbox of `db`; a claimed batch not marked within `lease_secs` is claimable again.
    pub fn new(db: SqliteDb, lease_secs: i64) -> Self {
        Self { db, lease_us: lease_secs.saturating_mul(1_000_000) }
    }

    /// Deletes up to 10,000 handled rows created before `cutoff` (see the module docs);
    /// returns how many. Call it again while it returns 10,000.
    pub async fn prune(&self, cutoff: Timestamp) -> Result<u64, EventError> {
        let (cutoff, relay_seen_after) = (cutoff.unix_micros(), now_us() - RELAY_GONE_AFTER_US);
        self.db
            .write(move |tx| {
                let deleted = tx
                    .prepare_cached(
                        "DELETE FROM outbox WHERE position IN (
                             SELECT position FROM outbox
                             WHERE created_us < ?1 AND projected AND notified
                               AND (published_us IS NOT NULL
                                    OR NOT EXISTS (SELECT 1 FROM outbox_readers WHERE reader = 'relay' AND seen_us > ?2))
                             ORDER BY position LIMIT 10000)",
                    )?
                    .execute(params![cutoff, relay_seen_after])?;
                Ok::<_, Abort<EventError>>(u64::try_from(deleted).unwrap_or(u64::MAX))
            })
            .await
    }

    /// Rows the poller has not projected yet.
    pub async fn unprojected(&self) -> Result<i64, EventError> {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE NOT projected")
            .fetch_one(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))
    }
}

#[async_trait]
impl Outbox for SqliteOutbox {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        let (now, lease_us, limit) = (now_us(), self.lease_us, i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self
            .db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO outbox_readers (reader, seen_us) VALUES ('relay', ?1)
                     ON CONFLICT (reader) DO UPDATE SET seen_us = ?1",
                )?
                .execute([now])?;
                // One writer: the batch is claimed atomically; a relay that dies mid-batch
                // only delays its rows by the lease.
                let rows = tx
                    .prepare_cached(
                        "UPDATE outbox SET claimed_until_us = ?1 + ?2
                         WHERE position IN (SELECT position FROM outbox
                                            WHERE published_us IS NULL
                                              AND (claimed_until_us IS NULL OR claimed_until_us < ?1)
                                            ORDER BY position LIMIT ?3)
                         RETURNING position, envelope",
                    )?
                    .query_map(params![now, lease_us, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(i64, String)>>>()?;
                Ok::<_, Abort<EventError>>(rows)
            })
            .await?;
        let mut records: Vec<OutboxRecord> =
            decode(rows)?.into_iter().map(|(position, envelope)| OutboxRecord { position, envelope }).collect();
        records.sort_by_key(|r| r.position);
        Ok(records)
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        mark(&self.db, Mark::Published { at_us: now_us() }, positions).await
    }
}

#[async_trait]
impl EventPublisher for SqliteOutbox {
    async fn publish(&self, events: &[EventEnvelope]) -> Result<(), EventError> {
        let rows = OutboxRows::encode(events).map_err(|e| EventError::Rejected(e.to_string()))?;
        self.db.write(move |tx| Ok::<_, Abort<EventError>>(rows.append(tx)?)).await
    }
}

/// Feeds a projector straight from the outbox. Delivers rows not yet marked `projected`,
/// in position order; `ack` marks exactly the rows delivered up to the acknowledged tag.
#[derive(Debug)]
pub struct SqliteOutboxConsumer {
    db: SqliteDb,
    delivered: Mutex<Vec<u64>>,
    /// Which mark this reader sets: `projected` (the projector) or `notified` (the notifier).
    notifier: bool,
}

impl SqliteOutboxConsumer {
    /// The projector's poller on the outbox of `db` (marks `projected`).
    pub fn new(db: SqliteDb) -> Self {
        Self { db, delivered: Mutex::new(vec![]), notifier: false }
    }

    /// The notifier's poller (marks `notified`): it reads every row too, apart from the
    /// projector. The embedded shop always runs both, and a row is pruned once both read it.
    pub fn notifications(db: SqliteDb) -> Self {
        Self { db, delivered: Mutex::new(vec![]), notifier: true }
    }
}

#[async_trait]
impl EventConsumer for SqliteOutboxConsumer {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        let sql = if self.notifier {
            "SELECT position, envelope FROM outbox WHERE NOT notified ORDER BY position LIMIT ?"
        } else {
            "SELECT position, envelope FROM outbox WHERE NOT projected ORDER BY position LIMIT ?"
        };
        let rows: Vec<(i64, String)> = sqlx::query_as(sql)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_all(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        let batch = decode(rows)?;
        let mut delivered = self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *delivered = batch.iter().map(|(p, _)| *p).collect();
        Ok(batch.into_iter().map(|(tag, envelope)| Delivery { tag, envelope }).collect())
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        let positions: Vec<u64> = {
            let delivered = self.delivered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            delivered.iter().copied().filter(|p| *p <= tag).collect()
        };
        mark(&self.db, if self.notifier { Mark::Notified } else { Mark::Projected }, &positions).await
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        let envelope = serde_json::to_string(&delivery.envelope).map_err(|e| EventError::Rejected(e.to_string()))?;
        tracing::warn!(event_id = %delivery.envelope.event_id, reason, "event parked in dead_letters");
        let (event_id, reason, created) = (delivery.envelope.event_id.as_uuid(), reason.to_owned(), now_us());
        let consumer = if self.notifier { "notifier" } else { "poller" };
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO dead_letters (event_id, envelope, reason, consumer, created_us) VALUES (?, ?, ?, ?, ?)",
                )?
                .execute(params![event_id, envelope, reason, consumer, created])?;
                Ok::<_, Abort<EventError>>(())
            })
            .await
    }
}
