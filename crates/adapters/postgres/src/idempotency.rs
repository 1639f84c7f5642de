//! Idempotency keys on PostgreSQL.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    ports::{IdempotencyClaim, IdempotencyStore, StoreError, StoredResponse},
};
use sqlx::{PgPool, Row};

use crate::{to_datetime, unavailable};

/// Idempotency keys in the `commerce` schema. Two concurrent claims of one key
/// serialise on its primary key: exactly one inserts it.
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
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let inserted = sqlx::query(
            "INSERT INTO commerce.idempotency_keys (key, request_hash, locked_at, created_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(request_hash)
        .bind(to_datetime(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if inserted.rows_affected() == 1 {
            tx.commit().await.map_err(|e| unavailable(&e))?;
            return Ok(IdempotencyClaim::Acquired { first_claimed_at: now });
        }
        let row = sqlx::query(
            "SELECT request_hash, completed, response_status, response_body, locked_at < $2 AS stale, created_at
             FROM commerce.idempotency_keys WHERE key = $1 FOR UPDATE",
        )
        .bind(key)
        .bind(to_datetime(stale_before))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        let claim = if row.get::<String, _>("request_hash") != request_hash {
            IdempotencyClaim::Mismatch
        } else if row.get::<bool, _>("completed") {
            let status = row.get::<Option<i32>, _>("response_status").unwrap_or(500);
            IdempotencyClaim::Completed(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body: row.get::<Option<Vec<u8>>, _>("response_body").unwrap_or_default(),
            })
        } else if row.get::<bool, _>("stale") {
            sqlx::query("UPDATE commerce.idempotency_keys SET locked_at = $2 WHERE key = $1")
                .bind(key)
                .bind(to_datetime(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| unavailable(&e))?;
            IdempotencyClaim::Acquired {
                first_claimed_at: commerce_core::Timestamp::from_datetime(
                    row.get::<time::OffsetDateTime, _>("created_at"),
                ),
            }
        } else {
            IdempotencyClaim::InProgress
        };
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(claim)
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE commerce.idempotency_keys SET completed = true, response_status = $2, response_body = $3 WHERE key = $1",
        )
        .bind(key)
        .bind(i32::from(response.status))
        .bind(&response.body)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM commerce.idempotency_keys WHERE key = $1 AND NOT completed")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
