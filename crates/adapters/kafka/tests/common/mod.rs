//! What the pipeline proofs share: a write model on a fresh database with products
//! in it, and the comparison of the read model with the write model.

#![allow(dead_code, reason = "each proof uses part of it")]

use std::sync::Arc;

use commerce_core::{
    ProductId,
    catalog::{MoneyInput, ProductInput},
    ports::{InventoryStore, ProductReadModel},
    services::{Env, catalog::CatalogService, inventory::InventoryService},
};
use commerce_postgres::{PgCatalogStore, PgInventoryStore, PgReadModel};
use commerce_runtime::{RandomIds, SystemClock};
use sqlx::PgPool;

pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A fresh topic prefix with its topics created; fails loudly without a broker.
pub async fn fresh_topics(partitions: i32) -> String {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    commerce_kafka::ensure_topics(&brokers(), &prefix, partitions)
        .await
        .unwrap_or_else(|e| panic!("a Kafka-protocol broker must answer at {} (scripts/broker): {e}", brokers()));
    prefix
}

/// The write side (catalog and stock on PostgreSQL, events in its outbox) and the read model.
pub struct Models {
    pub catalog: CatalogService,
    pub inventory: InventoryService,
    pub stock: Arc<PgInventoryStore>,
    pub read: Arc<PgReadModel>,
    pub ids: Vec<ProductId>,
}

impl Models {
    /// `products` active products on `pool`.
    pub async fn new(pool: &PgPool, products: i64) -> Self {
        let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
        let catalog = CatalogService::new(Arc::new(PgCatalogStore::new(pool.clone())), env.clone());
        let stock = Arc::new(PgInventoryStore::new(pool.clone()));
        let inventory = InventoryService::with_transactional_events(stock.clone(), env);
        let mut ids = vec![];
        for n in 0..products {
            let input = ProductInput {
                sku: format!("P-{n}"),
                name: format!("Product {n}"),
                price: MoneyInput { amount: 100 + n, currency: "USD".into() },
                status: Some("active".into()),
                ..ProductInput::default()
            };
            ids.push(catalog.create_product(&input).await.unwrap().id);
        }
        Self { catalog, inventory, stock, read: Arc::new(PgReadModel::new(pool.clone())), ids }
    }

    /// `Ok` when the read model equals the write model, product by product: name,
    /// price, version and available stock. Otherwise the first difference.
    pub async fn compare(&self) -> Result<(), String> {
        for id in &self.ids {
            let product = self.catalog.product(*id).await.unwrap();
            let level = self.stock.stock(&[*id]).await.unwrap().first().copied();
            let Some(view) = self.read.get(*id).await.unwrap() else {
                return Err(format!("{id} is missing from the read model"));
            };
            let written =
                (product.name.as_str(), product.price, product.version.get(), level.map_or(0, |l| l.available()));
            let read = (view.name.as_str(), view.price, view.product_version, view.available_stock);
            if written != read {
                return Err(format!("{id}: written {written:?}, read {read:?}"));
            }
        }
        Ok(())
    }
}
