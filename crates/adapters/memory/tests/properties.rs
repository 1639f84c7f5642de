//! Property tests of the business rules over the memory adapters:
//! the inventory model check and the listing walk.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

use commerce_core::testkit::{
    conformance::{inventory, read_model},
    strategies,
};
use commerce_memory::{MemoryInventoryStore, MemoryReadModel};
use futures::executor::block_on;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random reserve/commit/release/expire/set-on-hand sequences never make
    /// `available` negative, never create or lose units, agree with the reference
    /// ledger step by step, and idempotent retries change nothing.
    #[test]
    fn inventory_model(ops in inventory::inventory_ops()) {
        let store = MemoryInventoryStore::new();
        block_on(inventory::check_model(&store, 1, &ops));
    }

    /// For random catalogs and queries, walking every page returns exactly the
    /// matching products, each once, in the requested order, ties included.
    #[test]
    fn listing_walk_matches_the_oracle(views in strategies::catalog(40), query in strategies::product_query()) {
        let store = MemoryReadModel::new();
        block_on(async {
            read_model::load(&store, &views).await;
            read_model::assert_listing_matches_oracle(&store, &views, &query).await;
        });
    }
}
