//! The harness of the gRPC acceptance tests (`tests/grpc_acceptance.rs`,
//! `tests/grpc_checklist.rs`): a real server on `127.0.0.1:0` or over the embedded in-memory
//! transport, started from a configuration map; clients that register and read their
//! confirmation; calls written as EDN; `next_event` with a bounded timeout; event data decoded
//! to [`Value`]; a raw-bytes codec for sending bytes that are not a valid message; a TCP proxy
//! that can black-hole a connection; and a deadline-bounded wait.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut};
use ooloi_server::config::Config;
use ooloi_server::embedded::Embedded;
use ooloi_server::grpc::{self, BoxError};
use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{
    DisconnectRequest, DisconnectResponse, EventMessage, OoloiRequest, OoloiValue,
    RegisterClientRequest,
};
use ooloi_server::server::Server;
use ooloi_server::value::{Value, ValueLimits, edn};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};
use tonic_types::StatusExt;

/// How long any single expected event or call may take before the test fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Which transport a test runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// gRPC over TCP on `127.0.0.1:0`.
    Tcp,
    /// The embedded in-memory transport (`ooloi_server::embedded`).
    Embedded,
    /// gRPC over TCP to a server in auth mode `jwt`; every generated client sends a token of
    /// user `local` in tenant `local` with role `admin` (what auth mode `none` grants).
    TcpJwt,
}

/// The settings of a jwt-mode test server (quotas out of the way: the tests measure behaviour,
/// not the request bucket).
pub const JWT_PAIRS: [(&str, &str); 7] = [
    ("OOLOI__AUTH__MODE", "jwt"),
    (
        "OOLOI__AUTH__HS256_SECRET",
        "0123456789abcdef0123456789abcdef",
    ),
    ("OOLOI__AUTH__ISSUER", "https://idp.test"),
    ("OOLOI__AUTH__AUDIENCE", "ooloi"),
    ("OOLOI__QUOTAS__REQUESTS_PER_SECOND", "4294967295"),
    ("OOLOI__QUOTAS__BURST", "4294967295"),
    ("OOLOI__QUOTAS__CLIENTS_PER_TENANT", "4294967295"),
];

/// Adds the bearer token of a jwt-mode test server to every call (none for other servers).
#[derive(Clone, Debug)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl Bearer {
    /// No token (a server in auth mode `none`).
    pub fn none() -> Bearer {
        Bearer(None)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The generated client the harness hands out.
pub type Grpc =
    OoloiServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// A configuration from `OOLOI__...` pairs (never the process environment).
pub fn config(pairs: &[(&str, &str)]) -> Config {
    // In memory unless the test names a store: nothing is left on disk.
    let env: Vec<(String, String)> = std::iter::once(("OOLOI__STORE__URL", "memory:"))
        .chain(pairs.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(None, &env, &[]).expect("a valid test configuration")
}

/// A running server over one transport. Stop it with [`TestServer::stop`]; dropped, it stops
/// by itself (its shutdown channel closes).
#[derive(Debug)]
pub struct TestServer {
    transport: Transport,
    server: Server,
    addr: Option<SocketAddr>,
    embedded: Option<Embedded>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), BoxError>>>,
    bearer: Bearer,
}

impl TestServer {
    /// Starts a server over `transport` with the configuration `pairs`.
    pub async fn start(transport: Transport, pairs: &[(&str, &str)]) -> TestServer {
        let mut all: Vec<(&str, &str)> = Vec::new();
        let mut bearer = Bearer(None);
        if transport == Transport::TcpJwt {
            all.extend(JWT_PAIRS);
            let token = super::jwt::hs256(&serde_json::json!({
                "iss": "https://idp.test", "aud": "ooloi", "sub": "local", "tenant": "local",
                "roles": ["admin"], "exp": super::jwt::now() + 3600,
            }));
            bearer = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
        }
        all.extend(pairs);
        let server = Server::opened(config(&all))
            .await
            .expect("the server opens");
        match transport {
            Transport::Tcp | Transport::TcpJwt => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let (stop, stopped) = oneshot::channel::<()>();
                let serving = server.clone();
                let task = tokio::spawn(async move {
                    grpc::serve(&serving, listener, async {
                        let _ = stopped.await;
                    })
                    .await
                });
                TestServer {
                    transport,
                    server,
                    addr: Some(addr),
                    embedded: None,
                    stop: Some(stop),
                    task: Some(task),
                    bearer,
                }
            }
            Transport::Embedded => {
                let embedded = ooloi_server::embedded::start_with(server.clone())
                    .await
                    .expect("the embedded server starts");
                TestServer {
                    transport,
                    server,
                    addr: None,
                    embedded: Some(embedded),
                    stop: None,
                    task: None,
                    bearer,
                }
            }
        }
    }

    /// A TCP server with the configuration `pairs`.
    pub async fn tcp(pairs: &[(&str, &str)]) -> TestServer {
        Self::start(Transport::Tcp, pairs).await
    }

    /// The transport it runs over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The server state (registry, API).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The TCP address (TCP servers only).
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a TCP server")
    }

    /// A channel to the server: a new connection over TCP; the embedded channel (one shared
    /// connection) otherwise.
    pub async fn channel(&self) -> Channel {
        match self.transport {
            Transport::Tcp | Transport::TcpJwt => {
                Endpoint::from_shared(format!("http://{}", self.addr()))
                    .unwrap()
                    .connect()
                    .await
                    .expect("connects")
            }
            Transport::Embedded => self.embedded.as_ref().unwrap().channel(),
        }
    }

    /// A generated client on a fresh [`TestServer::channel`].
    pub async fn client(&self) -> Grpc {
        self.grpc_of(self.channel().await)
    }

    /// A generated client over `channel`, sending this server's token if it has one.
    pub fn grpc_of(&self, channel: Channel) -> Grpc {
        OoloiServiceClient::with_interceptor(channel, self.bearer.clone())
    }

    /// The `authorization` value its clients send (jwt-mode servers only).
    pub fn bearer(&self) -> Option<&tonic::metadata::AsciiMetadataValue> {
        self.bearer.0.as_ref()
    }

    /// Registers `id` on a fresh channel and reads its confirmation.
    pub async fn register(&self, id: &str) -> TestClient {
        TestClient::register(self.client().await, id).await
    }

    /// Begins shutdown (as SIGTERM does) without waiting for it to finish.
    pub fn begin_stop(&mut self) {
        self.server.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(embedded) = self.embedded.take() {
            self.task = Some(tokio::spawn(embedded.shutdown()));
        }
    }

    /// Shuts down and waits (bounded) until the server has stopped.
    pub async fn stop(mut self) {
        self.begin_stop();
        let finished = async {
            if let Some(task) = self.task.take() {
                task.await
                    .expect("the server task")
                    .expect("serves cleanly");
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, finished)
            .await
            .expect("the server stops in time");
    }
}

/// The request that registers `id` (display name "Test <id>").
pub fn register_request(id: &str) -> RegisterClientRequest {
    let info = Value::map([
        (Value::keyword("client-id"), Value::string(id)),
        (
            Value::keyword("display-name"),
            Value::string(format!("Test {id}")),
        ),
    ]);
    RegisterClientRequest {
        client_info: Some(info.to_proto()),
    }
}

/// A call of `method` with `params` (EDN), naming `client_id` in the metadata if given.
pub fn request(client_id: Option<&str>, method: &str, params: &str) -> Request<OoloiRequest> {
    let mut request = Request::new(OoloiRequest {
        method: method.into(),
        params: Some(edn::parse(params).expect("valid EDN").to_proto()),
    });
    if let Some(id) = client_id {
        request
            .metadata_mut()
            .insert("x-ooloi-client-id", id.parse().unwrap());
    }
    request
}

/// A `Disconnect` naming `client_id` in the metadata, if given.
pub fn disconnect_request(client_id: Option<&str>) -> Request<DisconnectRequest> {
    let mut request = Request::new(DisconnectRequest {});
    if let Some(id) = client_id {
        request
            .metadata_mut()
            .insert("x-ooloi-client-id", id.parse().unwrap());
    }
    request
}

/// A received protobuf value as a [`Value`].
pub fn to_value(v: Option<OoloiValue>) -> Value {
    Value::from_proto(v.expect("a value"), &ValueLimits::default()).expect("a valid value")
}

/// One received event, with its data decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub event_type: String,
    pub timestamp: i64,
    pub sequence: u64,
    pub data: Value,
}

impl Received {
    /// Decodes a received `EventMessage`.
    pub fn decode(message: EventMessage) -> Received {
        Received {
            event_type: message.event_type,
            timestamp: message.timestamp,
            sequence: message.sequence,
            data: to_value(message.event_data),
        }
    }

    /// The data's `key` (a keyword name), if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data
            .as_map()
            .expect("event data is a map")
            .get_keyword(key)
    }

    /// The data's `:version`.
    pub fn version(&self) -> i64 {
        match self.get("version") {
            Some(Value::Int(v)) => *v,
            other => panic!("no integer :version in {:?}: {other:?}", self.data),
        }
    }
}

/// The next message of `stream` within [`STEP_TIMEOUT`]; `None` if the stream ended.
pub async fn next_message(
    stream: &mut Streaming<EventMessage>,
) -> Result<Option<Received>, Status> {
    tokio::time::timeout(STEP_TIMEOUT, stream.message())
        .await
        .expect("the stream yields within the step timeout")
        .map(|m| m.map(Received::decode))
}

/// The next event of `stream` within [`STEP_TIMEOUT`]; fails if the stream ends or errs.
pub async fn next_event(stream: &mut Streaming<EventMessage>) -> Received {
    next_message(stream)
        .await
        .expect("the stream is healthy")
        .expect("the stream stays open")
}

/// True if `stream` yields nothing (neither an event nor its end) within `window`. Only for
/// asserting that something does *not* happen.
pub async fn quiet_for(stream: &mut Streaming<EventMessage>, window: Duration) -> bool {
    tokio::time::timeout(window, stream.message())
        .await
        .is_err()
}

/// The `ErrorInfo.reason` of a status (empty if it has none).
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// Asserts `result` failed with `code` and, if given, the ErrorInfo `reason`.
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    expected_reason: Option<&str>,
) -> Status {
    let status = result.expect_err("the call fails");
    assert_eq!(status.code(), code, "{status:?}");
    if let Some(r) = expected_reason {
        assert_eq!(reason(&status), r, "{status:?}");
    }
    status
}

/// Polls `condition` until it holds or `within` has passed; returns whether it held.
pub async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A registered client: its generated client, id and event stream.
#[derive(Debug)]
pub struct TestClient {
    pub id: String,
    pub grpc: Grpc,
    pub events: Streaming<EventMessage>,
    /// The confirmation it received first.
    pub confirmation: Received,
}

impl TestClient {
    /// Registers `id` through `grpc` and reads the confirmation, which must come first.
    pub async fn register(mut grpc: Grpc, id: &str) -> TestClient {
        let mut events =
            tokio::time::timeout(STEP_TIMEOUT, grpc.register_client(register_request(id)))
                .await
                .expect("registration answers in time")
                .unwrap_or_else(|s| panic!("registering {id:?}: {s:?}"))
                .into_inner();
        let confirmation = next_event(&mut events).await;
        assert_eq!(confirmation.event_type, "client-registration-confirmed");
        assert_eq!(confirmation.sequence, 1);
        TestClient {
            id: id.to_string(),
            grpc,
            events,
            confirmation,
        }
    }

    /// Calls `method` with `params` (EDN) as this client.
    pub async fn call(&mut self, method: &str, params: &str) -> Result<Value, Status> {
        let response = tokio::time::timeout(
            STEP_TIMEOUT,
            self.grpc
                .execute_method(request(Some(&self.id), method, params)),
        )
        .await
        .expect("the call answers in time")?
        .into_inner();
        assert!(
            response.success && response.error.is_empty(),
            "{response:?}"
        );
        Ok(to_value(response.result))
    }

    /// Calls `method` and expects success.
    pub async fn ok(&mut self, method: &str, params: &str) -> Value {
        self.call(method, params)
            .await
            .unwrap_or_else(|s| panic!("{method} {params}: {s:?}"))
    }

    /// Creates a piece titled `title`; returns its id.
    pub async fn new_piece(&mut self, title: &str) -> String {
        let pid = self
            .ok("new-piece", &format!("[{{:title \"{title}\"}}]"))
            .await;
        pid.as_str().expect("a piece id string").to_string()
    }

    /// Subscribes to `pid`'s events.
    pub async fn subscribe(&mut self, pid: &str) {
        self.ok("subscribe-to-piece-events", &format!("[\"{pid}\"]"))
            .await;
    }

    /// Sets `pid`'s title (one `piece-structure-changed` if it changes); returns the version.
    pub async fn set_title(&mut self, pid: &str, title: &str) -> i64 {
        let result = self
            .ok("set-title", &format!("[[] \"{pid}\" \"{title}\"]"))
            .await;
        match result.as_map().and_then(|m| m.get_keyword("version")) {
            Some(Value::Int(v)) => *v,
            other => panic!("set-title returned no version: {other:?}"),
        }
    }

    /// Disconnects this client (explicitly).
    pub async fn disconnect(&mut self) -> DisconnectResponse {
        self.grpc
            .disconnect(disconnect_request(Some(&self.id)))
            .await
            .expect("disconnect answers")
            .into_inner()
    }

    /// Its next event.
    pub async fn next_event(&mut self) -> Received {
        next_event(&mut self.events).await
    }
}

/// A codec that sends and receives raw message bytes, for sending what no generated client
/// would (malformed protobuf, unknown fields).
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

#[derive(Debug)]
pub struct RawEncoder;

#[derive(Debug)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// Sends `body` as the raw message of a unary call to `path` (e.g.
/// `/ooloi.OoloiService/ExecuteMethod`), naming `client_id` if given.
pub async fn raw_unary(
    channel: Channel,
    path: &'static str,
    client_id: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    raw_unary_as(channel, None, path, client_id, body).await
}

/// [`raw_unary`] with `authorization: bearer` when given ([`TestServer::bearer`]).
pub async fn raw_unary_as(
    channel: Channel,
    bearer: Option<&tonic::metadata::AsciiMetadataValue>,
    path: &'static str,
    client_id: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let mut request = Request::new(body);
    if let Some(value) = bearer {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
    }
    if let Some(id) = client_id {
        request
            .metadata_mut()
            .insert("x-ooloi-client-id", id.parse().unwrap());
    }
    grpc.unary(
        request,
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

/// A request body of one message that is sent only when released: the HTTP/2 stream (headers)
/// is opened at once, `polled` fires when the transport first asks for the body, and the
/// message follows when `release` fires. Makes a call that is in flight on the server.
#[derive(Debug)]
pub struct HeldBody {
    pub polled: Option<oneshot::Sender<()>>,
    pub release: oneshot::Receiver<()>,
    pub message: Option<Vec<u8>>,
}

impl futures_core::Stream for HeldBody {
    type Item = Vec<u8>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        if let Some(polled) = self.polled.take() {
            let _ = polled.send(());
        }
        if self.message.is_none() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.release).poll(cx) {
            Poll::Ready(_) => Poll::Ready(self.message.take()),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A TCP proxy on `127.0.0.1:0` in front of `upstream` that can, on command, stop forwarding in
/// both directions while keeping both sockets open (a peer that vanished without a FIN).
#[derive(Debug)]
pub struct BlackHoleProxy {
    pub addr: SocketAddr,
    hole: watch::Sender<bool>,
}

impl BlackHoleProxy {
    /// Starts the proxy. Its tasks end with the test's runtime.
    pub async fn start(upstream: SocketAddr) -> BlackHoleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (hole, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (a, b) = (Arc::new(inbound), Arc::new(outbound));
                let (w1, w2) = (watching.clone(), watching.clone());
                tokio::spawn(async move {
                    // When either direction ends (a real close), both sockets are dropped.
                    tokio::select! {
                        _ = pump(a.clone(), b.clone(), w1) => {}
                        _ = pump(b, a, w2) => {}
                    }
                });
            }
        });
        BlackHoleProxy { addr, hole }
    }

    /// From now on nothing is forwarded either way; the sockets stay open.
    pub fn black_hole(&self) {
        let _ = self.hole.send(true);
    }
}

/// Copies `from` to `to` until either closes, or forever stops copying once black-holed.
async fn pump(from: Arc<TcpStream>, to: Arc<TcpStream>, mut hole: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if *hole.borrow() {
            // Hold both sockets open and never read or write again.
            std::future::pending::<()>().await;
        }
        tokio::select! {
            ready = from.readable() => if ready.is_err() { return },
            _ = hole.changed() => continue,
        }
        let n = match from.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        if *hole.borrow() {
            continue;
        }
        let mut written = 0;
        while written < n {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buf[written..n]) {
                Ok(k) => written += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}
