//! The PostgreSQL read model under interleavings the conformance suite cannot force.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::time::Duration;

use commerce_core::{
    ProductId, Timestamp,
    money::{Currency, Money},
    ports::{ProductProjection, ProductReadModel},
    testkit::strategies::product,
};
use commerce_postgres::{PgReadModel, testing::Databases};

/// A product's first version and its stock applied at once by two consumers (they read
/// different topics). The product's insert is held after it has read the stock table,
/// the stock update commits meanwhile and finds no product row to update: the product
/// must still end with that stock, not the stock its insert read.
///
/// The hold is a third session's uncommitted row with the same id: an upsert waits for
/// it, and a store that read the stock before waiting would write a stale level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_committed_while_the_product_is_inserted_is_not_lost() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let read = PgReadModel::new(pool.clone());
    let id = ProductId::from_uuid(uuid::Uuid::now_v7());
    let p = product(id, 1, Money::new(100, Currency::USD).unwrap(), Timestamp::from_unix_micros(1_000_000));
    assert_eq!(read.apply_stock(id, 5, 1).await, Ok(true), "stock before the product");

    let mut holder = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO commerce_read.products (id, status, price_amount, name_key, created_us, available_stock, attributes,
             search, product_version, stock_version, view)
         VALUES ($1, 'draft', 0, '', 0, 0, '{}', ''::tsvector, 0, 0, '{}')",
    )
    .bind(id.as_uuid())
    .execute(&mut *holder)
    .await
    .unwrap();

    let inserting = tokio::spawn({
        let read = read.clone();
        async move { read.apply_product(&p).await }
    });
    // Let the insert start and wait on the holder's row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!inserting.is_finished(), "the product's insert waits for the holder");
    let stocking = tokio::spawn({
        let read = read.clone();
        async move { read.apply_stock(id, 13, 2).await }
    });
    // A store that does not serialise by product commits the stock now, finding no row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.rollback().await.unwrap();
    let stocked = stocking.await.unwrap();
    assert_eq!(stocked, Ok(true), "the newer stock applies");
    assert_eq!(inserting.await.unwrap(), Ok(true), "the product applies");

    let view = read.get(id).await.unwrap().unwrap();
    assert_eq!((view.available_stock, view.stock_version), (13, 2), "the newest stock is shown");
    dbs.cleanup().await;
}
