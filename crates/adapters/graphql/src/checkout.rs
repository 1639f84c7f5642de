//! `mutation { checkout(...) }`: a checkout paid with a processor's token, answering the
//! outcomes of `POST /store/v1/checkout` (the core's [`CheckoutOutcome`]) as data.
//!
//! ```graphql
//! mutation {
//!   checkout(idempotencyKey: "7f7c...", input: {email: "ada@example.com",
//!            items: [{productId: "0193...", quantity: 2}], paymentMethod: "pm_card_visa"}) {
//!     outcome accessToken replayed nextAction { type url clientSecret } declineCode
//!     order { id status total { amount currency } }
//!   }
//! }
//! ```
//!
//! Outcomes that placed an order (paid, waiting for the customer's authentication, still
//! processing, payment failed, out of stock) are results; requests that placed none
//! (invalid input, a card refused outright, a key in use or reused, a dependency down) are
//! GraphQL errors with an `extensions.code`. Card details are not taken here: the
//! customer's browser tokenises the card with the processor.

use async_graphql::{Context, Enum, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use commerce_core::{
    idempotency::ClientKey,
    order::{CheckoutOutcome as DomainOutcome, NextAction as DomainNextAction, Order as DomainOrder},
    services::checkout::{
        CheckoutError, CheckoutInput as DomainInput, CheckoutItemInput as DomainItem, IdempotentCheckout,
    },
    validation::ValidationErrors,
};

use crate::{Money, validation_error_named};

/// The weight of one checkout: at most one per request (it charges a card).
pub const CHECKOUT_COST: usize = 1_500;

/// One line of a checkout.
#[derive(InputObject, Clone, Debug)]
pub struct CheckoutItemInput {
    /// The product.
    pub product_id: ID,
    /// Units (1 to 10,000).
    pub quantity: i32,
}

/// A checkout, paid with a token the customer's browser obtained from the card processor.
#[derive(InputObject, Clone, Debug)]
pub struct CheckoutInput {
    /// The customer's e-mail.
    pub email: String,
    /// 1 to 100 lines; lines naming one product are merged.
    pub items: Vec<CheckoutItemInput>,
    /// The processor's PaymentMethod token (`pm_...`).
    pub payment_method: String,
    /// Where the order ships: required while the shop has an active shipping method.
    pub shipping_address: Option<ShippingAddressInput>,
    /// A shipping method serving the address's country (`GET /store/v1/shipping-methods`).
    pub shipping_method_id: Option<ID>,
}

/// A shipping address.
#[derive(InputObject, Clone, Debug)]
pub struct ShippingAddressInput {
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, floor, c/o.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// State, province or county.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    /// The recipient's phone.
    pub phone: Option<String>,
}

/// How a checkout stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CheckoutOutcome {
    /// Paid.
    Paid,
    /// The card asks the customer to authenticate: follow `nextAction`.
    ActionRequired,
    /// Still running (a dependency was slow); follow the order with its access token.
    Processing,
    /// The payment failed; stock released, nothing charged.
    PaymentFailed,
    /// A line could not be reserved; nothing charged.
    OutOfStock,
    /// Cancelled otherwise; nothing charged.
    Cancelled,
}

/// How the customer completes a card's authentication challenge.
#[derive(SimpleObject, Clone, Debug)]
pub struct NextAction {
    /// `redirect_to_url` (open `url`) or `use_stripe_sdk` (hand `clientSecret` to Stripe.js).
    #[graphql(name = "type")]
    pub kind: String,
    /// The challenge page.
    pub url: Option<String>,
    /// The PaymentIntent's client secret.
    pub client_secret: Option<String>,
}

/// An order line.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderLine {
    /// The product.
    pub product_id: ID,
    /// Its SKU at purchase.
    pub sku: String,
    /// Its name at purchase.
    pub name: String,
    /// Unit price at purchase.
    pub unit_price: Money,
    /// Units.
    pub quantity: i32,
    /// `unitPrice * quantity`.
    pub line_total: Money,
}

/// An order as its customer sees it.
#[derive(SimpleObject, Clone, Debug)]
pub struct Order {
    /// Id.
    pub id: ID,
    /// `pending`, `stock_reserved`, `awaiting_customer_action`, `payment_authorized`,
    /// `paid`, `fulfilled`, `cancelled` or `payment_failed`.
    pub status: String,
    /// The customer's e-mail.
    pub email: String,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// The amount charged: `subtotal + shippingTotal + taxTotal`.
    pub total: Money,
    /// The lines' net totals.
    pub subtotal: Money,
    /// Shipping, net.
    pub shipping_total: Money,
    /// Tax on the lines and on shipping.
    pub tax_total: Money,
    /// Card brand (`visa`, ...).
    pub card_brand: String,
    /// The card's last four digits.
    pub card_last4: String,
    /// Why it failed (`out_of_stock`, `payment_declined`, ...), when it did.
    pub failure: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

fn money(m: commerce_core::Money) -> Money {
    Money { amount: m.amount(), currency: m.currency().to_string() }
}

impl From<DomainNextAction<'_>> for NextAction {
    fn from(action: DomainNextAction<'_>) -> Self {
        let (url, client_secret) = match action {
            DomainNextAction::RedirectToUrl { url } => (Some(url.to_owned()), None),
            DomainNextAction::UseStripeSdk { client_secret } => (None, Some(client_secret.to_owned())),
        };
        Self { kind: action.kind().to_owned(), url, client_secret }
    }
}

impl From<&DomainOrder> for Order {
    fn from(o: &DomainOrder) -> Self {
        let charges = o.breakdown();
        let code = |v: serde_json::Value| v.get("code").and_then(|c| c.as_str()).map(str::to_owned);
        Self {
            id: ID(o.id.to_string()),
            status: o.status.as_str().to_owned(),
            email: o.email.as_str().to_owned(),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLine {
                    product_id: ID(l.product_id.to_string()),
                    sku: l.sku.to_string(),
                    name: l.name.to_string(),
                    unit_price: money(l.unit_price),
                    quantity: i32::try_from(l.quantity.get()).unwrap_or(i32::MAX),
                    line_total: money(l.line_total),
                })
                .collect(),
            total: money(o.total),
            subtotal: money(charges.subtotal),
            shipping_total: money(charges.shipping_total),
            tax_total: money(charges.tax_total),
            card_brand: o.payment_method.brand.as_str().to_owned(),
            card_last4: o.payment_method.last4.clone(),
            failure: o.failure.and_then(|f| serde_json::to_value(f).ok()).and_then(code),
            created_at: o.created_at.to_string(),
        }
    }
}

/// A checkout's answer.
#[derive(SimpleObject, Clone, Debug)]
pub struct CheckoutResult {
    /// How it stands.
    pub outcome: CheckoutOutcome,
    /// The order.
    pub order: Order,
    /// The secret that reads the order back (`GET /store/v1/orders/{id}`).
    pub access_token: String,
    /// True when this answers an earlier request with the same key: nothing ran again.
    pub replayed: bool,
    /// With `ACTION_REQUIRED`: how the customer completes the challenge.
    pub next_action: Option<NextAction>,
    /// With `PAYMENT_FAILED` after a decline: the processor's reason (`card_declined`, ...).
    pub decline_code: Option<String>,
}

/// Every mutation.
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Places an order and pays for it with a processor's token. Retry with the same
    /// `idempotencyKey` (1 to 255 visible ASCII characters) to get the same answer, charged once.
    #[graphql(complexity = "CHECKOUT_COST", visible = "checkout_served")]
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        idempotency_key: String,
        input: CheckoutInput,
    ) -> async_graphql::Result<CheckoutResult> {
        let Ok(checkout) = ctx.data::<IdempotentCheckout>() else {
            return Err(async_graphql::Error::new("checkout is not served here: use the orders service")
                .extend_with(|_, ext| ext.set("code", "NOT_SERVED")));
        };
        let key = ClientKey::parse(&idempotency_key)
            .map_err(|e| validation_error_named(&ValidationErrors::single("idempotencyKey", e), checkout_field))?;
        let domain = DomainInput {
            email: input.email,
            items: input
                .items
                .into_iter()
                .map(|i| DomainItem { product_id: i.product_id.0, quantity: i64::from(i.quantity) })
                .collect(),
            card: None,
            payment_method: Some(input.payment_method),
            shipping_address: input.shipping_address.map(|a| commerce_core::address::ShippingAddressInput {
                name: a.name,
                line1: a.line1,
                line2: a.line2,
                city: a.city,
                region: a.region,
                postal_code: a.postal_code,
                country: a.country,
                phone: a.phone,
            }),
            shipping_method_id: input.shipping_method_id.map(|id| id.0),
        };
        let reply = checkout.place_order(&key, &domain).await;
        let placed = reply.result.map_err(checkout_error)?;
        let (outcome, next_action, decline_code) = match placed.order.checkout_outcome() {
            DomainOutcome::Paid => (CheckoutOutcome::Paid, None, None),
            DomainOutcome::ActionRequired(action) => (CheckoutOutcome::ActionRequired, Some(action.into()), None),
            DomainOutcome::Processing => (CheckoutOutcome::Processing, None, None),
            DomainOutcome::PaymentFailed { decline } => {
                (CheckoutOutcome::PaymentFailed, None, decline.map(|d| d.as_str().to_owned()))
            }
            DomainOutcome::OutOfStock { .. } => (CheckoutOutcome::OutOfStock, None, None),
            DomainOutcome::Cancelled => (CheckoutOutcome::Cancelled, None, None),
        };
        Ok(CheckoutResult {
            outcome,
            order: Order::from(&placed.order),
            access_token: placed.access_token,
            replayed: reply.replayed,
            next_action,
            decline_code,
        })
    }
}

/// Whether this schema was built with a checkout (`commerce`; `storefront-api` has none).
fn checkout_served(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<IdempotentCheckout>().is_some()
}

/// The core's field names, in this mutation's terms.
fn checkout_field(field: &str) -> String {
    let camel = field
        .replace("product_id", "productId")
        .replace("payment_method", "paymentMethod")
        .replace("shipping_address", "shippingAddress")
        .replace("shipping_method_id", "shippingMethodId")
        .replace("postal_code", "postalCode");
    if camel == "idempotencyKey" { camel } else { format!("input.{camel}") }
}

fn coded(message: &str, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(move |_, ext| ext.set("code", code))
}

fn checkout_error(e: CheckoutError) -> async_graphql::Error {
    match e {
        CheckoutError::Validation(v) => validation_error_named(&v, checkout_field),
        CheckoutError::CardRefused(reason) => {
            async_graphql::Error::new("the card was refused").extend_with(move |_, ext| {
                ext.set("code", "CARD_REFUSED");
                ext.set("declineCode", reason.as_str());
            })
        }
        CheckoutError::InProgress => {
            coded("a request with this idempotency key is still being processed", "IN_PROGRESS")
        }
        CheckoutError::KeyReused => {
            coded("this idempotency key was already used with a different checkout", "IDEMPOTENCY_KEY_REUSED")
        }
        // Order administration is not part of this API: these cannot come from a checkout.
        CheckoutError::NotFound
        | CheckoutError::InvalidState(_)
        | CheckoutError::Shipment(_)
        | CheckoutError::Refund(_)
        | CheckoutError::Cancel(_) => coded("order not found", "NOT_FOUND"),
        // The cause stays in the server's logs; the client retries with the same key.
        CheckoutError::Interrupted { cause, .. } => {
            tracing::warn!(%cause, "a GraphQL checkout was interrupted");
            coded("temporarily unavailable: retry with the same idempotency key", "UNAVAILABLE")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use std::sync::Arc;

    use commerce_core::{ports::MockProductReadModel, services::storefront::StorefrontService};

    #[tokio::test]
    async fn a_schema_without_checkout_hides_the_mutation_and_refuses_it() {
        let schema = crate::schema(StorefrontService::new(Arc::new(MockProductReadModel::new())));
        let fields = schema.execute("{ __schema { mutationType { fields { name } } } }").await;
        assert!(!fields.data.to_string().contains("checkout"), "{:?}", fields.data);
        let refused = schema
            .execute(
                r#"mutation { checkout(idempotencyKey: "k", input: {email: "a@b.c", items: [], paymentMethod: "pm_card_visa"}) { outcome } }"#,
            )
            .await;
        let code = refused.errors[0].extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("NOT_SERVED")), "{:?}", refused.errors);
    }
}
