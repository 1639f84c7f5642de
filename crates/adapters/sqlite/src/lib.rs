//! # commerce-sqlite
//!
//! The whole shop on one SQLite file (sqlx with the bundled SQLite: no system library):
//!
//! | adapter | port(s) |
//! |---|---|
//! | [`SqliteCatalogStore`] | `ProductStore`, `CollectionStore`, `RestockLog`, `Outbox` |
//! | [`SqliteOrderStore`] | `OrderStore` |
//! | [`SqliteIdempotencyStore`] | `IdempotencyStore` |
//! | [`SqliteInventoryStore`] | `InventoryStore` |
//! | [`SqliteOutbox`] | `Outbox`, `EventPublisher` |
//! | [`SqliteOutboxConsumer`] | `EventConsumer` (the outbox poller that feeds the projector) |
//! | [`SqliteReadModel`] | `ProductReadModel`, `ProductProjection` (FTS5 search) |
//!
//! ## Concurrency model
//!
//! [`SqliteDb`] holds two pools on the file: **one writer connection** and a pool of
//! read-only connections. Every change runs in a transaction on the writer, so writes are
//! serialised in the process (SQLite allows one writer at a time anyway) and a transaction
//! that reads then writes (reserve stock, claim a key) never races another: no row locks or
//! retries are needed. Reads that need no transaction (listings, lookups) go to the readers
//! and, in WAL mode, run while the writer commits, seeing the last committed state.
//!
//! Settings: WAL journal, `synchronous = NORMAL` (a commit survives a crash of the process,
//! `kill -9` included; a power loss may lose the last commits, never consistency), foreign
//! keys on, a 5 s busy timeout (another process, such as `commerce backup`, may hold the
//! file briefly), reads through a 256 MB memory map plus a 32 MB cache per connection. Each change and its events commit together (the transactional outbox);
//! constraint violations map to domain errors (unique -> `Duplicate`, foreign key ->
//! `MissingReference` / `InUse`), anything else is `Unavailable`.

mod catalog;
mod idempotency;
mod inventory;
mod orders;
mod outbox;
mod read_model;
mod shop;
#[cfg(feature = "testing")]
pub mod testing;

use std::{path::Path, str::FromStr as _, time::Duration};

pub use catalog::SqliteCatalogStore;
use commerce_core::{events::EventEnvelope, ports::StoreError};
pub use idempotency::SqliteIdempotencyStore;
pub use inventory::SqliteInventoryStore;
pub use orders::SqliteOrderStore;
pub use outbox::{SqliteOutbox, SqliteOutboxConsumer};
pub use read_model::SqliteReadModel;
pub use shop::SqlitePipeline;
use sqlx::{
    Sqlite, SqlitePool, Transaction,
    error::ErrorKind,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// The database file name inside a data directory.
pub const DATABASE_FILE: &str = "commerce.sqlite3";

/// The two pools on one database file: a single writer and the readers.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The read model's collections as last read, kept until a change to them.
    collections: std::sync::Arc<std::sync::Mutex<read_model::CollectionsCache>>,
}

impl SqliteDb {
    /// Opens (creating it if needed) the database at `path` and applies the migrations.
    /// `readers` is the size of the read pool.
    pub async fn open(path: &Path, readers: u32) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("temp_store", "memory")
            // Reads map the file (the OS page cache, shared by every connection) and keep
            // a 32 MB page cache per connection.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-32768")
            // Checkpoints (WAL pages copied into the database) every 16 MB instead of 4 MB:
            // fewer, larger ones on the single writer.
            .pragma("wal_autocheckpoint", "4000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        // Planner statistics for tables that grew since they were last gathered (cheap
        // when nothing changed); also run on close.
        sqlx::query("PRAGMA optimize = 0x10002").execute(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader, collections: std::sync::Arc::default() })
    }

    /// The database in `dir` ([`DATABASE_FILE`]), creating the folder if needed: readable
    /// by its owner only, as it holds customers' e-mail addresses and the shop's secrets.
    pub async fn open_dir(dir: &Path, readers: u32) -> Result<Self, sqlx::Error> {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Self::open(&dir.join(DATABASE_FILE), readers).await
    }

    /// The catalog store.
    pub fn catalog(&self) -> SqliteCatalogStore {
        SqliteCatalogStore::new(self.clone())
    }

    /// The order store.
    pub fn orders(&self) -> SqliteOrderStore {
        SqliteOrderStore::new(self.clone())
    }

    /// The idempotency store.
    pub fn idempotency(&self) -> SqliteIdempotencyStore {
        SqliteIdempotencyStore::new(self.clone())
    }

    /// The inventory store.
    pub fn inventory(&self) -> SqliteInventoryStore {
        SqliteInventoryStore::new(self.clone())
    }

    /// The outbox, as relays and publishers see it.
    pub fn outbox(&self) -> SqliteOutbox {
        SqliteOutbox::new(self.clone(), 30)
    }

    /// The outbox poller that feeds the projector.
    pub fn outbox_consumer(&self) -> SqliteOutboxConsumer {
        SqliteOutboxConsumer::new(self.clone())
    }

    /// The storefront read model.
    pub fn read_model(&self) -> SqliteReadModel {
        SqliteReadModel::new(self.clone())
    }

    /// Writes a consistent copy of the database to `path` (`VACUUM INTO`) while the shop
    /// keeps running: it reads one snapshot, so writers are not blocked. `path` must not exist.
    pub async fn backup(&self, path: &Path) -> Result<(), sqlx::Error> {
        let target = path.to_str().ok_or_else(|| sqlx::Error::Configuration("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(&self.reader).await.map(|_| ())
    }

    /// `Ok` when the database answers.
    pub async fn ping(&self) -> Result<(), String> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// Closes both pools, waiting for their connections (the WAL is checkpointed by the last).
    pub async fn close(&self) {
        if let Err(e) = sqlx::query("PRAGMA optimize").execute(&self.writer).await {
            tracing::warn!(error = %e, "PRAGMA optimize at close");
        }
        self.reader.close().await;
        self.writer.close().await;
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

/// Applies the embedded migrations. Idempotent.
async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

/// What kind of constraint a database error violated, if any.
fn violation(e: &sqlx::Error) -> Option<ErrorKind> {
    match e {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

/// Maps a database error to the store contract: unique violations are `Duplicate` of
/// `what`, everything else (a full disk, an I/O error) is `Unavailable`.
fn store_error(e: &sqlx::Error, what: &str) -> StoreError {
    match violation(e) {
        Some(ErrorKind::UniqueViolation) => StoreError::Duplicate(what.to_owned()),
        _ => unavailable(e),
    }
}

fn unavailable(e: &sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(e: &serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("stored record does not decode: {e}"))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(&e))
}

fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(&e))
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Now, in microseconds since the epoch: for bookkeeping columns (`created_us`), not for
/// domain times, which come from the core's clock.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Appends events to the outbox inside the caller's transaction.
async fn append_events(tx: &mut Transaction<'_, Sqlite>, events: &[EventEnvelope]) -> Result<(), sqlx::Error> {
    let created = now_us();
    for e in events {
        let envelope = serde_json::to_string(e).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
        sqlx::query(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, aggregate_version, envelope, created_us)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(e.event_id.as_uuid())
        .bind(e.aggregate_type.as_str())
        .bind(e.aggregate_id)
        .bind(int(e.aggregate_version))
        .bind(envelope)
        .bind(created)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
