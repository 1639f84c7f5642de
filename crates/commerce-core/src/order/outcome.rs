//! What a checkout answers, whichever adapter (REST, GraphQL, a web page) gives the answer.

use super::{FailureReason, Order, OrderStatus};
use crate::{ids::ProductId, payment::DeclineReason};

/// An order as its customer's checkout answer presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutOutcome<'a> {
    /// Paid (or already shipped).
    Paid,
    /// The card asks the customer to authenticate: the client opens `next_action_url`
    /// (or, for `stripe-js:<client_secret>`, hands the secret to Stripe.js); the order
    /// completes when the processor reports the outcome.
    ActionRequired {
        /// Where the customer completes the challenge.
        next_action_url: &'a str,
    },
    /// Still running after a dependency was slow: the recovery job finishes or
    /// compensates it; the customer follows it with the access token.
    Processing,
    /// The payment failed (the card was declined, or its authentication not completed);
    /// the stock was released and nothing was charged.
    PaymentFailed {
        /// The processor's reason, when the card was declined.
        decline: Option<DeclineReason>,
    },
    /// A line could not be reserved; nothing was charged.
    OutOfStock {
        /// The product short.
        product_id: ProductId,
        /// Units asked for.
        requested: u64,
        /// Units available.
        available: u64,
    },
    /// Cancelled for another reason (abandoned, reservation lost); nothing was kept.
    Cancelled,
}

impl Order {
    /// The checkout answer for this order as it stands.
    pub fn checkout_outcome(&self) -> CheckoutOutcome<'_> {
        match (self.status, self.failure) {
            (OrderStatus::Paid | OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled, _) => CheckoutOutcome::Paid,
            (OrderStatus::PaymentFailed, failure) => CheckoutOutcome::PaymentFailed {
                decline: match failure {
                    Some(FailureReason::PaymentDeclined { reason }) => Some(reason),
                    _ => None,
                },
            },
            (OrderStatus::Cancelled, Some(FailureReason::OutOfStock { product_id, requested, available })) => {
                CheckoutOutcome::OutOfStock { product_id, requested, available }
            }
            (OrderStatus::Cancelled, _) => CheckoutOutcome::Cancelled,
            _ => self.next_action_url().map_or(CheckoutOutcome::Processing, |next_action_url| {
                CheckoutOutcome::ActionRequired { next_action_url }
            }),
        }
    }
}
