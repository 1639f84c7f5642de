//! Every listing query shape is served by an index: on a 100,000-product read
//! model, no plan contains a sequential scan.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::BTreeMap;

use commerce_core::{
    CollectionId, ProductId,
    catalog::{AttributeName, AttributeValue},
    query::{Cursor, PageSize, ProductQuery, SearchTerm, SortKey, SortOrder},
};
use commerce_postgres::PgReadModel;
use commerce_postgres::testing::Databases;

const SEED_100K: &str = "
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
FROM generate_series(1, 100000) AS i";

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
    let pool = dbs.fresh().await;
    sqlx::query(SEED_100K).execute(&pool).await.unwrap();
    sqlx::query("ANALYZE commerce_read.products").execute(&pool).await.unwrap();
    let store = PgReadModel::new(pool);
    let mut seq_scans = vec![];
    for (name, query) in queries() {
        let plan = store.explain_listing(&query).await.unwrap();
        if plan.iter().any(|line| line.contains("Seq Scan")) {
            seq_scans.push(format!("{name}:\n  {}", plan.join("\n  ")));
        }
    }
    dbs.cleanup().await;
    assert!(seq_scans.is_empty(), "sequential scans in {} listing plans:\n{}", seq_scans.len(), seq_scans.join("\n"));
}
