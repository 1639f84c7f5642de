//! The console's orders: a list with a status filter, and an order's page with its lines,
//! payment and the actions the core offers for it (fulfil, cancel).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use commerce_core::{
    OrderId,
    catalog::MoneyInput,
    idempotency::ClientKey,
    money::Money,
    order::{Order, OrderStatus, RefundInput, ShipmentInput},
    ports::OrderQuery,
    services::checkout::CheckoutError,
};
use serde::Deserialize;

use super::{AdminLayout, CsrfOnly, Operator, OrderConsole, line_quantities, path_id, unavailable};
use crate::error::{WebError, render};

const PAGE: usize = 50;

struct Row {
    id: String,
    created: String,
    email: String,
    total: String,
    status: &'static str,
}

struct Choice {
    value: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct ListPage {
    layout: AdminLayout,
    statuses: Vec<Choice>,
    rows: Vec<Row>,
    next_href: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    after: Option<String>,
}

/// `GET /admin/orders?status=paid`: newest first.
pub(crate) async fn list(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let status = q.status.as_deref().and_then(|s| OrderStatus::parse(s).ok());
    let after = q.after.as_deref().and_then(|a| a.parse::<OrderId>().ok());
    let page = pages.orders.list_orders(&OrderQuery { status, limit: PAGE, after }).await.map_err(unavailable)?;
    let rows = page
        .items
        .iter()
        .map(|o| Row {
            id: o.id.to_string(),
            created: o.created_at.to_string(),
            email: o.email.as_str().to_owned(),
            total: o.total.to_string(),
            status: o.status.as_str(),
        })
        .collect();
    let filter = status.map(|s| format!("status={}&", s.as_str())).unwrap_or_default();
    let next_href = page.next_after.map(|a| format!("/admin/orders?{filter}after={a}"));
    let statuses =
        OrderStatus::ALL.iter().map(|s| Choice { value: s.as_str(), selected: Some(*s) == status }).collect();
    Ok(render(&ListPage { layout: AdminLayout::new(&pages, &operator), statuses, rows, next_href })?.into_response())
}

struct Line {
    product_id: String,
    name: String,
    sku: String,
    quantity: u32,
    line_total: String,
    /// Units neither shipped nor refunded.
    to_ship: u32,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    layout: AdminLayout,
    id: String,
    status: &'static str,
    email: String,
    created: String,
    total: String,
    refunded: String,
    payment: String,
    failure: Option<String>,
    lines: Vec<Line>,
    parcels: Vec<String>,
    can_fulfil: bool,
    can_cancel: bool,
    /// What can still be refunded, when anything.
    refundable: Option<String>,
    /// A fresh `Idempotency-Key` for the refund form: a resubmission refunds once.
    refund_key: String,
    message: Option<String>,
    errors: Vec<(String, String)>,
}

impl OrderPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

fn order_page(pages: &OrderConsole, operator: &Operator, order: &Order, message: Option<String>) -> OrderPage {
    OrderPage {
        layout: AdminLayout::new(pages, operator),
        id: order.id.to_string(),
        status: order.status.as_str(),
        email: order.email.as_str().to_owned(),
        created: order.created_at.to_string(),
        total: order.total.to_string(),
        refunded: order.refunded_total().to_string(),
        payment: format!("{:?} ending {}", order.payment_method.brand, order.payment_method.last4),
        failure: order.failure.map(|f| format!("{f:?}")),
        lines: order
            .lines
            .iter()
            .map(|l| Line {
                product_id: l.product_id.to_string(),
                name: l.name.to_string(),
                sku: l.sku.to_string(),
                quantity: l.quantity.get(),
                line_total: l.line_total.to_string(),
                to_ship: order.remaining_to_ship(l.product_id),
            })
            .collect(),
        parcels: order
            .shipments
            .iter()
            .map(|s| format!("{}: {} ({} lines)", s.carrier, s.tracking_number, s.lines.len()))
            .collect(),
        can_fulfil: matches!(order.status, OrderStatus::Paid | OrderStatus::PartiallyFulfilled),
        can_cancel: !matches!(
            order.status,
            OrderStatus::Cancelled
                | OrderStatus::PaymentFailed
                | OrderStatus::Fulfilled
                | OrderStatus::PartiallyFulfilled
        ),
        refundable: (order.is_captured() && order.refundable().amount() > 0).then(|| order.refundable().to_string()),
        refund_key: uuid::Uuid::new_v4().to_string(),
        message,
        errors: Vec::new(),
    }
}

/// `GET /admin/orders/{id}`.
pub(crate) async fn show(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let order = match pages.orders.order(path_id(&id)?).await {
        Ok(order) => order,
        Err(CheckoutError::NotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(unavailable(e)),
    };
    Ok(render(&order_page(&pages, &operator, &order, None))?.into_response())
}

/// The order again with why the action was refused (409), or the order page (303).
async fn after_action(
    pages: &OrderConsole,
    operator: &Operator,
    id: OrderId,
    result: Result<Order, CheckoutError>,
) -> Result<Response, WebError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/orders/{id}")).into_response()),
        Err(CheckoutError::NotFound) => Err(WebError::NotFound),
        Err(
            refused @ (CheckoutError::InvalidState(_)
            | CheckoutError::Cancel(_)
            | CheckoutError::Shipment(_)
            | CheckoutError::InProgress),
        ) => {
            let order = pages.orders.order(id).await.map_err(unavailable)?;
            let page = order_page(pages, operator, &order, Some(format!("Not done: {refused}.")));
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// `POST /admin/orders/{id}/fulfil`: ships everything not shipped yet.
pub(crate) async fn fulfil(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let result = pages.orders.fulfil(id).await;
    after_action(&pages, &operator, id, result).await
}

/// `POST /admin/orders/{id}/cancel`: refunds what was paid and returns the stock.
pub(crate) async fn cancel(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let result = pages.refunds.cancel(id).await;
    after_action(&pages, &operator, id, result).await
}

/// The shipment form: one `qty.<product id>` per line, the carrier and tracking.
#[derive(Deserialize)]
pub(crate) struct ShipForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    tracking_url: String,
    #[serde(flatten)]
    quantities: std::collections::HashMap<String, String>,
}

/// `POST /admin/orders/{id}/ship`: a parcel with the units given per line (0 or blank
/// leaves a line out), its carrier and tracking; the customer is told by e-mail.
pub(crate) async fn ship(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<ShipForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let mut errors = commerce_core::validation::ValidationErrors::new();
    let lines = line_quantities(&form.quantities, "qty.", &mut errors);
    let input = ShipmentInput {
        lines,
        carrier: form.carrier.clone(),
        tracking_number: form.tracking_number.clone(),
        tracking_url: (!form.tracking_url.trim().is_empty()).then(|| form.tracking_url.trim().to_owned()),
    };
    let result = if errors.is_empty() {
        pages.orders.ship(id, &input).await.map(|_| ())
    } else {
        Err(CheckoutError::Validation(errors))
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/admin/orders/{id}")).into_response()),
        Err(CheckoutError::Validation(errors)) => {
            let order = pages.orders.order(id).await.map_err(unavailable)?;
            let mut page =
                order_page(&pages, &operator, &order, Some("Not shipped: please fix the fields marked below.".into()));
            page.errors = errors
                .errors()
                .iter()
                .map(|e| {
                    // `lines[0].quantity` and the like name the parcel's lines as a whole.
                    let field = if e.field.starts_with("lines") { "lines".to_owned() } else { e.field.clone() };
                    (field, e.message.clone())
                })
                .collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(other) => after_action(&pages, &operator, id, Err(other)).await,
    }
}

/// The refund form: units per line (`refund.<product id>`) with `restock`, or an `amount`.
#[derive(Deserialize)]
pub(crate) struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    restock: Option<String>,
    #[serde(flatten)]
    quantities: std::collections::HashMap<String, String>,
}

/// `POST /admin/orders/{id}/refunds`: refunds units (back to stock if asked) or an amount,
/// once per form (its key); the customer gets the e-mail.
pub(crate) async fn refund(
    State(pages): State<OrderConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<RefundForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let order = pages.orders.order(id).await.map_err(unavailable)?;
    let mut errors = commerce_core::validation::ValidationErrors::new();
    let input = if form.amount.trim().is_empty() {
        let lines = line_quantities(&form.quantities, "refund.", &mut errors);
        RefundInput { lines: Some(lines), restock: Some(form.restock.is_some()), amount: None }
    } else {
        let amount = errors.check("amount", Money::parse_decimal(&form.amount, order.total.currency()));
        let amount = amount.map(|m| MoneyInput { amount: m.amount(), currency: m.currency().to_string() });
        RefundInput { lines: None, restock: None, amount: Some(amount.unwrap_or_default()) }
    };
    let refused = |status: StatusCode, message: String, errors: &commerce_core::validation::ValidationErrors| {
        let mut page = order_page(&pages, &operator, &order, Some(message));
        page.errors = errors
            .errors()
            .iter()
            .map(|e| (if e.field.starts_with("lines") { "lines".into() } else { e.field.clone() }, e.message.clone()))
            .collect();
        Ok::<_, WebError>((status, render(&page)?).into_response())
    };
    if !errors.is_empty() {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No refund: please fix the fields marked below.".into(),
            &errors,
        );
    }
    let Ok(key) = ClientKey::parse(form.key.trim()) else {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No refund: the form expired, please try again.".into(),
            &errors,
        );
    };
    match pages.refunds.refund(id, &key, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/orders/{id}")).into_response()),
        Err(CheckoutError::Validation(errors)) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, "No refund: please fix the fields marked below.".into(), &errors)
        }
        Err(CheckoutError::Refund(why)) => refused(StatusCode::CONFLICT, format!("No refund: {why}."), &errors),
        Err(other) => after_action(&pages, &operator, id, Err(other)).await,
    }
}
