//! Parked events in `commerce.dead_letters`, next to the outbox a replay goes back to.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    deadletter::{DeadLetter, DeadLetterId, OUTBOX_SOURCE, ParkedContent, ParkedEvent},
    events::EventEnvelope,
    ports::{DeadLetterStore, StoreError},
};
use sqlx::{PgPool, Row as _, postgres::PgRow};

use crate::{to_datetime, unavailable, version_i64};

fn broken(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored dead letter does not decode: {what}"))
}

/// The dead letters of a PostgreSQL deployment (the write database).
#[derive(Debug, Clone)]
pub struct PgDeadLetters {
    pool: PgPool,
}

impl PgDeadLetters {
    /// The letters in the write database behind `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

const COLUMNS: &str = "id, source, consumer, reason, created_at, envelope, payload";

fn letter(row: &PgRow) -> Result<DeadLetter, StoreError> {
    let id: i64 = row.get("id");
    let envelope: Option<serde_json::Value> = row.get("envelope");
    let content = match (envelope, row.get::<Option<String>, _>("payload")) {
        (Some(json), _) => {
            ParkedContent::Event(Box::new(serde_json::from_value(json).map_err(|e| broken(&format!("{id}: {e}")))?))
        }
        (None, Some(text)) => ParkedContent::Undecodable(text),
        (None, None) => return Err(broken(&format!("{id} holds nothing"))),
    };
    let parked_at: time::OffsetDateTime = row.get("created_at");
    Ok(DeadLetter {
        id: DeadLetterId::new(u64::try_from(id).map_err(|_| broken("a negative id"))?),
        parked: ParkedEvent {
            source: row.get("source"),
            consumer: row.get("consumer"),
            reason: row.get("reason"),
            parked_at: Timestamp::from_datetime(parked_at),
            content,
        },
    })
}

fn id_i64(id: DeadLetterId) -> i64 {
    version_i64(id.get())
}

#[async_trait]
impl DeadLetterStore for PgDeadLetters {
    async fn park(&self, event: &ParkedEvent) -> Result<bool, StoreError> {
        let (envelope, payload) = match &event.content {
            ParkedContent::Event(e) => {
                (Some(serde_json::to_value(e).map_err(|err| StoreError::Unavailable(err.to_string()))?), None)
            }
            ParkedContent::Undecodable(text) => (None, Some(text.as_str())),
        };
        // A broker message is parked once (the unique index covers every source but the outbox's).
        let conflict =
            if event.source == OUTBOX_SOURCE { "" } else { "ON CONFLICT (source) WHERE source <> 'outbox' DO NOTHING" };
        let sql = format!(
            "INSERT INTO commerce.dead_letters (event_id, envelope, payload, reason, source, consumer, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) {conflict}"
        );
        let done = sqlx::query(&sql)
            .bind(event.event().map(|e| e.event_id.as_uuid()))
            .bind(envelope)
            .bind(payload)
            .bind(&event.reason)
            .bind(&event.source)
            .bind(&event.consumer)
            .bind(to_datetime(event.parked_at))
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn dead_letters(&self, after: Option<DeadLetterId>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM commerce.dead_letters WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after.map_or(0, id_i64))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        rows.iter().map(letter).collect()
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM commerce.dead_letters WHERE id = $1");
        let row = sqlx::query(&sql).bind(id_i64(id)).fetch_optional(&self.pool).await.map_err(|e| unavailable(&e))?;
        row.as_ref().map(letter).transpose()
    }

    async fn requeue(&self, id: DeadLetterId, event: &EventEnvelope) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let gone = sqlx::query("DELETE FROM commerce.dead_letters WHERE id = $1")
            .bind(id_i64(id))
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // Still in the outbox: every reader reads it again. Pruned: it comes back as a
        // new record under the same event id.
        let envelope = serde_json::to_value(event).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        sqlx::query(
            "INSERT INTO commerce.outbox (event_id, aggregate_type, aggregate_id, aggregate_version, envelope)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (event_id) DO UPDATE
             SET published_at = NULL, projected_at = NULL, notified_at = NULL, claimed_until = NULL",
        )
        .bind(event.event_id.as_uuid())
        .bind(event.aggregate_type.as_str())
        .bind(event.aggregate_id)
        .bind(version_i64(event.aggregate_version))
        .bind(envelope)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn discard(&self, id: DeadLetterId) -> Result<(), StoreError> {
        let gone = sqlx::query("DELETE FROM commerce.dead_letters WHERE id = $1")
            .bind(id_i64(id))
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        if gone.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM commerce.dead_letters")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
