//! # commerce-web
//!
//! The web storefront: pages a person uses in a browser, rendered on the server from
//! compile-time-checked templates (askama) over the core's services. One stylesheet and
//! one small script (the checkout's card step), embedded in the binary; no build step,
//! no CDN, no external font. Every page carries a strict Content-Security-Policy.
//!
//! | page | path |
//! |---|---|
//! | home: collections, new arrivals | `/` |
//! | product list: search, sort, filters with counts, keyset paging, all in the URL | `/products` |
//! | product: price, attributes, remaining stock, add to cart | `/products/{id}` |
//! | cart: change quantities, remove, checked against stock (kept in a cookie) | `/cart` |
//! | checkout: e-mail, address, shipping method, card (tokenised in the browser) | `/checkout` |
//! | order status, through the link with the order's access token | `/orders/{id}?token=` |
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

mod admin;
mod assets;
mod cart;
mod checkout;
mod error;
mod layout;
mod listing;
mod orders;
mod pages;

use axum::{Router, middleware, routing::get};
use commerce_core::{
    money::Currency,
    services::{
        checkout::IdempotentCheckout, orders::OrderService, pricing::PricingService, storefront::StorefrontService,
    },
};

pub use admin::{AdminPages, AdminSessions, admin_catalog_router, admin_orders_router, admin_router};
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
    /// Where the checkout page's script sends the card for a token: the card processor's
    /// tokenisation endpoint, a path on this origin (the in-process simulator) or an
    /// absolute `https://` address (Stripe, a remote processor), whose origin the checkout
    /// page's Content-Security-Policy then lets the script reach.
    pub tokenize_url: String,
    /// The processor's publishable key, sent with the card as Stripe.js does (`key=pk_...`).
    pub tokenize_key: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            shop_name: "Shop".into(),
            currency: Currency::USD,
            page_size: 24,
            secure_cookies: false,
            tokenize_url: "/simulator/v1/payment_methods".into(),
            tokenize_key: None,
        }
    }
}

/// What the checkout and order pages need: the shop's use cases they call.
#[derive(Clone)]
pub struct CheckoutPages {
    /// The cart's products and stock.
    pub storefront: StorefrontService,
    /// Places orders, once per form.
    pub checkout: IdempotentCheckout,
    /// Reads an order for its customer.
    pub orders: OrderService,
    /// Shipping methods.
    pub pricing: PricingService,
    config: std::sync::Arc<WebConfig>,
}

impl CheckoutPages {
    /// The pages over these services.
    pub fn new(
        storefront: StorefrontService,
        checkout: IdempotentCheckout,
        orders: OrderService,
        pricing: PricingService,
        config: WebConfig,
    ) -> Self {
        Self { storefront, checkout, orders, pricing, config: std::sync::Arc::new(config) }
    }
}

/// `/checkout` and `/orders/{id}`, with the same headers as the storefront pages. Served
/// where orders are placed (`commerce`; `orders-service` in the distributed deployment).
///
/// A `tokenize_url` on another origin is added to the checkout page's `connect-src`; one
/// that is not a plain origin (a space, `;`, a quote) is refused here rather than written
/// into the policy.
pub fn checkout_router(pages: CheckoutPages) -> Result<Router, TokenizeUrlError> {
    let policy = match tokenizer_origin(&pages.config.tokenize_url) {
        None => axum::http::HeaderValue::from_static(assets::CONTENT_SECURITY_POLICY),
        Some(origin) => {
            assets::policy_connecting_to(origin).ok_or_else(|| TokenizeUrlError(pages.config.tokenize_url.clone()))?
        }
    };
    Ok(Router::new()
        .route("/checkout", get(checkout::show).post(checkout::place))
        .route("/orders/{id}", get(orders::show))
        .with_state(pages)
        .layer(middleware::map_response(move |response| {
            let policy = policy.clone();
            async move { assets::with_policy(response, policy) }
        })))
}

/// A tokenisation address whose origin cannot be written into a Content-Security-Policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the card tokenisation address {0:?} has no plain origin")]
pub struct TokenizeUrlError(pub String);

/// The origin (`https://api.stripe.com`) of an absolute tokenisation address; `None` for a
/// path on the shop's own origin.
fn tokenizer_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    Some(&url[..url.len() - rest.len() + host_end])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokenizer_on_another_origin_is_added_to_connect_src_and_nothing_else() {
        assert_eq!(tokenizer_origin("/simulator/v1/payment_methods"), None);
        assert_eq!(tokenizer_origin("https://api.stripe.com/v1/payment_methods"), Some("https://api.stripe.com"));
        assert_eq!(tokenizer_origin("http://127.0.0.1:8090"), Some("http://127.0.0.1:8090"));
        let policy = assets::policy_connecting_to("https://api.stripe.com").map(|v| v.to_str().map(str::to_owned));
        let policy = policy.and_then(Result::ok).unwrap_or_default();
        assert!(policy.contains("connect-src 'self' https://api.stripe.com;"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        for hostile in ["https://a.example; script-src *", "https://a.example'", "https://ä.example", ""] {
            assert_eq!(assets::policy_connecting_to(hostile), None, "{hostile}");
        }
    }
}
