//! The Redis inventory store against the core's inventory conformance suite and
//! model-based property test, each case under its own key prefix.
//! Needs Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); fails loudly without it.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::testkit::conformance::inventory;
use commerce_core::testkit::units;
use common::fresh;
use proptest::test_runner::{Config, TestRunner};

#[tokio::test]
async fn conformance_suite() {
    common::conformance_suite(false).await;
}

/// 2,000 concurrent one-unit reservations from 16 tasks for a product with 100 units:
/// exactly 100 succeed, and on_hand + sold stays constant after committing them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contended_reservations_never_oversell() {
    use commerce_core::{
        ProductId, ReservationId, Timestamp,
        inventory::{InventoryError, Quantity, ReservationLine, ReservationRequest},
        ports::InventoryStore,
    };
    let store = fresh(false).await;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    store.set_on_hand(product, units(100)).await.unwrap();
    let mut tasks = vec![];
    for t in 0..16_u128 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = vec![];
            for n in 0..125_u128 {
                let id = ReservationId::from_uuid(uuid::Uuid::from_u128(t << 64 | n));
                let line = ReservationLine { product_id: product, quantity: Quantity::new(1).unwrap() };
                let request =
                    ReservationRequest::new(id, vec![line], Timestamp::from_unix_micros(i64::MAX / 2)).unwrap();
                match store.reserve(&request).await {
                    Ok(_) => won.push(id),
                    Err(InventoryError::InsufficientStock { .. }) => {}
                    Err(e) => panic!("unexpected: {e}"),
                }
            }
            won
        }));
    }
    let mut won = vec![];
    for t in tasks {
        won.extend(t.await.unwrap());
    }
    assert_eq!(won.len(), 100, "exactly the units on hand are sold");
    for id in &won {
        store.commit(*id).await.unwrap();
    }
    let level = store.stock(&[product]).await.unwrap()[0];
    assert_eq!((level.on_hand, level.reserved), (0, 0));
    assert_eq!(level.on_hand + won.len() as u64, 100, "on_hand + sold is constant");
    store.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_check() {
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        TestRunner::new(Config { cases: 128, failure_persistence: None, ..Config::default() })
            .run(&inventory::inventory_ops(), |ops| {
                handle.block_on(async {
                    let store = fresh(false).await;
                    inventory::check_model(&store, 1, &ops).await;
                    store.clear().await.unwrap();
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    result.unwrap();
}

/// Settled reservations (committed, released, expired, refused, release tombstones) carry
/// a TTL, so Redis does not keep them forever; an active one does not (it holds stock until
/// it settles).
#[tokio::test]
async fn settled_reservations_expire_from_redis() {
    use commerce_core::{
        ProductId, ReservationId, Timestamp,
        inventory::{Quantity, ReservationLine, ReservationRequest},
        ports::InventoryStore,
    };
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let store = commerce_redis::RedisInventoryStore::connect(&common::url(), &namespace)
        .await
        .unwrap()
        .with_settled_retention(std::time::Duration::from_secs(600));
    let mut raw = redis::Client::open(common::url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    store.set_on_hand(product, units(10)).await.unwrap();
    let id = |n: u128| ReservationId::from_uuid(uuid::Uuid::from_u128(n));
    let request = |n: u128, quantity: u32, expires_us: i64| {
        let line = ReservationLine { product_id: product, quantity: Quantity::new(quantity).unwrap() };
        ReservationRequest::new(id(n), vec![line], Timestamp::from_unix_micros(expires_us)).unwrap()
    };
    let far = 4_102_444_800_000_000; // 2100
    store.reserve(&request(1, 1, far)).await.unwrap();
    store.reserve(&request(2, 1, far)).await.unwrap();
    store.reserve(&request(3, 1, 1_000)).await.unwrap();
    store.reserve(&request(4, 20, far)).await.unwrap_err();
    store.reserve(&request(6, 1, far)).await.unwrap();
    store.commit(id(1)).await.unwrap();
    store.release(id(2)).await.unwrap();
    store.expire(Timestamp::from_unix_micros(2_000), 10).await.unwrap();
    store.release(id(5)).await.unwrap();
    let mut ttls = vec![];
    for n in 1..=6 {
        let key = format!("{{{namespace}}}:res:{}", id(n));
        ttls.push(redis::cmd("TTL").arg(key).query_async::<i64>(&mut raw).await.unwrap());
    }
    for (left, what) in ttls.iter().zip(["committed", "released", "expired", "refused", "tombstone"]) {
        assert!((1..=600).contains(left), "{what} reservation: TTL {left}");
    }
    assert_eq!(ttls[5], -1, "an active reservation never expires from Redis: {ttls:?}");
    store.clear().await.unwrap();
}
