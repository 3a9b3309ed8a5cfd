//! Traces (DESIGN section 11). Every gRPC call gets one `tracing` span, made by the metrics
//! layer ([`super::grpc_layer`]) with [`request_span`]: the service and method, and, as the
//! call learns them, the tenant, the API method, the piece, the retries and the status code. A
//! W3C `traceparent` in the call's metadata makes it a child of the caller's span (same trace
//! id). The domain's own spans nest under it: `stm.transaction` (the API), `store.write` and
//! `events.fan_out` (the durability stage, parented on the call that made the commit).
//!
//! With `telemetry.otlp_endpoint` set, [`exporter`] turns those spans into OpenTelemetry spans
//! (tracing-opentelemetry) and sends them in batches over OTLP/gRPC; the batch queue is
//! bounded, so a collector that is down costs dropped spans, never memory. Without it nothing
//! is exported, the domain's spans are not made at all, and the request span carries only a
//! `trace_id` (the caller's, or a fresh one) and the tenant, so that log lines can be matched
//! with the caller's traces.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::labels::{GrpcCode, GrpcMethod};

/// The service name spans are exported under (`service.name`).
pub const SERVICE_NAME: &str = "ooloi-server";

/// How long one export may take before it is given up (the batch is dropped).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporting side of tracing: the provider whose batches go to the collector. Keep it
/// until the end of the process and call [`Exporter::shutdown`] to send what is left.
#[derive(Debug)]
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// A `tracing` layer that turns spans into OpenTelemetry spans of this provider.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(SERVICE_NAME))
            // Levels, source locations and thread names are log details, not span attributes;
            // busy and idle times would cost two clock reads per enter and exit.
            .with_level(false)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
    }

    /// Exports the spans still queued and stops (bounded by the export timeout).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "traces: the last spans could not be exported");
        }
    }
}

/// The OTLP/gRPC exporter to `endpoint` (`http://host:4317`). Must be called inside a Tokio
/// runtime: the exporter's channel runs on it. The connection is made lazily, so a collector
/// that is not up yet is not an error; its batches are dropped until it is.
pub fn exporter(endpoint: &str) -> Result<Exporter, String> {
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| format!("OTLP exporter to {endpoint}: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(SERVICE_NAME)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource)
        .build();
    EXPORTING.store(true, Relaxed);
    Ok(Exporter { provider })
}

/// The target of the spans made only for traces (`stm.transaction`, `store.write`,
/// `events.fan_out`): log lines never show them, and without an exporter nothing makes them.
pub const TRACE_ONLY_TARGET: &str = "ooloi_server::traces";

/// Whether spans are exported (an [`Exporter`] was made): the call spans then carry the
/// attributes a trace needs; otherwise only what log lines need.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The span of one gRPC call to `method`, continuing the trace of a valid `traceparent` in
/// `headers`. It carries the `trace_id` (the caller's, or a fresh one) and the `tenant`
/// ([`record_tenant`]). When spans are exported it is the trace's server span: named after the
/// method, with the `rpc.*` attributes and, filled in as the call goes, `ooloi.method`,
/// `ooloi.piece_id` and `ooloi.retries` (by the API) and the status code ([`record_status`]).
pub fn request_span(method: GrpcMethod, headers: &http::HeaderMap) -> Span {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if !EXPORTING.load(Relaxed) {
        // Logs only: two fields, both known or cheap now (the SDK's generator is a
        // thread-local RNG, no system call), so a JSON log line's span is written once.
        let remote = parent.span().span_context().clone();
        let trace_id = if remote.is_valid() {
            remote.trace_id()
        } else {
            RandomIdGenerator::default().new_trace_id()
        };
        return tracing::info_span!(
            target: "ooloi_server::grpc",
            "grpc.request",
            trace_id = %trace_id,
            tenant = Empty,
        );
    }
    let span = tracing::info_span!(
        target: "ooloi_server::grpc",
        "grpc.request",
        otel.name = method.span_name(),
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.grpc.status_code = Empty,
        tenant = Empty,
        ooloi.method = Empty,
        ooloi.piece_id = Empty,
        ooloi.retries = Empty,
        trace_id = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    // Constant per method: straight to the OpenTelemetry span, not through the log layer.
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", method.service());
    span.set_attribute("rpc.method", method.name());
    let _ = span.set_parent(parent);
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span
}

/// Records the caller's tenant on the current call's span.
pub fn record_tenant(tenant: &str) {
    Span::current().record("tenant", tenant);
}

/// Records the call's gRPC status on its span. As OpenTelemetry's RPC conventions say for a
/// server, only the codes that mean the server failed mark the span as an error; a caller's
/// mistake (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, ...) does not.
pub fn record_status(span: &Span, code: GrpcCode) {
    span.record("rpc.grpc.status_code", code.number());
    if code.fails_server_span() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Reads W3C trace-context headers from an HTTP/2 header map (gRPC metadata).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_read_from_metadata_and_nonsense_is_not() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        let span = cx.span();
        let remote = span.span_context();
        assert!(remote.is_valid() && remote.is_remote() && remote.is_sampled());
        assert_eq!(
            remote.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(remote.span_id().to_string(), "b7ad6b7169203331");
        headers.insert("traceparent", "00-zz-yy-01".parse().unwrap());
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        assert!(!cx.span().span_context().is_valid());
    }
}
