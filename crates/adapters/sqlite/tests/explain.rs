//! Every listing query shape is served by an index: on a 100,000-product read model, no
//! plan scans the product table (a full scan, then a sort of every row). A sort of the
//! rows an index or the search index found is fine.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::BTreeMap;

use commerce_core::{
    CollectionId, ProductId,
    catalog::{AttributeName, AttributeValue},
    query::{Cursor, PageSize, ProductQuery, SearchTerm, SortKey, SortOrder},
};
use commerce_sqlite::testing::{Databases, execute};

const SEED_100K: &str = "
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO read_products
    (id, status, price_amount, name_key, created_us, available_stock, collection_id, product_version, stock_version, view)
SELECT randomblob(16),
       CASE WHEN i % 10 = 0 THEN 'draft' ELSE 'active' END,
       (i * 7919) % 20000,
       'name ' || ((i * 31) % 1000),
       1700000000000000 + i,
       i % 50,
       unhex('000000000000000000000000000000' || printf('%02x', i % 8)),
       1, 1, '{}'
FROM n;
INSERT INTO read_attributes (product_seq, name, value)
    SELECT seq, 'colour', CASE seq % 4 WHEN 0 THEN 'red' WHEN 1 THEN 'blue' WHEN 2 THEN 'green' ELSE 'black' END FROM read_products;
INSERT INTO read_attributes (product_seq, name, value)
    SELECT seq, 'size', CASE seq % 3 WHEN 0 THEN 'S' WHEN 1 THEN 'M' ELSE 'L' END FROM read_products;
INSERT INTO read_search (rowid, tokens) SELECT seq, 'tee' || (seq % 100) || ' word' || (seq % 1000) FROM read_products;
ANALYZE;";

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

#[tokio::test]
async fn no_listing_query_scans_the_table() {
    let dbs = Databases::new();
    let db = dbs.fresh().await;
    execute(&db, SEED_100K).await;
    let store = db.read_model();
    let mut scans = vec![];
    for (name, query) in queries() {
        let plan = store.explain_listing(&query).await.unwrap();
        // `SCAN read_products` alone reads every row; `SCAN ... USING INDEX` walks an index in order.
        if plan.iter().any(|line| line.starts_with("SCAN read_products") && !line.contains("USING")) {
            scans.push(format!("{name}:\n  {}", plan.join("\n  ")));
        }
    }
    assert!(scans.is_empty(), "full scans in {} listing plans:\n{}", scans.len(), scans.join("\n"));
}
