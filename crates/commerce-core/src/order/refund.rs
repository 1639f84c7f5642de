//! Refunds and cancellations of paid orders.
//!
//! A refund returns part of the captured total: some units of some lines (their net
//! price and their share of the line's tax), or a plain amount. Requesting one appends a
//! `pending` record to the order with the order's optimistic version check, so however
//! many requests race, the refunds recorded never exceed what was captured; the saga
//! then asks the processor (`issued` or `failed`) and, when asked to, returns the units
//! to stock. A cancellation of a paid order with nothing shipped is a refund of
//! everything left, with every unit restocked, after which the order is `cancelled`.

use serde::{Deserialize, Serialize};

use super::{
    FailureReason, Order, OrderLine, OrderStatus, PaymentState, StockState,
    fulfilment::{ShipmentLine, ShipmentLineInput, parse_lines},
};
use crate::{
    catalog::MoneyInput,
    ids::{OrderRefundId, ProductId},
    money::{Currency, Money},
    payment::RefundId,
    timestamp::Timestamp,
    validation::ValidationErrors,
};

/// Most refunds one order takes (each is a processor call and a record on the order).
pub const MAX_REFUNDS: usize = 50;

/// Where a refund stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RefundStatus {
    /// Recorded; the processor has not confirmed it yet (the saga or the recovery job will).
    Pending,
    /// The money is on its way back to the customer.
    Issued {
        /// The processor's refund (none for a refund of nothing, such as a free line).
        processor_refund_id: Option<RefundId>,
        /// When the processor confirmed it.
        issued_at: Timestamp,
    },
    /// The processor refused it; it no longer counts against the captured total.
    Failed {
        /// The processor's reason.
        reason: String,
    },
}

/// A refund of (part of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Identity.
    pub id: OrderRefundId,
    /// The money returned.
    pub amount: Money,
    /// The units refunded (empty for a refund by amount).
    pub lines: Vec<ShipmentLine>,
    /// Whether the units go back to stock.
    pub restock: bool,
    /// Whether they went back already.
    #[serde(default)]
    pub stock_returned: bool,
    /// Where it stands.
    #[serde(flatten)]
    pub status: RefundStatus,
    /// SHA-256 (hex) of the client's idempotency key, and of its request: a retry under
    /// the key is answered with this refund (none for a cancellation's refund).
    pub key_sha256: Option<String>,
    /// SHA-256 (hex) of the request made under the key.
    pub request_sha256: Option<String>,
    /// When it was requested.
    pub created_at: Timestamp,
}

impl Refund {
    /// Still counts against the captured total (pending or issued).
    pub fn counts(&self) -> bool {
        !matches!(self.status, RefundStatus::Failed { .. })
    }
}

/// An operator's cancellation of a paid order, under way or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// When it was asked for.
    pub requested_at: Timestamp,
    /// The refund of everything left (none when nothing was left to refund).
    pub refund_id: Option<OrderRefundId>,
}

/// A refund as an operator sends it: `lines` (with `restock`) or `amount`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RefundInput {
    /// Units to refund: each line's net price and its share of the line's tax.
    #[serde(default)]
    pub lines: Option<Vec<ShipmentLineInput>>,
    /// Return the refunded units to stock (line refunds only; default `false`).
    #[serde(default)]
    pub restock: Option<bool>,
    /// An amount to refund instead of lines.
    #[serde(default)]
    pub amount: Option<MoneyInput>,
}

/// A validated refund request, not yet checked against an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundRequest {
    /// Units of products, maybe back to stock.
    Lines {
        /// One line per product.
        lines: Vec<ShipmentLine>,
        /// Back to stock.
        restock: bool,
    },
    /// A positive amount.
    Amount(Money),
}

impl RefundInput {
    /// Checks every field, naming each bad one.
    pub fn validate(&self) -> Result<RefundRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        match (&self.lines, &self.amount) {
            (Some(_), Some(_)) => {
                errors.add("amount", "give lines or an amount, not both");
                Err(errors)
            }
            (None, None) => {
                errors.add("lines", "give lines (units to refund) or an amount");
                Err(errors)
            }
            (Some(lines), None) => {
                let lines = parse_lines(lines, &mut errors);
                errors.finish(|| RefundRequest::Lines { lines, restock: self.restock.unwrap_or(false) })
            }
            (None, Some(amount)) => {
                if self.restock == Some(true) {
                    errors.add("restock", "applies to refunds by lines only");
                }
                let amount = amount.validate("amount", &mut errors);
                if amount.is_some_and(|a| a.amount() == 0) {
                    errors.add("amount.amount", "must be positive");
                }
                match amount {
                    Some(amount) if errors.is_empty() => Ok(RefundRequest::Amount(amount)),
                    _ => Err(errors),
                }
            }
        }
    }
}

/// Why an order cannot take a refund.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefused {
    /// Only captured orders whose stock left are refunded (not while a cancellation runs).
    #[error("the order is {}: only paid orders are refunded", .0.as_str())]
    NotRefundable(OrderStatus),
    /// More units than were ordered and not yet refunded.
    #[error("product {product_id}: {requested} to refund, {refundable} refundable")]
    LinesExceed {
        /// The product.
        product_id: ProductId,
        /// Units in the request.
        requested: u32,
        /// Units ordered and not yet refunded.
        refundable: u32,
    },
    /// More money than was captured and not yet refunded.
    #[error("{requested} to refund, {refundable} refundable")]
    AmountExceeds {
        /// The amount asked for (or the lines' worth).
        requested: Money,
        /// What remains of the captured total.
        refundable: Money,
    },
    /// An amount in another currency than the order's.
    #[error("the order is in {0}")]
    Currency(Currency),
    /// The order has as many refunds as it may.
    #[error("the order has {MAX_REFUNDS} refunds already")]
    TooMany,
}

/// Why an order cannot be cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRefused {
    /// Something shipped: refund the rest instead.
    #[error("the order has shipments: refund what is left instead")]
    Shipped,
    /// The checkout is completing (the hold is being captured, the stock committed);
    /// ask again in a moment.
    #[error("the checkout is still completing; retry shortly")]
    CheckoutInProgress,
    /// The order already ended (`payment_failed`, or `cancelled` by the checkout).
    #[error("the order is {}", .0.as_str())]
    Ended(OrderStatus),
}

/// What a cancellation request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelStarted {
    /// The order will be compensated (refund and restock, or void and release).
    Started,
    /// It was cancelled (or its cancellation started) before: nothing changed.
    AlreadyRequested,
}

/// `numerator * count / denominator`, rounded half up, in integers.
fn share(numerator: i64, count: u32, denominator: u32) -> i64 {
    let (n, c, d) = (i128::from(numerator), i128::from(count), i128::from(denominator.max(1)));
    i64::try_from((2 * n * c + d) / (2 * d)).unwrap_or(i64::MAX)
}

impl OrderLine {
    /// What refunding `count` more units of this line returns when `before` units were
    /// refunded already: their net price, plus the line's tax allocated so that refunding
    /// every unit, in any steps, returns exactly the line's tax.
    pub fn refund_value(&self, before: u32, count: u32) -> i64 {
        let net = self.unit_price.amount().saturating_mul(i64::from(count));
        let tax = self.tax.map_or(0, |t| t.amount());
        let ordered = self.quantity.get();
        net.saturating_add(share(tax, before + count, ordered) - share(tax, before, ordered))
    }
}

impl Order {
    /// Whether funds were captured.
    pub fn is_captured(&self) -> bool {
        matches!(self.payment, PaymentState::Captured { .. })
    }

    /// Refunds pending or issued, in total.
    pub fn refunded_total(&self) -> Money {
        let amounts: Vec<Money> = self.refunds.iter().filter(|r| r.counts()).map(|r| r.amount).collect();
        Money::sum(self.total.currency(), &amounts).unwrap_or(self.total)
    }

    /// What remains of the captured total to refund (zero when nothing was captured).
    pub fn refundable(&self) -> Money {
        let zero = Money::zero(self.total.currency());
        if !self.is_captured() {
            return zero;
        }
        self.total.checked_sub(&self.refunded_total()).unwrap_or(zero)
    }

    /// True when a refund may be asked for now: the order allows refunds and something of
    /// the captured total remains (what an operator's refund form is offered for).
    pub fn can_refund(&self) -> bool {
        self.refunds_allowed().is_ok() && self.refundable().amount() > 0
    }

    /// True when [`cancel`](Self::cancel) would start a cancellation now (not when one is
    /// already under way, or the order cannot be cancelled).
    pub fn can_cancel(&self) -> bool {
        let mut probe = self.clone();
        let placeholder = OrderRefundId::from_uuid(uuid::Uuid::nil());
        matches!(probe.cancel(placeholder, self.updated_at), Ok(CancelStarted::Started))
    }

    /// Units of `product` refunded (pending or issued).
    pub fn refunded_units(&self, product: ProductId) -> u32 {
        self.refunds
            .iter()
            .filter(|r| r.counts())
            .flat_map(|r| &r.lines)
            .filter(|l| l.product_id == product)
            .map(|l| l.quantity.get())
            .sum()
    }

    /// The refund made under an idempotency key (by its SHA-256).
    pub fn refund_by_key(&self, key_sha256: &str) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.key_sha256.as_deref() == Some(key_sha256))
    }

    /// A refund by id.
    pub fn refund(&self, id: OrderRefundId) -> Option<&Refund> {
        self.refunds.iter().find(|r| r.id == id)
    }

    fn refunds_allowed(&self) -> Result<(), RefundRefused> {
        let after_sale =
            matches!(self.status, OrderStatus::Paid | OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled);
        if !after_sale
            || !self.is_captured()
            || self.stock != StockState::Committed
            || self.failure.is_some()
            || self.cancellation.is_some()
        {
            return Err(RefundRefused::NotRefundable(self.status));
        }
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(RefundRefused::TooMany);
        }
        Ok(())
    }

    /// Records a pending refund (the saga issues it). Pure; nothing changes when it is refused.
    pub fn request_refund(
        &mut self,
        id: OrderRefundId,
        request: &RefundRequest,
        key: Option<(String, String)>,
        now: Timestamp,
    ) -> Result<&Refund, RefundRefused> {
        self.refunds_allowed()?;
        let currency = self.total.currency();
        let (amount, lines, restock) = match request {
            RefundRequest::Amount(amount) if amount.currency() != currency => {
                return Err(RefundRefused::Currency(currency));
            }
            RefundRequest::Amount(amount) => (*amount, vec![], false),
            RefundRequest::Lines { lines, restock } => {
                let mut value: i64 = 0;
                for line in lines {
                    let ordered = self.lines.iter().find(|l| l.product_id == line.product_id);
                    let before = self.refunded_units(line.product_id);
                    let refundable = ordered.map_or(0, |l| l.quantity.get().saturating_sub(before));
                    let requested = line.quantity.get();
                    match ordered {
                        Some(ordered) if requested <= refundable => {
                            value = value.saturating_add(ordered.refund_value(before, requested));
                        }
                        _ => {
                            return Err(RefundRefused::LinesExceed {
                                product_id: line.product_id,
                                requested,
                                refundable,
                            });
                        }
                    }
                }
                let amount = Money::new(value, currency).unwrap_or_else(|_| Money::zero(currency));
                (amount, lines.clone(), *restock)
            }
        };
        let refundable = self.refundable();
        if amount.amount() > refundable.amount() {
            return Err(RefundRefused::AmountExceeds { requested: amount, refundable });
        }
        let (key_sha256, request_sha256) = key.unzip();
        self.refunds.push(Refund {
            id,
            amount,
            lines,
            restock,
            stock_returned: false,
            status: RefundStatus::Pending,
            key_sha256,
            request_sha256,
            created_at: now,
        });
        self.version = self.version.next();
        self.updated_at = now;
        Ok(self.refunds.last().unwrap_or_else(|| unreachable!("just pushed")))
    }

    /// Starts an operator's cancellation. A paid order with nothing shipped gets a refund
    /// of everything left, every unit back to stock; an order still in checkout (not yet
    /// authorised, or waiting for its customer's 3-D Secure) is compensated like an
    /// abandoned one (its hold voided, its stock released). Pure; nothing changes when
    /// it is refused or was requested before.
    pub fn cancel(&mut self, refund_id: OrderRefundId, now: Timestamp) -> Result<CancelStarted, CancelRefused> {
        if self.cancellation.is_some() || self.failure == Some(FailureReason::CancelledByMerchant) {
            return Ok(CancelStarted::AlreadyRequested);
        }
        match self.status {
            OrderStatus::Pending | OrderStatus::StockReserved | OrderStatus::AwaitingCustomerAction
                if self.failure.is_none() =>
            {
                self.failure = Some(FailureReason::CancelledByMerchant);
            }
            OrderStatus::Pending | OrderStatus::StockReserved | OrderStatus::AwaitingCustomerAction => {
                // Already being compensated (declined, abandoned): it ends on its own.
                return Ok(CancelStarted::AlreadyRequested);
            }
            OrderStatus::PaymentAuthorized => return Err(CancelRefused::CheckoutInProgress),
            OrderStatus::Paid if !self.shipments.is_empty() => return Err(CancelRefused::Shipped),
            OrderStatus::Paid if self.stock != StockState::Committed || self.failure.is_some() => {
                return Err(CancelRefused::CheckoutInProgress);
            }
            OrderStatus::Paid => self.cancel_paid(refund_id, now),
            OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled => return Err(CancelRefused::Shipped),
            OrderStatus::Cancelled | OrderStatus::PaymentFailed => return Err(CancelRefused::Ended(self.status)),
        }
        self.version = self.version.next();
        self.updated_at = now;
        Ok(CancelStarted::Started)
    }

    fn cancel_paid(&mut self, refund_id: OrderRefundId, now: Timestamp) {
        let lines: Vec<ShipmentLine> = self
            .lines
            .iter()
            .filter_map(|l| {
                let left = l.quantity.get().saturating_sub(self.refunded_units(l.product_id));
                crate::inventory::Quantity::new(left)
                    .ok()
                    .map(|quantity| ShipmentLine { product_id: l.product_id, quantity })
            })
            .collect();
        let amount = self.refundable();
        let refund = (amount.amount() > 0 || !lines.is_empty()).then_some(Refund {
            id: refund_id,
            amount,
            lines,
            restock: true,
            stock_returned: false,
            status: RefundStatus::Pending,
            key_sha256: None,
            request_sha256: None,
            created_at: now,
        });
        self.cancellation = Some(Cancellation { requested_at: now, refund_id: refund.as_ref().map(|r| r.id) });
        self.refunds.extend(refund);
    }
}

#[cfg(test)]
mod tests;
