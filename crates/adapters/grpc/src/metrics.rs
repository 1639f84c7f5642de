//! Request metrics of the gRPC server: calls by method and status code, and their
//! latency by method. Register the families on the process's registry (`/metrics`) and
//! wrap the routes with [`GrpcMetrics::instrument`].

use std::time::Instant;

use axum::{extract::State, middleware::Next, response::Response};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
};

/// The methods served, with their labels: labels never come from what a client sends.
const METHODS: [(&str, &str); 9] = [
    ("GetStock", "InventoryService/GetStock"),
    ("BatchGetStock", "InventoryService/BatchGetStock"),
    ("Reserve", "InventoryService/Reserve"),
    ("Commit", "InventoryService/Commit"),
    ("Release", "InventoryService/Release"),
    ("SetOnHand", "InventoryService/SetOnHand"),
    ("Restore", "InventoryService/Restore"),
    ("Expire", "InventoryService/Expire"),
    ("CheckAccess", "InventoryService/CheckAccess"),
];

/// gRPC status names by code (0 to 16).
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A call's method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `InventoryService/Reserve`, `Health/Check`, `Reflection` or `other`.
    pub method: &'static str,
    /// `OK`, `NOT_FOUND`, `UNAVAILABLE`, ...
    pub code: &'static str,
}

/// A call's method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// As in [`CallLabels::method`].
    pub method: &'static str,
}

fn latency() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The server's metrics; clones share them.
#[derive(Clone)]
pub struct GrpcMetrics {
    /// Calls by method and status code (`commerce_grpc_server_calls_total` once registered).
    pub calls: Family<CallLabels, Counter>,
    /// Latency by method, until the response headers.
    pub latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

impl Default for GrpcMetrics {
    fn default() -> Self {
        Self { calls: Family::default(), latency: Family::new_with_constructor(latency) }
    }
}

impl std::fmt::Debug for GrpcMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcMetrics").finish_non_exhaustive()
    }
}

impl GrpcMetrics {
    /// `routes`, counting every call here.
    pub fn instrument(&self, routes: tonic::service::Routes) -> tonic::service::Routes {
        let counted = routes.into_axum_router().layer(axum::middleware::from_fn_with_state(self.clone(), track));
        tonic::service::Routes::from(counted)
    }
}

fn method_of(path: &str) -> &'static str {
    if let Some(name) = path.strip_prefix("/commerce.inventory.v1.InventoryService/") {
        return METHODS.iter().find(|(m, _)| *m == name).map_or("other", |(_, label)| label);
    }
    match path {
        "/grpc.health.v1.Health/Check" => "Health/Check",
        "/grpc.health.v1.Health/Watch" => "Health/Watch",
        p if p.starts_with("/grpc.reflection.") => "Reflection",
        _ => "other",
    }
}

/// A response carrying its status in the headers (a trailers-only error) names it; one
/// that does not succeeded so far, its status in the trailers (tonic sends errors of
/// unary calls trailers-only).
fn code_of(response: &Response) -> &'static str {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or("OK", |code| CODES.get(code).copied().unwrap_or("UNKNOWN"))
}

async fn track(State(metrics): State<GrpcMetrics>, request: axum::extract::Request, next: Next) -> Response {
    let method = method_of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.latency.get_or_create(&MethodLabels { method }).observe(started.elapsed().as_secs_f64());
    metrics.calls.get_or_create(&CallLabels { method, code: code_of(&response) }).inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_known_sets() {
        assert_eq!(method_of("/commerce.inventory.v1.InventoryService/Reserve"), "InventoryService/Reserve");
        assert_eq!(method_of("/commerce.inventory.v1.InventoryService/Nope"), "other");
        assert_eq!(method_of("/grpc.health.v1.Health/Check"), "Health/Check");
        assert_eq!(method_of("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), "Reflection");
        assert_eq!(method_of("/anything/else"), "other");
    }
}
