//! Operational routes: liveness, readiness, metrics and the OpenAPI document.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use utoipa::OpenApi as _;

use crate::{dto::Health, metrics::Metrics, openapi::ApiDoc};

/// Whether the process can serve traffic (its stores answer).
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Err(reason)` when not ready.
    async fn check(&self) -> Result<(), String>;
}

/// Always ready: for processes whose state is in memory.
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysReady;

#[async_trait]
impl Readiness for AlwaysReady {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Set once the process begins to stop: from then on `/readyz` answers 503 (`draining`),
/// so load balancers stop sending it requests while it still serves them.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Marks the process as stopping.
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the process is stopping.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the operational routes need.
#[derive(Clone)]
pub struct OpsState {
    /// Readiness probe.
    pub readiness: Arc<dyn Readiness>,
    /// Whether the process is stopping (readiness fails first).
    pub draining: Draining,
    /// Metrics registry.
    pub metrics: Metrics,
    /// The document `/openapi.json` serves: [`ApiDoc`] unless an embedding merged its own
    /// routes into it ([`OpsState::with_openapi`]).
    pub openapi: Arc<utoipa::openapi::OpenApi>,
}

impl OpsState {
    /// Probes over `readiness`, a fresh metrics registry, and this crate's API document.
    pub fn new(readiness: Arc<dyn Readiness>) -> Self {
        Self { readiness, draining: Draining::default(), metrics: Metrics::new(), openapi: Arc::new(ApiDoc::openapi()) }
    }

    /// Serves `doc` at `/openapi.json` instead: this crate's document with the embedding
    /// team's routes merged in (`ApiDoc::openapi().merge_from(TeamApi::openapi())`).
    #[must_use]
    pub fn with_openapi(mut self, doc: utoipa::openapi::OpenApi) -> Self {
        self.openapi = Arc::new(doc);
        self
    }
}

/// `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

/// Liveness: the process answers.
#[utoipa::path(get, operation_id = "healthz", path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), detail: None })
}

/// Readiness: the process is not stopping and its dependencies answer. The reason it is
/// not is logged, never sent: driver errors name hosts, users and databases, and
/// `/readyz` is unauthenticated.
#[utoipa::path(get, operation_id = "readyz", path = "/readyz", tag = "ops", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(s): State<OpsState>) -> Response {
    if s.draining.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "draining".into(), detail: None }))
            .into_response();
    }
    match s.readiness.check().await {
        Ok(()) => Json(Health { status: "ok".into(), detail: None }).into_response(),
        Err(cause) => {
            tracing::warn!(%cause, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable".into(), detail: None }))
                .into_response()
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, operation_id = "metrics", path = "/metrics", tag = "ops", responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(s): State<OpsState>) -> Response {
    let content_type = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], s.metrics.encode()).into_response()
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, operation_id = "openapi", path = "/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi(State(s): State<OpsState>) -> Response {
    match crate::openapi::to_json(&s.openapi) {
        Ok(doc) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], doc).into_response(),
        Err(e) => crate::error::ApiError::Internal(e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct DatabaseDown;

    #[async_trait]
    impl Readiness for DatabaseDown {
        async fn check(&self) -> Result<(), String> {
            Err("error connecting to server at db.internal:5432 as user shop_owner: password authentication failed"
                .into())
        }
    }

    #[tokio::test]
    async fn readiness_failures_are_a_status_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/readyz", listener.local_addr().unwrap());
        let app = router(OpsState::new(Arc::new(DatabaseDown)));
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = response.text().await.unwrap();
        assert_eq!(body, r#"{"status":"unavailable"}"#);
        server.abort();
    }
}
