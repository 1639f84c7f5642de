//! Idempotency keys on SQLite.

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    ports::{IdempotencyClaim, IdempotencyStore, StoreError},
};
use rusqlite::params;

use crate::{Abort, SqliteDb, decode, json};

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
        let cutoff = cutoff.unix_micros();
        self.db
            .write(move |tx| {
                let deleted =
                    tx.prepare_cached("DELETE FROM idempotency_keys WHERE created_us < ?")?.execute([cutoff])?;
                Ok::<_, Abort<StoreError>>(u64::try_from(deleted).unwrap_or(u64::MAX))
            })
            .await
    }
}

/// A key as the writer found it; the outcome is decoded after the transaction.
enum Stored {
    Claimed { first_claimed_at: i64 },
    Completed(String),
    Mismatch,
    InProgress,
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
        let (key, fingerprint) = (key.as_str().to_owned(), fingerprint.as_str().to_owned());
        let (now, stale_before) = (now.unix_micros(), stale_before.unix_micros());
        let stored = self
            .db
            .write(move |tx| {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO idempotency_keys (key, fingerprint, locked_us, created_us) VALUES (?1, ?2, ?3, ?3)
                         ON CONFLICT (key) DO NOTHING",
                    )?
                    .execute(params![key, fingerprint, now])?;
                if inserted == 1 {
                    return Ok(Stored::Claimed { first_claimed_at: now });
                }
                let (stored_fingerprint, completed, outcome, stale, created_us): (
                    String,
                    bool,
                    Option<String>,
                    bool,
                    i64,
                ) = tx
                    .prepare_cached(
                        "SELECT fingerprint, completed, outcome, locked_us < ?2, created_us
                         FROM idempotency_keys WHERE key = ?1",
                    )?
                    .query_row(params![key, stale_before], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?;
                Ok::<_, Abort<StoreError>>(if stored_fingerprint != fingerprint {
                    Stored::Mismatch
                } else if completed {
                    outcome.map_or(Stored::Mismatch, Stored::Completed)
                } else if stale {
                    tx.prepare_cached("UPDATE idempotency_keys SET locked_us = ? WHERE key = ?")?
                        .execute(params![now, key])?;
                    Stored::Claimed { first_claimed_at: created_us }
                } else {
                    Stored::InProgress
                })
            })
            .await?;
        Ok(match stored {
            Stored::Claimed { first_claimed_at } => {
                IdempotencyClaim::Acquired { first_claimed_at: Timestamp::from_unix_micros(first_claimed_at) }
            }
            Stored::Completed(outcome) => IdempotencyClaim::Completed(decode(&outcome)?),
            Stored::Mismatch => IdempotencyClaim::Mismatch,
            Stored::InProgress => IdempotencyClaim::InProgress,
        })
    }

    async fn complete(&self, key: &KeyDigest, outcome: &CommandOutcome) -> Result<(), StoreError> {
        let (key, outcome) = (key.as_str().to_owned(), json(outcome)?);
        self.db
            .write(move |tx| {
                let updated = tx
                    .prepare_cached("UPDATE idempotency_keys SET completed = 1, outcome = ? WHERE key = ?")?
                    .execute(params![outcome, key])?;
                if updated == 0 { Err(Abort::Refused(StoreError::NotFound)) } else { Ok(()) }
            })
            .await
    }

    async fn release(&self, key: &KeyDigest) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.db
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM idempotency_keys WHERE key = ? AND NOT completed")?.execute([key])?;
                Ok::<_, Abort<StoreError>>(())
            })
            .await
    }
}
