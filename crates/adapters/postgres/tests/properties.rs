//! The core's property tests against PostgreSQL: the inventory model check and the
//! listing walk, each over many generated cases on one database.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::{
    ports::ProductProjection,
    testkit::{
        conformance::{inventory, read_model},
        strategies,
    },
};
use commerce_postgres::testing::Databases;
use commerce_postgres::{PgInventoryStore, PgReadModel};
use proptest::test_runner::{Config, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_model_on_postgres() {
    let dbs = Databases::new();
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner(32)
            .run(&inventory::inventory_ops(), |ops| {
                // A fresh database per case: expiry sweeps every due reservation in the store.
                handle.block_on(async {
                    let store = PgInventoryStore::new(dbs.fresh().await);
                    inventory::check_model(&store, 1, &ops).await;
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    dbs.cleanup().await;
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_walk_matches_the_oracle_on_postgres() {
    let dbs = Databases::new();
    let store = PgReadModel::new(dbs.fresh().await);
    let handle = tokio::runtime::Handle::current();
    let strategy = (strategies::catalog(30), strategies::product_query());
    let result = tokio::task::block_in_place(|| {
        runner(48)
            .run(&strategy, |(views, query)| {
                handle.block_on(async {
                    store.reset().await.unwrap();
                    read_model::load(&store, &views).await;
                    read_model::assert_listing_matches_oracle(&store, &views, &query).await;
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    dbs.cleanup().await;
    result.unwrap();
}

/// What a storefront replica serves: a memory copy fed from the PostgreSQL read model's
/// changes, walked page by page against the oracle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_walk_matches_the_oracle_on_a_replica_of_postgres() {
    use std::sync::Arc;

    use commerce_core::services::replica::ReplicaSync;
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let store = PgReadModel::new(pool.clone());
    let feed = Arc::new(commerce_postgres::PgReadModelFeed::new(pool));
    let handle = tokio::runtime::Handle::current();
    let strategy = (strategies::catalog(30), strategies::product_query());
    let result = tokio::task::block_in_place(|| {
        runner(32)
            .run(&strategy, |(views, query)| {
                handle.block_on(async {
                    store.reset().await.unwrap();
                    read_model::load(&store, &views).await;
                    let copy = Arc::new(commerce_memory::MemoryReadModel::new());
                    ReplicaSync::new(feed.clone(), copy.clone(), 7).catch_up().await.unwrap();
                    read_model::assert_listing_matches_oracle(&*copy, &views, &query).await;
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    dbs.cleanup().await;
    result.unwrap();
}
