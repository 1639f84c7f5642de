//! Every listing query shape is served by an index at every table size: on read models of
//! 1,000, 10,000 and 100,000 products, with each filter alone and several combined, no plan
//! reads the whole table and then sorts what matched (the plan the planner once picked
//! for a text + attribute query on 10,000 products, at a quarter of the other shapes'
//! speed). A caught-up replica's poll of the read model's changes is an index probe.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::BTreeMap;

use commerce_core::{
    CollectionId, ProductId,
    catalog::{AttributeName, AttributeValue},
    ports::{FeedPosition, ReadModelFeed},
    query::{Cursor, PageSize, ProductQuery, SearchTerm, SortKey, SortOrder},
};
use std::time::Duration;

use commerce_postgres::{
    PgReadModel, PgReadModelFeed, query_options,
    testing::{Databases, url_for},
};
use sqlx::postgres::PgPoolOptions;

/// `$1` products: nine in ten active, 8 collections, 4 colours, 3 sizes, 100 + 1,000 words.
const SEED: &str = "
INSERT INTO commerce_read.products
    (id, status, price_amount, name_key, created_us, available_stock, collection_id, attributes, search,
     product_version, stock_version, view)
SELECT gen_random_uuid(),
       CASE WHEN i % 10 = 0 THEN 'draft' ELSE 'active' END,
       (i * 7919) % 20000,
       'name ' || ((i * 31) % 1000),
       1700000000000000 + i,
       i % 50,
       ('00000000-0000-0000-0000-00000000000' || (i % 8))::uuid,
       jsonb_build_object('colour', (ARRAY['red','blue','green','black'])[i % 4 + 1], 'size', (ARRAY['S','M','L'])[i % 3 + 1]),
       array_to_tsvector(ARRAY['tee' || (i % 100), 'word' || (i % 1000)]),
       1, 1, '{}'::jsonb
FROM generate_series(1, $1) AS i";

fn queries() -> Vec<(String, ProductQuery)> {
    let colour = BTreeMap::from([(AttributeName::parse("colour").unwrap(), AttributeValue::parse("red").unwrap())]);
    let filters: Vec<(&str, ProductQuery)> = vec![
        ("no filter", ProductQuery::default()),
        (
            "collection",
            ProductQuery {
                collection: Some(CollectionId::from_uuid(uuid::Uuid::from_u128(3))),
                ..ProductQuery::default()
            },
        ),
        ("price range", ProductQuery { min_price: Some(100), max_price: Some(5000), ..ProductQuery::default() }),
        ("in stock", ProductQuery { in_stock_only: true, ..ProductQuery::default() }),
        ("attribute", ProductQuery { attributes: colour.clone(), ..ProductQuery::default() }),
        ("text", ProductQuery { text: Some(SearchTerm::parse("tee4").unwrap()), ..ProductQuery::default() }),
        (
            "collection + attribute",
            ProductQuery {
                collection: Some(CollectionId::from_uuid(uuid::Uuid::from_u128(2))),
                attributes: colour.clone(),
                ..ProductQuery::default()
            },
        ),
        (
            "text + attribute",
            ProductQuery {
                text: Some(SearchTerm::parse("tee1").unwrap()),
                attributes: colour.clone(),
                ..ProductQuery::default()
            },
        ),
        (
            "attribute + in stock + price",
            ProductQuery {
                attributes: colour.clone(),
                in_stock_only: true,
                max_price: Some(5000),
                ..ProductQuery::default()
            },
        ),
        (
            "text + collection + in stock",
            ProductQuery {
                text: Some(SearchTerm::parse("word2").unwrap()),
                collection: Some(CollectionId::from_uuid(uuid::Uuid::from_u128(5))),
                in_stock_only: true,
                ..ProductQuery::default()
            },
        ),
        (
            "everything",
            ProductQuery {
                text: Some(SearchTerm::parse("word1").unwrap()),
                collection: Some(CollectionId::from_uuid(uuid::Uuid::from_u128(1))),
                min_price: Some(10),
                max_price: Some(15_000),
                in_stock_only: true,
                attributes: colour,
                ..ProductQuery::default()
            },
        ),
    ];
    let mut all = vec![];
    for sort in SortOrder::ALL {
        for (name, filter) in &filters {
            let base = ProductQuery { sort, limit: PageSize::new(20).unwrap(), ..filter.clone() };
            let key = match sort {
                SortOrder::PriceAsc | SortOrder::PriceDesc => SortKey::Price(9000),
                SortOrder::Name => SortKey::Name("name 500".into()),
                SortOrder::Newest => SortKey::Created(1_700_000_000_050_000),
                SortOrder::StockDesc => SortKey::Stock(25),
            };
            let cursor = Cursor { sort, key, id: ProductId::from_uuid(uuid::Uuid::from_u128(u128::MAX / 2)) };
            all.push((format!("{} / {name}", sort.as_str()), base.clone()));
            all.push((format!("{} / {name} / next page", sort.as_str()), ProductQuery { after: Some(cursor), ..base }));
        }
    }
    all
}

/// A plan that reads every row of the table and sorts the matches: cost grows with the
/// catalog, whatever the page size.
fn scans_then_sorts(plan: &[String]) -> bool {
    plan.iter().any(|l| l.contains("Seq Scan"))
        && plan.iter().any(|l| l.trim_start().starts_with("Sort") || l.contains("-> Sort"))
}

#[tokio::test]
async fn no_listing_query_scans_the_table_then_sorts_at_any_size() {
    let dbs = Databases::new();
    let mut bad = vec![];
    for size in [1_000_i32, 10_000, 100_000] {
        let pool = dbs.fresh().await;
        sqlx::query(SEED).bind(size).execute(&pool).await.unwrap();
        sqlx::query("ANALYZE commerce_read.products").execute(&pool).await.unwrap();
        // The plans of the pool that serves customers (`storefront-api --read-model postgres`).
        let name = pool.connect_options().get_database().unwrap().to_owned();
        let options = query_options(&url_for(&name), Duration::from_secs(5)).unwrap();
        let store = PgReadModel::new(PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap());
        for (name, query) in queries() {
            let plan = store.explain_listing(&query).await.unwrap();
            // At 100,000 products not even a scan without a sort is acceptable.
            let full_scan = size >= 100_000 && plan.iter().any(|l| l.contains("Seq Scan"));
            if scans_then_sorts(&plan) || full_scan {
                bad.push(format!("{size} products, {name}:\n  {}", plan.join("\n  ")));
            }
        }
    }
    dbs.cleanup().await;
    assert!(bad.is_empty(), "{} listing plans scan the table and sort:\n{}", bad.len(), bad.join("\n"));
}

/// The buffers the plan's root node touched (`Buffers: shared hit=N read=M`, its first
/// such line; planning's come after).
fn root_buffers(plan: &[String]) -> u64 {
    let Some(line) = plan.iter().find(|l| l.trim_start().starts_with("Buffers:")) else {
        panic!("no Buffers line in {plan:?}");
    };
    line.split_whitespace()
        .filter_map(|w| {
            w.split_once('=').and_then(|(k, v)| ["hit", "read", "dirtied", "written"].contains(&k).then_some(v))
        })
        .map(|v| v.parse::<u64>().unwrap())
        .sum()
}

/// A replica polls the feed every 20 ms. Once caught up, a poll finds nothing, and must
/// cost an index probe whatever the catalog's size: the poll once walked the whole change
/// index (84 ms a poll, most of a core, at 1,000,000 products).
#[tokio::test]
async fn a_caught_up_feed_poll_is_an_index_probe_at_any_size() {
    let dbs = Databases::new();
    let mut costs = vec![];
    for size in [1_000_i32, 100_000] {
        let pool = dbs.fresh().await;
        let feed = PgReadModelFeed::new(pool.clone());
        // Caught up on the empty model; then a catalog written before it (stamped 0, as
        // rows written before the feed existed are).
        let position = feed.changes(&FeedPosition::default(), 1_000).await.unwrap();
        assert!(position.caught_up);
        let position = position.next;
        sqlx::query(SEED).bind(size).execute(&pool).await.unwrap();
        sqlx::query("UPDATE commerce_read.products SET change_xid = '0'").execute(&pool).await.unwrap();
        // Without the index entries of the rows the update replaced.
        sqlx::query("VACUUM ANALYZE commerce_read.products").execute(&pool).await.unwrap();
        assert!(feed.changes(&position, 1_000).await.unwrap().products.is_empty());
        let plan = feed.explain_changes(&position, 1_000).await.unwrap();
        costs.push((size, root_buffers(&plan), plan.join("\n  ")));
    }
    dbs.cleanup().await;
    for (size, buffers, plan) in &costs {
        assert!(*buffers <= 10, "a caught-up poll at {size} products touched {buffers} buffers:\n  {plan}");
    }
}
