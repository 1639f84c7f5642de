//! Acting on a card processor's notifications (webhooks): each wakes the saga of the order
//! it names, at most once per notification.
//!
//! A notification is a hint, never the payment's state: the saga asks the processor where
//! the authorisation stands (see [`PaymentGateway::authorization`](crate::ports::PaymentGateway::authorization)),
//! so a late, reordered or redelivered notification cannot move an order backwards. Only
//! orders that wait on the processor are woken: one waiting for its customer to
//! authenticate, or one being compensated (a void or refund to confirm). An order whose
//! saga is running forward is left to that run and, failing it, to the recovery job.

use std::sync::Arc;

use super::{
    checkout::{SagaError, SagaRunner},
    idempotency::{Begin, IdempotencyError, IdempotencyService},
};
use crate::{
    idempotency::{ClientKey, CommandOutcome},
    ids::OrderId,
    order::{Order, OrderStatus, PaymentState},
    payment::{NoticeKind, PaymentNotice},
    ports::OrderStore,
};

/// What became of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The order's saga ran; the order is now in `status`.
    Applied {
        /// The order.
        order_id: OrderId,
        /// Its status after the run.
        status: OrderStatus,
    },
    /// The order does not wait on the processor: its own run or the recovery job drives it.
    Unchanged {
        /// The order.
        order_id: OrderId,
        /// Its status.
        status: OrderStatus,
    },
    /// This notification was handled before (a redelivery).
    Duplicate,
    /// No order of this shop made this payment.
    NotOurs,
}

/// Why a notification could not be handled now; the processor redelivers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// The same notification is being handled right now.
    #[error("this notification is being handled")]
    InProgress,
    /// The notification's id is unusable as a key, or was seen with other content.
    #[error("invalid notification: {0}")]
    Invalid(String),
    /// A dependency failed; nothing was recorded.
    #[error("notification not handled: {0}")]
    Unavailable(String),
}

/// Handles a card processor's verified notifications.
#[derive(Clone)]
pub struct PaymentNoticeService {
    orders: Arc<dyn OrderStore>,
    runner: SagaRunner,
    keys: IdempotencyService,
}

impl PaymentNoticeService {
    /// A service waking sagas through `runner`; `keys` remembers handled notifications
    /// (for as long as the idempotency store keeps keys).
    pub fn new(orders: Arc<dyn OrderStore>, runner: SagaRunner, keys: IdempotencyService) -> Self {
        Self { orders, runner, keys }
    }

    /// Handles `notice` once: a redelivery of a handled notification is a `Duplicate`.
    pub async fn accept(&self, notice: &PaymentNotice) -> Result<NoticeOutcome, NoticeError> {
        // Keyed by an HMAC of the event id: checkout clients share the key space and must
        // not be able to claim the key of a future notification.
        let secret = self.keys.secret();
        let key = secret.fingerprint("payment-notice-key", notice.event_id.as_bytes());
        let key = ClientKey::parse(&format!("notice:{}", key.as_str()))
            .map_err(|e| NoticeError::Invalid(format!("event id: {e}")))?;
        let kind = match notice.kind {
            NoticeKind::AuthorizationChanged => "authorization_changed",
            NoticeKind::Refunded => "refunded",
        };
        let canonical = format!("{kind}\n{}\n", notice.authorization_id.0);
        let fingerprint = secret.fingerprint("payment-notice", canonical.as_bytes());
        let claim = match self.keys.begin(&key, &fingerprint).await {
            Ok(Begin::Execute(claim)) => claim,
            Ok(Begin::Replay(_)) => return Ok(NoticeOutcome::Duplicate),
            Err(IdempotencyError::InProgress) => return Err(NoticeError::InProgress),
            Err(IdempotencyError::Mismatch) => {
                return Err(NoticeError::Invalid("the event id was seen with other content".into()));
            }
            Err(IdempotencyError::Unavailable(m)) => return Err(NoticeError::Unavailable(m)),
        };
        match self.handle(notice).await {
            Ok(
                outcome @ (NoticeOutcome::Applied { order_id, status } | NoticeOutcome::Unchanged { order_id, status }),
            ) => {
                self.keys.complete(claim, &CommandOutcome::Order { order_id, status }).await;
                Ok(outcome)
            }
            Ok(outcome) => {
                self.keys.release(claim).await;
                Ok(outcome)
            }
            Err(e) => {
                self.keys.release(claim).await;
                Err(e)
            }
        }
    }

    async fn handle(&self, notice: &PaymentNotice) -> Result<NoticeOutcome, NoticeError> {
        let Some(order_id) = notice.order_id else { return Ok(NoticeOutcome::NotOurs) };
        let order = self.orders.get(order_id).await.map_err(|e| NoticeError::Unavailable(e.to_string()))?;
        let Some(order) = order else { return Ok(NoticeOutcome::NotOurs) };
        if authorization_of(&order).is_some_and(|a| *a != notice.authorization_id) {
            return Ok(NoticeOutcome::NotOurs);
        }
        let status = order.status;
        if !waits_on_processor(&order) {
            return Ok(NoticeOutcome::Unchanged { order_id, status });
        }
        match self.runner.run(order).await {
            Ok(order) => Ok(NoticeOutcome::Applied { order_id, status: order.status }),
            // Another runner advanced it meanwhile: it is in hand.
            Err(SagaError::Conflict) => Ok(NoticeOutcome::Unchanged { order_id, status }),
            Err(SagaError::NotFound) => Ok(NoticeOutcome::NotOurs),
            Err(SagaError::Transient(m)) => Err(NoticeError::Unavailable(m)),
            // Redelivering would not help: the recovery job and an operator see the order.
            Err(e @ SagaError::Invariant(_)) => {
                tracing::error!(order = %order_id, error = %e, "a payment notice's saga run failed");
                Ok(NoticeOutcome::Unchanged { order_id, status })
            }
        }
    }
}

/// The authorisation an order knows of, if any.
fn authorization_of(order: &Order) -> Option<&crate::payment::AuthorizationId> {
    match &order.payment {
        PaymentState::Authorized { authorization_id }
        | PaymentState::ActionRequired { authorization_id, .. }
        | PaymentState::Captured { authorization_id, .. }
        | PaymentState::Voided { authorization_id } => Some(authorization_id),
        PaymentState::NotAuthorized | PaymentState::Declined { .. } | PaymentState::Refunded { .. } => None,
    }
}

/// Whether the order's saga waits for news from the processor: its customer's
/// authentication, or a compensation's void or refund.
fn waits_on_processor(order: &Order) -> bool {
    !order.is_settled() && (order.status == OrderStatus::AwaitingCustomerAction || order.failure.is_some())
}
