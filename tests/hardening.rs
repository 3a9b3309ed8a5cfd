//! Stage 4c: no client can freeze, exhaust or confuse the server for everyone else. Each test
//! reproduces one defect found by probing the Stage 4 server as an attacker or a careless
//! client, and shows it fixed; each limit is tested at the limit and one past it.
//!
//! | defect | test |
//! |---|---|
//! | idle connections held forever | `idle_connections_are_closed_and_the_server_stays_reachable` (1,100 against 1,024 fds, a spawned server), `a_connection_with_nothing_in_flight_is_closed_after_the_idle_timeout`, `the_sidecar_times_out_silent_and_idle_connections` |
//! | long calls on the async workers | `a_light_call_stays_fast_while_four_clients_send_maximal_batches`, `a_full_executor_queue_refuses_at_once` |
//! | O(n²) batches | `a_batch_at_the_cap_runs_and_one_past_is_refused`, the `add-item` benchmark |
//! | unbounded responses | `three_hundred_reads_of_a_large_voice_are_refused_within_bounded_memory`, `a_response_past_the_limit_is_resource_exhausted` |
//! | unbounded client metadata | `client_metadata_is_bounded_whole_and_by_field` |
//! | errors echoing input | `a_huge_method_name_gets_a_short_unimplemented` (and the e2e test with grpcio) |
//! | broadcasts before the confirmation | `a_storm_of_registrations_always_confirms_first` |
//! | protocol laxity | `protocol_violations_are_unimplemented` |
//! | deadlines not enforced | `a_call_past_its_deadline_commits_nothing` |

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ooloi_server::api::registry::param;
use ooloi_server::api::{Category, Method, ParamKind};
use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{OoloiRequest, RegisterClientRequest};
use ooloi_server::value::{Value, edn};
use support::grpc::*;
use tonic::Code;
use tonic_types::StatusExt;

/// A server binary run as a child process, so that its limits (file descriptors) and memory
/// (peak RSS) are its own. Killed when dropped.
struct Spawned {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    /// Starts `ooloi-server` on free loopback ports with `env`, under `prefix` (a command
    /// such as `prlimit` that runs the server), and waits for its `serving` line.
    fn start(prefix: &[&str], env: &[(&str, &str)]) -> Spawned {
        let server = env!("CARGO_BIN_EXE_ooloi-server");
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(server);
                c
            }
            None => Command::new(server),
        };
        command
            .args([
                "--grpc-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ])
            .env_remove("RUST_LOG")
            // Nothing here tests persistence: no database file is left behind.
            .env("OOLOI__STORE__URL", "memory:")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut spawned = Spawned {
            child: command.spawn().expect("the server starts"),
            grpc: ([127, 0, 0, 1], 0).into(),
            http: ([127, 0, 0, 1], 0).into(),
            log: Arc::new(std::sync::Mutex::new(Vec::new())),
        };
        let (tx, rx) = mpsc::channel();
        let stderr = spawned.child.stderr.take().unwrap();
        let lines = Arc::clone(&spawned.log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let addr = |line: &str, key: &str| -> SocketAddr {
            let start = line.find(key).expect("the address") + key.len();
            line[start..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs that it serves");
            if line.contains("ooloi-server serving") {
                spawned.grpc = addr(&line, "grpc_listen=");
                spawned.http = addr(&line, "http_listen=");
                return spawned;
            }
        }
    }

    /// A `/proc/<pid>/status` figure in bytes (`VmRSS`, `VmHWM`).
    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("the field");
        kib * 1024
    }

    async fn client(&self) -> support::grpc::Grpc {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .expect("connects");
        OoloiServiceClient::with_interceptor(channel, support::grpc::Bearer::none())
    }
}

/// `GET path` on `addr` with plain HTTP/1.1; the status code.
async fn http_status(addr: SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// An `add-measure` with one empty voice, and the piece's musician, instrument and staff, so
/// that `[:m 0 0 0 0 0]` is a voice.
const VOICE: &str = "[:m 0 0 0 0 0]";

async fn piece_with_a_voice(client: &mut TestClient) -> String {
    let pid = client.new_piece("Hardening").await;
    let ops = [
        format!(r#"{{:method "add-musician" :params [[] "{pid}" {{:name "V"}}]}}"#),
        format!(r#"{{:method "add-instrument" :params [[:m 0] "{pid}" {{:name "V"}}]}}"#),
        format!(r#"{{:method "add-staff" :params [[:m 0 0] "{pid}" {{:name "V"}}]}}"#),
        format!(
            r#"{{:method "add-measure" :params [[:m 0 0 0] "{pid}" {{:voices [{{:items []}}]}}]}}"#
        ),
    ];
    client.ok("atomic", &format!("[[{}]]", ops.join(" "))).await;
    pid
}

/// An atomic batch of `n` `add-item`s to the voice of `pid`.
fn add_items(pid: &str, n: usize) -> String {
    let op = format!(
        r#"{{:method "add-item" :params [{VOICE} "{pid}" {{:type :pitch :note "C4" :duration 1/4}}]}}"#
    );
    format!("[[{}]]", vec![op; n].join(" "))
}

fn item_count(result: &Value) -> usize {
    match result {
        Value::Vector(items) => items.len(),
        other => panic!("not a vector: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_registrations_always_confirms_first() {
    // Small queues: each client gets about a thousand broadcasts before it reads, far more than
    // its queue holds, and the confirmation must still come first (it is never dropped).
    let server = TestServer::tcp(&[("OOLOI__EVENTS__QUEUE_CAPACITY", "16")]).await;
    let mut channels = Vec::new();
    for _ in 0..20 {
        channels.push(server.channel().await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..1000 {
        let channel = channels[n % 20].clone();
        tasks.spawn(async move {
            let mut grpc = OoloiServiceClient::new(channel);
            let mut events = grpc
                .register_client(register_request(&format!("storm-{n}")))
                .await
                .expect("registers")
                .into_inner();
            let first = next_event(&mut events).await;
            (first, events)
        });
    }
    let mut streams = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (first, events) = joined.unwrap();
        assert_eq!(
            (first.event_type.as_str(), first.sequence),
            ("client-registration-confirmed", 1),
            "the first event of every stream is its confirmation"
        );
        streams.push(events);
    }
    assert_eq!(streams.len(), 1000);
    drop(streams);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_metadata_is_bounded_whole_and_by_field() {
    let server = TestServer::tcp(&[
        ("OOLOI__LIMITS__MAX_CLIENT_INFO_BYTES", "512"),
        ("OOLOI__LIMITS__MAX_DISPLAY_NAME_CHARS", "40"),
    ])
    .await;
    let mut grpc = server.client().await;
    let info = |id: &str, name: &str, pad: usize| {
        let mut fields = vec![(Value::keyword("client-id"), Value::string(id))];
        fields.push((Value::keyword("display-name"), Value::string(name)));
        if pad > 0 {
            fields.push((Value::keyword("note"), Value::string("x".repeat(pad))));
        }
        RegisterClientRequest {
            client_info: Some(Value::map(fields).to_proto()),
        }
    };
    // The display name: at the limit (in characters, not bytes), and one past it.
    let at_limit = "é".repeat(40);
    let mut ok = grpc
        .register_client(info("name-at-limit", &at_limit, 0))
        .await
        .expect("40 characters are allowed")
        .into_inner();
    assert_eq!(
        next_event(&mut ok).await.event_type,
        "client-registration-confirmed"
    );
    let status = assert_status(
        grpc.register_client(info("name-past", &"é".repeat(41), 0))
            .await,
        Code::InvalidArgument,
        Some("LIMIT_EXCEEDED"),
    );
    let meta = status
        .get_error_details()
        .error_info()
        .cloned()
        .unwrap()
        .metadata;
    assert_eq!(meta["limit"], "limits.max_display_name_chars");
    // A 1 MiB display name is refused the same way (it would be copied into broadcasts).
    assert_status(
        grpc.register_client(info("name-huge", &"n".repeat(1 << 20), 0))
            .await,
        Code::InvalidArgument,
        Some("LIMIT_EXCEEDED"),
    );
    // The whole client_info: find the padding that makes it exactly 512 bytes encoded.
    let size = |pad: usize| {
        prost::Message::encoded_len(&info("whole-size", "w", pad).client_info.unwrap())
    };
    let pad = (0..512)
        .find(|&p| size(p) == 512)
        .expect("a padding hits 512 exactly");
    let mut whole = grpc
        .register_client(info("whole-size", "w", pad))
        .await
        .expect("512 bytes are allowed")
        .into_inner();
    assert_eq!(
        next_event(&mut whole).await.event_type,
        "client-registration-confirmed"
    );
    assert_eq!(size(pad + 1), 513);
    let status = assert_status(
        grpc.register_client(info("whole-past", "w", pad + 1)).await,
        Code::InvalidArgument,
        Some("LIMIT_EXCEEDED"),
    );
    let meta = status
        .get_error_details()
        .error_info()
        .cloned()
        .unwrap()
        .metadata;
    assert_eq!(meta["limit"], "limits.max_client_info_bytes");
    drop((ok, whole));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_at_the_cap_runs_and_one_past_is_refused() {
    let server = TestServer::tcp(&[("OOLOI__LIMITS__MAX_BATCH_OPERATIONS", "5")]).await;
    let mut client = server.register("batcher").await;
    let pid = piece_with_a_voice(&mut client).await;
    let results = client.ok("atomic", &add_items(&pid, 5)).await;
    assert_eq!(item_count(&results), 5);
    let status = assert_status(
        client.call("atomic", &add_items(&pid, 6)).await,
        Code::InvalidArgument,
        Some("LIMIT_EXCEEDED"),
    );
    let meta = status
        .get_error_details()
        .error_info()
        .cloned()
        .unwrap()
        .metadata;
    assert_eq!(
        (meta["limit"].as_str(), meta["max"].as_str()),
        ("limits.max_batch_operations", "5")
    );
    let items = client
        .ok("get-items", &format!("[{VOICE} \"{pid}\"]"))
        .await;
    assert_eq!(item_count(&items), 5, "the refused batch changed nothing");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_commits_nothing() {
    let server = TestServer::tcp(&[]).await;
    let mut client = server.register("late").await;
    let pid = piece_with_a_voice(&mut client).await;
    // Sent raw, so that the client does not give up on the deadline before the server answers.
    let batch = encoded_call("atomic", &add_items(&pid, 1000));
    let (code, _) = raw_grpc(server.addr(), "late", &[("grpc-timeout", "1u")], batch).await;
    assert_eq!(code, "4", "DEADLINE_EXCEEDED");
    let items = client
        .ok("get-items", &format!("[{VOICE} \"{pid}\"]"))
        .await;
    assert_eq!(item_count(&items), 0, "nothing of the batch was committed");
    server.stop().await;
    // The server's own maximum caps what a client asks for; a quick call fits in either.
    let server = TestServer::tcp(&[("OOLOI__LIMITS__MAX_CALL_SECONDS", "1")]).await;
    let _client = server.register("patient").await;
    let read = encoded_call("list-pieces", "[]");
    let (code, _) = raw_grpc(server.addr(), "patient", &[("grpc-timeout", "1H")], read).await;
    assert_eq!(code, "0");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_past_the_limit_is_resource_exhausted() {
    let server = TestServer::tcp(&[("OOLOI__LIMITS__MAX_MESSAGE_BYTES", "65536")]).await;
    let mut client = server.register("reader").await;
    let pid = piece_with_a_voice(&mut client).await;
    for _ in 0..5 {
        client.ok("atomic", &add_items(&pid, 100)).await;
    }
    let read = format!(r#"{{:method "get-items" :params [{VOICE} "{pid}"]}}"#);
    // One read fits; a batch of them does not, and stops before building them all.
    client
        .ok("get-items", &format!("[{VOICE} \"{pid}\"]"))
        .await;
    let batch = format!("[[{}]]", vec![read; 300].join(" "));
    let status = assert_status(
        client.call("atomic", &batch).await,
        Code::ResourceExhausted,
        Some("RESPONSE_TOO_LARGE"),
    );
    assert!(
        status.message().contains("limits.max_message_bytes"),
        "{status:?}"
    );
    server.stop().await;
}

#[test]
fn three_hundred_reads_of_a_large_voice_are_refused_within_bounded_memory() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Spawned::start(&[], &[]);
    runtime.block_on(async {
        let mut client = TestClient::register(server.client().await, "big-reader").await;
        let pid = piece_with_a_voice(&mut client).await;
        for _ in 0..20 {
            client.ok("atomic", &add_items(&pid, 1000)).await;
        }
        let read = format!(r#"{{:method "get-items" :params [{VOICE} "{pid}"]}}"#);
        let batch = format!("[[{}]]", vec![read; 300].join(" "));
        let before = server.memory("VmRSS");
        assert_status(
            client.call("atomic", &batch).await,
            Code::ResourceExhausted,
            Some("RESPONSE_TOO_LARGE"),
        );
        let peak = server.memory("VmHWM");
        let growth = peak.saturating_sub(before);
        assert!(
            growth < 256 << 20,
            "peak RSS grew by {} MB for a refused request",
            growth >> 20
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_method_name_gets_a_short_unimplemented() {
    let server = TestServer::tcp(&[]).await;
    let mut client = server.register("typist").await;
    let status = assert_status(
        client.call(&"m".repeat(1 << 20), "[]").await,
        Code::Unimplemented,
        Some("METHOD_NOT_FOUND"),
    );
    assert!(
        status.message().len() < 1024,
        "{} bytes",
        status.message().len()
    );
    assert!(
        status.details().len() < 2048,
        "{} bytes",
        status.details().len()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_executor_queue_refuses_at_once() {
    let server = TestServer::tcp(&[
        ("OOLOI__EXECUTOR__THREADS", "1"),
        ("OOLOI__EXECUTOR__QUEUE", "1"),
    ])
    .await;
    // A method that holds its executor thread until the test lets it go.
    let hold = Arc::new(Barrier::new(2));
    let held = Arc::clone(&hold);
    server.server().api().methods().register(Method::new(
        "test-hold",
        Category::Read,
        &[param("n", ParamKind::Any)],
        "Waits for the test",
        move |_, _| {
            held.wait();
            Ok(Value::Nil)
        },
    ));
    let mut first = server.register("holder").await;
    let mut second = server.register("waiter").await;
    let mut third = server.register("refused").await;
    let running = tokio::spawn(async move { first.call("test-hold", "[1]").await });
    // The one thread is held; one call may wait. The executor's counters say when.
    let executor = server.server().executor().clone();
    assert!(
        eventually(STEP_TIMEOUT, || executor.queued() == 0
            && executor
                .stats()
                .submitted
                .load(std::sync::atomic::Ordering::Relaxed)
                == 1)
        .await
    );
    let queued = tokio::spawn(async move {
        second
            .call("get-title", "[[] \"00000000-0000-4000-8000-000000000000\"]")
            .await
    });
    assert!(eventually(STEP_TIMEOUT, || executor.queued() == 1).await);
    let status = assert_status(
        third.call("list-pieces", "[]").await,
        Code::ResourceExhausted,
        Some("OVERLOADED"),
    );
    assert!(
        status.get_error_details().retry_info().is_some(),
        "a retry hint"
    );
    hold.wait();
    running.await.unwrap().expect("the held call finishes");
    let queued = queued.await.unwrap();
    assert_eq!(
        queued.unwrap_err().code(),
        Code::NotFound,
        "the queued call ran"
    );
    third.ok("list-pieces", "[]").await;
    server.stop().await;
}

#[test]
fn a_light_call_stays_fast_while_four_clients_send_maximal_batches() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A server of its own, so that what the test's clients do costs the server nothing.
    let server = Spawned::start(&[], &[]);
    runtime.block_on(async {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut heavy = Vec::new();
        for n in 0..4 {
            let id = format!("heavy-{n}");
            let mut client = TestClient::register(server.client().await, &id).await;
            let pid = piece_with_a_voice(&mut client).await;
            // Encoded once: the clients should cost as little as possible.
            let batch = encoded_call("atomic", &add_items(&pid, 1000));
            let (addr, stop) = (server.grpc, Arc::clone(&stop));
            heavy.push(tokio::spawn(async move {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let mut sent = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    raw_unary(
                        channel.clone(),
                        "/ooloi.OoloiService/ExecuteMethod",
                        Some(&id),
                        batch.clone(),
                    )
                    .await
                    .expect("a maximal batch succeeds");
                    sent += 1;
                }
                drop(client);
                sent
            }));
        }
        let mut light = TestClient::register(server.client().await, "light").await;
        let pid = light.new_piece("Light").await;
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let started = Instant::now();
            light.ok("get-title", &format!("[[] \"{pid}\"]")).await;
            latencies.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut batches = 0;
        for h in heavy {
            batches += h.await.unwrap();
        }
        latencies.sort();
        let p99 = latencies[latencies.len() * 99 / 100];
        assert!(
            batches >= 4,
            "the heavy clients made progress ({batches} batches)"
        );
        assert!(
            p99 < Duration::from_millis(100),
            "get-title p99 {p99:?} over {} calls next to {batches} batches of 1000",
            latencies.len()
        );
    });
}

/// The encoded `OoloiRequest` calling `method` with `params` (EDN).
fn encoded_call(method: &str, params: &str) -> Vec<u8> {
    prost::Message::encode_to_vec(&OoloiRequest {
        method: method.into(),
        params: Some(edn::parse(params).unwrap().to_proto()),
    })
}

/// Sends `message` (an encoded `OoloiRequest`) to `ExecuteMethod` over a raw HTTP/2 connection
/// with extra `headers`; returns the `grpc-status` and the body bytes.
async fn raw_grpc(
    addr: SocketAddr,
    client_id: &str,
    headers: &[(&str, &str)],
    message: Vec<u8>,
) -> (String, Bytes) {
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    raw_request(addr, client_id, headers, Bytes::from(framed)).await
}

/// Sends `body` as is (framing included) to `ExecuteMethod`; the `grpc-status` (from the
/// headers of a trailers-only answer, else from the trailers) and the body bytes.
async fn raw_request(
    addr: SocketAddr,
    client_id: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (String, Bytes) {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut request =
        http::Request::post(format!("http://{addr}/ooloi.OoloiService/ExecuteMethod"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("x-ooloi-client-id", client_id);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let header_status = response.headers().get("grpc-status").cloned();
    let collected = response.into_body().collect().await.unwrap();
    let status = header_status
        .or_else(|| {
            collected
                .trailers()
                .and_then(|t| t.get("grpc-status").cloned())
        })
        .expect("a grpc-status");
    (status.to_str().unwrap().to_string(), collected.to_bytes())
}

/// Raw HTTP/2 requests for what no generated client sends: several messages or none in a
/// unary call, a compressed flag without an encoding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_are_unimplemented() {
    let server = TestServer::tcp(&[]).await;
    let _client = server.register("raw-caller").await;
    let message = |flag: u8| {
        let body = encoded_call("list-pieces", "[]");
        let mut framed = vec![flag];
        framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        framed.extend_from_slice(&body);
        framed
    };
    let cases: [(&str, Vec<u8>); 4] = [
        ("one message (the control)", message(0)),
        ("two messages", [message(0), message(0)].concat()),
        ("no message", Vec::new()),
        ("a compressed flag without grpc-encoding", message(1)),
    ];
    for (what, body) in cases {
        let (code, _) = raw_request(server.addr(), "raw-caller", &[], Bytes::from(body)).await;
        if what.starts_with("one message") {
            assert_eq!(code, "0", "{what}");
        } else {
            assert_eq!(
                code, "12",
                "{what}: UNIMPLEMENTED (never OK, never INTERNAL)"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_nothing_in_flight_is_closed_after_the_idle_timeout() {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let server = TestServer::tcp(&[("OOLOI__LIMITS__IDLE_CONNECTION_SECONDS", "1")]).await;
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (_sender, conn) =
        hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(tcp),
        )
        .await
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the server closes the idle connection (GOAWAY)")
        .expect("a clean close");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    let stats = server
        .server()
        .connection_stats(ooloi_server::server::Listen::Grpc);
    assert!(stats.idle_closed.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // A registered client's open event stream is a request in flight: it is never idle.
    let mut client = server.register("streaming").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.ok("list-pieces", "[]").await;
    server.stop().await;
}

#[test]
fn idle_connections_are_closed_and_the_server_stays_reachable() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The test holds 1,100 sockets itself.
    let _ = rlimit::increase_nofile_limit(4096);
    let server = Spawned::start(&["prlimit", "--nofile=1024:1024", "--"], &[]);
    runtime.block_on(async {
        let mut idle = Vec::new();
        for _ in 0..1100 {
            match tokio::net::TcpStream::connect(server.grpc).await {
                Ok(stream) => idle.push(stream),
                Err(_) => break,
            }
        }
        let opened = idle.len();
        assert!(opened >= 1000, "only {opened} connections opened");
        // Each one ends: at once over the cap, after the handshake timeout (10 s) otherwise.
        let closed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut readers = tokio::task::JoinSet::new();
        for mut stream in idle {
            let closed = Arc::clone(&closed);
            readers.spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 64];
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                loop {
                    match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => {
                            closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return;
                        }
                        Ok(Ok(_)) => continue,
                        Err(_) => return,
                    }
                }
            });
        }
        while readers.join_next().await.is_some() {}
        let closed = closed.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            closed * 10 >= opened * 9,
            "{closed} of {opened} idle connections closed within 20 s"
        );
        // The server still serves: a new client, and the sidecar's /livez.
        let mut client = TestClient::register(server.client().await, "after-the-flood").await;
        client.ok("list-pieces", "[]").await;
        assert_eq!(http_status(server.http, "/livez").await, 200);
    });
    let log = server.log.lock().unwrap().join("\n");
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecar_times_out_silent_and_idle_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = config(&[("OOLOI__LIMITS__HANDSHAKE_TIMEOUT_SECONDS", "1")]);
    let server = ooloi_server::server::Server::opened(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = server.clone();
    let task = tokio::spawn(async move {
        ooloi_server::http::serve(&serving, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let closed_within = |mut stream: tokio::net::TcpStream| async move {
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the sidecar kept a connection open for 10 s"),
            }
        }
    };
    // Silent: never sends a byte.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(silent).await >= Duration::from_millis(900));
    // Half a request's headers, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    closed_within(slow).await;
    // A keep-alive connection that has been answered and then waits.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    closed_within(idle).await;
    assert!(
        server
            .connection_stats(ooloi_server::server::Listen::Http)
            .handshake_timeouts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
