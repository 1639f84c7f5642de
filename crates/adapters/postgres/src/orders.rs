//! Orders (with their saga state) on PostgreSQL.

use async_trait::async_trait;
use commerce_core::{
    OrderId,
    catalog::Version,
    events::EventEnvelope,
    order::Order,
    ports::{EventError, OrderQuery, OrderStore, Outbox, OutboxRecord, StalledClaim, StoreError},
};
use sqlx::{PgPool, Row as _};

use crate::{OutboxRows, corrupt, outbox_insert, store_error, to_datetime, unavailable, version_i64};

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
    // Each write is one statement (data-modifying CTEs), atomic without BEGIN and COMMIT:
    // one round trip instead of four, on the checkout's hottest path.
    async fn insert(&self, order: &Order, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let body = serde_json::to_value(order).map_err(|e| corrupt(&e))?;
        let rows = OutboxRows::of(events).map_err(|e| corrupt(&e))?;
        let query = sqlx::query(concat!(
            "WITH placed AS (INSERT INTO commerce.orders (id, status, settled, version, updated_at, body) ",
            "VALUES ($1, $2, $3, $4, $5, $6)) ",
            outbox_insert!("$7", "$8", "$9", "$10", "$11"),
            " ORDER BY e.n"
        ))
        .bind(order.id.as_uuid())
        .bind(order.status.as_str())
        .bind(order.is_settled())
        .bind(version_i64(order.version.get()))
        .bind(to_datetime(order.updated_at))
        .bind(body);
        rows.bind(query).execute(&self.pool).await.map_err(|e| store_error(&e, &format!("order {}", order.id)))?;
        Ok(())
    }

    async fn update(&self, order: &Order, expected: Version, events: &[EventEnvelope]) -> Result<(), StoreError> {
        let body = serde_json::to_value(order).map_err(|e| corrupt(&e))?;
        let rows = OutboxRows::of(events).map_err(|e| corrupt(&e))?;
        let query = sqlx::query(concat!(
            "WITH updated AS (UPDATE commerce.orders SET status = $2, settled = $3, version = $4, updated_at = $5, ",
            "body = $6 WHERE id = $1 AND version = $7 RETURNING 1), appended AS (",
            outbox_insert!("$8", "$9", "$10", "$11", "$12"),
            " WHERE EXISTS (SELECT 1 FROM updated) ORDER BY e.n RETURNING 1) ",
            "SELECT count(*) FROM updated"
        ))
        .bind(order.id.as_uuid())
        .bind(order.status.as_str())
        .bind(order.is_settled())
        .bind(version_i64(order.version.get()))
        .bind(to_datetime(order.updated_at))
        .bind(body)
        .bind(version_i64(expected.get()));
        let row = rows.bind(query).fetch_one(&self.pool).await.map_err(|e| unavailable(&e))?;
        let updated: i64 = row.try_get(0).map_err(|e| unavailable(&e))?;
        if updated == 1 {
            return Ok(());
        }
        let actual: Option<i64> = sqlx::query_scalar("SELECT version FROM commerce.orders WHERE id = $1")
            .bind(order.id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        Err(match actual {
            None => StoreError::NotFound,
            Some(v) => StoreError::VersionConflict { expected, actual: Version::new(u64::try_from(v).unwrap_or(0)) },
        })
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

/// The store is also the reader of the outbox it writes (through [`crate::PgOutbox`]),
/// so the outbox cases of the order conformance suite can run against it.
#[async_trait]
impl Outbox for PgOrderStore {
    async fn claim(&self, limit: usize) -> Result<Vec<OutboxRecord>, EventError> {
        crate::PgOutbox::new(self.pool.clone(), 30).claim(limit).await
    }

    async fn mark_published(&self, positions: &[u64]) -> Result<(), EventError> {
        crate::PgOutbox::new(self.pool.clone(), 30).mark_published(positions).await
    }
}
