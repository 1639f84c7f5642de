//! The delivery log of customer messages, in `commerce.notifications`.

use async_trait::async_trait;
use commerce_core::{
    EventId, OrderId, Timestamp,
    notify::{Delivered, DeliveryRecord, NoticeKind},
    ports::{DeliveryLog, StoreError},
};
use sqlx::{PgPool, Row};

use crate::{to_datetime, unavailable};

/// One row per event; the first record of an event wins.
#[derive(Debug, Clone)]
pub struct PgDeliveryLog {
    pool: PgPool,
}

impl PgDeliveryLog {
    /// A log on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn kind(raw: &str) -> Result<NoticeKind, StoreError> {
    NoticeKind::parse(raw).map_err(|e| StoreError::Unavailable(format!("stored notification: {e}")))
}

#[async_trait]
impl DeliveryLog for PgDeliveryLog {
    async fn delivery(&self, event: EventId) -> Result<Option<DeliveryRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT order_id, kind, message_id, outcome, reason, at FROM commerce.notifications WHERE event_id = $1",
        )
        .bind(event.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        let Some(row) = row else { return Ok(None) };
        let outcome = Delivered::from_parts(row.get("outcome"), row.get("reason"));
        Ok(Some(DeliveryRecord {
            event_id: event,
            order_id: OrderId::from_uuid(row.get("order_id")),
            kind: kind(row.get("kind"))?,
            message_id: row.get("message_id"),
            outcome,
            at: Timestamp::from_datetime(row.get("at")),
        }))
    }

    async fn record(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let (outcome, reason) = record.outcome.to_parts();
        sqlx::query(
            "INSERT INTO commerce.notifications (event_id, order_id, kind, message_id, outcome, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(record.event_id.as_uuid())
        .bind(record.order_id.as_uuid())
        .bind(record.kind.as_str())
        .bind(&record.message_id)
        .bind(outcome)
        .bind(reason)
        .bind(to_datetime(record.at))
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| unavailable(&e))
    }
}
