//! Stock and reservations on SQLite.
//!
//! Each operation is one transaction on the single writer connection, so it reads the
//! rows it needs, applies the operation in a core [`Ledger`](commerce_core::inventory::Ledger)
//! (the rules live only in the core) and writes back what changed, with a `stock.changed`
//! event per changed level, without any other writer in between: two calls with one
//! reservation id run one after the other, and the second sees the first's row.

use std::collections::HashMap;

use async_trait::async_trait;
use commerce_core::{
    EventId, ProductId, ReservationId, Timestamp,
    events::EventEnvelope,
    inventory::{InventoryError, InventoryReceipt, Ledger, OnHand, Reservation, ReservationState, StockLevel},
    ports::InventoryStore,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::{SqliteDb, append_events, int, uint};

/// Stock levels and reservations.
#[derive(Debug, Clone)]
pub struct SqliteInventoryStore {
    db: SqliteDb,
}

impl SqliteInventoryStore {
    /// The store on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn db_error(e: &sqlx::Error) -> InventoryError {
    InventoryError::Unavailable(e.to_string())
}

type Tx = Transaction<'static, Sqlite>;

fn level_of(r: &sqlx::sqlite::SqliteRow) -> StockLevel {
    StockLevel {
        product_id: ProductId::from_uuid(r.get("product_id")),
        on_hand: uint(r.get("on_hand")),
        reserved: uint(r.get("reserved")),
        version: uint(r.get("version")),
    }
}

/// The stock rows of `products` (those that exist).
async fn levels<'e, E: sqlx::SqliteExecutor<'e>>(
    executor: E,
    products: &[ProductId],
) -> Result<Vec<StockLevel>, InventoryError> {
    let mut ids: Vec<Uuid> = products.iter().map(ProductId::as_uuid).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut b = QueryBuilder::new("SELECT product_id, on_hand, reserved, version FROM stock WHERE product_id IN (");
    let mut list = b.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    b.push(") ORDER BY product_id");
    let rows = b.build().fetch_all(executor).await.map_err(|e| db_error(&e))?;
    Ok(rows.iter().map(level_of).collect())
}

async fn reservation(tx: &mut Tx, id: ReservationId) -> Result<Option<Reservation>, InventoryError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM reservations WHERE id = ?")
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| db_error(&e))?;
    body.as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| InventoryError::Unavailable(format!("stored reservation does not decode: {e}")))
}

fn lines_of(r: &Reservation) -> Vec<ProductId> {
    r.lines.iter().map(|l| l.product_id).collect()
}

/// Writes back every level whose version moved and the given reservations, with events.
async fn write_back(
    tx: &mut Tx,
    ledger: &Ledger,
    before: &HashMap<ProductId, u64>,
    reservations: &[ReservationId],
) -> Result<(), InventoryError> {
    let now = Timestamp::from_unix_micros(crate::now_us());
    let mut events = vec![];
    for level in ledger.levels() {
        if before.get(&level.product_id) == Some(&level.version) {
            continue;
        }
        sqlx::query(
            "INSERT INTO stock (product_id, on_hand, reserved, version) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (product_id) DO UPDATE SET on_hand = ?2, reserved = ?3, version = ?4",
        )
        .bind(level.product_id.as_uuid())
        .bind(int(level.on_hand))
        .bind(int(level.reserved))
        .bind(int(level.version))
        .execute(&mut **tx)
        .await
        .map_err(|e| db_error(&e))?;
        events.push(EventEnvelope::stock_changed(EventId::from_uuid(Uuid::now_v7()), now, *level));
    }
    for id in reservations {
        let Some(r) = ledger.reservation(*id) else { continue };
        let body = serde_json::to_string(r).map_err(|e| InventoryError::Unavailable(e.to_string()))?;
        sqlx::query(
            "INSERT INTO reservations (id, active, expires_us, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET active = ?2, expires_us = ?3, body = ?4",
        )
        .bind(r.id.as_uuid())
        .bind(r.state == ReservationState::Active)
        .bind(r.expires_at.unix_micros())
        .bind(body)
        .execute(&mut **tx)
        .await
        .map_err(|e| db_error(&e))?;
    }
    append_events(tx, &events).await.map_err(|e| db_error(&e))
}

fn versions(levels: &[StockLevel]) -> HashMap<ProductId, u64> {
    levels.iter().map(|l| (l.product_id, l.version)).collect()
}

impl SqliteInventoryStore {
    async fn begin(&self) -> Result<Tx, InventoryError> {
        self.db.writer().begin().await.map_err(|e| db_error(&e))
    }

    /// Runs an operation on one reservation: load it and its stock rows, apply, write back.
    async fn on_reservation(
        &self,
        id: ReservationId,
        apply: impl Fn(&mut Ledger) -> Result<InventoryReceipt, InventoryError>,
    ) -> Result<InventoryReceipt, InventoryError> {
        let mut tx = self.begin().await?;
        let reservation = reservation(&mut tx, id).await?;
        let levels = match &reservation {
            Some(r) => levels(&mut *tx, &lines_of(r)).await?,
            None => vec![],
        };
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, reservation);
        let result = apply(&mut ledger);
        if result.is_ok() {
            write_back(&mut tx, &ledger, &before, &[id]).await?;
            tx.commit().await.map_err(|e| db_error(&e))?;
        }
        result
    }
}

#[async_trait]
impl InventoryStore for SqliteInventoryStore {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let found: HashMap<ProductId, StockLevel> =
            levels(self.db.reader(), products).await?.into_iter().map(|l| (l.product_id, l)).collect();
        Ok(products.iter().filter_map(|p| found.get(p).copied()).collect())
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let mut tx = self.begin().await?;
        let levels = levels(&mut *tx, &[product]).await?;
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, []);
        let level = ledger.set_on_hand(product, on_hand)?;
        write_back(&mut tx, &ledger, &before, &[]).await?;
        tx.commit().await.map_err(|e| db_error(&e))?;
        Ok(level)
    }

    async fn reserve(
        &self,
        request: &commerce_core::inventory::ReservationRequest,
    ) -> Result<InventoryReceipt, InventoryError> {
        let mut tx = self.begin().await?;
        let existing = reservation(&mut tx, request.id()).await?;
        let products: Vec<ProductId> = request.lines().iter().map(|l| l.product_id).collect();
        let levels = levels(&mut *tx, &products).await?;
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, existing.clone());
        let result = ledger.reserve(request);
        if existing.is_none() && ledger.reservation(request.id()).is_some() {
            write_back(&mut tx, &ledger, &before, &[request.id()]).await?;
            tx.commit().await.map_err(|e| db_error(&e))?;
        }
        result
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, |ledger| ledger.commit(id)).await
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, |ledger| ledger.release(id)).await
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        let mut tx = self.begin().await?;
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM reservations WHERE active AND expires_us <= ? ORDER BY expires_us, id LIMIT ?",
        )
        .bind(now.unix_micros())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db_error(&e))?;
        let due: Vec<Reservation> = rows
            .iter()
            .map(|b| serde_json::from_str(b))
            .collect::<Result<_, _>>()
            .map_err(|e| InventoryError::Unavailable(format!("stored reservation does not decode: {e}")))?;
        if due.is_empty() {
            return Ok(vec![]);
        }
        let products: Vec<ProductId> = due.iter().flat_map(lines_of).collect();
        let ids: Vec<ReservationId> = due.iter().map(|r| r.id).collect();
        let levels = levels(&mut *tx, &products).await?;
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, due);
        let expired = ledger.expire(now, limit);
        write_back(&mut tx, &ledger, &before, &ids).await?;
        tx.commit().await.map_err(|e| db_error(&e))?;
        Ok(expired)
    }
}
