//! Test databases (feature `testing`): a fresh, migrated database per test case
//! (`CREATE DATABASE`, dropped at the end), so cases run in parallel without
//! seeing each other's rows.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a test fails loudly (panics) when it is not there.

#![allow(clippy::missing_panics_doc, clippy::unwrap_used, reason = "test support: failures must be loud")]

use std::{
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::PgPool;
use sqlx::{Connection, Executor, PgConnection, postgres::PgPoolOptions};

/// The server-level URL tests connect to.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of `database` on the test server.
pub fn url_for(database: &str) -> String {
    let admin = admin_url();
    match admin.rfind('/') {
        Some(i) if admin[..i].contains("://") && admin[i..].len() > 1 && !admin[..i].ends_with('/') => {
            format!("{}/{database}", &admin[..i])
        }
        _ => format!("{admin}/{database}"),
    }
}

/// Databases made by one test; `cleanup` drops them all.
#[derive(Default)]
pub struct Databases {
    names: Mutex<Vec<String>>,
}

impl Databases {
    /// No databases yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new database with both migration sets applied.
    pub async fn fresh(&self) -> PgPool {
        let name = self.fresh_name().await;
        let pool = PgPoolOptions::new().max_connections(4).connect(&url_for(&name)).await.unwrap();
        crate::migrate_write(&pool).await.unwrap();
        crate::migrate_read(&pool).await.unwrap();
        pool
    }

    /// A new, empty database (not migrated); returns its name.
    pub async fn fresh_name(&self) -> String {
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be running at {} for these tests: {e}", admin_url()));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        drop_stale(&mut admin, now).await;
        let name = format!("commerce_test_{now}_{}", uuid::Uuid::new_v4().simple());
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
        self.names.lock().unwrap().push(name.clone());
        name
    }

    /// Drops every database this test made (connections are closed by force).
    pub async fn cleanup(&self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap());
        let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
        for name in names {
            admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.unwrap();
        }
    }
}

/// Drops test databases left behind by crashed runs more than an hour ago.
async fn drop_stale(admin: &mut PgConnection, now: u64) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'commerce_test_%'")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    for name in names {
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
        if created + 3600 < now {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
        }
    }
}
