//! The assembled server: one [`Server`] value holds what every transport shares (the
//! configuration, the API, the client registry and its event router, the gRPC call statistics,
//! readiness, and the start time), so the gRPC service, the embedded transport and the HTTP
//! sidecar all see the same state. Building it wires commits to subscribers and registers the subscription methods; it
//! starts no task and opens no socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::api::Api;
use crate::clients::{ClientRegistry, EventRouter};
use crate::config::Config;
use crate::telemetry::GrpcStats;
use crate::telemetry::metrics::{Metrics, Sources};

/// Whether the server should receive traffic: false until start-up has finished (later: the
/// store migrated and answering) and again from the shutdown signal on. gRPC health and
/// `/readyz` both read it.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Starts not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the server ready (or not).
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    /// Whether the server is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct Inner {
    config: Config,
    api: Api,
    router: EventRouter,
    grpc_stats: Arc<GrpcStats>,
    metrics: Metrics,
    readiness: Readiness,
    started_at: SystemTime,
}

/// Everything the transports share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Server {
    inner: Arc<Inner>,
}

impl Server {
    /// Builds the server state for `config`: an empty piece store, no clients, not ready.
    pub fn new(config: Config) -> Server {
        let registry = Arc::new(ClientRegistry::new());
        let router = EventRouter::new(registry.clone());
        let api = Api::new(crate::stm::StmConfig::default(), Arc::new(router.clone()));
        crate::clients::methods::register(api.methods(), registry.clone());
        let grpc_stats = Arc::new(GrpcStats::new());
        let metrics = Metrics::new(Sources {
            grpc: grpc_stats.clone(),
            clients: registry,
            api: api.clone(),
        });
        Server {
            inner: Arc::new(Inner {
                config,
                api,
                router,
                grpc_stats,
                metrics,
                readiness: Readiness::new(),
                started_at: SystemTime::now(),
            }),
        }
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The method API.
    pub fn api(&self) -> &Api {
        &self.inner.api
    }

    /// The event router (and through it the client registry).
    pub fn router(&self) -> &EventRouter {
        &self.inner.router
    }

    /// The connected clients and their subscriptions.
    pub fn registry(&self) -> &Arc<ClientRegistry> {
        self.inner.router.registry()
    }

    /// What the gRPC layer counted (calls by method and code, latencies, API statistics).
    pub fn grpc_stats(&self) -> &Arc<GrpcStats> {
        &self.inner.grpc_stats
    }

    /// The Prometheus registry and the process figures.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Readiness, shared by gRPC health and `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.inner.readiness
    }

    /// When the server state was built.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}
