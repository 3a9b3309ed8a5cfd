//! The gRPC server end to end over loopback: a real server on `127.0.0.1:0` and the generated
//! client. Registration and its confirmation event, client identity on calls, piece events
//! reaching a subscriber, error statuses with their details, and disconnect.

use ooloi_server::config::Config;
use ooloi_server::grpc;
use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{DisconnectRequest, EventMessage, OoloiRequest, RegisterClientRequest};
use ooloi_server::value::{Value, ValueLimits, edn};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request, Streaming};
use tonic_types::StatusExt;

struct TestServer {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        let config = Config::load(None, &[("OOLOI__STORE__URL".into(), "memory:".into())], &[])
            .expect("default config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = ooloi_server::server::Server::opened(config)
            .await
            .expect("opens");
        let handle = tokio::spawn(async move {
            grpc::serve(&server, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            addr,
            stop: Some(stop),
            handle,
        }
    }

    async fn client(&self) -> OoloiServiceClient<Channel> {
        OoloiServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connects")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.await.unwrap();
    }
}

fn register_request(id: &str) -> RegisterClientRequest {
    let info = edn::parse(&format!("{{:client-id \"{id}\" :display-name \"Test\"}}")).unwrap();
    RegisterClientRequest {
        client_info: Some(info.to_proto()),
    }
}

fn call(client_id: Option<&str>, method: &str, params: &str) -> Request<OoloiRequest> {
    let mut request = Request::new(OoloiRequest {
        method: method.into(),
        params: Some(edn::parse(params).unwrap().to_proto()),
    });
    if let Some(id) = client_id {
        request
            .metadata_mut()
            .insert("x-ooloi-client-id", id.parse().unwrap());
    }
    request
}

fn data(event: &EventMessage) -> Value {
    Value::from_proto(event.event_data.clone().unwrap(), &ValueLimits::default()).unwrap()
}

async fn next(stream: &mut Streaming<EventMessage>) -> EventMessage {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("an event arrives")
        .expect("the stream is healthy")
        .expect("the stream stays open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_client_edits_a_piece_and_receives_its_events() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut stream = client
        .register_client(register_request("alice"))
        .await
        .unwrap()
        .into_inner();
    let confirmed = next(&mut stream).await;
    assert_eq!(confirmed.event_type, "client-registration-confirmed");
    assert_eq!(confirmed.sequence, 1);
    assert_eq!(
        data(&confirmed).as_map().unwrap().get_keyword("client-id"),
        Some(&Value::string("alice"))
    );

    let pid = client
        .execute_method(call(Some("alice"), "new-piece", "[{:title \"Quartet\"}]"))
        .await
        .unwrap()
        .into_inner();
    assert!(pid.success && pid.error.is_empty());
    let pid = Value::from_proto(pid.result.unwrap(), &ValueLimits::default()).unwrap();
    let pid = pid.as_str().unwrap().to_string();
    client
        .execute_method(call(
            Some("alice"),
            "subscribe-to-piece-events",
            &format!("[\"{pid}\"]"),
        ))
        .await
        .unwrap();
    let result = client
        .execute_method(call(
            Some("alice"),
            "add-musician",
            &format!("[[] \"{pid}\" {{:name \"Violin I\"}}]"),
        ))
        .await
        .unwrap()
        .into_inner();
    let result = Value::from_proto(result.result.unwrap(), &ValueLimits::default()).unwrap();
    assert_eq!(
        result.as_map().unwrap().get_keyword("version"),
        Some(&Value::Int(1))
    );

    let event = next(&mut stream).await;
    assert_eq!(event.event_type, "piece-structure-changed");
    assert_eq!(event.sequence, 2, "gap-free after the confirmation");
    let event = data(&event);
    let event = event.as_map().unwrap();
    assert_eq!(event.get_keyword("piece-id"), Some(&Value::string(&pid)));
    assert_eq!(event.get_keyword("version"), Some(&Value::Int(1)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_need_a_registered_client_id() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let missing = client
        .execute_method(call(None, "list-pieces", "[]"))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    let unknown = client
        .execute_method(call(Some("nobody"), "list-pieces", "[]"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_their_status_and_reason() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut stream = client
        .register_client(register_request("bob"))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await;

    let status = client
        .execute_method(call(Some("bob"), "frobnicate", "[]"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "METHOD_NOT_FOUND"
    );

    let status = client
        .execute_method(call(Some("bob"), "add-musician", "[[] 1]"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "INVALID_PARAMS"
    );

    // A ratio with a zero denominator, sent as raw protobuf (no client library builds one).
    let mut bad = call(Some("bob"), "list-pieces", "[]");
    bad.get_mut().params = Some(ooloi_server::proto::OoloiValue {
        value_type: Some(ooloi_server::proto::ooloi_value::ValueType::RatioVal(
            ooloi_server::proto::OoloiRatio {
                numerator: 1,
                denominator: 0,
            },
        )),
    });
    let status = client.execute_method(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "INVALID_VALUE");
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "params"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_are_checked_unique_and_freed_by_disconnect() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for bad in ["ab", "", "a b", "ааа"] {
        let status = client
            .register_client(register_request(bad))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
    }
    let mut stream = client
        .register_client(register_request("carol"))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await;
    let duplicate = client
        .register_client(register_request("carol"))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let mut disconnect = Request::new(DisconnectRequest {});
    disconnect
        .metadata_mut()
        .insert("x-ooloi-client-id", "carol".parse().unwrap());
    assert!(
        client
            .disconnect(disconnect)
            .await
            .unwrap()
            .into_inner()
            .success
    );
    let mut again = Request::new(DisconnectRequest {});
    again
        .metadata_mut()
        .insert("x-ooloi-client-id", "carol".parse().unwrap());
    assert!(
        client.disconnect(again).await.unwrap().into_inner().success,
        "idempotent"
    );
    let status = client
        .execute_method(call(Some("carol"), "list-pieces", "[]"))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "a disconnected client is gone"
    );
    // The id is free again.
    let mut stream = client
        .register_client(register_request("carol"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next(&mut stream).await.event_type,
        "client-registration-confirmed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving_and_reflection_lists_the_services() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "ooloi.OoloiService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a list of services")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"ooloi.OoloiService".to_string()),
        "{names:?}"
    );
    server.stop().await;
}

/// Readiness is start-up's to set: a server that is served but not yet opened is NOT_SERVING;
/// `open` makes it SERVING, `begin_shutdown` NOT_SERVING again, and health follows each change
/// as it happens (a Watch stream sees all three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_readiness_from_start_up_to_shutdown() {
    use ooloi_server::server::Server;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let server = Server::new(
        Config::load(None, &[("OOLOI__STORE__URL".into(), "memory:".into())], &[]).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = server.clone();
    let handle = tokio::spawn(async move {
        grpc::serve(&serving, listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let check = HealthCheckRequest {
        service: "ooloi.OoloiService".into(),
    };
    let mut watch = health.watch(check.clone()).await.unwrap().into_inner();
    let mut next = async || -> i32 {
        tokio::time::timeout(std::time::Duration::from_secs(10), watch.message())
            .await
            .expect("a health update in time")
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(
        next().await,
        ServingStatus::NotServing as i32,
        "not opened yet"
    );
    assert!(!server.readiness().is_ready());
    server.open().await.expect("opens");
    assert_eq!(next().await, ServingStatus::Serving as i32);
    let status = health.check(check).await.unwrap().into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);
    server.begin_shutdown();
    assert_eq!(next().await, ServingStatus::NotServing as i32);
    // Draining ends the watch, so an open health watch cannot hold shutdown.
    let _ = stop.send(());
    let mut repeats = 0;
    loop {
        let update = tokio::time::timeout(std::time::Duration::from_secs(10), watch.message())
            .await
            .expect("the watch ends at shutdown")
            .unwrap();
        let Some(update) = update else { break };
        assert_eq!(update.status, ServingStatus::NotServing as i32);
        repeats += 1;
        assert!(repeats < 3, "the watch must end, not repeat");
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), handle)
        .await
        .expect("shutdown is not held by the watch")
        .unwrap();
}

/// A request stream of one message.
fn tokio_stream_once<T: Send + Unpin + 'static>(
    item: T,
) -> impl futures_core::Stream<Item = T> + Send + 'static {
    struct Once<T>(Option<T>);
    impl<T: Unpin> futures_core::Stream for Once<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.take())
        }
    }
    Once(Some(item))
}
