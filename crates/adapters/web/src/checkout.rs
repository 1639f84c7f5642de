//! `/checkout`: the customer's details, the shipping method and the card, then the order.
//!
//! The card never reaches the shop: the page's script sends it to the card processor's
//! tokenisation endpoint and posts only the token it gets back (`payment_method`). Every
//! rule (prices, stock, shipping, tax, the card's answer) is the core's
//! [`IdempotentCheckout`]; the page only keeps its `Idempotency-Key` in the form, so a
//! double click or a reload of the answer places one order.

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use commerce_core::{
    address::ShippingAddressInput,
    idempotency::ClientKey,
    order::CheckoutOutcome,
    payment::DeclineReason,
    services::checkout::{CheckoutError, CheckoutInput},
    validation::ValidationErrors,
};
use serde::Deserialize;

use crate::{
    CheckoutPages,
    cart::{CartCookie, set_cookie},
    error::{WebError, render},
    layout::Layout,
};

/// The checkout form as it posts (the card's fields have no name: they are never posted).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CheckoutForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    shipping_method_id: String,
    #[serde(default)]
    payment_method: String,
}

struct Method {
    id: String,
    label: String,
    checked: bool,
}

struct Line {
    name: String,
    quantity: u32,
    line_total: String,
}

/// One text field of the address, with the last attempt's complaint about it.
struct Field {
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    value: String,
    error: Option<String>,
}

/// The address fields, in the order people fill them.
const ADDRESS: [(&str, &str, &str); 8] = [
    ("name", "Full name", "name"),
    ("line1", "Address", "address-line1"),
    ("line2", "Apartment, floor (optional)", "address-line2"),
    ("city", "City", "address-level2"),
    ("region", "State or region (optional)", "address-level1"),
    ("postal_code", "Postal code", "postal-code"),
    ("country", "Country code (US, DE, ...)", "country"),
    ("phone", "Phone (optional)", "tel"),
];

impl CheckoutForm {
    fn value(&self, field: &str) -> &str {
        match field {
            "name" => &self.name,
            "line1" => &self.line1,
            "line2" => &self.line2,
            "city" => &self.city,
            "region" => &self.region,
            "postal_code" => &self.postal_code,
            "country" => &self.country,
            "phone" => &self.phone,
            _ => "",
        }
    }
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    layout: Layout,
    form: CheckoutForm,
    lines: Vec<Line>,
    subtotal: String,
    methods: Vec<Method>,
    address: Vec<Field>,
    tokenize_url: String,
    tokenize_key: Option<String>,
    message: Option<String>,
    errors: Vec<(String, String)>,
}

impl CheckoutPage {
    /// The message for `field`, if the last attempt got it wrong.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

/// A fresh `Idempotency-Key` for one attempt.
fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The form's name for a field the core named.
fn form_field(core: &str) -> String {
    let field = core.strip_prefix("shipping_address.").unwrap_or(core);
    if field.starts_with("card") { "payment_method".into() } else { field.to_owned() }
}

async fn page(
    s: &CheckoutPages,
    cart: &commerce_core::cart::Cart,
    form: CheckoutForm,
    message: Option<String>,
    errors: &ValidationErrors,
) -> Result<Option<CheckoutPage>, WebError> {
    let review = s.storefront.review_cart(cart).await?;
    if !review.ready() {
        return Ok(None);
    }
    let methods = s.pricing.shipping_methods().await.map_err(|e| WebError::Unavailable(e.to_string()))?;
    let methods = methods
        .iter()
        .filter(|m| m.active)
        .map(|m| {
            let countries: Vec<String> = m.countries.iter().map(ToString::to_string).collect();
            let free = m.free_above.map(|f| format!(", free above {f}")).unwrap_or_default();
            Method {
                id: m.id.to_string(),
                label: format!("{}: {}{free} (to {})", m.name.as_str(), m.price, countries.join(", ")),
                checked: form.shipping_method_id == m.id.to_string(),
            }
        })
        .collect();
    Ok(Some(CheckoutPage {
        layout: Layout::new(&s.config, "", cart),
        lines: review
            .lines
            .iter()
            .map(|l| Line {
                name: l.product.as_ref().map(|p| p.name.to_string()).unwrap_or_default(),
                quantity: l.line.quantity.get(),
                line_total: l.line_total.map(|m| m.to_string()).unwrap_or_default(),
            })
            .collect(),
        subtotal: review.subtotal.map(|m| m.to_string()).unwrap_or_default(),
        methods,
        address: ADDRESS
            .iter()
            .map(|(name, label, autocomplete)| Field {
                name,
                label,
                autocomplete,
                value: form.value(name).to_owned(),
                error: errors.errors().iter().find(|e| form_field(&e.field) == *name).map(|e| e.message.clone()),
            })
            .collect(),
        tokenize_url: s.config.tokenize_url.clone(),
        tokenize_key: s.config.tokenize_key.clone(),
        message,
        errors: errors.errors().iter().map(|e| (form_field(&e.field), e.message.clone())).collect(),
        form,
    }))
}

/// `GET /checkout`: the form, for a cart that can be bought (otherwise back to the cart).
pub(crate) async fn show(State(s): State<CheckoutPages>, CartCookie(cart): CartCookie) -> Result<Response, WebError> {
    let form = CheckoutForm { key: new_key(), ..CheckoutForm::default() };
    match page(&s, &cart, form, None, &ValidationErrors::new()).await? {
        Some(page) => Ok(render(&page)?.into_response()),
        None => Ok(Redirect::to("/cart").into_response()),
    }
}

/// What the customer reads for a declined card.
fn decline_words(decline: Option<DeclineReason>) -> &'static str {
    match decline {
        Some(DeclineReason::InsufficientFunds) => "Your card was declined: insufficient funds.",
        Some(DeclineReason::ExpiredCard) => "Your card was declined: it has expired.",
        Some(DeclineReason::IncorrectCvc) => "Your card was declined: the security code is incorrect.",
        Some(DeclineReason::AuthenticationRequired) => "Your bank did not confirm the payment.",
        Some(DeclineReason::ProcessingError) => "The card could not be charged because of a processing error.",
        _ => "Your card was declined.",
    }
}

/// `POST /checkout`: places the order once per form (its key). Paid, or waiting for the
/// bank: the order's page (303), the cart emptied. Refused: the form again with the
/// reason, the cart kept and nothing charged.
pub(crate) async fn place(
    State(s): State<CheckoutPages>,
    CartCookie(cart): CartCookie,
    Form(mut form): Form<CheckoutForm>,
) -> Result<Response, WebError> {
    let review = s.storefront.review_cart(&cart).await?;
    if !review.ready() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let Ok(key) = ClientKey::parse(form.key.trim()) else {
        form.key = new_key();
        return again(&s, &cart, form, StatusCode::UNPROCESSABLE_ENTITY, "Please place the order again.", None).await;
    };
    let blank = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let shipping_address =
        (!form.name.trim().is_empty() || !form.line1.trim().is_empty()).then(|| ShippingAddressInput {
            name: form.name.clone(),
            line1: form.line1.clone(),
            line2: blank(&form.line2),
            city: form.city.clone(),
            region: blank(&form.region),
            postal_code: blank(&form.postal_code),
            country: form.country.trim().to_uppercase(),
            phone: blank(&form.phone),
        });
    let input = CheckoutInput {
        email: form.email.clone(),
        items: review.items(),
        card: None,
        payment_method: blank(&form.payment_method),
        shipping_address,
        shipping_method_id: blank(&form.shipping_method_id),
    };
    let mut reply = s.checkout.place_order(&key, &input).await;
    // A double click: the first request is still running; wait for its answer.
    for _ in 0..40 {
        if !matches!(reply.result, Err(CheckoutError::InProgress)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        reply = s.checkout.place_order(&key, &input).await;
    }
    // The token was for this attempt; a new attempt needs a new card entry and key.
    form.payment_method.clear();
    let placed = match reply.result {
        Ok(placed) => placed,
        Err(CheckoutError::Validation(errors)) => {
            form.key = new_key();
            let message = "Please check the fields marked below.";
            return again(&s, &cart, form, StatusCode::UNPROCESSABLE_ENTITY, message, Some(&errors)).await;
        }
        Err(CheckoutError::CardRefused(decline)) => {
            form.key = new_key();
            return again(&s, &cart, form, StatusCode::PAYMENT_REQUIRED, decline_words(Some(decline)), None).await;
        }
        Err(CheckoutError::KeyReused) => {
            form.key = new_key();
            let message = "Your details changed since the last attempt: please place the order again.";
            return again(&s, &cart, form, StatusCode::UNPROCESSABLE_ENTITY, message, None).await;
        }
        Err(other) => {
            // Interrupted, or still running after the wait: the same key is safe to retry.
            tracing::warn!(error = %other, "checkout did not finish");
            let message = "We could not finish your order just now. Nothing was charged twice: please try again.";
            return again(&s, &cart, form, StatusCode::SERVICE_UNAVAILABLE, message, None).await;
        }
    };
    let order = &placed.order;
    let refused = match order.checkout_outcome() {
        CheckoutOutcome::Paid | CheckoutOutcome::ActionRequired(_) | CheckoutOutcome::Processing => None,
        CheckoutOutcome::PaymentFailed { decline } => Some((StatusCode::PAYMENT_REQUIRED, decline_words(decline))),
        CheckoutOutcome::OutOfStock { .. } | CheckoutOutcome::Cancelled => Some((
            StatusCode::CONFLICT,
            "Some of your cart sold out while you were paying. Nothing was charged: please check your cart.",
        )),
    };
    if let Some((status, message)) = refused {
        form.key = new_key();
        return again(&s, &cart, form, status, message, None).await;
    }
    let mut response = Redirect::to(&format!("/orders/{}?token={}", order.id, placed.access_token)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&commerce_core::cart::Cart::default(), s.config.secure_cookies));
    Ok(response)
}

/// The form again, with `message` (and the fields `errors` names).
async fn again(
    s: &CheckoutPages,
    cart: &commerce_core::cart::Cart,
    form: CheckoutForm,
    status: StatusCode,
    message: &str,
    errors: Option<&ValidationErrors>,
) -> Result<Response, WebError> {
    let none = ValidationErrors::new();
    match page(s, cart, form, Some(message.to_owned()), errors.unwrap_or(&none)).await? {
        Some(page) => Ok((status, render(&page)?).into_response()),
        None => Ok(Redirect::to("/cart").into_response()),
    }
}
