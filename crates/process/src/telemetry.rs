//! Logs and traces of a binary.

use anyhow::Context as _;
use commerce_telemetry::export::SpanExport;
use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};

/// What [`init_tracing`] started. Keep it until the process ends: dropping it sends the
/// spans still queued.
#[derive(Debug)]
#[must_use = "dropping it stops exporting spans"]
pub struct Telemetry {
    export: Option<SpanExport>,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint is configured).
    pub fn exporting(&self) -> bool {
        self.export.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(export) = self.export.take() {
            export.shutdown();
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info,tower_http=warn,sqlx=warn`),
/// as JSON lines when `json`; and exports spans over OTLP/gRPC when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, as `OTEL_SERVICE_NAME` or else `service`
/// (see [`commerce_telemetry::export`]). Log lines inside a traced request carry its
/// `trace_id`. Call it once, inside the tokio runtime.
///
/// # Errors
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is not a URL.
pub fn init_tracing(json: bool, service: &str) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if json { logs.json().boxed() } else { logs.boxed() };
    let export = SpanExport::from_env(service).context("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    // The exporter sees the spans `RUST_LOG` lets through, like the log lines.
    let spans = export.as_ref().map(SpanExport::layer);
    tracing_subscriber::registry().with(filter).with(logs).with(spans).init();
    if let Some(export) = &export {
        tracing::info!(service = export.service(), "exporting spans over OTLP");
    }
    Ok(Telemetry { export })
}
