//! Where the embedded shop keeps its data: a SQLite file in the data folder (the default,
//! kept across restarts) or memory (`--memory`: gone when the process stops).

use std::{path::Path, sync::Arc};

use anyhow::Context as _;
use commerce_core::{
    idempotency::IdempotencySecret,
    ports::{DeliveryLog, EventConsumer, IdGenerator as _, OrderStore},
    services::{Env, shop::ShopBuilder},
};
use commerce_memory::{MemoryAdapters, MemoryDeliveryLog};
use commerce_process::IdempotencyArgs;
use commerce_runtime::RandomIds;
use commerce_sqlite::{SqliteDb, SqlitePipeline};

/// The idempotency secret a SQLite shop generated on first start (see [`Storage::shop`]).
const SECRET_SETTING: &str = "idempotency_secret";

/// The shop's storage and its event pipeline.
pub enum Storage {
    /// Everything in memory.
    Memory(MemoryAdapters),
    /// One SQLite file.
    Sqlite {
        /// The database.
        db: SqliteDb,
        /// Its outbox-to-read-model pipeline.
        pipeline: Arc<SqlitePipeline>,
    },
}

impl Storage {
    /// Memory storage.
    pub fn memory() -> Self {
        Self::Memory(MemoryAdapters::new())
    }

    /// The SQLite database in `dir`, created and migrated if needed.
    pub async fn sqlite(dir: &Path) -> anyhow::Result<Self> {
        let db =
            SqliteDb::open_dir(dir, 8).await.with_context(|| format!("opening the database in {}", dir.display()))?;
        let pipeline = Arc::new(SqlitePipeline::new(&db));
        Ok(Self::Sqlite { db, pipeline })
    }

    /// A shop builder on this storage, with its idempotency store. The secret is the
    /// configured one or, on SQLite, the one generated on first start and kept in the
    /// database, so a retry after a restart is recognised; in memory, a fresh one.
    pub async fn shop(&self, env: Env, secret: &IdempotencyArgs) -> anyhow::Result<ShopBuilder> {
        Ok(match self {
            Self::Memory(adapters) => {
                adapters.shop(env).idempotency(adapters.idempotency.clone(), secret.secret_or_generated()?)
            }
            Self::Sqlite { db, .. } => {
                let secret = if let Some(configured) = secret.configured()? {
                    configured
                } else {
                    let generate = || format!("{}{}", RandomIds.new_secret(), RandomIds.new_secret());
                    let stored = db.setting_or_insert(SECRET_SETTING, generate).await?;
                    IdempotencySecret::new(stored.into_bytes()).map_err(|e| anyhow::anyhow!("the stored secret {e}"))?
                };
                db.shop(env).idempotency(Arc::new(db.idempotency()), secret)
            }
        })
    }

    /// True when no product or collection exists yet: only a new shop gets the demo catalog.
    pub async fn is_new(&self) -> anyhow::Result<bool> {
        match self {
            Self::Memory(_) => Ok(true),
            Self::Sqlite { db, .. } => Ok(db.is_empty().await?),
        }
    }

    /// One pass of the event pipeline; returns how many events moved.
    pub async fn step(&self, max: usize) -> Result<usize, String> {
        match self {
            Self::Memory(adapters) => adapters.step(max).await.map_err(|e| e.to_string()),
            Self::Sqlite { pipeline, .. } => pipeline.step(max).await.map_err(|e| e.to_string()),
        }
    }

    /// Runs the pipeline until nothing is pending.
    pub async fn sync(&self) -> anyhow::Result<()> {
        match self {
            Self::Memory(adapters) => adapters.sync().await.map(|_| ())?,
            Self::Sqlite { pipeline, .. } => pipeline.sync().await.map(|_| ())?,
        }
        Ok(())
    }

    /// What the notifier reads: the order events (its own place in them), the orders, and
    /// the log of messages sent.
    pub fn notifications(&self) -> (Arc<dyn EventConsumer>, Arc<dyn OrderStore>, Arc<dyn DeliveryLog>) {
        match self {
            Self::Memory(adapters) => (
                Arc::new(adapters.bus.consumer("notifications")),
                adapters.orders.clone(),
                Arc::new(MemoryDeliveryLog::new()),
            ),
            Self::Sqlite { db, .. } => {
                (Arc::new(db.notifications_consumer()), Arc::new(db.orders()), Arc::new(db.deliveries()))
            }
        }
    }

    /// The SQLite database, if that is the storage.
    pub fn sqlite_db(&self) -> Option<&SqliteDb> {
        match self {
            Self::Memory(_) => None,
            Self::Sqlite { db, .. } => Some(db),
        }
    }
}
