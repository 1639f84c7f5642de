//! The PostgreSQL catalog beyond its conformance suite: migrating a database whose
//! products predate the console's search.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::{
    ProductId, Timestamp,
    catalog::{ProductName, ProductSearch},
    money::{Currency, Money},
    ports::ProductStore,
    testkit::strategies::product,
};
use commerce_postgres::{PgCatalogStore, migrate_write, testing::Databases};

/// Products written before the search key existed are found once the migrations run,
/// with the key computed by the core (non-ASCII case folded too).
#[tokio::test]
async fn migrating_fills_the_search_key_of_older_products() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let store = PgCatalogStore::new(pool.clone());
    let mut p = product(
        ProductId::from_uuid(uuid::Uuid::now_v7()),
        1,
        Money::new(100, Currency::USD).unwrap(),
        Timestamp::EPOCH,
    );
    p.name = ProductName::parse("ÉCLAIR Tin").unwrap();
    store.insert_product(&p, &[]).await.unwrap();
    sqlx::query("UPDATE commerce.products SET search_key = NULL").execute(&pool).await.unwrap();
    let search = ProductSearch::parse("éclair").unwrap();
    assert_eq!(store.search_products(&search, None, 10).await.unwrap(), vec![], "a product without a key is not found");

    migrate_write(&pool).await.unwrap();
    assert_eq!(store.search_products(&search, None, 10).await.unwrap(), vec![p]);
    dbs.cleanup().await;
}
