//! Orders (with their saga state) on SQLite.

use async_trait::async_trait;
use commerce_core::{
    OrderId,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{OrderQuery, OrderStore, StalledClaim, StoreError},
};

use crate::{SqliteDb, append_events, decode, int, json, store_error, uint, unavailable};

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

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query("INSERT INTO orders (id, status, settled, version, updated_us, body) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(order.id.as_uuid())
            .bind(order.status.as_str())
            .bind(order.is_settled())
            .bind(int(order.version.get()))
            .bind(order.updated_at.unix_micros())
            .bind(json(order)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error(&e, &format!("order {}", order.id)))?;
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE orders SET status = ?, settled = ?, version = ?, updated_us = ?, body = ? WHERE id = ? AND version = ?",
        )
        .bind(order.status.as_str())
        .bind(order.is_settled())
        .bind(int(order.version.get()))
        .bind(order.updated_at.unix_micros())
        .bind(json(order)?)
        .bind(order.id.as_uuid())
        .bind(int(expected.get()))
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() == 0 {
            let actual: Option<i64> = sqlx::query_scalar("SELECT version FROM orders WHERE id = ?")
                .bind(order.id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| unavailable(&e))?;
            return Err(match actual {
                None => StoreError::NotFound,
                Some(v) => StoreError::VersionConflict { expected, actual: Version::new(uint(v)) },
            });
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
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
        // One writer: the select and the lease are one step no other claimer can split.
        let mut tx = self.db.writer().begin().await.map_err(|e| unavailable(&e))?;
        let rows: Vec<(String, i64, uuid::Uuid)> = sqlx::query_as(
            "UPDATE orders SET recovery_lease_us = ?3
             WHERE id IN (SELECT id FROM orders
                          WHERE NOT settled AND updated_us <= ?1
                            AND (recovery_lease_us IS NULL OR recovery_lease_us <= ?2)
                          ORDER BY updated_us, id LIMIT ?4)
             RETURNING body, updated_us, id",
        )
        .bind(claim.updated_before.unix_micros())
        .bind(claim.now.unix_micros())
        .bind(claim.lease_until.unix_micros())
        .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))?;
        let mut rows = rows;
        // RETURNING has no order: oldest first, as the contract says.
        rows.sort_by_key(|(_, updated_us, id)| (*updated_us, *id));
        rows.iter().map(|(body, _, _)| decode(body)).collect()
    }
}
