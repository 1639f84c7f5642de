//! # commerce-web
//!
//! The web storefront: pages a person uses in a browser, rendered on the server from
//! compile-time-checked templates (askama) over the core's
//! [`StorefrontService`]. One stylesheet, embedded in the binary;
//! no script, no build step, no CDN, no external font. Every page carries a strict
//! Content-Security-Policy.
//!
//! | page | path |
//! |---|---|
//! | home: collections, new arrivals | `/` |
//! | product list: search, sort, filters with counts, keyset paging, all in the URL | `/products` |
//! | product: price, attributes, remaining stock, add to cart | `/products/{id}` |
//! | cart: change quantities, remove, checked against stock (kept in a cookie) | `/cart` |
//!
//! The pages decide nothing: filters, sorting, paging, prices and what "only 3 left"
//! means come from the core (`ProductQueryInput`, `Money::parse_decimal`,
//! `Availability`), as for the JSON and GraphQL APIs.
//!
//! ```no_run
//! # async fn serve(shop: commerce_core::services::shop::Shop) {
//! use commerce_web::{WebConfig, storefront_router};
//! let pages = storefront_router(shop.storefront.clone(), WebConfig::default());
//! # let _ = pages; }
//! ```

mod assets;
mod cart;
mod error;
mod layout;
mod listing;
mod pages;

use axum::{Router, middleware, routing::get};
use commerce_core::{money::Currency, services::storefront::StorefrontService};

pub use error::WebError;

/// How the pages present the shop.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The shop's name, in every page's header and title.
    pub shop_name: String,
    /// The currency people type price filters in (`12.50`).
    pub currency: Currency,
    /// Products per list page.
    pub page_size: u8,
    /// Mark cookies `Secure` (the shop is served over TLS).
    pub secure_cookies: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { shop_name: "Shop".into(), currency: Currency::USD, page_size: 24, secure_cookies: false }
    }
}

/// What the storefront pages need.
#[derive(Clone)]
struct WebState {
    storefront: StorefrontService,
    config: std::sync::Arc<WebConfig>,
}

/// The storefront pages (`/`, `/products`, `/products/{id}`, `/cart`) and their stylesheet
/// (`/assets/...`); every answer carries a strict Content-Security-Policy, `nosniff`,
/// `Referrer-Policy: same-origin` and `X-Frame-Options: DENY`.
pub fn storefront_router(storefront: StorefrontService, config: WebConfig) -> Router {
    let state = WebState { storefront, config: std::sync::Arc::new(config) };
    Router::new()
        .route("/", get(pages::home))
        .route("/products", get(listing::products))
        .route("/products/{id}", get(pages::product))
        .route("/cart", get(cart::show).post(cart::change))
        .with_state(state)
        .merge(assets::router())
        .layer(middleware::map_response(assets::security_headers))
}
