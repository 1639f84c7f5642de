//! Prometheus metrics: request counts and latencies per route, plus any
//! metric the binary registers on the same registry.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics registry and the HTTP metrics in it.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with the HTTP metrics registered under the `commerce` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("commerce");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by method and route", latency.clone());
        Self { registry: Arc::new(Mutex::new(registry)), requests, latency }
    }

    /// Registers another metric (e.g. a job's counters) for `/metrics`.
    pub fn register(&self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner).register(name, help, metric);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The method as a label: the standard methods by name, anything else `other`, so a
/// client inventing methods cannot create series without end.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware recording every request. Every label comes from a known set: routes are
/// labelled by their pattern (`/store/v1/products/{id}`, or `unmatched`), never the raw
/// path, methods by name (standard ones) or `other`, statuses by the code this server chose.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    metrics.latency.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    response
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeclineLabels {
    code: &'static str,
}

/// Counts checkout replies by kind and declines by code, whichever adapter carried the
/// request (give it to `IdempotentCheckout::with_observer` or `ShopBuilder::checkout_observer`).
#[derive(Clone, Default)]
pub struct CheckoutMetrics {
    replies: Family<OutcomeLabels, Counter>,
    declines: Family<DeclineLabels, Counter>,
}

impl CheckoutMetrics {
    /// The counters, registered on `metrics`: `commerce_checkouts_total{outcome}` and
    /// `commerce_card_declines_total{code}`.
    pub fn registered(metrics: &Metrics) -> Self {
        let this = Self::default();
        metrics.register(
            "checkouts",
            "Checkout replies by outcome (replays counted as replayed)",
            this.replies.clone(),
        );
        metrics.register("card_declines", "Declined cards by the processor's decline code", this.declines.clone());
        this
    }
}

impl commerce_core::services::checkout::CheckoutObserver for CheckoutMetrics {
    fn observe(&self, kind: commerce_core::services::checkout::ReplyKind) {
        self.replies.get_or_create(&OutcomeLabels { outcome: kind.as_str() }).inc();
        if let commerce_core::services::checkout::ReplyKind::Declined(decline) = kind {
            let code = decline.map_or("authentication_failed", commerce_core::payment::DeclineReason::as_str);
            self.declines.get_or_create(&DeclineLabels { code }).inc();
        }
    }
}
