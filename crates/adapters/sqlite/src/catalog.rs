//! The catalog write model on SQLite, with its outbox.

use async_trait::async_trait;
use commerce_core::{
    CollectionId, EventId, ProductId, Timestamp,
    catalog::{Collection, Product, Version},
    events::{EventEnvelope, StockSet},
    inventory::OnHand,
    ports::{CollectionStore, EventError, Outbox, OutboxRecord, ProductStore, RestockLog, StoreError},
};
use sqlx::error::ErrorKind;

use crate::{SqliteDb, append_events, decode, int, json, store_error, uint, unavailable, violation};

/// Products, collections and the restock log.
#[derive(Debug, Clone)]
pub struct SqliteCatalogStore {
    db: SqliteDb,
}

impl SqliteCatalogStore {
    /// The store on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn product_error(e: &sqlx::Error, product: &Product) -> StoreError {
    match violation(e) {
        Some(ErrorKind::ForeignKeyViolation) => StoreError::MissingReference(format!(
            "collection {}",
            product.collection_id.map(|c| c.to_string()).unwrap_or_default()
        )),
        _ => store_error(e, &format!("sku {}", product.sku)),
    }
}

/// Why an optimistic update touched no row: the record is gone or moved on. Read on the
/// writer, inside the failed change's transaction, so nothing moved in between.
async fn missed_update(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    id: uuid::Uuid,
    expected: Version,
) -> StoreError {
    let sql = format!("SELECT version FROM {table} WHERE id = ?");
    match sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_optional(&mut **tx).await {
        Ok(None) => StoreError::NotFound,
        Ok(Some(actual)) => StoreError::VersionConflict { expected, actual: Version::new(uint(actual)) },
        Err(e) => unavailable(&e),
    }
}

#[async_trait]
impl ProductStore for SqliteCatalogStore {
    async fn insert_product(&self, product: &Product, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query("INSERT INTO products (id, sku, collection_id, status, version, body) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(product.id.as_uuid())
            .bind(product.sku.as_str())
            .bind(product.collection_id.map(|c| c.as_uuid()))
            .bind(product.status.as_str())
            .bind(int(product.version.get()))
            .bind(json(product)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| product_error(&e, product))?;
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn update_product(
        &self,
        product: &Product,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE products SET sku = ?, collection_id = ?, status = ?, version = ?, body = ? WHERE id = ? AND version = ?",
        )
        .bind(product.sku.as_str())
        .bind(product.collection_id.map(|c| c.as_uuid()))
        .bind(product.status.as_str())
        .bind(int(product.version.get()))
        .bind(json(product)?)
        .bind(product.id.as_uuid())
        .bind(int(expected.get()))
        .execute(&mut *tx)
        .await
        .map_err(|e| product_error(&e, product))?;
        if updated.rows_affected() == 0 {
            return Err(missed_update(&mut tx, "products", product.id.as_uuid(), expected).await);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM products WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        body.as_deref().map(decode).transpose()
    }

    async fn products(&self, after: Option<ProductId>, limit: usize) -> Result<Vec<Product>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT body FROM products WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2")
                .bind(after.map(|a| a.as_uuid()))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.db.reader())
                .await
                .map_err(|e| unavailable(&e))?;
        rows.iter().map(|b| decode(b)).collect()
    }
}

#[async_trait]
impl CollectionStore for SqliteCatalogStore {
    async fn insert_collection(&self, collection: &Collection, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query("INSERT INTO collections (id, slug, name, version, body) VALUES (?, ?, ?, ?, ?)")
            .bind(collection.id.as_uuid())
            .bind(collection.slug.as_str())
            .bind(collection.name.as_str())
            .bind(int(collection.version.get()))
            .bind(json(collection)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(&e, &format!("slug {}", collection.slug)))?;
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn update_collection(
        &self,
        collection: &Collection,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE collections SET slug = ?, name = ?, version = ?, body = ? WHERE id = ? AND version = ?",
        )
        .bind(collection.slug.as_str())
        .bind(collection.name.as_str())
        .bind(int(collection.version.get()))
        .bind(json(collection)?)
        .bind(collection.id.as_uuid())
        .bind(int(expected.get()))
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(&e, &format!("slug {}", collection.slug)))?;
        if updated.rows_affected() == 0 {
            return Err(missed_update(&mut tx, "collections", collection.id.as_uuid(), expected).await);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn delete_collection(&self, id: CollectionId, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let deleted =
            sqlx::query("DELETE FROM collections WHERE id = ?").bind(id.as_uuid()).execute(&mut *tx).await.map_err(
                |e| match violation(&e) {
                    Some(ErrorKind::ForeignKeyViolation) => {
                        StoreError::InUse(format!("products belong to collection {id}"))
                    }
                    _ => unavailable(&e),
                },
            )?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn collection(&self, id: CollectionId) -> Result<Option<Collection>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM collections WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        body.as_deref().map(decode).transpose()
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM collections ORDER BY name, id")
            .fetch_all(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        rows.iter().map(|b| decode(b)).collect()
    }
}

#[async_trait]
impl RestockLog for SqliteCatalogStore {
    async fn record_restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        // One writer: restocks of one product get consecutive numbers in commit order.
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO restocks (product_id, restock, on_hand, requested_us) VALUES (?1, 1, ?2, ?3)
             ON CONFLICT (product_id) DO UPDATE
               SET restock = restock + 1, on_hand = excluded.on_hand, requested_us = excluded.requested_us
             RETURNING restock",
        )
        .bind(product.as_uuid())
        .bind(int(on_hand.get()))
        .bind(at.unix_micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match violation(&e) {
            Some(ErrorKind::ForeignKeyViolation) => StoreError::NotFound,
            _ => unavailable(&e),
        })?;
        let number = uint(number);
        let event =
            EventEnvelope::stock_set(event_id, at, StockSet { product_id: product, on_hand: on_hand.get() }, number);
        append_events(&mut tx, &[event]).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(number)
    }
}

/// The store is also the reader of the outbox it writes (through [`crate::SqliteOutbox`]),
/// so the outbox conformance cases can run against it.
#[async_trait]
impl Outbox for SqliteCatalogStore {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        self.db.outbox().claim(limit).await
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        self.db.outbox().mark_published(positions).await
    }
}
