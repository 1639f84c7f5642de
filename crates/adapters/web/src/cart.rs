//! `/cart`: the customer's cart, kept in a cookie (the shop stores nothing until
//! checkout), changed by plain forms and checked against the stock each time it is shown.

use askama::Template;
use axum::{
    Form,
    extract::{FromRequestParts, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use commerce_core::{
    ProductId,
    cart::{Cart, CartError, CartReview, LineProblem},
    services::storefront::StorefrontError,
};
use serde::Deserialize;

use crate::{
    WebState,
    error::{WebError, render},
    layout::Layout,
};

/// The cookie that holds the cart.
const COOKIE: &str = "cart";
/// How long a cart is remembered without a visit.
const MAX_AGE_SECS: u32 = 30 * 24 * 3600;

/// The cart of the request's `cart` cookie (empty without one).
pub(crate) struct CartCookie(pub Cart);

impl<S: Send + Sync> FromRequestParts<S> for CartCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(cookie(&parts.headers, COOKIE).map(Cart::decode).unwrap_or_default()))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// `Set-Cookie` for `cart`: readable only by the shop's pages (HttpOnly), sent on
/// same-site navigation only (SameSite=Lax), Secure when the shop is served over TLS.
pub(crate) fn set_cookie(cart: &Cart, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = if cart.is_empty() {
        format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
    } else {
        format!("{COOKIE}={}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}", cart.encode())
    };
    // Ids, digits, `*`, `.` and `-`: always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("cart=; Path=/; Max-Age=0"))
}

struct Line {
    product_id: String,
    href: Option<String>,
    name: String,
    unit_price: String,
    quantity: u32,
    max: u64,
    line_total: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<Line>,
    subtotal: String,
    ready: bool,
    message: Option<String>,
}

fn problem_words(problem: LineProblem) -> String {
    match problem {
        LineProblem::Unavailable => "No longer for sale: please remove it.".into(),
        LineProblem::SoldOut => "Sold out: please remove it.".into(),
        LineProblem::NotEnoughStock { available } => format!("Only {available} left: please lower the quantity."),
    }
}

fn page(state: &WebState, cart: &Cart, review: &CartReview, message: Option<String>) -> CartPage {
    let lines = review
        .lines
        .iter()
        .map(|l| Line {
            product_id: l.line.product_id.to_string(),
            href: l.product.as_ref().map(|p| format!("/products/{}", p.id)),
            name: l.product.as_ref().map_or_else(|| "A product no longer for sale".into(), |p| p.name.to_string()),
            unit_price: l.product.as_ref().map(|p| p.price.to_string()).unwrap_or_default(),
            quantity: l.line.quantity.get(),
            max: l.product.as_ref().map_or(0, |p| p.available_stock.max(u64::from(l.line.quantity.get()))),
            line_total: l.line_total.map(|m| m.to_string()).unwrap_or_default(),
            problem: l.problem.map(problem_words),
        })
        .collect();
    CartPage {
        layout: Layout::new(&state.config, "", cart),
        lines,
        subtotal: review.subtotal.map(|m| m.to_string()).unwrap_or_default(),
        ready: review.ready(),
        message,
    }
}

/// `GET /cart`.
pub(crate) async fn show(State(s): State<WebState>, CartCookie(cart): CartCookie) -> Result<Response, WebError> {
    let review = s.storefront.review_cart(&cart).await?;
    Ok(render(&page(&s, &cart, &review, None))?.into_response())
}

/// A change to the cart, as its forms post it.
#[derive(Debug, Deserialize)]
pub(crate) struct Change {
    /// The product.
    product_id: String,
    /// Units: added (`add`) or the line's new count (`set`).
    #[serde(default)]
    quantity: String,
    /// `add` (default), `set` or `remove`.
    #[serde(default)]
    action: String,
}

/// `POST /cart`: applies the change and goes back to the cart (303); a refused change
/// shows the cart unchanged with the reason (409 for stock, 422 for the form).
pub(crate) async fn change(
    State(s): State<WebState>,
    CartCookie(mut cart): CartCookie,
    Form(change): Form<Change>,
) -> Result<Response, WebError> {
    let refused = |status: StatusCode, message: String, cart: Cart| {
        let s = s.clone();
        async move {
            let review = s.storefront.review_cart(&cart).await?;
            Ok::<_, WebError>((status, render(&page(&s, &cart, &review, Some(message)))?).into_response())
        }
    };
    let Ok(product) = change.product_id.parse::<ProductId>() else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "That product does not exist.".into(), cart).await;
    };
    if change.action == "remove" {
        cart.remove(product);
        return Ok(saved(&cart, s.config.secure_cookies));
    }
    let text = change.quantity.trim();
    let parsed = if text.is_empty() && change.action != "set" { Ok(1) } else { text.parse::<u32>() };
    let Ok(quantity) = parsed else {
        let message = "Quantity: please enter a whole number.".to_owned();
        return refused(StatusCode::UNPROCESSABLE_ENTITY, message, cart).await;
    };
    let view = match s.storefront.product(product).await {
        Ok(view) => view,
        Err(StorefrontError::NotFound) if change.action == "set" && quantity == 0 => {
            cart.remove(product);
            return Ok(saved(&cart, s.config.secure_cookies));
        }
        Err(StorefrontError::NotFound) => {
            let message = "That product is no longer for sale.".to_owned();
            return refused(StatusCode::NOT_FOUND, message, cart).await;
        }
        Err(other) => return Err(other.into()),
    };
    let applied = if change.action == "set" { cart.set(&view, quantity) } else { cart.add(&view, quantity) };
    match applied {
        Ok(()) => Ok(saved(&cart, s.config.secure_cookies)),
        Err(e) => {
            let status = match e {
                CartError::SoldOut | CartError::NotEnoughStock { .. } => StatusCode::CONFLICT,
                CartError::Full | CartError::Quantity => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let message = format!("{}: {}.", view.name, refusal_words(&e));
            refused(status, message, cart).await
        }
    }
}

fn refusal_words(e: &CartError) -> String {
    match e {
        CartError::SoldOut => "sold out, it cannot be added".into(),
        CartError::NotEnoughStock { available } => format!("only {available} in stock"),
        other => other.to_string(),
    }
}

/// Back to the cart, with the cart saved.
fn saved(cart: &Cart, secure: bool) -> Response {
    let mut response = Redirect::to("/cart").into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(cart, secure));
    response
}
