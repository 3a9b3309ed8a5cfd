//! The Prometheus metrics, rendered from the [`Server`] state at scrape time: the gRPC layer's
//! counters and histograms, the client registry's counters and gauges, the STM's counters and
//! the process. Every name starts `ooloi_server_`, durations are seconds, and every label has a
//! fixed set of values (method, code, event category, STM cause or reason), so the number of
//! series is bounded whatever clients do. Series of the request metrics appear once they have a
//! value; every other family always has its samples.

use std::time::{SystemTime, UNIX_EPOCH};

use super::exposition::{Exposition, Kind};
use super::grpc_stats::LATENCY_BUCKETS;
use super::labels::{GrpcCode, GrpcMethod};
use super::process::ProcessSample;
use crate::clients::EventCategory;
use crate::server::Server;

/// What the event queues hold now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Events waiting, over every client.
    pub total: u64,
    /// Events waiting in the fullest client queue.
    pub max: u64,
}

impl QueueDepths {
    /// Reads every client's queue length.
    pub fn of(server: &Server) -> QueueDepths {
        server
            .registry()
            .all_clients()
            .iter()
            .map(|c| c.queue().len() as u64)
            .fold(QueueDepths::default(), |d, len| QueueDepths {
                total: d.total + len,
                max: d.max.max(len),
            })
    }
}

/// Seconds since the Unix epoch of `time` (0 for a time before it).
pub fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Subscriptions now: added minus removed (both counted under the same locks that change the
/// subscription sets, so the difference is never negative for long; it is clamped at 0).
pub fn subscriptions_current(server: &Server) -> u64 {
    let stats = server.registry().stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    load(&stats.subscription_adds_total).saturating_sub(load(&stats.subscription_removes_total))
}

/// The whole `/metrics` page.
pub fn render(server: &Server) -> String {
    let mut e = Exposition::new();
    grpc(&mut e, server);
    clients(&mut e, server);
    events(&mut e, server);
    stm(&mut e, server);
    process(&mut e, server);
    e.finish()
}

/// The light page of `/health` in Prometheus form: the process and the connected clients.
pub fn render_light(server: &Server) -> String {
    let mut e = Exposition::new();
    e.single(
        "ooloi_server_clients_connected",
        "Clients registered now.",
        Kind::Gauge,
        server.registry().total() as u64,
    );
    process(&mut e, server);
    e.finish()
}

fn grpc(e: &mut Exposition, server: &Server) {
    let stats = server.grpc_stats();
    let cells = || {
        GrpcMethod::ALL
            .into_iter()
            .flat_map(|m| GrpcCode::all().map(move |c| (m, c)))
    };
    let name = "ooloi_server_grpc_requests_total";
    e.family(
        name,
        "Finished gRPC calls by method and status code (a stream counts when it ends).",
        Kind::Counter,
    );
    for (m, c) in cells() {
        let n = stats.calls(m, c);
        if n > 0 {
            e.sample(name, &[("method", m.label()), ("code", c.name())], n);
        }
    }
    let name = "ooloi_server_grpc_request_duration_seconds";
    e.family(
        name,
        "gRPC call latency by method and status code: to the end of the response for unary \
         calls, to the response headers for streams.",
        Kind::Histogram,
    );
    let bucket = format!("{name}_bucket");
    for (m, c) in cells() {
        let h = stats.latency(m, c);
        let cumulative = h.cumulative();
        let count = cumulative[LATENCY_BUCKETS.len()];
        if count == 0 {
            continue;
        }
        let (method, code) = (m.label(), c.name());
        for (bound, n) in LATENCY_BUCKETS.iter().zip(cumulative) {
            let le = super::exposition::float(*bound);
            e.sample(
                &bucket,
                &[("method", method), ("code", code), ("le", &le)],
                n,
            );
        }
        e.sample(
            &bucket,
            &[("method", method), ("code", code), ("le", "+Inf")],
            count,
        );
        e.sample(
            &format!("{name}_sum"),
            &[("method", method), ("code", code)],
            h.sum_seconds(),
        );
        e.sample(
            &format!("{name}_count"),
            &[("method", method), ("code", code)],
            count,
        );
    }
    e.single(
        "ooloi_server_api_request_bytes_total",
        "ExecuteMethod request body bytes.",
        Kind::Counter,
        stats.api_request_bytes(),
    );
    e.single(
        "ooloi_server_api_response_bytes_total",
        "ExecuteMethod response body bytes.",
        Kind::Counter,
        stats.api_response_bytes(),
    );
    e.single(
        "ooloi_server_client_registrations_rejected_total",
        "RegisterClient calls refused before the stream opened.",
        Kind::Counter,
        stats.registrations_rejected(),
    );
    e.single(
        "ooloi_server_client_auth_failures_total",
        "ExecuteMethod and Disconnect calls refused for a missing or unregistered client id.",
        Kind::Counter,
        stats.auth_failures(),
    );
}

fn clients(e: &mut Exposition, server: &Server) {
    use std::sync::atomic::Ordering::Relaxed;
    let registry = server.registry();
    let stats = registry.stats();
    e.single(
        "ooloi_server_clients_connected",
        "Clients registered now.",
        Kind::Gauge,
        registry.total() as u64,
    );
    e.single(
        "ooloi_server_clients_connected_total",
        "Client registrations accepted.",
        Kind::Counter,
        stats.clients_connected_total.load(Relaxed),
    );
    e.single(
        "ooloi_server_clients_disconnected_total",
        "Clients removed (Disconnect, lost stream or shutdown).",
        Kind::Counter,
        stats.clients_disconnected_total.load(Relaxed),
    );
    e.single(
        "ooloi_server_clients_disconnected_involuntary_total",
        "Clients removed because their stream ended without Disconnect, outside shutdown.",
        Kind::Counter,
        stats.clients_disconnected_involuntary.load(Relaxed),
    );
    e.single(
        "ooloi_server_connection_duration_seconds_total",
        "Registered time of every removed client, added up.",
        Kind::Counter,
        stats.connection_duration_micros_total.load(Relaxed) as f64 / 1e6,
    );
    e.single(
        "ooloi_server_subscriptions",
        "Piece subscriptions now, over every client.",
        Kind::Gauge,
        subscriptions_current(server),
    );
    e.single(
        "ooloi_server_subscription_adds_total",
        "Piece subscriptions added.",
        Kind::Counter,
        stats.subscription_adds_total.load(Relaxed),
    );
    e.single(
        "ooloi_server_subscription_removes_total",
        "Piece subscriptions removed (explicitly or by disconnect).",
        Kind::Counter,
        stats.subscription_removes_total.load(Relaxed),
    );
}

fn events(e: &mut Exposition, server: &Server) {
    let totals = &server.registry().stats().events;
    let name = "ooloi_server_events_queued_total";
    e.family(
        name,
        "Events accepted into a client's queue, by category.",
        Kind::Counter,
    );
    for c in EventCategory::ALL {
        e.sample(name, &[("category", c.name())], totals.queued(c));
    }
    let name = "ooloi_server_events_dropped_total";
    e.family(
        name,
        "Events dropped from a full client queue (oldest first), by category.",
        Kind::Counter,
    );
    for c in EventCategory::ALL {
        e.sample(name, &[("category", c.name())], totals.dropped(c));
    }
    e.single(
        "ooloi_server_events_refused_total",
        "Events not queued because the client was leaving.",
        Kind::Counter,
        totals.refused(),
    );
    e.single(
        "ooloi_server_events_sent_total",
        "Deliveries written to client event streams (events and overflow markers).",
        Kind::Counter,
        totals.sent(),
    );
    e.single(
        "ooloi_server_events_sent_bytes_total",
        "Bytes of the deliveries written to client event streams.",
        Kind::Counter,
        totals.bytes_sent(),
    );
    let depths = QueueDepths::of(server);
    e.single(
        "ooloi_server_event_queue_depth",
        "Events waiting in client queues now, over every client.",
        Kind::Gauge,
        depths.total,
    );
    e.single(
        "ooloi_server_event_queue_depth_max",
        "Events waiting in the fullest client queue now.",
        Kind::Gauge,
        depths.max,
    );
}

fn stm(e: &mut Exposition, server: &Server) {
    let s = server.api().stm().stats();
    let name = "ooloi_server_stm_commits_total";
    e.family(name, "STM transactions committed, by kind.", Kind::Counter);
    e.sample(name, &[("kind", "update")], s.commits);
    e.sample(name, &[("kind", "read_only")], s.read_only_commits);
    let name = "ooloi_server_stm_retries_total";
    e.family(
        name,
        "STM transaction attempts retried, by cause.",
        Kind::Counter,
    );
    e.sample(name, &[("cause", "conflict")], s.retries_conflict);
    e.sample(name, &[("cause", "read_miss")], s.retries_read_miss);
    e.sample(
        name,
        &[("cause", "lock_contention")],
        s.retries_lock_contention,
    );
    let name = "ooloi_server_stm_aborts_total";
    e.family(name, "STM transactions aborted, by reason.", Kind::Counter);
    e.sample(name, &[("reason", "user")], s.aborts_user);
    e.sample(name, &[("reason", "validation")], s.aborts_validation);
    e.sample(
        name,
        &[("reason", "retries_exhausted")],
        s.aborts_retries_exhausted,
    );
}

fn process(e: &mut Exposition, server: &Server) {
    let sample = ProcessSample::now();
    if let Some(bytes) = sample.resident_bytes {
        e.single(
            "ooloi_server_process_resident_memory_bytes",
            "Resident memory of the server process.",
            Kind::Gauge,
            bytes,
        );
    }
    e.single(
        "ooloi_server_process_start_time_seconds",
        "When the server started, seconds since the Unix epoch.",
        Kind::Gauge,
        unix_seconds(server.started_at()),
    );
    e.family(
        "ooloi_server_build_info",
        "The server's version (always 1).",
        Kind::Gauge,
    );
    e.sample(
        "ooloi_server_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1u64,
    );
}
