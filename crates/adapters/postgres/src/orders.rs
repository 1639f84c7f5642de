//! Orders (with their saga state) on PostgreSQL.

use async_trait::async_trait;
use commerce_core::{
    OrderId,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{OrderQuery, OrderStore, StalledClaim, StoreError},
};
use sqlx::PgPool;

use crate::{append_events, corrupt, store_error, to_datetime, unavailable, version_i64};

/// Orders in the `commerce` schema: key columns for queries, the aggregate as JSON.
#[derive(Debug, Clone)]
pub struct PgOrderStore {
    pool: PgPool,
}

impl PgOrderStore {
    /// A store on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn decode(rows: Vec<serde_json::Value>) -> Result<Vec<Order>, StoreError> {
    rows.into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|e| corrupt(&e))
}

#[async_trait]
impl OrderStore for PgOrderStore {
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let body = serde_json::to_value(order).map_err(|e| corrupt(&e))?;
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        sqlx::query(
            "INSERT INTO commerce.orders (id, status, settled, version, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(order.id.as_uuid())
        .bind(order.status.as_str())
        .bind(order.is_settled())
        .bind(version_i64(order.version.get()))
        .bind(to_datetime(order.updated_at))
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(|e| store_error(&e, &format!("order {}", order.id)))?;
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let body = serde_json::to_value(order).map_err(|e| corrupt(&e))?;
        let mut tx = self.pool.begin().await.map_err(|e| unavailable(&e))?;
        let updated = sqlx::query(
            "UPDATE commerce.orders SET status = $2, settled = $3, version = $4, updated_at = $5, body = $6
             WHERE id = $1 AND version = $7",
        )
        .bind(order.id.as_uuid())
        .bind(order.status.as_str())
        .bind(order.is_settled())
        .bind(version_i64(order.version.get()))
        .bind(to_datetime(order.updated_at))
        .bind(body)
        .bind(version_i64(expected.get()))
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
        if updated.rows_affected() == 0 {
            drop(tx);
            let actual: Option<i64> = sqlx::query_scalar("SELECT version FROM commerce.orders WHERE id = $1")
                .bind(order.id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| unavailable(&e))?;
            return Err(match actual {
                None => StoreError::NotFound,
                Some(v) => {
                    StoreError::VersionConflict { expected, actual: Version::new(u64::try_from(v).unwrap_or(0)) }
                }
            });
        }
        append_events(&mut tx, events).await.map_err(|e| unavailable(&e))?;
        tx.commit().await.map_err(|e| unavailable(&e))
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let body: Option<serde_json::Value> = sqlx::query_scalar("SELECT body FROM commerce.orders WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        body.map(serde_json::from_value).transpose().map_err(|e| corrupt(&e))
    }

    async fn list(&self, query: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT body FROM commerce.orders
             WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(query.status.map(commerce_core::order::OrderStatus::as_str))
        .bind(query.after.map(|a| a.as_uuid()))
        .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        decode(rows)
    }

    async fn claim_stalled(&self, claim: &StalledClaim) -> Result<Vec<Order>, StoreError> {
        // SKIP LOCKED: a job claiming at the same moment passes over these rows; one that
        // comes after sees their lease (READ COMMITTED re-checks an updated row).
        let rows: Vec<(serde_json::Value, time::OffsetDateTime, uuid::Uuid)> = sqlx::query_as(
            "UPDATE commerce.orders o SET recovery_lease_until = $3
             FROM (SELECT id FROM commerce.orders
                   WHERE NOT settled AND updated_at <= $1
                     AND (recovery_lease_until IS NULL OR recovery_lease_until <= $2)
                   ORDER BY updated_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) claimed
             WHERE o.id = claimed.id
             RETURNING o.body, o.updated_at, o.id",
        )
        .bind(to_datetime(claim.updated_before))
        .bind(to_datetime(claim.now))
        .bind(to_datetime(claim.lease_until))
        .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        let mut rows = rows;
        // RETURNING has no order: oldest first, as the contract says.
        rows.sort_by_key(|(_, updated_at, id)| (*updated_at, *id));
        decode(rows.into_iter().map(|(body, _, _)| body).collect())
    }
}
