//! The in-memory idempotency store.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Mutex,
};

use async_trait::async_trait;
use commerce_core::{
    Timestamp,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    ports::{IdempotencyClaim, IdempotencyStore, StoreError},
};

use crate::lock;

#[derive(Debug)]
enum State {
    InProgress { since: Timestamp },
    Completed(CommandOutcome),
}

#[derive(Debug)]
struct Entry {
    fingerprint: Fingerprint,
    state: State,
    created_at: Timestamp,
}

#[derive(Debug, Default)]
struct Keys {
    entries: HashMap<KeyDigest, Entry>,
    /// Every key by first claim time, oldest first: expiry and eviction start at the
    /// front instead of scanning every key.
    by_age: BTreeSet<(Timestamp, KeyDigest)>,
}

impl Keys {
    fn remove(&mut self, key: &KeyDigest) {
        if let Some(e) = self.entries.remove(key) {
            self.by_age.remove(&(e.created_at, key.clone()));
        }
    }

    /// Drops keys first claimed at or before `cutoff`: O(log n) per dropped key.
    fn expire(&mut self, cutoff: Timestamp) {
        while let Some((at, key)) = self.by_age.first().cloned() {
            if at > cutoff {
                break;
            }
            self.remove(&key);
        }
    }

    /// Makes room for one key by dropping the oldest completed one. In-progress claims are
    /// never dropped (an order may depend on them); they are few: one per running request
    /// or crashed attempt.
    fn evict_oldest_completed(&mut self) -> bool {
        let victim = self
            .by_age
            .iter()
            .find(|(_, key)| self.entries.get(key).is_some_and(|e| matches!(e.state, State::Completed(_))))
            .map(|(_, key)| key.clone());
        victim.is_some_and(|key| {
            self.remove(&key);
            true
        })
    }
}

/// Idempotency keys in memory, bounded in time and size: a key is kept for the retention
/// period after its first claim, and at most `capacity` keys are held; when full, the
/// oldest completed key makes room (a retry of it after that would run again, so size the
/// capacity above the keys one retention period brings). A store full of in-progress claims
/// refuses new ones (`Unavailable`) rather than drop a claim an order depends on.
///
/// Expiry and eviction use an index by age, so neither scans every key under the lock.
#[derive(Debug)]
pub struct MemoryIdempotencyStore {
    keys: Mutex<Keys>,
    retention_secs: i64,
    capacity: usize,
}

impl Default for MemoryIdempotencyStore {
    /// 24 hours of retention, at most 200,000 keys.
    fn default() -> Self {
        Self::new(24 * 3600, 200_000)
    }
}

impl MemoryIdempotencyStore {
    /// A store keeping keys `retention_secs` after their first claim, at most `capacity` of them.
    pub fn new(retention_secs: i64, capacity: usize) -> Self {
        Self { keys: Mutex::default(), retention_secs, capacity: capacity.max(1) }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        lock(&self.keys).entries.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &KeyDigest,
        fingerprint: &Fingerprint,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut keys = lock(&self.keys);
        keys.expire(now.plus_seconds(-self.retention_secs));
        if let Some(e) = keys.entries.get_mut(key) {
            if e.fingerprint != *fingerprint {
                return Ok(IdempotencyClaim::Mismatch);
            }
            return Ok(match &e.state {
                State::Completed(outcome) => IdempotencyClaim::Completed(outcome.clone()),
                State::InProgress { since } if *since < stale_before => {
                    e.state = State::InProgress { since: now };
                    IdempotencyClaim::Acquired { first_claimed_at: e.created_at }
                }
                State::InProgress { .. } => IdempotencyClaim::InProgress,
            });
        }
        if keys.entries.len() >= self.capacity && !keys.evict_oldest_completed() {
            return Err(StoreError::Unavailable("idempotency store is full of in-progress claims".into()));
        }
        let entry =
            Entry { fingerprint: fingerprint.clone(), state: State::InProgress { since: now }, created_at: now };
        keys.entries.insert(key.clone(), entry);
        keys.by_age.insert((now, key.clone()));
        Ok(IdempotencyClaim::Acquired { first_claimed_at: now })
    }

    async fn complete(&self, key: &KeyDigest, outcome: &CommandOutcome) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        let e = keys.entries.get_mut(key).ok_or(StoreError::NotFound)?;
        e.state = State::Completed(outcome.clone());
        Ok(())
    }

    async fn release(&self, key: &KeyDigest) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        if keys.entries.get(key).is_some_and(|e| matches!(e.state, State::InProgress { .. })) {
            keys.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use commerce_core::{OrderId, idempotency::ClientKey, order::OrderStatus, testkit::fixed::idempotency_secret};
    use futures::executor::block_on;

    use super::*;

    fn key(n: usize) -> KeyDigest {
        ClientKey::parse(&format!("key-{n}")).unwrap().digest()
    }

    fn done() -> CommandOutcome {
        CommandOutcome::Order { order_id: OrderId::from_uuid(uuid::Uuid::from_u128(1)), status: OrderStatus::Paid }
    }

    #[test]
    fn a_flood_of_unique_keys_stays_within_capacity_and_evicts_the_oldest_completed() {
        block_on(async {
            let store = MemoryIdempotencyStore::new(3600, 100);
            let fp = idempotency_secret().fingerprint("t", b"");
            let t0 = Timestamp::from_unix_micros(1_767_225_600_000_000);
            for n in 0..1_000 {
                let now = t0.plus_seconds(i64::try_from(n).unwrap());
                assert!(matches!(
                    store.claim(&key(n), &fp, now, now.plus_seconds(-60)).await,
                    Ok(IdempotencyClaim::Acquired { .. })
                ));
                store.complete(&key(n), &done()).await.unwrap();
                assert!(store.len() <= 100, "bounded at {n}: {}", store.len());
            }
            let now = t0.plus_seconds(1_000);
            let newest = store.claim(&key(999), &fp, now, now).await.unwrap();
            assert_eq!(newest, IdempotencyClaim::Completed(done()), "recent keys still replay");
            let evicted = store.claim(&key(0), &fp, now, now).await.unwrap();
            assert!(matches!(evicted, IdempotencyClaim::Acquired { .. }), "the oldest completed key made room");
        });
    }

    #[test]
    fn in_progress_claims_are_never_evicted_and_a_full_store_refuses() {
        block_on(async {
            let store = MemoryIdempotencyStore::new(3600, 3);
            let fp = idempotency_secret().fingerprint("t", b"");
            let now = Timestamp::from_unix_micros(1_767_225_600_000_000);
            for n in 0..3 {
                store.claim(&key(n), &fp, now, now.plus_seconds(-60)).await.unwrap();
            }
            assert!(matches!(store.claim(&key(3), &fp, now, now).await, Err(StoreError::Unavailable(_))));
            assert_eq!(store.claim(&key(0), &fp, now, now.plus_seconds(-60)).await, Ok(IdempotencyClaim::InProgress));
        });
    }

    #[test]
    fn keys_expire_after_the_retention_period() {
        block_on(async {
            let store = MemoryIdempotencyStore::new(60, 1_000);
            let fp = idempotency_secret().fingerprint("t", b"");
            let t0 = Timestamp::from_unix_micros(1_767_225_600_000_000);
            for n in 0..10 {
                store.claim(&key(n), &fp, t0, t0).await.unwrap();
                store.complete(&key(n), &done()).await.unwrap();
            }
            let t1 = t0.plus_seconds(61);
            store.claim(&key(100), &fp, t1, t1).await.unwrap();
            assert_eq!(store.len(), 1, "the ten expired keys are gone");
        });
    }
}
