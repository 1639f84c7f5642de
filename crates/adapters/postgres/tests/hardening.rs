//! Regression tests of the security review's findings against PostgreSQL (issue 12).

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::time::Duration;

use commerce_postgres::{lazy_query_pool, testing::Databases};

/// A query on a customer-facing pool is cancelled by the server after the statement
/// timeout, so it gives its connection back instead of holding it.
#[tokio::test]
async fn customer_queries_are_cancelled_after_the_statement_timeout() {
    let dbs = Databases::new();
    let name = dbs.fresh_name().await;
    let pool = lazy_query_pool(&commerce_postgres::testing::url_for(&name), 1, Duration::from_millis(200)).unwrap();
    let err = sqlx::query("SELECT pg_sleep(5)").execute(&pool).await.unwrap_err();
    // 57014: query_canceled, by the statement timeout (not the client).
    match &err {
        sqlx::Error::Database(db) => assert_eq!(db.code().as_deref(), Some("57014"), "{err}"),
        other => panic!("expected a cancelled statement, got {other}"),
    }
    // The one connection is free again.
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
    pool.close().await;
    dbs.cleanup().await;
}
