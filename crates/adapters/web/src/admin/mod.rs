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

/// The console's sign-in: the admin credential, the session signer derived from it, and
/// how pages present the shop. Every process serving part of the console is given the same
/// credential, so a session signed by one is accepted by all behind one origin.
#[derive(Clone)]
pub struct AdminSessions {
    token: BearerToken,
    sessions: SessionSigner,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<WebConfig>,
}

impl AdminSessions {
    /// People sign in with `token`.
    pub fn new(token: BearerToken, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>, config: WebConfig) -> Self {
        let sessions = token.sessions();
        Self { token, sessions, clock, ids, config: Arc::new(config) }
    }
}

/// The whole console in one process (`commerce`): the operators' use cases and the
/// admin credential.
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
    /// Sign-in and sessions.
    pub sessions: AdminSessions,
}

/// The catalog's half of the console: sign-in, products and collections.
#[derive(Clone)]
pub(crate) struct CatalogConsole {
    pub console: AdminSessions,
    pub catalog: CatalogService,
    pub stock: RestockService,
}

/// The orders' half of the console: orders, shipments, cancellations and refunds.
#[derive(Clone)]
pub(crate) struct OrderConsole {
    pub console: AdminSessions,
    pub orders: OrderService,
    pub refunds: RefundService,
}

impl AsRef<AdminSessions> for CatalogConsole {
    fn as_ref(&self) -> &AdminSessions {
        &self.console
    }
}

impl AsRef<AdminSessions> for OrderConsole {
    fn as_ref(&self) -> &AdminSessions {
        &self.console
    }
}

/// The whole console, `/admin/...`, with the pages' security headers.
pub fn admin_router(pages: AdminPages) -> Router {
    let AdminPages { catalog, stock, orders, refunds, sessions } = pages;
    admin_catalog_router(sessions.clone(), catalog, stock).merge(admin_orders_router(sessions, orders, refunds))
}

/// The catalog's half of the console: `/admin`, `/admin/`, sign-in and sign-out,
/// `/admin/products...` and `/admin/collections...`. Served by `catalog-api` in the
/// distributed deployment.
pub fn admin_catalog_router(sessions: AdminSessions, catalog: CatalogService, stock: RestockService) -> Router {
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
        .with_state(CatalogConsole { console: sessions, catalog, stock })
        .layer(axum::middleware::map_response(crate::assets::security_headers))
}

/// The orders' half of the console: `/admin/orders...`. Served by `orders-service` in the
/// distributed deployment (it holds the card processor refunds need); a request without a
/// session is sent to `/admin/sign-in`, which the catalog's half serves.
pub fn admin_orders_router(sessions: AdminSessions, orders: OrderService, refunds: RefundService) -> Router {
    Router::new()
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/{id}", get(orders::show))
        .route("/admin/orders/{id}/fulfil", post(orders::fulfil))
        .route("/admin/orders/{id}/ship", post(orders::ship))
        .route("/admin/orders/{id}/refunds", post(orders::refund))
        .route("/admin/orders/{id}/cancel", post(orders::cancel))
        .with_state(OrderConsole { console: sessions, orders, refunds })
        .layer(axum::middleware::map_response(crate::assets::security_headers))
}

/// A signed-in operator: the verified session and its CSRF token. A request without one
/// is answered by the sign-in page's address (303), before any handler runs.
pub(crate) struct Operator {
    session: Session,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl<S: AsRef<AdminSessions> + Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let pages = state.as_ref();
        match crate::cart::cookie(&parts.headers, COOKIE).and_then(|v| pages.sessions.verify(v, pages.clock.now())) {
            Some(session) => Ok(Self { csrf: pages.sessions.csrf_token(&session), session }),
            None => Err(Redirect::to("/admin/sign-in").into_response()),
        }
    }
}

impl Operator {
    /// `Err` (403 page) unless `token` is this session's CSRF token.
    pub(crate) fn check(&self, state: &impl AsRef<AdminSessions>, token: &str) -> Result<(), WebError> {
        if state.as_ref().sessions.accepts_csrf(&self.session, token) { Ok(()) } else { Err(WebError::Forbidden) }
    }
}

/// The console's frame: the shop's name and the sign-out form's token.
pub(crate) struct AdminLayout {
    pub shop: String,
    pub csrf: String,
}

impl AdminLayout {
    pub(crate) fn new(state: &impl AsRef<AdminSessions>, operator: &Operator) -> Self {
        Self { shop: state.as_ref().config.shop_name.clone(), csrf: operator.csrf.clone() }
    }
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    shop: String,
    failed: bool,
}

async fn sign_in_page(State(pages): State<CatalogConsole>) -> Result<Response, WebError> {
    Ok(render(&SignInPage { shop: pages.console.config.shop_name.clone(), failed: false })?.into_response())
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
async fn sign_in(
    State(pages): State<CatalogConsole>,
    Form(credential): Form<Credential>,
) -> Result<Response, WebError> {
    let pages = pages.console;
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
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let mut response = Redirect::to("/admin/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0, pages.console.config.secure_cookies));
    Ok(response)
}
