//! The read model's changes in commit order ([`ReadModelFeed`]), for storefront replicas.
//!
//! Every write of `commerce_read.products` and `commerce_read.collections` stamps the row
//! with its transaction id (`change_xid`, a never-wrapping `xid8`). A pass reads, in
//! `(change_xid, id)` order, the rows stamped at or after its watermark, and remembers the
//! oldest transaction still running when it began (`pg_snapshot_xmin`): every transaction
//! below it had finished, so the next pass starts there. A transaction that commits during
//! a pass with a lower id than rows already read is not lost: its id is at or above that
//! remembered xmin, so the next pass reads it (a repeat of rows is harmless: copies apply
//! by version).

use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    CollectionId, ProductId,
    catalog::Collection,
    ports::{CollectionChange, FeedBatch, FeedPosition, ReadModelFeed, StoreError},
    query::ProductView,
};
use sqlx::{PgPool, Row};

use crate::{PgQuery, corrupt, unavailable};

/// [`ReadModelFeed`] over the read model on `pool` (migrated with [`crate::migrate_read`]).
#[derive(Debug, Clone)]
pub struct PgReadModelFeed {
    pool: PgPool,
}

impl PgReadModelFeed {
    /// The feed of the read model on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The decoded [`FeedPosition`]: the pass's watermark, the xmin seen when it began, and the
/// last row read in it. Written as `watermark/next` or `watermark/next/xid/id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    watermark: i64,
    next: i64,
    after: Option<(i64, uuid::Uuid)>,
}

impl Position {
    fn decode(p: &FeedPosition) -> Result<Option<Self>, StoreError> {
        if p.0.is_empty() {
            return Ok(None);
        }
        let bad = || StoreError::Unavailable(format!("not a position of this feed: {:?}", p.0));
        let parts: Vec<&str> = p.0.split('/').collect();
        let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
        match parts.as_slice() {
            [w, n] => Ok(Some(Self { watermark: number(w)?, next: number(n)?, after: None })),
            [w, n, x, id] => Ok(Some(Self {
                watermark: number(w)?,
                next: number(n)?,
                after: Some((number(x)?, id.parse().map_err(|_| bad())?)),
            })),
            _ => Err(bad()),
        }
    }

    /// The position `p` names; the empty position starts before every row.
    fn of(p: &FeedPosition) -> Result<Self, StoreError> {
        Ok(Self::decode(p)?.unwrap_or(Self { watermark: 0, next: 0, after: None }))
    }

    fn encode(self) -> FeedPosition {
        FeedPosition(match self.after {
            None => format!("{}/{}", self.watermark, self.next),
            Some((xid, id)) => format!("{}/{}/{xid}/{id}", self.watermark, self.next),
        })
    }
}

/// Reads a row's view: the stored JSON with the row's stock columns, which stock events
/// update without rewriting the JSON.
fn view_of(row: &sqlx::postgres::PgRow) -> Result<ProductView, StoreError> {
    let mut view: ProductView = serde_json::from_str(row.get::<&str, _>("view")).map_err(|e| corrupt(&e))?;
    view.available_stock = u64::try_from(row.get::<i64, _>("available_stock")).unwrap_or(0);
    view.stock_version = u64::try_from(row.get::<i64, _>("stock_version")).unwrap_or(0);
    Ok(view)
}

impl PgReadModelFeed {
    async fn collections(&self, watermark: i64) -> Result<Vec<CollectionChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, deleted, body::text AS body FROM commerce_read.collections WHERE change_xid >= $1::text::xid8",
        )
        .bind(watermark.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        rows.iter()
            .map(|row| {
                if row.get::<bool, _>("deleted") {
                    return Ok(CollectionChange::Removed(CollectionId::from_uuid(row.get("id"))));
                }
                let c: Collection = serde_json::from_str(row.get::<&str, _>("body")).map_err(|e| corrupt(&e))?;
                Ok(CollectionChange::Stored(c))
            })
            .collect()
    }
}

/// One page of the feed: the statement's xmin and up to `$limit` products matching
/// `$where`, in `(change_xid, id)` order.
macro_rules! feed_page {
    ($where:literal, $limit:literal) => {
        concat!(
            "SELECT x.xmin, p.* FROM
               (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) x
             LEFT JOIN LATERAL (
               SELECT change_xid::text::bigint AS xid, id, view::text AS view, available_stock, stock_version,
                      (extract(epoch FROM statement_timestamp() - changed_at) * 1000000)::bigint AS waited_us
               FROM commerce_read.products WHERE ",
            $where,
            " ORDER BY change_xid, id LIMIT ",
            $limit,
            "
             ) p ON true"
        )
    };
}

/// The statement reading one page from `position`, whose parameters [`bind_page`] binds.
///
/// The xmin comes from the same statement's snapshot as the rows, so every transaction
/// below it is either visible here or never committed. Each page has one lower bound: a
/// pass's first page starts at its watermark, a later page after its last row (at or above
/// the watermark). With both, PostgreSQL started the index scan at the row comparison's
/// `(0, nil)` and walked the whole change index on every poll: 84 ms at 1,000,000 products,
/// against 0.07 ms (docs/benchmarks.md).
fn page_sql(position: Position) -> &'static str {
    match position.after {
        None => feed_page!("change_xid >= $1::text::xid8", "$2"),
        Some(_) => feed_page!("(change_xid, id) > ($1::text::xid8, $2)", "$3"),
    }
}

fn bind_page(query: PgQuery<'_>, position: Position, limit: usize) -> PgQuery<'_> {
    let query = match position.after {
        None => query.bind(position.watermark.to_string()),
        Some((xid, id)) => query.bind(xid.to_string()).bind(id),
    };
    query.bind(i64::try_from(limit).unwrap_or(i64::MAX))
}

impl PgReadModelFeed {
    /// How PostgreSQL reads one page of [`ReadModelFeed::changes`] from `from`
    /// (`EXPLAIN (ANALYZE, BUFFERS)`), one line per node: how tests prove a poll stays an
    /// index probe at any catalog size.
    pub async fn explain_changes(&self, from: &FeedPosition, limit: usize) -> Result<Vec<String>, StoreError> {
        let position = Position::of(from)?;
        let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", page_sql(position));
        let rows =
            bind_page(sqlx::query(&sql), position, limit).fetch_all(&self.pool).await.map_err(|e| unavailable(&e))?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }
}

#[async_trait]
impl ReadModelFeed for PgReadModelFeed {
    async fn changes(&self, from: &FeedPosition, limit: usize) -> Result<FeedBatch, StoreError> {
        let position = Position::of(from)?;
        let query = bind_page(sqlx::query(page_sql(position)), position, limit);
        let rows = query.fetch_all(&self.pool).await.map_err(|e| unavailable(&e))?;
        let xmin = rows.first().map_or(0, |r| r.get::<i64, _>("xmin"));
        let rows: Vec<_> = rows.into_iter().filter(|r| r.get::<Option<uuid::Uuid>, _>("id").is_some()).collect();
        let first_page = position.after.is_none();
        // A pass's next watermark is the xmin seen on its first page.
        let next = if first_page { xmin } else { position.next };
        let collections = if first_page { self.collections(position.watermark).await? } else { vec![] };
        let products = rows.iter().map(view_of).collect::<Result<Vec<_>, _>>()?;
        // The snapshot's rows (watermark 0) were loaded, not waited for.
        let longest_wait = (position.watermark > 0)
            .then(|| rows.iter().map(|r| r.get::<i64, _>("waited_us")).max())
            .flatten()
            .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0)));
        let caught_up = rows.len() < limit;
        let next = if caught_up {
            Position { watermark: next, next, after: None }
        } else {
            let last = rows.last().map(|r| (r.get::<i64, _>("xid"), ProductId::from_uuid(r.get("id")).as_uuid()));
            Position { watermark: position.watermark, next, after: last }
        };
        Ok(FeedBatch { products, collections, next: next.encode(), caught_up, longest_wait })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_foreign_ones_are_refused() {
        let id = uuid::Uuid::from_u128(7);
        for p in [
            Position { watermark: 0, next: 0, after: None },
            Position { watermark: 12, next: 40, after: Some((13, id)) },
        ] {
            assert_eq!(Position::decode(&p.encode()).unwrap(), Some(p));
        }
        assert_eq!(Position::decode(&FeedPosition::default()).unwrap(), None);
        assert!(Position::decode(&FeedPosition("a/b".into())).is_err());
        assert!(Position::decode(&FeedPosition("1/2/3".into())).is_err());
    }
}
