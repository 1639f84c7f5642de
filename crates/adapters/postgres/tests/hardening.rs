//! Regression tests of the security review's findings against PostgreSQL (issue 12).

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{sync::Arc, time::Duration};

use commerce_core::{
    OrderId, ProductId, ReservationId, Timestamp,
    inventory::{InventoryError, InventoryReceipt, OnHand, ReservationRequest, StockLevel, StockReturn},
    ports::{Clock as _, InventoryStore, OrderStore as _},
    services::{
        Env,
        checkout::SagaRunner,
        inventory::InventoryService,
        recovery::{RecoveryPolicy, RecoveryService},
    },
    testkit::{
        conformance::orders::pending_order,
        fixed::{ManualClock, SequentialIds},
        units,
    },
};
use commerce_memory::MemoryPaymentGateway;
use commerce_postgres::{PgInventoryStore, PgOrderStore, lazy_query_pool, testing::Databases};

/// A query on a customer-facing pool is cancelled by the server after the statement
/// timeout, so it gives its connection back instead of holding it.
#[tokio::test]
async fn customer_queries_are_cancelled_after_the_statement_timeout() {
    let dbs = Databases::new();
    let name = dbs.fresh_name().await;
    let pool = lazy_query_pool(&commerce_postgres::testing::url_for(&name), 1, Duration::from_millis(200)).unwrap();
    let err = sqlx::query("SELECT pg_sleep(5)").execute(&pool).await.unwrap_err();
    // 57014: query_canceled, by the statement timeout (not the client).
    match &err {
        sqlx::Error::Database(db) => assert_eq!(db.code().as_deref(), Some("57014"), "{err}"),
        other => panic!("expected a cancelled statement, got {other}"),
    }
    // The one connection is free again.
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
    pool.close().await;
    dbs.cleanup().await;
}

/// Counts, per reservation, the reserve calls made and how many run at once.
#[derive(Default)]
struct Watched {
    inner: Option<commerce_postgres::PgInventoryStore>,
    calls: std::sync::Mutex<std::collections::HashMap<ReservationId, (usize, usize, usize)>>,
}

impl Watched {
    fn store(&self) -> &commerce_postgres::PgInventoryStore {
        self.inner.as_ref().unwrap()
    }
}

#[async_trait::async_trait]
impl InventoryStore for Watched {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        self.store().stock(products).await
    }
    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        self.store().set_on_hand(product, on_hand).await
    }
    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        {
            let mut calls = self.calls.lock().unwrap();
            let (total, running, most) = calls.entry(request.id()).or_default();
            *total += 1;
            *running += 1;
            *most = (*most).max(*running);
        }
        // Widens the window in which a second job could drive the same order.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let result = self.store().reserve(request).await;
        self.calls.lock().unwrap().entry(request.id()).or_default().1 -= 1;
        result
    }
    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.store().commit(id).await
    }
    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.store().release(id).await
    }
    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        self.store().expire(now, limit).await
    }
    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        self.store().restore(request).await
    }
}

/// The recovery jobs of two replicas over one database share the stalled orders: each
/// order is driven by one of them, never by both (its first step, the reserve, runs once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_recovery_jobs_never_drive_one_order() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000)));
    let env = Env::new(clock.clone(), Arc::new(SequentialIds::new()));
    let orders = Arc::new(PgOrderStore::new(pool.clone()));
    let watched = Arc::new(Watched { inner: Some(PgInventoryStore::new(pool.clone())), ..Watched::default() });
    let product = ProductId::from_uuid(uuid::Uuid::from_u128(42));
    watched.set_on_hand(product, units(1_000)).await.unwrap();
    let mut ids = vec![];
    for n in 0..16_u128 {
        let order = pending_order(OrderId::from_uuid(uuid::Uuid::from_u128(1_000 + n)), clock.now());
        orders.insert(&order, &[]).await.unwrap();
        ids.push(order.id);
    }
    clock.advance_secs(60);
    let job = || {
        let inventory = InventoryService::with_transactional_events(watched.clone(), env.clone());
        let gateway = Arc::new(MemoryPaymentGateway::new());
        let runner = SagaRunner::new(orders.clone(), inventory.clone(), gateway, env.clone(), 900);
        RecoveryService::new(orders.clone(), runner, inventory, env.clone())
    };
    let (a, b) = (job(), job());
    let policy = RecoveryPolicy::default();
    let (ra, rb) = tokio::join!(a.run_once(policy), b.run_once(policy));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.examined + rb.examined, ids.len(), "together they examine every stalled order once: {ra:?} {rb:?}");
    let calls = watched.calls.lock().unwrap().clone();
    for id in &ids {
        let reservation = ReservationId::for_order(*id);
        let (total, _, most) = calls.get(&reservation).copied().unwrap_or_default();
        assert_eq!((total, most), (1, 1), "order {id}: reserved once, by one job");
    }
    dbs.cleanup().await;
}

/// The outbox keeps a row until every kind of reader that reads it has handled it, and
/// deletes old rows even when nobody reads (no relay, no poller).
#[tokio::test]
async fn outbox_retention_follows_the_readers_present() {
    use commerce_core::{
        EventId,
        events::EventEnvelope,
        ports::{EventConsumer as _, EventPublisher as _, Outbox as _},
    };
    use commerce_postgres::{PgOutbox, PgOutboxConsumer};
    let event = || {
        let level = StockLevel {
            product_id: ProductId::from_uuid(uuid::Uuid::from_u128(1)),
            on_hand: 1,
            reserved: 0,
            version: 1,
        };
        EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, level)
    };
    let future = || Timestamp::from_datetime(time::OffsetDateTime::now_utc()).plus_seconds(60);
    let dbs = Databases::new();

    // Nobody reads: old rows go anyway.
    let outbox = PgOutbox::new(dbs.fresh().await, 30);
    outbox.publish(&[event(), event()]).await.unwrap();
    assert_eq!(outbox.prune(future()).await.unwrap(), 2, "no reader: the table does not grow forever");

    // A relay and a poller both read: a row projected but not yet published stays.
    let pool = dbs.fresh().await;
    let (outbox, poller) = (PgOutbox::new(pool.clone(), 30), PgOutboxConsumer::new(pool.clone()));
    outbox.publish(&[event(), event()]).await.unwrap();
    let delivered = poller.poll(10).await.unwrap();
    poller.ack(delivered.last().unwrap().tag).await.unwrap();
    let first = outbox.claim(1).await.unwrap();
    outbox.mark_published(&[first[0].position]).await.unwrap();
    assert_eq!(outbox.prune(future()).await.unwrap(), 1, "only the row both readers handled goes");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM commerce.outbox WHERE published_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the projected row waits for the relay");

    // A reader silent for longer than a week is gone: rows no longer wait for it.
    sqlx::query("UPDATE commerce.outbox_readers SET seen_at = now() - interval '8 days' WHERE reader = 'relay'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(outbox.prune(future()).await.unwrap(), 1);

    // The notifications service's poller reads apart from the projector's: a row only the
    // projector handled waits for it, and each poller sees every row once.
    let pool = dbs.fresh().await;
    let outbox = PgOutbox::new(pool.clone(), 30);
    let (projector, notifier) = (PgOutboxConsumer::new(pool.clone()), PgOutboxConsumer::notifications(pool.clone()));
    outbox.publish(&[event(), event()]).await.unwrap();
    let projected = projector.poll(10).await.unwrap();
    projector.ack(projected.last().unwrap().tag).await.unwrap();
    let to_tell = notifier.poll(10).await.unwrap();
    assert_eq!(to_tell.len(), 2, "the notifier sees the rows the projector took");
    notifier.ack(to_tell[0].tag).await.unwrap();
    assert_eq!(outbox.prune(future()).await.unwrap(), 1, "only the row both pollers handled goes");
    assert_eq!(notifier.poll(10).await.unwrap().len(), 1, "the notifier resumes where it acknowledged");
    dbs.cleanup().await;
}
