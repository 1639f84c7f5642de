//! Distributed tracing for the commerce toolkit.
//!
//! One checkout crosses several processes: the orders service, the inventory service
//! (gRPC), the card processor (HTTP), the outbox relay and the projector (through the
//! broker). Each carries the [W3C trace context] (`traceparent`, `tracestate`) to the
//! next, so the spans of one checkout form one trace:
//!
//! - a server makes its request span a child of the caller's with
//!   [`continue_from_headers`] (HTTP headers and gRPC metadata are both an
//!   [`http::HeaderMap`]);
//! - a client adds [`outgoing_headers`] (or [`current_traceparent`]) to its request;
//! - a stored event keeps the `traceparent` of the change that wrote it, and a broker
//!   message carries it as a header, so work done later in another process
//!   ([`continue_from`]) still joins the trace.
//!
//! The functions here work on [`tracing`] spans through `tracing-opentelemetry`. Without
//! its layer in the subscriber (nothing is exported) they do nothing and return `None`:
//! code that calls them costs next to nothing when tracing is off. The layer and the
//! OTLP/gRPC exporter come with the `otlp` feature ([`export`]).
//!
//! [W3C trace context]: https://www.w3.org/TR/trace-context/

#[cfg(feature = "otlp")]
pub mod export;

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator as _},
    trace::TraceContextExt as _,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The W3C header (and broker header, and event field) naming the parent span.
pub const TRACEPARENT: &str = "traceparent";

/// The span field a span may declare (`trace_id = tracing::field::Empty`) to have its
/// trace id recorded, so every log line inside it names its trace.
pub const TRACE_ID_FIELD: &str = "trace_id";

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the remote span whose context `headers` carry
/// (`traceparent`, `tracestate`), and records the span's [`TRACE_ID_FIELD`]. Call it
/// right after creating the span and before entering it. Without a valid
/// `traceparent` the span starts a trace of its own (or continues its local parent).
pub fn continue_from_headers(span: &Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    adopt(span, &parent);
}

/// [`continue_from_headers`] for a bare `traceparent` value: a broker header or an
/// event's stored context. `None` or a malformed value leaves the span's parent as it is.
pub fn continue_from(span: &Span, traceparent: Option<&str>) {
    let mut carrier = HashMap::new();
    if let Some(value) = traceparent {
        carrier.insert(TRACEPARENT.to_owned(), value.to_owned());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    adopt(span, &parent);
}

fn adopt(span: &Span, parent: &Context) {
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed or the span already
        // started: either way the span keeps the parent it has.
        let _ = span.set_parent(parent.clone());
    }
    if let Some(id) = trace_id(span) {
        span.record(TRACE_ID_FIELD, id);
    }
}

/// The `traceparent` value naming `span`, when it belongs to a recorded trace.
pub fn traceparent(span: &Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// [`traceparent`] of the current span: what an event written now, or a request sent
/// now, should carry.
pub fn current_traceparent() -> Option<String> {
    traceparent(&Span::current())
}

/// Headers carrying the current span's context (`traceparent`, and `tracestate` when
/// set), for an outgoing HTTP or gRPC request. Empty when nothing is traced.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(&mut headers));
    }
    headers
}

/// The trace id of `span` (32 hexadecimal digits), when it belongs to a recorded trace.
pub fn trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn traced<T>(f: impl FnOnce() -> T) -> (T, Vec<opentelemetry_sdk::trace::SpanData>) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let out = tracing::subscriber::with_default(subscriber, f);
        provider.force_flush().unwrap();
        (out, exporter.get_finished_spans().unwrap())
    }

    #[test]
    fn a_server_span_continues_the_callers_trace_and_records_its_id() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, REMOTE.parse().unwrap());
        let (ours, spans) = traced(|| {
            let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
            continue_from_headers(&span, &headers);
            span.in_scope(current_traceparent).unwrap()
        });
        assert!(ours.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{ours}");
        assert!(!ours.contains("00f067aa0ba902b7"), "a child has a span id of its own: {ours}");
        let span = spans.iter().find(|s| s.name == "request").unwrap();
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        let recorded = span.attributes.iter().find(|kv| kv.key.as_str() == TRACE_ID_FIELD).unwrap();
        assert_eq!(recorded.value.as_str(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn outgoing_headers_name_the_current_span() {
        let (headers, spans) = traced(|| {
            let span = tracing::info_span!("client");
            continue_from(&span, Some(REMOTE));
            span.in_scope(outgoing_headers)
        });
        let sent = headers.get(TRACEPARENT).unwrap().to_str().unwrap();
        let client = spans.iter().find(|s| s.name == "client").unwrap();
        assert_eq!(sent, format!("00-{}-{}-01", client.span_context.trace_id(), client.span_context.span_id()));
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        let (ours, _) = traced(|| {
            let span = tracing::info_span!("consumer");
            continue_from(&span, Some("00-not-a-trace"));
            span.in_scope(current_traceparent).unwrap()
        });
        assert!(!ours.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn without_the_layer_nothing_is_carried() {
        let span = tracing::info_span!("untraced");
        continue_from(&span, Some(REMOTE));
        assert_eq!(span.in_scope(current_traceparent), None);
        assert!(span.in_scope(outgoing_headers).is_empty());
        assert_eq!(trace_id(&span), None);
    }
}
