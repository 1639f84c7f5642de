//! Bodies of the checkout routes: the checkout request and orders.

use commerce_core::{
    order::{FailureReason, Order, OrderLine},
    payment::CardInput,
    services::checkout::{CheckoutInput, CheckoutItemInput},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MoneyDto, whole_number};
use crate::openapi::rules;

/// One item of a checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutItem {
    /// Product id.
    #[schema(schema_with = rules::product_id)]
    pub product_id: String,
    /// Units, 1-10,000.
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::quantity)]
    pub quantity: i64,
}

/// Card details. Never stored or logged: the processor tokenises them.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// Card number; spaces and dashes allowed.
    #[schema(schema_with = rules::card_number)]
    pub number: String,
    /// 1-12.
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::exp_month)]
    pub exp_month: u8,
    /// Two or four digits.
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = rules::exp_year)]
    pub exp_year: u16,
    /// 3 digits (4 for American Express).
    #[schema(schema_with = rules::cvc)]
    pub cvc: String,
}

impl std::fmt::Debug for CardRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRequest").finish_non_exhaustive()
    }
}

/// Body of `POST /store/v1/checkout`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Customer e-mail.
    #[schema(schema_with = rules::email)]
    pub email: String,
    /// Items: 1-100 lines; lines naming one product are merged.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<CheckoutItem>,
    /// Card details: accepted only while the shop's processor is a simulator (test mode).
    /// Send exactly one of `card` and `payment_method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub card: Option<CardRequest>,
    /// The processor's token for the customer's card (`pm_...`), obtained by the browser
    /// from the processor so card numbers never reach the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = rules::payment_method)]
    pub payment_method: Option<String>,
}

impl From<CheckoutRequest> for CheckoutInput {
    fn from(r: CheckoutRequest) -> Self {
        Self {
            email: r.email,
            items: r
                .items
                .into_iter()
                .map(|i| CheckoutItemInput { product_id: i.product_id, quantity: i.quantity })
                .collect(),
            card: r.card.map(|card| CardInput {
                number: card.number,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                cvc: card.cvc,
            }),
            payment_method: r.payment_method,
        }
    }
}

/// One order line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLineDto {
    /// Product id.
    pub product_id: String,
    /// SKU at purchase.
    pub sku: String,
    /// Name at purchase.
    pub name: String,
    /// Unit price at purchase.
    pub unit_price: MoneyDto,
    /// Units.
    pub quantity: u32,
    /// `unit_price * quantity`.
    pub line_total: MoneyDto,
}

impl From<&OrderLine> for OrderLineDto {
    fn from(l: &OrderLine) -> Self {
        Self {
            product_id: l.product_id.to_string(),
            sku: l.sku.to_string(),
            name: l.name.to_string(),
            unit_price: l.unit_price.into(),
            quantity: l.quantity.get(),
            line_total: l.line_total.into(),
        }
    }
}

/// How an order was paid: card brand and last four digits only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentSummary {
    /// `visa`, `mastercard`, `amex`, ...
    pub brand: String,
    /// Last four digits.
    pub last4: String,
}

/// An order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderDto {
    /// Id.
    pub id: String,
    /// `pending`, `stock_reserved`, `awaiting_customer_action`, `payment_authorized`, `paid`, `fulfilled`,
    /// `cancelled` or `payment_failed`.
    pub status: String,
    /// Customer e-mail.
    pub email: String,
    /// Lines.
    pub lines: Vec<OrderLineDto>,
    /// Total.
    pub total: MoneyDto,
    /// Card brand and last four.
    pub payment: PaymentSummary,
    /// While the status is `awaiting_customer_action`: how the customer completes the card's
    /// authentication (3-D Secure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextActionDto>,
    /// Why it failed, when it did: `{"code": "out_of_stock" | "payment_declined" | ...}`.
    #[schema(value_type = Option<Object>)]
    pub failure: Option<serde_json::Value>,
    /// Secret for `GET /store/v1/orders/{id}`; returned once, at checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl OrderDto {
    /// The order, with the access token when it is being handed out.
    pub fn new(o: &Order, access_token: Option<String>) -> Self {
        Self {
            id: o.id.to_string(),
            status: o.status.as_str().to_owned(),
            email: o.email.as_str().to_owned(),
            lines: o.lines.iter().map(Into::into).collect(),
            total: o.total.into(),
            payment: PaymentSummary {
                brand: serde_json::to_value(o.payment_method.brand)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                last4: o.payment_method.last4.clone(),
            },
            next_action: o.next_action_url().map(NextActionDto::new),
            failure: o.failure.map(failure_json),
            access_token,
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
        }
    }
}

/// How the customer completes a card's authentication challenge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NextActionDto {
    /// `redirect_to_url`: open `url` (the issuer's challenge page, which returns to the
    /// shop's return URL); `use_stripe_sdk`: hand `client_secret` to Stripe.js
    /// (`stripe.handleNextAction`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The challenge page (`redirect_to_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The PaymentIntent's client secret (`use_stripe_sdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl NextActionDto {
    /// The client's instructions for the processor's `next_action_url` (a page, or
    /// `stripe-js:<client secret>`).
    pub fn new(next_action_url: &str) -> Self {
        match next_action_url.strip_prefix("stripe-js:") {
            Some(secret) => Self { kind: "use_stripe_sdk".into(), url: None, client_secret: Some(secret.to_owned()) },
            None => Self { kind: "redirect_to_url".into(), url: Some(next_action_url.to_owned()), client_secret: None },
        }
    }
}

/// The JSON form of a failure reason (`{"code": ..., ...}`).
pub fn failure_json(f: FailureReason) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}
