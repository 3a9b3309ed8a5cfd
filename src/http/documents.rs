//! The JSON documents of the health endpoints, built from one read of the [`Server`] state.
//! Field names are the underscored names of Ooloi's statistics (reference section 5.6).
//! Counters are integers; a ratio or an average with nothing to divide by, and a process
//! figure this platform cannot read, is `null`, never 0 (a made-up 0 would look like a fact).
//!
//! Shapes (all objects; see ARCHITECTURE.md for every field):
//! - `/health`: `{status, timestamp_unix_seconds, server: {uptime_seconds,
//!   started_at_unix_seconds, clients_connected_current, threads_current, memory:
//!   {resident_bytes}}}`;
//! - `/health/server`: the same root and `server`, plus `counters`, `gauges` and `computed`;
//! - `/health/clients`: `{tenant, timestamp_unix_seconds, clients_connected, clients: {id:
//!   client}}`;
//! - one client: `{client_id, tenant, display_name, connected_at_unix_seconds,
//!   connected_seconds, counters, computed}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::clients::{Client, EventCategory};
use crate::identity::ClientId;
use crate::server::Server;
use crate::telemetry::labels::GrpcCode;
use crate::telemetry::metrics::ProcessFigures;

/// An object from `(name, value)` pairs.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<String, Value>>(),
    )
}

/// `numerator / denominator`, or `null` when the denominator is 0.
pub fn ratio(numerator: u64, denominator: u64) -> Value {
    if denominator == 0 {
        Value::Null
    } else {
        Value::from(numerator as f64 / denominator as f64)
    }
}

/// `1 - lost / total`, or `null` when the total is 0.
fn reliability(lost: u64, total: u64) -> Value {
    if total == 0 {
        Value::Null
    } else {
        Value::from(1.0 - lost.min(total) as f64 / total as f64)
    }
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Seconds since the Unix epoch of `time` (0 for a time before it).
fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn whole_seconds(time: SystemTime) -> Value {
    Value::from(unix_seconds(time).floor() as u64)
}

/// `healthy` while the server is ready, `unhealthy` before and during shutdown.
pub fn status(server: &Server) -> &'static str {
    if server.readiness().is_ready() {
        "healthy"
    } else {
        "unhealthy"
    }
}

/// Registrations minus removals, as Ooloi computes it: never clamped, so that a negative value
/// shows a counting bug instead of hiding it.
fn clients_connected_current(server: &Server) -> i64 {
    let s = server.registry().stats();
    load(&s.clients_connected_total) as i64 - load(&s.clients_disconnected_total) as i64
}

fn server_section(server: &Server, now: SystemTime, process: ProcessFigures) -> Value {
    let uptime = now
        .duration_since(server.started_at())
        .map_or(0.0, |d| d.as_secs_f64());
    object([
        ("uptime_seconds", Value::from(uptime)),
        (
            "started_at_unix_seconds",
            whole_seconds(server.started_at()),
        ),
        (
            "clients_connected_current",
            Value::from(clients_connected_current(server)),
        ),
        ("threads_current", Value::from(process.threads)),
        (
            "memory",
            object([("resident_bytes", Value::from(process.resident_bytes))]),
        ),
    ])
}

/// `/health`: status and the light figures.
pub fn health(server: &Server, now: SystemTime) -> Value {
    object([
        ("status", Value::from(status(server))),
        ("timestamp_unix_seconds", whole_seconds(now)),
        (
            "server",
            server_section(server, now, server.metrics().process()),
        ),
    ])
}

/// `/health/server`: every server-wide counter, the gauges, and the computed values.
pub fn server(server: &Server, now: SystemTime) -> Value {
    let process = server.metrics().process();
    let registry = server.registry();
    let rs = registry.stats();
    let events = &rs.events;
    let grpc = server.grpc_stats();
    let stm = server.api().stm().stats();
    let depths = registry.queue_depths();
    let api_total = grpc.api_calls_total();
    let api_success = grpc.api_calls_success();
    let counters = object([
        (
            "clients_connected_total",
            load(&rs.clients_connected_total).into(),
        ),
        (
            "clients_disconnected_total",
            load(&rs.clients_disconnected_total).into(),
        ),
        (
            "clients_disconnected_involuntary",
            load(&rs.clients_disconnected_involuntary).into(),
        ),
        (
            "connection_duration_nanos_total",
            load(&rs.connection_duration_micros_total)
                .saturating_mul(1000)
                .into(),
        ),
        (
            "client_registrations_rejected",
            grpc.registrations_rejected().into(),
        ),
        ("client_auth_failures", grpc.auth_failures().into()),
        ("api_calls_total", api_total.into()),
        ("api_calls_success", api_success.into()),
        (
            "api_calls_failure",
            api_total.saturating_sub(api_success).into(),
        ),
        (
            "api_calls_success_duration_nanos_total",
            grpc.api_success_nanos_total().into(),
        ),
        (
            "server_events_sent",
            events.queued(EventCategory::Server).into(),
        ),
        (
            "piece_events_sent",
            events.queued(EventCategory::Piece).into(),
        ),
        (
            "connect_events_sent",
            events.queued(EventCategory::Connect).into(),
        ),
        (
            "disconnect_events_sent",
            events.queued(EventCategory::Disconnect).into(),
        ),
        ("events_sent_total", events.sent().into()),
        ("events_dropped_total", events.dropped_total().into()),
        (
            "server_events_dropped_total",
            events.dropped(EventCategory::Server).into(),
        ),
        (
            "piece_events_dropped_total",
            events.dropped(EventCategory::Piece).into(),
        ),
        (
            "connect_events_dropped_total",
            events.dropped(EventCategory::Connect).into(),
        ),
        (
            "disconnect_events_dropped_total",
            events.dropped(EventCategory::Disconnect).into(),
        ),
        ("events_refused_total", events.refused().into()),
        ("event_delivery_attempts", events.offered().into()),
        ("event_delivery_successes", events.queued_total().into()),
        ("bytes_api_requests_total", grpc.api_request_bytes().into()),
        (
            "bytes_api_responses_total",
            grpc.api_response_bytes().into(),
        ),
        ("bytes_events_total", events.bytes_sent().into()),
        (
            "client_errors_total",
            grpc.handled_where(GrpcCode::is_client_error).into(),
        ),
        (
            "server_errors_total",
            grpc.handled_where(GrpcCode::is_server_error).into(),
        ),
        (
            "timeout_errors_total",
            grpc.handled_where(|c| c == GrpcCode::DEADLINE_EXCEEDED)
                .into(),
        ),
        (
            "subscription_adds_total",
            load(&rs.subscription_adds_total).into(),
        ),
        (
            "subscription_removes_total",
            load(&rs.subscription_removes_total).into(),
        ),
        ("stm_commits_total", stm.commits.into()),
        ("stm_read_only_commits_total", stm.read_only_commits.into()),
        ("stm_retries_conflict_total", stm.retries_conflict.into()),
        ("stm_retries_read_miss_total", stm.retries_read_miss.into()),
        (
            "stm_retries_lock_contention_total",
            stm.retries_lock_contention.into(),
        ),
        ("stm_aborts_user_total", stm.aborts_user.into()),
        ("stm_aborts_validation_total", stm.aborts_validation.into()),
        (
            "stm_aborts_retries_exhausted_total",
            stm.aborts_retries_exhausted.into(),
        ),
        ("stm_history_growth_total", stm.history_growth.into()),
    ]);
    let gauges = object([
        ("clients_connected", (registry.total() as u64).into()),
        (
            "subscriptions_current",
            registry.subscriptions_current().into(),
        ),
        ("queue_size_total", depths.total.into()),
        ("queue_size_max", depths.max.into()),
        ("memory_resident_bytes", process.resident_bytes.into()),
        ("threads_current", process.threads.into()),
    ]);
    let computed = object([
        (
            "clients_connected_current",
            clients_connected_current(server).into(),
        ),
        ("api_success_rate", ratio(api_success, api_total)),
        (
            "api_success_duration_avg_nanos",
            ratio(grpc.api_success_nanos_total(), api_success),
        ),
        (
            "bytes_sent",
            grpc.api_response_bytes()
                .saturating_add(events.bytes_sent())
                .into(),
        ),
        (
            "event_delivery_reliability",
            reliability(events.dropped_total(), events.queued_total()),
        ),
    ]);
    object([
        ("status", Value::from(status(server))),
        ("timestamp_unix_seconds", whole_seconds(now)),
        ("server", server_section(server, now, process)),
        ("counters", counters),
        ("gauges", gauges),
        ("computed", computed),
    ])
}

/// One client's counters and computed values.
pub fn client(c: &Client, now: SystemTime) -> Value {
    let s = c.stats_snapshot();
    let api_success = s.api_calls_total.saturating_sub(s.api_calls_failure);
    let api_success_rate = ratio(api_success, s.api_calls_total);
    let delivery_reliability = reliability(s.events_dropped, s.events_queued);
    // The product of the two factors: 1 for a client whose calls all succeed and that missed
    // no event; unknown (null) until both are known.
    let health_score = match (api_success_rate.as_f64(), delivery_reliability.as_f64()) {
        (Some(a), Some(b)) => Value::from(a * b),
        _ => Value::Null,
    };
    let connected_at_micros = c.connected_at().max(0) as u64;
    let now_micros = unix_seconds(now) * 1e6;
    let counters = object([
        ("api_calls_total", s.api_calls_total.into()),
        ("api_calls_success", api_success.into()),
        ("api_calls_failure", s.api_calls_failure.into()),
        ("events_sent", s.events_sent.into()),
        ("events_dropped", s.events_dropped.into()),
        ("server_events_received", s.server_events_received.into()),
        ("piece_events_received", s.piece_events_received.into()),
        ("connect_events_received", s.connect_events_received.into()),
        (
            "disconnect_events_received",
            s.disconnect_events_received.into(),
        ),
        (
            "queue_offer_attempts",
            (s.events_queued + s.events_refused).into(),
        ),
        ("queue_offer_successes", s.events_queued.into()),
        (
            "queue_overflow_total_events_dropped",
            s.events_dropped.into(),
        ),
        ("bytes_events", s.bytes_events.into()),
        ("subscription_add_count", s.subscription_adds.into()),
        ("subscription_remove_count", s.subscription_removes.into()),
    ]);
    let computed = object([
        ("api_success_rate", api_success_rate),
        ("event_delivery_reliability", delivery_reliability),
        ("client_health_score", health_score),
        ("queue_size_current", s.queue_len.into()),
        (
            "subscriptions_current",
            (c.subscriptions().len() as u64).into(),
        ),
    ]);
    object([
        ("client_id", c.id().as_str().into()),
        ("tenant", Value::from(&**c.tenant())),
        ("display_name", c.display_name().into()),
        (
            "connected_at_unix_seconds",
            (connected_at_micros / 1_000_000).into(),
        ),
        (
            "connected_seconds",
            ((now_micros - connected_at_micros as f64).max(0.0) / 1e6).into(),
        ),
        ("counters", counters),
        ("computed", computed),
    ])
}

/// `/health/clients`: every client of `tenant`, keyed by client id.
pub fn clients(server: &Server, tenant: &str, now: SystemTime) -> Value {
    let clients = server.registry().clients_of(tenant);
    let by_id: Map<String, Value> = clients
        .iter()
        .map(|c| (c.id().as_str().to_owned(), client(c, now)))
        .collect();
    object([
        ("tenant", tenant.into()),
        ("timestamp_unix_seconds", whole_seconds(now)),
        ("clients_connected", (by_id.len() as u64).into()),
        ("clients", Value::Object(by_id)),
    ])
}

/// `/health/clients/{id}`: the client `id` of `tenant`, if it is registered (an id that is not
/// even valid cannot be).
pub fn client_by_id(server: &Server, tenant: &str, id: &str, now: SystemTime) -> Option<Value> {
    let id = ClientId::new(id).ok()?;
    let c = server.registry().get(tenant, &id)?;
    Some(client(&c, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::identity::Principal;

    fn server() -> Server {
        Server::new(Config::load(None, &[], &[]).unwrap())
    }

    #[test]
    fn ratios_without_data_are_null_and_counters_are_zero() {
        let s = server();
        let doc = server_doc(&s);
        assert_eq!(doc["computed"]["api_success_rate"], Value::Null);
        assert_eq!(
            doc["computed"]["api_success_duration_avg_nanos"],
            Value::Null
        );
        assert_eq!(doc["computed"]["event_delivery_reliability"], Value::Null);
        assert_eq!(doc["counters"]["api_calls_total"], Value::from(0u64));
        assert_eq!(doc["computed"]["clients_connected_current"], Value::from(0));
        assert_eq!(doc["status"], "unhealthy", "not ready yet");
        assert_eq!(ratio(1, 4), Value::from(0.25));
        assert_eq!(reliability(1, 4), Value::from(0.75));
    }

    fn server_doc(s: &Server) -> Value {
        super::server(s, SystemTime::now())
    }

    #[test]
    fn a_client_is_found_only_in_its_own_tenant_and_by_a_valid_id() {
        let s = server();
        let local = Principal::local();
        let client = s
            .router()
            .register(&local, ClientId::new("cli-1").unwrap(), None, 8)
            .unwrap();
        client.stats().record_api_call(true);
        client.stats().record_api_call(false);
        let now = SystemTime::now();
        let doc = client_by_id(&s, &local.tenant, "cli-1", now).expect("registered");
        assert_eq!(doc["client_id"], "cli-1");
        assert_eq!(doc["computed"]["api_success_rate"], Value::from(0.5));
        assert_eq!(
            doc["computed"]["event_delivery_reliability"],
            Value::from(1.0),
            "its confirmation was queued and nothing dropped"
        );
        assert_eq!(doc["computed"]["queue_size_current"], Value::from(1u64));
        assert_eq!(doc["display_name"], Value::Null);
        assert!(client_by_id(&s, "other-tenant", "cli-1", now).is_none());
        assert!(client_by_id(&s, &local.tenant, "nobody", now).is_none());
        assert!(client_by_id(&s, &local.tenant, "no such/id", now).is_none());
        let all = clients(&s, &local.tenant, now);
        assert_eq!(all["clients"]["cli-1"]["client_id"], "cli-1");
        assert_eq!(all["clients_connected"], Value::from(1u64));
    }

    #[test]
    fn a_fresh_client_has_null_rates() {
        let s = server();
        let c = s
            .registry()
            .register(
                &Principal::local(),
                ClientId::new("quiet").unwrap(),
                None,
                8,
            )
            .unwrap();
        let doc = client(&c, SystemTime::now());
        assert_eq!(doc["computed"]["api_success_rate"], Value::Null);
        assert_eq!(doc["computed"]["event_delivery_reliability"], Value::Null);
        assert_eq!(doc["computed"]["client_health_score"], Value::Null);
    }
}
