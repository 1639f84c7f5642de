//! A Stripe-compatible fake (feature `fake`): the endpoints [`StripeGateway`](crate::StripeGateway)
//! calls, with Stripe's request and response shapes, error objects and idempotency
//! semantics, so the adapter is tested without the internet.
//!
//! - Authentication: `Authorization: Bearer <the key the fake was made with>`, else 401.
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
//! - Faults, for retry tests: [`FakeStripe::fail_next`] answers the next calls with a
//!   status without doing anything; [`FakeStripe::delay_next`] does the next call, then
//!   answers late (a timeout that took effect).

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
use commerce_core::payment::{CardBrand, CardNumber};
use serde_json::{Value, json};

use crate::wire::brand_name;

/// What a test card does when a payment is confirmed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Succeeds,
    Declines { code: &'static str, decline_code: &'static str },
    RequiresAction,
}

#[derive(Debug, Clone)]
struct Card {
    brand: CardBrand,
    last4: String,
    behaviour: Behaviour,
}

#[derive(Debug, Clone)]
struct Intent {
    id: String,
    status: &'static str,
    amount: i64,
    amount_capturable: i64,
    amount_received: i64,
    currency: String,
    charge: Option<String>,
    payment_method: String,
    last_payment_error: Option<Value>,
    metadata: Value,
}

#[derive(Debug, Clone, Copy, Default)]
struct Charge {
    captured: i64,
    refunded: i64,
}

#[derive(Debug, Clone)]
struct Replay {
    fingerprint: String,
    status: StatusCode,
    body: Value,
}

#[derive(Debug, Default)]
struct Books {
    methods: HashMap<String, Card>,
    intents: HashMap<String, Intent>,
    charges: HashMap<String, Charge>,
    refunds: u64,
    replays: u64,
    keys: HashMap<String, Replay>,
    next_id: u64,
    failures: Vec<StatusCode>,
    delays: Vec<Duration>,
}

/// The fake's state. Share it between the [`router`] and the test.
#[derive(Debug)]
pub struct FakeStripe {
    secret_key: String,
    books: Mutex<Books>,
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
        Arc::new(Self { secret_key: secret_key.to_owned(), books: Mutex::default() })
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
        let books = self.books();
        let with = |status: &str| books.intents.values().filter(|i| i.status == status).count();
        Counts {
            intents: books.intents.len(),
            captured: with("succeeded"),
            canceled: with("canceled"),
            refunds: books.refunds,
            replays: books.replays,
        }
    }

    /// The customer completed (or failed) the 3-D Secure challenge of intent `id`.
    pub fn complete_action(&self, id: &str, succeeded: bool) -> bool {
        let mut books = self.books();
        let Some(intent) = books.intents.get_mut(id).filter(|i| i.status == "requires_action") else {
            return false;
        };
        if succeeded {
            intent.status = "requires_capture";
            intent.amount_capturable = intent.amount;
        } else {
            intent.status = "requires_payment_method";
            intent.last_payment_error = Some(card_error("card_declined", "authentication_required"));
        }
        true
    }
}

/// The fake's routes: `POST /v1/payment_methods`, `GET /v1/payment_methods/{id}`,
/// `POST /v1/payment_intents`,
/// `GET /v1/payment_intents/{id}`, `POST /v1/payment_intents/{id}/capture`,
/// `POST /v1/payment_intents/{id}/cancel`, `POST /v1/refunds`.
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

async fn create_method(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    handle(&fake, &headers, Method::POST, Call::CreateMethod, &body).await
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

#[derive(Debug)]
enum Call {
    CreateMethod,
    GetMethod(String),
    CreateIntent,
    GetIntent(String),
    Capture(String),
    Cancel(String),
    Refund,
}

type Answer = (StatusCode, Value);

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
    let (status, body, replayed) = {
        let mut books = fake.books();
        let fingerprint = format!("{method} {call:?} {}", String::from_utf8_lossy(body));
        match key.as_ref().filter(|_| method == Method::POST).map(|k| (k, books.keys.get(k).cloned())) {
            Some((_, Some(replay))) if replay.fingerprint == fingerprint => {
                books.replays += 1;
                (replay.status, replay.body, true)
            }
            Some((_, Some(_))) => {
                let (status, body) = error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                );
                (status, body, false)
            }
            Some((key, None)) => {
                let (status, body) = books.apply(call, &form);
                books.keys.insert(key.clone(), Replay { fingerprint, status, body: body.clone() });
                (status, body, false)
            }
            None => {
                let (status, body) = books.apply(call, &form);
                (status, body, false)
            }
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = (status, Json(body)).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Answer {
    let mut object = json!({"type": kind, "message": message});
    if let Some(code) = code {
        object["code"] = json!(code);
    }
    (status, json!({ "error": object }))
}

fn card_error(code: &str, decline_code: &str) -> Value {
    json!({"type": "card_error", "code": code, "decline_code": decline_code, "message": "Your card was declined."})
}

fn missing(what: &str, id: &str) -> Answer {
    error(StatusCode::NOT_FOUND, "invalid_request_error", Some("resource_missing"), &format!("No such {what}: '{id}'"))
}

fn invalid(code: &str, message: &str) -> Answer {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", Some(code), message)
}

/// A test card's behaviour, by number.
fn behaviour_of(digits: &str) -> Behaviour {
    let declines = |code, decline_code| Behaviour::Declines { code, decline_code };
    match digits {
        "4000000000000002" => declines("card_declined", "generic_decline"),
        "4000000000009995" => declines("card_declined", "insufficient_funds"),
        "4000000000000069" => declines("expired_card", "expired_card"),
        "4000000000000127" => declines("incorrect_cvc", "incorrect_cvc"),
        "4000000000000119" => declines("processing_error", "processing_error"),
        "4100000000000019" => declines("card_declined", "fraudulent"),
        "4000002500003155" => Behaviour::RequiresAction,
        _ => Behaviour::Succeeds,
    }
}

/// Stripe's predefined test PaymentMethods.
fn test_method(id: &str) -> Option<Card> {
    let card = |brand, last4: &str, behaviour| Some(Card { brand, last4: last4.to_owned(), behaviour });
    let visa = |last4: &str, number: &str| card(CardBrand::Visa, last4, behaviour_of(number));
    match id {
        "pm_card_visa" => visa("4242", "4242424242424242"),
        "pm_card_mastercard" => card(CardBrand::Mastercard, "4444", Behaviour::Succeeds),
        "pm_card_amex" => card(CardBrand::Amex, "8431", Behaviour::Succeeds),
        "pm_card_chargeDeclined" => visa("0002", "4000000000000002"),
        "pm_card_chargeDeclinedInsufficientFunds" => visa("9995", "4000000000009995"),
        "pm_card_chargeDeclinedExpiredCard" => visa("0069", "4000000000000069"),
        "pm_card_chargeDeclinedIncorrectCvc" => visa("0127", "4000000000000127"),
        "pm_card_chargeDeclinedProcessingError" => visa("0119", "4000000000000119"),
        "pm_card_chargeDeclinedFraudulent" => visa("0019", "4100000000000019"),
        "pm_card_authenticationRequired" => visa("3155", "4000002500003155"),
        _ => None,
    }
}

impl Books {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:016}", self.next_id)
    }

    fn card(&self, id: &str) -> Option<Card> {
        self.methods.get(id).cloned().or_else(|| test_method(id))
    }

    fn apply(&mut self, call: Call, form: &HashMap<String, String>) -> Answer {
        match call {
            Call::CreateMethod => self.create_method(form),
            Call::GetMethod(id) => match self.card(&id) {
                Some(card) => (StatusCode::OK, method_json(&id, &card)),
                None => missing("payment_method", &id),
            },
            Call::CreateIntent => self.create_intent(form),
            Call::GetIntent(id) => match self.intents.get(&id) {
                Some(intent) => (StatusCode::OK, intent_json(intent)),
                None => missing("payment_intent", &id),
            },
            Call::Capture(id) => self.capture(&id, form),
            Call::Cancel(id) => self.cancel(&id),
            Call::Refund => self.refund(form),
        }
    }

    fn create_method(&mut self, form: &HashMap<String, String>) -> Answer {
        if form.get("type").map(String::as_str) != Some("card") {
            return invalid("parameter_invalid_empty", "Only type=card is supported by this fake.");
        }
        let number = form.get("card[number]").map(String::as_str).unwrap_or_default();
        let Ok(number) = CardNumber::parse(number) else {
            return (
                StatusCode::PAYMENT_REQUIRED,
                json!({"error": {"type": "card_error", "code": "incorrect_number",
                                 "message": "Your card number is incorrect."}}),
            );
        };
        let card = Card {
            brand: number.brand(),
            last4: number.last4().to_owned(),
            behaviour: behaviour_of(number.expose_digits()),
        };
        let id = self.id("pm");
        let body = method_json(&id, &card);
        self.methods.insert(id, card);
        (StatusCode::OK, body)
    }

    fn create_intent(&mut self, form: &HashMap<String, String>) -> Answer {
        let Some(amount) = form.get("amount").and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0) else {
            return invalid("parameter_invalid_integer", "amount must be a positive integer.");
        };
        let Some(currency) = form.get("currency").filter(|c| c.len() == 3) else {
            return invalid("parameter_missing", "Missing required param: currency.");
        };
        let method = form.get("payment_method").cloned().unwrap_or_default();
        let Some(card) = self.card(&method) else {
            return missing("payment_method", &method);
        };
        if form.get("capture_method").map(String::as_str) != Some("manual")
            || form.get("confirm").map(String::as_str) != Some("true")
        {
            return invalid("parameter_invalid_empty", "This fake confirms manual-capture intents only.");
        }
        let id = self.id("pi");
        let mut intent = Intent {
            id: id.clone(),
            status: "requires_capture",
            amount,
            amount_capturable: amount,
            amount_received: 0,
            currency: currency.clone(),
            charge: None,
            payment_method: method,
            last_payment_error: None,
            metadata: json!({"reference": form.get("metadata[reference]")}),
        };
        let answer = match card.behaviour {
            Behaviour::Succeeds => {
                intent.charge = Some(self.id("ch"));
                (StatusCode::OK, intent_json(&intent))
            }
            Behaviour::RequiresAction => {
                intent.status = "requires_action";
                intent.amount_capturable = 0;
                (StatusCode::OK, intent_json(&intent))
            }
            Behaviour::Declines { code, decline_code } => {
                intent.status = "requires_payment_method";
                intent.amount_capturable = 0;
                intent.last_payment_error = Some(card_error(code, decline_code));
                let mut error = card_error(code, decline_code);
                error["payment_intent"] = intent_json(&intent);
                (StatusCode::PAYMENT_REQUIRED, json!({ "error": error }))
            }
        };
        self.intents.insert(id, intent);
        answer
    }

    fn capture(&mut self, id: &str, form: &HashMap<String, String>) -> Answer {
        let Some(intent) = self.intents.get_mut(id) else {
            return missing("payment_intent", id);
        };
        if intent.status != "requires_capture" {
            return invalid(
                "payment_intent_unexpected_state",
                &format!("This PaymentIntent could not be captured because it has a status of {}.", intent.status),
            );
        }
        let amount =
            form.get("amount_to_capture").and_then(|a| a.parse::<i64>().ok()).unwrap_or(intent.amount_capturable);
        if amount <= 0 || amount > intent.amount_capturable {
            return invalid("amount_too_large", "The amount to capture is greater than the amount capturable.");
        }
        intent.status = "succeeded";
        intent.amount_received = amount;
        intent.amount_capturable = 0;
        let charge = intent.charge.clone().unwrap_or_default();
        let body = intent_json(intent);
        self.charges.insert(charge, Charge { captured: amount, refunded: 0 });
        (StatusCode::OK, body)
    }

    fn cancel(&mut self, id: &str) -> Answer {
        let Some(intent) = self.intents.get_mut(id) else {
            return missing("payment_intent", id);
        };
        if !["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"]
            .contains(&intent.status)
        {
            return invalid(
                "payment_intent_unexpected_state",
                &format!("This PaymentIntent could not be canceled because it has a status of {}.", intent.status),
            );
        }
        intent.status = "canceled";
        intent.amount_capturable = 0;
        (StatusCode::OK, intent_json(intent))
    }

    fn refund(&mut self, form: &HashMap<String, String>) -> Answer {
        let charge_id = form.get("charge").cloned().unwrap_or_default();
        let Some(charge) = self.charges.get_mut(&charge_id) else {
            return missing("charge", &charge_id);
        };
        let left = charge.captured - charge.refunded;
        if left == 0 {
            return invalid("charge_already_refunded", "Charge has already been refunded.");
        }
        let amount = form.get("amount").and_then(|a| a.parse::<i64>().ok()).unwrap_or(left);
        if amount <= 0 || amount > left {
            return invalid("amount_too_large", "Refund amount is greater than the charge's unrefunded amount.");
        }
        charge.refunded += amount;
        self.refunds += 1;
        let id = self.id("re");
        (
            StatusCode::OK,
            json!({"id": id, "object": "refund", "status": "succeeded", "amount": amount, "charge": charge_id}),
        )
    }
}

fn method_json(id: &str, card: &Card) -> Value {
    json!({"id": id, "object": "payment_method", "type": "card",
           "card": {"brand": brand_name(card.brand), "last4": card.last4}})
}

fn intent_json(intent: &Intent) -> Value {
    let next_action = (intent.status == "requires_action").then(|| {
        json!({"type": "redirect_to_url",
               "redirect_to_url": {"url": format!("https://hooks.stripe.com/3d_secure_2/hosted?payment_intent={}", intent.id)}})
    });
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "status": intent.status,
        "amount": intent.amount,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "currency": intent.currency,
        "capture_method": "manual",
        "latest_charge": intent.charge,
        "payment_method": intent.payment_method,
        "client_secret": format!("{}_secret_fake", intent.id),
        "next_action": next_action,
        "last_payment_error": intent.last_payment_error,
        "metadata": intent.metadata,
    })
}
