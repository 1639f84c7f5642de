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
    inventory::{
        InventoryError, InventoryReceipt, Ledger, OnHand, Reservation, ReservationLine, ReservationState, StockLevel,
        StockReturn,
    },
    ports::InventoryStore,
};
use rusqlite::{OptionalExtension as _, Transaction, params};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use crate::{Abort, OutboxRows, SqliteDb, int, uint};

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

fn corrupt(what: &str, e: &serde_json::Error) -> Abort<InventoryError> {
    Abort::Refused(InventoryError::Unavailable(format!("stored {what} does not decode: {e}")))
}

/// The products' ids, sorted and without repeats.
fn ids_of(products: &[ProductId]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = products.iter().map(ProductId::as_uuid).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The stock rows of `products` (those that exist), for a read outside any change.
async fn levels(db: &SqliteDb, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
    let ids = ids_of(products);
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut b = QueryBuilder::new("SELECT product_id, on_hand, reserved, version FROM stock WHERE product_id IN (");
    let mut list = b.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    b.push(")");
    let rows = b.build().fetch_all(db.reader()).await.map_err(|e| db_error(&e))?;
    Ok(rows
        .iter()
        .map(|r| StockLevel {
            product_id: ProductId::from_uuid(r.get("product_id")),
            on_hand: uint(r.get("on_hand")),
            reserved: uint(r.get("reserved")),
            version: uint(r.get("version")),
        })
        .collect())
}

/// The stock rows of `products` (those that exist), inside a change.
fn levels_in(tx: &Transaction<'_>, products: &[ProductId]) -> rusqlite::Result<Vec<StockLevel>> {
    let mut select = tx.prepare_cached("SELECT on_hand, reserved, version FROM stock WHERE product_id = ?")?;
    let mut found = vec![];
    for id in ids_of(products) {
        let level = select
            .query_row([id], |r| {
                Ok(StockLevel {
                    product_id: ProductId::from_uuid(id),
                    on_hand: uint(r.get(0)?),
                    reserved: uint(r.get(1)?),
                    version: uint(r.get(2)?),
                })
            })
            .optional()?;
        found.extend(level);
    }
    Ok(found)
}

fn reservation(tx: &Transaction<'_>, id: ReservationId) -> Result<Option<Reservation>, Abort<InventoryError>> {
    let body: Option<String> = tx
        .prepare_cached("SELECT body FROM reservations WHERE id = ?")?
        .query_row([id.as_uuid()], |r| r.get(0))
        .optional()?;
    body.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt("reservation", &e))
}

fn lines_of(r: &Reservation) -> Vec<ProductId> {
    r.lines.iter().map(|l| l.product_id).collect()
}

/// Writes back every level whose version moved and the given reservations, with events.
fn write_back(
    tx: &Transaction<'_>,
    ledger: &Ledger,
    before: &HashMap<ProductId, u64>,
    reservations: &[ReservationId],
) -> Result<(), Abort<InventoryError>> {
    let now = Timestamp::from_unix_micros(crate::now_us());
    let mut events = vec![];
    let mut upsert = tx.prepare_cached(
        "INSERT INTO stock (product_id, on_hand, reserved, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (product_id) DO UPDATE SET on_hand = ?2, reserved = ?3, version = ?4",
    )?;
    for level in ledger.levels() {
        if before.get(&level.product_id) == Some(&level.version) {
            continue;
        }
        upsert.execute(params![
            level.product_id.as_uuid(),
            int(level.on_hand),
            int(level.reserved),
            int(level.version)
        ])?;
        events.push(EventEnvelope::stock_changed(EventId::from_uuid(Uuid::now_v7()), now, *level));
    }
    let mut store = tx.prepare_cached(
        "INSERT INTO reservations (id, active, expires_us, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET active = ?2, expires_us = ?3, body = ?4",
    )?;
    for id in reservations {
        let Some(r) = ledger.reservation(*id) else { continue };
        let body = serde_json::to_string(r).map_err(|e| corrupt("reservation", &e))?;
        store.execute(params![
            r.id.as_uuid(),
            r.state == ReservationState::Active,
            r.expires_at.unix_micros(),
            body
        ])?;
    }
    OutboxRows::encode(&events).map_err(|e| corrupt("event", &e))?.append(tx)?;
    Ok(())
}

fn versions(levels: &[StockLevel]) -> HashMap<ProductId, u64> {
    levels.iter().map(|l| (l.product_id, l.version)).collect()
}

/// What a reserve or a return works on: the record of its id, if any, and the stock of its lines.
struct Loaded {
    /// The id was recorded before: the operation replays it.
    replay: bool,
    ledger: Ledger,
    before: HashMap<ProductId, u64>,
}

fn load(tx: &Transaction<'_>, id: ReservationId, lines: &[ReservationLine]) -> Result<Loaded, Abort<InventoryError>> {
    let existing = reservation(tx, id)?;
    let products: Vec<ProductId> = lines.iter().map(|l| l.product_id).collect();
    let levels = levels_in(tx, &products)?;
    let before = versions(&levels);
    Ok(Loaded { replay: existing.is_some(), ledger: Ledger::from_parts(levels, existing), before })
}

/// A ledger's answer inside a change: a refusal rolls it back.
fn refused<T>(result: Result<T, InventoryError>) -> Result<T, Abort<InventoryError>> {
    result.map_err(Abort::Refused)
}

impl SqliteInventoryStore {
    /// Runs an operation on one reservation: load it and its stock rows, apply, write back.
    async fn on_reservation(
        &self,
        id: ReservationId,
        apply: impl FnOnce(&mut Ledger) -> Result<InventoryReceipt, InventoryError> + Send + 'static,
    ) -> Result<InventoryReceipt, InventoryError> {
        self.db
            .write(move |tx| {
                let reservation = reservation(tx, id)?;
                let levels = match &reservation {
                    Some(r) => levels_in(tx, &lines_of(r))?,
                    None => vec![],
                };
                let before = versions(&levels);
                let mut ledger = Ledger::from_parts(levels, reservation);
                let receipt = refused(apply(&mut ledger))?;
                write_back(tx, &ledger, &before, &[id])?;
                Ok(receipt)
            })
            .await
    }
}

#[async_trait]
impl InventoryStore for SqliteInventoryStore {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let found: HashMap<ProductId, StockLevel> =
            levels(&self.db, products).await?.into_iter().map(|l| (l.product_id, l)).collect();
        Ok(products.iter().filter_map(|p| found.get(p).copied()).collect())
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        self.db
            .write(move |tx| {
                let levels = levels_in(tx, &[product])?;
                let before = versions(&levels);
                let mut ledger = Ledger::from_parts(levels, []);
                let level = refused(ledger.set_on_hand(product, on_hand))?;
                write_back(tx, &ledger, &before, &[])?;
                Ok(level)
            })
            .await
    }

    async fn reserve(
        &self,
        request: &commerce_core::inventory::ReservationRequest,
    ) -> Result<InventoryReceipt, InventoryError> {
        let request = request.clone();
        self.db
            .write(move |tx| {
                let Loaded { replay, mut ledger, before } = load(tx, request.id(), request.lines())?;
                let result = ledger.reserve(&request);
                // A replay changes nothing. A new reservation is stored with its stock, and
                // so is a refused one: a retry of the same id must get the same refusal.
                if !replay && ledger.reservation(request.id()).is_some() {
                    write_back(tx, &ledger, &before, &[request.id()])?;
                }
                Ok::<_, Abort<InventoryError>>(result)
            })
            .await?
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, move |ledger| ledger.commit(id)).await
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, move |ledger| ledger.release(id)).await
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        let max = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .write(move |tx| {
                let bodies: Vec<String> = tx
                    .prepare_cached(
                        "SELECT body FROM reservations WHERE active AND expires_us <= ? ORDER BY expires_us, id LIMIT ?",
                    )?
                    .query_map(params![now.unix_micros(), max], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let due: Vec<Reservation> = bodies
                    .iter()
                    .map(|b| serde_json::from_str(b))
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt("reservation", &e))?;
                if due.is_empty() {
                    return Ok(vec![]);
                }
                let products: Vec<ProductId> = due.iter().flat_map(lines_of).collect();
                let ids: Vec<ReservationId> = due.iter().map(|r| r.id).collect();
                let levels = levels_in(tx, &products)?;
                let before = versions(&levels);
                let mut ledger = Ledger::from_parts(levels, due);
                let expired = ledger.expire(now, limit);
                write_back(tx, &ledger, &before, &ids)?;
                Ok(expired)
            })
            .await
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        let request = request.clone();
        self.db
            .write(move |tx| {
                let Loaded { replay, mut ledger, before } = load(tx, request.id(), request.lines())?;
                let receipt = refused(ledger.restore(&request))?;
                if !replay {
                    write_back(tx, &ledger, &before, &[request.id()])?;
                }
                Ok(receipt)
            })
            .await
    }
}
