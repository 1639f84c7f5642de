//! Idempotency keys on SQLite.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    ports::{IdempotencyClaim, IdempotencyStore, StoreError},
};
use sqlx::Row;

use crate::{SqliteDb, decode, json, unavailable};

/// Idempotency keys, by key digest; outcomes stored as JSON. A claim reads and writes the
/// key in one transaction on the single writer, so two claims of one key never both win.
#[derive(Debug, Clone)]
pub struct SqliteIdempotencyStore {
    db: SqliteDb,
}

impl SqliteIdempotencyStore {
    /// The store on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    /// Deletes keys created before `cutoff`; returns how many. Run it periodically.
    pub async fn prune(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE created_us < ?")
            .bind(cutoff.unix_micros())
            .execute(self.db.writer())
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| unavailable(&e))
    }
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(
        &self,
        key: &KeyDigest,
        fingerprint: &Fingerprint,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key, fingerprint, locked_us, created_us) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(fingerprint.as_str())
        .bind(now.unix_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if inserted.rows_affected() == 1 {
            tx.commit().await.map_err(|e| unavailable(&e))?;
            return Ok(IdempotencyClaim::Acquired { first_claimed_at: now });
        }
        let row = sqlx::query(
            "SELECT fingerprint, completed, outcome, locked_us < ?2 AS stale, created_us FROM idempotency_keys WHERE key = ?1",
        )
        .bind(key.as_str())
        .bind(stale_before.unix_micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        let outcome: Option<String> = row.get("outcome");
        let claim = if row.get::<String, _>("fingerprint") != fingerprint.as_str() {
            IdempotencyClaim::Mismatch
        } else if row.get::<bool, _>("completed") {
            match outcome {
                Some(json) => IdempotencyClaim::Completed(decode(&json)?),
                None => IdempotencyClaim::Mismatch,
            }
        } else if row.get::<bool, _>("stale") {
            sqlx::query("UPDATE idempotency_keys SET locked_us = ? WHERE key = ?")
                .bind(now.unix_micros())
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| unavailable(&e))?;
            IdempotencyClaim::Acquired { first_claimed_at: Timestamp::from_unix_micros(row.get("created_us")) }
        } else {
            IdempotencyClaim::InProgress
        };
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(claim)
    }

    async fn complete(&self, key: &KeyDigest, outcome: &CommandOutcome) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE idempotency_keys SET completed = 1, outcome = ? WHERE key = ?")
            .bind(json(outcome)?)
            .bind(key.as_str())
            .execute(self.db.writer())
            .await
            .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn release(&self, key: &KeyDigest) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = ? AND NOT completed")
            .bind(key.as_str())
            .execute(self.db.writer())
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
