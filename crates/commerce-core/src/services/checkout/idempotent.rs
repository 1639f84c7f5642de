//! [`IdempotentCheckout`]: the checkout a client may retry under one key and be charged
//! once, whatever the transport.

use std::sync::Arc;

use super::{CheckoutError, CheckoutInput, CheckoutObserver, CheckoutService, PlacedOrder};
use crate::{
    idempotency::{ClientKey, CommandOutcome, Refusal},
    services::idempotency::{Begin, IdempotencyError, IdempotencyService},
};

/// The answer to a checkout under a client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutReply {
    /// The placed order (in its current state), or why there is none.
    pub result: Result<PlacedOrder, CheckoutError>,
    /// True when this answers an earlier request with the same key and command: nothing
    /// was executed again.
    pub replayed: bool,
}

impl CheckoutReply {
    fn fresh(result: Result<PlacedOrder, CheckoutError>) -> Self {
        Self { result, replayed: false }
    }
}

/// Checkout under the idempotent-command protocol of [`IdempotencyService`]:
///
/// 1. the input is validated first, so a malformed request never claims its key;
/// 2. the command's fingerprint (e-mail and items, never the card) claims the key;
/// 3. the order id derives from the key and its first claim, and the access token from
///    the shop's secret, the key and the order id, so every attempt and replay of one
///    request names the same order and the same token;
/// 4. the outcome is recorded as a domain value ([`CommandOutcome`]); a key whose command
///    certainly created nothing is released, and one whose order may exist (an insert
///    whose commit was lost) stays claimed, so a retry resumes that order and can never
///    create and charge a second one.
#[derive(Clone)]
pub struct IdempotentCheckout {
    checkout: CheckoutService,
    idempotency: IdempotencyService,
    observer: Option<Arc<dyn CheckoutObserver>>,
}

impl IdempotentCheckout {
    /// Wraps `checkout` in the protocol run by `idempotency`.
    pub fn new(checkout: CheckoutService, idempotency: IdempotencyService) -> Self {
        Self { checkout, idempotency, observer: None }
    }

    /// Tells `observer` how each reply ends ([`CheckoutReply::kind`]).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn CheckoutObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The checkout inside (for the recovery job and direct use).
    pub fn checkout(&self) -> &CheckoutService {
        &self.checkout
    }

    /// Places the order of `input` once per `key`; a retry with the same key and command
    /// gets the same order back (`replayed`), a retry with another command is `KeyReused`,
    /// and one while the first still runs is `InProgress`.
    pub async fn place_order(&self, key: &ClientKey, input: &CheckoutInput) -> CheckoutReply {
        let reply = self.place_once(key, input).await;
        let kind = reply.kind();
        if let Some(observer) = &self.observer {
            observer.observe(kind);
        }
        // One line per checkout: with its request's span, it names the order, the outcome
        // and (when traced) the trace.
        let order = reply.result.as_ref().ok().map(|placed| placed.order.id.to_string());
        tracing::info!(order = order.as_deref().unwrap_or("-"), outcome = kind.as_str(), "checkout");
        reply
    }

    async fn place_once(&self, key: &ClientKey, input: &CheckoutInput) -> CheckoutReply {
        let command = match input.validate(self.idempotency.clock().now(), self.checkout.card_data()) {
            Ok(command) => command,
            Err(errors) => return CheckoutReply::fresh(Err(errors.into())),
        };
        let fingerprint = self.idempotency.secret().fingerprint("checkout", &command.canonical());
        let claim = match self.idempotency.begin(key, &fingerprint).await {
            Ok(Begin::Execute(claim)) => claim,
            Ok(Begin::Replay(outcome)) => {
                return CheckoutReply { result: self.replay(key, outcome).await, replayed: true };
            }
            Err(IdempotencyError::InProgress) => return CheckoutReply::fresh(Err(CheckoutError::InProgress)),
            Err(IdempotencyError::Mismatch) => return CheckoutReply::fresh(Err(CheckoutError::KeyReused)),
            Err(IdempotencyError::Unavailable(cause)) => {
                return CheckoutReply::fresh(Err(CheckoutError::Interrupted { order: None, cause }));
            }
        };
        let id = key.order_id(claim.first_claimed_at());
        let token = self.idempotency.secret().access_token(key, id);
        let result = if claim.is_first() {
            self.checkout.place_first(&command, id, token).await
        } else {
            self.checkout.place(&command, id, token).await
        };
        let refused = |refusal| CommandOutcome::Refused { refusal };
        match &result {
            Ok(placed) => {
                let outcome = CommandOutcome::Order { order_id: placed.order.id, status: placed.order.status };
                self.idempotency.complete(claim, &outcome).await;
            }
            Err(CheckoutError::Validation(errors)) => {
                self.idempotency.complete(claim, &refused(Refusal::Invalid { errors: errors.clone() })).await;
            }
            Err(CheckoutError::CardRefused(decline)) => {
                self.idempotency.complete(claim, &refused(Refusal::CardRefused { decline: *decline })).await;
            }
            // Nothing was created (a dependency was down before the order existed).
            Err(CheckoutError::Interrupted { order: None, .. }) => self.idempotency.release(claim).await,
            // The order exists or may exist: only this key may ever resume it.
            Err(_) => IdempotencyService::keep(claim),
        }
        CheckoutReply::fresh(result)
    }

    /// The answer recorded for a key, with the order as it is now.
    async fn replay(&self, key: &ClientKey, outcome: CommandOutcome) -> Result<PlacedOrder, CheckoutError> {
        match outcome {
            CommandOutcome::Order { order_id, .. } => {
                self.checkout.placed(order_id, self.idempotency.secret().access_token(key, order_id)).await
            }
            CommandOutcome::Refused { refusal: Refusal::Invalid { errors } } => Err(CheckoutError::Validation(errors)),
            CommandOutcome::Refused { refusal: Refusal::CardRefused { decline } } => {
                Err(CheckoutError::CardRefused(decline))
            }
        }
    }
}
