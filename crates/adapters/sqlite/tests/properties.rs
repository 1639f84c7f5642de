//! The core's property tests against SQLite: the inventory model check and the
//! listing walk, each over many generated cases on one database.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::{
    ports::ProductProjection,
    testkit::{
        conformance::{inventory, read_model},
        strategies,
    },
};
use commerce_sqlite::testing::Databases;
use proptest::test_runner::{Config, TestRunner};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_model_on_sqlite() {
    let dbs = Databases::new();
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner(32)
            .run(&inventory::inventory_ops(), |ops| {
                // A fresh database per case: expiry sweeps every due reservation in the store.
                handle.block_on(async {
                    let store = dbs.fresh().await.inventory();
                    inventory::check_model(&store, 1, &ops).await;
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_walk_matches_the_oracle_on_sqlite() {
    let dbs = Databases::new();
    let store = dbs.fresh().await.read_model();
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
    result.unwrap();
}
