//! The catalog write model on PostgreSQL, with its outbox.

use async_trait::async_trait;
use commerce_core::{
    CollectionId, EventId, ProductId, Timestamp,
    catalog::{Collection, Product, ProductSearch, Version},
    events::{EventEnvelope, StockSet},
    inventory::OnHand,
    ports::{CollectionStore, EventError, Outbox, OutboxRecord, ProductStore, RestockLog, StoreError},
};
use sqlx::{PgPool, Row};

use crate::{append_events, corrupt, sqlstate, store_error, to_datetime, unavailable, version_i64};

/// Products, collections and the restock log in the `commerce` schema.
#[derive(Debug, Clone)]
pub struct PgCatalogStore {
    pool: PgPool,
}

impl PgCatalogStore {
    /// A store on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| corrupt(&e))
}

fn product_error(e: &sqlx::Error, product: &Product) -> StoreError {
    match sqlstate(e).as_deref() {
        Some("23503") => StoreError::MissingReference(format!(
            "collection {}",
            product.collection_id.map(|c| c.to_string()).unwrap_or_default()
        )),
        _ => store_error(e, &format!("sku {}", product.sku)),
    }
}

/// Why an optimistic update touched no row: the record is gone or moved on.
async fn missed_update(pool: &PgPool, table: &str, id: uuid::Uuid, expected: Version) -> StoreError {
    let sql = format!("SELECT version FROM commerce.{table} WHERE id = $1");
    match sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_optional(pool).await {
        Ok(None) => StoreError::NotFound,
        Ok(Some(actual)) => {
            StoreError::VersionConflict { expected, actual: Version::new(u64::try_from(actual).unwrap_or(0)) }
        }
        Err(e) => unavailable(&e),
    }
}

#[async_trait]
impl ProductStore for PgCatalogStore {
    async fn insert_product(&self, product: &Product, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query("INSERT INTO commerce.products (id, sku, collection_id, status, version, body, search_key) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(product.id.as_uuid())
            .bind(product.sku.as_str())
            .bind(product.collection_id.map(|c| c.as_uuid()))
            .bind(product.status.as_str())
            .bind(version_i64(product.version.get()))
            .bind(json(product)?)
            .bind(ProductSearch::key_of(product))
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
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE commerce.products SET sku = $2, collection_id = $3, status = $4, version = $5, body = $6, search_key = $8
             WHERE id = $1 AND version = $7",
        )
        .bind(product.id.as_uuid())
        .bind(product.sku.as_str())
        .bind(product.collection_id.map(|c| c.as_uuid()))
        .bind(product.status.as_str())
        .bind(version_i64(product.version.get()))
        .bind(json(product)?)
        .bind(version_i64(expected.get()))
        .bind(ProductSearch::key_of(product))
        .execute(&mut *tx)
        .await
        .map_err(|e| product_error(&e, product))?;
        if updated.rows_affected() == 0 {
            drop(tx);
            return Err(missed_update(&self.pool, "products", product.id.as_uuid(), expected).await);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        let body: Option<serde_json::Value> = sqlx::query_scalar("SELECT body FROM commerce.products WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        body.map(serde_json::from_value).transpose().map_err(|e| corrupt(&e))
    }

    async fn products(&self, after: Option<ProductId>, limit: usize) -> Result<Vec<Product>, StoreError> {
        self.page(None, after, limit).await
    }

    async fn search_products(
        &self,
        search: &ProductSearch,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        self.page(Some(search), after, limit).await
    }
}

impl PgCatalogStore {
    /// A page of products in id order after `after`, only those `search` finds when given.
    async fn page(
        &self,
        search: Option<&ProductSearch>,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        // strpos, not LIKE: the text is matched as it is, `%` and `_` included.
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT body FROM commerce.products
             WHERE ($1::text IS NULL OR strpos(search_key, $1) > 0) AND ($2::uuid IS NULL OR id > $2)
             ORDER BY id LIMIT $3",
        )
        .bind(search.map(ProductSearch::as_str))
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        rows.into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|e| corrupt(&e))
    }
}

/// Fills the search key of products written before it existed (migration 1008), in
/// batches, computed by the core like every later write.
pub(crate) async fn fill_search_keys(pool: &PgPool) -> Result<(), sqlx::Error> {
    loop {
        let rows: Vec<(uuid::Uuid, serde_json::Value)> =
            sqlx::query_as("SELECT id, body FROM commerce.products WHERE search_key IS NULL LIMIT 500")
                .fetch_all(pool)
                .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        for (id, body) in rows {
            let product: Product = serde_json::from_value(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            sqlx::query("UPDATE commerce.products SET search_key = $2 WHERE id = $1")
                .bind(id)
                .bind(ProductSearch::key_of(&product))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
}

#[async_trait]
impl CollectionStore for PgCatalogStore {
    async fn insert_collection(&self, collection: &Collection, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query("INSERT INTO commerce.collections (id, slug, name, version, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(collection.id.as_uuid())
            .bind(collection.slug.as_str())
            .bind(collection.name.as_str())
            .bind(version_i64(collection.version.get()))
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
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE commerce.collections SET slug = $2, name = $3, version = $4, body = $5 WHERE id = $1 AND version = $6",
        )
        .bind(collection.id.as_uuid())
        .bind(collection.slug.as_str())
        .bind(collection.name.as_str())
        .bind(version_i64(collection.version.get()))
        .bind(json(collection)?)
        .bind(version_i64(expected.get()))
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(&e, &format!("slug {}", collection.slug)))?;
        if updated.rows_affected() == 0 {
            drop(tx);
            return Err(missed_update(&self.pool, "collections", collection.id.as_uuid(), expected).await);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn delete_collection(&self, id: CollectionId, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let deleted = sqlx::query("DELETE FROM commerce.collections WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|e| match sqlstate(&e).as_deref() {
                Some("23503") => StoreError::InUse(format!("products belong to collection {id}")),
                _ => unavailable(&e),
            })?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn collection(&self, id: CollectionId) -> Result<Option<Collection>, StoreError> {
        let body: Option<serde_json::Value> = sqlx::query_scalar("SELECT body FROM commerce.collections WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        body.map(serde_json::from_value).transpose().map_err(|e| corrupt(&e))
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let rows = sqlx::query("SELECT body FROM commerce.collections ORDER BY name COLLATE \"C\", id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        rows.into_iter()
            .map(|r| serde_json::from_value(r.get::<serde_json::Value, _>("body")))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(&e))
    }
}

#[async_trait]
impl RestockLog for PgCatalogStore {
    async fn record_restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        // The upsert locks the product's row: concurrent restocks of one product get
        // consecutive numbers in commit order.
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO commerce.restocks (product_id, restock, on_hand, requested_at) VALUES ($1, 1, $2, $3)
             ON CONFLICT (product_id) DO UPDATE
               SET restock = commerce.restocks.restock + 1, on_hand = EXCLUDED.on_hand, requested_at = EXCLUDED.requested_at
             RETURNING restock",
        )
        .bind(product.as_uuid())
        .bind(version_i64(on_hand.get()))
        .bind(to_datetime(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match sqlstate(&e).as_deref() {
            Some("23503") => StoreError::NotFound,
            _ => unavailable(&e),
        })?;
        let number =
            u64::try_from(number).map_err(|_| StoreError::Unavailable(format!("stored restock number {number}")))?;
        let event =
            EventEnvelope::stock_set(event_id, at, StockSet { product_id: product, on_hand: on_hand.get() }, number);
        append_events(&mut tx, &[event]).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(number)
    }
}

/// The store is also the reader of the outbox it writes (through [`crate::PgOutbox`]),
/// so the outbox conformance cases can run against it.
#[async_trait]
impl Outbox for PgCatalogStore {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        crate::PgOutbox::new(self.pool.clone(), 30).claim(limit).await
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        crate::PgOutbox::new(self.pool.clone(), 30).mark_published(positions).await
    }
}
