//! The SQLite adapters against every conformance suite of commerce-core, each case on a
//! database file of its own.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::testkit::conformance;
use commerce_sqlite::testing::Databases;

#[tokio::test]
async fn product_store_and_its_outbox() {
    let dbs = Databases::new();
    conformance::products::run_with_outbox(|| async { dbs.fresh().await.catalog() }).await;
}

#[tokio::test]
async fn shipping_method_and_tax_rate_stores() {
    let dbs = Databases::new();
    conformance::pricing::shipping_methods(|| async { dbs.fresh().await.pricing() }).await;
    conformance::pricing::tax_rates(|| async { dbs.fresh().await.pricing() }).await;
}

#[tokio::test]
async fn collection_store() {
    let dbs = Databases::new();
    conformance::collections::run(|| async { dbs.fresh().await.catalog() }).await;
}

#[tokio::test]
async fn restock_log() {
    let dbs = Databases::new();
    conformance::restock_log::run_with_outbox(|| async { dbs.fresh().await.catalog() }).await;
}

#[tokio::test]
async fn read_model() {
    let dbs = Databases::new();
    conformance::read_model::run(|| async { dbs.fresh().await.read_model() }).await;
}

#[tokio::test]
async fn inventory_store() {
    let dbs = Databases::new();
    conformance::inventory::run(|| async { dbs.fresh().await.inventory() }).await;
}

#[tokio::test]
async fn order_store() {
    let dbs = Databases::new();
    conformance::orders::run(|| async { dbs.fresh().await.orders() }).await;
}

#[tokio::test]
async fn idempotency_store() {
    let dbs = Databases::new();
    conformance::idempotency::run(|| async { dbs.fresh().await.idempotency() }).await;
}

#[tokio::test]
async fn outbox_poller() {
    let dbs = Databases::new();
    let db = dbs.fresh().await;
    conformance::events::run(&db.outbox(), &db.outbox_consumer()).await;
}

#[tokio::test]
async fn delivery_log() {
    let dbs = Databases::new();
    conformance::deliveries::run(|| async { dbs.fresh().await.deliveries() }).await;
}

#[tokio::test]
async fn dead_letters_and_their_way_back_to_the_outbox() {
    let dbs = Databases::new();
    conformance::dead_letters::run(|| async {
        let db = dbs.fresh().await;
        (db.dead_letters(), db.outbox())
    })
    .await;
}
