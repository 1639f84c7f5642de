//! The catalog write model on SQLite, with its outbox.

use async_trait::async_trait;
use commerce_core::{
    CollectionId, EventId, ProductId, Timestamp,
    catalog::{Collection, Product, ProductSearch, Version},
    events::{EventEnvelope, StockSet},
    inventory::OnHand,
    ports::{CollectionStore, EventError, Outbox, OutboxRecord, ProductStore, RestockLog, StoreError},
};
use rusqlite::params;

use crate::{
    Abort, OutboxRows, SqliteDb, Violation, corrupt, decode, duplicate, int, json, missed_update, uint, unavailable,
    violation,
};

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

/// A product as its row holds it, encoded before it goes to the writer.
struct ProductRow {
    id: uuid::Uuid,
    sku: String,
    collection_id: Option<uuid::Uuid>,
    status: &'static str,
    version: i64,
    body: String,
    search_key: String,
}

impl ProductRow {
    fn of(product: &Product) -> Result<Self, StoreError> {
        Ok(Self {
            id: product.id.as_uuid(),
            sku: product.sku.as_str().to_owned(),
            collection_id: product.collection_id.map(|c| c.as_uuid()),
            status: product.status.as_str(),
            version: int(product.version.get()),
            body: json(product)?,
            search_key: ProductSearch::key_of(product),
        })
    }

    /// A constraint the row broke: its SKU is taken, or its collection does not exist.
    fn refused(&self, e: rusqlite::Error) -> Abort<StoreError> {
        match violation(&e) {
            Some(Violation::ForeignKey) => Abort::Refused(StoreError::MissingReference(format!(
                "collection {}",
                self.collection_id.map(|c| c.to_string()).unwrap_or_default()
            ))),
            _ => duplicate(e, &format!("sku {}", self.sku)),
        }
    }
}

/// A collection as its row holds it.
struct CollectionRow {
    id: uuid::Uuid,
    slug: String,
    name: String,
    version: i64,
    body: String,
}

impl CollectionRow {
    fn of(collection: &Collection) -> Result<Self, StoreError> {
        Ok(Self {
            id: collection.id.as_uuid(),
            slug: collection.slug.as_str().to_owned(),
            name: collection.name.as_str().to_owned(),
            version: int(collection.version.get()),
            body: json(collection)?,
        })
    }
}

fn outbox_rows(events: &[EventEnvelope]) -> Result<OutboxRows, StoreError> {
    OutboxRows::encode(events).map_err(|e| corrupt(&e))
}

#[async_trait]
impl ProductStore for SqliteCatalogStore {
    async fn insert_product(&self, product: &Product, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let (row, events) = (ProductRow::of(product)?, outbox_rows(events)?);
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO products (id, sku, collection_id, status, version, body, search_key)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![row.id, row.sku, row.collection_id, row.status, row.version, row.body, row.search_key])
                .map_err(|e| row.refused(e))?;
                Ok(events.append(tx)?)
            })
            .await
    }

    async fn update_product(
        &self,
        product: &Product,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let (row, events) = (ProductRow::of(product)?, outbox_rows(events)?);
        self.db
            .write(move |tx| {
                let updated = tx
                    .prepare_cached(
                        "UPDATE products SET sku = ?, collection_id = ?, status = ?, version = ?, body = ?, search_key = ?
                         WHERE id = ? AND version = ?",
                    )?
                    .execute(params![
                        row.sku,
                        row.collection_id,
                        row.status,
                        row.version,
                        row.body,
                        row.search_key,
                        row.id,
                        int(expected.get())
                    ])
                    .map_err(|e| row.refused(e))?;
                if updated == 0 {
                    return Err(missed_update(tx, "products", row.id, expected));
                }
                Ok(events.append(tx)?)
            })
            .await
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

impl SqliteCatalogStore {
    /// A page of products in id order after `after`, only those `search` finds when given.
    async fn page(
        &self,
        search: Option<&ProductSearch>,
        after: Option<ProductId>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        // instr, not LIKE: the text is matched as it is, `%` and `_` included, and
        // LIKE would fold ASCII case only.
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM products WHERE (?1 IS NULL OR instr(search_key, ?1) > 0) AND (?2 IS NULL OR id > ?2)
             ORDER BY id LIMIT ?3",
        )
        .bind(search.map(ProductSearch::as_str))
        .bind(after.map(|a| a.as_uuid()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.reader())
        .await
        .map_err(|e| unavailable(&e))?;
        rows.iter().map(|b| decode(b)).collect()
    }
}

/// Fills the search key of products written before it existed (migration 0004), in
/// batches, computed by the core like every later write. Runs on the set-up connection,
/// before the writer starts.
pub(crate) async fn fill_search_keys(pool: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    loop {
        let rows: Vec<(uuid::Uuid, String)> =
            sqlx::query_as("SELECT id, body FROM products WHERE search_key IS NULL LIMIT 500").fetch_all(pool).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        for (id, body) in rows {
            let product: Product = serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            sqlx::query("UPDATE products SET search_key = ?2 WHERE id = ?1")
                .bind(id)
                .bind(ProductSearch::key_of(&product))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
}

#[async_trait]
impl CollectionStore for SqliteCatalogStore {
    async fn insert_collection(&self, collection: &Collection, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let (row, events) = (CollectionRow::of(collection)?, outbox_rows(events)?);
        self.db
            .write(move |tx| {
                tx.prepare_cached("INSERT INTO collections (id, slug, name, version, body) VALUES (?, ?, ?, ?, ?)")?
                    .execute(params![row.id, row.slug, row.name, row.version, row.body])
                    .map_err(|e| duplicate(e, &format!("slug {}", row.slug)))?;
                Ok(events.append(tx)?)
            })
            .await
    }

    async fn update_collection(
        &self,
        collection: &Collection,
        expected: Version,
        events: &[EventEnvelope],
    ) -> Result<(), StoreError> {
        let (row, events) = (CollectionRow::of(collection)?, outbox_rows(events)?);
        self.db
            .write(move |tx| {
                let updated = tx
                    .prepare_cached(
                        "UPDATE collections SET slug = ?, name = ?, version = ?, body = ? WHERE id = ? AND version = ?",
                    )?
                    .execute(params![row.slug, row.name, row.version, row.body, row.id, int(expected.get())])
                    .map_err(|e| duplicate(e, &format!("slug {}", row.slug)))?;
                if updated == 0 {
                    return Err(missed_update(tx, "collections", row.id, expected));
                }
                Ok(events.append(tx)?)
            })
            .await
    }

    async fn delete_collection(&self, id: CollectionId, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let events = outbox_rows(events)?;
        self.db
            .write(move |tx| {
                let deleted = tx
                    .prepare_cached("DELETE FROM collections WHERE id = ?")?
                    .execute([id.as_uuid()])
                    .map_err(|e| match violation(&e) {
                        Some(Violation::ForeignKey) => {
                            Abort::Refused(StoreError::InUse(format!("products belong to collection {id}")))
                        }
                        _ => Abort::Database(e),
                    })?;
                if deleted == 0 {
                    return Err(Abort::Refused(StoreError::NotFound));
                }
                Ok(events.append(tx)?)
            })
            .await
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
        self.db
            .write(move |tx| {
                // One writer: restocks of one product get consecutive numbers in commit order.
                let number: i64 = tx
                    .prepare_cached(
                        "INSERT INTO restocks (product_id, restock, on_hand, requested_us) VALUES (?1, 1, ?2, ?3)
                         ON CONFLICT (product_id) DO UPDATE
                           SET restock = restock + 1, on_hand = excluded.on_hand, requested_us = excluded.requested_us
                         RETURNING restock",
                    )?
                    .query_row(params![product.as_uuid(), int(on_hand.get()), at.unix_micros()], |r| r.get(0))
                    .map_err(|e| match violation(&e) {
                        Some(Violation::ForeignKey) => Abort::Refused(StoreError::NotFound),
                        _ => Abort::Database(e),
                    })?;
                let number = uint(number);
                let event = EventEnvelope::stock_set(
                    event_id,
                    at,
                    StockSet { product_id: product, on_hand: on_hand.get() },
                    number,
                );
                OutboxRows::encode(&[event]).map_err(|e| Abort::Refused(corrupt(&e)))?.append(tx)?;
                Ok(number)
            })
            .await
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
