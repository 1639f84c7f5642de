//! The stock outbox: every change a recording store makes is in the stream once, in
//! order, carrying the level the store holds; relays share it through the lease.
//! Needs Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`); fails loudly without it.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::testkit::units;
use std::time::Duration;

use commerce_core::{
    ProductId, ReservationId, Timestamp,
    events::DomainEvent,
    inventory::{Quantity, ReservationLine, ReservationRequest, StockLevel},
    ports::{InventoryStore, Outbox, RestockStore},
};
use commerce_redis::RedisStockOutbox;
use common::fresh;

fn request(product: ProductId, quantity: u32, expires_at: Timestamp) -> ReservationRequest {
    let line = ReservationLine { product_id: product, quantity: Quantity::new(quantity).unwrap() };
    ReservationRequest::new(ReservationId::from_uuid(uuid::Uuid::now_v7()), vec![line], expires_at).unwrap()
}

fn level(record: &commerce_core::ports::OutboxRecord) -> StockLevel {
    match &record.envelope.event {
        DomainEvent::StockChanged(s) => StockLevel {
            product_id: s.product_id,
            on_hand: s.on_hand,
            reserved: s.reserved,
            version: record.envelope.aggregate_version,
        },
        other => panic!("not a stock event: {other:?}"),
    }
}

/// `(version, on_hand, reserved)` of each record.
fn levels(records: &[commerce_core::ports::OutboxRecord]) -> Vec<(u64, u64, u64)> {
    records.iter().map(level).map(|l| (l.version, l.on_hand, l.reserved)).collect()
}

#[tokio::test]
async fn recording_does_not_change_the_store_contract() {
    common::conformance_suite(true).await;
}

#[tokio::test]
async fn every_change_is_recorded_once_in_order() {
    let store = fresh(true).await;
    let outbox = RedisStockOutbox::new(&store, Duration::from_secs(30));
    let p = ProductId::from_uuid(uuid::Uuid::now_v7());
    let later = Timestamp::from_unix_micros(i64::MAX / 2);

    store.set_on_hand(p, units(10)).await.unwrap(); // v1: 10/0
    store.set_on_hand(p, units(10)).await.unwrap(); // no change, no entry
    let sold = request(p, 3, later);
    store.reserve(&sold).await.unwrap(); // v2: 10/3
    store.reserve(&sold).await.unwrap(); // a retry changes nothing
    store.commit(sold.id()).await.unwrap(); // v3: 7/0
    let dropped = request(p, 2, later);
    store.reserve(&dropped).await.unwrap(); // v4: 7/2
    store.release(dropped.id()).await.unwrap(); // v5: 7/0
    let lapsed = request(p, 4, Timestamp::from_unix_micros(1));
    store.reserve(&lapsed).await.unwrap(); // v6: 7/4
    assert_eq!(store.expire(Timestamp::from_unix_micros(2), 10).await.unwrap().len(), 1); // v7: 7/0

    let records = outbox.claim(100).await.unwrap();
    assert_eq!(levels(&records), [(1, 10, 0), (2, 10, 3), (3, 7, 0), (4, 7, 2), (5, 7, 0), (6, 7, 4), (7, 7, 0)]);
    assert!(records.windows(2).all(|w| w[0].position < w[1].position), "positions increase");
    assert_eq!(records.last().map(level), store.stock(&[p]).await.unwrap().first().copied());
    assert!(records.iter().all(|r| r.envelope.aggregate_id == p.as_uuid()));

    // Republished, an entry keeps its event id: it is derived from the stock version.
    let again = RedisStockOutbox::new(&store, Duration::ZERO).claim(100).await.unwrap();
    let ids = |rs: &[commerce_core::ports::OutboxRecord]| rs.iter().map(|r| r.envelope.event_id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&records));

    let positions: Vec<u64> = records.iter().map(|r| r.position).collect();
    outbox.mark_published(&positions).await.unwrap();
    outbox.mark_published(&positions).await.unwrap(); // idempotent
    assert_eq!(outbox.pending().await.unwrap(), 0);
    assert!(outbox.claim(100).await.unwrap().is_empty());
    store.clear().await.unwrap();
}

#[tokio::test]
async fn applied_restocks_are_recorded_and_stale_ones_are_not() {
    let store = fresh(true).await;
    let outbox = RedisStockOutbox::new(&store, Duration::from_secs(30));
    let p = ProductId::from_uuid(uuid::Uuid::now_v7());
    store.restock(p, units(5), 1).await.unwrap(); // v1: 5/0
    store.restock(p, units(5), 1).await.unwrap(); // redelivered: nothing
    store.restock(p, units(8), 3).await.unwrap(); // v2: 8/0
    store.restock(p, units(2), 2).await.unwrap(); // overtaken: nothing
    store.reserve(&request(p, 6, Timestamp::from_unix_micros(i64::MAX / 2))).await.unwrap(); // v3: 8/6
    assert!(store.restock(p, units(4), 4).await.is_err(), "below reserved: nothing");
    assert_eq!(levels(&outbox.claim(100).await.unwrap()), [(1, 5, 0), (2, 8, 0), (3, 8, 6)]);
    store.clear().await.unwrap();
}

#[tokio::test]
async fn a_relay_that_does_not_mark_loses_its_claim_after_the_lease() {
    let store = fresh(true).await;
    let p = ProductId::from_uuid(uuid::Uuid::now_v7());
    for on_hand in 1..=5 {
        store.set_on_hand(p, units(on_hand)).await.unwrap();
    }
    let crashed = RedisStockOutbox::new(&store, Duration::from_millis(300));
    let other = RedisStockOutbox::new(&store, Duration::from_millis(300));
    assert_eq!(crashed.claim(3).await.unwrap().len(), 3);
    // Concurrent relays get disjoint batches while the lease holds.
    let rest = other.claim(10).await.unwrap();
    assert_eq!(rest.iter().map(|r| level(r).on_hand).collect::<Vec<_>>(), [4, 5]);
    assert!(other.claim(10).await.unwrap().is_empty(), "nothing is claimed twice within the lease");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken_over = other.claim(10).await.unwrap();
    let mut on_hands: Vec<u64> = taken_over.iter().map(|r| level(r).on_hand).collect();
    on_hands.sort_unstable();
    assert_eq!(on_hands, [1, 2, 3, 4, 5]);
    other.mark_published(&taken_over.iter().map(|r| r.position).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(other.pending().await.unwrap(), 0);
    store.clear().await.unwrap();
}

#[tokio::test]
async fn a_store_that_does_not_record_leaves_no_outbox() {
    let store = fresh(false).await;
    store.set_on_hand(ProductId::from_uuid(uuid::Uuid::now_v7()), units(3)).await.unwrap();
    let outbox = RedisStockOutbox::new(&store, Duration::from_secs(30));
    assert_eq!(outbox.pending().await.unwrap(), 0);
    assert!(outbox.claim(10).await.unwrap().is_empty());
    store.clear().await.unwrap();
}

#[tokio::test]
async fn a_group_redis_lost_is_created_again() {
    let store = fresh(true).await;
    let outbox = RedisStockOutbox::new(&store, Duration::from_secs(30));
    let p = ProductId::from_uuid(uuid::Uuid::now_v7());
    store.set_on_hand(p, units(1)).await.unwrap();
    assert_eq!(outbox.claim(10).await.unwrap().len(), 1);
    // Redis without persistence restarted: the stream and its group are gone.
    store.clear().await.unwrap();
    store.set_on_hand(p, units(2)).await.unwrap();
    let mut claimed = None;
    for _ in 0..2 {
        if let Ok(records) = outbox.claim(10).await {
            claimed = Some(records);
            break;
        }
    }
    let records = claimed.expect("a claim after the group was lost succeeds on retry");
    assert_eq!(records.iter().map(|r| level(r).on_hand).collect::<Vec<_>>(), [2]);
    store.clear().await.unwrap();
}
