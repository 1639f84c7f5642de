//! Conformance suite for [`IdempotencyStore`].

use std::future::Future;

use crate::ports::{IdempotencyClaim, IdempotencyStore, StoreError, StoredResponse};

use super::Fixture;

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: IdempotencyStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    claim_complete_replay(&make().await).await;
    release_allows_a_retry(&make().await).await;
    stale_claims_are_taken_over(&make().await).await;
    concurrent_claims_have_one_winner(&make().await).await;
}

async fn claim_complete_replay(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    assert_eq!(s.claim("k1", "h1", now, long_ago).await, Ok(IdempotencyClaim::Acquired { first_claimed_at: now }));
    assert_eq!(
        s.claim("k1", "h1", now, long_ago).await,
        Ok(IdempotencyClaim::InProgress),
        "second claim while running"
    );
    let response = StoredResponse { status: 201, body: br#"{"id":1}"#.to_vec() };
    s.complete("k1", &response).await.unwrap_or_else(|e| panic!("complete: {e}"));
    assert_eq!(s.claim("k1", "h1", now, long_ago).await, Ok(IdempotencyClaim::Completed(response)), "replay");
    assert_eq!(s.claim("k1", "h2", now, long_ago).await, Ok(IdempotencyClaim::Mismatch), "same key, other body");
    assert_eq!(
        s.complete("never-claimed", &StoredResponse { status: 200, body: vec![] }).await,
        Err(StoreError::NotFound)
    );
}

async fn release_allows_a_retry(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    assert_eq!(s.claim("k2", "h", now, long_ago).await, Ok(IdempotencyClaim::Acquired { first_claimed_at: now }));
    s.release("k2").await.unwrap_or_else(|e| panic!("release: {e}"));
    s.release("k2").await.unwrap_or_else(|e| panic!("release twice: {e}"));
    assert_eq!(
        s.claim("k2", "h", now, long_ago).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: now }),
        "retry after release"
    );
}

async fn stale_claims_are_taken_over(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let t0 = f.now();
    assert_eq!(
        s.claim("k3", "h", t0, t0.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: t0 })
    );
    let t1 = t0.plus_seconds(120);
    assert_eq!(
        s.claim("k3", "h", t1, t1.plus_seconds(-60)).await,
        Ok(IdempotencyClaim::Acquired { first_claimed_at: t0 }),
        "owner crashed: take over, keeping the first claim time"
    );
}

async fn concurrent_claims_have_one_winner(s: &impl IdempotencyStore) {
    let f = Fixture::new();
    let (now, long_ago) = (f.now(), f.now().plus_seconds(-3600));
    let claims = (0..16).map(|_| s.claim("k4", "h", now, long_ago));
    let results = futures::future::join_all(claims).await;
    let winners = results.iter().filter(|r| matches!(r, Ok(IdempotencyClaim::Acquired { .. }))).count();
    assert_eq!(winners, 1, "exactly one concurrent claim wins: {results:?}");
}
