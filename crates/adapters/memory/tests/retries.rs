//! Retried checkouts under one idempotency key, through the core's `IdempotentCheckout`:
//! a crashed attempt is resumed, an insert whose outcome is unknown keeps its key, and a
//! malformed request never claims one.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use commerce_core::{
    OrderId, Timestamp,
    catalog::Version,
    events::EventEnvelope,
    idempotency::{ClientKey, CommandOutcome, Fingerprint, KeyDigest},
    order::{Order, OrderStatus},
    ports::{IdempotencyClaim, IdempotencyStore, OrderQuery, OrderStore, StoreError},
    services::checkout::{CheckoutError, CheckoutInput},
    testkit::fixed::idempotency_secret,
};
use commerce_memory::{MemoryIdempotencyStore, MemoryOrderStore};
use common::{GOOD_CARD, TestShop, checkout_input};
use futures::executor::block_on;

/// An idempotency store that can lose its writes, like a process dying before it
/// records a command's outcome.
struct Forgetful {
    inner: MemoryIdempotencyStore,
    lose_writes: AtomicBool,
}

#[async_trait]
impl IdempotencyStore for Forgetful {
    async fn claim(
        &self,
        k: &KeyDigest,
        f: &Fingerprint,
        now: Timestamp,
        stale: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        self.inner.claim(k, f, now, stale).await
    }
    async fn complete(&self, k: &KeyDigest, o: &CommandOutcome) -> Result<(), StoreError> {
        if self.lose_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("process died".into()));
        }
        self.inner.complete(k, o).await
    }
    async fn release(&self, k: &KeyDigest) -> Result<(), StoreError> {
        self.inner.release(k).await
    }
}

#[test]
fn a_retried_request_resumes_its_order_instead_of_charging_again() {
    block_on(async {
        let keys = Arc::new(Forgetful { inner: MemoryIdempotencyStore::default(), lose_writes: AtomicBool::new(true) });
        let shop = TestShop::with(|b| b.idempotency(keys.clone(), idempotency_secret()));
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        let (key, input) = (ClientKey::parse("retry-me").unwrap(), checkout_input(&[(tee.id, 1)], GOOD_CARD));
        // The first attempt stalls mid-saga and its process "dies" before recording the outcome...
        shop.gateway.down.store(true, Ordering::SeqCst);
        let first = shop.checkout.place_order(&key, &input).await.result.unwrap();
        assert_eq!(first.order.status, OrderStatus::StockReserved);
        shop.gateway.down.store(false, Ordering::SeqCst);
        keys.lose_writes.store(false, Ordering::SeqCst);
        // ...so a quick retry is told to wait, and one after the claim went stale resumes that very order.
        assert_eq!(shop.checkout.place_order(&key, &input).await.result, Err(CheckoutError::InProgress));
        shop.clock.advance_secs(61);
        let retry = shop.checkout.place_order(&key, &input).await;
        let placed = retry.result.unwrap();
        assert!(!retry.replayed);
        assert_eq!((placed.order.id, placed.order.status), (first.order.id, OrderStatus::Paid));
        assert_eq!(
            placed.access_token, first.access_token,
            "the token derives from the key: the same on every attempt"
        );
        assert_eq!(
            shop.orders.order_for_customer(placed.order.id, &placed.access_token).await.unwrap().id,
            first.order.id
        );
        let stats = shop.gateway.inner.stats(None);
        assert_eq!((stats.authorizations, stats.captures), (1, 1), "charged once");
        assert_eq!(shop.on_hand(tee.id).await, (4, 0));
        // A retry after success replays the paid order, with a token that still reads it.
        let again = shop.checkout.place_order(&key, &input).await;
        assert!(again.replayed);
        let again = again.result.unwrap();
        assert_eq!((again.order.status, shop.gateway.inner.stats(None).captures), (OrderStatus::Paid, 1));
        assert!(shop.orders.order_for_customer(again.order.id, &again.access_token).await.is_ok());
        // The same key with another cart is refused.
        let other = checkout_input(&[(tee.id, 2)], GOOD_CARD);
        assert_eq!(shop.checkout.place_order(&key, &other).await.result, Err(CheckoutError::KeyReused));
    });
}

/// Orders whose insert commits and then loses its answer (the connection dropped
/// around COMMIT), while the switch is on.
struct LostCommit {
    inner: Arc<MemoryOrderStore>,
    lose_answer: AtomicBool,
}

#[async_trait]
impl OrderStore for LostCommit {
    async fn insert(&self, o: &Order, e: &[EventEnvelope]) -> Result<(), StoreError> {
        self.inner.insert(o, e).await?;
        if self.lose_answer.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("connection lost around COMMIT".into()));
        }
        Ok(())
    }
    async fn update(&self, o: &Order, v: Version, e: &[EventEnvelope]) -> Result<(), StoreError> {
        self.inner.update(o, v, e).await
    }
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self, q: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        self.inner.list(q).await
    }
    async fn claim_stalled(&self, claim: &commerce_core::ports::StalledClaim) -> Result<Vec<Order>, StoreError> {
        self.inner.claim_stalled(claim).await
    }
}

#[test]
fn an_insert_whose_outcome_is_unknown_keeps_the_key_so_a_retry_never_charges_twice() {
    block_on(async {
        let orders =
            Arc::new(LostCommit { inner: Arc::new(MemoryOrderStore::new()), lose_answer: AtomicBool::new(true) });
        let shop = TestShop::with(|b| b.orders(orders.clone()));
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        let (key, input) = (ClientKey::parse("lost-commit").unwrap(), checkout_input(&[(tee.id, 1)], GOOD_CARD));

        let first = shop.checkout.place_order(&key, &input).await.result;
        let Err(CheckoutError::Interrupted { order: Some(id), .. }) = first else {
            panic!("the insert's outcome is unknown: {first:?}");
        };
        assert!(orders.inner.get(id).await.unwrap().is_some(), "the order did commit");
        // The key is not released: an immediate retry waits instead of placing a second order.
        assert_eq!(shop.checkout.place_order(&key, &input).await.result, Err(CheckoutError::InProgress));
        shop.clock.advance_secs(61);
        let resumed = shop.checkout.place_order(&key, &input).await.result.unwrap();
        assert_eq!((resumed.order.id, resumed.order.status), (id, OrderStatus::Paid));

        let all = orders.list(&OrderQuery { status: None, limit: 10, after: None }).await.unwrap();
        assert_eq!(all.len(), 1, "one order for one key");
        let stats = shop.gateway.inner.stats(None);
        assert_eq!((stats.authorizations, stats.captures), (1, 1));
    });
}

#[test]
fn a_malformed_checkout_never_claims_its_key() {
    use commerce_core::ports::MockIdempotencyStore;
    block_on(async {
        let mut keys = MockIdempotencyStore::new();
        keys.expect_claim().never();
        let shop = TestShop::with(|b| b.idempotency(Arc::new(keys), idempotency_secret()));
        for n in 0..100 {
            let key = ClientKey::parse(&format!("junk-{n}")).unwrap();
            let junk = CheckoutInput { email: format!("junk {n}"), ..checkout_input(&[], "4242") };
            assert!(matches!(shop.checkout.place_order(&key, &junk).await.result, Err(CheckoutError::Validation(_))));
        }
    });
}
