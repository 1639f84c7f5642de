//! # commerce-redis
//!
//! The inventory store port on Redis. Each product's stock is a hash
//! (`on_hand`, `reserved`, `version`); each reservation a hash (its lines, deadline
//! and state); active reservations sit in a sorted set by deadline for the sweeper.
//! Reserve, commit, release, expire, set-on-hand, restock and restore are Lua scripts (sent once,
//! then run by `EVALSHA`), so each is atomic: `available` can never go negative
//! however many clients race, and every operation is idempotent by reservation id
//! exactly like the core's reference `Ledger` (the conformance suite and the
//! model-based property test check it against the ledger).
//!
//! With [`RedisInventoryStore::recording_events`], every script also appends the
//! changed products' new levels to an outbox stream in the same atomic step, and
//! [`RedisStockOutbox`] hands them to the core's `OutboxRelay` as `stock.changed`
//! events: the inventory service publishes every stock change (reservations, commits,
//! releases, the sweeper's expiries, restocks) with no window where one is lost.
//!
//! All keys of one store share a prefix with a hash tag (`{commerce}:...`), so a
//! store lives in one Redis Cluster slot and its multi-key scripts stay legal.

use async_trait::async_trait;
use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{
        InventoryError, InventoryReceipt, OnHand, Reservation, ReservationLine, ReservationRequest, ReservationState,
        RestockOutcome, StockLevel, StockReturn,
    },
    ports::{InventoryStore, RestockStore},
};
use redis::{Script, Value, aio::ConnectionManager};

mod outbox;

pub use outbox::RedisStockOutbox;

const HELPERS: &str = include_str!("inventory.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{HELPERS}\n{body}"))
}

/// The inventory store on Redis.
#[derive(Clone)]
pub struct RedisInventoryStore {
    conn: ConnectionManager,
    prefix: String,
    recording: bool,
    settled_retention: std::time::Duration,
    reserve: Script,
    commit: Script,
    release: Script,
    expire: Script,
    set_on_hand: Script,
    restock: Script,
    restore: Script,
}

impl std::fmt::Debug for RedisInventoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInventoryStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn unavailable(e: &redis::RedisError) -> InventoryError {
    InventoryError::Unavailable(e.to_string())
}

fn malformed(what: &str) -> InventoryError {
    InventoryError::Unavailable(format!("unexpected reply from the inventory script: {what}"))
}

impl RedisInventoryStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379`, or `rediss://` for TLS, trusting
    /// the system's root certificates); keys start with `{namespace}:`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, InventoryError> {
        Self::connect_with_ca(url, namespace, None).await
    }

    /// [`RedisInventoryStore::connect`]; with `ca_pem`, a `rediss://` server's certificate
    /// must chain to that CA (a private one) instead of the system's roots.
    pub async fn connect_with_ca(url: &str, namespace: &str, ca_pem: Option<&[u8]>) -> Result<Self, InventoryError> {
        let client = match ca_pem {
            Some(ca) => {
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) };
                redis::Client::build_with_tls(url, certificates)
            }
            None => redis::Client::open(url),
        }
        .map_err(|e| unavailable(&e))?;
        let conn = ConnectionManager::new(client).await.map_err(|e| unavailable(&e))?;
        Ok(Self {
            conn,
            prefix: format!("{{{namespace}}}"),
            recording: false,
            settled_retention: Self::DEFAULT_SETTLED_RETENTION,
            reserve: script(include_str!("reserve.lua")),
            commit: script(include_str!("commit.lua")),
            restore: script(include_str!("restore.lua")),
            release: script(include_str!("release.lua")),
            expire: script(include_str!("expire.lua")),
            set_on_hand: script(include_str!("set_on_hand.lua")),
            restock: script(include_str!("restock.lua")),
        })
    }

    /// How long a settled reservation (committed, released, expired, refused, or a release
    /// tombstone) is kept by default: far longer than any caller retries one (checkouts
    /// settle within minutes, idempotency keys live a day), so a late retry still gets
    /// the first answer; then Redis drops it.
    pub const DEFAULT_SETTLED_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

    /// This store, keeping settled reservations for `retention` instead of
    /// [`Self::DEFAULT_SETTLED_RETENTION`].
    #[must_use]
    pub fn with_settled_retention(mut self, retention: std::time::Duration) -> Self {
        self.settled_retention = retention;
        self
    }

    /// This store, also recording each change in its outbox stream (`{namespace}:outbox`)
    /// for a [`RedisStockOutbox`] to relay. Without a relay the stream grows without bound,
    /// so only a process that runs one turns this on.
    #[must_use]
    pub fn recording_events(mut self) -> Self {
        self.recording = true;
        self
    }

    /// Deletes every key of this store (tests, and tearing down a namespace).
    pub async fn clear(&self) -> Result<u64, InventoryError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.prefix.replace('[', "\\[").replace(']', "\\]"));
        let mut cursor = 0_u64;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(|e| unavailable(&e))?;
            if !keys.is_empty() {
                deleted +=
                    redis::cmd("DEL").arg(&keys).query_async::<u64>(&mut conn).await.map_err(|e| unavailable(&e))?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// `Ok` when Redis answers `PING`.
    pub async fn ping(&self) -> Result<(), InventoryError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(|e| unavailable(&e))
    }

    async fn run(&self, script: &Script, args: &[String]) -> Result<Vec<Value>, InventoryError> {
        let mut conn = self.conn.clone();
        let mut invocation = script.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(if self.recording { "1" } else { "0" })
            .arg(self.settled_retention.as_secs().max(1));
        for a in args {
            invocation.arg(a);
        }
        invocation.invoke_async::<Vec<Value>>(&mut conn).await.map_err(|e| unavailable(&e))
    }
}

fn text(v: Option<&Value>) -> Result<String, InventoryError> {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8(b.clone()).map_err(|_| malformed("not UTF-8")),
        Some(Value::SimpleString(s)) => Ok(s.clone()),
        Some(Value::Int(n)) => Ok(n.to_string()),
        other => Err(malformed(&format!("expected a string, got {other:?}"))),
    }
}

fn int(v: Option<&Value>) -> Result<u64, InventoryError> {
    match v {
        Some(Value::Int(n)) => u64::try_from(*n).map_err(|_| malformed("negative count")),
        other => text(other)?.parse().map_err(|_| malformed("expected an integer")),
    }
}

fn product(raw: &str) -> Result<ProductId, InventoryError> {
    raw.parse().map_err(|_| malformed("product id"))
}

/// Reads `pid, on_hand, reserved, version`.
fn level(items: &[Value]) -> Result<StockLevel, InventoryError> {
    Ok(StockLevel {
        product_id: product(&text(items.first())?)?,
        on_hand: int(items.get(1))?,
        reserved: int(items.get(2))?,
        version: int(items.get(3))?,
    })
}

/// Reads `lines, expires_at, state, (pid, on_hand, reserved, version)*` into a receipt.
fn receipt(id: ReservationId, items: &[Value]) -> Result<InventoryReceipt, InventoryError> {
    let lines: Vec<ReservationLine> = serde_json::from_str(&text(items.first())?).map_err(|_| malformed("lines"))?;
    let expires_at: Timestamp =
        serde_json::from_value(serde_json::Value::String(text(items.get(1))?)).map_err(|_| malformed("deadline"))?;
    let state: ReservationState = serde_json::from_str(&text(items.get(2))?).map_err(|_| malformed("state"))?;
    let levels = items[3..].chunks(4).map(level).collect::<Result<_, InventoryError>>()?;
    Ok(InventoryReceipt { reservation: Reservation { id, lines, expires_at, state }, levels })
}

/// Maps a script reply to a receipt or a domain error.
fn outcome(id: ReservationId, reply: &[Value]) -> Result<InventoryReceipt, InventoryError> {
    match text(reply.first())?.as_str() {
        "ok" => receipt(id, &reply[1..]),
        "err" => Err(match text(reply.get(1))?.as_str() {
            "mismatch" => InventoryError::ReservationMismatch(id),
            "unknown_reservation" => InventoryError::UnknownReservation(id),
            "too_many" => InventoryError::InvalidRequest(format!(
                "returning units of product {} would pass {} on hand",
                text(reply.get(2))?,
                OnHand::MAX
            )),
            "unknown_product" => InventoryError::UnknownProduct(product(&text(reply.get(2))?)?),
            "invalid_transition" => InventoryError::InvalidTransition {
                id,
                state: serde_json::from_str(&text(reply.get(2))?).map_err(|_| malformed("state"))?,
            },
            "insufficient" => match serde_json::from_str(&text(reply.get(2))?).map_err(|_| malformed("state"))? {
                ReservationState::Rejected { product_id, requested, available } => {
                    InventoryError::InsufficientStock { product_id, requested, available }
                }
                _ => malformed("refusal without a rejected state"),
            },
            other => malformed(other),
        }),
        other => Err(malformed(other)),
    }
}

#[async_trait]
impl InventoryStore for RedisInventoryStore {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let mut pipe = redis::pipe();
        for p in products {
            pipe.cmd("HMGET").arg(format!("{}:stock:{p}", self.prefix)).arg("on_hand").arg("reserved").arg("version");
        }
        let mut conn = self.conn.clone();
        let rows: Vec<Vec<Option<u64>>> = pipe.query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        Ok(products
            .iter()
            .zip(rows)
            .filter_map(|(p, row)| match row.as_slice() {
                [Some(on_hand), Some(reserved), Some(version)] => {
                    Some(StockLevel { product_id: *p, on_hand: *on_hand, reserved: *reserved, version: *version })
                }
                _ => None,
            })
            .collect())
    }

    async fn set_on_hand(&self, product_id: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let on_hand = on_hand.get();
        let reply = self.run(&self.set_on_hand, &[product_id.to_string(), on_hand.to_string()]).await?;
        match text(reply.first())?.as_str() {
            "ok" => level(&reply[1..]),
            _ => Err(InventoryError::BelowReserved { product_id, on_hand, reserved: int(reply.get(2))? }),
        }
    }

    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        let lines =
            serde_json::to_string(request.lines()).map_err(|e| InventoryError::InvalidRequest(e.to_string()))?;
        let expires_at = request.expires_at().to_string();
        let args = [
            request.id().to_string(),
            lines,
            expires_at,
            request.expires_at().unix_micros().to_string(),
            spec(request.lines()),
        ];
        let reply = self.run(&self.reserve, &args).await?;
        outcome(request.id(), &reply)
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let reply = self.run(&self.commit, &[id.to_string()]).await?;
        outcome(id, &reply)
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let reply = self.run(&self.release, &[id.to_string()]).await?;
        outcome(id, &reply)
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        let reply = self.run(&self.expire, &[now.unix_micros().to_string(), limit.to_string()]).await?;
        let mut receipts = vec![];
        let mut i = 1;
        while i < reply.len() {
            let id: ReservationId = text(reply.get(i))?.parse().map_err(|_| malformed("reservation id"))?;
            let n = usize::try_from(int(reply.get(i + 1))?).map_err(|_| malformed("length"))?;
            let items = reply.get(i + 2..i + 2 + n).ok_or_else(|| malformed("truncated expiry reply"))?;
            receipts.push(receipt(id, items)?);
            i += 2 + n;
        }
        Ok(receipts)
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        let lines =
            serde_json::to_string(request.lines()).map_err(|e| InventoryError::InvalidRequest(e.to_string()))?;
        let args = [request.id().to_string(), lines, spec(request.lines()), OnHand::MAX.to_string()];
        let reply = self.run(&self.restore, &args).await?;
        outcome(request.id(), &reply)
    }
}

/// Lines as the scripts read them: `pid:q,pid:q`.
fn spec(lines: &[ReservationLine]) -> String {
    lines.iter().map(|l| format!("{}:{}", l.product_id, l.quantity.get())).collect::<Vec<_>>().join(",")
}

#[async_trait]
impl RestockStore for RedisInventoryStore {
    async fn restock(
        &self,
        product_id: ProductId,
        on_hand: OnHand,
        restock: u64,
    ) -> Result<RestockOutcome, InventoryError> {
        let on_hand = on_hand.get();
        let args = [product_id.to_string(), on_hand.to_string(), restock.to_string()];
        let reply = self.run(&self.restock, &args).await?;
        match text(reply.first())?.as_str() {
            "applied" => Ok(RestockOutcome::Applied(level(&reply[1..])?)),
            "stale" => Ok(RestockOutcome::Stale { applied: int(reply.get(1))?, level: level(&reply[2..])? }),
            _ => Err(InventoryError::BelowReserved { product_id, on_hand, reserved: int(reply.get(2))? }),
        }
    }
}
