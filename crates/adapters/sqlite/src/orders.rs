//! Orders (with their saga state) on SQLite.

use async_trait::async_trait;
use commerce_core::{
    OrderId,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{OrderQuery, OrderStore, StalledClaim, StoreError},
};
use rusqlite::params;

use crate::{Abort, OutboxRows, SqliteDb, corrupt, decode, duplicate, int, json, missed_update, unavailable};

/// Orders: key columns for queries, the aggregate as JSON.
#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    db: SqliteDb,
}

impl SqliteOrderStore {
    /// The store on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

/// An order as its row holds it, encoded before it goes to the writer.
struct OrderRow {
    id: uuid::Uuid,
    status: &'static str,
    settled: bool,
    version: i64,
    updated_us: i64,
    body: String,
    events: OutboxRows,
}

impl OrderRow {
    fn of(order: &Order, events: &[EventEnvelope]) -> Result<Self, StoreError> {
        Ok(Self {
            id: order.id.as_uuid(),
            status: order.status.as_str(),
            settled: order.is_settled(),
            version: int(order.version.get()),
            updated_us: order.updated_at.unix_micros(),
            body: json(order)?,
            events: OutboxRows::encode(events).map_err(|e| corrupt(&e))?,
        })
    }
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let row = OrderRow::of(order, events)?;
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO orders (id, status, settled, version, updated_us, body) VALUES (?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![row.id, row.status, row.settled, row.version, row.updated_us, row.body])
                .map_err(|e| duplicate(e, &format!("order {}", row.id)))?;
                Ok(row.events.append(tx)?)
            })
            .await
    }

    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let row = OrderRow::of(order, events)?;
        self.db
            .write(move |tx| {
                let updated = tx
                    .prepare_cached(
                        "UPDATE orders SET status = ?, settled = ?, version = ?, updated_us = ?, body = ?
                         WHERE id = ? AND version = ?",
                    )?
                    .execute(params![
                        row.status,
                        row.settled,
                        row.version,
                        row.updated_us,
                        row.body,
                        row.id,
                        int(expected.get())
                    ])?;
                if updated == 0 {
                    return Err(missed_update(tx, "orders", row.id, expected));
                }
                Ok(row.events.append(tx)?)
            })
            .await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM orders WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        body.as_deref().map(decode).transpose()
    }

    async fn list(&self, query: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM orders WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(query.status.map(commerce_core::order::OrderStatus::as_str))
        .bind(query.after.map(|a| a.as_uuid()))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.reader())
        .await
        .map_err(|e| unavailable(&e))?;
        rows.iter().map(|b| decode(b)).collect()
    }

    async fn claim_stalled(&self, claim: &StalledClaim) -> Result<Vec<Order>, StoreError> {
        let (updated_before, now, lease_until, limit) = (
            claim.updated_before.unix_micros(),
            claim.now.unix_micros(),
            claim.lease_until.unix_micros(),
            i64::try_from(claim.limit).unwrap_or(i64::MAX),
        );
        // One writer: the select and the lease are one step no other claimer can split.
        let mut rows: Vec<(String, i64, uuid::Uuid)> = self
            .db
            .write(move |tx| {
                let mut lease = tx.prepare_cached(
                    "UPDATE orders SET recovery_lease_us = ?3
                     WHERE id IN (SELECT id FROM orders
                                  WHERE NOT settled AND updated_us <= ?1
                                    AND (recovery_lease_us IS NULL OR recovery_lease_us <= ?2)
                                  ORDER BY updated_us, id LIMIT ?4)
                     RETURNING body, updated_us, id",
                )?;
                let rows = lease
                    .query_map(params![updated_before, now, lease_until, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                Ok::<_, Abort<StoreError>>(rows)
            })
            .await?;
        // RETURNING has no order: oldest first, as the contract says.
        rows.sort_by_key(|(_, updated_us, id)| (*updated_us, *id));
        rows.iter().map(|(body, _, _)| decode(body)).collect()
    }
}
