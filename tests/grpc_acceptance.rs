//! Acceptance tests of Stage 4 (event delivery and clients over gRPC), against the real server
//! on `127.0.0.1:0` and, for the core flows, also over the embedded in-memory transport (each
//! such test runs once per transport: `<name>::tcp` and `<name>::embedded`):
//!
//! - core flows: registration with the confirmation first, calls, subscriptions and events,
//!   disconnect (idempotent, not ending the stream), stream loss removing only its own
//!   registration;
//! - four writers contending on one piece: every commit's event arrives exactly once, in commit
//!   order, with gap-free sequences;
//! - a paused subscriber: the newest 1000 events plus exactly one `client-events-dropped`
//!   marker with the exact count, and the stream stays open;
//! - client-id rules and 64 concurrent registrations of one id;
//! - a client that vanished without a FIN is removed by the HTTP/2 keepalive in time to
//!   re-register;
//! - the message size limit, an unknown method, malformed protobuf and an invalid ratio, each
//!   with its documented status;
//! - one stalled subscriber does not delay 20 fast ones, and its memory stays bounded;
//! - shutdown: every client gets `server-shutdown`, its stream ends, in-flight calls finish.
//!
//! `tests/grpc_checklist.rs` maps the reference checklist onto these and its own tests.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ooloi_server::clients::Client;
use ooloi_server::identity::{Caller, ClientId, Principal};
use ooloi_server::proto::{OoloiRatio, OoloiRequest, OoloiValue, ooloi_value::ValueType};
use ooloi_server::value::{Value, edn};
use prost::Message;
use support::grpc::*;
use tonic::Code;
use tonic::transport::Endpoint;
use tonic_types::StatusExt;

/// Runs each named `async fn(Transport)` over TCP, over the embedded transport, and over TCP to
/// a server in auth mode `jwt` (every client with a token), so Stage 4's behaviour is checked in
/// both auth modes.
macro_rules! on_both_transports {
    ($flavor:meta => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[$flavor]
                async fn tcp() {
                    super::$name(Transport::Tcp).await
                }
                #[$flavor]
                async fn embedded() {
                    super::$name(Transport::Embedded).await
                }
                #[$flavor]
                async fn tcp_jwt() {
                    super::$name(Transport::TcpJwt).await
                }
            }
        )*
    };
}

on_both_transports!(tokio::test(flavor = "multi_thread", worker_threads = 2) =>
    registration_calls_subscriptions_and_events,
    disconnect_is_idempotent_and_does_not_end_the_stream,
    stream_loss_removes_only_its_own_registration,
    four_writers_on_one_piece_events_exactly_once_in_commit_order,
    errors_have_their_documented_statuses,
    a_message_at_the_size_limit_passes_and_one_byte_more_is_refused,
    shutdown_tells_every_client_ends_streams_and_finishes_in_flight_calls,
);

// A current-thread runtime: see the test for why the numbers are then exact.
on_both_transports!(tokio::test(flavor = "current_thread") =>
    a_paused_subscriber_gets_the_newest_events_and_one_exact_drop_marker,
);

fn client_of(server: &TestServer, id: &str) -> Option<Arc<Client>> {
    server
        .server()
        .registry()
        .get("local", &ClientId::new(id).unwrap())
}

fn now_micros() -> i64 {
    ooloi_server::value::Instant::now().epoch_micros()
}

// ---------------------------------------------------------------------------------------------
// Core flows (both transports)
// ---------------------------------------------------------------------------------------------

async fn registration_calls_subscriptions_and_events(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let before = now_micros();
    let mut alice = server.register("alice").await;
    let after = now_micros();
    let confirmation = &alice.confirmation;
    assert_eq!(confirmation.get("client-id"), Some(&Value::string("alice")));
    assert_eq!(
        confirmation.get("message"),
        Some(&Value::string("Registration successful"))
    );
    match confirmation.get("server-timestamp") {
        Some(Value::Int(ts)) => assert!((before..=after).contains(ts), "{ts}"),
        other => panic!("no :server-timestamp: {other:?}"),
    }
    assert!((before..=after).contains(&confirmation.timestamp));

    // Another client joins: the others are told, without its id; it is not told about itself.
    let mut bob = server.register("bob").await;
    let joined = alice.next_event().await;
    assert_eq!(joined.event_type, "server-client-connected");
    assert_eq!(joined.sequence, 2);
    assert_eq!(joined.get("client-count"), Some(&Value::Int(2)));
    assert_eq!(joined.get("display-name"), Some(&Value::string("Test bob")));
    assert_eq!(joined.get("client-id"), None, "the id is a credential");
    let bob_entry = client_of(&server, "bob").unwrap();
    assert_eq!(
        bob_entry.stats_snapshot().connect_events_received,
        1,
        "bob got only his confirmation"
    );

    // A call, a subscription, an event to every subscriber.
    let pid = alice.new_piece("Quartet").await;
    alice.subscribe(&pid).await;
    bob.subscribe(&pid).await;
    let before = now_micros();
    let version = alice.set_title(&pid, "Quartet No. 2").await;
    let after = now_micros();
    assert_eq!(version, 1);
    for (client, sequence) in [(&mut alice, 3), (&mut bob, 2)] {
        let event = client.next_event().await;
        assert_eq!(event.event_type, "piece-structure-changed");
        assert_eq!(event.sequence, sequence, "gap-free per client");
        assert_eq!(event.get("piece-id"), Some(&Value::string(&pid)));
        assert_eq!(event.version(), 1);
        assert!((before..=after).contains(&event.timestamp));
    }
    server.stop().await;
}

async fn disconnect_is_idempotent_and_does_not_end_the_stream(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut alice = server.register("alice").await;
    let mut bob = server.register("bob").await;
    assert_eq!(
        alice.next_event().await.event_type,
        "server-client-connected"
    );
    let pid = alice.new_piece("Duo").await;
    alice.subscribe(&pid).await;
    bob.subscribe(&pid).await;
    let stats = server.server().registry().stats();
    let removed_before = stats
        .clients_disconnected_total
        .load(std::sync::atomic::Ordering::Relaxed);

    let response = bob.disconnect().await;
    assert!(
        response.success && response.error.is_empty(),
        "{response:?}"
    );
    assert!(client_of(&server, "bob").is_none(), "the entry is removed");
    assert_eq!(
        server
            .server()
            .registry()
            .subscriber_count(pid.parse().unwrap()),
        1,
        "bob is unsubscribed everywhere"
    );
    let left = alice.next_event().await;
    assert_eq!(left.event_type, "server-client-disconnected");
    assert_eq!(left.get("client-count"), Some(&Value::Int(1)));
    assert_eq!(left.get("client-id"), None);

    // Idempotent: success again, and no second broadcast.
    let again = bob.disconnect().await;
    assert!(again.success && again.error.is_empty(), "{again:?}");
    assert_eq!(
        stats
            .clients_disconnected_total
            .load(std::sync::atomic::Ordering::Relaxed),
        removed_before + 1,
        "removed exactly once"
    );
    let alice_entry = client_of(&server, "alice").unwrap();
    assert_eq!(alice_entry.stats_snapshot().disconnect_events_received, 1);

    // The disconnected id can no longer call, and no longer receives the piece's events.
    assert_status(
        bob.call("list-pieces", "[]").await,
        Code::Unauthenticated,
        None,
    );
    alice.set_title(&pid, "Duo II").await;
    assert_eq!(
        alice.next_event().await.event_type,
        "piece-structure-changed"
    );

    // Disconnect does not end the event stream (the proto contract: "Does not close the
    // client's event stream"; reference checklist item 25). Nothing more is sent to bob, so the
    // only observable is that his stream neither yields nor ends within a bounded window.
    match tokio::time::timeout(Duration::from_millis(500), bob.events.message()).await {
        Err(_) => {} // still open, nothing sent: as documented
        Ok(Ok(None)) => panic!("Disconnect ended the client's event stream (server closed it)"),
        Ok(other) => panic!("unexpected on the disconnected client's stream: {other:?}"),
    }
    server.stop().await;
}

async fn stream_loss_removes_only_its_own_registration(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let registry = server.server().registry().clone();
    let involuntary = || {
        registry
            .stats()
            .clients_disconnected_involuntary
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut watcher = server.register("watcher").await;
    let mut first = server.register("carol").await;
    assert_eq!(
        watcher.next_event().await.event_type,
        "server-client-connected"
    );
    let old = client_of(&server, "carol").unwrap();

    // carol disconnects explicitly and registers again on a new stream.
    assert!(first.disconnect().await.success);
    assert_eq!(
        watcher.next_event().await.event_type,
        "server-client-disconnected"
    );
    let mut second = server.register("carol").await;
    assert_eq!(
        watcher.next_event().await.event_type,
        "server-client-connected"
    );
    let current = client_of(&server, "carol").unwrap();
    assert_ne!(old.generation(), current.generation());
    let involuntary_before = involuntary();

    // The old stream goes away. Its server side holds the only other reference to the old
    // registration, so the count falling to 1 (ours) means the server has dropped that stream
    // and run its cleanup.
    drop(first);
    assert!(
        eventually(STEP_TIMEOUT, || Arc::strong_count(&old) == 1).await,
        "the server never dropped the lost stream"
    );
    let still = client_of(&server, "carol").expect("the new registration survives");
    assert_eq!(still.generation(), current.generation());
    second.ok("list-pieces", "[]").await;
    assert_eq!(involuntary(), involuntary_before, "nothing was removed");
    let watcher_entry = client_of(&server, "watcher").unwrap();
    assert_eq!(
        watcher_entry.stats_snapshot().disconnect_events_received,
        1,
        "no broadcast for the stale stream"
    );

    // Losing the current stream (no Disconnect) removes carol once, counted as involuntary,
    // and tells the others.
    let pid = watcher.new_piece("Solo").await;
    second.subscribe(&pid).await;
    drop(second);
    assert!(
        eventually(STEP_TIMEOUT, || client_of(&server, "carol").is_none()).await,
        "a lost stream removes its registration"
    );
    assert_eq!(involuntary(), involuntary_before + 1);
    let left = watcher.next_event().await;
    assert_eq!(left.event_type, "server-client-disconnected");
    assert_eq!(left.get("client-count"), Some(&Value::Int(1)));
    assert_eq!(
        registry.subscriber_count(pid.parse().unwrap()),
        0,
        "unsubscribed everywhere"
    );
    // The piece is still there, and commits after the loss succeed (nothing is sent to the
    // removed client, nothing fails).
    watcher.set_title(&pid, "Solo II").await;
    // The id is free again.
    let mut third = server.register("carol").await;
    third.ok("list-pieces", "[]").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: four writers contending on one piece
// ---------------------------------------------------------------------------------------------

const WRITERS: usize = 4;
const WRITES_EACH: usize = 40;

async fn four_writers_on_one_piece_events_exactly_once_in_commit_order(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut reader = server.register("reader").await;
    let mut owner = server.register("owner").await;
    let joined = reader.next_event().await;
    assert_eq!(joined.event_type, "server-client-connected");
    let pid = owner.new_piece("Contended").await;
    reader.subscribe(&pid).await;

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut writer = server.register(&format!("writer-{w}")).await;
        writers.push(tokio::spawn({
            let pid = pid.clone();
            async move {
                let mut versions = Vec::new();
                for i in 0..WRITES_EACH {
                    versions.push(writer.set_title(&pid, &format!("w{w}-{i}")).await);
                }
                // Kept alive until every event is read, so that no disconnect broadcast
                // interleaves.
                (versions, writer)
            }
        }));
    }
    let mut committed = BTreeSet::new();
    let mut finished = Vec::new();
    for writer in writers {
        let (versions, writer) = writer.await.unwrap();
        finished.push(writer);
        for v in versions {
            assert!(committed.insert(v), "version {v} returned twice");
        }
    }
    let total = WRITERS * WRITES_EACH;
    assert_eq!(committed.len(), total);

    // The reader saw the connect broadcasts of the owner and the writers, then the events.
    let mut versions = Vec::new();
    let mut last_sequence = joined.sequence;
    while versions.len() < total {
        let event = reader.next_event().await;
        assert_eq!(event.sequence, last_sequence + 1, "gap-free sequences");
        last_sequence = event.sequence;
        if event.event_type == "server-client-connected" {
            continue;
        }
        assert_eq!(event.event_type, "piece-structure-changed");
        assert_eq!(event.get("piece-id"), Some(&Value::string(&pid)));
        versions.push(event.version());
    }
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions strictly increase (commit order): {versions:?}"
    );
    let seen: BTreeSet<i64> = versions.iter().copied().collect();
    assert_eq!(seen, committed, "every commit's event, exactly once");
    assert_eq!(
        client_of(&server, "reader")
            .unwrap()
            .stats_snapshot()
            .piece_events_received,
        total as u64,
        "no event beyond one per commit"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: a paused subscriber
// ---------------------------------------------------------------------------------------------

async fn a_paused_subscriber_gets_the_newest_events_and_one_exact_drop_marker(t: Transport) {
    let server = TestServer::start(t, &[("OOLOI__EVENTS__QUEUE_CAPACITY", "1000")]).await;
    let mut pat = server.register("pat").await;
    let pid = pat.new_piece("Paused").await;
    pat.subscribe(&pid).await;
    let entry = client_of(&server, "pat").unwrap();
    assert!(entry.queue().is_empty());

    // The pause. This test runs on a current-thread runtime, and the loop below commits 1500
    // events through the server's API without ever yielding: neither the server's stream task
    // nor either end of the connection can run meanwhile, so not a single event can leave the
    // queue into transport buffers, whatever HTTP/2 flow control would allow. The subscriber has
    // therefore missed exactly 1500 events, and the queue must hold the newest 1000 and have
    // dropped exactly 500. The events then travel over the transport under test.
    let api = server.server().api();
    let caller = Caller::new(Principal::local(), Some(ClientId::new("pat").unwrap()));
    for i in 1..=1500 {
        let params = edn::parse(&format!("[[] \"{pid}\" \"take {i}\"]")).unwrap();
        api.execute(&caller, "set-title", &params).unwrap();
    }
    // Events leave the durability stage's writer task, not the committing thread. Once this
    // task yields, the writer hands all 1500 commits to the event stage in one turn (the
    // in-memory store never makes it wait), before the stream task can take anything from the
    // queue: the queue keeps the newest 1000 and drops exactly 500.
    while server.server().durability().queued() > 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        entry.queue().dropped_total(),
        500,
        "bounded by the capacity"
    );

    let marker = pat.next_event().await;
    assert_eq!(marker.event_type, "client-events-dropped");
    assert_eq!(marker.sequence, 2, "the marker comes before the next event");
    assert_eq!(marker.get("count"), Some(&Value::Int(500)));
    assert_eq!(
        marker.get("pieces"),
        Some(&Value::set([Value::string(&pid)]))
    );
    for k in 0..1000 {
        let event = pat.next_event().await;
        assert_eq!(event.event_type, "piece-structure-changed");
        assert_eq!(event.sequence, 3 + k as u64);
        assert_eq!(event.version(), 501 + k, "the newest 1000, in order");
    }
    // Exactly one marker: the stream goes on with the next event, and stays open.
    assert_eq!(pat.set_title(&pid, "after the pause").await, 1501);
    let next = pat.next_event().await;
    assert_eq!(next.event_type, "piece-structure-changed");
    assert_eq!(next.sequence, 1003);
    assert_eq!(next.version(), 1501);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: client-id rules
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_follow_the_documented_rules_and_one_id_registers_once() {
    let server = TestServer::tcp(&[]).await;
    let mut grpc = server.client().await;
    let refused = [
        ("length 2", "ab".to_string()),
        ("length 65", "a".repeat(65)),
        ("empty", String::new()),
        ("10 KB", "a".repeat(10 * 1024)),
        ("newline", "ab\ncd".to_string()),
        ("NUL", "ab\0cd".to_string()),
        ("Cyrillic look-alike", "\u{0430}lice".to_string()),
        ("space and bang", "a b!".to_string()),
    ];
    for (what, id) in &refused {
        let status = grpc
            .register_client(register_request(id))
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(
            status.message().len() < 1024,
            "{what}: the message does not echo the id"
        );
    }
    let mut accepted = Vec::new();
    for id in ["abc", &"a".repeat(64), "A-b_9"] {
        accepted.push(server.register(id).await);
    }
    assert_eq!(server.server().registry().total(), 3);

    // 64 concurrent registrations of one id: exactly one wins.
    let stats = server.server().registry().stats();
    let rejected_before = stats
        .client_registrations_rejected
        .load(std::sync::atomic::Ordering::Relaxed);
    let channel = server.channel().await;
    let mut attempts = Vec::new();
    for _ in 0..64 {
        let mut grpc = server.grpc_of(channel.clone());
        // Each task returns its stream, so the winner's registration lives until all are done.
        attempts.push(tokio::spawn(async move {
            grpc.register_client(register_request("contested")).await
        }));
    }
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }
    let won = results.iter().filter(|r| r.is_ok()).count();
    let duplicate = results
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::AlreadyExists))
        .count();
    assert_eq!((won, duplicate), (1, 63), "exactly one registration wins");
    assert_eq!(
        stats
            .client_registrations_rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        rejected_before + 63
    );
    drop(results);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: a client gone without a FIN
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_without_a_fin_can_re_register_within_keepalive_interval_plus_timeout() {
    let server = TestServer::tcp(&[
        ("OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS", "1"),
        ("OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let proxy = BlackHoleProxy::start(server.addr()).await;
    let channel = Endpoint::from_shared(format!("http://{}", proxy.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let vanishing = TestClient::register(server.grpc_of(channel), "vanishing").await;

    // The client's host disappears: no FIN, no RST, nothing answers the keepalive ping.
    proxy.black_hole();
    let black_holed_at = tokio::time::Instant::now();
    let deadline = black_holed_at + Duration::from_secs(1 + 1 + 1);
    let mut direct = server.client().await;
    let stream = loop {
        match direct.register_client(register_request("vanishing")).await {
            Ok(stream) => break stream.into_inner(),
            Err(status) => {
                assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still registered {:?} after the black hole",
                    black_holed_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut stream = stream;
    assert_eq!(
        next_event(&mut stream).await.event_type,
        "client-registration-confirmed"
    );
    assert!(
        server
            .server()
            .registry()
            .stats()
            .clients_disconnected_involuntary
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "the dead client's removal counts as involuntary"
    );
    drop(vanishing);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenarios 6 and 7: limits and error statuses (both transports)
// ---------------------------------------------------------------------------------------------

const LIMIT: usize = 4096;

/// A `new-piece` request whose encoded length is exactly `len`, padding the title.
fn request_of_length(len: usize) -> OoloiRequest {
    for pad in (len.saturating_sub(64))..len {
        let params = Value::vector([Value::map([(
            Value::keyword("title"),
            Value::string("x".repeat(pad)),
        )])]);
        let request = OoloiRequest {
            method: "new-piece".into(),
            params: Some(params.to_proto()),
        };
        if request.encoded_len() == len {
            return request;
        }
    }
    panic!("no padding gives {len} bytes");
}

async fn a_message_at_the_size_limit_passes_and_one_byte_more_is_refused(t: Transport) {
    let limit = LIMIT.to_string();
    let server = TestServer::start(t, &[("OOLOI__LIMITS__MAX_MESSAGE_BYTES", &limit)]).await;
    let mut sam = server.register("sam").await;
    let at = request_of_length(LIMIT);
    let mut call = tonic::Request::new(at);
    call.metadata_mut()
        .insert("x-ooloi-client-id", "sam".parse().unwrap());
    let response = sam.grpc.execute_method(call).await.expect("at the limit");
    assert!(response.into_inner().success);

    let over = request_of_length(LIMIT + 1);
    let mut call = tonic::Request::new(over);
    call.metadata_mut()
        .insert("x-ooloi-client-id", "sam".parse().unwrap());
    // RESOURCE_EXHAUSTED: gRPC's code for "message larger than the configured limit" (tonic
    // itself answers OUT_OF_RANGE; the server rewrites it, see src/grpc/size_limit.rs).
    let status = sam.grpc.execute_method(call).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // The refusal closes only that call. (Not `list-pieces`: listing the padded title would make
    // the response itself larger than the limit.)
    sam.ok("new-piece", "[{:title \"small\"}]").await;
    server.stop().await;
}

async fn errors_have_their_documented_statuses(t: Transport) {
    let server = TestServer::start(t, &[]).await;
    let mut eve = server.register("eve").await;

    let status = assert_status(
        eve.call("frobnicate", "[]").await,
        Code::Unimplemented,
        Some("METHOD_NOT_FOUND"),
    );
    assert!(status.message().contains("frobnicate"), "{status:?}");

    // A ratio with denominator 0 (no client library builds one; sent as raw protobuf fields).
    let params = OoloiValue {
        value_type: Some(ValueType::VectorVal(ooloi_server::proto::OoloiVector {
            elements: vec![OoloiValue {
                value_type: Some(ValueType::RatioVal(OoloiRatio {
                    numerator: 1,
                    denominator: 0,
                })),
            }],
        })),
    };
    let mut call = tonic::Request::new(OoloiRequest {
        method: "list-pieces".into(),
        params: Some(params),
    });
    call.metadata_mut()
        .insert("x-ooloi-client-id", "eve".parse().unwrap());
    let status = assert_status(
        eve.grpc.execute_method(call).await,
        Code::InvalidArgument,
        Some("INVALID_VALUE"),
    );
    let violations = status
        .get_error_details()
        .bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .clone();
    assert_eq!(violations.len(), 1);
    assert_eq!(
        violations[0].field, "params[0]",
        "the path to the bad value"
    );

    // Malformed protobuf: field 1 (method) announces 127 bytes and the message ends.
    let channel = server.channel().await;
    let result = raw_unary_as(
        channel,
        server.bearer(),
        "/ooloi.OoloiService/ExecuteMethod",
        Some("eve"),
        vec![0x0a, 0x7f, b'x'],
    )
    .await;
    assert_status(result, Code::InvalidArgument, Some("MALFORMED_REQUEST"));
    // None of these ended the client's stream or registration.
    eve.ok("list-pieces", "[]").await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 8: a stalled subscriber among 20 fast ones
// ---------------------------------------------------------------------------------------------

const FAST: usize = 20;
const BURST: usize = 2500;
const AFTER_BURST: usize = 100;
const CAPACITY: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_does_not_delay_twenty_fast_ones_and_stays_bounded() {
    let server = TestServer::tcp(&[("OOLOI__EVENTS__QUEUE_CAPACITY", "1000")]).await;
    let mut writer = server.register("writer").await;
    let pid = writer.new_piece("Burst").await;

    // The stalled client: its own connection with small HTTP/2 windows, so that once a few
    // kilobytes are in flight the server can send it nothing more and its events stay queued.
    let stalled_channel = Endpoint::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .initial_stream_window_size(Some(16 * 1024))
        .initial_connection_window_size(Some(64 * 1024))
        .connect()
        .await
        .unwrap();
    let mut stalled = TestClient::register(server.grpc_of(stalled_channel), "stalled").await;
    stalled.subscribe(&pid).await;
    let stalled_entry = client_of(&server, "stalled").unwrap();

    let total = BURST + AFTER_BURST;
    let mut readers = Vec::new();
    for r in 0..FAST {
        let mut fast = server.register(&format!("fast-{r:02}")).await;
        fast.subscribe(&pid).await;
        let confirmed = fast.confirmation.sequence;
        readers.push(tokio::spawn(async move {
            let mut last_sequence = confirmed;
            let mut version = 0;
            while version < total as i64 {
                let event = fast.next_event().await;
                assert_eq!(event.sequence, last_sequence + 1, "fast-{r}: gap-free");
                last_sequence = event.sequence;
                if event.event_type == "server-client-connected" {
                    continue;
                }
                assert_eq!(event.event_type, "piece-structure-changed", "fast-{r}");
                assert_eq!(
                    event.version(),
                    version + 1,
                    "fast-{r}: every event, in order"
                );
                version = event.version();
            }
            fast
        }));
    }

    let started = tokio::time::Instant::now();
    let mut max_queued = 0;
    for i in 1..=BURST {
        writer.set_title(&pid, &format!("burst {i}")).await;
        max_queued = max_queued.max(stalled_entry.queue().len());
    }
    // Stalled for good: the queue is full and each further event drops exactly one.
    assert!(
        eventually(STEP_TIMEOUT, || stalled_entry.queue().len() == CAPACITY).await,
        "the stalled client's queue fills up"
    );
    let dropped_after_burst = stalled_entry.queue().dropped_total();
    assert!(dropped_after_burst > 0);
    for i in 1..=AFTER_BURST {
        writer.set_title(&pid, &format!("after {i}")).await;
        max_queued = max_queued.max(stalled_entry.queue().len());
    }
    assert_eq!(
        stalled_entry.queue().dropped_total(),
        dropped_after_burst + AFTER_BURST as u64,
        "the dropped count grows with every event while stalled"
    );
    assert!(max_queued <= CAPACITY, "memory bounded by the capacity");
    assert_eq!(stalled_entry.queue().len(), CAPACITY);

    let mut fast_clients = Vec::new();
    for reader in readers {
        fast_clients.push(
            tokio::time::timeout(Duration::from_secs(30), reader)
                .await
                .expect("fast subscribers keep up within a bounded time")
                .unwrap(),
        );
    }
    let elapsed = started.elapsed();
    for fast in &fast_clients {
        let entry = client_of(&server, &fast.id).unwrap();
        assert_eq!(entry.queue().dropped_total(), 0, "{} lost nothing", fast.id);
    }
    eprintln!("{total} events to 21 subscribers in {elapsed:?}");

    // The stalled client's stream is still open: reading now yields what was in flight, then
    // one marker with exactly the dropped count, then the newest events, then new ones.
    let dropped = stalled_entry.queue().dropped_total();
    let mut version = 0;
    let mut marker_seen = false;
    let mut sequence = stalled.confirmation.sequence;
    while version < total as i64 {
        let event = stalled.next_event().await;
        assert_eq!(event.sequence, sequence + 1);
        sequence = event.sequence;
        match event.event_type.as_str() {
            "server-client-connected" => {}
            "client-events-dropped" => {
                assert!(!marker_seen, "one marker");
                marker_seen = true;
                assert_eq!(event.get("count"), Some(&Value::Int(dropped as i64)));
                assert_eq!(
                    event.get("pieces"),
                    Some(&Value::set([Value::string(&pid)]))
                );
            }
            _ => {
                let v = event.version();
                if marker_seen {
                    assert!(v > version, "in order after the marker");
                } else {
                    assert_eq!(v, version + 1, "in order before the marker");
                }
                version = v;
            }
        }
    }
    assert!(marker_seen);
    writer.set_title(&pid, "resumed").await;
    let resumed = stalled.next_event().await;
    assert_eq!(resumed.version(), total as i64 + 1);
    drop(fast_clients);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Scenario 10: shutdown (both transports)
// ---------------------------------------------------------------------------------------------

async fn shutdown_tells_every_client_ends_streams_and_finishes_in_flight_calls(t: Transport) {
    let mut server = TestServer::start(t, &[]).await;
    let mut clients = Vec::new();
    for id in ["one", "two", "three"] {
        clients.push(server.register(id).await);
    }
    // The caller of the in-flight call is registered directly in the registry (no stream), so
    // that the call's outcome depends only on in-flight handling, not on when the streams end.
    server
        .server()
        .router()
        .register(
            &Principal::local(),
            ClientId::new("in-flight").unwrap(),
            None,
            10,
        )
        .unwrap();

    // An ExecuteMethod whose HTTP/2 stream is open on the server but whose message is held.
    let channel = server.channel().await;
    let (polled_tx, polled) = tokio::sync::oneshot::channel();
    let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
    let message = OoloiRequest {
        method: "new-piece".into(),
        params: Some(edn::parse("[{:title \"Late\"}]").unwrap().to_proto()),
    }
    .encode_to_vec();
    let body = HeldBody {
        polled: Some(polled_tx),
        release: release_rx,
        message: Some(message),
    };
    let in_flight = tokio::spawn({
        let channel = channel.clone();
        let bearer = server.bearer().cloned();
        async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let mut request = tonic::Request::new(body);
            request
                .metadata_mut()
                .insert("x-ooloi-client-id", "in-flight".parse().unwrap());
            if let Some(value) = bearer {
                request.metadata_mut().insert("authorization", value);
            }
            grpc.client_streaming(
                request,
                tonic::codegen::http::uri::PathAndQuery::from_static(
                    "/ooloi.OoloiService/ExecuteMethod",
                ),
                RawCodec,
            )
            .await
        }
    });
    polled.await.expect("the request's headers were sent");
    // A round trip on the same connection after those headers: once it is answered, the server
    // has read the held call's headers (one connection, frames in order).
    let mut probe = server.grpc_of(channel);
    probe
        .execute_method(request(Some("in-flight"), "list-pieces", "[]"))
        .await
        .expect("the probe call");

    server.begin_stop();
    for client in &mut clients {
        let mut last = None;
        while let Some(event) = next_message(&mut client.events)
            .await
            .unwrap_or_else(|s| panic!("{}: the stream ends cleanly: {s:?}", client.id))
        {
            last = Some(event);
        }
        let last = last.expect("an event before the end");
        assert_eq!(last.event_type, "server-shutdown", "{}", client.id);
        assert!(matches!(last.get("message"), Some(Value::String(_))));
    }

    // The in-flight call completes after the shutdown began.
    release.send(()).unwrap();
    let response = tokio::time::timeout(STEP_TIMEOUT, in_flight)
        .await
        .expect("the in-flight call finishes")
        .unwrap()
        .expect("and succeeds");
    let response =
        ooloi_server::proto::OoloiResponse::decode(response.into_inner().as_slice()).unwrap();
    assert!(response.success, "{response:?}");
    server.stop().await;
}
