//! Deterministic clock and ids for tests and simulations.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use uuid::Uuid;

use crate::{
    idempotency::IdempotencySecret,
    ports::{Clock, IdGenerator},
    timestamp::Timestamp,
};

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.unix_micros()))
    }

    /// Moves the clock forward.
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_micros(), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self::new(Timestamp::from_unix_micros(1_767_225_600_000_000))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(Ordering::SeqCst))
    }
}

/// Ids that are valid UUIDv7 values with increasing counters: reproducible runs.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
    secrets: AtomicU64,
}

impl SequentialIds {
    /// Starts at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        // Timestamp bits carry the counter so ids sort in creation order, like real v7 ids.
        uuid::Builder::from_unix_timestamp_millis(1_767_225_600_000 + n, &counter_bytes(n)).into_uuid()
    }

    fn new_secret(&self) -> String {
        let n = self.secrets.fetch_add(1, Ordering::SeqCst) + 1;
        format!("secret-{n:016x}")
    }
}

fn counter_bytes(n: u64) -> [u8; 10] {
    let mut bytes = [0; 10];
    bytes[2..].copy_from_slice(&n.to_be_bytes());
    bytes
}

/// A fixed idempotency secret, so fingerprints and derived tokens repeat across runs.
pub fn idempotency_secret() -> IdempotencySecret {
    IdempotencySecret::generate(&SequentialIds::new())
}
