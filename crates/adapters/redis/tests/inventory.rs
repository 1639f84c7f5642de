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
