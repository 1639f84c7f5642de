//! Conformance suite for [`IdempotencyStore`].

use std::future::Future;

use crate::{
    idempotency::{ClientKey, CommandOutcome, Fingerprint, KeyDigest, Refusal},
    ids::OrderId,
    order::OrderStatus,
    payment::DeclineReason,
    ports::{IdempotencyClaim, IdempotencyStore, StoreError},
    testkit::fixed::idempotency_secret,
    validation::ValidationErrors,
};

use super::Fixture;

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: IdempotencyStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    claim_complete_replay(&make().await).await;
    every_outcome_is_replayed_as_stored(&make().await).await;
    release_allows_a_retry_but_never_drops_an_outcome(&make().await).await;
    stale_claims_are_taken_over(&make().await).await;
    concurrent_claims_have_one_winner(&make().await).await;
}

fn key(name: &str) -> KeyDigest {
    ClientKey::parse(name).unwrap_or_else(|e| panic!("fixture key: {e}")).digest()
}

fn fingerprint(command: &str) -> Fingerprint {
    idempotency_secret().fingerprint("conformance", command.as_bytes())
}

fn paid(f: &Fixture) -> CommandOutcome {
    CommandOutcome::Order { order_id: OrderId::from_uuid(f.id()), status: OrderStatus::Paid }
}

async fn claim_complete_replay(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    let (k, h1, h2) = (key("k1"), fingerprint("one"), fingerprint("two"));
    assert_eq!(s.claim(&k, &h1, now, long_ago).await, Ok(IdempotencyClaim::Acquired { first_claimed_at: now }));
    assert_eq!(s.claim(&k, &h1, now, long_ago).await, Ok(IdempotencyClaim::InProgress), "second claim while running");
    assert_eq!(s.claim(&k, &h2, now, long_ago).await, Ok(IdempotencyClaim::Mismatch), "other command while running");
    let outcome = paid(&f);
    s.complete(&k, &outcome).await.unwrap_or_else(|e| panic!("complete: {e}"));
    assert_eq!(s.claim(&k, &h1, now, long_ago).await, Ok(IdempotencyClaim::Completed(outcome)), "replay");
    assert_eq!(s.claim(&k, &h2, now, long_ago).await, Ok(IdempotencyClaim::Mismatch), "same key, other command");
    assert_eq!(s.complete(&key("never-claimed"), &paid(&f)).await, Err(StoreError::NotFound));
}

async fn every_outcome_is_replayed_as_stored(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    let outcomes = [
        paid(&f),
        CommandOutcome::Order { order_id: OrderId::from_uuid(f.id()), status: OrderStatus::StockReserved },
        CommandOutcome::Refused {
            refusal: Refusal::Invalid { errors: ValidationErrors::single("items", "product x is not for sale") },
        },
        CommandOutcome::Refused { refusal: Refusal::CardRefused { decline: DeclineReason::InsufficientFunds } },
    ];
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let (k, h) = (key(&format!("outcome-{i}")), fingerprint("c"));
        assert!(matches!(s.claim(&k, &h, now, long_ago).await, Ok(IdempotencyClaim::Acquired { .. })));
        s.complete(&k, &outcome).await.unwrap_or_else(|e| panic!("complete: {e}"));
        assert_eq!(s.claim(&k, &h, now, long_ago).await, Ok(IdempotencyClaim::Completed(outcome)), "outcome {i}");
    }
}

async fn release_allows_a_retry_but_never_drops_an_outcome(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    let (k, h) = (key("k2"), fingerprint("c"));
    assert_eq!(s.claim(&k, &h, now, long_ago).await, Ok(IdempotencyClaim::Acquired { first_claimed_at: now }));
    s.release(&k).await.unwrap_or_else(|e| panic!("release: {e}"));
    s.release(&k).await.unwrap_or_else(|e| panic!("release twice: {e}"));
    let later = now.plus_seconds(1);
    assert_eq!(
        s.claim(&k, &fingerprint("other"), later, long_ago).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: later }),
        "a released key is free for any command"
    );
    let outcome = paid(&f);
    s.complete(&k, &outcome).await.unwrap_or_else(|e| panic!("complete: {e}"));
    s.release(&k).await.unwrap_or_else(|e| panic!("release after complete: {e}"));
    assert_eq!(
        s.claim(&k, &fingerprint("other"), later, long_ago).await,
        Ok(IdempotencyClaim::Completed(outcome)),
        "release never drops a completed outcome"
    );
}

async fn stale_claims_are_taken_over(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let t0 = f.now();
    let (k, h) = (key("k3"), fingerprint("c"));
    assert_eq!(
        s.claim(&k, &h, t0, t0.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: t0 })
    );
    let t1 = t0.plus_seconds(30);
    assert_eq!(s.claim(&k, &h, t1, t1.plus_seconds(-60)).await, Ok(IdempotencyClaim::InProgress), "not stale yet");
    let t2 = t0.plus_seconds(120);
    assert_eq!(
        s.claim(&k, &fingerprint("other"), t2, t2.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::Mismatch),
        "a stale claim is never taken over by another command"
    );
    assert_eq!(
        s.claim(&k, &h, t2, t2.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: t0 }),
        "owner crashed: take over, keeping the first claim time"
    );
    assert_eq!(
        s.claim(&k, &h, t2, t2.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::InProgress),
        "the takeover renewed the claim"
    );
}

async fn concurrent_claims_have_one_winner(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    let (k, h) = (key("k4"), fingerprint("c"));
    let claims = (0..16).map(|_| s.claim(&k, &h, now, long_ago));
    let results = futures::future::join_all(claims).await;
    let winners = results.iter().filter(|r| matches!(r, Ok(IdempotencyClaim::Acquired { .. }))).count();
    assert_eq!(winners, 1, "exactly one concurrent claim wins: {results:?}");
}
