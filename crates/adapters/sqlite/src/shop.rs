//! A whole shop on one SQLite file: the ports of [`SqliteDb`] in a shop builder, and the
//! pipeline that carries the outbox to the read model (`outbox -> poller -> projector`).

use std::sync::Arc;

use commerce_core::{
    ports::StoreError,
    services::{
        Env,
        events::{ProjectionError, Projector},
        inventory::InventoryService,
        shop::{Shop, ShopBuilder},
    },
};

use crate::{Abort, SqliteDb, SqliteOutboxConsumer, unavailable};

impl SqliteDb {
    /// A shop builder with the catalog, read model, inventory (its stock events written in
    /// its transactions), orders, shipping methods and tax rates on this database. Set the idempotency store and secret
    /// and the gateway, then build.
    pub fn shop(&self, env: Env) -> ShopBuilder {
        Shop::builder(env.clone())
            .catalog(Arc::new(self.catalog()))
            .read_model(Arc::new(self.read_model()))
            .inventory(InventoryService::with_transactional_events(Arc::new(self.inventory()), env))
            .orders(Arc::new(self.orders()))
            .pricing(Arc::new(self.pricing()))
    }

    /// The value of setting `name`, storing `generate()` first if it has none: the first
    /// caller's value wins, and every later start reads it back.
    pub async fn setting_or_insert(&self, name: &str, generate: impl FnOnce() -> String) -> Result<String, StoreError> {
        let (name, value) = (name.to_owned(), generate());
        self.write(move |tx| {
            tx.prepare_cached("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")?
                .execute([&name, &value])?;
            let stored: String =
                tx.prepare_cached("SELECT value FROM settings WHERE name = ?")?.query_row([&name], |r| r.get(0))?;
            Ok::<_, Abort<StoreError>>(stored)
        })
        .await
    }

    /// True when the catalog holds no product and no collection (a new shop).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM products) AND NOT EXISTS (SELECT 1 FROM collections)")
            .fetch_one(self.reader())
            .await
            .map_err(|e| unavailable(&e))
    }
}

/// The event pipeline of a SQLite shop: the outbox poller feeding the projector.
pub struct SqlitePipeline {
    projector: Projector,
    consumer: SqliteOutboxConsumer,
}

impl SqlitePipeline {
    /// The pipeline of `db`.
    pub fn new(db: &SqliteDb) -> Self {
        Self { projector: Projector::new(Arc::new(db.read_model())), consumer: db.outbox_consumer() }
    }

    /// Projects up to `max` events; returns how many (the step a background job loops on).
    pub async fn step(&self, max: usize) -> Result<usize, ProjectionError> {
        self.projector.step(&self.consumer, max).await
    }

    /// Projects until nothing is pending; returns how many events moved.
    pub async fn sync(&self) -> Result<usize, ProjectionError> {
        let mut moved = 0;
        loop {
            match self.step(1_000).await? {
                0 => return Ok(moved),
                n => moved += n,
            }
        }
    }
}
