//! The storefront read model on PostgreSQL (schema `commerce_read`).
//!
//! One row per product with a column per sort key and a btree index per sort
//! order (ties broken by id, `status = 'active'` partial indexes), a GIN index
//! on the search tokens and one on the attributes. Pages are keyset queries:
//! `(key, id) > (cursor key, cursor id)`, never `OFFSET`. Search tokens and the
//! name sort key are computed in Rust by the same functions the reference
//! evaluator uses, so both order and match exactly alike.

use std::collections::BTreeMap;

use async_trait::async_trait;
use commerce_core::{
    CollectionId, ProductId,
    catalog::{AttributeName, AttributeValue, Collection, Product},
    ports::{ProductProjection, ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductView, SortKey, SortOrder},
};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};

use crate::{corrupt, unavailable, version_i64};

/// The read model on `pool` (migrated with [`crate::migrate_read`]).
#[derive(Debug, Clone)]
pub struct PgReadModel {
    pool: PgPool,
}

impl PgReadModel {
    /// A read model on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The plan PostgreSQL chooses for a listing query (`EXPLAIN`), one line per node:
    /// how tests prove every query shape is served by an index.
    pub async fn explain_listing(&self, query: &ProductQuery) -> Result<Vec<String>, StoreError> {
        let rows = listing("EXPLAIN ", query).build().fetch_all(&self.pool).await.map_err(|e| unavailable(&e))?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }
}

fn sort_column(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::PriceAsc | SortOrder::PriceDesc => "price_amount",
        SortOrder::Name => "name_key",
        SortOrder::Newest => "created_us",
        SortOrder::StockDesc => "available_stock",
    }
}

/// `'tok1':* & 'tok2':*`: every word must prefix some token, like `SearchTerm::matches`.
fn tsquery(tokens: &[String]) -> String {
    tokens.iter().map(|t| format!("'{}':*", t.replace('\'', "''"))).collect::<Vec<_>>().join(" & ")
}

fn attributes_json(attributes: &BTreeMap<AttributeName, AttributeValue>) -> serde_json::Value {
    serde_json::to_value(attributes).unwrap_or_default()
}

/// Appends the filters of `query` (not the cursor) to a `WHERE status = 'active'` clause.
fn push_filters(b: &mut QueryBuilder<'static, Postgres>, query: &ProductQuery) {
    if let Some(c) = query.collection {
        b.push(" AND collection_id = ").push_bind(c.as_uuid());
    }
    if let Some(min) = query.min_price {
        b.push(" AND price_amount >= ").push_bind(min);
    }
    if let Some(max) = query.max_price {
        b.push(" AND price_amount <= ").push_bind(max);
    }
    if query.in_stock_only {
        b.push(" AND available_stock > 0");
    }
    if !query.attributes.is_empty() {
        b.push(" AND attributes @> ").push_bind(attributes_json(&query.attributes)).push("::jsonb");
    }
    if let Some(text) = &query.text {
        b.push(" AND search @@ ").push_bind(tsquery(text.tokens())).push("::tsquery");
    }
}

fn listing(prefix: &str, query: &ProductQuery) -> QueryBuilder<'static, Postgres> {
    let column = sort_column(query.sort);
    let (cmp, dir) = if query.sort.descending() { ("<", "DESC") } else { (">", "ASC") };
    let mut b = QueryBuilder::new(format!(
        "{prefix}SELECT view, available_stock, stock_version FROM commerce_read.products WHERE status = 'active'"
    ));
    push_filters(&mut b, query);
    if let Some(cursor) = &query.after {
        b.push(format!(" AND ({column}, id) {cmp} ("));
        match &cursor.key {
            SortKey::Price(v) | SortKey::Created(v) => b.push_bind(*v),
            SortKey::Name(v) => b.push_bind(v.clone()),
            SortKey::Stock(v) => b.push_bind(version_i64(*v)),
        };
        b.push(", ").push_bind(cursor.id.as_uuid()).push(")");
    }
    b.push(format!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
    b.push_bind(i64::try_from(query.limit.get() + 1).unwrap_or(101));
    b
}

fn view_of(row: &PgRow) -> Result<ProductView, StoreError> {
    let mut view: ProductView = serde_json::from_value(row.get("view")).map_err(|e| corrupt(&e))?;
    view.available_stock = u64::try_from(row.get::<i64, _>("available_stock")).unwrap_or(0);
    view.stock_version = u64::try_from(row.get::<i64, _>("stock_version")).unwrap_or(0);
    Ok(view)
}

#[async_trait]
impl ProductReadModel for PgReadModel {
    async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StoreError> {
        let rows = listing("", query).build().fetch_all(&self.pool).await.map_err(|e| unavailable(&e))?;
        let candidates = rows.iter().map(view_of).collect::<Result<Vec<_>, _>>()?;
        Ok(ProductPage::from_candidates(query, candidates))
    }

    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        let row = sqlx::query("SELECT view, available_stock, stock_version FROM commerce_read.products WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        row.as_ref().map(view_of).transpose()
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<ProductView>, StoreError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(ProductId::as_uuid).collect();
        let rows =
            sqlx::query("SELECT view, available_stock, stock_version FROM commerce_read.products WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| unavailable(&e))?;
        rows.iter().map(view_of).collect()
    }

    async fn facets(&self, query: &ProductQuery) -> Result<Facets, StoreError> {
        let mut facets = Facets::default();
        let mut b = QueryBuilder::new(
            "SELECT collection_id, count(*) AS n FROM commerce_read.products WHERE status = 'active' AND collection_id IS NOT NULL",
        );
        push_filters(&mut b, query);
        b.push(" GROUP BY collection_id");
        for row in b.build().fetch_all(&self.pool).await.map_err(|e| unavailable(&e))? {
            let id = CollectionId::from_uuid(row.get("collection_id"));
            facets.collections.insert(id, u64::try_from(row.get::<i64, _>("n")).unwrap_or(0));
        }
        let mut b = QueryBuilder::new(
            "SELECT a.key, a.value, count(*) AS n FROM commerce_read.products, jsonb_each_text(attributes) a WHERE status = 'active'",
        );
        push_filters(&mut b, query);
        b.push(" GROUP BY a.key, a.value");
        for row in b.build().fetch_all(&self.pool).await.map_err(|e| unavailable(&e))? {
            let (Ok(name), Ok(value)) =
                (AttributeName::parse(row.get::<&str, _>("key")), AttributeValue::parse(row.get::<&str, _>("value")))
            else {
                continue;
            };
            facets
                .attributes
                .entry(name)
                .or_default()
                .insert(value, u64::try_from(row.get::<i64, _>("n")).unwrap_or(0));
        }
        Ok(facets)
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT body FROM commerce_read.collections WHERE NOT deleted ORDER BY name COLLATE \"C\", id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        rows.into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|e| corrupt(&e))
    }
}

/// The advisory-lock class of read-model products (two-key locks never meet the
/// one-key locks the write side takes).
const PRODUCT_LOCK_CLASS: i32 = 0x7265_6164;

/// Serialises the events of one product. Product and stock events arrive on different
/// topics, so two consumers may apply them at once: without the lock a product's first
/// insert could read the stock from before a stock update that, not seeing the insert
/// yet, updated no row, and the newer stock would be lost. Under the lock the second
/// transaction starts after the first commits and sees its row. (Ids folding to one key
/// only wait for each other.)
async fn lock_product(tx: &mut sqlx::Transaction<'_, Postgres>, id: ProductId) -> Result<(), StoreError> {
    let (high, low) = id.as_uuid().as_u64_pair();
    let b = (high ^ low).to_ne_bytes();
    let key = i32::from_ne_bytes([b[0] ^ b[4], b[1] ^ b[5], b[2] ^ b[6], b[3] ^ b[7]]);
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(PRODUCT_LOCK_CLASS)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(())
}

#[async_trait]
impl ProductProjection for PgReadModel {
    async fn apply_product(&self, product: &Product) -> Result<bool, StoreError> {
        let view = ProductView::from_product(product, 0, 0);
        let attributes = serde_json::to_value(&product.attributes).map_err(|e| corrupt(&e))?;
        let body = serde_json::to_value(&view).map_err(|e| corrupt(&e))?;
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        lock_product(&mut tx, product.id).await?;
        let applied = sqlx::query(
            "INSERT INTO commerce_read.products
                 (id, status, price_amount, name_key, created_us, available_stock, collection_id, attributes, search,
                  product_version, stock_version, view)
             SELECT $1, $2, $3, $4, $5, COALESCE(s.available, 0), $6, $7, array_to_tsvector($8::text[]), $9, COALESCE(s.version, 0), $10
             FROM (SELECT 1) one LEFT JOIN commerce_read.stock s ON s.product_id = $1
             ON CONFLICT (id) DO UPDATE SET
                 status = EXCLUDED.status, price_amount = EXCLUDED.price_amount, name_key = EXCLUDED.name_key,
                 created_us = EXCLUDED.created_us, collection_id = EXCLUDED.collection_id, attributes = EXCLUDED.attributes,
                 search = EXCLUDED.search, product_version = EXCLUDED.product_version, view = EXCLUDED.view,
                 change_xid = pg_current_xact_id(), changed_at = now()
             WHERE commerce_read.products.product_version < EXCLUDED.product_version",
        )
        .bind(product.id.as_uuid())
        .bind(product.status.as_str())
        .bind(product.price.amount())
        .bind(product.name.sort_key())
        .bind(product.created_at.unix_micros())
        .bind(product.collection_id.map(|c| c.as_uuid()))
        .bind(attributes)
        .bind(view.search_tokens())
        .bind(version_i64(product.version.get()))
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(applied.rows_affected() > 0)
    }

    async fn apply_stock(&self, product: ProductId, available: u64, version: u64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        lock_product(&mut tx, product).await?;
        let stored = sqlx::query(
            "INSERT INTO commerce_read.stock (product_id, available, version) VALUES ($1, $2, $3)
             ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available, version = EXCLUDED.version
             WHERE commerce_read.stock.version < EXCLUDED.version",
        )
        .bind(product.as_uuid())
        .bind(version_i64(available))
        .bind(version_i64(version))
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if stored.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE commerce_read.products SET available_stock = $2, stock_version = $3, change_xid = pg_current_xact_id(), changed_at = now() WHERE id = $1 AND stock_version < $3")
            .bind(product.as_uuid())
            .bind(version_i64(available))
            .bind(version_i64(version))
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        Ok(true)
    }

    async fn apply_collection(&self, collection: &Collection) -> Result<bool, StoreError> {
        let body = serde_json::to_value(collection).map_err(|e| corrupt(&e))?;
        let applied = sqlx::query(
            "INSERT INTO commerce_read.collections (id, name, version, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version, body = EXCLUDED.body,
                 change_xid = pg_current_xact_id()
             WHERE commerce_read.collections.version < EXCLUDED.version",
        )
        .bind(collection.id.as_uuid())
        .bind(collection.name.as_str())
        .bind(version_i64(collection.version.get()))
        .bind(body)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(applied.rows_affected() > 0)
    }

    async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError> {
        // A tombstone, not a DELETE: its version (the largest) beats any replayed
        // `collection.created`/`updated`, and it is written even when the delete arrives first.
        let removed = sqlx::query(
            "INSERT INTO commerce_read.collections (id, name, version, body, deleted) VALUES ($1, '', $2, 'null', true)
             ON CONFLICT (id) DO UPDATE SET name = '', version = EXCLUDED.version, body = 'null', deleted = true,
                 change_xid = pg_current_xact_id()
             WHERE NOT commerce_read.collections.deleted",
        )
        .bind(id.as_uuid())
        .bind(i64::MAX)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(removed.rows_affected() > 0)
    }

    async fn reset(&self) -> Result<(), StoreError> {
        sqlx::query("TRUNCATE commerce_read.products, commerce_read.stock, commerce_read.collections")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
