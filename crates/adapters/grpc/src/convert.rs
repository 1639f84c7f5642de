//! Conversions between the domain and the wire, and the error detail format.

use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{
        InventoryError, InventoryReceipt, OnHand, Quantity, Reservation, ReservationLine, ReservationState, StockLevel,
    },
};
use serde::{Deserialize, Serialize};
use tonic::{Code, Status};

use crate::pb;

pub fn level_to_pb(l: &StockLevel) -> pb::StockLevel {
    pb::StockLevel {
        product_id: l.product_id.to_string(),
        on_hand: l.on_hand,
        reserved: l.reserved,
        available: l.available(),
        version: l.version,
    }
}

pub fn level_from_pb(l: &pb::StockLevel) -> Result<StockLevel, InventoryError> {
    Ok(StockLevel { product_id: product(&l.product_id)?, on_hand: l.on_hand, reserved: l.reserved, version: l.version })
}

pub fn product(raw: &str) -> Result<ProductId, InventoryError> {
    raw.parse().map_err(|_| InventoryError::InvalidRequest(format!("{raw:?} is not a product id")))
}

/// Validates a `SetOnHand` count against the domain's ceiling (`INVALID_ARGUMENT` naming the field).
pub fn on_hand(n: u64) -> Result<OnHand, InventoryError> {
    OnHand::new(n).map_err(|e| InventoryError::InvalidRequest(format!("on_hand: {e}")))
}

pub fn reservation_id(raw: &str) -> Result<ReservationId, InventoryError> {
    raw.parse().map_err(|_| InventoryError::InvalidRequest(format!("{raw:?} is not a reservation id")))
}

pub fn lines_to_pb(lines: &[ReservationLine]) -> Vec<pb::ReservationLine> {
    lines
        .iter()
        .map(|l| pb::ReservationLine { product_id: l.product_id.to_string(), quantity: l.quantity.get() })
        .collect()
}

pub fn lines_from_pb(lines: &[pb::ReservationLine]) -> Result<Vec<ReservationLine>, InventoryError> {
    lines
        .iter()
        .map(|l| {
            Ok(ReservationLine {
                product_id: product(&l.product_id)?,
                quantity: Quantity::new(l.quantity)
                    .map_err(|e| InventoryError::InvalidRequest(format!("quantity: {e}")))?,
            })
        })
        .collect()
}

pub fn receipt_to_pb(r: &InventoryReceipt) -> pb::ReservationReceipt {
    let (state, rejection) = match r.reservation.state {
        ReservationState::Active => (pb::ReservationState::Active, None),
        ReservationState::Committed => (pb::ReservationState::Committed, None),
        ReservationState::Released => (pb::ReservationState::Released, None),
        ReservationState::Expired => (pb::ReservationState::Expired, None),
        ReservationState::Returned => (pb::ReservationState::Returned, None),
        ReservationState::Rejected { product_id, requested, available } => (
            pb::ReservationState::Rejected,
            Some(pb::Rejection { product_id: product_id.to_string(), requested, available }),
        ),
    };
    pb::ReservationReceipt {
        reservation_id: r.reservation.id.to_string(),
        lines: lines_to_pb(&r.reservation.lines),
        expires_at_unix_micros: r.reservation.expires_at.unix_micros(),
        state: state.into(),
        rejection,
        levels: r.levels.iter().map(level_to_pb).collect(),
    }
}

pub fn receipt_from_pb(r: &pb::ReservationReceipt) -> Result<InventoryReceipt, InventoryError> {
    let state = match (pb::ReservationState::try_from(r.state), &r.rejection) {
        (Ok(pb::ReservationState::Active), _) => ReservationState::Active,
        (Ok(pb::ReservationState::Committed), _) => ReservationState::Committed,
        (Ok(pb::ReservationState::Released), _) => ReservationState::Released,
        (Ok(pb::ReservationState::Expired), _) => ReservationState::Expired,
        (Ok(pb::ReservationState::Returned), _) => ReservationState::Returned,
        (Ok(pb::ReservationState::Rejected), Some(j)) => ReservationState::Rejected {
            product_id: product(&j.product_id)?,
            requested: j.requested,
            available: j.available,
        },
        _ => return Err(InventoryError::Unavailable("inventory service sent an unknown reservation state".into())),
    };
    Ok(InventoryReceipt {
        reservation: Reservation {
            id: reservation_id(&r.reservation_id)?,
            lines: lines_from_pb(&r.lines)?,
            expires_at: Timestamp::from_unix_micros(r.expires_at_unix_micros),
            state,
        },
        levels: r.levels.iter().map(level_from_pb).collect::<Result<_, _>>()?,
    })
}

/// The exact domain error, carried in the status details as JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Detail {
    InsufficientStock { product_id: ProductId, requested: u64, available: u64 },
    UnknownProduct { product_id: ProductId },
    UnknownReservation { id: ReservationId },
    ReservationMismatch { id: ReservationId },
    InvalidTransition { id: ReservationId, state: ReservationState },
    BelowReserved { product_id: ProductId, on_hand: u64, reserved: u64 },
    InvalidRequest { message: String },
}

pub fn status_of(e: &InventoryError) -> Status {
    let (code, detail) = match e.clone() {
        InventoryError::InsufficientStock { product_id, requested, available } => {
            (Code::FailedPrecondition, Detail::InsufficientStock { product_id, requested, available })
        }
        InventoryError::UnknownProduct(product_id) => (Code::NotFound, Detail::UnknownProduct { product_id }),
        InventoryError::UnknownReservation(id) => (Code::NotFound, Detail::UnknownReservation { id }),
        InventoryError::ReservationMismatch(id) => (Code::Aborted, Detail::ReservationMismatch { id }),
        InventoryError::InvalidTransition { id, state } => {
            (Code::FailedPrecondition, Detail::InvalidTransition { id, state })
        }
        InventoryError::BelowReserved { product_id, on_hand, reserved } => {
            (Code::FailedPrecondition, Detail::BelowReserved { product_id, on_hand, reserved })
        }
        InventoryError::InvalidRequest(message) => (Code::InvalidArgument, Detail::InvalidRequest { message }),
        InventoryError::Unavailable(cause) => {
            tracing::warn!(%cause, "inventory store unavailable");
            return Status::unavailable("inventory store unavailable");
        }
        // The store behind this server refused our credential: our fault, not the caller's.
        InventoryError::Unauthorized(cause) => {
            tracing::error!(%cause, "inventory store refused this server's credential");
            return Status::internal("inventory store misconfigured");
        }
    };
    let details = serde_json::to_vec(&detail).unwrap_or_default();
    Status::with_details(code, e.to_string(), details.into())
}

pub fn error_of(status: &Status) -> InventoryError {
    if let Ok(detail) = serde_json::from_slice::<Detail>(status.details()) {
        return match detail {
            Detail::InsufficientStock { product_id, requested, available } => {
                InventoryError::InsufficientStock { product_id, requested, available }
            }
            Detail::UnknownProduct { product_id } => InventoryError::UnknownProduct(product_id),
            Detail::UnknownReservation { id } => InventoryError::UnknownReservation(id),
            Detail::ReservationMismatch { id } => InventoryError::ReservationMismatch(id),
            Detail::InvalidTransition { id, state } => InventoryError::InvalidTransition { id, state },
            Detail::BelowReserved { product_id, on_hand, reserved } => {
                InventoryError::BelowReserved { product_id, on_hand, reserved }
            }
            Detail::InvalidRequest { message } => InventoryError::InvalidRequest(message),
        };
    }
    match status.code() {
        Code::InvalidArgument => InventoryError::InvalidRequest(status.message().to_owned()),
        Code::Unauthenticated | Code::PermissionDenied => {
            InventoryError::Unauthorized(format!("inventory service: {} {}", status.code(), status.message()))
        }
        _ => InventoryError::Unavailable(format!("inventory service: {} {}", status.code(), status.message())),
    }
}
