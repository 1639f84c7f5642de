//! Notifications a card processor sends about payments (Stripe's webhooks), once their
//! adapter verified and translated them: what
//! [`PaymentNoticeService`](crate::services::payment_notices::PaymentNoticeService) acts on.

use crate::ids::OrderId;

use super::AuthorizationId;

/// What a notification says happened to a payment. The service never trusts it as the
/// payment's state: it wakes the order's saga, which asks the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The authorisation changed: funds held (after a challenge), captured, failed or
    /// cancelled.
    AuthorizationChanged,
    /// Captured funds were (partly) returned.
    Refunded,
}

/// A verified notification about one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The processor's id of the notification: a redelivery carries the same one.
    pub event_id: String,
    /// What happened.
    pub kind: NoticeKind,
    /// The authorisation it is about.
    pub authorization_id: AuthorizationId,
    /// The order, as the shop named it when it authorised (`None` for a payment the shop
    /// did not make, such as one of another system on the same processor account).
    pub order_id: Option<OrderId>,
}

/// Why a notification was refused: it cannot be shown to come from the processor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRejected {
    /// No signature, a wrong one, or one outside the tolerance window (a replay).
    #[error("the notification's signature does not verify: {0}")]
    Signature(String),
    /// Signed, but not a notification this shop can read.
    #[error("the notification is malformed: {0}")]
    Malformed(String),
}
