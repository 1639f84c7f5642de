//! # commerce-stripe
//!
//! [`StripeGateway`] implements the core's `PaymentGateway` port over Stripe's REST API
//! (reqwest with rustls, form-encoded bodies, a pinned [`STRIPE_VERSION`]):
//!
//! | port call | Stripe call | domain answer |
//! |---|---|---|
//! | `tokenize` | `POST /v1/payment_methods` (`type=card`) | the `pm_...` token, brand and last four |
//! | `describe` | `GET /v1/payment_methods/{id}` | the token's brand and last four |
//! | `authorize` | `POST /v1/payment_intents` (`confirm=true`, `capture_method=manual`) | `requires_capture`: authorised (the intent's id); a `card_error`: declined with its reason; `requires_action`: 3-D Secure |
//! | `capture` | `POST /v1/payment_intents/{id}/capture` (`amount_to_capture`) | the charge's id (`ch_...`) |
//! | `void` | `POST /v1/payment_intents/{id}/cancel` | |
//! | `refund` | `POST /v1/refunds` (`charge`, `amount`) | the refund's id (`re_...`) |
//!
//! Every money-moving call carries the port's idempotency key as Stripe's
//! `Idempotency-Key`, so a retried step replays Stripe's first answer and never moves
//! money twice. A call that times out, is rate limited (429) or meets a server error
//! (5xx, or 409 while Stripe still runs the first request with that key) is retried with
//! the same key, at most [`StripeConfig::max_attempts`] times with jittered exponential
//! back-off, then reported `Unavailable` (outcome unknown: the saga retries later with
//! the same key). A refused secret key (401/403) is `Unavailable` too, logged as an error
//! naming the cause: no order can be paid until an operator fixes the key, and none is
//! failed for it. Other 4xx answers are `InvalidRequest`; `card_error`s map to
//! [`DeclineReason`]s ([`wire::decline_reason`]).
//!
//! [`webhook::WebhookVerifier`] checks Stripe's signed webhook deliveries
//! (`Stripe-Signature`: HMAC-SHA256 over the timestamp and the raw body, a tolerance
//! window, constant-time comparison), and is the shop's
//! [`PaymentNoticeDecoder`](commerce_core::ports::PaymentNoticeDecoder): it turns
//! PaymentIntent and refund events into the core's payment notices.
//!
//! Feature `fake`: [`fake::router`], a Stripe-compatible fake of these endpoints for tests.

#[cfg(feature = "fake")]
pub mod fake;
mod notices;
pub mod webhook;
pub mod wire;

use std::{fmt, time::Duration};

use async_trait::async_trait;
use commerce_core::{
    Money,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, DeclineReason, IdempotencyKey,
        PaymentError, PaymentMethod, PaymentToken, RefundId,
    },
    ports::PaymentGateway,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::wire::{ErrorEnvelope, ErrorObject, PaymentIntentObject, PaymentMethodObject, RefundObject};

/// The Stripe API version every request pins (`Stripe-Version`), so an account upgrade
/// never changes the shapes this adapter reads.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// Stripe's public API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// A Stripe secret (`sk_...`) or restricted (`rk_...`) key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSecretKey(String);

/// Why a value is not a Stripe secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a Stripe secret key starts with sk_ or rk_ and has no spaces")]
pub struct InvalidSecretKey;

impl StripeSecretKey {
    /// Checks the key's form (`sk_` or `rk_`, then printable characters without spaces).
    pub fn parse(raw: &str) -> Result<Self, InvalidSecretKey> {
        let raw = raw.trim();
        let well_formed = (raw.starts_with("sk_") || raw.starts_with("rk_"))
            && raw.len() > 3
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if well_formed { Ok(Self(raw.to_owned())) } else { Err(InvalidSecretKey) }
    }

    /// Whether this is a test-mode key (`sk_test_...`, `rk_test_...`).
    pub fn is_test_mode(&self) -> bool {
        self.0[3..].starts_with("test_")
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_test_mode() { "StripeSecretKey(test, redacted)" } else { "StripeSecretKey(redacted)" })
    }
}

/// How the gateway reaches Stripe.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The account's secret key.
    pub secret_key: StripeSecretKey,
    /// Where the API is: [`STRIPE_API_BASE`], or a fake in tests.
    pub api_base: String,
    /// The deadline of one attempt.
    pub timeout: Duration,
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// The first back-off; each retry doubles it, with ±50 % jitter.
    pub backoff: Duration,
    /// Where the issuer's 3-D Secure page sends the customer back, if the shop handles
    /// redirects itself (otherwise the browser completes the action with Stripe.js).
    pub return_url: Option<String>,
}

impl StripeConfig {
    /// Stripe's public API with `secret_key`: 10 s per attempt, 3 attempts, 250 ms back-off.
    pub fn new(secret_key: StripeSecretKey) -> Self {
        Self {
            secret_key,
            api_base: STRIPE_API_BASE.to_owned(),
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff: Duration::from_millis(250),
            return_url: None,
        }
    }
}

/// Why a Stripe call failed, before the port's mapping.
#[derive(Debug)]
enum Failure {
    /// A `card_error`: the card was refused.
    Card(ErrorObject),
    /// Any other 4xx: the request is wrong and retrying cannot help.
    Invalid(String),
    /// No answer, or not yet: the outcome is unknown.
    Unavailable(String),
}

impl Failure {
    /// The port's error when a card refusal is an error (tokenize, capture).
    fn into_payment_error(self) -> PaymentError {
        match self {
            Self::Card(e) => PaymentError::CardRefused(e.decline_reason()),
            Self::Invalid(m) => PaymentError::InvalidRequest(m),
            Self::Unavailable(m) => PaymentError::Unavailable(m),
        }
    }
}

/// The `PaymentGateway` on Stripe.
#[derive(Debug, Clone)]
pub struct StripeGateway {
    http: reqwest::Client,
    config: StripeConfig,
}

impl StripeGateway {
    /// A gateway with its own HTTP client (rustls, the platform's roots). The API base
    /// must be `https://`, or `http://` to this host (a test's fake): the secret key never
    /// crosses a network in clear text. Redirects are not followed.
    pub fn new(config: StripeConfig) -> Result<Self, PaymentError> {
        let base = reqwest::Url::parse(&config.api_base)
            .map_err(|e| PaymentError::InvalidRequest(format!("the Stripe API base is not a URL: {e}")))?;
        let host = base.host_str().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !(base.scheme() == "https" || (base.scheme() == "http" && loopback)) {
            return Err(PaymentError::InvalidRequest(
                "the Stripe API base must be https:// (or http:// to this host)".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .user_agent(concat!("commerce-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PaymentError::Unavailable(format!("building the Stripe client: {e}")))?;
        Ok(Self::with_client(http, config))
    }

    /// A gateway on a client the caller built (proxies, extra root certificates).
    pub fn with_client(http: reqwest::Client, config: StripeConfig) -> Self {
        Self { http, config }
    }

    /// Reads a PaymentIntent (what [`PaymentGateway::authorization`] asks).
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntentObject, PaymentError> {
        self.call(reqwest::Method::GET, &format!("/v1/payment_intents/{id}"), &[], None)
            .await
            .map_err(Failure::into_payment_error)
    }

    /// One call with its retries.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        key: Option<&IdempotencyKey>,
    ) -> Result<T, Failure> {
        let url = format!("{}{path}", self.config.api_base.trim_end_matches('/'));
        let attempts = self.config.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(self.config.backoff, attempt)).await;
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.config.secret_key.expose())
                .header("Stripe-Version", STRIPE_VERSION);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", &key.0);
            }
            if !form.is_empty() {
                request = request.form(form);
            }
            let response = match request.send().await {
                Ok(response) => response,
                // Sent or not, the key makes a resend safe.
                Err(e) => {
                    last = format!("no answer from Stripe: {}", without_url(&e));
                    tracing::warn!(path, attempt, error = %last, "Stripe call failed; retrying with the same key");
                    continue;
                }
            };
            let status = response.status();
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(e) => {
                    last = format!("Stripe's answer was cut: {}", without_url(&e));
                    continue;
                }
            };
            if status.is_success() {
                return serde_json::from_slice(&body)
                    .map_err(|e| Failure::Unavailable(format!("Stripe's answer to {path} does not decode: {e}")));
            }
            let error = serde_json::from_slice::<ErrorEnvelope>(&body).map(|e| e.error).unwrap_or_default();
            match status {
                StatusCode::TOO_MANY_REQUESTS | StatusCode::CONFLICT => {
                    last = format!("Stripe answered {status} ({})", error.message.as_deref().unwrap_or("no message"));
                }
                s if s.is_server_error() => {
                    last = format!("Stripe answered {status}");
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    tracing::error!(
                        %status,
                        "Stripe refused the secret key: no payment can go through until STRIPE_SECRET_KEY is fixed"
                    );
                    return Err(Failure::Unavailable(format!("Stripe refused the secret key ({status})")));
                }
                _ if error.kind == "card_error" => return Err(Failure::Card(error)),
                _ => {
                    let code = error.code.as_deref().unwrap_or(&error.kind);
                    let message = error.message.as_deref().unwrap_or("no message");
                    return Err(Failure::Invalid(format!("{status} {code}: {message}")));
                }
            }
            tracing::warn!(path, attempt, error = %last, "Stripe call not done; retrying with the same key");
        }
        Err(Failure::Unavailable(last))
    }
}

/// The delay before retry `attempt` (1-based): `base * 2^(attempt-1)`, ±50 %.
fn backoff(base: Duration, attempt: u32) -> Duration {
    use std::hash::{BuildHasher as _, RandomState};
    // Jitter needs spread, not secrecy: the standard library's per-process random keys.
    let per_mille = 500 + u32::try_from(RandomState::new().hash_one(attempt) % 1000).unwrap_or(500);
    base.saturating_mul(1 << attempt.saturating_sub(1).min(10)).saturating_mul(per_mille) / 1000
}

/// What kind of transport error, and reqwest's account of it (the URL holds ids, never
/// a secret; the body, with any card field, is never part of it).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    format!("{kind}: {e}")
}

fn amount_form(amount: Money) -> (String, String) {
    (amount.amount().to_string(), amount.currency().code().to_ascii_lowercase())
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        let form = [
            ("type", "card".to_owned()),
            ("card[number]", card.number.expose_digits().to_owned()),
            ("card[exp_month]", card.expiry.month().to_string()),
            ("card[exp_year]", card.expiry.year().to_string()),
            ("card[cvc]", card.cvc.expose().to_owned()),
        ];
        let method: PaymentMethodObject = self
            .call(reqwest::Method::POST, "/v1/payment_methods", &form, None)
            .await
            .map_err(Failure::into_payment_error)?;
        payment_method(method)
    }

    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        let method: PaymentMethodObject = self
            .call(reqwest::Method::GET, &format!("/v1/payment_methods/{}", token.0), &[], None)
            .await
            .map_err(Failure::into_payment_error)?;
        payment_method(method)
    }

    async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        let (amount, currency) = amount_form(request.amount);
        let mut form = vec![
            ("amount", amount),
            ("currency", currency),
            ("payment_method", request.token.0.clone()),
            ("payment_method_types[]", "card".to_owned()),
            ("capture_method", "manual".to_owned()),
            ("confirm", "true".to_owned()),
            ("metadata[reference]", request.reference.clone()),
        ];
        if let Some(return_url) = &self.config.return_url {
            form.push(("return_url", return_url.clone()));
        }
        let intent: PaymentIntentObject = match self
            .call(reqwest::Method::POST, "/v1/payment_intents", &form, Some(&request.idempotency_key))
            .await
        {
            Ok(intent) => intent,
            Err(Failure::Card(e)) => return Ok(AuthorizationOutcome::Declined { reason: e.decline_reason() }),
            Err(other) => return Err(other.into_payment_error()),
        };
        outcome(intent)
    }

    async fn authorization(&self, authorization: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        let intent = self.payment_intent(&authorization.0).await?;
        match intent.status.as_str() {
            // Captured since: the hold went through.
            "succeeded" => Ok(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId(intent.id) }),
            "canceled" => Ok(AuthorizationOutcome::Declined { reason: DeclineReason::ProcessingError }),
            _ => outcome(intent),
        }
    }

    async fn capture(
        &self,
        key: &IdempotencyKey,
        authorization: &AuthorizationId,
        amount: Money,
    ) -> Result<CaptureId, PaymentError> {
        let form = [("amount_to_capture", amount.amount().to_string())];
        let path = format!("/v1/payment_intents/{}/capture", authorization.0);
        let intent: PaymentIntentObject =
            self.call(reqwest::Method::POST, &path, &form, Some(key)).await.map_err(Failure::into_payment_error)?;
        match (intent.status.as_str(), intent.latest_charge) {
            ("succeeded", Some(charge)) => Ok(CaptureId(charge)),
            (status, _) => Err(PaymentError::Unavailable(format!("Stripe's capture left the intent {status}"))),
        }
    }

    async fn void(&self, key: &IdempotencyKey, authorization: &AuthorizationId) -> Result<(), PaymentError> {
        let path = format!("/v1/payment_intents/{}/cancel", authorization.0);
        let intent: PaymentIntentObject =
            self.call(reqwest::Method::POST, &path, &[], Some(key)).await.map_err(Failure::into_payment_error)?;
        if intent.status == "canceled" {
            Ok(())
        } else {
            Err(PaymentError::Unavailable(format!("Stripe's cancel left the intent {}", intent.status)))
        }
    }

    async fn refund(&self, key: &IdempotencyKey, capture: &CaptureId, amount: Money) -> Result<RefundId, PaymentError> {
        let form = [("charge", capture.0.clone()), ("amount", amount.amount().to_string())];
        let refund: RefundObject = self
            .call(reqwest::Method::POST, "/v1/refunds", &form, Some(key))
            .await
            .map_err(Failure::into_payment_error)?;
        match refund.status.as_str() {
            "failed" | "canceled" => Err(PaymentError::InvalidRequest(format!("Stripe's refund {}", refund.status))),
            // `pending` refunds complete on Stripe's side; the id is what the order keeps.
            _ => Ok(RefundId(refund.id)),
        }
    }
}

/// The domain's card of a Stripe PaymentMethod; one that is not a card cannot pay here.
fn payment_method(method: PaymentMethodObject) -> Result<PaymentMethod, PaymentError> {
    let card = method
        .card
        .ok_or_else(|| PaymentError::InvalidRequest(format!("payment method {} is not a card", method.id)))?;
    Ok(PaymentMethod { token: PaymentToken(method.id), brand: wire::brand(&card.brand), last4: card.last4 })
}

/// The domain's outcome of a confirmed intent.
fn outcome(intent: PaymentIntentObject) -> Result<AuthorizationOutcome, PaymentError> {
    match intent.status.as_str() {
        "requires_capture" => Ok(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId(intent.id) }),
        "requires_action" => {
            let url = intent
                .next_action
                .and_then(|a| a.redirect_to_url.map(|r| r.url))
                .or_else(|| intent.client_secret.map(|secret| format!("stripe-js:{secret}")))
                .unwrap_or_default();
            Ok(AuthorizationOutcome::RequiresAction {
                authorization_id: AuthorizationId(intent.id),
                next_action_url: url,
            })
        }
        "requires_payment_method" => Ok(AuthorizationOutcome::Declined {
            reason: intent.last_payment_error.map_or(DeclineReason::CardDeclined, |e| e.decline_reason()),
        }),
        // `processing`, or an intent some other client changed: not an answer yet.
        status => Err(PaymentError::Unavailable(format!("Stripe's payment intent is {status}"))),
    }
}
