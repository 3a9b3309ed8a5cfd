//! The reference checklist (`../shared/reference/ooloi-behaviour.md` section 10, items 1-45:
//! protocol, clients, events) against the real gRPC server on `127.0.0.1:0`. Where DESIGN
//! decides differently from the reference, DESIGN wins and the table says how. Tests named
//! `grpc_acceptance::...` live in `tests/grpc_acceptance.rs` (those under `<name>::tcp` /
//! `<name>::embedded` run over both transports); the rest are in this file.
//!
//! | item | behaviour | covered by |
//! |---|---|---|
//! | 1 | exactly ExecuteMethod, RegisterClient (server stream), Disconnect, plus health | `the_service_exposes_exactly_its_three_rpcs_plus_health`, `reflection_describes_the_health_service` |
//! | 2 | ratio 3/4 stays a ratio | `values_keep_their_kinds_through_the_server`; `value_fidelity::ratio_three_quarters_stays_a_ratio_never_a_double` |
//! | 3 | keyword namespaces kept / empty | `values_keep_their_kinds_through_the_server`; `value_fidelity::namespaced_keyword_keeps_its_namespace_and_plain_keyword_has_none` |
//! | 4 | nil in vector, map value, set | `values_keep_their_kinds_through_the_server`; `value_fidelity::nil_survives_in_a_vector_as_a_map_value_and_in_a_set` |
//! | 5 | vector, list, set stay distinct | `values_keep_their_kinds_through_the_server`; `value_fidelity::vector_list_and_set_with_the_same_elements_stay_three_kinds` |
//! | 6 | unresolvable record -> plain map | DESIGN 3/4 differ: a record of an unknown type stays a record with its type name. `values_keep_their_kinds_through_the_server`; `value_fidelity::record_of_an_unknown_type_stays_a_record_with_its_type_name` |
//! | 7 | unknown method: errors as data | DESIGN 3 replaces errors-as-data by statuses: UNIMPLEMENTED + ErrorInfo `METHOD_NOT_FOUND`. `grpc_acceptance::errors_have_their_documented_statuses` |
//! | 8 | a throwing operation: errors as data | DESIGN 3: a status with ErrorInfo reason and context. `a_failing_operation_is_a_status_with_its_reason` |
//! | 9 | success=true, error="", result | `a_successful_call_sets_success_empty_error_and_the_result` |
//! | 10 | `success` always set | `a_successful_call_sets_success_empty_error_and_the_result` (failures are statuses, so a response is always a success) |
//! | 11 | no client id -> UNAUTHENTICATED, stream stays open, `client-auth-failures` +1 | `calls_without_a_registered_client_id_are_unauthenticated_and_the_stream_stays_open` (`Server::grpc_stats().auth_failures()`) |
//! | 12 | unregistered client id -> UNAUTHENTICATED | `calls_without_a_registered_client_id_are_unauthenticated_and_the_stream_stays_open` |
//! | 13 | RegisterClient needs no header | every registration in these tests sends none; `grpc_acceptance::registration_calls_subscriptions_and_events` |
//! | 14 | ids of 2 or 65 chars, `"a b!"` -> INVALID_ARGUMENT | `grpc_acceptance::client_ids_follow_the_documented_rules_and_one_id_registers_once` |
//! | 15 | ids of 3 and 64 chars accepted | `grpc_acceptance::client_ids_follow_the_documented_rules_and_one_id_registers_once` |
//! | 16 | duplicate -> ALREADY_EXISTS, rejected +1, disconnect counters unchanged | `a_duplicate_registration_is_refused_counted_and_harmless`; 63 concurrent duplicates in `grpc_acceptance::client_ids_follow_the_documented_rules_and_one_id_registers_once` |
//! | 17 | first event is the confirmation with `:client-id`, `:message`, `:server-timestamp` | `grpc_acceptance::registration_calls_subscriptions_and_events` |
//! | 18 | connect broadcast, never the client id | DESIGN 7: to the *other* clients of the tenant only, with `:client-count` and `:display-name`; no `:transport`/`:client-ip`/`:client-port` (`src/clients/router.rs` sends none). `grpc_acceptance::registration_calls_subscriptions_and_events` |
//! | 19 | in-process: no connect/disconnect broadcasts | Decided otherwise (`src/embedded.rs`, ARCHITECTURE): embedded clients are ordinary clients and get the broadcasts. `grpc_acceptance::registration_calls_subscriptions_and_events::embedded`, `grpc_acceptance::disconnect_is_idempotent_and_does_not_end_the_stream::embedded` |
//! | 20 | the server never completes a stream in normal operation | streams carry on through thousands of events and later calls: `grpc_acceptance::a_paused_subscriber_gets_the_newest_events_and_one_exact_drop_marker`, `grpc_acceptance::a_stalled_subscriber_does_not_delay_twenty_fast_ones_and_stays_bounded` |
//! | 21 | Disconnect identity only from the header | enforced by types (`DisconnectRequest` has no fields) and `disconnect_takes_its_identity_only_from_the_header` (a body naming a client disconnects nobody) |
//! | 22 | Disconnect without identity: DESIGN section 8 makes it UNAUTHENTICATED (not `success=false`) | `disconnect_takes_its_identity_only_from_the_header` |
//! | 23 | Disconnect removes, unsubscribes, broadcasts, succeeds | `grpc_acceptance::disconnect_is_idempotent_and_does_not_end_the_stream` |
//! | 24 | second Disconnect succeeds, no broadcast | `grpc_acceptance::disconnect_is_idempotent_and_does_not_end_the_stream` |
//! | 25 | Disconnect does not complete the stream | `grpc_acceptance::disconnect_is_idempotent_and_does_not_end_the_stream` |
//! | 26 | a stale stream's loss leaves the re-registered id alone, no broadcast | `grpc_acceptance::stream_loss_removes_only_its_own_registration` |
//! | 27 | stream loss removes once, counts involuntary | `grpc_acceptance::stream_loss_removes_only_its_own_registration` (`clients_disconnected_involuntary`), `grpc_acceptance::a_client_gone_without_a_fin_can_re_register_within_keepalive_interval_plus_timeout` |
//! | 28 | total >= involuntary >= timeout | `disconnect_counters_nest` (total >= involuntary; there is no timeout counter, see that test) |
//! | 29 | halting one server removes only its own entries | DESIGN: no registry is shared between servers (each `Server` owns one), so there is nothing to filter by server id. `two_servers_in_one_process_are_independent` checks that stopping one leaves the other's clients served |
//! | 30 | shutdown order, no forced termination | `grpc_acceptance::shutdown_tells_every_client_ends_streams_and_finishes_in_flight_calls` |
//! | 31 | server events reach every registered client | `grpc_acceptance::shutdown_tells_every_client_ends_streams_and_finishes_in_flight_calls` (`server-shutdown` to all) |
//! | 32 | piece events only to subscribers | `piece_events_reach_only_subscribers` |
//! | 33 | events with a bad `:type` rejected | enforced by types: events are built by the server (`EventRouter`, `model::classify`) from fixed kinds; no request can emit an event or choose its type |
//! | 34 | piece event without `:piece-id` rejected | enforced by types: piece events are built from a `PieceEvent`, whose `piece_id` is a `PieceId` |
//! | 35 | non-string `:message`/`:client-id` rejected | enforced by types: the server writes those fields itself from `&str`/`ClientId` |
//! | 36 | every event carries an epoch-µs timestamp | `grpc_acceptance::registration_calls_subscriptions_and_events` (within the call's time window) |
//! | 37 | stalled client keeps the newest 1000 | `grpc_acceptance::a_paused_subscriber_gets_the_newest_events_and_one_exact_drop_marker` (plus the exact `client-events-dropped` marker DESIGN 7 adds) |
//! | 38 | FIFO per client | `grpc_acceptance::four_writers_on_one_piece_events_exactly_once_in_commit_order`, the paused-subscriber test |
//! | 39 | one failed send does not stop later events | does not apply: an event is encoded once when created (`Event::new`), so a delivery cannot fail on its own; a transport failure ends the whole stream and is covered by items 26-27 |
//! | 40 | enqueueing to a cancelled client is skipped without error | `grpc_acceptance::stream_loss_removes_only_its_own_registration` (commits after the loss succeed); the closed queue refusing pushes is unit-tested in `src/events/queue.rs` |
//! | 41 | delivery resumes when the transport is ready again | `grpc_acceptance::a_stalled_subscriber_does_not_delay_twenty_fast_ones_and_stays_bounded` (the stalled client starts reading and receives, with no trigger) |
//! | 42 | burst of 2000+ events to several clients, bounded memory | `grpc_acceptance::a_stalled_subscriber_does_not_delay_twenty_fast_ones_and_stays_bounded` |
//! | 43 | subscribe twice idempotent, one unsubscribe revokes | `subscribing_twice_is_idempotent_and_one_unsubscribe_revokes` |
//! | 44 | last unsubscribe drops the piece and its undo stacks | does not apply: DESIGN keeps pieces in the store until deleted (subscriptions do not hold pieces) and has no undo stacks; `subscribing_twice_is_idempotent_and_one_unsubscribe_revokes` checks the piece stays |
//! | 45 | a piece held by two clients stays open when one disconnects | `a_piece_stays_open_when_one_of_two_clients_disconnects` |

mod support;

use std::sync::atomic::Ordering;

use ooloi_server::identity::ClientId;
use ooloi_server::proto::OoloiResponse;
use ooloi_server::value::{Value, edn};
use prost::Message;
use support::api::field;
use support::grpc::*;
use tonic::Code;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

fn registered(server: &TestServer, id: &str) -> bool {
    server
        .server()
        .registry()
        .get("local", &ClientId::new(id).unwrap())
        .is_some()
}

/// Just enough of `google.protobuf.FileDescriptorProto` to list services and methods.
mod descriptor {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct File {
        #[prost(string, optional, tag = "2")]
        pub package: Option<String>,
        #[prost(message, repeated, tag = "6")]
        pub service: Vec<Service>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Service {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(message, repeated, tag = "2")]
        pub method: Vec<Method>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Method {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(bool, optional, tag = "5")]
        pub client_streaming: Option<bool>,
        #[prost(bool, optional, tag = "6")]
        pub server_streaming: Option<bool>,
    }
}

/// One reflection request on a fresh stream, and its answer.
async fn reflect(channel: tonic::transport::Channel, request: MessageRequest) -> MessageResponse {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    })
    .await
    .unwrap();
    drop(tx);
    ServerReflectionClient::new(channel)
        .server_reflection_info(ReceiverStream(rx))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .expect("an answer")
}

/// The names of the services reflection lists.
async fn listed_services(channel: tonic::transport::Channel) -> Vec<String> {
    let MessageResponse::ListServicesResponse(list) =
        reflect(channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("a service list")
    };
    list.service.into_iter().map(|s| s.name).collect()
}

/// Item 1.
async fn the_service_exposes_exactly_its_three_rpcs_plus_health(t: Transport) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let server = TestServer::start(t, &[]).await;
    let channel = server.channel().await;
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "ooloi.OoloiService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let names = listed_services(channel.clone()).await;
    assert!(
        names.contains(&"ooloi.OoloiService".to_string()),
        "{names:?}"
    );

    let MessageResponse::FileDescriptorResponse(files) = reflect(
        channel,
        MessageRequest::FileContainingSymbol("ooloi.OoloiService".into()),
    )
    .await
    else {
        panic!("a file descriptor")
    };
    let mut methods = Vec::new();
    for bytes in &files.file_descriptor_proto {
        let file = descriptor::File::decode(bytes.as_slice()).unwrap();
        if file.package.as_deref() != Some("ooloi") {
            continue;
        }
        for service in file.service {
            assert_eq!(service.name.as_deref(), Some("OoloiService"));
            for m in service.method {
                methods.push((
                    m.name.unwrap(),
                    m.client_streaming.unwrap_or(false),
                    m.server_streaming.unwrap_or(false),
                ));
            }
        }
    }
    methods.sort();
    assert_eq!(
        methods,
        vec![
            ("Disconnect".to_string(), false, false),
            ("ExecuteMethod".to_string(), false, false),
            ("RegisterClient".to_string(), false, true),
        ]
    );
    server.stop().await;
}

/// Item 1, as tools see it: `grpcurl list` and `grpcurl ... grpc.health.v1.Health/Check` need
/// reflection to describe the health service too.
async fn reflection_describes_the_health_service(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let names = listed_services(server.channel().await).await;
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "reflection does not list the health service: {names:?}"
    );
    server.stop().await;
}

/// Error details as tools see them: grpcurl resolves `google.rpc.ErrorInfo` (the type of every
/// error's first detail) through reflection, under its canonical file path.
async fn reflection_describes_the_error_details(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    for (symbol, file_name) in [
        ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
        ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
        ("google.rpc.Status", "google/rpc/status.proto"),
    ] {
        let answer = reflect(
            server.channel().await,
            MessageRequest::FileContainingSymbol(symbol.into()),
        )
        .await;
        let MessageResponse::FileDescriptorResponse(files) = answer else {
            panic!("{symbol}: not found by reflection: {answer:?}")
        };
        let names: Vec<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| {
                prost_types::FileDescriptorProto::decode(bytes.as_slice())
                    .unwrap()
                    .name
                    .unwrap_or_default()
            })
            .collect();
        assert!(
            names.contains(&file_name.to_string()),
            "{symbol}: {names:?}"
        );
    }
    server.stop().await;
}

/// A request stream over a tokio channel.
struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

async fn values_keep_their_kinds_through_the_server(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut vic = server.register("vic").await;
    let pid = vic.new_piece("Values").await;
    let stored = "{:ratio 3/4 :pitch :ooloi.pitch/C4 :plain :foo \
                  :nils [nil {:k nil} #{nil 1}] \
                  :kinds [[1 2] (1 2) #{1 2}] \
                  :record #my.unknown.Type{:a 1}}";
    vic.ok(
        "add-musician",
        &format!("[[] \"{pid}\" {{:name \"Viola\" :extra {stored}}}]"),
    )
    .await;
    let musician = vic.ok("get-musician", &format!("[[] \"{pid}\" 0]")).await;
    let extra = field(&musician, "extra");
    assert_eq!(extra, &edn::parse(stored).unwrap());
    let ratio = field(extra, "ratio");
    assert!(matches!(ratio, Value::Ratio(_)), "{ratio:?}");
    let kinds = match field(extra, "kinds") {
        Value::Vector(v) => v.iter().cloned().collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(kinds[0], Value::Vector(_)));
    assert!(matches!(kinds[1], Value::List(_)));
    assert!(matches!(kinds[2], Value::Set(_)));
    assert!(matches!(field(extra, "record"), Value::Record(_)));
    server.stop().await;
}

/// Items 8, 9, 10.
async fn a_successful_call_sets_success_empty_error_and_the_result(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut ann = server.register("ann").await;
    let response: OoloiResponse = ann
        .grpc
        .execute_method(request(Some("ann"), "new-piece", "[{:title \"T\"}]"))
        .await
        .unwrap()
        .into_inner();
    assert!(response.success);
    assert_eq!(response.error, "");
    let pid = to_value(response.result.clone());
    assert!(matches!(pid, Value::String(_)), "{pid:?}");
    // `success` is written explicitly: it is on the wire (a proto3 `true`).
    assert!(response.encode_to_vec().starts_with(&[0x08, 0x01]));
    server.stop().await;
}

async fn a_failing_operation_is_a_status_with_its_reason(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut ann = server.register("ann").await;
    let missing = uuid_like();
    let status = assert_status(
        ann.call("set-title", &format!("[[] \"{missing}\" \"x\"]"))
            .await,
        Code::NotFound,
        Some("PIECE_NOT_FOUND"),
    );
    let info = tonic_types::StatusExt::get_error_details(&status)
        .error_info()
        .cloned()
        .unwrap();
    assert_eq!(info.metadata.get("piece_id"), Some(&missing));
    let pid = ann.new_piece("Real").await;
    assert_status(
        ann.call("get-musician", &format!("[[] \"{pid}\" 7]")).await,
        Code::NotFound,
        Some("VPD_NOT_FOUND"),
    );
    server.stop().await;
}

fn uuid_like() -> String {
    "0b6f9a52-3c1d-4e8f-9a7b-2d4c6e8f0a1b".to_string()
}

/// Items 11, 12.
async fn calls_without_a_registered_client_id_are_unauthenticated_and_the_stream_stays_open(
    t: Transport,
) {
    let server = TestServer::start(t, &[]).await;
    let mut ned = server.register("ned").await;
    let pid = ned.new_piece("Open").await;
    ned.subscribe(&pid).await;
    assert_eq!(server.server().grpc_stats().auth_failures(), 0);
    let mut grpc = ned.grpc.clone();
    assert_status(
        grpc.execute_method(request(None, "list-pieces", "[]"))
            .await,
        Code::Unauthenticated,
        None,
    );
    assert_status(
        grpc.execute_method(request(Some("nobody"), "list-pieces", "[]"))
            .await,
        Code::Unauthenticated,
        None,
    );
    // An invalid id in the header is refused the same way.
    assert_status(
        grpc.execute_method(request(Some("a b"), "list-pieces", "[]"))
            .await,
        Code::Unauthenticated,
        None,
    );
    // Only those calls failed: ned's stream is open and still delivers.
    ned.set_title(&pid, "Still open").await;
    assert_eq!(ned.next_event().await.event_type, "piece-structure-changed");
    // Each refusal counts as an auth failure (`client_auth_failures` on the sidecar). The
    // count is taken by a layer as the call completes, so it may trail the response briefly.
    let stats = server.server().grpc_stats().clone();
    assert!(
        eventually(STEP_TIMEOUT, || stats.auth_failures() == 3).await,
        "auth failures: {}",
        stats.auth_failures()
    );
    server.stop().await;
}

/// Item 16.
async fn a_duplicate_registration_is_refused_counted_and_harmless(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut dan = server.register("dan").await;
    let stats = server.server().registry().stats();
    let rejected = stats.client_registrations_rejected.load(Ordering::Relaxed);
    let disconnected = stats.clients_disconnected_total.load(Ordering::Relaxed);
    let mut other = server.client().await;
    assert_status(
        other.register_client(register_request("dan")).await,
        Code::AlreadyExists,
        None,
    );
    assert_eq!(
        stats.client_registrations_rejected.load(Ordering::Relaxed),
        rejected + 1
    );
    assert_eq!(
        stats.clients_disconnected_total.load(Ordering::Relaxed),
        disconnected
    );
    // The server-wide count (`client_registrations_rejected` on the sidecar) also counts
    // invalid ids, as the reference asks ("each refusal").
    assert_status(
        other.register_client(register_request("no")).await,
        Code::InvalidArgument,
        None,
    );
    let grpc_stats = server.server().grpc_stats().clone();
    assert!(
        eventually(STEP_TIMEOUT, || grpc_stats.registrations_rejected() == 2).await,
        "registrations rejected: {}",
        grpc_stats.registrations_rejected()
    );
    // The incumbent is untouched.
    let pid = dan.new_piece("Mine").await;
    dan.subscribe(&pid).await;
    dan.set_title(&pid, "Still mine").await;
    assert_eq!(dan.next_event().await.sequence, 2);
    server.stop().await;
}

/// Items 21, 22.
async fn disconnect_takes_its_identity_only_from_the_header(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let _alice = server.register("alice").await;
    let mut grpc = server.client().await;
    let status = grpc.disconnect(disconnect_request(None)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    // A body naming alice (an unknown field 1 = "alice", as an older client might send) and no
    // header: nobody is disconnected.
    let mut body = vec![0x0a, 5];
    body.extend_from_slice(b"alice");
    let raw = raw_unary_as(
        server.channel().await,
        server.bearer(),
        "/ooloi.OoloiService/Disconnect",
        None,
        body,
    )
    .await
    .unwrap_err();
    assert_eq!(raw.code(), tonic::Code::Unauthenticated, "{raw:?}");
    assert!(registered(&server, "alice"));
    server.stop().await;
}

/// Item 28 (and 27's counter).
async fn disconnect_counters_nest(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut polite = server.register("polite").await;
    let rude = server.register("rude").await;
    assert!(polite.disconnect().await.success);
    drop(rude);
    assert!(eventually(STEP_TIMEOUT, || !registered(&server, "rude")).await);
    let stats = server.server().registry().stats();
    let total = stats.clients_disconnected_total.load(Ordering::Relaxed);
    let involuntary = stats
        .clients_disconnected_involuntary
        .load(Ordering::Relaxed);
    assert_eq!((total, involuntary), (2, 1));
    // There is no `clients-disconnected-timeout` counter (a keepalive timeout is counted as
    // involuntary), so the inner inequality has nothing to check.
    server.stop().await;
}

/// Item 29.
async fn two_servers_in_one_process_are_independent(t: Transport) {
    let first = TestServer::start(t, &[]).await;
    let second = TestServer::start(t, &[]).await;
    let mut on_first = first.register("same-id").await;
    let mut on_second = second.register("same-id").await;
    let pid = on_second.new_piece("Second").await;
    on_second.subscribe(&pid).await;
    first.stop().await;
    assert_eq!(
        next_message(&mut on_first.events)
            .await
            .unwrap()
            .unwrap()
            .event_type,
        "server-shutdown"
    );
    on_second.set_title(&pid, "Still served").await;
    assert_eq!(
        on_second.next_event().await.event_type,
        "piece-structure-changed"
    );
    second.stop().await;
}

/// Item 32.
async fn piece_events_reach_only_subscribers(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut sub = server.register("subscriber").await;
    let mut bystander = server.register("bystander").await;
    assert_eq!(sub.next_event().await.event_type, "server-client-connected");
    let pid = sub.new_piece("Watched").await;
    let other = bystander.new_piece("Other").await;
    sub.subscribe(&pid).await;
    bystander.set_title(&pid, "Edited by the bystander").await;
    bystander.set_title(&other, "Unwatched").await;
    let event = sub.next_event().await;
    assert_eq!(event.event_type, "piece-structure-changed");
    assert_eq!(event.get("piece-id"), Some(&Value::string(&pid)));
    // Routing happens at commit, before the call returns: the counts are final.
    let registry = server.server().registry();
    let get = |id: &str| {
        registry
            .get("local", &ClientId::new(id).unwrap())
            .unwrap()
            .stats_snapshot()
            .piece_events_received
    };
    assert_eq!(get("subscriber"), 1);
    assert_eq!(get("bystander"), 0);
    server.stop().await;
}

/// Items 43, 44.
async fn subscribing_twice_is_idempotent_and_one_unsubscribe_revokes(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut sue = server.register("sue").await;
    let pid = sue.new_piece("Twice").await;
    sue.subscribe(&pid).await;
    sue.subscribe(&pid).await;
    assert_eq!(
        server
            .server()
            .registry()
            .subscriber_count(pid.parse().unwrap()),
        1
    );
    sue.set_title(&pid, "Once").await;
    let event = sue.next_event().await;
    assert_eq!(event.version(), 1);
    let result = sue
        .ok("unsubscribe-from-piece-events", &format!("[\"{pid}\"]"))
        .await;
    assert_eq!(field(&result, "subscribed"), &Value::Bool(false));
    assert_eq!(
        server
            .server()
            .registry()
            .subscriber_count(pid.parse().unwrap()),
        0,
        "one unsubscribe revokes"
    );
    sue.set_title(&pid, "Unheard").await;
    let entry = server
        .server()
        .registry()
        .get("local", &ClientId::new("sue").unwrap())
        .unwrap();
    assert_eq!(entry.stats_snapshot().piece_events_received, 1);
    // The piece stays in the store without subscribers.
    let pieces = sue.ok("list-pieces", "[]").await;
    assert!(format!("{pieces}").contains(&pid), "{pieces}");
    // Subscribing again resumes delivery.
    sue.subscribe(&pid).await;
    sue.set_title(&pid, "Heard").await;
    let event = sue.next_event().await;
    assert_eq!((event.sequence, event.version()), (3, 3));
    server.stop().await;
}

/// Item 45.
async fn a_piece_stays_open_when_one_of_two_clients_disconnects(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut keeper = server.register("keeper").await;
    let mut leaver = server.register("leaver").await;
    assert_eq!(
        keeper.next_event().await.event_type,
        "server-client-connected"
    );
    let pid = keeper.new_piece("Shared").await;
    keeper.subscribe(&pid).await;
    leaver.subscribe(&pid).await;
    assert!(leaver.disconnect().await.success);
    assert_eq!(
        keeper.next_event().await.event_type,
        "server-client-disconnected"
    );
    keeper.set_title(&pid, "Kept").await;
    let event = keeper.next_event().await;
    assert_eq!(event.event_type, "piece-structure-changed");
    assert_eq!(event.version(), 1);
    server.stop().await;
}

/// Runs each named `async fn(Transport)` against a server in auth mode `none` and one in auth
/// mode `jwt` (every client with a token), over TCP.
macro_rules! in_both_auth_modes {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn auth_none() {
                    super::$name(Transport::Tcp).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn auth_jwt() {
                    super::$name(Transport::TcpJwt).await
                }
            }
        )*
    };
}

in_both_auth_modes!(
    the_service_exposes_exactly_its_three_rpcs_plus_health,
    reflection_describes_the_health_service,
    reflection_describes_the_error_details,
    values_keep_their_kinds_through_the_server,
    a_successful_call_sets_success_empty_error_and_the_result,
    a_failing_operation_is_a_status_with_its_reason,
    calls_without_a_registered_client_id_are_unauthenticated_and_the_stream_stays_open,
    a_duplicate_registration_is_refused_counted_and_harmless,
    disconnect_takes_its_identity_only_from_the_header,
    disconnect_counters_nest,
    two_servers_in_one_process_are_independent,
    piece_events_reach_only_subscribers,
    subscribing_twice_is_idempotent_and_one_unsubscribe_revokes,
    a_piece_stays_open_when_one_of_two_clients_disconnects,
);
