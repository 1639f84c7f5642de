//! Exporting spans over OTLP/gRPC, configured the OpenTelemetry way.
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) | the collector, e.g. `http://127.0.0.1:4317`; nothing is exported while both are unset |
//! | `OTEL_SERVICE_NAME` | the `service.name` of every span; each binary has its own default |
//! | `OTEL_SDK_DISABLED=true` | export nothing even with an endpoint |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | sampling (default: every trace, or as the caller decided) |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, ... | the batch span processor |
//!
//! Spans leave in batches from a thread of their own; a full queue drops spans rather
//! than slowing requests down.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::registry::LookupSpan;

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// The exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export: {0}")]
pub struct ExportError(String);

/// A running span exporter. Keep it for the life of the process and call
/// [`SpanExport::shutdown`] last, so the spans of the final requests are sent.
#[derive(Debug)]
pub struct SpanExport {
    provider: SdkTracerProvider,
    service: String,
}

impl SpanExport {
    /// The exporter the environment asks for: `None` when no endpoint is set (or
    /// `OTEL_SDK_DISABLED` is `true`). `default_service` names the service unless
    /// `OTEL_SERVICE_NAME` does. Call it inside the tokio runtime: the gRPC client
    /// lives there.
    ///
    /// # Errors
    /// An endpoint that is not a URL.
    pub fn from_env(default_service: &str) -> Result<Option<Self>, ExportError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let Some(endpoint) = var(TRACES_ENDPOINT).or_else(|| var(ENDPOINT)) else { return Ok(None) };
        let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| default_service.to_owned());
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.trim())
            .build()
            .map_err(|e| ExportError(format!("{ENDPOINT} {endpoint:?}: {e}")))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name(service.clone()).build())
            .build();
        Ok(Some(Self { provider, service }))
    }

    /// The `service.name` spans carry.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The subscriber layer turning `tracing` spans into exported spans.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("commerce"))
    }

    /// Sends what is queued and stops. Blocks until the collector answered or the
    /// export timed out.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "flushing the last spans failed");
        }
    }
}
