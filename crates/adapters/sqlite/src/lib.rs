//! # commerce-sqlite
//!
//! The whole shop on one SQLite file (the bundled SQLite: no system library):
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
//! [`SqliteDb`] holds **one writer connection** on a thread of its own and a pool of
//! read-only connections (sqlx). Every change is a closure the writer's thread runs whole,
//! from `BEGIN IMMEDIATE` to `COMMIT`, one after the other in arrival order (rusqlite, on
//! the same bundled library): writes are serialised in the process (SQLite allows one
//! writer at a time anyway), a change that reads then writes (reserve stock, claim a key)
//! never races another, so no row locks or retries are needed, and a change costs one
//! hand-off between threads instead of one per statement. Reads that need no transaction
//! (listings, lookups) go to the readers and, in WAL mode, run while the writer commits,
//! seeing the last committed state. The migrations run through sqlx before the writer
//! starts.
//!
//! Settings: WAL journal, `synchronous = NORMAL` (a commit survives a crash of the process,
//! `kill -9` included; a power loss may lose the last commits, never consistency), foreign
//! keys on, a 5 s busy timeout (another process, such as `commerce backup`, may hold the
//! file briefly), a 32 MB page cache per connection. Each change and its events commit
//! together (the transactional outbox); constraint violations map to domain errors
//! (unique -> `Duplicate`, foreign key -> `MissingReference` / `InUse`), anything else is
//! `Unavailable`.

mod catalog;
mod deadletters;
mod idempotency;
mod inventory;
mod notify;
mod orders;
mod outbox;
mod pricing;
mod read_model;
mod shop;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::{path::Path, str::FromStr as _, time::Duration};

pub use catalog::SqliteCatalogStore;
use commerce_core::{
    catalog::Version,
    events::EventEnvelope,
    inventory::InventoryError,
    ports::{EventError, StoreError},
};
pub use deadletters::SqliteDeadLetters;
pub use idempotency::SqliteIdempotencyStore;
pub use inventory::SqliteInventoryStore;
pub use notify::SqliteDeliveryLog;
pub use orders::SqliteOrderStore;
pub use outbox::{SqliteOutbox, SqliteOutboxConsumer};
pub use pricing::SqlitePricingStore;
pub use read_model::SqliteReadModel;
use rusqlite::{OptionalExtension as _, Transaction, ffi, params};
pub use shop::SqlitePipeline;
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use writer::{Abort, Answer, PortError, Writer};

/// The database file name inside a data directory.
pub const DATABASE_FILE: &str = "commerce.sqlite3";

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The folder could not be created.
    #[error("creating the data folder: {0}")]
    Folder(#[from] std::io::Error),
    /// The file could not be opened or read.
    #[error("opening the database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migrating the database: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The writer's connection or thread could not be started.
    #[error("starting the database writer: {0}")]
    Writer(String),
}

/// One database file: its single writer and a pool of readers.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    writer: Writer,
    reader: SqlitePool,
    /// The read model's collections as last read, kept until a change to them.
    collections: std::sync::Arc<std::sync::Mutex<read_model::CollectionsCache>>,
}

impl SqliteDb {
    /// Opens (creating it if needed) the database at `path` and applies the migrations.
    /// `readers` is the size of the read pool.
    pub async fn open(path: &Path, readers: u32) -> Result<Self, OpenError> {
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
            .pragma("cache_size", "-32768");
        {
            // A pool of one rather than a bare connection: sqlx's migrator on a `&mut`
            // connection makes the caller's future not provably `Send`.
            let setup = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
            migrate(&setup).await?;
            catalog::fill_search_keys(&setup).await?;
            // Planner statistics for tables that grew since they were last gathered (cheap
            // when nothing changed); also run on close.
            sqlx::query("PRAGMA optimize = 0x10002").execute(&setup).await?;
            setup.close().await;
        }
        let writer = Writer::open(path)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // A read-only connection has no state to lose between queries: skip the ping
            // the pool would otherwise send before handing it out.
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader, collections: std::sync::Arc::default() })
    }

    /// The database in `dir` ([`DATABASE_FILE`]), creating the folder if needed: readable
    /// by its owner only, as it holds customers' e-mail addresses and the shop's secrets.
    pub async fn open_dir(dir: &Path, readers: u32) -> Result<Self, OpenError> {
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

    /// Shipping methods and tax rates on this database.
    pub fn pricing(&self) -> SqlitePricingStore {
        SqlitePricingStore::new(self.clone())
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

    /// The notifier's poller on the outbox (see [`SqliteOutboxConsumer::notifications`]).
    pub fn notifications_consumer(&self) -> SqliteOutboxConsumer {
        SqliteOutboxConsumer::notifications(self.clone())
    }

    /// Parked events, and the way back to the outbox.
    pub fn dead_letters(&self) -> SqliteDeadLetters {
        SqliteDeadLetters::new(self.clone())
    }

    /// The delivery log of customer messages.
    pub fn deliveries(&self) -> SqliteDeliveryLog {
        SqliteDeliveryLog::new(self.clone())
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

    /// Closes the readers, then lets the writer finish its queue and closes it (the last
    /// connection checkpoints the WAL).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Runs `work` as one transaction on the writer (see [`Abort`]): committed when it
    /// returns `Ok`, rolled back otherwise; a database failure becomes `Unavailable`.
    fn write<T, E>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T, Abort<E>> + Send + 'static) -> Answer<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        self.writer.transaction(work)
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

impl PortError for StoreError {
    fn unavailable(reason: String) -> Self {
        Self::Unavailable(reason)
    }
}

impl PortError for InventoryError {
    fn unavailable(reason: String) -> Self {
        Self::Unavailable(reason)
    }
}

impl PortError for EventError {
    fn unavailable(reason: String) -> Self {
        Self::Unavailable(reason)
    }
}

/// Applies the embedded migrations. Idempotent.
async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

/// The constraint a writer statement violated, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Violation {
    Unique,
    ForeignKey,
}

fn violation(e: &rusqlite::Error) -> Option<Violation> {
    match e {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(Violation::Unique),
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// A writer statement's failure as the store contract sees it: a unique violation is a
/// `Duplicate` of `what`, anything else a database failure.
fn duplicate(e: rusqlite::Error, what: &str) -> Abort<StoreError> {
    match violation(&e) {
        Some(Violation::Unique) => Abort::Refused(StoreError::Duplicate(what.to_owned())),
        _ => Abort::Database(e),
    }
}

/// Why an optimistic update touched no row: the record is gone or moved on. Read inside
/// the failed change's transaction, so nothing moved in between.
fn missed_update(tx: &Transaction<'_>, table: &str, id: uuid::Uuid, expected: Version) -> Abort<StoreError> {
    let sql = format!("SELECT version FROM {table} WHERE id = ?");
    match tx.query_row(&sql, [id], |r| r.get::<_, i64>(0)).optional() {
        Ok(None) => Abort::Refused(StoreError::NotFound),
        Ok(Some(actual)) => {
            Abort::Refused(StoreError::VersionConflict { expected, actual: Version::new(uint(actual)) })
        }
        Err(e) => Abort::Database(e),
    }
}

/// A reader's failure: the store is `Unavailable`.
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

/// The outbox rows of `events`, encoded before they go to the writer.
#[derive(Debug)]
struct OutboxRows(Vec<OutboxRow>);

#[derive(Debug)]
struct OutboxRow {
    event_id: uuid::Uuid,
    aggregate_type: &'static str,
    aggregate_id: uuid::Uuid,
    aggregate_version: i64,
    envelope: String,
}

impl OutboxRows {
    fn encode(events: &[EventEnvelope]) -> Result<Self, serde_json::Error> {
        events
            .iter()
            .map(|e| {
                Ok(OutboxRow {
                    event_id: e.event_id.as_uuid(),
                    aggregate_type: e.aggregate_type.as_str(),
                    aggregate_id: e.aggregate_id,
                    aggregate_version: int(e.aggregate_version),
                    envelope: serde_json::to_string(e)?,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Appends the rows to the outbox inside the writer's transaction.
    fn append(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let created = now_us();
        let mut insert = tx.prepare_cached(
            "INSERT INTO outbox (event_id, aggregate_type, aggregate_id, aggregate_version, envelope, created_us)
             VALUES (?, ?, ?, ?, ?, ?)",
        )?;
        for r in &self.0 {
            insert.execute(params![
                r.event_id,
                r.aggregate_type,
                r.aggregate_id,
                r.aggregate_version,
                r.envelope,
                created
            ])?;
        }
        Ok(())
    }
}
