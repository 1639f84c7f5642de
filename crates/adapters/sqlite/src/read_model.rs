//! The storefront read model on SQLite.
//!
//! One row per product with a column per sort key and an index per sort order (ties
//! broken by id, partial on `status = 'active'`); attribute pairs in their own table (one
//! index probe per filter, and the facet counts); search tokens in an FTS5 table whose
//! rowid is the product row's `seq`, prefix-matched. Pages are keyset queries:
//! `(key, id) > (cursor key, cursor id)`, never `OFFSET`. Search tokens and the name sort
//! key come from the core, so order and matches equal the reference evaluator's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::{
    CollectionId, ProductId,
    catalog::{AttributeName, AttributeValue, Collection, Product},
    ports::{ProductProjection, ProductReadModel, StoreError},
    query::{Facets, ProductPage, ProductQuery, ProductView, SortKey, SortOrder},
};
use rusqlite::{OptionalExtension as _, params};
use sqlx::{QueryBuilder, Row, Sqlite, sqlite::SqliteRow};

use crate::{Abort, SqliteDb, corrupt, int, json, uint, unavailable};

/// The read model on a [`SqliteDb`].
#[derive(Debug, Clone)]
pub struct SqliteReadModel {
    db: SqliteDb,
    plans: Arc<Mutex<PlanCache>>,
}

/// Per attribute (name, value): whether it is rare enough to drive a listing, and when
/// that was counted.
type PlanCache = HashMap<(String, String), (bool, Instant)>;

impl SqliteReadModel {
    /// The read model on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db, plans: Arc::default() }
    }

    /// The plan SQLite chooses for a listing query (`EXPLAIN QUERY PLAN`), one line per
    /// step: how tests prove every query shape is served by an index.
    pub async fn explain_listing(&self, query: &ProductQuery) -> Result<Vec<String>, StoreError> {
        let plan = self.attribute_plan(query).await?;
        let rows = listing("EXPLAIN QUERY PLAN ", query, &plan)
            .build()
            .fetch_all(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(rows.iter().map(|r| r.get::<String, _>("detail")).collect())
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

/// `"tok1"* AND "tok2"*`: every word must prefix some token, like `SearchTerm::matches`.
/// Tokens are letters and digits only, so quoting them is enough.
fn fts_query(tokens: &[String]) -> String {
    tokens.iter().map(|t| format!("\"{}\"*", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" AND ")
}

/// The read model's collections as last read. Every change to them in this process goes
/// through a `SqliteReadModel` of one [`SqliteDb`], which drops the list after committing and
/// counts a new generation, so a read never keeps a list older than a committed change.
#[derive(Debug, Default)]
pub(crate) struct CollectionsCache {
    generation: u64,
    collections: Option<Vec<Collection>>,
}

impl SqliteReadModel {
    fn collections_changed(&self) {
        let mut cache = self.db.collections.lock().unwrap_or_else(PoisonError::into_inner);
        cache.generation += 1;
        cache.collections = None;
    }
}

/// How each attribute filter joins the listing. SQLite's planner knows only the average
/// number of products per attribute value, so the adapter looks at the value itself: a
/// rare one drives the query from its few products (then sorts them), a common one is
/// checked row by row while the sort index is walked, stopping at the page's end.
#[derive(Debug, Clone, Default)]
struct AttributePlan {
    /// Per filter, in the query's order: drive from the matching products.
    drive: Vec<bool>,
}

/// Products of one attribute value beyond which walking the sort index wins: at this
/// share of the catalog a page of 20 is found within a few thousand index entries.
const DRIVE_BELOW: i64 = 2_000;

/// How long a value's count is trusted: a stale choice only costs time, never results.
const PLAN_TTL: Duration = Duration::from_secs(30);

/// Attribute values whose counts are remembered at most (then all are forgotten).
const PLAN_CACHE: usize = 10_000;

impl SqliteReadModel {
    async fn attribute_plan(&self, query: &ProductQuery) -> Result<AttributePlan, StoreError> {
        let mut drive = Vec::with_capacity(query.attributes.len());
        for (name, value) in &query.attributes {
            let key = (name.to_string(), value.to_string());
            let cached = self.plans.lock().unwrap_or_else(PoisonError::into_inner).get(&key).copied();
            if let Some((rare, _)) = cached.filter(|(_, at)| at.elapsed() < PLAN_TTL) {
                drive.push(rare);
                continue;
            }
            // Counts at most DRIVE_BELOW index entries: cheap whatever the value.
            let matches: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT 1 FROM read_attributes WHERE name = ? AND value = ? LIMIT ?)",
            )
            .bind(name.as_str())
            .bind(value.as_str())
            .bind(DRIVE_BELOW)
            .fetch_one(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
            let rare = matches < DRIVE_BELOW;
            let mut plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
            if plans.len() >= PLAN_CACHE {
                plans.clear();
            }
            plans.insert(key, (rare, Instant::now()));
            drive.push(rare);
        }
        Ok(AttributePlan { drive })
    }
}

/// Appends the filters of `query` (not the cursor) to a `WHERE status = 'active'` clause.
fn push_filters(b: &mut QueryBuilder<'static, Sqlite>, query: &ProductQuery, plan: &AttributePlan) {
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
    for (i, (name, value)) in query.attributes.iter().enumerate() {
        let (open, and_value) = if plan.drive.get(i).copied().unwrap_or(true) {
            (" AND read_products.seq IN (SELECT product_seq FROM read_attributes WHERE name = ", " AND value = ")
        } else {
            (
                " AND EXISTS (SELECT 1 FROM read_attributes f WHERE f.product_seq = read_products.seq AND f.name = ",
                " AND f.value = ",
            )
        };
        b.push(open).push_bind(name.to_string()).push(and_value).push_bind(value.to_string()).push(")");
    }
    if let Some(text) = &query.text {
        b.push(" AND read_products.seq IN (SELECT rowid FROM read_search WHERE read_search MATCH ")
            .push_bind(fts_query(text.tokens()))
            .push(")");
    }
}

fn listing(prefix: &str, query: &ProductQuery, plan: &AttributePlan) -> QueryBuilder<'static, Sqlite> {
    let column = sort_column(query.sort);
    let (cmp, dir) = if query.sort.descending() { ("<", "DESC") } else { (">", "ASC") };
    let mut b = QueryBuilder::new(format!(
        "{prefix}SELECT view, available_stock, stock_version FROM read_products WHERE status = 'active'"
    ));
    push_filters(&mut b, query, plan);
    if let Some(cursor) = &query.after {
        b.push(format!(" AND ({column}, id) {cmp} ("));
        match &cursor.key {
            SortKey::Price(v) | SortKey::Created(v) => b.push_bind(*v),
            SortKey::Name(v) => b.push_bind(v.clone()),
            SortKey::Stock(v) => b.push_bind(int(*v)),
        };
        b.push(", ").push_bind(cursor.id.as_uuid()).push(")");
    }
    b.push(format!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
    b.push_bind(i64::try_from(query.limit.get() + 1).unwrap_or(101));
    b
}

fn view_of(row: &SqliteRow) -> Result<ProductView, StoreError> {
    let mut view: ProductView = serde_json::from_str(row.get::<&str, _>("view")).map_err(|e| corrupt(&e))?;
    view.available_stock = uint(row.get("available_stock"));
    view.stock_version = uint(row.get("stock_version"));
    Ok(view)
}

#[async_trait]
impl ProductReadModel for SqliteReadModel {
    async fn list(&self, query: &ProductQuery) -> Result<ProductPage, StoreError> {
        let plan = self.attribute_plan(query).await?;
        let rows = listing("", query, &plan).build().fetch_all(self.db.reader()).await.map_err(|e| unavailable(&e))?;
        let candidates = rows.iter().map(view_of).collect::<Result<Vec<_>, _>>()?;
        Ok(ProductPage::from_candidates(query, candidates))
    }

    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        let row = sqlx::query("SELECT view, available_stock, stock_version FROM read_products WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        row.as_ref().map(view_of).transpose()
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<ProductView>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut b = QueryBuilder::new("SELECT view, available_stock, stock_version FROM read_products WHERE id IN (");
        let mut list = b.separated(", ");
        for id in ids {
            list.push_bind(id.as_uuid());
        }
        b.push(")");
        let rows = b.build().fetch_all(self.db.reader()).await.map_err(|e| unavailable(&e))?;
        rows.iter().map(view_of).collect()
    }

    async fn facets(&self, query: &ProductQuery) -> Result<Facets, StoreError> {
        let mut facets = Facets::default();
        // Facets count every match: driving from the matches is always right.
        let plan = AttributePlan { drive: vec![true; query.attributes.len()] };
        let mut b = QueryBuilder::new(
            "SELECT collection_id, count(*) AS n FROM read_products WHERE status = 'active' AND collection_id IS NOT NULL",
        );
        push_filters(&mut b, query, &plan);
        b.push(" GROUP BY collection_id");
        for row in b.build().fetch_all(self.db.reader()).await.map_err(|e| unavailable(&e))? {
            let id = CollectionId::from_uuid(row.get("collection_id"));
            facets.collections.insert(id, uint(row.get("n")));
        }
        let mut b = QueryBuilder::new(
            "SELECT a.name AS name, a.value AS value, count(*) AS n
             FROM read_products JOIN read_attributes a ON a.product_seq = read_products.seq WHERE status = 'active'",
        );
        push_filters(&mut b, query, &plan);
        b.push(" GROUP BY a.name, a.value");
        for row in b.build().fetch_all(self.db.reader()).await.map_err(|e| unavailable(&e))? {
            let (Ok(name), Ok(value)) =
                (AttributeName::parse(row.get::<&str, _>("name")), AttributeValue::parse(row.get::<&str, _>("value")))
            else {
                continue;
            };
            facets.attributes.entry(name).or_default().insert(value, uint(row.get("n")));
        }
        Ok(facets)
    }

    async fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        // Every listing names its products' collections: served from memory once read.
        let generation = {
            let cache = self.db.collections.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = &cache.collections {
                return Ok(cached.clone());
            }
            cache.generation
        };
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT body FROM read_collections WHERE NOT deleted ORDER BY name, id")
                .fetch_all(self.db.reader())
                .await
                .map_err(|e| unavailable(&e))?;
        let collections: Vec<Collection> =
            rows.iter().map(|b| serde_json::from_str(b).map_err(|e| corrupt(&e))).collect::<Result<_, _>>()?;
        let mut cache = self.db.collections.lock().unwrap_or_else(PoisonError::into_inner);
        // A change committed while this read ran may be missing from it: keep it only if none did.
        if cache.generation == generation {
            cache.collections = Some(collections.clone());
        }
        Ok(collections)
    }
}

/// A product as the read model stores it, encoded before it goes to the writer.
struct ReadRow {
    id: uuid::Uuid,
    version: i64,
    status: &'static str,
    price: i64,
    name_key: String,
    created_us: i64,
    collection_id: Option<uuid::Uuid>,
    view: String,
    attributes: Vec<(String, String)>,
    tokens: String,
}

impl ReadRow {
    fn of(product: &Product) -> Result<Self, StoreError> {
        let view = ProductView::from_product(product, 0, 0);
        Ok(Self {
            id: product.id.as_uuid(),
            version: int(product.version.get()),
            status: product.status.as_str(),
            price: product.price.amount(),
            name_key: product.name.sort_key(),
            created_us: product.created_at.unix_micros(),
            collection_id: product.collection_id.map(|c| c.as_uuid()),
            attributes: product
                .attributes
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_str().to_owned()))
                .collect(),
            tokens: view.search_tokens().join(" "),
            view: json(&view)?,
        })
    }
}

#[async_trait]
impl ProductProjection for SqliteReadModel {
    async fn apply_product(&self, product: &Product) -> Result<bool, StoreError> {
        let row = ReadRow::of(product)?;
        self.db
            .write(move |tx| {
                let existing: Option<i64> = tx
                    .prepare_cached("SELECT product_version FROM read_products WHERE id = ?")?
                    .query_row([row.id], |r| r.get(0))
                    .optional()?;
                if existing.is_some_and(|version| version >= row.version) {
                    return Ok(false);
                }
                let seq: i64 = tx
                    .prepare_cached(
                        "INSERT INTO read_products (id, status, price_amount, name_key, created_us, available_stock,
                                                    collection_id, product_version, stock_version, view)
                         SELECT ?1, ?2, ?3, ?4, ?5, coalesce(s.available, 0), ?6, ?7, coalesce(s.version, 0), ?8
                         FROM (SELECT 1) one LEFT JOIN read_stock s ON s.product_id = ?1
                         WHERE true
                         ON CONFLICT (id) DO UPDATE SET
                             status = excluded.status, price_amount = excluded.price_amount,
                             name_key = excluded.name_key, created_us = excluded.created_us,
                             collection_id = excluded.collection_id, product_version = excluded.product_version,
                             view = excluded.view
                         RETURNING seq",
                    )?
                    .query_row(
                        params![
                            row.id,
                            row.status,
                            row.price,
                            row.name_key,
                            row.created_us,
                            row.collection_id,
                            row.version,
                            row.view
                        ],
                        |r| r.get(0),
                    )?;
                tx.prepare_cached("DELETE FROM read_attributes WHERE product_seq = ?")?.execute([seq])?;
                let mut attribute =
                    tx.prepare_cached("INSERT INTO read_attributes (product_seq, name, value) VALUES (?, ?, ?)")?;
                for (name, value) in &row.attributes {
                    attribute.execute(params![seq, name, value])?;
                }
                tx.prepare_cached("DELETE FROM read_search WHERE rowid = ?")?.execute([seq])?;
                tx.prepare_cached("INSERT INTO read_search (rowid, tokens) VALUES (?, ?)")?
                    .execute(params![seq, row.tokens])?;
                Ok::<_, Abort<StoreError>>(true)
            })
            .await
    }

    async fn apply_stock(&self, product: ProductId, available: u64, version: u64) -> Result<bool, StoreError> {
        let (id, available, version) = (product.as_uuid(), int(available), int(version));
        self.db
            .write(move |tx| {
                let stored = tx
                    .prepare_cached(
                        "INSERT INTO read_stock (product_id, available, version) VALUES (?1, ?2, ?3)
                         ON CONFLICT (product_id) DO UPDATE SET available = excluded.available, version = excluded.version
                         WHERE read_stock.version < excluded.version",
                    )?
                    .execute(params![id, available, version])?;
                if stored == 0 {
                    return Ok(false);
                }
                tx.prepare_cached(
                    "UPDATE read_products SET available_stock = ?2, stock_version = ?3 WHERE id = ?1 AND stock_version < ?3",
                )?
                .execute(params![id, available, version])?;
                Ok::<_, Abort<StoreError>>(true)
            })
            .await
    }

    async fn apply_collection(&self, collection: &Collection) -> Result<bool, StoreError> {
        let (id, name, version, body) = (
            collection.id.as_uuid(),
            collection.name.as_str().to_owned(),
            int(collection.version.get()),
            json(collection)?,
        );
        let applied = self
            .db
            .write(move |tx| {
                let applied = tx
                    .prepare_cached(
                        "INSERT INTO read_collections (id, name, version, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, body = excluded.body
                         WHERE read_collections.version < excluded.version",
                    )?
                    .execute(params![id, name, version, body])?;
                Ok::<_, Abort<StoreError>>(applied > 0)
            })
            .await?;
        self.collections_changed();
        Ok(applied)
    }

    async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError> {
        let id = id.as_uuid();
        let removed = self
            .db
            .write(move |tx| {
                // A tombstone, not a DELETE: its version (the largest) beats any replayed
                // `collection.created`/`updated`, and it is written even when the delete
                // arrives first.
                let removed = tx
                    .prepare_cached(
                        "INSERT INTO read_collections (id, name, version, body, deleted) VALUES (?1, '', ?2, 'null', 1)
                         ON CONFLICT (id) DO UPDATE SET name = '', version = excluded.version, body = 'null', deleted = 1
                         WHERE NOT read_collections.deleted",
                    )?
                    .execute(params![id, i64::MAX])?;
                Ok::<_, Abort<StoreError>>(removed > 0)
            })
            .await?;
        self.collections_changed();
        Ok(removed)
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.db
            .write(|tx| {
                for table in ["read_attributes", "read_search", "read_products", "read_stock", "read_collections"] {
                    tx.execute(&format!("DELETE FROM {table}"), [])?;
                }
                Ok::<_, Abort<StoreError>>(())
            })
            .await?;
        self.collections_changed();
        Ok(())
    }
}
