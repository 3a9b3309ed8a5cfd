//! The server's own `prometheus` collectors. Each reads the atomics where the server already
//! counts (the gRPC layer's [`GrpcStats`], the client registry's counters, the STM's) when
//! Prometheus scrapes, and nothing is copied in between.
//!
//! - [`GrpcCollector`]: the go-grpc-prometheus series (`grpc_server_started_total`,
//!   `grpc_server_handled_total`, `grpc_server_handling_seconds`,
//!   `grpc_server_msg_received_total`, `grpc_server_msg_sent_total`; labels `grpc_type`,
//!   `grpc_service`, `grpc_method` and, on `handled`, `grpc_code`), plus the API byte counts,
//!   refused registrations and authentication failures as `ooloi_server_*`. As
//!   go-grpc-prometheus does, every series of the server's own methods exists from the start
//!   (at 0), so rates and ratios are defined before the first call; series of unknown paths
//!   appear when they happen.
//! - [`ClientsCollector`]: clients, subscriptions, events and queue depths (`ooloi_server_*`).
//! - [`StmCollector`]: STM commits, retries and aborts (`ooloi_server_stm_*`).
//! - [`ExecutorCollector`]: the executor's threads, queue and refusals
//!   (`ooloi_server_executor_*`).
//! - [`ConnectionsCollector`]: each listener's connections: open, accepted, refused over the
//!   cap, timed out, closed idle, failed accepts (`ooloi_server_connections_*{listener}`).
//!
//! - [`TenantsCollector`]: per registered tenant, up to `telemetry.max_tenant_series` of them:
//!   clients connected, pieces, calls admitted and calls refused by the request quota
//!   (`ooloi_server_tenant_*{tenant}`).
//!
//! Every label takes its values from a fixed set, so the number of series does not depend on
//! what clients send (tenant labels come only from records the platform operator created, and
//! are capped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

use super::family::Family;
use super::grpc_stats::{GrpcStats, LATENCY_BUCKETS};
use super::labels::{GrpcCode, GrpcMethod};
use crate::api::Api;
use crate::clients::{ClientRegistry, EventCategory};
use crate::executor::Executor;
use crate::net::ConnectionStats;
use crate::store::pipeline::DurabilityStage;
use crate::tenants::TenantFigures;

/// The `descs` of a collector: every family's descriptor.
fn descs<'a>(families: impl IntoIterator<Item = &'a Family>) -> Vec<&'a Desc> {
    families.into_iter().map(Family::desc).collect()
}

/// The gRPC server series and the transport's API statistics.
#[derive(Debug)]
pub struct GrpcCollector {
    stats: Arc<GrpcStats>,
    started: Family,
    handled: Family,
    handling: Family,
    received: Family,
    sent: Family,
    request_bytes: Family,
    response_bytes: Family,
    registrations_rejected: Family,
    auth_failures: Family,
}

const GRPC_LABELS: [&str; 3] = ["grpc_type", "grpc_service", "grpc_method"];

impl GrpcCollector {
    /// A collector reading `stats`.
    pub fn new(stats: Arc<GrpcStats>) -> Self {
        let with_code = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"];
        GrpcCollector {
            stats,
            started: Family::counter(
                "grpc_server_started_total",
                "Total number of RPCs started on the server.",
                &GRPC_LABELS,
            ),
            handled: Family::counter(
                "grpc_server_handled_total",
                "Total number of RPCs completed on the server, regardless of success or failure.",
                &with_code,
            ),
            handling: Family::histogram(
                "grpc_server_handling_seconds",
                "Histogram of response latency (seconds) of gRPC that had been application-level \
                 handled by the server (for a stream: its whole life).",
                &GRPC_LABELS,
            ),
            received: Family::counter(
                "grpc_server_msg_received_total",
                "Total number of RPC stream messages received on the server.",
                &GRPC_LABELS,
            ),
            sent: Family::counter(
                "grpc_server_msg_sent_total",
                "Total number of gRPC stream messages sent by the server.",
                &GRPC_LABELS,
            ),
            request_bytes: Family::counter(
                "ooloi_server_api_request_bytes_total",
                "ExecuteMethod request body bytes.",
                &[],
            ),
            response_bytes: Family::counter(
                "ooloi_server_api_response_bytes_total",
                "ExecuteMethod response body bytes.",
                &[],
            ),
            registrations_rejected: Family::counter(
                "ooloi_server_client_registrations_rejected_total",
                "RegisterClient calls refused before the stream opened.",
                &[],
            ),
            auth_failures: Family::counter(
                "ooloi_server_client_auth_failures_total",
                "ExecuteMethod and Disconnect calls refused as UNAUTHENTICATED.",
                &[],
            ),
        }
    }

    fn families(&self) -> [&Family; 9] {
        [
            &self.started,
            &self.handled,
            &self.handling,
            &self.received,
            &self.sent,
            &self.request_bytes,
            &self.response_bytes,
            &self.registrations_rejected,
            &self.auth_failures,
        ]
    }

    /// One sample per method of `family`, from `value`; an unknown path only once it happened.
    fn per_method(&self, family: &Family, value: impl Fn(GrpcMethod) -> u64) -> MetricFamily {
        let samples = GrpcMethod::ALL
            .into_iter()
            .filter_map(|m| {
                let n = value(m);
                (m != GrpcMethod::Unknown || n > 0).then(|| {
                    family.sample(&[m.grpc_type().label(), m.service(), m.name()], n as f64)
                })
            })
            .collect();
        family.with(samples)
    }
}

impl Collector for GrpcCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs(self.families())
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s = &self.stats;
        let mut handled = Vec::new();
        let mut handling = Vec::new();
        for m in GrpcMethod::ALL {
            let labels = [m.grpc_type().label(), m.service(), m.name()];
            for c in GrpcCode::all() {
                let n = s.handled(m, c);
                if m != GrpcMethod::Unknown || n > 0 {
                    let with_code = [labels[0], labels[1], labels[2], c.name()];
                    handled.push(self.handled.sample(&with_code, n as f64));
                }
            }
            let h = s.handling(m);
            let cumulative = h.cumulative();
            if m != GrpcMethod::Unknown || cumulative[LATENCY_BUCKETS.len()] > 0 {
                handling.push(self.handling.histogram_sample(
                    &labels,
                    &LATENCY_BUCKETS,
                    &cumulative,
                    h.sum_seconds(),
                ));
            }
        }
        vec![
            self.per_method(&self.started, |m| s.started(m)),
            self.handled.with(handled),
            self.handling.with(handling),
            self.per_method(&self.received, |m| s.msg_received(m)),
            self.per_method(&self.sent, |m| s.msg_sent(m)),
            self.request_bytes.single(s.api_request_bytes() as f64),
            self.response_bytes.single(s.api_response_bytes() as f64),
            self.registrations_rejected
                .single(s.registrations_rejected() as f64),
            self.auth_failures.single(s.auth_failures() as f64),
        ]
    }
}

/// Clients, subscriptions, events and queues.
#[derive(Debug)]
pub struct ClientsCollector {
    registry: Arc<ClientRegistry>,
    families: [Family; 15],
}

impl ClientsCollector {
    /// A collector reading `registry`.
    pub fn new(registry: Arc<ClientRegistry>) -> Self {
        let c = |name: &str, help: &str| Family::counter(name, help, &[]);
        let g = |name: &str, help: &str| Family::gauge(name, help, &[]);
        let by_category = |name: &str, help: &str| Family::counter(name, help, &["category"]);
        ClientsCollector {
            registry,
            families: [
                g("ooloi_server_clients_connected", "Clients registered now."),
                c(
                    "ooloi_server_clients_connected_total",
                    "Client registrations accepted.",
                ),
                c(
                    "ooloi_server_clients_disconnected_total",
                    "Clients removed (Disconnect, lost stream or shutdown).",
                ),
                c(
                    "ooloi_server_clients_disconnected_involuntary_total",
                    "Clients removed because their stream ended without Disconnect, outside \
                     shutdown.",
                ),
                c(
                    "ooloi_server_connection_duration_seconds_total",
                    "Registered time of every removed client, added up.",
                ),
                g(
                    "ooloi_server_subscriptions",
                    "Piece subscriptions now, over every client.",
                ),
                c(
                    "ooloi_server_subscription_adds_total",
                    "Piece subscriptions added.",
                ),
                c(
                    "ooloi_server_subscription_removes_total",
                    "Piece subscriptions removed (explicitly or by disconnect).",
                ),
                by_category(
                    "ooloi_server_events_queued_total",
                    "Events accepted into a client's queue, by category.",
                ),
                by_category(
                    "ooloi_server_events_dropped_total",
                    "Events dropped from a full client queue (oldest first), by category.",
                ),
                c(
                    "ooloi_server_events_refused_total",
                    "Events not queued because the client was leaving.",
                ),
                c(
                    "ooloi_server_events_sent_total",
                    "Deliveries written to client event streams (events and overflow markers).",
                ),
                c(
                    "ooloi_server_events_sent_bytes_total",
                    "Bytes of the deliveries written to client event streams.",
                ),
                g(
                    "ooloi_server_event_queue_depth",
                    "Events waiting in client queues now, over every client.",
                ),
                g(
                    "ooloi_server_event_queue_depth_max",
                    "Events waiting in the fullest client queue now.",
                ),
            ],
        }
    }
}

impl Collector for ClientsCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs(&self.families)
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let registry = &self.registry;
        let stats = registry.stats();
        let events = &stats.events;
        let load = |a: &AtomicU64| a.load(Relaxed) as f64;
        let depths = registry.queue_depths();
        let by_category = |family: &Family, value: &dyn Fn(EventCategory) -> u64| {
            family.with(
                EventCategory::ALL
                    .into_iter()
                    .map(|c| family.sample(&[c.name()], value(c) as f64))
                    .collect(),
            )
        };
        let [
            connected,
            connected_total,
            disconnected_total,
            involuntary,
            duration,
            subscriptions,
            adds,
            removes,
            queued,
            dropped,
            refused,
            sent,
            sent_bytes,
            depth,
            depth_max,
        ] = &self.families;
        vec![
            connected.single(registry.total() as f64),
            connected_total.single(load(&stats.clients_connected_total)),
            disconnected_total.single(load(&stats.clients_disconnected_total)),
            involuntary.single(load(&stats.clients_disconnected_involuntary)),
            duration.single(load(&stats.connection_duration_micros_total) / 1e6),
            subscriptions.single(registry.subscriptions_current() as f64),
            adds.single(load(&stats.subscription_adds_total)),
            removes.single(load(&stats.subscription_removes_total)),
            by_category(queued, &|c| events.queued(c)),
            by_category(dropped, &|c| events.dropped(c)),
            refused.single(events.refused() as f64),
            sent.single(events.sent() as f64),
            sent_bytes.single(events.bytes_sent() as f64),
            depth.single(depths.total as f64),
            depth_max.single(depths.max as f64),
        ]
    }
}

/// STM commits, retries and aborts.
#[derive(Debug)]
pub struct StmCollector {
    api: Api,
    commits: Family,
    retries: Family,
    aborts: Family,
}

impl StmCollector {
    /// A collector reading the STM of `api`.
    pub fn new(api: Api) -> Self {
        StmCollector {
            api,
            commits: Family::counter(
                "ooloi_server_stm_commits_total",
                "STM transactions committed, by kind.",
                &["kind"],
            ),
            retries: Family::counter(
                "ooloi_server_stm_retries_total",
                "STM transaction attempts retried, by cause.",
                &["cause"],
            ),
            aborts: Family::counter(
                "ooloi_server_stm_aborts_total",
                "STM transactions aborted, by reason.",
                &["reason"],
            ),
        }
    }
}

impl Collector for StmCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs([&self.commits, &self.retries, &self.aborts])
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s = self.api.stm().stats();
        let samples = |family: &Family, values: &[(&str, u64)]| {
            family.with(
                values
                    .iter()
                    .map(|(label, n)| family.sample(&[label], *n as f64))
                    .collect(),
            )
        };
        vec![
            samples(
                &self.commits,
                &[("update", s.commits), ("read_only", s.read_only_commits)],
            ),
            samples(
                &self.retries,
                &[
                    ("conflict", s.retries_conflict),
                    ("read_miss", s.retries_read_miss),
                    ("lock_contention", s.retries_lock_contention),
                ],
            ),
            samples(
                &self.aborts,
                &[
                    ("user", s.aborts_user),
                    ("validation", s.aborts_validation),
                    ("retries_exhausted", s.aborts_retries_exhausted),
                ],
            ),
        ]
    }
}

/// The executor domain calls run on.
#[derive(Debug)]
pub struct ExecutorCollector {
    executor: Executor,
    threads: Family,
    queued: Family,
    capacity: Family,
    submitted: Family,
    rejected: Family,
}

impl ExecutorCollector {
    /// A collector reading `executor`.
    pub fn new(executor: Executor) -> Self {
        ExecutorCollector {
            executor,
            threads: Family::gauge(
                "ooloi_server_executor_threads",
                "Threads that run domain calls.",
                &[],
            ),
            queued: Family::gauge(
                "ooloi_server_executor_queue_depth",
                "Calls waiting for an executor thread now.",
                &[],
            ),
            capacity: Family::gauge(
                "ooloi_server_executor_queue_capacity",
                "Calls that may wait for an executor thread (executor.queue).",
                &[],
            ),
            submitted: Family::counter(
                "ooloi_server_executor_calls_total",
                "Calls accepted by the executor.",
                &[],
            ),
            rejected: Family::counter(
                "ooloi_server_executor_rejected_total",
                "Calls refused with RESOURCE_EXHAUSTED because the executor's queue was full.",
                &[],
            ),
        }
    }
}

impl Collector for ExecutorCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs([
            &self.threads,
            &self.queued,
            &self.capacity,
            &self.submitted,
            &self.rejected,
        ])
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let e = &self.executor;
        let stats = e.stats();
        vec![
            self.threads.single(e.threads() as f64),
            self.queued.single(e.queued() as f64),
            self.capacity.single(e.capacity() as f64),
            self.submitted.single(stats.submitted.load(Relaxed) as f64),
            self.rejected.single(stats.rejected.load(Relaxed) as f64),
        ]
    }
}

/// The store's durability stage: records, groups (store transactions), append time, failures,
/// what waits, whether the store is available, snapshots.
#[derive(Debug)]
pub struct StoreCollector {
    stage: DurabilityStage,
    families: [Family; 8],
}

impl StoreCollector {
    /// A collector reading `stage`.
    pub fn new(stage: DurabilityStage) -> Self {
        let c = |name: &str, help: &str| Family::counter(name, help, &[]);
        let g = |name: &str, help: &str| Family::gauge(name, help, &[]);
        StoreCollector {
            stage,
            families: [
                c(
                    "ooloi_server_store_records_total",
                    "Commit records made durable.",
                ),
                c(
                    "ooloi_server_store_appends_total",
                    "Store transactions that appended a group of records (one fsync each).",
                ),
                c(
                    "ooloi_server_store_append_seconds_total",
                    "Time spent in store appends; divided by appends, the mean append latency.",
                ),
                c(
                    "ooloi_server_store_errors_total",
                    "Store writes that failed (each makes the server refuse writes until the store recovers).",
                ),
                g(
                    "ooloi_server_store_queued_records",
                    "Commit records waiting for the store now.",
                ),
                g(
                    "ooloi_server_store_available",
                    "1 while the store takes writes, 0 after a failure until it recovered.",
                ),
                c(
                    "ooloi_server_store_snapshots_total",
                    "Piece snapshots written.",
                ),
                c(
                    "ooloi_server_store_snapshot_errors_total",
                    "Piece snapshots that failed (the log is kept).",
                ),
            ],
        }
    }
}

impl Collector for StoreCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs(self.families.iter())
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let stats = self.stage.stats();
        let values = [
            stats.records.load(Relaxed) as f64,
            stats.groups.load(Relaxed) as f64,
            stats.append_us.load(Relaxed) as f64 / 1e6,
            stats.failures.load(Relaxed) as f64,
            self.stage.queued() as f64,
            if self.stage.is_failed() { 0.0 } else { 1.0 },
            stats.snapshots.load(Relaxed) as f64,
            stats.snapshot_failures.load(Relaxed) as f64,
        ];
        self.families
            .iter()
            .zip(values)
            .map(|(family, value)| family.single(value))
            .collect()
    }
}

/// Each listener's connections.
#[derive(Debug)]
pub struct ConnectionsCollector {
    listeners: Vec<(&'static str, Arc<ConnectionStats>)>,
    families: [Family; 6],
}

impl ConnectionsCollector {
    /// A collector reading `listeners` (label value, statistics).
    pub fn new(listeners: Vec<(&'static str, Arc<ConnectionStats>)>) -> Self {
        let by_listener = |name: &str, help: &str| Family::counter(name, help, &["listener"]);
        ConnectionsCollector {
            listeners,
            families: [
                Family::gauge(
                    "ooloi_server_connections_open",
                    "Connections open now, by listener.",
                    &["listener"],
                ),
                by_listener(
                    "ooloi_server_connections_accepted_total",
                    "Connections accepted and served, by listener.",
                ),
                by_listener(
                    "ooloi_server_connections_refused_total",
                    "Connections closed at once because the listener was at its cap.",
                ),
                by_listener(
                    "ooloi_server_connections_handshake_timeouts_total",
                    "Connections closed for not completing their handshake in time.",
                ),
                by_listener(
                    "ooloi_server_connections_idle_closed_total",
                    "Connections closed after the idle timeout with no request in flight.",
                ),
                by_listener(
                    "ooloi_server_connections_accept_errors_total",
                    "Failed accepts (each backed off), by listener.",
                ),
            ],
        }
    }
}

impl Collector for ConnectionsCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs(&self.families)
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let read: [fn(&ConnectionStats) -> &AtomicU64; 6] = [
            |s| &s.open,
            |s| &s.accepted,
            |s| &s.refused,
            |s| &s.handshake_timeouts,
            |s| &s.idle_closed,
            |s| &s.accept_errors,
        ];
        self.families
            .iter()
            .zip(read)
            .map(|(family, read)| {
                family.with(
                    self.listeners
                        .iter()
                        .map(|(name, stats)| {
                            family.sample(&[name], read(stats).load(Relaxed) as f64)
                        })
                        .collect(),
                )
            })
            .collect()
    }
}

/// Per registered tenant: clients, pieces, calls admitted and throttled.
#[derive(Debug)]
pub struct TenantsCollector {
    api: Api,
    clients: Arc<ClientRegistry>,
    max: usize,
    connected: Family,
    pieces: Family,
    admitted: Family,
    throttled: Family,
}

impl TenantsCollector {
    /// A collector of the first `max` registered tenants of `api`'s registry.
    pub fn new(api: Api, clients: Arc<ClientRegistry>, max: usize) -> Self {
        TenantsCollector {
            api,
            clients,
            max,
            connected: Family::gauge(
                "ooloi_server_tenant_clients_connected",
                "Clients connected now, per registered tenant.",
                &["tenant"],
            ),
            pieces: Family::gauge(
                "ooloi_server_tenant_pieces",
                "Pieces, per registered tenant.",
                &["tenant"],
            ),
            admitted: Family::counter(
                "ooloi_server_tenant_calls_total",
                "Calls admitted, per registered tenant.",
                &["tenant"],
            ),
            throttled: Family::counter(
                "ooloi_server_tenant_calls_throttled_total",
                "Calls refused by the tenant's request quota, per registered tenant.",
                &["tenant"],
            ),
        }
    }
}

impl Collector for TenantsCollector {
    fn desc(&self) -> Vec<&Desc> {
        descs([
            &self.connected,
            &self.pieces,
            &self.admitted,
            &self.throttled,
        ])
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let figures = self.api.tenants().figures(self.max);
        let pieces = self.api.pieces_per_tenant();
        let each = |family: &Family, value: &dyn Fn(&TenantFigures) -> f64| {
            family.with(
                figures
                    .iter()
                    .map(|f| family.sample(&[f.tenant.as_str()], value(f)))
                    .collect(),
            )
        };
        vec![
            each(&self.connected, &|f| self.clients.count(&f.tenant) as f64),
            each(&self.pieces, &|f| {
                pieces.get(&f.tenant).copied().unwrap_or(0) as f64
            }),
            each(&self.admitted, &|f| f.admitted as f64),
            each(&self.throttled, &|f| f.throttled as f64),
        ]
    }
}
