//! # commerce-http
//!
//! The HTTP adapter: axum routers for the store, checkout, admin and
//! operational routes, and the middleware stack they share. Binaries pick the
//! routers they serve and call [`serve`]:
//!
//! ```text
//! let routes = commerce_http::shop_router(&shop, Arc::new(AdminToken::new(token)))
//!     .merge(my_own_routes);
//! let app = commerce_http::app(routes, OpsState::new(readiness), HttpConfig::default());
//! commerce_http::serve(listener, app, shutdown).await?;
//! ```
//!
//! Or pick routers one by one (`store::router`, `checkout::router`, `admin::router`), as
//! the split services do.
//!
//! Every error is `application/problem+json` (see [`error`]); unknown routes are
//! 404 and wrong methods 405, both as problems too.

pub mod admin;
pub mod auth;
pub mod caching;
pub mod checkout;
pub mod dead_letters;
pub mod dto;
pub mod error;
pub mod extract;
pub mod mailbox;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pricing;
pub mod refunds;
pub mod store;
pub mod tls;
pub mod webhooks;

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, StatusCode},
    middleware,
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use auth::AdminAuthorizer;
use commerce_core::services::shop::Shop;
pub use error::{ApiError, Problem};
pub use metrics::Metrics;
pub use tls::{TlsConfig, serve_tls};

/// Limits applied to every route.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Requests running longer get a 503.
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { body_limit_bytes: 64 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds the operational routes and the shared middleware to `routes`: request ids,
/// tracing, metrics, timeout, body limit, gzip compression, panic-to-500, and
/// problem+json fallbacks for unknown routes and methods.
pub fn app(routes: Router, ops: ops::OpsState, config: HttpConfig) -> Router {
    let metrics = ops.metrics.clone();
    routes
        .merge(ops::router(ops))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, config.request_timeout))
        .layer(CatchPanicLayer::custom(|_panic| -> Response {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span::<axum::body::Body>))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The span of one request: method, path, request id, and the trace id. A request
/// carrying a W3C `traceparent` continues its caller's trace.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    let span = tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
        trace_id = tracing::field::Empty,
    );
    commerce_telemetry::continue_from_headers(&span, request.headers());
    span
}

/// `routes` with a span per request ([`request_span`]) and nothing else: for a service
/// that is not a shop API (the card processor simulator). [`app`] includes it.
pub fn traced(routes: Router) -> Router {
    routes.layer(TraceLayer::new_for_http().make_span_with(request_span::<axum::body::Body>))
}

/// The customer and operator routes of one shop: store, checkout, and admin behind
/// `authorizer`. Merge GraphQL (`commerce-graphql`) and your own routes into it, then
/// wrap it with [`app`].
pub fn shop_router(shop: &Shop, authorizer: Arc<dyn AdminAuthorizer>) -> Router {
    Router::new()
        .merge(store::router(store::StoreState { storefront: shop.storefront.clone() }))
        .merge(checkout::router(checkout::CheckoutState {
            checkout: shop.checkout.clone(),
            orders: shop.orders.clone(),
        }))
        .merge(pricing::store_router(shop.pricing.clone()))
        .merge(pricing::admin_router(pricing::PricingAdminState {
            pricing: shop.pricing.clone(),
            authorizer: authorizer.clone(),
        }))
        .merge(refunds::router(refunds::RefundAdminState {
            refunds: shop.refunds.clone(),
            authorizer: authorizer.clone(),
        }))
        .merge(admin::router(admin::AdminState {
            catalog: shop.catalog.clone(),
            stock: shop.stock.clone(),
            orders: shop.orders.clone(),
            authorizer,
        }))
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and
/// lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
