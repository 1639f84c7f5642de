//! The stock outbox: a Redis stream the inventory scripts append to, read through a
//! consumer group so several relays (one per inventory-service replica) share it.
//!
//! `claim` first takes over entries another relay claimed and did not mark within
//! the lease (it crashed, or its broker was down), then reads new ones. `mark_published`
//! acknowledges and deletes entries, so the stream holds only what is unpublished.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use commerce_core::{
    EventId, ProductId, Timestamp,
    events::EventEnvelope,
    inventory::StockLevel,
    ports::{EventError, Outbox, OutboxRecord},
};
use redis::{Value, aio::ConnectionManager};
use uuid::Uuid;

use crate::RedisInventoryStore;

const GROUP: &str = "relay";

/// The outbox of a [`RedisInventoryStore`] that records events.
#[derive(Clone)]
pub struct RedisStockOutbox {
    conn: ConnectionManager,
    key: String,
    consumer: String,
    lease_ms: u64,
    /// The consumer group exists (created once; again if Redis lost it).
    group_ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisStockOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStockOutbox")
            .field("key", &self.key)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: &redis::RedisError) -> EventError {
    EventError::Unavailable(e.to_string())
}

fn malformed(what: &str) -> EventError {
    EventError::Unavailable(format!("unexpected outbox entry: {what}"))
}

impl RedisStockOutbox {
    /// The outbox of `store` (which must be [`RedisInventoryStore::recording_events`]).
    /// Entries claimed by a relay that has not marked them within `lease` are claimed
    /// again by the next relay to ask.
    pub fn new(store: &RedisInventoryStore, lease: Duration) -> Self {
        Self {
            conn: store.conn.clone(),
            key: format!("{}:outbox", store.prefix),
            consumer: Uuid::new_v4().simple().to_string(),
            lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
            group_ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Entries not yet published (claimed or not).
    pub async fn pending(&self) -> Result<u64, EventError> {
        let mut conn = self.conn.clone();
        redis::cmd("XLEN").arg(&self.key).query_async(&mut conn).await.map_err(|e| unavailable(&e))
    }

    async fn ensure_group(&self, conn: &mut ConnectionManager) -> Result<(), EventError> {
        if self.group_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(unavailable(&e)),
            _ => {
                self.group_ready.store(true, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// A failed group command. A group Redis lost (a restart without persistence) is
    /// created again on the next claim.
    fn failed(&self, e: &redis::RedisError) -> EventError {
        if e.code() == Some("NOGROUP") {
            self.group_ready.store(false, Ordering::Relaxed);
        }
        unavailable(e)
    }
}

/// `0-<n>` -> n.
fn position(id: &str) -> Result<u64, EventError> {
    id.strip_prefix("0-").and_then(|n| n.parse().ok()).ok_or_else(|| malformed("id"))
}

fn text(v: &Value) -> Result<String, EventError> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).map_err(|_| malformed("not UTF-8")),
        Value::SimpleString(s) => Ok(s.clone()),
        other => Err(malformed(&format!("expected a string, got {other:?}"))),
    }
}

/// `[[id, [field, value, ...]], ...]` -> records.
fn records(entries: &Value) -> Result<Vec<OutboxRecord>, EventError> {
    let Value::Array(entries) = entries else { return Ok(vec![]) };
    entries
        .iter()
        .map(|entry| {
            let [id, Value::Array(fields)] = entry.as_sequence().unwrap_or_default() else {
                return Err(malformed("entry shape"));
            };
            let mut level = (None, None, None, None, None);
            for pair in fields.chunks(2) {
                let [name, value] = pair else { return Err(malformed("odd field list")) };
                let value = text(value)?;
                let int = || value.parse::<u64>().map_err(|_| malformed("integer field"));
                match text(name)?.as_str() {
                    "product_id" => level.0 = Some(value.parse::<ProductId>().map_err(|_| malformed("product id"))?),
                    "on_hand" => level.1 = Some(int()?),
                    "reserved" => level.2 = Some(int()?),
                    "version" => level.3 = Some(int()?),
                    "at" => level.4 = Some(value.parse::<i64>().map_err(|_| malformed("time"))?),
                    _ => {}
                }
            }
            let (Some(product_id), Some(on_hand), Some(reserved), Some(version), Some(at)) = level else {
                return Err(malformed("missing field"));
            };
            let level = StockLevel { product_id, on_hand, reserved, version };
            // One id per stock version: a republished entry carries the same event id.
            let event_id = EventId::from_uuid(Uuid::new_v5(&product_id.as_uuid(), &version.to_be_bytes()));
            Ok(OutboxRecord {
                position: position(&text(id)?)?,
                envelope: EventEnvelope::stock_changed(event_id, Timestamp::from_unix_micros(at), level),
            })
        })
        .collect()
}

#[async_trait]
impl Outbox for RedisStockOutbox {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        let mut conn = self.conn.clone();
        self.ensure_group(&mut conn).await?;
        // Reply: [next cursor, entries, deleted ids].
        let stale: Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.key)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(self.lease_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        let mut claimed = match stale.as_sequence().and_then(|reply| reply.get(1)) {
            Some(entries) => records(entries)?,
            None => vec![],
        };
        if claimed.len() < limit {
            // Reply: nil, or [[key, entries]].
            let fresh: Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(limit - claimed.len())
                .arg("STREAMS")
                .arg(&self.key)
                .arg(">")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.failed(&e))?;
            if let Some(entries) = fresh
                .as_sequence()
                .and_then(|streams| streams.first())
                .and_then(Value::as_sequence)
                .and_then(|s| s.get(1))
            {
                claimed.extend(records(entries)?);
            }
        }
        Ok(claimed)
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        if positions.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = positions.iter().map(|p| format!("0-{p}")).collect();
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("XACK")
            .arg(&self.key)
            .arg(GROUP)
            .arg(&ids)
            .ignore()
            .cmd("XDEL")
            .arg(&self.key)
            .arg(&ids)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))
    }
}
