//! # commerce-payment-simulator
//!
//! A simulated card processor implementing the `PaymentGateway` port, for
//! development, demos and load tests. It answers like a real processor in test
//! mode, with Stripe's test cards:
//!
//! | card number | outcome |
//! |---|---|
//! | 4242 4242 4242 4242 | succeeds |
//! | 4000 0000 0000 0002 | declined (`card_declined`) |
//! | 4000 0000 0000 9995 | declined (`insufficient_funds`) |
//! | 4000 0000 0000 0119 | fails with a processing error (`processing_error`) |
//! | 4000 0000 0000 0069 / 0127 | declined (`expired_card` / `incorrect_cvc`) |
//! | 4000 0025 0000 3155 | requires action (3-D Secure) |
//!
//! The card rules and idempotency bookkeeping are those of
//! [`commerce_memory::MemoryPaymentGateway`]; this crate adds what makes it
//! behave like a remote service: a configurable round-trip latency on every
//! call, and a per-call deadline after which the call reports `Unavailable`
//! (its outcome unknown, as with a real network timeout).

pub mod remote;

use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    Money,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, IdempotencyKey, PaymentError,
        PaymentMethod, PaymentToken, RefundId,
    },
    ports::PaymentGateway,
};
use commerce_memory::{GatewayStats, MemoryPaymentGateway};

/// How the simulated processor behaves on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessorConfig {
    /// Added to every call, like a network round trip to the processor.
    pub latency: Duration,
    /// Calls slower than this report `Unavailable`. The processor still applies
    /// them, exactly like a real call whose response was lost.
    pub timeout: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self { latency: Duration::ZERO, timeout: Duration::from_secs(10) }
    }
}

/// The simulated card processor.
#[derive(Debug, Default)]
pub struct SimulatedCardProcessor {
    inner: MemoryPaymentGateway,
    config: ProcessorConfig,
}

impl SimulatedCardProcessor {
    /// A processor with the given wire behaviour.
    pub fn new(config: ProcessorConfig) -> Self {
        Self { inner: MemoryPaymentGateway::new(), config }
    }

    /// How long the simulator keeps tokens, replies, authorisations and captures: far
    /// longer than any retry, so a simulator running for months stays bounded.
    pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

    /// Forgets records created more than `age` ago; returns how many. Binaries run it
    /// once a minute with [`Self::RETENTION`].
    pub fn prune(&self, age: Duration) -> usize {
        self.inner.prune(age)
    }

    /// Totals over the payments of `reference` (an order id), or over all.
    pub fn stats(&self, reference: Option<&str>) -> GatewayStats {
        self.inner.stats(reference)
    }

    /// Challenges are answered at `base` followed by the authorisation id: the page of
    /// [`remote::browser_router`] when it is served at `base` (`/simulator/3ds/`).
    #[must_use]
    pub fn with_challenge_url(mut self, base: impl Into<String>) -> Self {
        self.inner = self.inner.with_challenge_url(base);
        self
    }

    /// The challenge of `authorization` while it waits for its customer.
    pub fn pending_challenge(&self, authorization: &AuthorizationId) -> Option<commerce_memory::PendingChallenge> {
        self.inner.pending_challenge(authorization)
    }

    /// Answers the 3-D Secure challenge of a pending authorisation, as its customer would;
    /// `false` when none is pending (see [`MemoryPaymentGateway::complete_action`]).
    pub fn complete_action(&self, authorization: &AuthorizationId, authenticated: bool) -> bool {
        self.inner.complete_action(authorization, authenticated)
    }

    /// Waits the configured latency; `Unavailable` when it exceeds the deadline.
    async fn round_trip(&self) -> Result<(), PaymentError> {
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency.min(self.config.timeout)).await;
        }
        if self.config.latency > self.config.timeout {
            return Err(PaymentError::Unavailable(format!(
                "processor did not answer within {:?}",
                self.config.timeout
            )));
        }
        Ok(())
    }

    /// Applies `result` (the processor did the work), then reports it or a lost response.
    async fn respond<T>(&self, result: Result<T, PaymentError>) -> Result<T, PaymentError> {
        self.round_trip().await?;
        result
    }
}

#[async_trait]
impl PaymentGateway for SimulatedCardProcessor {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        let result = self.inner.tokenize(card).await;
        self.respond(result).await
    }

    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        let result = self.inner.describe(token).await;
        self.respond(result).await
    }

    async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        let result = self.inner.authorize(request).await;
        self.respond(result).await
    }

    async fn authorization(&self, authorization: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        let result = self.inner.authorization(authorization).await;
        self.respond(result).await
    }

    async fn capture(
        &self,
        key: &IdempotencyKey,
        authorization: &AuthorizationId,
        amount: Money,
    ) -> Result<CaptureId, PaymentError> {
        let result = self.inner.capture(key, authorization, amount).await;
        self.respond(result).await
    }

    async fn void(&self, key: &IdempotencyKey, authorization: &AuthorizationId) -> Result<(), PaymentError> {
        let result = self.inner.void(key, authorization).await;
        self.respond(result).await
    }

    async fn refund(&self, key: &IdempotencyKey, capture: &CaptureId, amount: Money) -> Result<RefundId, PaymentError> {
        let result = self.inner.refund(key, capture, amount).await;
        self.respond(result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commerce_core::{
        Currency, Timestamp,
        payment::{CardExpiry, CardNumber, Cvc, DeclineReason, PaymentToken},
        testkit::conformance,
    };

    fn card(number: &str) -> CardDetails {
        let number = CardNumber::parse(number).unwrap();
        CardDetails {
            cvc: Cvc::parse("123", number.brand()).unwrap(),
            expiry: CardExpiry::parse(12, 2030, Timestamp::from_unix_micros(1_767_225_600_000_000)).unwrap(),
            number,
        }
    }

    async fn authorize(
        p: &SimulatedCardProcessor,
        number: &str,
        key: &str,
    ) -> Result<AuthorizationOutcome, PaymentError> {
        let token = p.tokenize(&card(number)).await?.token;
        let request = AuthorizeRequest {
            idempotency_key: IdempotencyKey(key.into()),
            token,
            amount: Money::new(1000, Currency::USD).unwrap(),
            reference: key.into(),
        };
        p.authorize(&request).await
    }

    #[tokio::test]
    async fn passes_the_gateway_conformance_suite() {
        let p =
            SimulatedCardProcessor::new(ProcessorConfig { latency: Duration::from_millis(1), ..Default::default() });
        conformance::payment::run(&p, &card("4242424242424242"), "sim").await;
    }

    #[tokio::test]
    async fn test_cards_behave_like_stripe() {
        let p = SimulatedCardProcessor::default();
        assert!(matches!(authorize(&p, "4242424242424242", "a").await, Ok(AuthorizationOutcome::Authorized { .. })));
        for (number, reason) in [
            ("4000000000000002", DeclineReason::CardDeclined),
            ("4000000000009995", DeclineReason::InsufficientFunds),
            ("4000000000000119", DeclineReason::ProcessingError),
        ] {
            assert_eq!(authorize(&p, number, number).await, Ok(AuthorizationOutcome::Declined { reason }));
        }
        assert!(matches!(
            authorize(&p, "4000002500003155", "3ds").await,
            Ok(AuthorizationOutcome::RequiresAction { .. })
        ));
        let unknown = AuthorizeRequest {
            idempotency_key: IdempotencyKey("x".into()),
            token: PaymentToken("tok_forged".into()),
            amount: Money::new(1, Currency::USD).unwrap(),
            reference: "x".into(),
        };
        assert!(matches!(p.authorize(&unknown).await, Err(PaymentError::InvalidRequest(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_processor_times_out_but_still_applies_the_call() {
        let p = SimulatedCardProcessor::new(ProcessorConfig {
            latency: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        });
        let started = tokio::time::Instant::now();
        assert!(matches!(authorize(&p, "4242424242424242", "slow").await, Err(PaymentError::Unavailable(_))));
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(p.stats(None).authorizations, 0, "tokenize timed out first, so nothing was authorised");
        let fast = SimulatedCardProcessor::new(ProcessorConfig {
            latency: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        });
        let method = fast.inner.tokenize(&card("4242424242424242")).await.unwrap();
        let request = AuthorizeRequest {
            idempotency_key: IdempotencyKey("k".into()),
            token: method.token,
            amount: Money::new(1000, Currency::USD).unwrap(),
            reference: "k".into(),
        };
        assert!(fast.authorize(&request).await.is_err());
        assert_eq!(fast.stats(None).authorizations, 1, "the lost response hid an authorisation that happened");
        let retry = fast.inner.authorize(&request).await.unwrap();
        assert!(matches!(retry, AuthorizationOutcome::Authorized { .. }), "a retry with the key finds it");
    }
}
