//! How checkout requests end, as operators count them: one [`ReplyKind`] per reply, told
//! to a [`CheckoutObserver`] (a metrics adapter) by [`IdempotentCheckout`](super::IdempotentCheckout),
//! whichever inbound adapter (HTTP, GraphQL, the web page) carried the request.

use super::{CheckoutError, CheckoutReply};
use crate::{order::CheckoutOutcome, payment::DeclineReason};

/// The kind of a checkout reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// Paid (or already shipped).
    Paid,
    /// Waiting for the customer to authenticate (3-D Secure).
    ActionRequired,
    /// Accepted, still settling (a dependency was slow; the recovery job finishes it).
    Processing,
    /// The card was declined, or its authentication failed: nothing charged.
    Declined(Option<DeclineReason>),
    /// A line sold out before it could be reserved, or the order was cancelled.
    OutOfStock,
    /// The request was invalid.
    Invalid,
    /// Another request with the key is still running.
    InProgress,
    /// The key was used with another request.
    KeyReused,
    /// A dependency failed; a retry with the key completes it.
    Unavailable,
    /// An earlier request's answer, replayed: nothing ran again.
    Replayed,
}

impl ReplyKind {
    /// The label: `paid`, `action_required`, `processing`, `declined`, `out_of_stock`,
    /// `invalid`, `in_progress`, `key_reused`, `unavailable`, `replayed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::ActionRequired => "action_required",
            Self::Processing => "processing",
            Self::Declined(_) => "declined",
            Self::OutOfStock => "out_of_stock",
            Self::Invalid => "invalid",
            Self::InProgress => "in_progress",
            Self::KeyReused => "key_reused",
            Self::Unavailable => "unavailable",
            Self::Replayed => "replayed",
        }
    }
}

impl CheckoutReply {
    /// How this reply counts.
    pub fn kind(&self) -> ReplyKind {
        if self.replayed {
            return ReplyKind::Replayed;
        }
        match &self.result {
            Ok(placed) => match placed.order.checkout_outcome() {
                CheckoutOutcome::Paid => ReplyKind::Paid,
                CheckoutOutcome::ActionRequired(_) => ReplyKind::ActionRequired,
                CheckoutOutcome::Processing => ReplyKind::Processing,
                CheckoutOutcome::PaymentFailed { decline } => ReplyKind::Declined(decline),
                CheckoutOutcome::OutOfStock { .. } | CheckoutOutcome::Cancelled => ReplyKind::OutOfStock,
            },
            Err(CheckoutError::CardRefused(decline)) => ReplyKind::Declined(Some(*decline)),
            Err(CheckoutError::Validation(_)) => ReplyKind::Invalid,
            Err(CheckoutError::InProgress) => ReplyKind::InProgress,
            Err(CheckoutError::KeyReused) => ReplyKind::KeyReused,
            Err(_) => ReplyKind::Unavailable,
        }
    }
}

/// Told of every checkout reply (a metrics adapter counts them). Must not block: it runs
/// on the request's path.
pub trait CheckoutObserver: Send + Sync {
    /// One reply of `kind`.
    fn observe(&self, kind: ReplyKind);
}
