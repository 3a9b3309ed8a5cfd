//! The configuration's types: [`Config`] and one struct per section, with the documented
//! defaults. Parsing lives in [`super::keys`] (one entry per key) and [`super::layers`] (the
//! layering); nothing here reads the process or a file.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::value::ValueLimits;

/// The whole server configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[grpc]`: the gRPC listener and its HTTP/2 hardening.
    pub grpc: GrpcConfig,
    /// `[http]`: the metrics and health sidecar.
    pub http: HttpConfig,
    /// `[store]`: persistence.
    pub store: StoreConfig,
    /// `[auth]`: authentication.
    pub auth: AuthConfig,
    /// `[events]`: event delivery.
    pub events: EventsConfig,
    /// `[tenants]`: which tenants exist.
    pub tenants: TenantsConfig,
    /// `[quotas]`: what each tenant may use, unless its record says otherwise.
    pub quotas: QuotasConfig,
    /// `[limits]`: limits on incoming values, messages, calls and connections.
    pub limits: LimitsConfig,
    /// `[executor]`: where domain calls run.
    pub executor: ExecutorConfig,
    /// `[telemetry]`: trace export.
    pub telemetry: TelemetryConfig,
    /// `[log]`: logging.
    pub log: LogConfig,
}

/// `[grpc]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcConfig {
    /// `grpc.listen`: the gRPC address. Default `127.0.0.1:10700`.
    pub listen: SocketAddr,
    /// `grpc.max_concurrent_streams`: HTTP/2 streams per connection. Default 256.
    pub max_concurrent_streams: u32,
    /// `grpc.max_header_list_size`: largest HTTP/2 header list, bytes. Default 32768: room
    /// for an oversized (20 KB) token to reach authentication and get UNAUTHENTICATED.
    pub max_header_list_size: u32,
    /// `grpc.keepalive_interval_seconds`: how often an idle connection is pinged. Default 20.
    pub keepalive_interval_seconds: u64,
    /// `grpc.keepalive_timeout_seconds`: how long a ping may go unanswered before the
    /// connection is closed (and its client removed). Default 10.
    pub keepalive_timeout_seconds: u64,
    /// `grpc.max_pending_accept_reset_streams`: streams reset by the peer before the server
    /// accepted them, per connection (rapid-reset protection). Default 20.
    pub max_pending_accept_reset_streams: usize,
    /// `grpc.max_local_error_reset_streams`: streams the server may reset because of peer
    /// protocol errors before it closes the connection. Default 1024.
    pub max_local_error_reset_streams: usize,
}

impl GrpcConfig {
    /// The keepalive ping interval.
    pub fn keepalive_interval(&self) -> Duration {
        Duration::from_secs(self.keepalive_interval_seconds)
    }

    /// The keepalive ping timeout.
    pub fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_seconds)
    }
}

/// `[http]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http.listen`: the sidecar address. Default `127.0.0.1:10701`.
    pub listen: SocketAddr,
    /// `http.max_connections`: open sidecar connections (probes, scrapers); beyond it new ones
    /// are closed at once. Default 128.
    pub max_connections: usize,
}

/// `[store]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// `store.url`: `sqlite:...` or `postgres://...`. Default `sqlite://<data dir>/ooloi.db`.
    pub url: String,
    /// `store.url_file`: a file whose content (trimmed) is `store.url`; read when the process
    /// starts ([`super::Config::from_process`]), so a password need not be in the environment.
    pub url_file: Option<PathBuf>,
    /// `store.data_dir`: the data directory. Default `./data`.
    pub data_dir: PathBuf,
    /// `store.durability`. Default [`Durability::Sync`].
    pub durability: Durability,
    /// `store.max_unflushed`: with `durability = async`, how many acknowledged commits may
    /// wait for the store at once (the loss window); more wait for the store. Default 10,000.
    pub max_unflushed: usize,
    /// `store.snapshot_every`: records of a piece between snapshots. Default 1,000.
    pub snapshot_every: u64,
    /// `store.evict_idle_seconds`: a loaded piece with no subscribers that no call used for
    /// this long leaves memory (it stays in the store). Default 600.
    pub evict_idle_seconds: u64,
}

/// When a write is acknowledged relative to its redo record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `sync`: only after the redo record is durable.
    #[default]
    Sync,
    /// `async`: before; a crash may lose the latest acknowledged writes.
    Async,
}

/// `[auth]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// `auth.mode`. Default [`AuthMode::None`].
    pub mode: AuthMode,
    /// `auth.hs256_secret`: the HS256 shared secret (redacted in `Debug`).
    pub hs256_secret: Option<Secret>,
    /// `auth.hs256_secret_file`: a file holding the HS256 secret.
    pub hs256_secret_file: Option<PathBuf>,
    /// `auth.public_key_files`: PEM public keys (RS256, ES256, EdDSA).
    pub public_key_files: Vec<PathBuf>,
    /// `auth.jwks_url`: a JWKS document to fetch (keys cached by `kid`).
    pub jwks_url: Option<String>,
    /// `auth.jwks_min_refresh_seconds`: the least time between two fetches of the URL's key
    /// set. Default 30.
    pub jwks_min_refresh_seconds: u64,
    /// `auth.jwks_ttl_seconds`: how long a fetched key set is used. Default 3600.
    pub jwks_ttl_seconds: u64,
    /// `auth.jwks_file`: a JWKS document on disk.
    pub jwks_file: Option<PathBuf>,
    /// `auth.issuer`: the required `iss`; required in `jwt` mode.
    pub issuer: Option<String>,
    /// `auth.audience`: the required `aud`; required in `jwt` mode.
    pub audience: Option<String>,
    /// `auth.tenant_claim`: the claim naming the tenant. Default `tenant`.
    pub tenant_claim: String,
    /// `auth.roles_claim`: the claim listing the roles. Default `roles`.
    pub roles_claim: String,
    /// `auth.leeway_seconds`: clock leeway for `exp` and `nbf`. Default 30.
    pub leeway_seconds: u64,
    /// `auth.platform_tenant`: the tenant of the platform operator. Default `platform`.
    pub platform_tenant: String,
    /// `auth.allow_insecure_network`: with `auth.mode = none`, allow listening on an address
    /// other than loopback. Default false: without authentication anyone who can connect acts
    /// as anyone (Redis's protected mode).
    pub allow_insecure_network: bool,
}

impl AuthConfig {
    /// The clock leeway.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway_seconds)
    }
}

/// How callers are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// `none`: one implicit tenant and user (`local`) with every role.
    #[default]
    None,
    /// `jwt`: a bearer token is required and verified.
    Jwt,
}

/// A secret string whose `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `[events]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// `events.queue_capacity`: events queued per client before the oldest is dropped. Default
    /// 1000.
    pub queue_capacity: usize,
}

/// `[tenants]` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantsConfig {
    /// `tenants.mode`. Default [`TenantsMode::Open`].
    pub mode: TenantsMode,
    /// `tenants.file`: a TOML file of tenant records the registry starts with.
    pub file: Option<PathBuf>,
}

/// Which tenants exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TenantsMode {
    /// `open`: any tenant a valid token of the platform's issuer names exists on first use.
    #[default]
    Open,
    /// `registered`: only tenants the platform operator created (or the seed file lists).
    Registered,
}

/// `[quotas]` settings: per-tenant defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotasConfig {
    /// `quotas.clients_per_tenant`: connected clients. Default 1000.
    pub clients_per_tenant: u64,
    /// `quotas.pieces_per_tenant`: pieces. Default 10000.
    pub pieces_per_tenant: u64,
    /// `quotas.requests_per_second`: the refill rate of the tenant's request bucket. Default 1000.
    pub requests_per_second: u64,
    /// `quotas.burst`: the bucket's size. Default 2000.
    pub burst: u64,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        QuotasConfig {
            clients_per_tenant: 1000,
            pieces_per_tenant: 10_000,
            requests_per_second: 1000,
            burst: 2000,
        }
    }
}

/// `[limits]` settings: the fields of [`ValueLimits`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `limits.max_message_bytes`. Default 16 MiB.
    pub max_message_bytes: usize,
    /// `limits.max_depth`. Default 64.
    pub max_depth: usize,
    /// `limits.max_collection_elements`. Default 100,000.
    pub max_collection_elements: usize,
    /// `limits.max_total_nodes`. Default 1,000,000.
    pub max_total_nodes: usize,
    /// `limits.max_string_bytes`. Default 1 MiB.
    pub max_string_bytes: usize,
    /// `limits.max_batch_operations`: operations in one `atomic` batch. Default 1000.
    pub max_batch_operations: usize,
    /// `limits.max_call_seconds`: the longest a call may run, whatever deadline the client
    /// asks for. Default 30.
    pub max_call_seconds: u64,
    /// `limits.max_client_info_bytes`: the encoded size of a registration's `client_info`.
    /// Default 4096.
    pub max_client_info_bytes: usize,
    /// `limits.max_display_name_chars`: the length of a client's `:display-name`. Default 256.
    pub max_display_name_chars: usize,
    /// `limits.handshake_timeout_seconds`: how long a new connection may take to send the
    /// HTTP/2 preface (on the sidecar: a request's headers). Default 10.
    pub handshake_timeout_seconds: u64,
    /// `limits.idle_connection_seconds`: how long a connection may stay open with no request
    /// in flight before the server closes it (with GOAWAY on gRPC). Default 300.
    pub idle_connection_seconds: u64,
    /// `limits.max_connections`: open connections per listener; beyond it new ones are closed
    /// at once. `None` (the default) derives it from the file-descriptor limit.
    pub max_connections: Option<usize>,
}

impl LimitsConfig {
    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_seconds)
    }

    /// The idle-connection timeout.
    pub fn idle_connection(&self) -> Duration {
        Duration::from_secs(self.idle_connection_seconds)
    }

    /// The longest a call may run.
    pub fn max_call(&self) -> Duration {
        Duration::from_secs(self.max_call_seconds)
    }
}

/// `[executor]` settings: the threads domain calls run on, off the async workers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ExecutorConfig {
    /// `executor.threads`. `None` (the default): as many as the machine has cores.
    pub threads: Option<usize>,
    /// `executor.queue`: calls waiting for a thread; when full, a call is refused with
    /// RESOURCE_EXHAUSTED. Default 1024.
    pub queue: usize,
}

/// `[telemetry]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `telemetry.otlp_endpoint`: where traces are exported; unset turns export off.
    pub otlp_endpoint: Option<String>,
    /// `telemetry.max_tenant_series`: registered tenants that get their own Prometheus series
    /// (the first, by id); 0 for none. Default 100.
    pub max_tenant_series: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            max_tenant_series: 100,
        }
    }
}

/// `[log]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LogConfig {
    /// `log.format`. Default [`LogFormat::Text`].
    pub format: LogFormat,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `text`: human-readable lines.
    #[default]
    Text,
    /// `json`: one JSON object per line.
    Json,
}

impl Default for Config {
    /// The documented defaults, with `store.url` following the default data directory.
    fn default() -> Self {
        let limits = ValueLimits::default();
        let data_dir = default_data_dir();
        Config {
            grpc: GrpcConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 10700)),
                max_concurrent_streams: 256,
                max_header_list_size: 32768,
                keepalive_interval_seconds: 20,
                keepalive_timeout_seconds: 10,
                max_pending_accept_reset_streams: 20,
                max_local_error_reset_streams: 1024,
            },
            http: HttpConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 10701)),
                max_connections: 128,
            },
            store: StoreConfig {
                url: default_store_url(&data_dir),
                url_file: None,
                data_dir,
                durability: Durability::Sync,
                max_unflushed: 10_000,
                snapshot_every: 1_000,
                evict_idle_seconds: 600,
            },
            auth: AuthConfig {
                mode: AuthMode::None,
                hs256_secret: None,
                hs256_secret_file: None,
                public_key_files: Vec::new(),
                jwks_url: None,
                jwks_min_refresh_seconds: 30,
                jwks_ttl_seconds: 3600,
                jwks_file: None,
                issuer: None,
                audience: None,
                tenant_claim: "tenant".to_string(),
                platform_tenant: "platform".to_string(),
                roles_claim: "roles".to_string(),
                leeway_seconds: 30,
                allow_insecure_network: false,
            },
            events: EventsConfig {
                queue_capacity: 1000,
            },
            tenants: TenantsConfig::default(),
            quotas: QuotasConfig::default(),
            limits: LimitsConfig {
                max_message_bytes: limits.max_message_bytes,
                max_depth: limits.max_depth,
                max_collection_elements: limits.max_collection_elements,
                max_total_nodes: limits.max_total_nodes,
                max_string_bytes: limits.max_string_bytes,
                max_batch_operations: 1000,
                max_call_seconds: 30,
                max_client_info_bytes: 4096,
                max_display_name_chars: 256,
                handshake_timeout_seconds: 10,
                idle_connection_seconds: 300,
                max_connections: None,
            },
            executor: ExecutorConfig {
                threads: None,
                queue: 1024,
            },
            telemetry: TelemetryConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The data directory used when `store.data_dir` is not set: `./data`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

/// The store URL used when `store.url` is not set: `sqlite://<data dir>/ooloi.db`.
pub fn default_store_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("ooloi.db").display())
}
