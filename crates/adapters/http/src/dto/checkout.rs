//! Bodies of the checkout routes: the checkout request and orders.

use commerce_core::{
    address::{ShippingAddress, ShippingAddressInput},
    order::{FailureReason, NextAction, Order, OrderLine, Shipment, ShipmentInput, ShipmentLineInput},
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
    /// Where the order ships: required while the shop has an active shipping method
    /// (`GET /store/v1/shipping-methods`); without one (digital goods) it may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub shipping_address: Option<ShippingAddressDto>,
    /// A shipping method serving the address's country: required with an address while the
    /// shop has an active shipping method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>, nullable = false)]
    pub shipping_method_id: Option<String>,
}

/// A shipping address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddressDto {
    /// The recipient, 1-100 characters.
    #[schema(schema_with = rules::recipient)]
    pub name: String,
    /// Street and number, 1-200 characters.
    #[schema(schema_with = rules::address_line)]
    pub line1: String,
    /// Apartment, floor, c/o (optional), up to 200 characters.
    #[serde(default)]
    #[schema(schema_with = rules::address_line_optional)]
    pub line2: Option<String>,
    /// City, 1-100 characters.
    #[schema(schema_with = rules::city)]
    pub city: String,
    /// State, province or county (optional).
    #[serde(default)]
    #[schema(schema_with = rules::region)]
    pub region: Option<String>,
    /// Postal code (optional where the country has none): letters, digits, spaces, '-'.
    #[serde(default)]
    #[schema(schema_with = rules::postal_code)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    #[schema(schema_with = rules::country)]
    pub country: String,
    /// The recipient's phone, for the carrier (optional).
    #[serde(default)]
    #[schema(schema_with = rules::phone)]
    pub phone: Option<String>,
}

impl From<ShippingAddressDto> for ShippingAddressInput {
    fn from(a: ShippingAddressDto) -> Self {
        Self {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

impl From<&ShippingAddress> for ShippingAddressDto {
    fn from(a: &ShippingAddress) -> Self {
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        Self {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: optional(&a.line2),
            city: a.city.clone(),
            region: optional(&a.region),
            postal_code: optional(&a.postal_code),
            country: a.country.to_string(),
            phone: optional(&a.phone),
        }
    }
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
            shipping_address: r.shipping_address.map(Into::into),
            shipping_method_id: r.shipping_method_id,
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
    /// `unit_price * quantity`, net.
    pub line_total: MoneyDto,
    /// The tax charged on this line (0 where none applies).
    pub tax: MoneyDto,
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
            tax: l.tax.unwrap_or_else(|| commerce_core::Money::zero(l.line_total.currency())).into(),
        }
    }
}

/// Body of `POST /admin/v1/orders/{id}/shipments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShipmentRequest {
    /// 1-100 lines (lines naming one product are merged); each at most what remains to ship.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<CheckoutItem>,
    /// The carrier, 1-100 characters.
    #[schema(schema_with = rules::carrier)]
    pub carrier: String,
    /// The carrier's tracking number, 1-100 visible ASCII characters.
    #[schema(schema_with = rules::tracking_number)]
    pub tracking_number: String,
    /// Where the customer follows the parcel (https), or null.
    #[serde(default)]
    #[schema(schema_with = rules::tracking_url)]
    pub tracking_url: Option<String>,
}

impl From<CreateShipmentRequest> for ShipmentInput {
    fn from(r: CreateShipmentRequest) -> Self {
        Self {
            lines: r
                .lines
                .into_iter()
                .map(|l| ShipmentLineInput { product_id: l.product_id, quantity: l.quantity })
                .collect(),
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            tracking_url: r.tracking_url,
        }
    }
}

/// Units of one product in a shipment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentLineDto {
    /// Product id.
    pub product_id: String,
    /// Units.
    pub quantity: u32,
}

/// A parcel sent to the customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentDto {
    /// Id.
    pub id: String,
    /// What it holds.
    pub lines: Vec<ShipmentLineDto>,
    /// The carrier.
    pub carrier: String,
    /// The tracking number.
    pub tracking_number: String,
    /// Where to follow it, or null.
    pub tracking_url: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&Shipment> for ShipmentDto {
    fn from(s: &Shipment) -> Self {
        Self {
            id: s.id.to_string(),
            lines: s
                .lines
                .iter()
                .map(|l| ShipmentLineDto { product_id: l.product_id.to_string(), quantity: l.quantity.get() })
                .collect(),
            carrier: s.carrier.clone(),
            tracking_number: s.tracking_number.clone(),
            tracking_url: s.tracking_url.clone(),
            created_at: s.created_at.to_string(),
        }
    }
}

/// The shipping method an order was placed with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderShippingMethodDto {
    /// Its id.
    pub id: String,
    /// Its name then.
    pub name: String,
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
    /// `pending`, `stock_reserved`, `awaiting_customer_action`, `payment_authorized`, `paid`,
    /// `partially_fulfilled`, `fulfilled`, `cancelled` or `payment_failed`.
    pub status: String,
    /// Customer e-mail.
    pub email: String,
    /// Lines.
    pub lines: Vec<OrderLineDto>,
    /// The amount charged: `subtotal + shipping_total + tax_total`.
    pub total: MoneyDto,
    /// The lines' net totals.
    pub subtotal: MoneyDto,
    /// Shipping, net.
    pub shipping_total: MoneyDto,
    /// Tax on the lines and on shipping.
    pub tax_total: MoneyDto,
    /// Where it ships; null for an order with nothing to ship.
    pub shipping_address: Option<ShippingAddressDto>,
    /// How it ships; null without a shipping method.
    pub shipping_method: Option<OrderShippingMethodDto>,
    /// Parcels sent so far, oldest first.
    pub shipments: Vec<ShipmentDto>,
    /// Refunds, oldest first.
    pub refunds: Vec<super::RefundDto>,
    /// What was refunded (pending and issued refunds).
    pub refunded_total: MoneyDto,
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
        let charges = o.breakdown();
        Self {
            id: o.id.to_string(),
            status: o.status.as_str().to_owned(),
            email: o.email.as_str().to_owned(),
            lines: o.lines.iter().map(Into::into).collect(),
            total: o.total.into(),
            subtotal: charges.subtotal.into(),
            shipping_total: charges.shipping_total.into(),
            tax_total: charges.tax_total.into(),
            shipping_address: o.shipping.as_ref().map(|s| (&s.address).into()),
            shipping_method: o
                .shipping
                .as_ref()
                .and_then(|s| s.method.as_ref())
                .map(|m| OrderShippingMethodDto { id: m.id.to_string(), name: m.name.clone() }),
            shipments: o.shipments.iter().map(ShipmentDto::from).collect(),
            refunds: o.refunds.iter().map(super::RefundDto::from).collect(),
            refunded_total: o.refunded_total().into(),
            payment: PaymentSummary {
                brand: o.payment_method.brand.as_str().to_owned(),
                last4: o.payment_method.last4.clone(),
            },
            next_action: o.next_action().map(NextActionDto::from),
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

impl From<NextAction<'_>> for NextActionDto {
    fn from(action: NextAction<'_>) -> Self {
        let (url, client_secret) = match action {
            NextAction::RedirectToUrl { url } => (Some(url.to_owned()), None),
            NextAction::UseStripeSdk { client_secret } => (None, Some(client_secret.to_owned())),
        };
        Self { kind: action.kind().to_owned(), url, client_secret }
    }
}

/// The JSON form of a failure reason (`{"code": ..., ...}`).
pub fn failure_json(f: FailureReason) -> serde_json::Value {
    serde_json::to_value(f).unwrap_or_default()
}
