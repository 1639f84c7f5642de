//! `/orders/{id}?token=...`: an order's status for its customer, reached through the link
//! with the order's access token (given at checkout). Without the right token the order
//! does not exist, as in the API.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Html,
};
use commerce_core::{
    OrderId,
    address::ShippingAddress,
    order::{Order, OrderStatus},
    services::checkout::CheckoutError,
};
use serde::Deserialize;

use crate::{
    CheckoutPages,
    cart::CartCookie,
    error::{WebError, render},
    layout::Layout,
};

#[derive(Deserialize)]
pub(crate) struct Access {
    #[serde(default)]
    token: String,
}

struct Line {
    name: String,
    quantity: u32,
    unit_price: String,
    line_total: String,
}

struct Parcel {
    carrier: String,
    tracking_number: String,
    tracking_url: Option<String>,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    layout: Layout,
    id: String,
    status: &'static str,
    explanation: &'static str,
    next_action_url: Option<String>,
    email: String,
    lines: Vec<Line>,
    subtotal: Option<String>,
    shipping: Option<String>,
    tax: Option<String>,
    total: String,
    refunded: Option<String>,
    ship_to: Vec<String>,
    parcels: Vec<Parcel>,
}

/// The status in a customer's words, and what it means for them.
fn status_words(status: OrderStatus) -> (&'static str, &'static str) {
    match status {
        OrderStatus::Pending | OrderStatus::StockReserved | OrderStatus::PaymentAuthorized => {
            ("Processing", "We are confirming your payment. This page shows the outcome when you reload it.")
        }
        OrderStatus::AwaitingCustomerAction => {
            ("Waiting for your bank", "Your bank asks you to confirm this payment before we can take it.")
        }
        OrderStatus::Paid => ("Confirmed", "Thank you! Your payment was taken and your order is being prepared."),
        OrderStatus::PartiallyFulfilled => ("Partly shipped", "Part of your order is on its way; the rest follows."),
        OrderStatus::Fulfilled => ("Shipped", "Your order is on its way."),
        OrderStatus::Cancelled => ("Cancelled", "This order was cancelled; anything you paid is being refunded."),
        OrderStatus::PaymentFailed => ("Not completed", "The payment did not go through, and nothing was charged."),
    }
}

/// An address as a label prints it.
fn address_lines(a: &ShippingAddress) -> Vec<String> {
    let town = [a.postal_code.as_str(), a.city.as_str()].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>();
    [a.name.clone(), a.line1.clone(), a.line2.clone(), town.join(" "), a.region.clone(), a.country.to_string()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect()
}

fn order_page(order: &Order, layout: Layout) -> OrderPage {
    let (status, explanation) = status_words(order.status);
    let refunded = order.refunded_total();
    OrderPage {
        layout,
        id: order.id.to_string(),
        status,
        explanation,
        next_action_url: order.next_action_url().map(str::to_owned),
        email: order.email.as_str().to_owned(),
        lines: order
            .lines
            .iter()
            .map(|l| Line {
                name: l.name.to_string(),
                quantity: l.quantity.get(),
                unit_price: l.unit_price.to_string(),
                line_total: l.line_total.to_string(),
            })
            .collect(),
        subtotal: order.charges.as_ref().map(|c| c.subtotal.to_string()),
        shipping: order.charges.as_ref().map(|c| c.shipping_total.to_string()),
        tax: order.charges.as_ref().map(|c| c.tax_total.to_string()),
        total: order.total.to_string(),
        refunded: (refunded.amount() > 0).then(|| refunded.to_string()),
        ship_to: order.shipping.as_ref().map(|s| address_lines(&s.address)).unwrap_or_default(),
        parcels: order
            .shipments
            .iter()
            .map(|s| Parcel {
                carrier: s.carrier.clone(),
                tracking_number: s.tracking_number.clone(),
                tracking_url: s.tracking_url.clone(),
            })
            .collect(),
    }
}

/// `GET /orders/{id}?token=...`.
pub(crate) async fn show(
    State(s): State<CheckoutPages>,
    CartCookie(cart): CartCookie,
    Path(id): Path<String>,
    Query(access): Query<Access>,
) -> Result<Html<String>, WebError> {
    let id: OrderId = id.parse().map_err(|_| WebError::NotFound)?;
    let order = match s.orders.order_for_customer(id, &access.token).await {
        Ok(order) => order,
        Err(CheckoutError::NotFound) => return Err(WebError::NotFound),
        Err(other) => return Err(WebError::Unavailable(other.to_string())),
    };
    let mut page = order_page(&order, Layout::new(&s.config, "", &cart));
    // A challenge page on the shop's origin (the simulator's) sends the customer back here.
    if let Some(url) = page.next_action_url.as_mut().filter(|u| u.starts_with('/')) {
        let back = format!("/orders/{id}?token={}", access.token);
        let query = serde_urlencoded::to_string([("return", back)]).unwrap_or_default();
        *url = format!("{url}?{query}");
    }
    render(&page)
}
