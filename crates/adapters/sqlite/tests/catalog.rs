//! The SQLite catalog beyond its conformance suite: opening a file whose products
//! predate the console's search.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::{
    ProductId, Timestamp,
    catalog::{ProductName, ProductSearch},
    money::{Currency, Money},
    ports::ProductStore,
    testkit::strategies::product,
};
use commerce_sqlite::{SqliteDb, testing};

/// Products written before the search key existed are found once the file is opened
/// again, with the key computed by the core (SQLite's `lower()` folds ASCII only).
#[tokio::test]
async fn opening_fills_the_search_key_of_older_products() {
    let temp = testing::TempDatabase::new().await;
    let db = temp.db().clone();
    let mut p = product(
        ProductId::from_uuid(uuid::Uuid::now_v7()),
        1,
        Money::new(100, Currency::USD).unwrap(),
        Timestamp::EPOCH,
    );
    p.name = ProductName::parse("ÉCLAIR Tin").unwrap();
    db.catalog().insert_product(&p, &[]).await.unwrap();
    testing::execute(&db, "UPDATE products SET search_key = NULL").await;
    let search = ProductSearch::parse("éclair").unwrap();
    assert_eq!(db.catalog().search_products(&search, None, 10).await.unwrap(), vec![], "no key, not found");
    db.close().await;

    let db = SqliteDb::open_dir(temp.dir(), 2).await.unwrap();
    assert_eq!(db.catalog().search_products(&search, None, 10).await.unwrap(), vec![p]);
    db.close().await;
}
