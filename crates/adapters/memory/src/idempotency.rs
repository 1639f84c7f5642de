//! The in-memory idempotency store.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    ports::{IdempotencyClaim, IdempotencyStore, StoreError, StoredResponse},
};

use crate::lock;

#[derive(Debug)]
enum State {
    InProgress { since: Timestamp },
    Completed(StoredResponse),
}

#[derive(Debug)]
struct Entry {
    request_hash: String,
    state: State,
    created_at: Timestamp,
}

/// Idempotency keys in memory. Keys older than the retention period are pruned
/// once the map grows past a threshold, so a long-running process stays bounded.
#[derive(Debug)]
pub struct MemoryIdempotencyStore {
    entries: Mutex<HashMap<String, Entry>>,
    retention_secs: i64,
    prune_above: usize,
}

impl Default for MemoryIdempotencyStore {
    fn default() -> Self {
        Self::new(24 * 3600, 100_000)
    }
}

impl MemoryIdempotencyStore {
    /// A store keeping keys for `retention_secs`, pruning when it holds more than `prune_above`.
    pub fn new(retention_secs: i64, prune_above: usize) -> Self {
        Self { entries: Mutex::default(), retention_secs, prune_above }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut entries = lock(&self.entries);
        if entries.len() > self.prune_above {
            let cutoff = now.plus_seconds(-self.retention_secs);
            entries.retain(|_, e| e.created_at > cutoff);
        }
        if let Some(e) = entries.get_mut(key) {
            if e.request_hash != request_hash {
                return Ok(IdempotencyClaim::Mismatch);
            }
            return Ok(match &e.state {
                State::Completed(r) => IdempotencyClaim::Completed(r.clone()),
                State::InProgress { since } if *since < stale_before => {
                    e.state = State::InProgress { since: now };
                    IdempotencyClaim::Acquired { first_claimed_at: e.created_at }
                }
                State::InProgress { .. } => IdempotencyClaim::InProgress,
            });
        }
        let entry =
            Entry { request_hash: request_hash.to_owned(), state: State::InProgress { since: now }, created_at: now };
        entries.insert(key.to_owned(), entry);
        Ok(IdempotencyClaim::Acquired { first_claimed_at: now })
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        let e = entries.get_mut(key).ok_or(StoreError::NotFound)?;
        e.state = State::Completed(response.clone());
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        if entries.get(key).is_some_and(|e| matches!(e.state, State::InProgress { .. })) {
            entries.remove(key);
        }
        Ok(())
    }
}
