//! Traces from outside: the real `ooloi-server` binary exports its spans over OTLP/gRPC to a
//! receiver in this test (the collector's `TraceService`, from the OpenTelemetry protocol's
//! generated code). Each gRPC call is one trace: a server span with the tenant, the API method,
//! the piece, the retries and the status code, and as its children the STM transaction, the
//! store write and the event fan-out. A call that carries a W3C `traceparent` continues the
//! caller's trace under the caller's span, and the JSON log lines of the call carry its trace
//! id.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use support::grpc::{Bearer, TestClient, request};
use support::process::{ServerProcess, server_command};
use tokio::net::TcpListener;

/// The trace a client started, and the span of its own that the call continues.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
/// The traces of a call the server fails (UNIMPLEMENTED), of one the caller got wrong
/// (NOT_FOUND), and of one the caller did not sample.
const SERVER_FAILED_TRACE: &str = "5bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_WRONG_TRACE: &str = "6bf92f3577b34da6a3ce929d0e0e4736";
const UNSAMPLED_TRACE: &str = "7bf92f3577b34da6a3ce929d0e0e4736";

/// One span as received, with what the assertions need.
#[derive(Clone, Debug)]
struct Received {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: i32,
    /// OpenTelemetry's status code: 0 unset, 1 ok, 2 error.
    status: i32,
    attributes: BTreeMap<String, String>,
    service_name: String,
}

/// The receiver: every span of every export request, in arrival order.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| attributes(&r.attributes))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        status: span.status.map_or(0, |s| s.code),
                        attributes: attributes(&span.attributes),
                        service_name: resource.get("service.name").cloned().unwrap_or_default(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(
    pairs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// The server under test, exporting to `otlp` (if given), logging JSON with the per-call lines.
fn spawn(otlp: Option<&str>) -> ServerProcess {
    let mut command = server_command();
    if let Some(otlp) = otlp {
        command.env("OOLOI__TELEMETRY__OTLP_ENDPOINT", otlp);
    }
    ServerProcess::spawn(
        command
            .env("OOLOI__LOG__FORMAT", "json")
            // The per-call lines are at debug level.
            .env("RUST_LOG", "info,ooloi_server=debug")
            // Batches go out every 100 ms rather than every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100"),
    )
}

/// The gRPC address the JSON serving line gives, once the server is ready.
fn wait_ready(server: &ServerProcess) -> String {
    let lines = server.lines_until("ooloi-server ready", Duration::from_secs(30));
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|j| j.get("grpc_listen")?.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no serving line before ready: {lines:?}"))
}

/// A client registered as `id` on the server at `grpc`.
async fn register(grpc: &str, id: &str) -> TestClient {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TestClient::register(
        OoloiServiceClient::with_interceptor(channel, Bearer::none()),
        id,
    )
    .await
}

/// A call of `method` by `client` that continues `trace` under [`PARENT_SPAN_ID`], with the
/// W3C `flags` (`01` sampled, `00` not).
fn traced(
    client: &str,
    method: &str,
    params: &str,
    trace: &str,
    flags: &str,
) -> tonic::Request<ooloi_server::proto::OoloiRequest> {
    let mut call = request(Some(client), method, params);
    call.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-{PARENT_SPAN_ID}-{flags}")
            .parse()
            .unwrap(),
    );
    call
}

/// SIGTERM, then waits (bounded) for a clean exit; returns the lines logged meanwhile.
fn stop(mut server: ServerProcess) -> Vec<String> {
    server.terminate();
    for _ in 0..300 {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit {status}");
            return server.lines.try_iter().collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not stop within 30 s of SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_one_trace_with_its_steps_and_continues_the_callers() {
    let receiver = Receiver::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let collector = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let server = spawn(Some(&otlp));
    let grpc = wait_ready(&server);
    let mut client = register(&grpc, "tracer").await;
    // Two calls without trace context: each starts a trace of its own.
    let pid = client.new_piece("Traced").await;
    client.subscribe(&pid).await;
    // A call that continues the caller's trace: it writes, so it is stored and fanned out
    // (to this client, subscribed).
    let title = format!("[[] \"{pid}\" \"Renamed\"]");
    let call = traced("tracer", "set-title", &title, TRACE_ID, "01");
    client.grpc.execute_method(call).await.unwrap();
    let event = client.next_event().await;
    assert_eq!(event.event_type, "piece-structure-changed");
    // Two failing calls and one the caller does not sample.
    let unimplemented = client
        .grpc
        .execute_method(traced(
            "tracer",
            "no-such-method",
            "[]",
            SERVER_FAILED_TRACE,
            "01",
        ))
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), tonic::Code::Unimplemented);
    let missing = "[[] \"00000000-0000-4000-8000-000000000000\"]";
    let not_found = client
        .grpc
        .execute_method(traced(
            "tracer",
            "get-title",
            missing,
            CALLER_WRONG_TRACE,
            "01",
        ))
        .await
        .unwrap_err();
    assert_eq!(not_found.code(), tonic::Code::NotFound);
    client
        .grpc
        .execute_method(traced("tracer", "list-pieces", "[]", UNSAMPLED_TRACE, "00"))
        .await
        .unwrap();
    // SIGTERM exports what is left before the process exits.
    let log = stop(server);
    collector.abort();

    let spans = receiver.0.lock().unwrap().clone();
    assert!(
        spans.iter().all(|s| s.service_name == "ooloi-server"),
        "{spans:#?}"
    );
    // The caller's "not sampled" is obeyed: nothing of that trace is exported.
    assert!(
        spans.iter().all(|s| s.trace_id != UNSAMPLED_TRACE),
        "{spans:#?}"
    );
    // Failed calls are traced with their status; only a server failure marks the span as an
    // error (OpenTelemetry's RPC conventions), a caller's mistake does not.
    let failed = |trace: &str| {
        let calls: Vec<&Received> = spans
            .iter()
            .filter(|s| s.trace_id == trace && s.name == "ooloi.OoloiService/ExecuteMethod")
            .collect();
        assert_eq!(calls.len(), 1, "{calls:#?}");
        calls[0].clone()
    };
    let server_failed = failed(SERVER_FAILED_TRACE);
    assert_eq!(server_failed.attributes["rpc.grpc.status_code"], "12");
    assert_eq!(server_failed.attributes["ooloi.method"], "no-such-method");
    assert_eq!(server_failed.status, 2, "{server_failed:?}");
    let caller_wrong = failed(CALLER_WRONG_TRACE);
    assert_eq!(caller_wrong.attributes["rpc.grpc.status_code"], "5");
    assert_eq!(caller_wrong.attributes["ooloi.method"], "get-title");
    assert_ne!(caller_wrong.status, 2, "{caller_wrong:?}");
    let calls: Vec<&Received> = spans
        .iter()
        .filter(|s| s.name == "ooloi.OoloiService/ExecuteMethod")
        .filter(|s| s.trace_id != SERVER_FAILED_TRACE && s.trace_id != CALLER_WRONG_TRACE)
        .collect();
    assert_eq!(calls.len(), 3, "one server span per call: {spans:#?}");
    // One trace per call.
    let traces: BTreeSet<&str> = calls.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(traces.len(), 3, "{calls:#?}");
    for call in &calls {
        assert_eq!(call.kind, SpanKind::Server as i32, "{call:?}");
        assert_eq!(call.attributes["rpc.system"], "grpc");
        assert_eq!(call.attributes["rpc.service"], "ooloi.OoloiService");
        assert_eq!(call.attributes["rpc.method"], "ExecuteMethod");
        assert_eq!(call.attributes["rpc.grpc.status_code"], "0");
        assert_eq!(call.attributes["tenant"], "local");
        assert_eq!(call.attributes["ooloi.retries"], "0");
        assert_eq!(call.attributes["ooloi.piece_id"], pid, "{call:?}");
        // Every span of the call's trace is the call or one of its children.
        for span in spans.iter().filter(|s| s.trace_id == call.trace_id) {
            assert!(
                span.span_id == call.span_id || span.parent_span_id == call.span_id,
                "{span:?} is not under {call:?}"
            );
        }
    }
    let methods: BTreeSet<&str> = calls
        .iter()
        .map(|s| s.attributes["ooloi.method"].as_str())
        .collect();
    assert_eq!(
        methods,
        BTreeSet::from(["new-piece", "subscribe-to-piece-events", "set-title"])
    );

    // The traced call continued the caller's trace, under the caller's span.
    let continued = calls
        .iter()
        .find(|s| s.trace_id == TRACE_ID)
        .unwrap_or_else(|| panic!("no call in trace {TRACE_ID}: {calls:#?}"));
    assert_eq!(continued.parent_span_id, PARENT_SPAN_ID);
    assert_eq!(continued.attributes["ooloi.method"], "set-title");
    let children: BTreeMap<&str, &Received> = spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID && s.parent_span_id == continued.span_id)
        .map(|s| (s.name.as_str(), s))
        .collect();
    for step in ["stm.transaction", "store.write", "events.fan_out"] {
        assert!(children.contains_key(step), "no {step} span: {children:#?}");
    }
    assert_eq!(children["stm.transaction"].attributes["retries"], "0");
    assert_eq!(children["store.write"].attributes["db.system"], "memory");
    assert_eq!(children["events.fan_out"].attributes["piece_id"], pid);
    // The creation was stored and fanned out too (to nobody yet), in its own trace.
    let created = calls
        .iter()
        .find(|s| s.attributes["ooloi.method"] == "new-piece")
        .unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id == created.span_id && s.name == "store.write"),
        "{spans:#?}"
    );

    assert_eq!(finished_trace_ids(&log).get(TRACE_ID), Some(&1), "{log:#?}");
}

/// The trace ids of the logged `ExecuteMethod` calls, with how many calls each.
fn finished_trace_ids(log: &[String]) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for line in log {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if json["message"] == "grpc call finished" && json["grpc_method"] == "ExecuteMethod" {
            let id = json["span"]["trace_id"].as_str().unwrap_or_default();
            *ids.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    ids
}

/// Without an exporter nothing is sent, and a call's log lines still name its trace: the
/// caller's from `traceparent`, or a fresh one of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_exporter_log_lines_still_carry_the_trace_id() {
    let server = spawn(None);
    let grpc = wait_ready(&server);
    let mut client = register(&grpc, "logger").await;
    let pid = client.new_piece("Logged").await;
    client.set_title(&pid, "Renamed").await;
    let call = traced("logger", "list-pieces", "[]", TRACE_ID, "01");
    client.grpc.execute_method(call).await.unwrap();
    let log = stop(server);
    let ids = finished_trace_ids(&log);
    assert_eq!(ids.values().sum::<usize>(), 3, "{log:#?}");
    assert_eq!(ids.get(TRACE_ID), Some(&1), "{ids:?}");
    // The other two calls got fresh, distinct, valid W3C trace ids.
    let fresh: Vec<&String> = ids.keys().filter(|id| *id != TRACE_ID).collect();
    assert_eq!(fresh.len(), 2, "{ids:?}");
    for id in fresh {
        assert!(
            id.len() == 32
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && id.bytes().any(|b| b != b'0'),
            "{id}"
        );
    }
}
