//! The fake's books: PaymentMethods, PaymentIntents, charges and refunds, the idempotency
//! keys' first answers, and the state machine Stripe applies to them.

use std::{collections::HashMap, time::Duration};

use axum::http::{Method, StatusCode};
use commerce_core::payment::{
    CardBrand, CardNumber, DeclineReason,
    test_cards::{self, TestOutcome},
};
use serde_json::{Value, json};

use super::Counts;
use crate::wire::{brand_name, decline_codes};

/// One call of the API, with the id in its path.
#[derive(Debug)]
pub(super) enum Call {
    CreateMethod,
    GetMethod(String),
    CreateIntent,
    GetIntent(String),
    Capture(String),
    Cancel(String),
    Refund,
}

/// A status and a JSON body.
pub(super) type Answer = (StatusCode, Value);

#[derive(Debug, Clone)]
struct Card {
    brand: CardBrand,
    last4: String,
    outcome: TestOutcome,
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

#[derive(Debug, Clone, Default)]
struct Charge {
    intent: String,
    captured: i64,
    refunded: i64,
}

#[derive(Debug, Clone)]
struct Replay {
    fingerprint: String,
    status: StatusCode,
    body: Value,
}

/// Everything the fake has done, and the faults it still has to inject.
#[derive(Debug, Default)]
pub(super) struct Books {
    methods: HashMap<String, Card>,
    intents: HashMap<String, Intent>,
    charges: HashMap<String, Charge>,
    refunds: u64,
    replays: u64,
    keys: HashMap<String, Replay>,
    next_id: u64,
    pub(super) failures: Vec<StatusCode>,
    pub(super) delays: Vec<Duration>,
    /// Every event so far (Stripe Event objects), in order.
    pub(super) events: Vec<Value>,
    /// How many of `events` went to the webhook endpoint (or were skipped without one).
    pub(super) delivered: usize,
}

impl Books {
    /// What was done so far.
    pub(super) fn counts(&self) -> Counts {
        let with = |status: &str| self.intents.values().filter(|i| i.status == status).count();
        Counts {
            intents: self.intents.len(),
            captured: with("succeeded"),
            canceled: with("canceled"),
            refunds: self.refunds,
            replays: self.replays,
        }
    }

    /// The customer completed (or failed) the 3-D Secure challenge of intent `id`.
    pub(super) fn complete_action(&mut self, id: &str, succeeded: bool) -> bool {
        let Some(intent) = self.intents.get_mut(id).filter(|i| i.status == "requires_action") else {
            return false;
        };
        let kind = if succeeded {
            intent.status = "requires_capture";
            intent.amount_capturable = intent.amount;
            "payment_intent.amount_capturable_updated"
        } else {
            intent.status = "requires_payment_method";
            let mut error = card_error(DeclineReason::AuthenticationRequired);
            error["code"] = json!("payment_intent_authentication_failure");
            intent.last_payment_error = Some(error);
            "payment_intent.payment_failed"
        };
        if succeeded && intent.charge.is_none() {
            self.next_id += 1;
            intent.charge = Some(format!("ch_fake{:016}", self.next_id));
        }
        let object = intent_json(intent);
        self.record(kind, &object);
        true
    }

    /// Records an event about `object`.
    fn record(&mut self, kind: &str, object: &Value) {
        let id = self.id("evt");
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.events.push(json!({
            "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
            "api_version": crate::STRIPE_VERSION, "data": {"object": object},
        }));
    }

    /// Stripe's idempotency: a POST with a key seen before replays the first answer when
    /// its path and body are the same, and is a 400 `idempotency_error` otherwise. Answers
    /// the call, and whether it was a replay.
    pub(super) fn answer(
        &mut self,
        method: &Method,
        key: Option<String>,
        call: Call,
        form: &HashMap<String, String>,
        body: &[u8],
    ) -> (StatusCode, Value, bool) {
        let fingerprint = format!("{method} {call:?} {}", String::from_utf8_lossy(body));
        let Some(key) = key.filter(|_| method == Method::POST) else {
            let (status, body) = self.apply(call, form);
            return (status, body, false);
        };
        match self.keys.get(&key) {
            Some(replay) if replay.fingerprint == fingerprint => {
                let (status, body) = (replay.status, replay.body.clone());
                self.replays += 1;
                (status, body, true)
            }
            Some(_) => {
                let (status, body) = error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                );
                (status, body, false)
            }
            None => {
                let (status, body) = self.apply(call, form);
                self.keys.insert(key, Replay { fingerprint, status, body: body.clone() });
                (status, body, false)
            }
        }
    }
}

pub(super) fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Answer {
    let mut object = json!({"type": kind, "message": message});
    if let Some(code) = code {
        object["code"] = json!(code);
    }
    (status, json!({ "error": object }))
}

fn card_error(reason: DeclineReason) -> Value {
    let (code, decline_code) = decline_codes(reason);
    json!({"type": "card_error", "code": code, "decline_code": decline_code, "message": "Your card was declined."})
}

fn missing(what: &str, id: &str) -> Answer {
    error(StatusCode::NOT_FOUND, "invalid_request_error", Some("resource_missing"), &format!("No such {what}: '{id}'"))
}

fn invalid(code: &str, message: &str) -> Answer {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", Some(code), message)
}

/// Stripe's fraud test card and its PaymentMethod, beyond the table the simulators share.
const FRAUDULENT_CARD: &str = "4100000000000019";

/// What the test card `digits` does.
fn outcome_of(digits: &str) -> TestOutcome {
    if digits == FRAUDULENT_CARD {
        TestOutcome::Declined(DeclineReason::Fraudulent)
    } else {
        test_cards::outcome(digits)
    }
}

/// A card made from a test card number.
fn card_of(number: &CardNumber) -> Card {
    Card { brand: number.brand(), last4: number.last4().to_owned(), outcome: outcome_of(number.expose_digits()) }
}

/// Stripe's predefined test PaymentMethods.
fn test_method(id: &str) -> Option<Card> {
    let number =
        if id == "pm_card_chargeDeclinedFraudulent" { FRAUDULENT_CARD } else { test_cards::payment_method_card(id)? };
    CardNumber::parse(number).ok().as_ref().map(card_of)
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
        let card = card_of(&number);
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
        let answer = match card.outcome {
            TestOutcome::Authorized => {
                intent.charge = Some(self.id("ch"));
                (StatusCode::OK, intent_json(&intent))
            }
            TestOutcome::RequiresAction => {
                intent.status = "requires_action";
                intent.amount_capturable = 0;
                (StatusCode::OK, intent_json(&intent))
            }
            TestOutcome::Declined(reason) => {
                intent.status = "requires_payment_method";
                intent.amount_capturable = 0;
                intent.last_payment_error = Some(card_error(reason));
                let mut error = card_error(reason);
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
        self.charges.insert(charge, Charge { intent: id.to_owned(), captured: amount, refunded: 0 });
        self.record("payment_intent.succeeded", &body);
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
        let body = intent_json(intent);
        self.record("payment_intent.canceled", &body);
        (StatusCode::OK, body)
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
        let charge_object = json!({
            "id": charge_id, "object": "charge", "payment_intent": charge.intent, "captured": true,
            "amount_captured": charge.captured, "amount_refunded": charge.refunded,
            "refunded": charge.refunded == charge.captured,
            "metadata": self.intents.get(&charge.intent).map_or(Value::Null, |i| i.metadata.clone()),
        });
        self.refunds += 1;
        self.record("charge.refunded", &charge_object);
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
