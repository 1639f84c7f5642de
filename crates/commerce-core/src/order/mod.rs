//! Orders and the checkout saga.
//!
//! An order moves `pending -> stock_reserved -> payment_authorized -> paid ->
//! fulfilled`, or ends `cancelled` / `payment_failed` with a [`FailureReason`].
//! A card that asks for customer authentication (3-D Secure) parks it in
//! `awaiting_customer_action` between `stock_reserved` and `payment_authorized`,
//! until the processor reports the challenge's outcome.
//! The saga is a pure function of the order: [`next_action`] says what to do
//! next and [`Order::apply`] records what happened. The runner in
//! [`services::checkout`](crate::services::checkout) executes the actions
//! through the ports and persists the order before every call to the card processor
//! and when it stops ([`SagaAction::needs_checkpoint`]). Every action is idempotent
//! (keys derive from the order id), so re-running the saga from the last persisted
//! state after a crash at any point either finishes the order or compensates it.
mod charges;
mod fulfilment;
mod outcome;
mod refund;
mod saga;

pub use charges::{OrderCharges, OrderShipping, ShippingMethodRef};
pub use fulfilment::{
    NewShipment, Shipment, ShipmentInput, ShipmentLine, ShipmentLineInput, ShipmentRefused, rules as shipment_rules,
};
pub use outcome::{CheckoutOutcome, NextAction};
pub use refund::{
    CancelRefused, CancelStarted, Cancellation, MAX_REFUNDS, Refund, RefundInput, RefundRefused, RefundRequest,
    RefundStatus,
};
pub use saga::{SagaAction, StepResult, next_action};

use serde::{Deserialize, Serialize};

use crate::{
    catalog::{ProductName, Sku, Version},
    ids::{OrderId, ProductId, ReservationId},
    inventory::{Quantity, ReservationLine},
    money::Money,
    payment::{AuthorizationId, CaptureId, DeclineReason, IdempotencyKey, PaymentMethod, RefundId},
    timestamp::Timestamp,
    validation::{InvalidValue, is_bidi_control, token},
};

/// A customer e-mail address (syntactic check only; deliverability is not our business).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates an address: one `@`, a non-empty local part and a dotted domain, at most 254
    /// characters. Beyond printable ASCII, internationalised letters are allowed, but no
    /// control, invisible (zero-width, BOM) or bidirectional-control character and no
    /// white space: an address is shown to operators and handed to mail software.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let s = token(raw, 254, "printable characters without spaces", |c| {
            c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control() && !c.is_whitespace() && !is_invisible(c))
        })?;
        let Some((local, domain)) = s.split_once('@') else {
            return Err(InvalidValue::Other("must contain '@'".into()));
        };
        let domain_ok =
            domain.contains('.') && !domain.contains('@') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(InvalidValue::Other("must look like name@example.com".into()));
        }
        if crate::payment::contains_card_number(&s) {
            return Err(InvalidValue::Other("must not contain a card number".into()));
        }
        Ok(Self(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Format characters that render as nothing: zero-width spaces and joiners, direction
/// marks, word joiners and invisible operators, bidirectional controls, the BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}') || is_bidi_control(c)
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
    /// The tax charged on this line (`None` on orders placed before tax existed).
    #[serde(default)]
    pub tax: Option<Money>,
}

/// Where an order stands, as customers and operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created; nothing reserved or charged yet.
    Pending,
    /// Stock is held.
    StockReserved,
    /// The card asks the customer to authenticate (3-D Secure); stock is held meanwhile.
    AwaitingCustomerAction,
    /// Funds are held on the card.
    PaymentAuthorized,
    /// Funds were captured.
    Paid,
    /// Some units shipped, some remain.
    PartiallyFulfilled,
    /// Everything shipped.
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
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::StockReserved,
        Self::AwaitingCustomerAction,
        Self::PaymentAuthorized,
        Self::Paid,
        Self::PartiallyFulfilled,
        Self::Fulfilled,
        Self::Cancelled,
        Self::PaymentFailed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::StockReserved => "stock_reserved",
            Self::AwaitingCustomerAction => "awaiting_customer_action",
            Self::PaymentAuthorized => "payment_authorized",
            Self::Paid => "paid",
            Self::PartiallyFulfilled => "partially_fulfilled",
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
    /// The processor waits for the customer to authenticate before it holds funds.
    ActionRequired {
        /// The pending authorisation.
        authorization_id: AuthorizationId,
        /// What the customer's client opens to complete the challenge (see
        /// [`AuthorizationOutcome::RequiresAction`](crate::payment::AuthorizationOutcome::RequiresAction)).
        next_action_url: String,
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
    /// The card asked for customer authentication (3-D Secure) and the customer did not
    /// complete it in time.
    PaymentActionRequired,
    /// The order stalled and the recovery job gave up on it.
    Abandoned,
    /// The stock reservation lapsed before it could be committed.
    ReservationLost,
    /// An operator cancelled the order before it was paid.
    CancelledByMerchant,
}

impl FailureReason {
    fn final_status(self) -> OrderStatus {
        match self {
            Self::PaymentDeclined { .. } | Self::PaymentActionRequired => OrderStatus::PaymentFailed,
            Self::OutOfStock { .. } | Self::Abandoned | Self::ReservationLost | Self::CancelledByMerchant => {
                OrderStatus::Cancelled
            }
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
    /// The amount charged: `charges.subtotal + charges.shipping_total + charges.tax_total`.
    pub total: Money,
    /// What the total is made of (`None` on orders placed before shipping and tax existed:
    /// their total is their subtotal).
    #[serde(default)]
    pub charges: Option<OrderCharges>,
    /// Where it ships (`None`: nothing to ship, in a shop without shipping methods).
    #[serde(default)]
    pub shipping: Option<OrderShipping>,
    /// Parcels sent so far.
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    /// Refunds, oldest first.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// An operator's cancellation of the paid order, under way or done.
    #[serde(default)]
    pub cancellation: Option<Cancellation>,
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
        crate::hashing::sha256_hex(token.as_bytes())
    }

    /// True when `token` is this order's access token (compared in constant time).
    pub fn grants_access(&self, token: &str) -> bool {
        let given = Self::hash_access_token(token);
        // Both are hex SHA-256 digests: equal lengths, so the comparison's time is fixed.
        bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), self.access_token_sha256.as_bytes()))
    }

    /// Where the customer completes the card's challenge, while the order waits for it.
    pub fn next_action_url(&self) -> Option<&str> {
        match (&self.payment, self.status) {
            (PaymentState::ActionRequired { next_action_url, .. }, OrderStatus::AwaitingCustomerAction) => {
                Some(next_action_url)
            }
            _ => None,
        }
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
    /// Gives up on a stalled order: the saga then compensates it. Only orders whose payment
    /// is not yet authorised can be abandoned: once authorised, a capture may be in flight,
    /// so the saga drives the order forward (capture is retried with its key) instead of
    /// voiding a hold that may already be captured. An order still waiting for its customer
    /// to authenticate fails with [`FailureReason::PaymentActionRequired`] (its pending
    /// authorisation is cancelled). Returns `false` when not applicable.
    pub fn abandon(&mut self, now: Timestamp) -> bool {
        let reason = match self.status {
            OrderStatus::Pending | OrderStatus::StockReserved => FailureReason::Abandoned,
            OrderStatus::AwaitingCustomerAction => FailureReason::PaymentActionRequired,
            _ => return false,
        };
        if self.failure.is_some() {
            return false;
        }
        self.failure = Some(reason);
        self.version = self.version.next();
        self.updated_at = now;
        true
    }

    /// Marks a paid (or partly shipped) order shipped. Returns `false` when it is not paid
    /// with stock committed.
    pub fn fulfil(&mut self, now: Timestamp) -> bool {
        if !self.is_shippable() {
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
    use uuid::Uuid;

    fn order() -> Order {
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(1)), Timestamp::EPOCH)
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
        assert_eq!(Email::parse("jörg@bücher.example").unwrap().as_str(), "jörg@bücher.example");
        for hostile in [
            "a\u{0}b@c.d",
            "a\u{85}b@c.d",
            "a\u{9f}@c.d",
            "admin\u{202e}moc.elpmaxe@c.d",
            "a\u{2066}b@c.d",
            "a\u{200b}b@c.d",
            "a\u{feff}@c.d",
            "a\u{3000}b@c.d",
            "4000056655665556@example.com",
        ] {
            assert!(Email::parse(hostile).is_err(), "{hostile:?}");
        }
    }
}
