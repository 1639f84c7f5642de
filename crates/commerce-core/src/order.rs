//! Orders and the checkout saga.
//!
//! An order moves `pending -> stock_reserved -> payment_authorized -> paid ->
//! fulfilled`, or ends `cancelled` / `payment_failed` with a [`FailureReason`].
//! The saga is a pure function of the order: [`next_action`] says what to do
//! next and [`Order::apply`] records what happened. The runner in
//! [`services::checkout`](crate::services::checkout) executes the actions
//! through the ports and persists the order after every step. Every action is
//! idempotent (keys derive from the order id), so re-running the saga after a
//! crash at any point either finishes the order or compensates it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    catalog::{ProductName, Sku, Version},
    ids::{OrderId, ProductId, ReservationId},
    inventory::{Quantity, ReservationLine},
    money::Money,
    payment::{AuthorizationId, CaptureId, DeclineReason, IdempotencyKey, PaymentMethod, RefundId},
    timestamp::Timestamp,
    validation::{InvalidValue, token},
};

/// A customer e-mail address (syntactic check only; deliverability is not our business).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates an address: one `@`, a non-empty local part and a dotted domain, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let s = token(raw, 254, "printable characters without spaces", |c| c.is_ascii_graphic() || !c.is_ascii())?;
        let Some((local, domain)) = s.split_once('@') else {
            return Err(InvalidValue::Other("must contain '@'".into()));
        };
        let domain_ok =
            domain.contains('.') && !domain.contains('@') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(InvalidValue::Other("must look like name@example.com".into()));
        }
        Ok(Self(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidValue;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(&v)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

/// One order line: a snapshot of the product at the time of purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub product_id: ProductId,
    /// Its SKU then.
    pub sku: Sku,
    /// Its name then.
    pub name: ProductName,
    /// Its unit price then.
    pub unit_price: Money,
    /// Units bought.
    pub quantity: Quantity,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// Where an order stands, as customers and operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created; nothing reserved or charged yet.
    Pending,
    /// Stock is held.
    StockReserved,
    /// Funds are held on the card.
    PaymentAuthorized,
    /// Funds were captured.
    Paid,
    /// Shipped.
    Fulfilled,
    /// Ended without payment; stock released.
    Cancelled,
    /// Ended because the payment failed; stock released.
    PaymentFailed,
}

impl OrderStatus {
    /// Parses a wire name such as `payment_authorized`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| InvalidValue::Other(format!("unknown order status {raw:?}")))
    }

    /// Every status.
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::StockReserved,
        Self::PaymentAuthorized,
        Self::Paid,
        Self::Fulfilled,
        Self::Cancelled,
        Self::PaymentFailed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::StockReserved => "stock_reserved",
            Self::PaymentAuthorized => "payment_authorized",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::PaymentFailed => "payment_failed",
        }
    }

    /// True for `fulfilled`, `cancelled` and `payment_failed`.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Fulfilled | Self::Cancelled | Self::PaymentFailed)
    }
}

/// What the order knows about its stock reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockState {
    /// Not (known to be) reserved.
    NotReserved,
    /// Held.
    Reserved,
    /// Taken out of stock.
    Committed,
    /// Given back (or fenced off so a late reserve holds nothing).
    Released,
}

/// What the order knows about its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PaymentState {
    /// No authorisation is known.
    NotAuthorized,
    /// The gateway refused to authorise.
    Declined {
        /// Why.
        reason: DeclineReason,
    },
    /// Funds are held.
    Authorized {
        /// The hold.
        authorization_id: AuthorizationId,
    },
    /// Funds were taken.
    Captured {
        /// The hold.
        authorization_id: AuthorizationId,
        /// The capture.
        capture_id: CaptureId,
    },
    /// The hold was cancelled.
    Voided {
        /// The hold.
        authorization_id: AuthorizationId,
    },
    /// Captured funds were returned.
    Refunded {
        /// The capture.
        capture_id: CaptureId,
        /// The refund.
        refund_id: RefundId,
    },
}

/// Why an order did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum FailureReason {
    /// A line could not be reserved.
    OutOfStock {
        /// The product.
        product_id: ProductId,
        /// Units asked for.
        requested: u64,
        /// Units available.
        available: u64,
    },
    /// The card was declined.
    PaymentDeclined {
        /// Why.
        reason: DeclineReason,
    },
    /// The card needs customer authentication this checkout cannot perform.
    PaymentActionRequired,
    /// The order stalled and the recovery job gave up on it.
    Abandoned,
    /// The stock reservation lapsed before it could be committed.
    ReservationLost,
}

impl FailureReason {
    fn final_status(self) -> OrderStatus {
        match self {
            Self::PaymentDeclined { .. } | Self::PaymentActionRequired => OrderStatus::PaymentFailed,
            Self::OutOfStock { .. } | Self::Abandoned | Self::ReservationLost => OrderStatus::Cancelled,
        }
    }
}

/// An order and its checkout-saga state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Identity.
    pub id: OrderId,
    /// Customer e-mail.
    pub email: Email,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Sum of line totals.
    pub total: Money,
    /// Card token, brand and last four.
    pub payment_method: PaymentMethod,
    /// SHA-256 (hex) of the secret the customer reads the order with.
    pub access_token_sha256: String,
    /// Public status.
    pub status: OrderStatus,
    /// Reservation state.
    pub stock: StockState,
    /// Payment state.
    pub payment: PaymentState,
    /// Set once the order must be compensated; drives it to a failed final status.
    pub failure: Option<FailureReason>,
    /// Optimistic-concurrency version, +1 per persisted step.
    pub version: Version,
    /// Created at.
    pub created_at: Timestamp,
    /// Last changed at.
    pub updated_at: Timestamp,
}

/// The part of an order published in events (no e-mail, no token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// Order id.
    pub id: OrderId,
    /// Status after the change.
    pub status: OrderStatus,
    /// Total.
    pub total: Money,
    /// Products and quantities.
    pub lines: Vec<ReservationLine>,
    /// Why it failed, if it did.
    pub failure: Option<FailureReason>,
    /// Order version.
    pub version: u64,
}

/// The next thing the saga must do for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaAction {
    /// Reserve every line.
    Reserve,
    /// Authorise the total on the card.
    Authorize,
    /// Capture the authorised total.
    Capture,
    /// Commit the reservation (units leave stock).
    CommitStock,
    /// Compensation: cancel the hold on the card.
    Void,
    /// Compensation: return captured funds.
    Refund,
    /// Compensation: an authorisation may be in flight; ask the gateway (same key) what happened.
    ResolveAuthorization,
    /// Compensation: give the reserved units back (or fence the reservation id).
    Release,
    /// Compensation finished: set the final failed status.
    Finalize,
    /// Nothing left to do.
    Done,
}

/// What executing a [`SagaAction`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// Every line is held.
    Reserved,
    /// Not enough stock; nothing held.
    ReserveRejected {
        /// Product short.
        product_id: ProductId,
        /// Asked for.
        requested: u64,
        /// Available.
        available: u64,
    },
    /// The gateway answered an authorisation (from `Authorize` or `ResolveAuthorization`).
    Authorization(crate::payment::AuthorizationOutcome),
    /// Funds captured.
    Captured(CaptureId),
    /// The capture was refused; the hold must be voided.
    CaptureDeclined(DeclineReason),
    /// Units left stock.
    StockCommitted,
    /// The reservation is no longer active (expired or released).
    StockLost,
    /// Hold cancelled.
    Voided,
    /// Funds returned.
    Refunded(RefundId),
    /// Units given back.
    Released,
    /// Final status set.
    Finalized,
}

/// Decides the next step for `order`. Pure: the same order always gives the same action.
pub fn next_action(order: &Order) -> SagaAction {
    if order.status.is_final() {
        return SagaAction::Done;
    }
    if order.failure.is_none() {
        return match (order.status, order.stock) {
            (OrderStatus::Pending, _) => SagaAction::Reserve,
            (OrderStatus::StockReserved, _) => SagaAction::Authorize,
            (OrderStatus::PaymentAuthorized, _) => SagaAction::Capture,
            (OrderStatus::Paid, StockState::Committed) => SagaAction::Done,
            (OrderStatus::Paid, _) => SagaAction::CommitStock,
            _ => SagaAction::Done,
        };
    }
    match order.payment {
        PaymentState::Authorized { .. } => return SagaAction::Void,
        PaymentState::Captured { .. } => return SagaAction::Refund,
        // An authorisation may have reached the gateway before the crash: find out before giving up.
        PaymentState::NotAuthorized if order.status == OrderStatus::StockReserved => {
            return SagaAction::ResolveAuthorization;
        }
        _ => {}
    }
    match order.stock {
        StockState::NotReserved | StockState::Reserved => SagaAction::Release,
        StockState::Committed | StockState::Released => SagaAction::Finalize,
    }
}

impl Order {
    /// The reservation this order's checkout uses.
    pub fn reservation_id(&self) -> ReservationId {
        ReservationId::for_order(self.id)
    }

    /// The idempotency key of one gateway operation for this order.
    pub fn payment_key(&self, operation: &str) -> IdempotencyKey {
        IdempotencyKey(format!("order:{}:{operation}", self.id))
    }

    /// Hashes an access token the way orders store it.
    pub fn hash_access_token(token: &str) -> String {
        Sha256::digest(token.as_bytes()).iter().fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// True when `token` is this order's access token (compared in constant time).
    pub fn grants_access(&self, token: &str) -> bool {
        let given = Self::hash_access_token(token);
        let (a, b) = (given.as_bytes(), self.access_token_sha256.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// True when the saga has nothing left to do: a final status, or paid with the stock
    /// committed. The recovery job only looks at unsettled orders.
    pub fn is_settled(&self) -> bool {
        next_action(self) == SagaAction::Done
    }

    /// The event summary of this order.
    pub fn summary(&self) -> OrderSummary {
        OrderSummary {
            id: self.id,
            status: self.status,
            total: self.total,
            lines: self
                .lines
                .iter()
                .map(|l| ReservationLine { product_id: l.product_id, quantity: l.quantity })
                .collect(),
            failure: self.failure,
            version: self.version.get(),
        }
    }

    fn fail(&mut self, reason: FailureReason) {
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
    }

    /// Records the result of a step and bumps the version. Pure.
    pub fn apply(&mut self, result: StepResult, now: Timestamp) {
        use crate::payment::AuthorizationOutcome as A;
        match result {
            StepResult::Reserved => {
                self.stock = StockState::Reserved;
                if self.failure.is_none() {
                    self.status = OrderStatus::StockReserved;
                }
            }
            StepResult::ReserveRejected { product_id, requested, available } => {
                self.fail(FailureReason::OutOfStock { product_id, requested, available });
            }
            StepResult::Authorization(A::Authorized { authorization_id }) => {
                self.payment = PaymentState::Authorized { authorization_id };
                if self.failure.is_none() {
                    self.status = OrderStatus::PaymentAuthorized;
                }
            }
            StepResult::Authorization(A::Declined { reason }) => {
                self.payment = PaymentState::Declined { reason };
                self.fail(FailureReason::PaymentDeclined { reason });
            }
            StepResult::Authorization(A::RequiresAction { authorization_id, .. }) => {
                // This flow cannot take the customer through 3-D Secure: cancel the pending hold.
                self.payment = PaymentState::Authorized { authorization_id };
                self.fail(FailureReason::PaymentActionRequired);
            }
            StepResult::Captured(capture_id) => {
                if let PaymentState::Authorized { authorization_id } = &self.payment {
                    self.payment = PaymentState::Captured { authorization_id: authorization_id.clone(), capture_id };
                    self.status = OrderStatus::Paid;
                }
            }
            StepResult::CaptureDeclined(reason) => self.fail(FailureReason::PaymentDeclined { reason }),
            StepResult::StockCommitted => self.stock = StockState::Committed,
            StepResult::StockLost => {
                self.stock = StockState::Released;
                self.fail(FailureReason::ReservationLost);
            }
            StepResult::Voided => {
                if let PaymentState::Authorized { authorization_id } = &self.payment {
                    self.payment = PaymentState::Voided { authorization_id: authorization_id.clone() };
                }
            }
            StepResult::Refunded(refund_id) => {
                if let PaymentState::Captured { capture_id, .. } = &self.payment {
                    self.payment = PaymentState::Refunded { capture_id: capture_id.clone(), refund_id };
                }
            }
            StepResult::Released => self.stock = StockState::Released,
            StepResult::Finalized => {
                if let Some(reason) = self.failure {
                    self.status = reason.final_status();
                }
            }
        }
        self.version = self.version.next();
        self.updated_at = now;
    }

    /// Gives up on a stalled order: the saga then compensates it. Only orders whose payment
    /// is not yet authorised can be abandoned: once authorised, a capture may be in flight,
    /// so the saga drives the order forward (capture is retried with its key) instead of
    /// voiding a hold that may already be captured. Returns `false` when not applicable.
    pub fn abandon(&mut self, now: Timestamp) -> bool {
        let abandonable = matches!(self.status, OrderStatus::Pending | OrderStatus::StockReserved);
        if !abandonable || self.failure.is_some() {
            return false;
        }
        self.failure = Some(FailureReason::Abandoned);
        self.version = self.version.next();
        self.updated_at = now;
        true
    }

    /// Marks a paid order shipped. Returns `false` when it is not paid with stock committed.
    pub fn fulfil(&mut self, now: Timestamp) -> bool {
        if self.status != OrderStatus::Paid || self.stock != StockState::Committed {
            return false;
        }
        self.status = OrderStatus::Fulfilled;
        self.version = self.version.next();
        self.updated_at = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::AuthorizationOutcome;
    use SagaAction::*;
    use uuid::Uuid;

    fn order() -> Order {
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(1)), Timestamp::EPOCH)
    }

    fn auth() -> StepResult {
        StepResult::Authorization(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId("a".into()) })
    }

    /// Runs the saga with scripted results, returning the actions taken.
    fn drive(o: &mut Order, results: impl IntoIterator<Item = StepResult>) -> Vec<SagaAction> {
        let mut actions = vec![];
        for r in results {
            actions.push(next_action(o));
            o.apply(r, Timestamp::EPOCH);
        }
        actions.push(next_action(o));
        actions
    }

    #[test]
    fn happy_path() {
        let mut o = order();
        let actions = drive(
            &mut o,
            [StepResult::Reserved, auth(), StepResult::Captured(CaptureId("c".into())), StepResult::StockCommitted],
        );
        assert_eq!(actions, [Reserve, Authorize, Capture, CommitStock, Done]);
        assert_eq!((o.status, o.stock, o.version), (OrderStatus::Paid, StockState::Committed, Version::new(5)));
        assert!(o.fulfil(Timestamp::EPOCH));
        assert_eq!(o.status, OrderStatus::Fulfilled);
    }

    #[test]
    fn decline_releases_stock_and_fails_payment() {
        let mut o = order();
        let declined =
            StepResult::Authorization(AuthorizationOutcome::Declined { reason: DeclineReason::InsufficientFunds });
        let actions = drive(&mut o, [StepResult::Reserved, declined, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [Reserve, Authorize, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::PaymentFailed);
        assert_eq!(o.failure, Some(FailureReason::PaymentDeclined { reason: DeclineReason::InsufficientFunds }));
    }

    #[test]
    fn out_of_stock_fences_the_reservation_and_cancels() {
        let mut o = order();
        let pid = o.lines[0].product_id;
        let rejected = StepResult::ReserveRejected { product_id: pid, requested: 2, available: 1 };
        let actions = drive(&mut o, [rejected, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [Reserve, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
    }

    #[test]
    fn abandoned_order_resolves_an_in_flight_authorisation_then_voids_it() {
        let mut o = order();
        o.apply(StepResult::Reserved, Timestamp::EPOCH);
        assert!(o.abandon(Timestamp::EPOCH));
        let actions = drive(&mut o, [auth(), StepResult::Voided, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [ResolveAuthorization, Void, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert!(matches!(o.payment, PaymentState::Voided { .. }));
    }

    #[test]
    fn lost_reservation_after_capture_refunds() {
        let mut o = order();
        let actions = drive(
            &mut o,
            [
                StepResult::Reserved,
                auth(),
                StepResult::Captured(CaptureId("c".into())),
                StepResult::StockLost,
                StepResult::Refunded(RefundId("r".into())),
                StepResult::Finalized,
            ],
        );
        assert_eq!(actions, [Reserve, Authorize, Capture, CommitStock, Refund, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert!(matches!(o.payment, PaymentState::Refunded { .. }));
    }

    #[test]
    fn authorised_orders_are_never_abandoned() {
        let mut o = order();
        drive(&mut o, [StepResult::Reserved, auth()]);
        assert!(!o.abandon(Timestamp::EPOCH), "a capture may be in flight");
        assert_eq!(next_action(&o), SagaAction::Capture);
        o.apply(StepResult::Captured(CaptureId("c".into())), Timestamp::EPOCH);
        assert!(!o.abandon(Timestamp::EPOCH));
        assert_eq!(next_action(&o), SagaAction::CommitStock);
    }

    #[test]
    fn access_tokens_and_emails() {
        let o = order();
        assert!(o.grants_access("secret"));
        assert!(!o.grants_access("Secret"));
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@c.d").is_err());
        assert!(Email::parse("@c.d").is_err());
        assert_eq!(Email::parse(" x@shop.example ").unwrap().as_str(), "x@shop.example");
    }
}
