//! Parked events in the `dead_letters` table, next to the outbox a replay goes back to.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    deadletter::{DeadLetter, DeadLetterId, OUTBOX_SOURCE, ParkedContent, ParkedEvent},
    events::EventEnvelope,
    ports::{DeadLetterStore, StoreError},
};
use rusqlite::params;

use crate::{Abort, OutboxRows, SqliteDb, corrupt, int, json, uint, unavailable};

/// The dead letters of the embedded shop.
#[derive(Debug, Clone)]
pub struct SqliteDeadLetters {
    db: SqliteDb,
}

impl SqliteDeadLetters {
    /// The letters in `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

type Row = (i64, String, Option<String>, String, i64, Option<String>, Option<String>);

const SELECT: &str = "SELECT id, source, consumer, reason, created_us, envelope, payload FROM dead_letters";

fn letter((id, source, consumer, reason, created_us, envelope, payload): Row) -> Result<DeadLetter, StoreError> {
    let content = match (envelope, payload) {
        (Some(json), _) => ParkedContent::Event(Box::new(serde_json::from_str(&json).map_err(|e| corrupt(&e))?)),
        (None, Some(text)) => ParkedContent::Undecodable(text),
        (None, None) => return Err(StoreError::Unavailable(format!("dead letter {id} holds nothing"))),
    };
    Ok(DeadLetter {
        id: DeadLetterId::new(uint(id)),
        parked: ParkedEvent { source, consumer, reason, parked_at: Timestamp::from_unix_micros(created_us), content },
    })
}

fn found(changed: usize) -> Result<(), Abort<StoreError>> {
    if changed == 0 { Err(Abort::Refused(StoreError::NotFound)) } else { Ok(()) }
}

#[async_trait]
impl DeadLetterStore for SqliteDeadLetters {
    async fn park(&self, event: &ParkedEvent) -> Result<bool, StoreError> {
        let (envelope, payload) = match &event.content {
            ParkedContent::Event(e) => (Some(json(e)?), None),
            ParkedContent::Undecodable(text) => (None, Some(text.clone())),
        };
        let event_id = event.event().map(|e| e.event_id.as_uuid());
        let (reason, source, consumer) = (event.reason.clone(), event.source.clone(), event.consumer.clone());
        let created = event.parked_at.unix_micros();
        // A broker message is parked once (the unique index covers every source but the outbox's).
        let sql = if source == OUTBOX_SOURCE {
            "INSERT INTO dead_letters (event_id, envelope, payload, reason, source, consumer, created_us)
             VALUES (?, ?, ?, ?, ?, ?, ?)"
        } else {
            "INSERT INTO dead_letters (event_id, envelope, payload, reason, source, consumer, created_us)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source) WHERE source <> 'outbox' DO NOTHING"
        };
        self.db
            .write(move |tx| {
                let added = tx
                    .prepare_cached(sql)?
                    .execute(params![event_id, envelope, payload, reason, source, consumer, created])?;
                Ok::<_, Abort<StoreError>>(added == 1)
            })
            .await
    }

    async fn dead_letters(&self, after: Option<DeadLetterId>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE id > ? ORDER BY id LIMIT ?"))
            .bind(after.map_or(0, |a| int(a.get())))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        rows.into_iter().map(letter).collect()
    }

    async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(int(id.get()))
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        row.map(letter).transpose()
    }

    async fn requeue(&self, id: DeadLetterId, event: &EventEnvelope) -> Result<(), StoreError> {
        let rows = OutboxRows::encode(std::slice::from_ref(event)).map_err(|e| corrupt(&e))?;
        let (id, event_id) = (int(id.get()), event.event_id.as_uuid());
        self.db
            .write(move |tx| {
                found(tx.prepare_cached("DELETE FROM dead_letters WHERE id = ?")?.execute([id])?)?;
                // Still in the outbox: every reader reads it again. Pruned: it comes back as
                // a new record under the same event id.
                let again = tx
                    .prepare_cached(
                        "UPDATE outbox SET published_us = NULL, projected = 0, notified = 0, claimed_until_us = NULL
                         WHERE event_id = ?",
                    )?
                    .execute([event_id])?;
                if again == 0 {
                    rows.append(tx)?;
                }
                Ok(())
            })
            .await
    }

    async fn discard(&self, id: DeadLetterId) -> Result<(), StoreError> {
        let id = int(id.get());
        self.db.write(move |tx| found(tx.prepare_cached("DELETE FROM dead_letters WHERE id = ?")?.execute([id])?)).await
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
            .fetch_one(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(uint(n))
    }
}
