//! `/admin/`: the operators' console. Sign in with the admin credential; the session is a
//! signed `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS) scoped to `/admin`,
//! and every form carries the session's CSRF token. Without a session every page and
//! action sends the browser to the sign-in page; nothing is shown or changed.

mod collections;
mod orders;
mod products;

use std::sync::Arc;

use askama::Template;
use axum::{
    Form, Router,
    extract::{FromRequestParts, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use commerce_core::{
    credential::{BearerToken, Session, SessionSigner},
    ports::{Clock, IdGenerator},
    services::{catalog::CatalogService, orders::OrderService, refunds::RefundService, restock::RestockService},
};
use serde::Deserialize;

use crate::{
    WebConfig,
    error::{WebError, render},
};

/// The session cookie.
const COOKIE: &str = "admin_session";

/// What the console needs: the operators' use cases and the admin credential.
#[derive(Clone)]
pub struct AdminPages {
    /// Products and collections.
    pub catalog: CatalogService,
    /// Stock levels.
    pub stock: RestockService,
    /// Orders, fulfilment and shipments.
    pub orders: OrderService,
    /// Cancellations and refunds.
    pub refunds: RefundService,
    token: BearerToken,
    sessions: SessionSigner,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<WebConfig>,
}

impl AdminPages {
    /// The console over these services; people sign in with `token`.
    #[allow(clippy::too_many_arguments, reason = "one argument per use case the console calls")]
    pub fn new(
        catalog: CatalogService,
        stock: RestockService,
        orders: OrderService,
        refunds: RefundService,
        token: BearerToken,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        config: WebConfig,
    ) -> Self {
        let sessions = token.sessions();
        Self { catalog, stock, orders, refunds, token, sessions, clock, ids, config: Arc::new(config) }
    }
}

/// `/admin/...`, with the pages' security headers.
pub fn admin_router(pages: AdminPages) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(|_: Operator| async { Redirect::to("/admin/products") }))
        .route("/admin/sign-in", get(sign_in_page).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin/products", get(products::list).post(products::create))
        .route("/admin/products/new", get(products::new_form))
        .route("/admin/products/{id}", get(products::edit_form).post(products::update))
        .route("/admin/products/{id}/archive", post(products::archive))
        .route("/admin/products/{id}/stock", post(products::set_stock))
        .route("/admin/collections", get(collections::list).post(collections::create))
        .route("/admin/collections/{id}", get(collections::edit_form).post(collections::update))
        .route("/admin/collections/{id}/delete", post(collections::delete))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/{id}", get(orders::show))
        .route("/admin/orders/{id}/fulfil", post(orders::fulfil))
        .route("/admin/orders/{id}/ship", post(orders::ship))
        .route("/admin/orders/{id}/refunds", post(orders::refund))
        .route("/admin/orders/{id}/cancel", post(orders::cancel))
        .with_state(pages)
        .layer(axum::middleware::map_response(crate::assets::security_headers))
}

/// A signed-in operator: the verified session and its CSRF token. A request without one
/// is answered by the sign-in page's address (303), before any handler runs.
pub(crate) struct Operator {
    session: Session,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl FromRequestParts<AdminPages> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, pages: &AdminPages) -> Result<Self, Self::Rejection> {
        match crate::cart::cookie(&parts.headers, COOKIE).and_then(|v| pages.sessions.verify(v, pages.clock.now())) {
            Some(session) => Ok(Self { csrf: pages.sessions.csrf_token(&session), session }),
            None => Err(Redirect::to("/admin/sign-in").into_response()),
        }
    }
}

impl Operator {
    /// `Err` (403 page) unless `token` is this session's CSRF token.
    pub(crate) fn check(&self, pages: &AdminPages, token: &str) -> Result<(), WebError> {
        if pages.sessions.accepts_csrf(&self.session, token) { Ok(()) } else { Err(WebError::Forbidden) }
    }
}

/// The console's frame: the shop's name and the sign-out form's token.
pub(crate) struct AdminLayout {
    pub shop: String,
    pub csrf: String,
}

impl AdminLayout {
    pub(crate) fn new(pages: &AdminPages, operator: &Operator) -> Self {
        Self { shop: pages.config.shop_name.clone(), csrf: operator.csrf.clone() }
    }
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    shop: String,
    failed: bool,
}

async fn sign_in_page(State(pages): State<AdminPages>) -> Result<Response, WebError> {
    Ok(render(&SignInPage { shop: pages.config.shop_name.clone(), failed: false })?.into_response())
}

#[derive(Deserialize)]
struct Credential {
    #[serde(default)]
    token: String,
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("admin_session=; Path=/admin; Max-Age=0"))
}

/// `POST /admin/sign-in`: the admin credential, compared in constant time; a session on
/// success, the form again (401) otherwise.
async fn sign_in(State(pages): State<AdminPages>, Form(credential): Form<Credential>) -> Result<Response, WebError> {
    if !pages.token.accepts(credential.token.trim()) {
        tracing::warn!("admin sign-in refused");
        let page = SignInPage { shop: pages.config.shop_name.clone(), failed: true };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)?).into_response());
    }
    let value = pages.sessions.issue(&pages.ids.new_secret(), pages.clock.now());
    let mut response = Redirect::to("/admin/products").into_response();
    let cookie = session_cookie(&value, SessionSigner::TTL_SECS, pages.config.secure_cookies);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A store failure: the page says "try again", the cause is logged.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> WebError {
    WebError::Unavailable(e.to_string())
}

/// An id from the path; one that cannot be an id names nothing.
pub(crate) fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

/// The version a form was read at (its hidden `version`), if it carries one.
pub(crate) fn form_version(raw: &str) -> Option<commerce_core::catalog::Version> {
    raw.trim().parse::<u64>().ok().map(commerce_core::catalog::Version::new)
}

/// The units a form gives per line (`<prefix><product id>` = units; blank or 0 leaves the
/// line out); a field that is not a whole number is an error on `lines`.
pub(crate) fn line_quantities(
    fields: &std::collections::HashMap<String, String>,
    prefix: &str,
    errors: &mut commerce_core::validation::ValidationErrors,
) -> Vec<commerce_core::order::ShipmentLineInput> {
    let mut lines = Vec::new();
    for (key, value) in fields {
        let Some(product) = key.strip_prefix(prefix) else { continue };
        match value.trim() {
            "" | "0" => {}
            text => match text.parse::<i64>() {
                Ok(quantity) => {
                    lines.push(commerce_core::order::ShipmentLineInput { product_id: product.to_owned(), quantity });
                }
                Err(_) => errors.add("lines", "quantities must be whole numbers"),
            },
        }
    }
    lines
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /admin/sign-out`: the session cookie removed.
async fn sign_out(
    State(pages): State<AdminPages>,
    operator: Operator,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0, pages.config.secure_cookies));
    Ok(response)
}
