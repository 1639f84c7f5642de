//! Idempotent execution of a command under a client key: the protocol every inbound
//! adapter (HTTP, GraphQL, a queue consumer) shares, so none of them re-implements it.
//!
//! ```text
//! begin(key, fingerprint)
//!   ├─ Replay(outcome)     the key completed with this command: answer the outcome again
//!   ├─ InProgress          another request holds the key: retry shortly
//!   ├─ Mismatch            the key was used for another command
//!   └─ Execute(claim)      run the command, then exactly one of:
//!        complete(claim, outcome)   it ended (placed, or refused by a rule)
//!        release(claim)             it certainly changed nothing: the key may be retried
//!        keep(claim)                its outcome is unknown: the key stays claimed until it is
//!                                   stale, then a retry takes it over with the same first
//!                                   claim time (so the same order id) and resumes
//! ```
//!
//! [`IdempotentCheckout`](crate::services::checkout::IdempotentCheckout) is the checkout
//! built on it.

use std::sync::Arc;

use crate::{
    idempotency::{ClientKey, CommandOutcome, Fingerprint, IdempotencySecret, KeyDigest},
    ports::{Clock, IdempotencyClaim, IdempotencyStore},
    timestamp::Timestamp,
};

/// Why a command could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyError {
    /// Another request with this key is executing now; retry shortly.
    #[error("a request with this key is still being processed")]
    InProgress,
    /// The key was already used for a different command.
    #[error("the key was already used with a different request")]
    Mismatch,
    /// The idempotency store could not be reached; nothing was claimed.
    #[error("idempotency store unavailable: {0}")]
    Unavailable(String),
}

/// What [`IdempotencyService::begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// The caller owns the key: execute the command, then settle the claim.
    Execute(Claim),
    /// The key completed with the same command: answer its outcome again.
    Replay(CommandOutcome),
}

/// Ownership of a client key while its command executes.
#[derive(Debug)]
#[must_use = "settle a claim with complete, release or keep"]
pub struct Claim {
    key: KeyDigest,
    first_claimed_at: Timestamp,
    first: bool,
}

impl Claim {
    /// When the key was first claimed: the same on a takeover of a crashed attempt's claim.
    pub fn first_claimed_at(&self) -> Timestamp {
        self.first_claimed_at
    }

    /// True when this request claimed the key first (no crashed attempt's claim was taken
    /// over), so nothing derived from [`first_claimed_at`](Self::first_claimed_at) can
    /// exist yet.
    pub fn is_first(&self) -> bool {
        self.first
    }
}

/// Runs commands at most once per client key over an [`IdempotencyStore`].
#[derive(Clone)]
pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    secret: Arc<IdempotencySecret>,
    clock: Arc<dyn Clock>,
    stale_after_secs: i64,
}

impl IdempotencyService {
    /// How long an unsettled claim protects its key before a retry may take it over,
    /// unless configured otherwise: longer than any request runs.
    pub const DEFAULT_STALE_AFTER_SECS: i64 = 60;

    /// A service over `store`, fingerprinting and deriving tokens with `secret`.
    pub fn new(store: Arc<dyn IdempotencyStore>, secret: IdempotencySecret, clock: Arc<dyn Clock>) -> Self {
        Self { store, secret: Arc::new(secret), clock, stale_after_secs: Self::DEFAULT_STALE_AFTER_SECS }
    }

    /// Unsettled claims older than `secs` are presumed abandoned by a crashed worker.
    #[must_use]
    pub fn with_stale_after_secs(mut self, secs: i64) -> Self {
        self.stale_after_secs = secs;
        self
    }

    /// The secret fingerprints and access tokens derive from.
    pub fn secret(&self) -> &IdempotencySecret {
        &self.secret
    }

    /// The time source claims are stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Claims `key` for the command with `fingerprint`, or says why it must not run now.
    pub async fn begin(&self, key: &ClientKey, fingerprint: &Fingerprint) -> Result<Begin, IdempotencyError> {
        let now = self.clock.now();
        let digest = key.digest();
        let claim = self
            .store
            .claim(&digest, fingerprint, now, now.plus_seconds(-self.stale_after_secs))
            .await
            .map_err(|e| IdempotencyError::Unavailable(e.to_string()))?;
        match claim {
            // A store stamps a key's first claim with the `now` it was given; a takeover
            // keeps the earlier stamp.
            IdempotencyClaim::Acquired { first_claimed_at } => {
                Ok(Begin::Execute(Claim { key: digest, first_claimed_at, first: first_claimed_at == now }))
            }
            IdempotencyClaim::Completed(outcome) => Ok(Begin::Replay(outcome)),
            IdempotencyClaim::InProgress => Err(IdempotencyError::InProgress),
            IdempotencyClaim::Mismatch => Err(IdempotencyError::Mismatch),
        }
    }

    /// Records how the command ended; every retry gets this outcome. When it cannot be
    /// recorded, the key stays claimed: once stale, a retry takes it over and resumes the
    /// same work (never a second one).
    pub async fn complete(&self, claim: Claim, outcome: &CommandOutcome) {
        if let Err(e) = self.store.complete(&claim.key, outcome).await {
            tracing::warn!(error = %e, "could not record a command's outcome; its key stays claimed until stale");
        }
    }

    /// Frees the key of a command that changed nothing, so the client may retry it now.
    pub async fn release(&self, claim: Claim) {
        if let Err(e) = self.store.release(&claim.key).await {
            tracing::warn!(error = %e, "could not release an idempotency key; it frees once stale");
        }
    }

    /// Leaves the key claimed: the command's outcome is unknown (an order may exist). A
    /// retry is answered "in progress" until the claim is stale, then takes it over.
    #[allow(clippy::needless_pass_by_value, reason = "taking the claim settles it: it cannot be completed later")]
    pub fn keep(claim: Claim) {
        tracing::info!(first_claimed_at = %claim.first_claimed_at, "command outcome unknown; key stays claimed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        idempotency::Refusal,
        ports::MockIdempotencyStore,
        testkit::fixed::{ManualClock, idempotency_secret},
        validation::ValidationErrors,
    };

    fn service(store: MockIdempotencyStore) -> IdempotencyService {
        IdempotencyService::new(Arc::new(store), idempotency_secret(), Arc::new(ManualClock::default()))
    }

    #[test]
    fn claims_replays_and_refusals_map_to_the_protocol() {
        futures::executor::block_on(async {
            let outcome = CommandOutcome::Refused { refusal: Refusal::Invalid { errors: ValidationErrors::new() } };
            let mut store = MockIdempotencyStore::new();
            let mut seq = mockall::Sequence::new();
            store.expect_claim().times(1).in_sequence(&mut seq).returning(|_, _, now, stale_before| {
                assert_eq!(now.plus_seconds(-IdempotencyService::DEFAULT_STALE_AFTER_SECS), stale_before);
                Ok(IdempotencyClaim::Acquired { first_claimed_at: now })
            });
            store.expect_claim().times(1).in_sequence(&mut seq).returning(|_, _, _, _| Ok(IdempotencyClaim::Mismatch));
            store
                .expect_claim()
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _, _| Ok(IdempotencyClaim::InProgress));
            let replay = outcome.clone();
            store
                .expect_claim()
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _, _, _| Ok(IdempotencyClaim::Completed(replay.clone())));
            let s = service(store);
            let key = ClientKey::parse("k").unwrap();
            let fp = s.secret().fingerprint("test", b"x");
            assert!(matches!(s.begin(&key, &fp).await, Ok(Begin::Execute(_))));
            assert!(matches!(s.begin(&key, &fp).await, Err(IdempotencyError::Mismatch)));
            assert!(matches!(s.begin(&key, &fp).await, Err(IdempotencyError::InProgress)));
            assert!(matches!(s.begin(&key, &fp).await, Ok(Begin::Replay(o)) if o == outcome));
        });
    }

    #[test]
    fn the_store_sees_only_the_key_digest() {
        futures::executor::block_on(async {
            let key = ClientKey::parse("my-secret-key-42").unwrap();
            let digest = key.digest();
            let mut store = MockIdempotencyStore::new();
            store
                .expect_claim()
                .withf(move |k, _, _, _| *k == digest && !k.as_str().contains("my-secret-key"))
                .returning(|_, _, now, _| Ok(IdempotencyClaim::Acquired { first_claimed_at: now }));
            store.expect_release().times(1).returning(|_| Ok(()));
            let s = service(store);
            let Ok(Begin::Execute(claim)) = s.begin(&key, &s.secret().fingerprint("t", b"")).await else {
                panic!("acquired")
            };
            s.release(claim).await;
        });
    }
}
