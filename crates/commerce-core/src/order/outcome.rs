//! What a checkout answers, whichever adapter (REST, GraphQL, a web page) gives the answer.

use super::{FailureReason, Order, OrderStatus};
use crate::{ids::ProductId, payment::DeclineReason};

/// How the customer completes a card's authentication challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAction<'a> {
    /// Open the issuer's challenge page.
    RedirectToUrl {
        /// The page.
        url: &'a str,
    },
    /// Hand the PaymentIntent's client secret to Stripe.js (`stripe.handleNextAction`).
    UseStripeSdk {
        /// The secret.
        client_secret: &'a str,
    },
}

impl<'a> NextAction<'a> {
    /// The action a processor's `next_action_url` stands for: a page, or
    /// `stripe-js:<client secret>` (see
    /// [`AuthorizationOutcome::RequiresAction`](crate::payment::AuthorizationOutcome::RequiresAction)).
    pub fn parse(next_action_url: &'a str) -> Self {
        match next_action_url.strip_prefix("stripe-js:") {
            Some(client_secret) => Self::UseStripeSdk { client_secret },
            None => Self::RedirectToUrl { url: next_action_url },
        }
    }

    /// The wire name: `redirect_to_url` or `use_stripe_sdk`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RedirectToUrl { .. } => "redirect_to_url",
            Self::UseStripeSdk { .. } => "use_stripe_sdk",
        }
    }
}

/// An order as its customer's checkout answer presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutOutcome<'a> {
    /// Paid (or already shipped).
    Paid,
    /// The card asks the customer to authenticate (see [`NextAction`]); the order
    /// completes when the processor reports the outcome.
    ActionRequired(NextAction<'a>),
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
            _ => self.next_action().map_or(CheckoutOutcome::Processing, CheckoutOutcome::ActionRequired),
        }
    }

    /// How the customer completes the card's challenge, while the order waits for it.
    pub fn next_action(&self) -> Option<NextAction<'_>> {
        self.next_action_url().map(NextAction::parse)
    }
}
