//! The PostgreSQL adapters against every conformance suite of commerce-core,
//! each case in a fresh database.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::testkit::conformance;
use commerce_postgres::testing::Databases;
use commerce_postgres::{
    PgCatalogStore, PgDeadLetters, PgIdempotencyStore, PgInventoryStore, PgOrderStore, PgOutbox, PgOutboxConsumer,
    PgPricingStore, PgReadModel,
};

#[tokio::test]
async fn product_store_and_its_outbox() {
    let dbs = Databases::new();
    conformance::products::run_with_outbox(|| async { PgCatalogStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn collection_store() {
    let dbs = Databases::new();
    conformance::collections::run(|| async { PgCatalogStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn restock_log() {
    let dbs = Databases::new();
    conformance::restock_log::run_with_outbox(|| async { PgCatalogStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn read_model() {
    let dbs = Databases::new();
    conformance::read_model::run(|| async { PgReadModel::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

/// A storefront replica's copy (memory) fed from the read model's changes equals it.
#[tokio::test]
async fn read_model_feed() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let feed = std::sync::Arc::new(commerce_postgres::PgReadModelFeed::new(pool.clone()));
    conformance::replica::feed(&PgReadModel::new(pool), feed, commerce_memory::MemoryReadModel::new).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn inventory_store() {
    let dbs = Databases::new();
    conformance::inventory::run(|| async { PgInventoryStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn order_store() {
    let dbs = Databases::new();
    conformance::orders::run_with_outbox(|| async { PgOrderStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn shipping_method_and_tax_rate_stores() {
    let dbs = Databases::new();
    conformance::pricing::shipping_methods(|| async { PgPricingStore::new(dbs.fresh().await) }).await;
    conformance::pricing::tax_rates(|| async { PgPricingStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn idempotency_store() {
    let dbs = Databases::new();
    conformance::idempotency::run(|| async { PgIdempotencyStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn outbox_poller() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    conformance::events::run(&PgOutbox::new(pool.clone(), 30), &PgOutboxConsumer::new(pool)).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn outbox_prune_keeps_rows_nobody_handled() {
    use commerce_core::{
        Timestamp,
        events::{DomainEvent, EventEnvelope, StockChanged},
        ids::{EventId, ProductId},
        ports::{EventPublisher, Outbox},
    };
    let dbs = Databases::new();
    let outbox = PgOutbox::new(dbs.fresh().await, 30);
    let event = |n: u128| {
        let payload = StockChanged {
            product_id: ProductId::from_uuid(uuid::Uuid::from_u128(1)),
            on_hand: 1,
            reserved: 0,
            available: 1,
        };
        EventEnvelope::new(
            EventId::from_uuid(uuid::Uuid::from_u128(n)),
            Timestamp::EPOCH,
            DomainEvent::StockChanged(payload),
        )
    };
    outbox.publish(&[event(1), event(2)]).await.unwrap();
    let first = outbox.claim(1).await.unwrap();
    outbox.mark_published(&[first[0].position]).await.unwrap();
    let future = Timestamp::from_datetime(time::OffsetDateTime::now_utc()).plus_seconds(60);
    assert_eq!(outbox.prune(future).await.unwrap(), 1, "only the published row goes");
    assert_eq!(outbox.pending().await.unwrap(), 1, "the unpublished row stays");
    dbs.cleanup().await;
}

#[tokio::test]
async fn outbox_poller_parks_dead_letters_with_their_reason() {
    use commerce_core::{
        Timestamp,
        events::{EventEnvelope, StockSet},
        ids::{EventId, ProductId},
        ports::{EventConsumer, EventPublisher},
    };
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let restock = StockSet { product_id: ProductId::from_uuid(uuid::Uuid::from_u128(1)), on_hand: 1 };
    let event = EventEnvelope::stock_set(EventId::from_uuid(uuid::Uuid::from_u128(9)), Timestamp::EPOCH, restock, 4);
    PgOutbox::new(pool.clone(), 30).publish(std::slice::from_ref(&event)).await.unwrap();
    let consumer = PgOutboxConsumer::new(pool.clone());
    let delivery = consumer.poll(10).await.unwrap().remove(0);
    consumer.dead_letter(&delivery, "below reserved").await.unwrap();
    consumer.ack(delivery.tag).await.unwrap();

    let (envelope, reason): (serde_json::Value, String) =
        sqlx::query_as("SELECT envelope, reason FROM commerce.dead_letters").fetch_one(&pool).await.unwrap();
    assert_eq!(serde_json::from_value::<EventEnvelope>(envelope).unwrap(), event);
    assert_eq!(reason, "below reserved");
    assert!(consumer.poll(10).await.unwrap().is_empty(), "a parked event is acknowledged with the batch");
    dbs.cleanup().await;
}

#[tokio::test]
async fn delivery_log() {
    let dbs = Databases::new();
    conformance::deliveries::run(|| async { commerce_postgres::PgDeliveryLog::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn dead_letters_and_their_way_back_to_the_outbox() {
    let dbs = Databases::new();
    conformance::dead_letters::run(|| async {
        let pool = dbs.fresh().await;
        (PgDeadLetters::new(pool.clone()), PgOutbox::new(pool, 30))
    })
    .await;
    dbs.cleanup().await;
}
