//! The HTTP sidecar next to a real gRPC server, both on `127.0.0.1:0`: after a registration, a
//! successful and a failing `ExecuteMethod`, `/metrics` counts the calls in the standard
//! go-grpc-prometheus series (by type, service, method and code), has the standard `process_*`
//! series,
//! the connected client and the events sent, and is well-formed Prometheus text; the health
//! endpoints describe the registered clients (404 for an unknown one, `null` for a rate with
//! no data); `/readyz` turns 503 once gRPC shutdown has begun while the sidecar still answers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use ooloi_server::config::Config;
use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{EventMessage, OoloiRequest, RegisterClientRequest};
use ooloi_server::server::Server;
use ooloi_server::value::edn;
use ooloi_server::{grpc, http};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Request, Streaming};

const TIMEOUT: Duration = Duration::from_secs(10);

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("stops in time")
            .expect("ran without panicking");
    }
}

async fn start_grpc(server: &Server) -> (SocketAddr, Running) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server.clone();
    let task = tokio::spawn(async move {
        grpc::serve(&server, listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("gRPC serves");
    });
    (addr, Running { stop, task })
}

async fn start_http(server: &Server) -> (SocketAddr, Running) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server.clone();
    let task = tokio::spawn(async move {
        http::serve(&server, listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("the sidecar serves");
    });
    (addr, Running { stop, task })
}

/// An HTTP/1.1 answer: status, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Json {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// One `GET` over a fresh connection (`Connection: close`, so the body ends at EOF).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("answered in time");
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn call(client_id: &str, method: &str, params: &str) -> Request<OoloiRequest> {
    let mut request = Request::new(OoloiRequest {
        method: method.into(),
        params: Some(edn::parse(params).unwrap().to_proto()),
    });
    request
        .metadata_mut()
        .insert("x-ooloi-client-id", client_id.parse().unwrap());
    request
}

async fn register(client: &mut OoloiServiceClient<Channel>, id: &str) -> Streaming<EventMessage> {
    let info = edn::parse(&format!("{{:client-id \"{id}\"}}")).unwrap();
    let mut stream = client
        .register_client(RegisterClientRequest {
            client_info: Some(info.to_proto()),
        })
        .await
        .unwrap()
        .into_inner();
    let confirmation = tokio::time::timeout(TIMEOUT, stream.message())
        .await
        .expect("confirmed in time")
        .unwrap()
        .unwrap();
    assert_eq!(confirmation.event_type, "client-registration-confirmed");
    stream
}

/// The value of the unlabelled or labelled sample `series` (the text before the value).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// Checks the exposition's structure: every family has one `# HELP` and one `# TYPE`, before
/// its samples; every sample belongs to a declared family (histograms through their
/// `_bucket`, `_sum` and `_count` series); names are `ooloi_server_*`, the standard
/// `grpc_server_*` or `process_*`; values are numbers.
fn assert_well_formed(metrics: &str) {
    let mut helped = HashSet::new();
    let mut typed = std::collections::HashMap::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}"
            );
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice for {name}"
            );
        } else {
            let name_end = line.find(['{', ' ']).expect("a sample line");
            let name = &line[..name_end];
            assert!(
                ["ooloi_server_", "grpc_server_", "process_"]
                    .iter()
                    .any(|prefix| name.starts_with(prefix)),
                "{line}"
            );
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let base = name.strip_suffix(suffix)?;
                    (typed.get(base).map(String::as_str) == Some("histogram")).then_some(base)
                })
                .unwrap_or(name);
            assert!(typed.contains_key(family), "undeclared family: {line}");
            if typed[family] == "counter" {
                assert!(
                    family.ends_with("_total"),
                    "counter {family} ends in _total"
                );
            }
            let value = line.rsplit(' ').next().unwrap();
            assert!(
                value.parse::<f64>().is_ok() || value == "+Inf",
                "value of {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecar_reports_what_the_grpc_server_did() {
    let server = Server::opened(
        Config::load(None, &[("OOLOI__STORE__URL".into(), "memory:".into())], &[])
            .expect("default config"),
    )
    .await
    .expect("opens");
    let (grpc_addr, grpc_running) = start_grpc(&server).await;
    let (http_addr, http_running) = start_http(&server).await;
    let mut client = OoloiServiceClient::connect(format!("http://{grpc_addr}"))
        .await
        .expect("connects");

    let _busy_stream = register(&mut client, "sidecar-busy").await;
    let _quiet_stream = register(&mut client, "sidecar-quiet").await;
    client
        .execute_method(call("sidecar-busy", "new-piece", "[{:title \"Metrics\"}]"))
        .await
        .expect("new-piece succeeds");
    let failure = client
        .execute_method(call("sidecar-busy", "add-musician", "[[] 1]"))
        .await
        .unwrap_err();
    assert_eq!(failure.code(), Code::InvalidArgument);

    let metrics = get(http_addr, "/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let m = &metrics.body;
    assert_well_formed(m);
    // The go-grpc-prometheus series, under the labels stock dashboards query.
    let execute =
        "grpc_type=\"unary\",grpc_service=\"ooloi.OoloiService\",grpc_method=\"ExecuteMethod\"";
    let handled = |labels: &str, code: &str| {
        sample(
            m,
            &format!("grpc_server_handled_total{{{labels},grpc_code=\"{code}\"}}"),
        )
    };
    assert_eq!(handled(execute, "OK"), Some(1.0), "{m}");
    assert_eq!(handled(execute, "INVALID_ARGUMENT"), Some(1.0));
    assert_eq!(
        handled(execute, "NOT_FOUND"),
        Some(0.0),
        "known series start at 0"
    );
    assert_eq!(
        sample(m, &format!("grpc_server_started_total{{{execute}}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(m, &format!("grpc_server_msg_received_total{{{execute}}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(m, &format!("grpc_server_msg_sent_total{{{execute}}}")),
        Some(1.0),
        "a refusal sends no message"
    );
    assert_eq!(
        sample(
            m,
            &format!("grpc_server_handling_seconds_count{{{execute}}}")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            m,
            &format!("grpc_server_handling_seconds_bucket{{{execute},le=\"+Inf\"}}")
        ),
        Some(2.0)
    );
    // The standard process series, from the prometheus crate's process collector.
    assert!(sample(m, "process_resident_memory_bytes").unwrap() > 0.0);
    assert!(sample(m, "process_cpu_seconds_total").is_some());
    assert!(sample(m, "process_open_fds").unwrap() > 0.0);
    assert!(sample(m, "process_start_time_seconds").unwrap() > 0.0);
    // Domain series keep their names.
    assert_eq!(sample(m, "ooloi_server_clients_connected"), Some(2.0));
    assert!(sample(m, "ooloi_server_events_sent_total").unwrap() >= 2.0);
    assert!(sample(m, "ooloi_server_api_request_bytes_total").unwrap() > 0.0);
    assert_eq!(
        sample(m, "ooloi_server_stm_commits_total{kind=\"update\"}"),
        Some(1.0),
        "new-piece committed once"
    );
    let register = "grpc_type=\"server_stream\",grpc_service=\"ooloi.OoloiService\",grpc_method=\"RegisterClient\"";
    assert_eq!(
        sample(m, &format!("grpc_server_started_total{{{register}}}")),
        Some(2.0)
    );
    assert!(
        sample(m, &format!("grpc_server_msg_sent_total{{{register}}}")).unwrap() >= 2.0,
        "at least the two confirmations"
    );
    assert_eq!(
        sample(
            m,
            &format!("grpc_server_handling_seconds_count{{{register}}}")
        ),
        Some(0.0),
        "open streams are not handled calls yet"
    );
    assert_eq!(handled(register, "OK"), Some(0.0));
    assert!(
        !m.contains("grpc_method=\"unknown\""),
        "no unknown path was called"
    );

    let busy = get(http_addr, "/health/clients/sidecar-busy", &[]).await;
    assert_eq!(busy.status, 200);
    assert_eq!(busy.header("cache-control"), Some("no-store"));
    assert_eq!(busy.header("x-ooloi-metrics-schema"), Some("1"));
    assert_eq!(
        busy.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let busy = busy.json();
    assert_eq!(busy["client_id"], "sidecar-busy");
    assert_eq!(busy["counters"]["api_calls_total"], 2);
    assert_eq!(busy["computed"]["api_success_rate"], 0.5);
    let quiet = get(http_addr, "/health/clients/sidecar-quiet", &[])
        .await
        .json();
    assert_eq!(quiet["computed"]["api_success_rate"], Json::Null);
    let unknown = get(http_addr, "/health/clients/nobody-at-all", &[]).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "CLIENT_NOT_FOUND");
    let refused = get(
        http_addr,
        "/health/clients",
        &[("User-Agent", "Prometheus/2.53")],
    )
    .await;
    assert_eq!(refused.status, 400);

    let stats = get(http_addr, "/health/server", &[]).await.json();
    assert_eq!(stats["counters"]["api_calls_total"], 2);
    assert_eq!(stats["counters"]["api_calls_success"], 1);
    assert_eq!(stats["counters"]["clients_connected_total"], 2);
    assert_eq!(stats["computed"]["api_success_rate"], 0.5);
    assert_eq!(stats["server"]["clients_connected_current"], 2);
    let scrape = get(http_addr, "/health/server", &[("Accept", "text/plain")]).await;
    assert_eq!(
        scrape.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_well_formed(&scrape.body);

    assert_eq!(get(http_addr, "/livez", &[]).await.status, 200);
    assert_eq!(get(http_addr, "/readyz", &[]).await.status, 200);
    assert_eq!(get(http_addr, "/health", &[]).await.status, 200);
    // Shutdown marks the server not ready before gRPC drains; once gRPC has returned the
    // sidecar is still up and says so.
    server.begin_shutdown();
    grpc_running.stop().await;
    assert_eq!(get(http_addr, "/readyz", &[]).await.status, 503);
    let health = get(http_addr, "/health", &[]).await;
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "unhealthy");
    assert_eq!(get(http_addr, "/livez", &[]).await.status, 200);
    http_running.stop().await;
    assert!(
        TcpStream::connect(http_addr).await.is_err(),
        "the sidecar has stopped listening"
    );
}
