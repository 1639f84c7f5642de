//! Stock and reservations on PostgreSQL.
//!
//! Each operation runs in one transaction: it locks the rows it touches
//! (the reservation, then the stock rows of its lines in product-id order, so
//! concurrent operations never deadlock), loads them into a core
//! [`Ledger`](commerce_core::inventory::Ledger), applies the operation there —
//! the rules live only in the core — and writes back what changed, with a
//! `stock.changed` event per changed level in the same transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use commerce_core::{
    EventId, ProductId, ReservationId, Timestamp,
    events::EventEnvelope,
    inventory::{
        InventoryError, InventoryReceipt, Ledger, OnHand, Reservation, ReservationState, StockLevel, StockReturn,
    },
    ports::InventoryStore,
};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::{append_events, sqlstate, to_datetime, version_i64};

/// Stock levels and reservations in the `commerce` schema.
#[derive(Debug, Clone)]
pub struct PgInventoryStore {
    pool: PgPool,
}

impl PgInventoryStore {
    /// A store on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn db(e: &sqlx::Error) -> InventoryError {
    InventoryError::Unavailable(e.to_string())
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

type Tx = Transaction<'static, Postgres>;

/// Locks and loads the stock rows of `products`, in product-id order.
async fn lock_levels(tx: &mut Tx, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
    let mut ids: Vec<Uuid> = products.iter().map(ProductId::as_uuid).collect();
    ids.sort();
    ids.dedup();
    let rows = sqlx::query(
        "SELECT product_id, on_hand, reserved, version FROM commerce.stock WHERE product_id = ANY($1) ORDER BY product_id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await
    .map_err(|e| db(&e))?;
    Ok(rows
        .iter()
        .map(|r| StockLevel {
            product_id: ProductId::from_uuid(r.get("product_id")),
            on_hand: u64_of(r.get("on_hand")),
            reserved: u64_of(r.get("reserved")),
            version: u64_of(r.get("version")),
        })
        .collect())
}

/// Locks and loads one reservation. The id is locked before its row is read, with a
/// transaction-scoped advisory lock: while no row exists yet, `FOR UPDATE` locks nothing,
/// and two calls with one id (a client's retry racing its first attempt) would both find
/// none and both act. Under the lock the second waits, then sees the first's row.
/// (Two ids folding to one key only wait for each other.)
async fn lock_reservation(tx: &mut Tx, id: ReservationId) -> Result<Option<Reservation>, InventoryError> {
    let (high, low) = id.as_uuid().as_u64_pair();
    let key = i64::from_ne_bytes((high ^ low).to_ne_bytes());
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut **tx).await.map_err(|e| db(&e))?;
    let body: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT body FROM commerce.reservations WHERE id = $1 FOR UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| db(&e))?;
    body.map(serde_json::from_value)
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
    let now = Timestamp::from_datetime(time::OffsetDateTime::now_utc());
    let mut events = vec![];
    for level in ledger.levels() {
        if before.get(&level.product_id) == Some(&level.version) {
            continue;
        }
        sqlx::query(
            "INSERT INTO commerce.stock (product_id, on_hand, reserved, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (product_id) DO UPDATE SET on_hand = $2, reserved = $3, version = $4",
        )
        .bind(level.product_id.as_uuid())
        .bind(version_i64(level.on_hand))
        .bind(version_i64(level.reserved))
        .bind(version_i64(level.version))
        .execute(&mut **tx)
        .await
        .map_err(|e| db(&e))?;
        events.push(EventEnvelope::stock_changed(EventId::from_uuid(Uuid::now_v7()), now, *level));
    }
    for id in reservations {
        let Some(r) = ledger.reservation(*id) else { continue };
        let body = serde_json::to_value(r).map_err(|e| InventoryError::Unavailable(e.to_string()))?;
        sqlx::query(
            "INSERT INTO commerce.reservations (id, active, expires_at, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET active = $2, expires_at = $3, body = $4",
        )
        .bind(r.id.as_uuid())
        .bind(r.state == ReservationState::Active)
        .bind(to_datetime(r.expires_at))
        .bind(body)
        .execute(&mut **tx)
        .await
        .map_err(|e| db(&e))?;
    }
    append_events(tx, &events).await.map_err(|e| db(&e))
}

fn versions(levels: &[StockLevel]) -> HashMap<ProductId, u64> {
    levels.iter().map(|l| (l.product_id, l.version)).collect()
}

impl PgInventoryStore {
    async fn begin(&self) -> Result<Tx, InventoryError> {
        self.pool.begin().await.map_err(|e| db(&e))
    }

    /// Runs an operation on one reservation: lock it and its stock rows, apply, write back.
    async fn on_reservation(
        &self,
        id: ReservationId,
        apply: impl Fn(&mut Ledger) -> Result<InventoryReceipt, InventoryError>,
    ) -> Result<InventoryReceipt, InventoryError> {
        let mut tx = self.begin().await?;
        let reservation = lock_reservation(&mut tx, id).await?;
        let levels = match &reservation {
            Some(r) => lock_levels(&mut tx, &lines_of(r)).await?,
            None => vec![],
        };
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, reservation);
        let result = apply(&mut ledger);
        if result.is_ok() {
            write_back(&mut tx, &ledger, &before, &[id]).await?;
            tx.commit().await.map_err(|e| db(&e))?;
        }
        result
    }
}

#[async_trait]
impl InventoryStore for PgInventoryStore {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let ids: Vec<Uuid> = products.iter().map(ProductId::as_uuid).collect();
        let rows =
            sqlx::query("SELECT product_id, on_hand, reserved, version FROM commerce.stock WHERE product_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db(&e))?;
        let found: HashMap<ProductId, StockLevel> = rows
            .iter()
            .map(|r| {
                let id = ProductId::from_uuid(r.get("product_id"));
                let level = StockLevel {
                    product_id: id,
                    on_hand: u64_of(r.get("on_hand")),
                    reserved: u64_of(r.get("reserved")),
                    version: u64_of(r.get("version")),
                };
                (id, level)
            })
            .collect();
        Ok(products.iter().filter_map(|p| found.get(p).copied()).collect())
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let mut tx = self.begin().await?;
        let levels = lock_levels(&mut tx, &[product]).await?;
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, []);
        let level = ledger.set_on_hand(product, on_hand)?;
        write_back(&mut tx, &ledger, &before, &[]).await?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(level)
    }

    async fn reserve(
        &self,
        request: &commerce_core::inventory::ReservationRequest,
    ) -> Result<InventoryReceipt, InventoryError> {
        // `lock_reservation` serialises calls with this id; the retry on 23505 stays as a
        // guard should a row appear by another path.
        for attempt in 0..2 {
            let mut tx = self.begin().await?;
            let existing = lock_reservation(&mut tx, request.id()).await?;
            let products: Vec<ProductId> = request.lines().iter().map(|l| l.product_id).collect();
            let levels = lock_levels(&mut tx, &products).await?;
            let before = versions(&levels);
            let mut ledger = Ledger::from_parts(levels, existing.clone());
            let result = ledger.reserve(request);
            let recorded = existing.is_none() && ledger.reservation(request.id()).is_some();
            if !recorded {
                return result;
            }
            match write_back(&mut tx, &ledger, &before, &[request.id()]).await {
                Ok(()) => {}
                Err(e) => return Err(e),
            }
            match tx.commit().await {
                Ok(()) => return result,
                Err(e) if sqlstate(&e).as_deref() == Some("23505") && attempt == 0 => {}
                Err(e) => return Err(db(&e)),
            }
        }
        Err(InventoryError::Unavailable("reservation kept conflicting".into()))
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, |ledger| ledger.commit(id)).await
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.on_reservation(id, |ledger| ledger.release(id)).await
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        let mut tx = self.begin().await?;
        // SKIP LOCKED: several sweepers share the work, each reservation expires once.
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT body FROM commerce.reservations WHERE active AND expires_at <= $1
             ORDER BY expires_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(to_datetime(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db(&e))?;
        let due: Vec<Reservation> = rows
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .map_err(|e| InventoryError::Unavailable(format!("stored reservation does not decode: {e}")))?;
        if due.is_empty() {
            return Ok(vec![]);
        }
        let products: Vec<ProductId> = due.iter().flat_map(lines_of).collect();
        let ids: Vec<ReservationId> = due.iter().map(|r| r.id).collect();
        let levels = lock_levels(&mut tx, &products).await?;
        let before = versions(&levels);
        let mut ledger = Ledger::from_parts(levels, due);
        let expired = ledger.expire(now, limit);
        write_back(&mut tx, &ledger, &before, &ids).await?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(expired)
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        let mut tx = self.begin().await?;
        // The advisory lock of `lock_reservation` serialises two calls with one id.
        let existing = lock_reservation(&mut tx, request.id()).await?;
        let products: Vec<ProductId> = request.lines().iter().map(|l| l.product_id).collect();
        let levels = lock_levels(&mut tx, &products).await?;
        let before = versions(&levels);
        let replay = existing.is_some();
        let mut ledger = Ledger::from_parts(levels, existing);
        let receipt = ledger.restore(request)?;
        if !replay {
            write_back(&mut tx, &ledger, &before, &[request.id()]).await?;
            tx.commit().await.map_err(|e| db(&e))?;
        }
        Ok(receipt)
    }
}
