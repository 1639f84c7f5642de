//! Test databases (feature `testing`): a fresh, migrated database file per test case, in a
//! temporary folder removed when the [`TempDatabase`] is dropped.

#![allow(clippy::missing_panics_doc, clippy::unwrap_used, reason = "test support: failures must be loud")]

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::SqliteDb;

/// A database file of its own, deleted on drop.
#[derive(Debug)]
pub struct TempDatabase {
    dir: PathBuf,
    db: SqliteDb,
}

impl TempDatabase {
    /// Creates and migrates a fresh database.
    pub async fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "commerce-sqlite-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        let db = SqliteDb::open_dir(&dir, 4).await.unwrap();
        Self { dir, db }
    }

    /// The database.
    pub fn db(&self) -> &SqliteDb {
        &self.db
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The databases of one test: each [`Databases::fresh`] call makes a new one, and all are
/// deleted when this is dropped.
#[derive(Debug, Default)]
pub struct Databases {
    made: std::sync::Mutex<Vec<TempDatabase>>,
}

impl Databases {
    /// No databases yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh, migrated database, kept until `self` is dropped.
    pub async fn fresh(&self) -> SqliteDb {
        let temp = TempDatabase::new().await;
        let db = temp.db().clone();
        self.made.lock().unwrap().push(temp);
        db
    }
}

/// Runs `sql` (several statements allowed) on the writer of `db`: for seeding test data.
pub async fn execute(db: &SqliteDb, sql: &str) {
    let sql = sql.to_owned();
    db.write(move |tx| Ok::<_, crate::Abort<commerce_core::ports::StoreError>>(tx.execute_batch(&sql)?)).await.unwrap();
}
