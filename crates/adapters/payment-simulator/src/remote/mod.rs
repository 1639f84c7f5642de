//! The simulated processor as a remote service, like a real card processor:
//! [`router`] serves a [`SimulatedCardProcessor`] over HTTP (binary
//! `payments-simulator`), and [`HttpCardProcessor`] is the `PaymentGateway`
//! client a service uses to reach it. The processor's state then outlives the
//! services that call it, which is what makes crash tests of checkout honest.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /v1/payment_methods` | `{"number","exp_month","exp_year","cvc"}` | `{"token","brand","last4"}` |
//! | `POST /v1/payment_methods` (form, from a browser) | Stripe's `type=card&card[number]=...&card[exp_month]=...&card[exp_year]=...&card[cvc]=...` | Stripe's shape: `{"id": "tok_...", "object": "payment_method", "card": {"brand","last4",...}}`; a `card_error` (402) for a card it refuses |
//! | `GET /v1/payment_methods/{token}` | | `{"token","brand","last4"}`, 400 for an unknown token |
//! | `POST /v1/authorizations` | `{"token","amount","reference"}` | `{"outcome": "authorized" \| "declined" \| "requires_action", ...}` |
//! | `GET /v1/authorizations/{id}` | | where it stands: `{"outcome": ...}` as above, 400 for an unknown id |
//! | `POST /v1/authorizations/{id}/challenge` | `{"authenticated": true \| false}` | 204: the customer's answer to a 3-D Secure challenge; 400 when none is pending |
//! | `POST /v1/authorizations/{id}/capture` | `{"amount"}` | `{"capture_id"}` |
//! | `POST /v1/authorizations/{id}/void` | | 204 |
//! | `POST /v1/captures/{id}/refunds` | `{"amount"}` | `{"refund_id"}` |
//! | `GET /v1/stats?reference=` | | counts of authorisations, captures, voids, refunds, open holds |
//!
//! [`allow_browsers`] adds CORS for a storefront's origins, so its page can tokenise the
//! card here directly. Money-moving calls take an `Idempotency-Key` header. Errors: 400 `{"error"}`
//! (invalid request), 402 `{"decline_code"}` (card refused), 5xx or no answer
//! (outcome unknown: retry with the same key).

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use commerce_core::{
    Money, Timestamp,
    payment::{
        AuthorizationId, AuthorizeRequest, CaptureId, CardDetails, CardInput, IdempotencyKey, PaymentError,
        PaymentToken, RefundId,
    },
    ports::PaymentGateway,
    validation::ValidationErrors,
};
use serde::{Deserialize, Serialize};

use crate::SimulatedCardProcessor;

mod browser;
mod client;

pub use client::HttpCardProcessor;

#[derive(Serialize, Deserialize)]
struct CardBody {
    number: String,
    exp_month: u8,
    exp_year: u16,
    cvc: String,
}

#[derive(Serialize, Deserialize)]
struct AuthorizeBody {
    token: PaymentToken,
    amount: Money,
    reference: String,
}

#[derive(Serialize, Deserialize)]
struct AmountBody {
    amount: Money,
}

#[derive(Serialize, Deserialize)]
struct CaptureReply {
    capture_id: CaptureId,
}

#[derive(Serialize, Deserialize)]
struct RefundReply {
    refund_id: RefundId,
}

#[derive(Serialize, Deserialize)]
struct ErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    decline_code: Option<commerce_core::payment::DeclineReason>,
}

/// Processor totals, as served by `GET /v1/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Authorisations created.
    pub authorizations: usize,
    /// Captures made.
    pub captures: usize,
    /// Authorisations voided.
    pub voids: usize,
    /// Refunds made.
    pub refunds: usize,
    /// Authorisations still holding funds.
    pub open_authorizations: usize,
}

#[derive(Deserialize)]
struct StatsQuery {
    reference: Option<String>,
}

fn key(headers: &HeaderMap) -> Result<IdempotencyKey, PaymentError> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(|k| IdempotencyKey(k.to_owned()))
        .ok_or_else(|| PaymentError::InvalidRequest("Idempotency-Key header is required".into()))
}

fn error_response(e: &PaymentError) -> Response {
    match e {
        PaymentError::InvalidRequest(m) => {
            (StatusCode::BAD_REQUEST, Json(ErrorReply { error: m.clone(), decline_code: None })).into_response()
        }
        PaymentError::CardRefused(reason) => {
            (StatusCode::PAYMENT_REQUIRED, Json(ErrorReply { error: e.to_string(), decline_code: Some(*reason) }))
                .into_response()
        }
        PaymentError::Unavailable(m) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(ErrorReply { error: m.clone(), decline_code: None })).into_response()
        }
    }
}

fn reply<T: Serialize>(result: Result<T, PaymentError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

/// The processor's HTTP API.
pub fn router(processor: Arc<SimulatedCardProcessor>) -> Router {
    Router::new()
        .route("/v1/payment_methods", post(tokenize))
        .route("/v1/payment_methods/{token}", get(describe))
        .route("/v1/authorizations", post(authorize))
        .route("/v1/authorizations/{id}", get(authorization))
        .route("/v1/authorizations/{id}/challenge", post(challenge))
        .route("/v1/authorizations/{id}/capture", post(capture))
        .route("/v1/authorizations/{id}/void", post(void))
        .route("/v1/captures/{id}/refunds", post(refund))
        .route("/v1/stats", get(stats))
        .with_state(processor)
}

/// The browser-facing part of the processor, for a shop to serve on its own origin
/// (under `/simulator`, say): `POST /v1/payment_methods`, where a checkout page's script
/// exchanges the card for a token (as with Stripe's publishable key), and the 3-D Secure
/// challenge page `GET|POST /3ds/{authorization}`, whose answer `notices` hears as a
/// webhook (when given).
/// Authorising, capturing and refunding stay out of the browser's reach.
pub fn browser_router(
    processor: Arc<SimulatedCardProcessor>,
    notices: Option<commerce_core::services::payment_notices::PaymentNoticeService>,
) -> Router {
    Router::new()
        .route("/v1/payment_methods", post(tokenize))
        .with_state(processor.clone())
        .merge(browser::challenge_router(processor, notices))
}

/// `POST /v1/payment_methods`: JSON card fields from a service, or Stripe's form
/// (`type=card&card[number]=...`) from a browser, answered in Stripe's shape.
async fn tokenize(State(p): State<Arc<SimulatedCardProcessor>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return tokenize_form(&p, &body).await;
    }
    let card: CardBody = match serde_json::from_slice(&body) {
        Ok(card) => card,
        // serde's message names the field and the expected type, never the value.
        Err(e) => return error_response(&PaymentError::InvalidRequest(format!("card fields: {e}"))),
    };
    let input = CardInput { number: card.number, exp_month: card.exp_month, exp_year: card.exp_year, cvc: card.cvc };
    match validate(&input) {
        Ok(details) => reply(p.tokenize(&details).await),
        Err(errors) => error_response(&PaymentError::InvalidRequest(errors.to_string())),
    }
}

fn validate(input: &CardInput) -> Result<CardDetails, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let now = Timestamp::from_datetime(time_now());
    input.validate("card", now, &mut errors).ok_or(errors)
}

/// The browser's form, as Stripe takes it: a `pm_...`-shaped object or a Stripe
/// `card_error`. The card fields are never echoed.
async fn tokenize_form(p: &SimulatedCardProcessor, body: &[u8]) -> Response {
    let form: std::collections::HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let card_error = |code: &str, message: &str| {
        let error = serde_json::json!({"error": {"type": "card_error", "code": code, "message": message}});
        (StatusCode::PAYMENT_REQUIRED, Json(error)).into_response()
    };
    if field("type") != "card" {
        let error = serde_json::json!({"error": {"type": "invalid_request_error", "code": "parameter_invalid_empty",
                                                 "message": "type must be card"}});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    let input = CardInput {
        number: field("card[number]"),
        exp_month: field("card[exp_month]").parse().unwrap_or(0),
        exp_year: field("card[exp_year]").parse().unwrap_or(0),
        cvc: field("card[cvc]"),
    };
    let details = match validate(&input) {
        Ok(details) => details,
        Err(errors) => return card_error("invalid_card", &errors.to_string()),
    };
    match p.tokenize(&details).await {
        Ok(method) => Json(serde_json::json!({
            "id": method.token.0, "object": "payment_method", "type": "card",
            "card": {"brand": method.brand, "last4": method.last4,
                     "exp_month": details.expiry.month(), "exp_year": details.expiry.year()}
        }))
        .into_response(),
        Err(PaymentError::CardRefused(reason)) => card_error("card_declined", &format!("{reason:?}")),
        Err(e) => error_response(&e),
    }
}

/// `router` answering browsers from `origins` (CORS): a storefront page tokenises the card
/// here directly, so card numbers never pass through the shop's servers.
pub fn allow_browsers(router: Router, origins: &[String]) -> Result<Router, axum::http::header::InvalidHeaderValue> {
    let origins = origins.iter().map(|o| o.parse()).collect::<Result<Vec<axum::http::HeaderValue>, _>>()?;
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([axum::http::Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Ok(router.layer(cors))
}

async fn describe(State(p): State<Arc<SimulatedCardProcessor>>, Path(token): Path<String>) -> Response {
    reply(p.describe(&PaymentToken(token)).await)
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn authorize(
    State(p): State<Arc<SimulatedCardProcessor>>,
    headers: HeaderMap,
    Json(body): Json<AuthorizeBody>,
) -> Response {
    let idempotency_key = match key(&headers) {
        Ok(k) => k,
        Err(e) => return error_response(&e),
    };
    let request =
        AuthorizeRequest { idempotency_key, token: body.token, amount: body.amount, reference: body.reference };
    reply(p.authorize(&request).await)
}

async fn authorization(State(p): State<Arc<SimulatedCardProcessor>>, Path(id): Path<String>) -> Response {
    reply(p.authorization(&AuthorizationId(id)).await)
}

#[derive(Serialize, Deserialize)]
struct ChallengeBody {
    authenticated: bool,
}

/// The customer's part of a 3-D Secure challenge (what the issuer's page would record).
async fn challenge(
    State(p): State<Arc<SimulatedCardProcessor>>,
    Path(id): Path<String>,
    Json(body): Json<ChallengeBody>,
) -> Response {
    if p.complete_action(&AuthorizationId(id), body.authenticated) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error_response(&PaymentError::InvalidRequest("no challenge is pending for this authorisation".into()))
    }
}

async fn capture(
    State(p): State<Arc<SimulatedCardProcessor>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AmountBody>,
) -> Response {
    match key(&headers) {
        Ok(k) => {
            reply(p.capture(&k, &AuthorizationId(id), body.amount).await.map(|capture_id| CaptureReply { capture_id }))
        }
        Err(e) => error_response(&e),
    }
}

async fn void(State(p): State<Arc<SimulatedCardProcessor>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    match key(&headers) {
        Ok(k) => match p.void(&k, &AuthorizationId(id)).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error_response(&e),
        },
        Err(e) => error_response(&e),
    }
}

async fn refund(
    State(p): State<Arc<SimulatedCardProcessor>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AmountBody>,
) -> Response {
    match key(&headers) {
        Ok(k) => reply(p.refund(&k, &CaptureId(id), body.amount).await.map(|refund_id| RefundReply { refund_id })),
        Err(e) => error_response(&e),
    }
}

async fn stats(State(p): State<Arc<SimulatedCardProcessor>>, Query(q): Query<StatsQuery>) -> Json<Stats> {
    let s = p.stats(q.reference.as_deref());
    Json(Stats {
        authorizations: s.authorizations,
        captures: s.captures,
        voids: s.voids,
        refunds: s.refunds,
        open_authorizations: s.open_authorizations,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use commerce_core::{
        payment::{AuthorizationOutcome, CardExpiry, CardNumber, Cvc, DeclineReason},
        testkit::conformance,
    };

    async fn serve() -> (String, Arc<SimulatedCardProcessor>) {
        let processor = Arc::new(SimulatedCardProcessor::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(processor.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, processor)
    }

    fn card(number: &str) -> CardDetails {
        let number = CardNumber::parse(number).unwrap();
        CardDetails {
            cvc: Cvc::parse("123", number.brand()).unwrap(),
            expiry: CardExpiry::parse(12, 2030, Timestamp::from_unix_micros(1_767_225_600_000_000)).unwrap(),
            number,
        }
    }

    #[tokio::test]
    async fn the_http_client_passes_the_gateway_conformance_suite() {
        let (base, processor) = serve().await;
        let client = HttpCardProcessor::new(base, Duration::from_secs(5)).unwrap();
        conformance::payment::run(&client, &card("4242424242424242"), "http").await;
        assert_eq!(client.stats(None).await.unwrap().captures, processor.stats(None).captures);
    }

    #[tokio::test]
    async fn declines_and_outages_keep_their_meaning_over_the_wire() {
        let (base, _) = serve().await;
        let client = HttpCardProcessor::new(base, Duration::from_secs(5)).unwrap();
        let token = client.tokenize(&card("4000000000009995")).await.unwrap().token;
        let request = AuthorizeRequest {
            idempotency_key: IdempotencyKey("k".into()),
            token,
            amount: Money::new(100, commerce_core::Currency::USD).unwrap(),
            reference: "r".into(),
        };
        assert_eq!(
            client.authorize(&request).await,
            Ok(AuthorizationOutcome::Declined { reason: DeclineReason::InsufficientFunds })
        );
        let forged = AuthorizeRequest {
            token: PaymentToken("tok_x".into()),
            idempotency_key: IdempotencyKey("k2".into()),
            ..request
        };
        assert!(matches!(client.authorize(&forged).await, Err(PaymentError::InvalidRequest(_))));
        let nobody = HttpCardProcessor::new("http://127.0.0.1:1", Duration::from_secs(1)).unwrap();
        assert!(matches!(nobody.tokenize(&card("4242424242424242")).await, Err(PaymentError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_browser_tokenises_stripes_form_from_an_allowed_origin() {
        let processor = Arc::new(SimulatedCardProcessor::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = allow_browsers(router(processor), &["https://shop.example".to_owned()]).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let browser = reqwest::Client::new();
        let form = |number: &str| {
            [
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let post = |origin: &'static str, number: &str| {
            browser.post(format!("{base}/v1/payment_methods")).header("Origin", origin).form(&form(number)).send()
        };

        let answer = post("https://shop.example", "4242 4242 4242 4242").await.unwrap();
        assert_eq!(answer.headers()["access-control-allow-origin"], "https://shop.example");
        let method: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(
            (method["object"].as_str(), method["card"]["last4"].as_str()),
            (Some("payment_method"), Some("4242"))
        );
        // The shop's service then pays with the token alone.
        let client = HttpCardProcessor::new(base.clone(), Duration::from_secs(5)).unwrap();
        let token = PaymentToken(method["id"].as_str().unwrap().to_owned());
        assert_eq!(client.describe(&token).await.unwrap().last4, "4242");

        let other = post("https://evil.example", "4242 4242 4242 4242").await.unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none(), "no CORS grant for other origins");
        let refused = post("https://shop.example", "4242 4242 4242 4241").await.unwrap();
        assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
        let text = refused.text().await.unwrap();
        assert!(text.contains("card_error") && !text.contains("4241"), "{text}");
    }
}
