//! The assembled server: one [`Server`] value holds what every transport shares (the
//! configuration, the API, the client registry and its event router, the gRPC call statistics,
//! the metrics registry, readiness, and the start time), so the gRPC service, the embedded
//! transport and the HTTP sidecar all see the same state.
//!
//! Its life has three steps, and readiness follows them: [`Server::new`] builds the state, not
//! ready, and the transports may start serving it (answering NOT_SERVING); [`Server::open`]
//! checks that everything the server needs answers (later: migrations, the store, recovery)
//! and marks it ready; [`Server::begin_shutdown`] marks it not ready again, before the
//! transports drain. The transports only read readiness (gRPC health follows it); they never
//! set it. Building the state wires commits to subscribers and registers the subscription
//! methods; it starts no task and opens no socket.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::api::Api;
use crate::clients::{ClientRegistry, EventRouter};
use crate::config::{Config, ConfigError};
use crate::telemetry::GrpcStats;
use crate::telemetry::metrics::{Metrics, Sources};

/// Whether the server should receive traffic: false until [`Server::open`] has finished and
/// again from [`Server::begin_shutdown`] on. gRPC health and `/readyz` both follow it.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<watch::Sender<bool>>);

impl Default for Readiness {
    fn default() -> Self {
        Readiness(Arc::new(watch::Sender::new(false)))
    }
}

impl Readiness {
    /// Starts not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the server ready (or not).
    pub fn set(&self, ready: bool) {
        self.0.send_replace(ready);
    }

    /// Whether the server is ready.
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// A receiver that sees every change (for a transport that mirrors readiness, such as
    /// gRPC health).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }
}

/// Why the server could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The configuration breaks a rule that involves several keys.
    #[error(transparent)]
    Config(#[from] ConfigError),
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

    /// Start-up: checks that everything the server needs answers, then marks it ready.
    /// Transports may serve before and during this (health says NOT_SERVING meanwhile).
    pub async fn open(&self) -> Result<(), OpenError> {
        self.inner.config.validate()?;
        self.inner.readiness.set(true);
        Ok(())
    }

    /// [`Server::new`] and [`Server::open`] in one step.
    pub async fn opened(config: Config) -> Result<Server, OpenError> {
        let server = Server::new(config);
        server.open().await?;
        Ok(server)
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

    /// The first step of shutdown: the server is no longer ready, so load balancers stop
    /// sending traffic while the transports drain.
    pub fn begin_shutdown(&self) {
        self.inner.readiness.set(false);
    }

    /// When the server state was built.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}
