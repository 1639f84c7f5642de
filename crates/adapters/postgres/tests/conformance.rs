//! The PostgreSQL adapters against every conformance suite of commerce-core,
//! each case in a fresh database.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::testkit::conformance;
use commerce_postgres::testing::Databases;
use commerce_postgres::{
    PgCatalogStore, PgIdempotencyStore, PgInventoryStore, PgOrderStore, PgOutbox, PgOutboxConsumer, PgReadModel,
};

#[tokio::test]
async fn catalog_store_and_its_outbox() {
    let dbs = Databases::new();
    conformance::catalog::run_with_outbox(|| async { PgCatalogStore::new(dbs.fresh().await) }).await;
    dbs.cleanup().await;
}

#[tokio::test]
async fn read_model() {
    let dbs = Databases::new();
    conformance::read_model::run(|| async { PgReadModel::new(dbs.fresh().await) }).await;
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
    conformance::orders::run(|| async { PgOrderStore::new(dbs.fresh().await) }).await;
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
