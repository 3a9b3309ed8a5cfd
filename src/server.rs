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

use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::SystemTime;

use tokio::sync::watch;

use crate::api::{Api, ApiLimits, RESPONSE_OVERHEAD};
use crate::auth::Authenticator;
use crate::clients::{ClientRegistry, EventRouter, WakeDispatch, WakeInline};
use crate::config::{AuthMode, Config, ConfigError, TenantsMode};
use crate::executor::Executor;
use crate::identity::{Principal, TenantId};
use crate::net::{self, ConnectionLimits, ConnectionStats};
use crate::store::pipeline::{DurabilityStage, StageHooks};
use crate::store::{Store, recovery};
use crate::telemetry::GrpcStats;
use crate::telemetry::metrics::{Metrics, Sources};
use crate::tenants::{Admission, Quotas, TenantRegistry};

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

/// One of the server's two listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// gRPC (`grpc.listen`).
    Grpc,
    /// The HTTP sidecar (`http.listen`).
    Http,
}

impl Listen {
    /// Its metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Listen::Grpc => "grpc",
            Listen::Http => "http",
        }
    }
}

/// Why the server could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The configuration breaks a rule that involves several keys.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Authentication cannot start: a key file is unreadable or invalid, or the crypto
    /// self-test failed.
    #[error("authentication: {0}")]
    Auth(String),
    /// The tenant seed file (`tenants.file`) is unreadable or invalid.
    #[error("tenants.file: {0}")]
    Tenants(String),
    /// The store cannot be opened, migrated or read.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Readiness follows the store: not ready while it is failed, unless shutting down.
#[derive(Debug)]
struct StoreReadiness {
    readiness: Readiness,
    shutting_down: Arc<std::sync::atomic::AtomicBool>,
}

impl StageHooks for StoreReadiness {
    fn store_available(&self, available: bool) {
        let stopping = self.shutting_down.load(std::sync::atomic::Ordering::SeqCst);
        self.readiness.set(available && !stopping);
    }
}

#[derive(Debug)]
struct Inner {
    config: Config,
    api: Api,
    router: EventRouter,
    grpc_stats: Arc<GrpcStats>,
    metrics: Metrics,
    executor: Executor,
    grpc_connections: Arc<ConnectionStats>,
    http_connections: Arc<ConnectionStats>,
    readiness: Readiness,
    /// Set by [`Server::begin_shutdown`]: the store's recovery does not make it ready again.
    shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// The durability stage every commit passes before its events.
    stage: DurabilityStage,
    /// One piece load at a time (two calls wanting the same piece load it once).
    loading: tokio::sync::Mutex<()>,
    started_at: SystemTime,
    /// Set at construction in auth mode `none`, by [`Server::open`] in mode `jwt` (it reads key
    /// files); until then requests are refused as the server not being ready.
    authenticator: OnceLock<Authenticator>,
}

/// Everything the transports share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Server {
    inner: Arc<Inner>,
}

/// Whether `method` changes the tenant registry (an admin method that is not a read): the
/// transports acknowledge it only once the change is stored.
pub fn changes_tenants(api: &Api, method: &str) -> bool {
    !method.starts_with("get-")
        && !method.starts_with("list-")
        && api
            .methods()
            .get(method)
            .is_some_and(|m| m.category == crate::api::Category::Admin)
}

/// The most pieces one call may load from the store (each load is followed by the call
/// again); a call naming more gets UNAVAILABLE `PIECE_NOT_LOADED` and may retry.
pub const MAX_LOADS_PER_CALL: usize = 10_000;

/// Fewer waiting streams than this are woken in place: a task would cost more than it saves.
const WAKE_IN_PLACE_MAX: usize = 4;

/// Wakes the streams a commit's fan-out filled from a task on the async runtime (the one the
/// server was built in), not one by one from the executor thread that ran the commit: from
/// outside, each wake-up is a cross-thread hand-off into the runtime (a lock on its queue,
/// often a worker woken); from a runtime thread, a thousand of them are local queue pushes.
/// Delivery order is unaffected: the events are already queued when the wakers go.
#[derive(Debug)]
struct RuntimeWakes(Option<tokio::runtime::Handle>);

impl WakeDispatch for RuntimeWakes {
    fn wake_all(&self, wakers: Vec<Waker>) {
        match &self.0 {
            Some(runtime)
                if wakers.len() > WAKE_IN_PLACE_MAX
                    && tokio::runtime::Handle::try_current().is_err() =>
            {
                // A runtime that has shut down drops the task; its streams are gone too.
                drop(runtime.spawn(async move { WakeInline.wake_all(wakers) }));
            }
            _ => WakeInline.wake_all(wakers),
        }
    }
}

impl Server {
    /// Builds the server state for `config`: an empty piece store, no clients, not ready.
    pub fn new(config: Config) -> Server {
        let registry = Arc::new(ClientRegistry::new());
        let wakes = RuntimeWakes(tokio::runtime::Handle::try_current().ok());
        let router = EventRouter::with_wakes(registry.clone(), Arc::new(wakes));
        let limits = ApiLimits {
            max_batch_operations: config.limits.max_batch_operations,
            max_result_bytes: config
                .limits
                .max_message_bytes
                .saturating_sub(RESPONSE_OVERHEAD),
        };
        let tenants = Arc::new(TenantRegistry::new(
            match config.tenants.mode {
                TenantsMode::Open => Admission::Open,
                TenantsMode::Registered => Admission::Registered,
            },
            TenantId::from(config.auth.platform_tenant.as_str()),
            // Quotas keep tenants from harming each other; without authentication there is one
            // local user of one tenant, bounded by the connection and executor limits instead.
            match config.auth.mode {
                AuthMode::Jwt => Quotas {
                    clients: config.quotas.clients_per_tenant,
                    pieces: config.quotas.pieces_per_tenant,
                    requests_per_second: config.quotas.requests_per_second,
                    burst: config.quotas.burst,
                },
                AuthMode::None => Quotas::UNLIMITED,
            },
        ));
        // A tenant suspended or deleted: its streams end now, with the reason.
        let clients = registry.clone();
        tenants.on_inactive(Box::new(move |tenant| {
            for client in clients.clients_of(tenant) {
                client.end_with(crate::tenants::not_active(tenant));
            }
        }));
        let stage = DurabilityStage::new(
            config.store.durability,
            config.store.max_unflushed,
            config.store.snapshot_every,
            Arc::new(router.clone()),
        );
        let api = Api::with_tenants(
            crate::stm::StmConfig::default(),
            limits,
            Arc::new(stage.clone()),
            tenants,
        );
        // Calls hand their spans on only when spans are exported.
        api.trace_calls(config.telemetry.otlp_endpoint.is_some());
        // Every change to the tenant registry is stored (behind the admin call).
        let persist = stage.clone();
        api.tenants().on_change(Box::new(move |tenant, record| {
            let body = record.map(|r| crate::value::wire::encode(&crate::api::tenant_to_value(r)));
            persist.tenant_changed(tenant, body);
        }));
        let readiness = Readiness::new();
        let shutting_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        stage.attach(
            api.clone(),
            Arc::new(StoreReadiness {
                readiness: readiness.clone(),
                shutting_down: shutting_down.clone(),
            }),
        );
        api.set_audit(Arc::new(crate::telemetry::audit::TracingAudit));
        let threads = config.executor.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        // Start-up only: without threads to run calls on there is no server to build.
        let executor = Executor::new(threads, config.executor.queue)
            .unwrap_or_else(|e| panic!("cannot start the executor's threads: {e}"));
        crate::clients::methods::register(api.methods(), registry.clone());
        let grpc_stats = Arc::new(GrpcStats::new());
        let grpc_connections = Arc::new(ConnectionStats::default());
        let http_connections = Arc::new(ConnectionStats::default());
        let metrics = Metrics::new(Sources {
            grpc: grpc_stats.clone(),
            clients: registry,
            api: api.clone(),
            executor: executor.clone(),
            connections: vec![
                (Listen::Grpc.label(), grpc_connections.clone()),
                (Listen::Http.label(), http_connections.clone()),
            ],
            max_tenant_series: config.telemetry.max_tenant_series,
            store: stage.clone(),
        });
        let authenticator = OnceLock::new();
        if config.auth.mode == AuthMode::None {
            let _ = authenticator.set(Authenticator::None(Principal::local()));
        }
        Server {
            inner: Arc::new(Inner {
                config,
                api,
                router,
                grpc_stats,
                metrics,
                executor,
                grpc_connections,
                http_connections,
                readiness,
                shutting_down,
                stage,
                loading: tokio::sync::Mutex::new(()),
                started_at: SystemTime::now(),
                authenticator,
            }),
        }
    }

    /// Start-up: opens the store `store.url` names, then [`Server::open_with_store`].
    pub async fn open(&self) -> Result<(), OpenError> {
        self.inner.config.validate()?;
        if let Some(store) = self.inner.stage.store() {
            // Opened before (open() called twice): only the rest is checked again.
            return self.open_with_store(store.clone()).await;
        }
        let store = crate::store::open(&self.inner.config.store.url).await?;
        self.open_with_store(store).await
    }

    /// Start-up with a store already opened: migrations, a store ping, the tenant seed,
    /// authentication keys, recovery of every stored piece, and only then readiness.
    /// Transports may serve before and during this (health says NOT_SERVING meanwhile).
    pub async fn open_with_store(&self, store: Arc<dyn Store>) -> Result<(), OpenError> {
        self.inner.config.validate()?;
        if self.inner.stage.store().is_none() {
            store.migrate().await?;
            store.ping().await?;
            // Stored tenants first: they win over the seed file (a suspension survives).
            for (id, body) in store.tenants().await? {
                let record =
                    crate::value::wire::decode(&body, &crate::value::ValueLimits::default())
                        .map_err(|e| e.to_string())
                        .and_then(|v| crate::api::tenant_from_value(&v).map_err(|e| e.to_string()))
                        .map_err(|e| OpenError::Tenants(format!("stored tenant {id}: {e}")))?;
                let registered = crate::tenants::TenantRecord {
                    registered: true,
                    ..record
                };
                self.inner.api.tenants().restore(registered);
            }
            let recovered = recovery::recover_all(&*store, &self.inner.api).await?;
            tracing::info!(
                target: "ooloi_server::store",
                backend = store.backend(),
                pieces = recovered.pieces,
                damaged = recovered.failed.len(),
                "recovered: stored pieces load on first use"
            );
            if self.inner.config.store.durability == crate::config::Durability::Async {
                tracing::warn!(
                    target: "ooloi_server::store",
                    max_unflushed = self.inner.config.store.max_unflushed,
                    "durability = async: writes are acknowledged before they are durable; a crash \
                     loses at most store.max_unflushed acknowledged commits \
                     (ooloi_server_store_queued_records shows how many wait now)"
                );
            }
            self.inner.stage.open(store);
            self.spawn_evictor();
        }
        if let Some(path) = &self.inner.config.tenants.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| OpenError::Tenants(format!("cannot read {}: {e}", path.display())))?;
            for record in crate::api::tenant_records_from_toml(&text)
                .map_err(|e| OpenError::Tenants(format!("{}: {e}", path.display())))?
            {
                // A record already there (open() called twice) is kept as it is.
                if self.inner.api.tenants().get(&record.id).is_none() {
                    self.inner
                        .api
                        .tenants()
                        .create(record)
                        .map_err(|e| OpenError::Tenants(format!("{}: {e}", path.display())))?;
                }
            }
        }
        if self.inner.authenticator.get().is_none() {
            let authenticator = Authenticator::with_tenants(
                &self.inner.config,
                Some(Arc::clone(self.inner.api.tenants())),
            )
            .map_err(OpenError::Auth)?;
            authenticator
                .fetch_remote_keys()
                .await
                .map_err(OpenError::Auth)?;
            let _ = self.inner.authenticator.set(authenticator);
        }
        self.inner.readiness.set(true);
        Ok(())
    }

    /// Loads a piece the store holds but memory does not (a call got
    /// [`crate::error::Error::PieceNotLoaded`]); returns once it is in memory, refused as
    /// damaged, or gone.
    pub async fn load_piece(
        &self,
        piece: crate::model::PieceId,
    ) -> Result<(), crate::error::Error> {
        let _one_at_a_time = self.inner.loading.lock().await;
        let Some(store) = self.inner.stage.store() else {
            return Err(crate::error::Error::NotReady {
                message: "the store is not open yet".into(),
            });
        };
        recovery::load(&**store, &self.inner.api, piece)
            .await
            .map(|_| ())
    }

    /// Runs `attempt` (one call of the API), and while it fails only because a piece is not in
    /// memory, loads that piece and runs it again: at most [`MAX_LOADS_PER_CALL`] loads, and
    /// none after `deadline`. Both transports call through it.
    pub async fn with_loads<T, F, Fut>(
        &self,
        deadline: Option<std::time::Instant>,
        mut attempt: F,
    ) -> Result<T, crate::error::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::error::Error>>,
    {
        let mut loads = 0;
        loop {
            match attempt().await {
                Err(e)
                    if loads < MAX_LOADS_PER_CALL
                        && deadline.is_none_or(|d| std::time::Instant::now() < d) =>
                {
                    let Some(piece) = e.piece_to_load() else {
                        return Err(e);
                    };
                    loads += 1;
                    self.load_piece(piece).await?;
                }
                outcome => return outcome,
            }
        }
    }

    /// Waits until a call of `method` whose commits `durable` tracks may be acknowledged:
    /// its commits are durable and, if it changed tenants, so are those changes.
    pub async fn acknowledged(
        &self,
        method: &str,
        durable: crate::api::Durable,
    ) -> Result<(), crate::error::Error> {
        durable.await?;
        if changes_tenants(&self.inner.api, method) {
            self.inner.stage.tenants_durable().await?;
        }
        Ok(())
    }

    /// Calls `method` as [`Api::execute_durably`] does, loading the pieces it needs from the
    /// store first, and returns once the call may be acknowledged (for in-process callers).
    pub async fn execute(
        &self,
        caller: &crate::identity::Caller,
        method: &str,
        params: &crate::value::Value,
    ) -> Result<crate::value::Value, crate::error::Error> {
        let (value, durable) = self
            .with_loads(None, || async {
                self.inner.api.execute_durably(caller, method, params, None)
            })
            .await?;
        self.acknowledged(method, durable).await?;
        Ok(value)
    }

    /// Every few seconds, takes out of memory the pieces no call used for
    /// `store.evict_idle_seconds` and nobody is subscribed to. Stops with the server.
    fn spawn_evictor(&self) {
        let idle_ms = self
            .inner
            .config
            .store
            .evict_idle_seconds
            .saturating_mul(1000);
        let period = std::time::Duration::from_millis((idle_ms / 4).clamp(250, 30_000));
        let server = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = server.upgrade() else {
                    return;
                };
                if inner
                    .shutting_down
                    .load(std::sync::atomic::Ordering::SeqCst)
                {
                    return;
                }
                let mut evicted = 0;
                // Never while a piece loads: an eviction and a load of one piece must not
                // interleave their commit-order resets.
                let _no_loads = inner.loading.lock().await;
                for (piece, idle) in inner.api.loaded_pieces() {
                    if idle >= idle_ms
                        && inner.router.registry().subscribers(piece).is_empty()
                        && inner
                            .api
                            .evict(piece, inner.stage.durable_version_of(piece))
                    {
                        evicted += 1;
                    }
                }
                if evicted > 0 {
                    tracing::debug!(target: "ooloi_server::store", evicted, "idle pieces left memory");
                }
            }
        });
    }

    /// [`Server::new`] and [`Server::open`] in one step.
    pub async fn opened(config: Config) -> Result<Server, OpenError> {
        let server = Server::new(config);
        server.open().await?;
        Ok(server)
    }

    /// How requests are authenticated; `None` until [`Server::open`] has read the keys.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.inner.authenticator.get()
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

    /// The executor domain calls run on.
    pub fn executor(&self) -> &Executor {
        &self.inner.executor
    }

    /// What a listener allows: the configured cap, or one derived from this process's file
    /// descriptor limit (the sidecar's cap is taken out of the gRPC listener's budget), and the
    /// handshake and idle timeouts.
    pub fn connection_limits(&self, listen: Listen) -> ConnectionLimits {
        let limits = &self.inner.config.limits;
        let http_cap = self.inner.config.http.max_connections;
        let max_connections = match listen {
            Listen::Http => http_cap,
            Listen::Grpc => limits
                .max_connections
                .unwrap_or_else(|| net::derived_cap(net::fd_limit(), http_cap)),
        };
        ConnectionLimits {
            max_connections,
            handshake_timeout: limits.handshake_timeout(),
            idle_timeout: limits.idle_connection(),
        }
    }

    /// What happened to a listener's connections.
    pub fn connection_stats(&self, listen: Listen) -> &Arc<ConnectionStats> {
        match listen {
            Listen::Grpc => &self.inner.grpc_connections,
            Listen::Http => &self.inner.http_connections,
        }
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
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.readiness.set(false);
    }

    /// The last step of shutdown, after the transports drained: every queued commit is
    /// written (with `durability = async`, the acknowledged ones too), then the store closes.
    pub async fn close_store(&self) {
        self.inner.stage.flush(true).await;
        if let Some(store) = self.inner.stage.store() {
            store.close().await;
        }
    }

    /// The durability stage (its store, counters and snapshots).
    pub fn durability(&self) -> &DurabilityStage {
        &self.inner.stage
    }

    /// When the server state was built.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_out_from_outside_the_runtime_wakes_every_waiting_task() {
        // Ten tasks wait, each having handed out its waker; a plain thread (as an executor
        // thread would) wakes them all through the dispatcher, which defers to the runtime.
        let (give, take) = std::sync::mpsc::channel();
        let mut waiting = Vec::new();
        for _ in 0..10 {
            let give = give.clone();
            waiting.push(tokio::spawn(async move {
                let mut parked = false;
                std::future::poll_fn(move |cx| {
                    if parked {
                        return Poll::Ready(());
                    }
                    parked = true;
                    give.send(cx.waker().clone())
                        .expect("the test holds the receiver");
                    Poll::Pending
                })
                .await;
            }));
        }
        let wakers = tokio::task::spawn_blocking(move || {
            (0..10)
                .map(|_| take.recv().expect("every task hands out its waker"))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let wakes = RuntimeWakes(Some(tokio::runtime::Handle::current()));
        std::thread::spawn(move || wakes.wake_all(wakers))
            .join()
            .unwrap();
        for task in waiting {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("woken within 10 s")
                .unwrap();
        }
    }
}
