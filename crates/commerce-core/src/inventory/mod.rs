//! Inventory: on-hand and reserved units per product, and reservations.
//!
//! `available = on_hand - reserved` can never go negative. A checkout reserves
//! all its lines at once (or none), then commits (the units leave the shop) or
//! releases them; an unattended reservation expires. Every operation is
//! idempotent by reservation id: a retry returns the outcome of the first call.
//!
//! [`Ledger`] is the pure reference implementation of these rules. The memory
//! adapter wraps it in a lock; the Redis and PostgreSQL adapters implement the
//! same contract atomically and are checked against it by the conformance suite.

mod ledger;

pub use ledger::{Ledger, RestockOutcome};

use serde::{Deserialize, Serialize};

use crate::{
    ids::{ProductId, ReservationId},
    timestamp::Timestamp,
    validation::InvalidValue,
};

/// A positive number of units on one line, at most [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// Largest quantity of one line.
    pub const MAX: u32 = 10_000;

    /// Validates a quantity (1 to 10,000).
    pub fn new(n: u32) -> Result<Self, InvalidValue> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(InvalidValue::OutOfRange { min: 1, max: i64::from(Self::MAX), actual: i64::from(n) })
        }
    }

    /// The number of units.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = InvalidValue;
    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> Self {
        q.0
    }
}

/// Units physically in stock, as a seller or operator sets them: 0 to [`OnHand::MAX`].
/// Every way stock is set (the admin API, gRPC `SetOnHand`, `stock.set` restock events,
/// the services) takes this type, so the ceiling holds everywhere alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct OnHand(u64);

impl OnHand {
    /// The largest count accepted: far above any real shelf, and safely inside every
    /// store's integer range (Redis scripts, PostgreSQL `bigint`, JSON numbers).
    pub const MAX: u64 = 1_000_000_000;

    /// Validates a count.
    pub fn new(n: u64) -> Result<Self, InvalidValue> {
        if n <= Self::MAX {
            Ok(Self(n))
        } else {
            Err(InvalidValue::OutOfRange {
                min: 0,
                max: i64::try_from(Self::MAX).unwrap_or(i64::MAX),
                actual: i64::try_from(n).unwrap_or(i64::MAX),
            })
        }
    }

    /// The number of units.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for OnHand {
    type Error = InvalidValue;
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        Self::new(n)
    }
}

impl From<OnHand> for u64 {
    fn from(n: OnHand) -> Self {
        n.0
    }
}

/// One product's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// The product.
    pub product_id: ProductId,
    /// Units physically in stock.
    pub on_hand: u64,
    /// Units held by active reservations.
    pub reserved: u64,
    /// Incremented on every change; orders stock events for consumers.
    pub version: u64,
}

impl StockLevel {
    /// Units a new reservation may take.
    pub fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// One line of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationLine {
    /// The product.
    pub product_id: ProductId,
    /// Units to hold.
    pub quantity: Quantity,
}

/// A validated request to hold units of several products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationRequest {
    id: ReservationId,
    lines: Vec<ReservationLine>,
    expires_at: Timestamp,
}

impl ReservationRequest {
    /// Most lines one reservation may hold.
    pub const MAX_LINES: usize = 100;

    /// Builds a request; lines are sorted by product so equal requests compare equal.
    ///
    /// Returns `InvalidRequest` for no lines, too many lines or a product listed twice.
    pub fn new(
        id: ReservationId,
        mut lines: Vec<ReservationLine>,
        expires_at: Timestamp,
    ) -> Result<Self, InventoryError> {
        if lines.is_empty() || lines.len() > Self::MAX_LINES {
            return Err(InventoryError::InvalidRequest(format!(
                "a reservation needs 1 to {} lines (got {})",
                Self::MAX_LINES,
                lines.len()
            )));
        }
        lines.sort_by_key(|l| l.product_id);
        if let Some(w) = lines.windows(2).find(|w| w[0].product_id == w[1].product_id) {
            return Err(InventoryError::InvalidRequest(format!("product {} is listed twice", w[0].product_id)));
        }
        Ok(Self { id, lines, expires_at })
    }

    /// The reservation id.
    pub fn id(&self) -> ReservationId {
        self.id
    }

    /// The lines, sorted by product id.
    pub fn lines(&self) -> &[ReservationLine] {
        &self.lines
    }

    /// When an uncommitted reservation lapses.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// Units that left the shop coming back to stock (a refunded order's goods are restocked):
/// validated like a [`ReservationRequest`], and idempotent by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReturn {
    id: ReservationId,
    lines: Vec<ReservationLine>,
}

impl StockReturn {
    /// Builds a return; lines are sorted by product. Returns `InvalidRequest` for no lines,
    /// too many lines or a product listed twice.
    pub fn new(id: ReservationId, lines: Vec<ReservationLine>) -> Result<Self, InventoryError> {
        let request = ReservationRequest::new(id, lines, Timestamp::EPOCH)?;
        Ok(Self { id, lines: request.lines })
    }

    /// The id under which the return is recorded.
    pub fn id(&self) -> ReservationId {
        self.id
    }

    /// The lines, sorted by product id.
    pub fn lines(&self) -> &[ReservationLine] {
        &self.lines
    }
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ReservationState {
    /// Units are held.
    Active,
    /// Units left the shop.
    Committed,
    /// Units were given back (or the id was released before any reserve: a tombstone).
    Released,
    /// Units were given back because the deadline passed.
    Expired,
    /// Not a hold: the record of a [`StockReturn`], whose units were added to on-hand.
    Returned,
    /// The reserve was refused; nothing is held.
    Rejected {
        /// The first product that fell short.
        product_id: ProductId,
        /// Units asked for.
        requested: u64,
        /// Units that were available.
        available: u64,
    },
}

/// A reservation and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Its id.
    pub id: ReservationId,
    /// Its lines (empty for a release tombstone).
    pub lines: Vec<ReservationLine>,
    /// Deadline while active.
    pub expires_at: Timestamp,
    /// Current state.
    pub state: ReservationState,
}

/// The result of an inventory operation: the reservation and the stock of every
/// product it touches, after the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryReceipt {
    /// The reservation as recorded.
    pub reservation: Reservation,
    /// Stock levels of the products on its lines.
    pub levels: Vec<StockLevel>,
}

/// Why an inventory operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Not enough available units; nothing was reserved.
    #[error("insufficient stock for product {product_id}: requested {requested}, available {available}")]
    InsufficientStock {
        /// The product that fell short.
        product_id: ProductId,
        /// Units asked for.
        requested: u64,
        /// Units available.
        available: u64,
    },
    /// The product has no stock record.
    #[error("product {0} has no stock record")]
    UnknownProduct(ProductId),
    /// No reservation has this id.
    #[error("reservation {0} does not exist")]
    UnknownReservation(ReservationId),
    /// The id was already used for different lines.
    #[error("reservation {0} already exists with different lines")]
    ReservationMismatch(ReservationId),
    /// The operation does not apply to the reservation's state (commit after release, ...).
    #[error("reservation {id} is {state:?}")]
    InvalidTransition {
        /// The reservation.
        id: ReservationId,
        /// Its state.
        state: ReservationState,
    },
    /// On-hand may not drop below what active reservations hold.
    #[error("on_hand {on_hand} is below the {reserved} units reserved for product {product_id}")]
    BelowReserved {
        /// The product.
        product_id: ProductId,
        /// Requested on-hand.
        on_hand: u64,
        /// Units reserved.
        reserved: u64,
    },
    /// The request itself is malformed.
    #[error("invalid inventory request: {0}")]
    InvalidRequest(String),
    /// The store could not be reached; the operation may be retried.
    #[error("inventory store unavailable: {0}")]
    Unavailable(String),
    /// The remote inventory refused this process's credential: the deployment is
    /// misconfigured (a missing or wrong service token), not the request. Retryable once
    /// the configuration is fixed; callers report it as a server error, never blame the client.
    #[error("inventory refused this service's credential: {0}")]
    Unauthorized(String),
}

impl InventoryError {
    /// Whether the operation may succeed later unchanged: the store was unreachable, or
    /// refused a credential an operator can fix. Anything else is the final answer.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Unauthorized(_))
    }
}
