//! The delivery log of customer messages, in the `notifications` table.

use async_trait::async_trait;
use commerce_core::{
    EventId, OrderId, Timestamp,
    notify::{Delivered, DeliveryRecord, NoticeKind},
    ports::{DeliveryLog, StoreError},
};
use rusqlite::params;

use crate::{Abort, SqliteDb, unavailable};

/// One row per event; the first record of an event wins.
#[derive(Debug, Clone)]
pub struct SqliteDeliveryLog {
    db: SqliteDb,
}

impl SqliteDeliveryLog {
    /// The log on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl DeliveryLog for SqliteDeliveryLog {
    async fn delivery(&self, event: EventId) -> Result<Option<DeliveryRecord>, StoreError> {
        type Row = (uuid::Uuid, String, String, String, Option<String>, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT order_id, kind, message_id, outcome, reason, at_us FROM notifications WHERE event_id = ?",
        )
        .bind(event.as_uuid())
        .fetch_optional(self.db.reader())
        .await
        .map_err(|e| unavailable(&e))?;
        let Some((order_id, kind, message_id, outcome, reason, at_us)) = row else { return Ok(None) };
        let kind =
            NoticeKind::parse(&kind).map_err(|e| StoreError::Unavailable(format!("stored notification: {e}")))?;
        let outcome = Delivered::from_parts(&outcome, reason);
        Ok(Some(DeliveryRecord {
            event_id: event,
            order_id: OrderId::from_uuid(order_id),
            kind,
            message_id,
            outcome,
            at: Timestamp::from_unix_micros(at_us),
        }))
    }

    async fn record(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let (outcome, reason) = record.outcome.to_parts();
        let reason = reason.map(str::to_owned);
        let (event, order, kind, message_id, at) = (
            record.event_id.as_uuid(),
            record.order_id.as_uuid(),
            record.kind.as_str(),
            record.message_id.clone(),
            record.at.unix_micros(),
        );
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO notifications (event_id, order_id, kind, message_id, outcome, reason, at_us)
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                )?
                .execute(params![event, order, kind, message_id, outcome, reason, at])?;
                Ok::<_, Abort<StoreError>>(())
            })
            .await
    }
}
