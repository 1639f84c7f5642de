//! Idempotency keys on PostgreSQL.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    ports::{IdempotencyClaim, IdempotencyStore, StoreError},
};
use sqlx::{PgPool, Row};

use crate::{corrupt, to_datetime, unavailable};

/// Idempotency keys in the `commerce` schema, by key digest. Two concurrent claims of one
/// key serialise on its primary key: exactly one inserts it. Outcomes are stored as JSON.
#[derive(Debug, Clone)]
pub struct PgIdempotencyStore {
    pool: PgPool,
}

impl PgIdempotencyStore {
    /// A store on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Deletes keys created before `cutoff`; returns how many. Run it periodically.
    pub async fn prune(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM commerce.idempotency_keys WHERE created_at < $1")
            .bind(to_datetime(cutoff))
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| unavailable(&e))
    }
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn claim(
        &self,
        key: &KeyDigest,
        fingerprint: &Fingerprint,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        // A new key is one statement on its own (no BEGIN and COMMIT round trips); a known
        // one is read and maybe taken over under a row lock.
        let inserted = sqlx::query(
            "INSERT INTO commerce.idempotency_keys (key, request_hash, locked_at, created_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(fingerprint.as_str())
        .bind(to_datetime(now))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        if inserted.rows_affected() == 1 {
            return Ok(IdempotencyClaim::Acquired { first_claimed_at: now });
        }
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let row = sqlx::query(
            "SELECT request_hash, completed, outcome, locked_at < $2 AS stale, created_at
             FROM commerce.idempotency_keys WHERE key = $1 FOR UPDATE",
        )
        .bind(key.as_str())
        .bind(to_datetime(stale_before))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        let outcome: Option<serde_json::Value> = row.get("outcome");
        let claim = if row.get::<String, _>("request_hash") != fingerprint.as_str() {
            IdempotencyClaim::Mismatch
        } else if row.get::<bool, _>("completed") {
            match outcome {
                Some(json) => IdempotencyClaim::Completed(serde_json::from_value(json).map_err(|e| corrupt(&e))?),
                // Completed before outcomes were stored: never the same request (see migration 1003).
                None => IdempotencyClaim::Mismatch,
            }
        } else if row.get::<bool, _>("stale") {
            sqlx::query("UPDATE commerce.idempotency_keys SET locked_at = $2 WHERE key = $1")
                .bind(key.as_str())
                .bind(to_datetime(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| unavailable(&e))?;
            IdempotencyClaim::Acquired {
                first_claimed_at: Timestamp::from_datetime(row.get::<time::OffsetDateTime, _>("created_at")),
            }
        } else {
            IdempotencyClaim::InProgress
        };
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(claim)
    }

    async fn complete(&self, key: &KeyDigest, outcome: &CommandOutcome) -> Result<(), StoreError> {
        let outcome = serde_json::to_value(outcome).map_err(|e| corrupt(&e))?;
        let updated = sqlx::query("UPDATE commerce.idempotency_keys SET completed = true, outcome = $2 WHERE key = $1")
            .bind(key.as_str())
            .bind(outcome)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn release(&self, key: &KeyDigest) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM commerce.idempotency_keys WHERE key = $1 AND NOT completed")
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
