//! A Stripe-compatible fake (feature `fake`): the endpoints [`StripeGateway`](crate::StripeGateway)
//! calls, with Stripe's request and response shapes, error objects and idempotency
//! semantics, so the adapter is tested without the internet.
//!
//! - Authentication: `Authorization: Bearer <the key the fake was made with>`, else 401.
//!   As Stripe.js does, a browser may create a PaymentMethod with the publishable key in
//!   the form instead (`key=pk_...`, [`FakeStripe::publishable_key`]); that answer allows
//!   any origin (CORS), like Stripe's.
//! - Idempotency: a POST with an `Idempotency-Key` seen before replays the first answer
//!   (with `Idempotent-Replayed: true`) when its path and body are the same, and is a 400
//!   `idempotency_error` otherwise.
//! - Test PaymentMethods: `pm_card_visa`, `pm_card_mastercard`, `pm_card_amex`,
//!   `pm_card_chargeDeclined`, `pm_card_chargeDeclinedInsufficientFunds`,
//!   `pm_card_chargeDeclinedExpiredCard`, `pm_card_chargeDeclinedIncorrectCvc`,
//!   `pm_card_chargeDeclinedProcessingError`, `pm_card_chargeDeclinedFraudulent`,
//!   `pm_card_authenticationRequired`; and PaymentMethods made from Stripe's test card
//!   numbers (4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000 0000
//!   9995 lacks funds, 0069 expired, 0127 wrong CVC, 0119 processing error, 4100 0000 0000
//!   0019 fraudulent, 4000 0025 0000 3155 requires 3-D Secure; any other valid number
//!   succeeds).
//! - Webhooks: [`FakeStripe::send_webhooks_to`] delivers every later event
//!   (`payment_intent.amount_capturable_updated` and `payment_intent.payment_failed` when a
//!   challenge is answered, `payment_intent.succeeded` on capture, `payment_intent.canceled`,
//!   `charge.refunded`) to an endpoint, signed like Stripe (`Stripe-Signature`);
//!   [`FakeStripe::lose_next_webhooks`] drops some, [`FakeStripe::events`] lists them all.
//! - Faults, for retry tests: [`FakeStripe::fail_next`] answers the next calls with a
//!   status without doing anything; [`FakeStripe::delay_next`] does the next call, then
//!   answers late (a timeout that took effect).

mod books;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use self::books::{Books, Call, error};
use crate::webhook::{WebhookSecret, sign};

/// The fake's state. Share it between the [`router`] and the test.
#[derive(Debug)]
pub struct FakeStripe {
    secret_key: String,
    books: Mutex<Books>,
    webhooks: Mutex<Webhooks>,
}

/// Where events go.
#[derive(Debug, Default)]
struct Webhooks {
    endpoint: Option<(String, WebhookSecret)>,
    lose: usize,
    client: reqwest::Client,
}

/// What the fake has done, for assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// PaymentIntents created.
    pub intents: usize,
    /// Intents captured.
    pub captured: usize,
    /// Intents cancelled.
    pub canceled: usize,
    /// Refunds made.
    pub refunds: u64,
    /// Answers replayed for a repeated idempotency key.
    pub replays: u64,
}

impl FakeStripe {
    /// A fake that accepts `secret_key` (e.g. `sk_test_fake`).
    pub fn new(secret_key: &str) -> Arc<Self> {
        Arc::new(Self { secret_key: secret_key.to_owned(), books: Mutex::default(), webhooks: Mutex::default() })
    }

    /// The publishable key paired with the secret key: `sk_test_x` gives `pk_test_x`.
    pub fn publishable_key(&self) -> String {
        let rest = self.secret_key.split_once('_').map_or(self.secret_key.as_str(), |(_, rest)| rest);
        format!("pk_{rest}")
    }

    /// Delivers every later event to `url`, signed with `secret`, as Stripe does: after
    /// the call that caused it has answered.
    pub fn send_webhooks_to(&self, url: &str, secret: WebhookSecret) {
        self.webhooks.lock().unwrap_or_else(PoisonError::into_inner).endpoint = Some((url.to_owned(), secret));
    }

    /// The next `n` events are never delivered (a lost webhook).
    pub fn lose_next_webhooks(&self, n: usize) {
        self.webhooks.lock().unwrap_or_else(PoisonError::into_inner).lose += n;
    }

    /// Every event so far (Stripe Event objects), delivered or not.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.books().events.clone()
    }

    /// The deliveries of the events not sent yet: each a POST to the endpoint, signed now.
    fn pending_deliveries(&self) -> Vec<reqwest::RequestBuilder> {
        let events = {
            let mut books = self.books();
            let fresh = books.events[books.delivered..].to_vec();
            books.delivered = books.events.len();
            fresh
        };
        let mut webhooks = self.webhooks.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut deliveries = vec![];
        for event in events {
            if webhooks.lose > 0 {
                webhooks.lose -= 1;
                continue;
            }
            let Some((url, secret)) = &webhooks.endpoint else { continue };
            let payload = serde_json::to_vec(&event).unwrap_or_default();
            let request = webhooks
                .client
                .post(url)
                .header("content-type", "application/json")
                .header("stripe-signature", sign(secret, now, &payload))
                .body(payload);
            deliveries.push(request);
        }
        deliveries
    }

    /// Sends the pending events in the background; a failed delivery is not retried.
    fn deliver_later(&self) {
        for request in self.pending_deliveries() {
            tokio::spawn(async move {
                if let Err(e) = request.send().await {
                    tracing::warn!(error = %e, "the fake could not deliver a webhook");
                }
            });
        }
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` calls answer `status` (429, 500, ...) without doing anything.
    pub fn fail_next(&self, n: usize, status: StatusCode) {
        self.books().failures.extend(std::iter::repeat_n(status, n));
    }

    /// The next call is done, then answered after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.books().delays.push(delay);
    }

    /// What was done so far.
    pub fn counts(&self) -> Counts {
        self.books().counts()
    }

    /// The customer completed (or failed) the 3-D Secure challenge of intent `id`; returns
    /// once the event's webhook was delivered (if an endpoint is set). `false` when the
    /// intent waits for no challenge.
    pub async fn complete_action(&self, id: &str, succeeded: bool) -> bool {
        let done = self.books().complete_action(id, succeeded);
        for request in self.pending_deliveries() {
            if let Err(e) = request.send().await {
                tracing::warn!(error = %e, "the fake could not deliver a webhook");
            }
        }
        done
    }
}

/// The fake's routes: `POST /v1/payment_methods`, `GET /v1/payment_methods/{id}`,
/// `POST /v1/payment_intents`, `GET /v1/payment_intents/{id}`,
/// `POST /v1/payment_intents/{id}/capture`, `POST /v1/payment_intents/{id}/cancel`,
/// `POST /v1/refunds`.
pub fn router(fake: Arc<FakeStripe>) -> Router {
    Router::new()
        .route("/v1/payment_methods", post(create_method))
        .route("/v1/payment_methods/{id}", get(get_method))
        .route("/v1/payment_intents", post(create_intent))
        .route("/v1/payment_intents/{id}", get(get_intent))
        .route("/v1/payment_intents/{id}/capture", post(capture))
        .route("/v1/payment_intents/{id}/cancel", post(cancel))
        .route("/v1/refunds", post(refund))
        .with_state(fake)
}

type Fake = State<Arc<FakeStripe>>;

/// From the shop's server (the secret key) or from a browser (the publishable key in the
/// form, any origin allowed).
async fn create_method(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if form.get("key").is_none_or(|key| *key != fake.publishable_key()) {
        return handle(&fake, &headers, Method::POST, Call::CreateMethod, &body).await;
    }
    let mut server_side = headers.clone();
    let bearer = HeaderValue::from_str(&format!("Bearer {}", fake.secret_key));
    if let Ok(bearer) = bearer {
        server_side.insert("authorization", bearer);
    }
    let mut response = handle(&fake, &server_side, Method::POST, Call::CreateMethod, &body).await;
    response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

async fn get_method(State(fake): Fake, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&fake, &headers, Method::GET, Call::GetMethod(id), &[]).await
}

async fn create_intent(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    handle(&fake, &headers, Method::POST, Call::CreateIntent, &body).await
}

async fn get_intent(State(fake): Fake, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&fake, &headers, Method::GET, Call::GetIntent(id), &[]).await
}

async fn capture(State(fake): Fake, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&fake, &headers, Method::POST, Call::Capture(id), &body).await
}

async fn cancel(State(fake): Fake, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&fake, &headers, Method::POST, Call::Cancel(id), &body).await
}

async fn refund(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    handle(&fake, &headers, Method::POST, Call::Refund, &body).await
}

async fn handle(fake: &FakeStripe, headers: &HeaderMap, method: Method, call: Call, body: &[u8]) -> Response {
    let authorised = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| key == fake.secret_key);
    if !authorised {
        let (status, body) = error(StatusCode::UNAUTHORIZED, "authentication_error", None, "Invalid API Key provided.");
        return (status, Json(body)).into_response();
    }
    let (failure, delay) = {
        let mut books = fake.books();
        let failure = (!books.failures.is_empty()).then(|| books.failures.remove(0));
        let delay = (failure.is_none() && !books.delays.is_empty()).then(|| books.delays.remove(0));
        (failure, delay)
    };
    if let Some(status) = failure {
        let (status, body) = error(status, "api_error", None, "Simulated failure.");
        return (status, Json(body)).into_response();
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body, replayed) = fake.books().answer(&method, key, call, &form, body);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    fake.deliver_later();
    let mut response = (status, Json(body)).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
