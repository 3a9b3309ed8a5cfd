//! Typed server settings, layered: defaults < file (`--config FILE`, TOML) < environment
//! (`OOLOI__SECTION__KEY`) < command-line flags.
//!
//! The key names are a public contract (DESIGN section 12): operators, the Helm chart and tests
//! use them. Every key lives in a section; the file form is `[section] key = value`, the
//! environment form is `OOLOI__SECTION__KEY` (upper case), and a few keys also have a flag.
//!
//! | key | env | flag | default |
//! |---|---|---|---|
//! | `grpc.listen` | `OOLOI__GRPC__LISTEN` | `--grpc-listen` | `127.0.0.1:10700` |
//! | `grpc.max_concurrent_streams` | `OOLOI__GRPC__MAX_CONCURRENT_STREAMS` | | `256` |
//! | `grpc.max_header_list_size` | `OOLOI__GRPC__MAX_HEADER_LIST_SIZE` | | `16384` bytes |
//! | `grpc.keepalive_interval_seconds` | `OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS` | | `20` |
//! | `grpc.keepalive_timeout_seconds` | `OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS` | | `10` |
//! | `grpc.max_pending_accept_reset_streams` | `OOLOI__GRPC__MAX_PENDING_ACCEPT_RESET_STREAMS` | | `20` |
//! | `grpc.max_local_error_reset_streams` | `OOLOI__GRPC__MAX_LOCAL_ERROR_RESET_STREAMS` | | `1024` |
//! | `http.listen` | `OOLOI__HTTP__LISTEN` | `--http-listen` | `127.0.0.1:10701` |
//! | `store.url` | `OOLOI__STORE__URL` | `--store-url` | `sqlite://<data dir>/ooloi.db` |
//! | `store.data_dir` | `OOLOI__STORE__DATA_DIR` | `--data-dir` | `./data` |
//! | `store.durability` | `OOLOI__STORE__DURABILITY` | | `sync` (or `async`) |
//! | `auth.mode` | `OOLOI__AUTH__MODE` | `--auth` | `none` (or `jwt`) |
//! | `auth.hs256_secret` | `OOLOI__AUTH__HS256_SECRET` | | unset |
//! | `auth.hs256_secret_file` | `OOLOI__AUTH__HS256_SECRET_FILE` | | unset |
//! | `auth.public_key_files` | `OOLOI__AUTH__PUBLIC_KEY_FILES` (comma-separated) | | unset |
//! | `auth.jwks_url` | `OOLOI__AUTH__JWKS_URL` | | unset |
//! | `auth.jwks_file` | `OOLOI__AUTH__JWKS_FILE` | | unset |
//! | `auth.issuer` | `OOLOI__AUTH__ISSUER` | | required in `jwt` mode |
//! | `auth.audience` | `OOLOI__AUTH__AUDIENCE` | | required in `jwt` mode |
//! | `auth.tenant_claim` | `OOLOI__AUTH__TENANT_CLAIM` | | `tenant` |
//! | `auth.roles_claim` | `OOLOI__AUTH__ROLES_CLAIM` | | `roles` |
//! | `auth.leeway_seconds` | `OOLOI__AUTH__LEEWAY_SECONDS` | | `30` |
//! | `events.queue_capacity` | `OOLOI__EVENTS__QUEUE_CAPACITY` | | `1000` |
//! | `limits.max_message_bytes` | `OOLOI__LIMITS__MAX_MESSAGE_BYTES` | | `16777216` |
//! | `limits.max_depth` | `OOLOI__LIMITS__MAX_DEPTH` | | `64` (1 to 256) |
//! | `limits.max_collection_elements` | `OOLOI__LIMITS__MAX_COLLECTION_ELEMENTS` | | `100000` |
//! | `limits.max_total_nodes` | `OOLOI__LIMITS__MAX_TOTAL_NODES` | | `1000000` |
//! | `limits.max_string_bytes` | `OOLOI__LIMITS__MAX_STRING_BYTES` | | `1048576` |
//! | `telemetry.otlp_endpoint` | `OOLOI__TELEMETRY__OTLP_ENDPOINT` | | unset (export off) |
//! | `log.format` | `OOLOI__LOG__FORMAT` | `--log-format` | `text` (or `json`) |
//!
//! Rules:
//! - An unknown `OOLOI__` variable, an unknown file key or section and an unknown flag are errors
//!   naming it (with a suggestion when one is close), so a typo is never silently ignored.
//!   Variables without the `OOLOI__` prefix are not looked at.
//! - A malformed value is an error naming where it came from and the form expected:
//!   `OOLOI__GRPC__LISTEN: "abc" is not a socket address like 127.0.0.1:10700`.
//! - Integer keys take TOML integers in the file; text keys take TOML strings;
//!   `auth.public_key_files` takes an array of strings or one comma-separated string.
//! - For a key whose default is "unset", an empty value (`OOLOI__AUTH__ISSUER=`) unsets it, so a
//!   lower layer's value can be cleared.
//! - `store.url` left unset follows the final `store.data_dir`: `sqlite://<data dir>/ooloi.db`.
//! - Counts and sizes are at least 1 (`auth.leeway_seconds` may be 0). Counts are at most
//!   4294967295; `limits.max_message_bytes` at most 2147483647 (protobuf's own bound) and
//!   `limits.max_depth` at most [`crate::value::MAX_CONFIGURABLE_DEPTH`].
//! - After layering: `jwt` mode needs `auth.issuer`, `auth.audience` and at least one key source
//!   (`hs256_secret`, `hs256_secret_file`, `public_key_files`, `jwks_url`, `jwks_file`);
//!   `hs256_secret` and `hs256_secret_file` exclude each other, as do `jwks_url` and `jwks_file`;
//!   `grpc.listen` and `http.listen` must differ (unless the port is 0).
//!
//! [`Config::load`] builds a configuration from explicit inputs (a file's text, environment
//! pairs, arguments) and never reads the process environment; [`Config::from_process`] is the thin
//! wrapper the binary uses.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::value::{MAX_CONFIGURABLE_DEPTH, ValueLimits};

/// The `--help` text: every flag, and every environment-only key.
pub const USAGE: &str = "\
Usage: ooloi-server [OPTIONS]

Settings are layered: defaults < --config FILE (TOML, [section] key = value)
< environment (OOLOI__SECTION__KEY) < flags.

Options:
      --config FILE         read settings from a TOML file
      --grpc-listen ADDR    gRPC address            [OOLOI__GRPC__LISTEN, default 127.0.0.1:10700]
      --http-listen ADDR    metrics/health sidecar  [OOLOI__HTTP__LISTEN, default 127.0.0.1:10701]
      --store-url URL       sqlite://PATH or postgres://...
                                                    [OOLOI__STORE__URL, default sqlite://<data dir>/ooloi.db]
      --data-dir DIR        data directory          [OOLOI__STORE__DATA_DIR, default ./data]
      --auth MODE           none | jwt              [OOLOI__AUTH__MODE, default none]
      --log-format FORMAT   text | json             [OOLOI__LOG__FORMAT, default text]
  -h, --help                print this help
  -V, --version             print the version

Other settings (environment form; in the file: [section] key):
  OOLOI__STORE__DURABILITY                    sync | async (default sync)
  OOLOI__AUTH__HS256_SECRET                   HS256 shared secret
  OOLOI__AUTH__HS256_SECRET_FILE              file holding the HS256 secret
  OOLOI__AUTH__PUBLIC_KEY_FILES               comma-separated PEM public key files
  OOLOI__AUTH__JWKS_URL                       JWKS URL (http:// or https://)
  OOLOI__AUTH__JWKS_FILE                      JWKS file
  OOLOI__AUTH__ISSUER                         required iss (jwt mode)
  OOLOI__AUTH__AUDIENCE                       required aud (jwt mode)
  OOLOI__AUTH__TENANT_CLAIM                   tenant claim name (default tenant)
  OOLOI__AUTH__ROLES_CLAIM                    roles claim name (default roles)
  OOLOI__AUTH__LEEWAY_SECONDS                 clock leeway for exp/nbf (default 30)
  OOLOI__EVENTS__QUEUE_CAPACITY               events queued per client (default 1000)
  OOLOI__LIMITS__MAX_MESSAGE_BYTES            largest message (default 16777216)
  OOLOI__LIMITS__MAX_DEPTH                    value nesting depth, 1-256 (default 64)
  OOLOI__LIMITS__MAX_COLLECTION_ELEMENTS      elements per collection (default 100000)
  OOLOI__LIMITS__MAX_TOTAL_NODES              values per message (default 1000000)
  OOLOI__LIMITS__MAX_STRING_BYTES             bytes per string (default 1048576)
  OOLOI__GRPC__MAX_CONCURRENT_STREAMS         HTTP/2 streams per connection (default 256)
  OOLOI__GRPC__MAX_HEADER_LIST_SIZE           HTTP/2 header list bytes (default 16384)
  OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS     HTTP/2 ping interval (default 20)
  OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS      HTTP/2 ping timeout (default 10)
  OOLOI__GRPC__MAX_PENDING_ACCEPT_RESET_STREAMS  (default 20)
  OOLOI__GRPC__MAX_LOCAL_ERROR_RESET_STREAMS     (default 1024)
  OOLOI__TELEMETRY__OTLP_ENDPOINT             OTLP endpoint (default unset: export off)
";

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
    /// `[limits]`: limits on incoming values and messages.
    pub limits: LimitsConfig,
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
    /// `grpc.max_header_list_size`: largest HTTP/2 header list, bytes. Default 16384.
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
}

/// `[store]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// `store.url`: `sqlite:...` or `postgres://...`. Default `sqlite://<data dir>/ooloi.db`.
    pub url: String,
    /// `store.data_dir`: the data directory. Default `./data`.
    pub data_dir: PathBuf,
    /// `store.durability`. Default [`Durability::Sync`].
    pub durability: Durability,
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
}

/// `[telemetry]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TelemetryConfig {
    /// `telemetry.otlp_endpoint`: where traces are exported; unset turns export off.
    pub otlp_endpoint: Option<String>,
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
        let data_dir = PathBuf::from("./data");
        Config {
            grpc: GrpcConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 10700)),
                max_concurrent_streams: 256,
                max_header_list_size: 16384,
                keepalive_interval_seconds: 20,
                keepalive_timeout_seconds: 10,
                max_pending_accept_reset_streams: 20,
                max_local_error_reset_streams: 1024,
            },
            http: HttpConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 10701)),
            },
            store: StoreConfig {
                url: default_store_url(&data_dir),
                data_dir,
                durability: Durability::Sync,
            },
            auth: AuthConfig {
                mode: AuthMode::None,
                hs256_secret: None,
                hs256_secret_file: None,
                public_key_files: Vec::new(),
                jwks_url: None,
                jwks_file: None,
                issuer: None,
                audience: None,
                tenant_claim: "tenant".to_string(),
                roles_claim: "roles".to_string(),
                leeway_seconds: 30,
            },
            events: EventsConfig {
                queue_capacity: 1000,
            },
            limits: LimitsConfig {
                max_message_bytes: limits.max_message_bytes,
                max_depth: limits.max_depth,
                max_collection_elements: limits.max_collection_elements,
                max_total_nodes: limits.max_total_nodes,
                max_string_bytes: limits.max_string_bytes,
            },
            telemetry: TelemetryConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The store URL used when `store.url` is not set: `sqlite://<data dir>/ooloi.db`.
pub fn default_store_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("ooloi.db").display())
}

/// Why a configuration could not be built. Every variant names the key, variable, flag or file
/// at fault. [`ConfigError::HelpRequested`] and [`ConfigError::VersionRequested`] are not
/// failures: the caller prints [`USAGE`] or the version and exits successfully.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value does not have the expected form.
    #[error("{origin}: {value} is not {expected}")]
    Invalid {
        /// Where the value came from: `OOLOI__GRPC__LISTEN`, `--grpc-listen`, or
        /// `grpc.listen (configuration file)`.
        origin: String,
        /// The value as given (quoted), or `<redacted>` for secrets.
        value: String,
        /// The form expected.
        expected: String,
    },
    /// An `OOLOI__` variable that names no key.
    #[error("unknown environment variable {name}: no such configuration key{}", did_you_mean(.suggestion))]
    UnknownEnv {
        /// The variable.
        name: String,
        /// The closest known variable, if one is close.
        suggestion: Option<String>,
    },
    /// A file key or section that names no key.
    #[error("unknown key `{key}` in the configuration file{}", did_you_mean(.suggestion))]
    UnknownFileKey {
        /// `section` or `section.key`.
        key: String,
        /// The closest known key, if one is close.
        suggestion: Option<String>,
    },
    /// An unknown command-line flag.
    #[error("unknown flag {flag}{}; see --help", did_you_mean(.suggestion))]
    UnknownFlag {
        /// The flag.
        flag: String,
        /// The closest known flag, if one is close.
        suggestion: Option<String>,
    },
    /// A flag given without its value.
    #[error("flag {flag} needs a value")]
    MissingFlagValue {
        /// The flag.
        flag: String,
    },
    /// A command-line argument that is not a flag.
    #[error("unexpected argument {arg:?}; see --help")]
    UnexpectedArgument {
        /// The argument.
        arg: String,
    },
    /// The configuration file is not valid TOML.
    #[error("the configuration file is not valid TOML: {message}")]
    FileSyntax {
        /// The parser's message (with line and column).
        message: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An environment variable or argument that is not valid UTF-8.
    #[error("{origin}: not valid UTF-8")]
    NotUnicode {
        /// The variable or argument.
        origin: String,
    },
    /// The layered settings are inconsistent (jwt without an issuer, two secrets, ...).
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
    /// `--help` or `-h` was given.
    #[error("help requested")]
    HelpRequested,
    /// `--version` or `-V` was given.
    #[error("version requested")]
    VersionRequested,
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => String::new(),
    }
}

/// The TOML type a key takes in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A TOML string.
    Text,
    /// A TOML integer.
    Integer,
    /// A TOML array of strings, or one comma-separated string.
    List,
}

/// One documented configuration key.
#[derive(Debug)]
pub struct Key {
    /// The section (`grpc`).
    pub section: &'static str,
    /// The key within it (`listen`).
    pub name: &'static str,
    /// The flag that sets it, if any (`--grpc-listen`).
    pub flag: Option<&'static str>,
    /// Its TOML type.
    pub kind: KeyKind,
    /// The default, as documented.
    pub default: &'static str,
    /// A valid value different from the default.
    pub example: &'static str,
    /// Whether the value is secret (never echoed in errors).
    pub secret: bool,
    set: Setter,
}

/// Parses a value into the configuration; `Err` holds the form expected.
type Setter = fn(&mut Config, &str) -> Result<(), String>;

impl Key {
    /// `section.name`.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// `OOLOI__SECTION__NAME`.
    pub fn env_name(&self) -> String {
        format!(
            "OOLOI__{}__{}",
            self.section.to_ascii_uppercase(),
            self.name.to_ascii_uppercase()
        )
    }
}

/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "OOLOI__";

const U32_MAX: u64 = u32::MAX as u64;
const MESSAGE_MAX: u64 = i32::MAX as u64;
const DAY: u64 = 86_400;

static KEYS: &[Key] = &[
    Key {
        section: "grpc",
        name: "listen",
        flag: Some("--grpc-listen"),
        kind: KeyKind::Text,
        default: "127.0.0.1:10700",
        example: "0.0.0.0:7000",
        secret: false,
        set: |c, v| {
            c.grpc.listen = socket(v)?;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "max_concurrent_streams",
        flag: None,
        kind: KeyKind::Integer,
        default: "256",
        example: "100",
        secret: false,
        set: |c, v| {
            c.grpc.max_concurrent_streams = int(v, 1, U32_MAX)? as u32;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "max_header_list_size",
        flag: None,
        kind: KeyKind::Integer,
        default: "16384",
        example: "8192",
        secret: false,
        set: |c, v| {
            c.grpc.max_header_list_size = int(v, 1, U32_MAX)? as u32;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "keepalive_interval_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "20",
        example: "60",
        secret: false,
        set: |c, v| {
            c.grpc.keepalive_interval_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "keepalive_timeout_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "10",
        example: "5",
        secret: false,
        set: |c, v| {
            c.grpc.keepalive_timeout_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "max_pending_accept_reset_streams",
        flag: None,
        kind: KeyKind::Integer,
        default: "20",
        example: "50",
        secret: false,
        set: |c, v| {
            c.grpc.max_pending_accept_reset_streams = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "grpc",
        name: "max_local_error_reset_streams",
        flag: None,
        kind: KeyKind::Integer,
        default: "1024",
        example: "256",
        secret: false,
        set: |c, v| {
            c.grpc.max_local_error_reset_streams = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "http",
        name: "listen",
        flag: Some("--http-listen"),
        kind: KeyKind::Text,
        default: "127.0.0.1:10701",
        example: "[::]:7001",
        secret: false,
        set: |c, v| {
            c.http.listen = socket(v)?;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "url",
        flag: Some("--store-url"),
        kind: KeyKind::Text,
        default: "sqlite://<data dir>/ooloi.db",
        example: "postgres://ooloi@db:5432/ooloi",
        secret: false,
        set: |c, v| {
            c.store.url = store_url(v)?;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "data_dir",
        flag: Some("--data-dir"),
        kind: KeyKind::Text,
        default: "./data",
        example: "/var/lib/ooloi",
        secret: false,
        set: |c, v| {
            if v.is_empty() {
                return Err("a directory path".to_string());
            }
            c.store.data_dir = PathBuf::from(v);
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "durability",
        flag: None,
        kind: KeyKind::Text,
        default: "sync",
        example: "async",
        secret: false,
        set: |c, v| {
            c.store.durability = choice(
                v,
                &[("sync", Durability::Sync), ("async", Durability::Async)],
            )?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "mode",
        flag: Some("--auth"),
        kind: KeyKind::Text,
        default: "none",
        example: "jwt",
        secret: false,
        set: |c, v| {
            c.auth.mode = choice(v, &[("none", AuthMode::None), ("jwt", AuthMode::Jwt)])?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "hs256_secret",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "a-development-secret-of-32-bytes!",
        secret: true,
        set: |c, v| {
            c.auth.hs256_secret = (!v.is_empty()).then(|| Secret::new(v));
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "hs256_secret_file",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "/run/secrets/jwt-secret",
        secret: false,
        set: |c, v| {
            c.auth.hs256_secret_file = optional_path(v);
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "public_key_files",
        flag: None,
        kind: KeyKind::List,
        default: "unset",
        example: "/keys/a.pem,/keys/b.pem",
        secret: false,
        set: |c, v| {
            c.auth.public_key_files = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect();
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "jwks_url",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "https://idp.example.org/.well-known/jwks.json",
        secret: false,
        set: |c, v| {
            c.auth.jwks_url = http_url(v, "https://idp.example.org/.well-known/jwks.json")?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "jwks_file",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "/keys/jwks.json",
        secret: false,
        set: |c, v| {
            c.auth.jwks_file = optional_path(v);
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "issuer",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "https://idp.example.org",
        secret: false,
        set: |c, v| {
            c.auth.issuer = optional(v);
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "audience",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "ooloi",
        secret: false,
        set: |c, v| {
            c.auth.audience = optional(v);
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "tenant_claim",
        flag: None,
        kind: KeyKind::Text,
        default: "tenant",
        example: "org",
        secret: false,
        set: |c, v| {
            c.auth.tenant_claim = claim(v)?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "roles_claim",
        flag: None,
        kind: KeyKind::Text,
        default: "roles",
        example: "groups",
        secret: false,
        set: |c, v| {
            c.auth.roles_claim = claim(v)?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "leeway_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "30",
        example: "0",
        secret: false,
        set: |c, v| {
            c.auth.leeway_seconds = int(v, 0, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "events",
        name: "queue_capacity",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000",
        example: "50",
        secret: false,
        set: |c, v| {
            c.events.queue_capacity = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_message_bytes",
        flag: None,
        kind: KeyKind::Integer,
        default: "16777216",
        example: "4194304",
        secret: false,
        set: |c, v| {
            c.limits.max_message_bytes = int(v, 1, MESSAGE_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_depth",
        flag: None,
        kind: KeyKind::Integer,
        default: "64",
        example: "32",
        secret: false,
        set: |c, v| {
            c.limits.max_depth = int(v, 1, MAX_CONFIGURABLE_DEPTH as u64)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_collection_elements",
        flag: None,
        kind: KeyKind::Integer,
        default: "100000",
        example: "1000",
        secret: false,
        set: |c, v| {
            c.limits.max_collection_elements = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_total_nodes",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000000",
        example: "5000",
        secret: false,
        set: |c, v| {
            c.limits.max_total_nodes = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_string_bytes",
        flag: None,
        kind: KeyKind::Integer,
        default: "1048576",
        example: "4096",
        secret: false,
        set: |c, v| {
            c.limits.max_string_bytes = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "telemetry",
        name: "otlp_endpoint",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "http://otel-collector:4317",
        secret: false,
        set: |c, v| {
            c.telemetry.otlp_endpoint = http_url(v, "http://otel-collector:4317")?;
            Ok(())
        },
    },
    Key {
        section: "log",
        name: "format",
        flag: Some("--log-format"),
        kind: KeyKind::Text,
        default: "text",
        example: "json",
        secret: false,
        set: |c, v| {
            c.log.format = choice(v, &[("text", LogFormat::Text), ("json", LogFormat::Json)])?;
            Ok(())
        },
    },
];

fn socket(v: &str) -> Result<SocketAddr, String> {
    v.trim()
        .parse()
        .map_err(|_| "a socket address like 127.0.0.1:10700".to_string())
}

fn int(v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("an integer from {min} to {max}")),
    }
}

fn choice<T: Copy>(v: &str, options: &[(&str, T)]) -> Result<T, String> {
    let v = v.trim();
    options
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!("one of {}", names.join(", "))
        })
}

fn optional(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

fn optional_path(v: &str) -> Option<PathBuf> {
    optional(v).map(PathBuf::from)
}

fn http_url(v: &str, like: &str) -> Result<Option<String>, String> {
    match optional(v) {
        None => Ok(None),
        Some(url) => {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                    Ok(Some(url))
                }
                _ => Err(format!("an http:// or https:// URL like {like}")),
            }
        }
    }
}

fn store_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| v.len() > scheme.len() && v.starts_with(scheme));
    if ok {
        Ok(v.to_string())
    } else {
        Err("a database URL like sqlite://./data/ooloi.db or postgres://user@host/db".to_string())
    }
}

fn claim(v: &str) -> Result<String, String> {
    optional(v).ok_or_else(|| "a claim name".to_string())
}

/// One parsed command-line item.
enum Arg<'a> {
    Config(&'a str),
    Set(&'static Key, &'a str, &'a str),
}

/// Splits arguments into flags and values; `--help` and `--version` end the scan.
fn scan_args(args: &[String]) -> Result<Vec<Arg<'_>>, ConfigError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-h" | "--help" => return Err(ConfigError::HelpRequested),
            "-V" | "--version" => return Err(ConfigError::VersionRequested),
            _ => {}
        }
        if !arg.starts_with('-') {
            return Err(ConfigError::UnexpectedArgument {
                arg: arg.to_string(),
            });
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        let key = KEYS.iter().find(|k| k.flag == Some(flag));
        if key.is_none() && flag != "--config" {
            let mut flags: Vec<&str> = KEYS.iter().filter_map(|k| k.flag).collect();
            flags.extend(["--config", "--help", "--version"]);
            return Err(ConfigError::UnknownFlag {
                flag: flag.to_string(),
                suggestion: suggest(flag, flags.iter().copied()),
            });
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                match args.get(i) {
                    Some(v) => v.as_str(),
                    None => {
                        return Err(ConfigError::MissingFlagValue {
                            flag: flag.to_string(),
                        });
                    }
                }
            }
        };
        out.push(match key {
            Some(key) => Arg::Set(key, flag, value),
            None if value.is_empty() => {
                return Err(ConfigError::MissingFlagValue {
                    flag: flag.to_string(),
                });
            }
            None => Arg::Config(value),
        });
        i += 1;
    }
    Ok(out)
}

/// The closest candidate to `given`, if it is close (case ignored, edit distance at most 3).
fn suggest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let given = given.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&given, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Applies one value, recording that the key was set.
fn apply(
    config: &mut Config,
    url_set: &mut bool,
    key: &Key,
    origin: impl FnOnce() -> String,
    value: &str,
    shown: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    (key.set)(config, value).map_err(|expected| ConfigError::Invalid {
        origin: origin(),
        value: if key.secret {
            "<redacted>".to_string()
        } else {
            shown()
        },
        expected,
    })?;
    if key.section == "store" && key.name == "url" {
        *url_set = true;
    }
    Ok(())
}

fn apply_file(config: &mut Config, url_set: &mut bool, text: &str) -> Result<(), ConfigError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::FileSyntax {
                message: e.to_string().trim_end().to_string(),
            })?;
    let dotted: Vec<String> = KEYS.iter().map(Key::dotted).collect();
    for (section, entries) in &table {
        if !KEYS.iter().any(|k| k.section == section) {
            return Err(ConfigError::UnknownFileKey {
                key: section.clone(),
                suggestion: suggest(section, KEYS.iter().map(|k| k.section)),
            });
        }
        let toml::Value::Table(entries) = entries else {
            return Err(ConfigError::Invalid {
                origin: format!("{section} (configuration file)"),
                value: entries.to_string(),
                expected: format!("a table ([{section}] with keys under it)"),
            });
        };
        for (name, value) in entries {
            let full = format!("{section}.{name}");
            let Some(key) = KEYS.iter().find(|k| k.section == section && k.name == name) else {
                return Err(ConfigError::UnknownFileKey {
                    suggestion: suggest(&full, dotted.iter().map(String::as_str)),
                    key: full,
                });
            };
            let origin = || format!("{full} (configuration file)");
            let text = match (key.kind, value) {
                (KeyKind::Text | KeyKind::List, toml::Value::String(s)) => Some(s.clone()),
                (KeyKind::Integer, toml::Value::Integer(i)) => Some(i.to_string()),
                (KeyKind::List, toml::Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        toml::Value::String(s) if !s.contains(',') => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
                    .map(|parts| parts.join(",")),
                _ => None,
            };
            let Some(text) = text else {
                let expected = match key.kind {
                    KeyKind::Text => "a string",
                    KeyKind::Integer => "an integer",
                    KeyKind::List => "an array of strings (paths without commas)",
                };
                return Err(ConfigError::Invalid {
                    origin: origin(),
                    value: if key.secret {
                        "<redacted>".to_string()
                    } else {
                        value.to_string()
                    },
                    expected: expected.to_string(),
                });
            };
            apply(config, url_set, key, origin, &text, || value.to_string())?;
        }
    }
    Ok(())
}

fn apply_env(
    config: &mut Config,
    url_set: &mut bool,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    let names: Vec<String> = KEYS.iter().map(Key::env_name).collect();
    for (name, value) in env {
        if !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let Some(i) = names.iter().position(|n| n == name) else {
            return Err(ConfigError::UnknownEnv {
                name: name.clone(),
                suggestion: suggest(name, names.iter().map(String::as_str)),
            });
        };
        apply(
            config,
            url_set,
            &KEYS[i],
            || name.clone(),
            value,
            || format!("{value:?}"),
        )?;
    }
    Ok(())
}

impl Config {
    /// Builds the configuration from explicit inputs, layering defaults < `file` (TOML text) <
    /// `env` (name, value pairs; only `OOLOI__` names are looked at, later pairs win) < `args`
    /// (the arguments after the program name; `--config FILE` is accepted and ignored here,
    /// since the caller reads the file: see [`Config::config_file_arg`]). Then resolves the
    /// default `store.url` and validates the result. Never reads the process environment.
    pub fn load(
        file: Option<&str>,
        env: &[(String, String)],
        args: &[String],
    ) -> Result<Config, ConfigError> {
        let flags = scan_args(args)?;
        let mut config = Config::default();
        let mut url_set = false;
        if let Some(text) = file {
            apply_file(&mut config, &mut url_set, text)?;
        }
        apply_env(&mut config, &mut url_set, env)?;
        for flag in flags {
            if let Arg::Set(key, name, value) = flag {
                apply(
                    &mut config,
                    &mut url_set,
                    key,
                    || name.to_string(),
                    value,
                    || format!("{value:?}"),
                )?;
            }
        }
        if !url_set {
            config.store.url = default_store_url(&config.store.data_dir);
        }
        config.validate()?;
        Ok(config)
    }

    /// The file named by the last `--config FILE` (or `--config=FILE`) in `args`, if any.
    /// Fails on the same malformed arguments [`Config::load`] fails on.
    pub fn config_file_arg(args: &[String]) -> Result<Option<PathBuf>, ConfigError> {
        Ok(scan_args(args)?
            .into_iter()
            .filter_map(|a| match a {
                Arg::Config(path) => Some(PathBuf::from(path)),
                Arg::Set(..) => None,
            })
            .next_back())
    }

    /// The configuration of this process: its arguments, its environment and the file named by
    /// `--config`.
    pub fn from_process() -> Result<Config, ConfigError> {
        let args = std::env::args_os()
            .skip(1)
            .map(|a| {
                a.into_string().map_err(|a| ConfigError::NotUnicode {
                    origin: format!("argument {}", a.to_string_lossy()),
                })
            })
            .collect::<Result<Vec<String>, ConfigError>>()?;
        let mut env = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(ENV_PREFIX) {
                continue;
            }
            let value = value.into_string().map_err(|_| ConfigError::NotUnicode {
                origin: name.to_string(),
            })?;
            env.push((name.to_string(), value));
        }
        let text = match Self::config_file_arg(&args)? {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::ReadFile { path, source })?,
            ),
            None => None,
        };
        Self::load(text.as_deref(), &env, &args)
    }

    /// Every documented key, in table order.
    pub fn keys() -> &'static [Key] {
        KEYS
    }

    /// The limits on incoming values.
    pub fn value_limits(&self) -> ValueLimits {
        ValueLimits {
            max_depth: self.limits.max_depth,
            max_collection_elements: self.limits.max_collection_elements,
            max_total_nodes: self.limits.max_total_nodes,
            max_string_bytes: self.limits.max_string_bytes,
            max_message_bytes: self.limits.max_message_bytes,
        }
    }

    /// Checks the rules that involve more than one key. [`Config::load`] calls it; call it
    /// again after changing a configuration in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Inconsistent(m));
        let a = &self.auth;
        if a.hs256_secret.is_some() && a.hs256_secret_file.is_some() {
            return bad(
                "auth.hs256_secret (OOLOI__AUTH__HS256_SECRET) and auth.hs256_secret_file \
                 (OOLOI__AUTH__HS256_SECRET_FILE) are both set; set one"
                    .to_string(),
            );
        }
        if a.jwks_url.is_some() && a.jwks_file.is_some() {
            return bad("auth.jwks_url (OOLOI__AUTH__JWKS_URL) and auth.jwks_file \
                 (OOLOI__AUTH__JWKS_FILE) are both set; set one"
                .to_string());
        }
        if a.mode == AuthMode::Jwt {
            if a.issuer.is_none() {
                return bad(
                    "auth.mode is jwt but auth.issuer (OOLOI__AUTH__ISSUER) is not set".to_string(),
                );
            }
            if a.audience.is_none() {
                return bad(
                    "auth.mode is jwt but auth.audience (OOLOI__AUTH__AUDIENCE) is not set"
                        .to_string(),
                );
            }
            let has_key = a.hs256_secret.is_some()
                || a.hs256_secret_file.is_some()
                || !a.public_key_files.is_empty()
                || a.jwks_url.is_some()
                || a.jwks_file.is_some();
            if !has_key {
                return bad("auth.mode is jwt but no key source is set: set one of \
                     auth.hs256_secret, auth.hs256_secret_file, auth.public_key_files, \
                     auth.jwks_url, auth.jwks_file"
                    .to_string());
            }
        }
        if self.events.queue_capacity == 0 {
            return bad("events.queue_capacity must be at least 1".to_string());
        }
        if let Err(m) = self.value_limits().validate() {
            return bad(format!("limits.{m}"));
        }
        if self.grpc.listen == self.http.listen && self.grpc.listen.port() != 0 {
            return bad(format!(
                "grpc.listen and http.listen are both {}",
                self.grpc.listen
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn args(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn load(file: Option<&str>, e: &[(&str, &str)], a: &[&str]) -> Result<Config, ConfigError> {
        Config::load(file, &env(e), &args(a))
    }

    fn err(file: Option<&str>, e: &[(&str, &str)], a: &[&str]) -> String {
        load(file, e, a).unwrap_err().to_string()
    }

    const JWT_ENV: &[(&str, &str)] = &[
        ("OOLOI__AUTH__MODE", "jwt"),
        ("OOLOI__AUTH__ISSUER", "https://idp"),
        ("OOLOI__AUTH__AUDIENCE", "ooloi"),
    ];

    fn with_jwt<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut v: Vec<(&str, &str)> = JWT_ENV.to_vec();
        v.extend_from_slice(extra);
        v
    }

    /// A TOML literal for a key's example value.
    fn toml_literal(key: &Key, value: &str) -> String {
        match key.kind {
            KeyKind::Integer => value.to_string(),
            KeyKind::Text | KeyKind::List => format!("{value:?}"),
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = load(None, &[], &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.grpc.listen.to_string(), "127.0.0.1:10700");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:10701");
        assert_eq!(c.store.url, "sqlite://./data/ooloi.db");
        assert_eq!(c.store.data_dir, PathBuf::from("./data"));
        assert_eq!(c.store.durability, Durability::Sync);
        assert_eq!(c.auth.mode, AuthMode::None);
        assert_eq!(
            (c.auth.tenant_claim.as_str(), c.auth.roles_claim.as_str()),
            ("tenant", "roles")
        );
        assert_eq!(c.auth.leeway_seconds, 30);
        assert_eq!(c.events.queue_capacity, 1000);
        assert_eq!(c.limits.max_message_bytes, 16_777_216);
        assert_eq!(c.telemetry.otlp_endpoint, None);
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.value_limits(), ValueLimits::default());
        assert_eq!(c.grpc.max_concurrent_streams, 256);
        assert_eq!(c.grpc.max_header_list_size, 16384);
        assert_eq!(c.grpc.keepalive_interval(), Duration::from_secs(20));
        assert_eq!(c.grpc.keepalive_timeout(), Duration::from_secs(10));
        assert_eq!(c.auth.leeway(), Duration::from_secs(30));
    }

    #[test]
    fn the_key_table_matches_the_defaults_and_is_unique() {
        let defaults = Config::default();
        let mut seen = std::collections::HashSet::new();
        for key in KEYS {
            assert!(seen.insert(key.env_name()), "duplicate {}", key.dotted());
            // The documented default, applied as a value, gives the default configuration.
            if key.default != "unset" && key.name != "url" {
                let mut c = Config::default();
                (key.set)(&mut c, key.default).unwrap();
                assert_eq!(c, defaults, "{}", key.dotted());
            }
        }
    }

    /// For each key: default, then the file overrides it, the environment overrides the file
    /// and the flag (where there is one) overrides the environment.
    #[test]
    fn each_layer_overrides_the_one_below() {
        type Get = fn(&Config) -> String;
        /// section, key, flag, [default, file value, env value, flag value], getter
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            [&'static str; 4],
            Get,
        );
        let table: &[Row] = &[
            (
                "grpc",
                "listen",
                Some("--grpc-listen"),
                ["127.0.0.1:10700", "10.0.0.1:1", "10.0.0.2:2", "10.0.0.3:3"],
                |c| c.grpc.listen.to_string(),
            ),
            (
                "http",
                "listen",
                Some("--http-listen"),
                ["127.0.0.1:10701", "10.0.0.1:11", "10.0.0.2:12", "[::1]:13"],
                |c| c.http.listen.to_string(),
            ),
            (
                "store",
                "url",
                Some("--store-url"),
                [
                    "sqlite://./data/ooloi.db",
                    "sqlite://f.db",
                    "postgres://e/db",
                    "sqlite::memory:",
                ],
                |c| c.store.url.clone(),
            ),
            (
                "store",
                "data_dir",
                Some("--data-dir"),
                ["./data", "/file", "/env", "/flag"],
                |c| c.store.data_dir.display().to_string(),
            ),
            (
                "log",
                "format",
                Some("--log-format"),
                ["text", "json", "text", "json"],
                |c| format!("{:?}", c.log.format).to_lowercase(),
            ),
            (
                "store",
                "durability",
                None,
                ["sync", "async", "sync", ""],
                |c| format!("{:?}", c.store.durability).to_lowercase(),
            ),
            (
                "events",
                "queue_capacity",
                None,
                ["1000", "5", "6", ""],
                |c| c.events.queue_capacity.to_string(),
            ),
            ("auth", "leeway_seconds", None, ["30", "1", "0", ""], |c| {
                c.auth.leeway_seconds.to_string()
            }),
            ("limits", "max_depth", None, ["64", "10", "20", ""], |c| {
                c.limits.max_depth.to_string()
            }),
            (
                "grpc",
                "max_concurrent_streams",
                None,
                ["256", "7", "8", ""],
                |c| c.grpc.max_concurrent_streams.to_string(),
            ),
            (
                "auth",
                "issuer",
                None,
                ["None", "https://file", "https://env", ""],
                |c| {
                    format!("{:?}", c.auth.issuer)
                        .replace("Some(\"", "")
                        .replace("\")", "")
                },
            ),
        ];
        for (section, name, flag, [default, file, envv, flagv], get) in table {
            let key = KEYS
                .iter()
                .find(|k| k.section == *section && k.name == *name)
                .unwrap();
            let file_text = format!("[{section}]\n{name} = {}\n", toml_literal(key, file));
            let env_name = key.env_name();
            let e = [(env_name.as_str(), *envv)];
            assert_eq!(get(&load(None, &[], &[]).unwrap()), *default, "{env_name}");
            assert_eq!(
                get(&load(Some(&file_text), &[], &[]).unwrap()),
                *file,
                "{env_name}"
            );
            assert_eq!(
                get(&load(Some(&file_text), &e, &[]).unwrap()),
                *envv,
                "{env_name}"
            );
            if let Some(flag) = flag {
                let a = [*flag, *flagv];
                assert_eq!(
                    get(&load(Some(&file_text), &e, &a).unwrap()),
                    *flagv,
                    "{flag}"
                );
                let joined = format!("{flag}={flagv}");
                let c = load(Some(&file_text), &e, &[joined.as_str()]).unwrap();
                assert_eq!(get(&c), *flagv, "{joined}");
            }
        }
    }

    /// Every documented key parses its example from the environment and from the file, to the
    /// same configuration, which differs from the default.
    #[test]
    fn every_documented_key_parses_from_env_and_file() {
        for key in KEYS {
            let name = key.env_name();
            let mut e = vec![(name.as_str(), key.example)];
            let mut file = format!(
                "[{}]\n{} = {}\n",
                key.section,
                key.name,
                toml_literal(key, key.example)
            );
            if key.dotted() == "auth.mode" {
                e = with_jwt(&[("OOLOI__AUTH__JWKS_FILE", "/k.json")]);
                file.push_str(
                    "issuer = \"https://idp\"\naudience = \"ooloi\"\njwks_file = \"/k.json\"\n",
                );
            }
            let from_env = load(None, &e, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_file = load(Some(&file), &[], &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(from_env, from_file, "{name}");
            assert_ne!(from_env, Config::default(), "{name} had no effect");
        }
    }

    #[test]
    fn every_key_field_lands_where_documented() {
        let c = load(
            None,
            &[
                ("OOLOI__GRPC__MAX_HEADER_LIST_SIZE", "8192"),
                ("OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS", "60"),
                ("OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS", "5"),
                ("OOLOI__GRPC__MAX_PENDING_ACCEPT_RESET_STREAMS", "50"),
                ("OOLOI__GRPC__MAX_LOCAL_ERROR_RESET_STREAMS", "256"),
                ("OOLOI__AUTH__HS256_SECRET", "s3cret"),
                ("OOLOI__AUTH__PUBLIC_KEY_FILES", " /a.pem, /b.pem ,"),
                ("OOLOI__AUTH__JWKS_URL", "https://idp/jwks"),
                ("OOLOI__AUTH__TENANT_CLAIM", "org"),
                ("OOLOI__AUTH__ROLES_CLAIM", "groups"),
                ("OOLOI__LIMITS__MAX_MESSAGE_BYTES", "5"),
                ("OOLOI__LIMITS__MAX_COLLECTION_ELEMENTS", "6"),
                ("OOLOI__LIMITS__MAX_TOTAL_NODES", "7"),
                ("OOLOI__LIMITS__MAX_STRING_BYTES", "8"),
                ("OOLOI__LIMITS__MAX_DEPTH", "9"),
                ("OOLOI__TELEMETRY__OTLP_ENDPOINT", "http://otel:4317"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.grpc.max_header_list_size, 8192);
        assert_eq!(c.grpc.keepalive_interval_seconds, 60);
        assert_eq!(c.grpc.keepalive_timeout_seconds, 5);
        assert_eq!(c.grpc.max_pending_accept_reset_streams, 50);
        assert_eq!(c.grpc.max_local_error_reset_streams, 256);
        assert_eq!(
            c.auth.hs256_secret.as_ref().map(Secret::expose),
            Some("s3cret")
        );
        assert_eq!(
            c.auth.public_key_files,
            vec![PathBuf::from("/a.pem"), PathBuf::from("/b.pem")]
        );
        assert_eq!(c.auth.jwks_url.as_deref(), Some("https://idp/jwks"));
        assert_eq!(
            (c.auth.tenant_claim.as_str(), c.auth.roles_claim.as_str()),
            ("org", "groups")
        );
        assert_eq!(
            c.value_limits(),
            ValueLimits {
                max_message_bytes: 5,
                max_collection_elements: 6,
                max_total_nodes: 7,
                max_string_bytes: 8,
                max_depth: 9,
            }
        );
        assert_eq!(
            c.telemetry.otlp_endpoint.as_deref(),
            Some("http://otel:4317")
        );
    }

    #[test]
    fn flags_win_over_env() {
        let c = load(
            None,
            &[
                ("OOLOI__GRPC__LISTEN", "1.1.1.1:1"),
                ("OOLOI__HTTP__LISTEN", "1.1.1.1:2"),
                ("OOLOI__STORE__URL", "sqlite://env.db"),
                ("OOLOI__STORE__DATA_DIR", "/env"),
                ("OOLOI__AUTH__MODE", "jwt"),
                ("OOLOI__LOG__FORMAT", "json"),
            ],
            &[
                "--grpc-listen",
                "2.2.2.2:1",
                "--http-listen=2.2.2.2:2",
                "--store-url",
                "postgres://flag/db",
                "--data-dir",
                "/flag",
                "--auth",
                "none",
                "--log-format",
                "text",
            ],
        )
        .unwrap();
        assert_eq!(c.grpc.listen.to_string(), "2.2.2.2:1");
        assert_eq!(c.http.listen.to_string(), "2.2.2.2:2");
        assert_eq!(c.store.url, "postgres://flag/db");
        assert_eq!(c.store.data_dir, PathBuf::from("/flag"));
        assert_eq!(c.auth.mode, AuthMode::None);
        assert_eq!(c.log.format, LogFormat::Text);
        // A later flag wins over an earlier one; a later env pair over an earlier one.
        let c = load(
            None,
            &[
                ("OOLOI__LOG__FORMAT", "json"),
                ("OOLOI__LOG__FORMAT", "text"),
            ],
            &["--data-dir", "/a", "--data-dir=/b"],
        )
        .unwrap();
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.store.data_dir, PathBuf::from("/b"));
    }

    #[test]
    fn a_full_file_parses() {
        let file = r#"
            # ooloi-server configuration
            [grpc]
            listen = "0.0.0.0:10700"
            max_concurrent_streams = 512
            keepalive_interval_seconds = 30

            [http]
            listen = "0.0.0.0:10701"

            [store]
            data_dir = "/var/lib/ooloi"
            durability = "async"

            [auth]
            mode = "jwt"
            public_key_files = ["/keys/a.pem", "/keys/b.pem"]
            issuer = "https://idp.example.org"
            audience = "ooloi"
            leeway_seconds = 5

            [events]
            queue_capacity = 2_000

            [limits]
            max_message_bytes = 1048576

            [telemetry]
            otlp_endpoint = "http://collector:4317"

            [log]
            format = "json"
        "#;
        let c = load(Some(file), &[], &[]).unwrap();
        assert_eq!(c.grpc.listen.to_string(), "0.0.0.0:10700");
        assert_eq!(c.grpc.max_concurrent_streams, 512);
        assert_eq!(c.grpc.keepalive_interval_seconds, 30);
        assert_eq!(c.http.listen.to_string(), "0.0.0.0:10701");
        assert_eq!(c.store.data_dir, PathBuf::from("/var/lib/ooloi"));
        assert_eq!(c.store.url, "sqlite:///var/lib/ooloi/ooloi.db");
        assert_eq!(c.store.durability, Durability::Async);
        assert_eq!(c.auth.mode, AuthMode::Jwt);
        assert_eq!(c.auth.public_key_files.len(), 2);
        assert_eq!(c.auth.issuer.as_deref(), Some("https://idp.example.org"));
        assert_eq!(c.auth.leeway_seconds, 5);
        assert_eq!(c.events.queue_capacity, 2000);
        assert_eq!(c.limits.max_message_bytes, 1 << 20);
        assert_eq!(
            c.telemetry.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        assert_eq!(c.log.format, LogFormat::Json);
        // Dotted keys and a comma-separated string list are the same thing.
        let c = load(
            Some("grpc.listen = \"1.2.3.4:5\"\nauth.public_key_files = \"/a.pem,/b.pem\""),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(c.grpc.listen.to_string(), "1.2.3.4:5");
        assert_eq!(c.auth.public_key_files.len(), 2);
        // An empty file is the defaults.
        assert_eq!(load(Some(""), &[], &[]).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_errors_naming_them() {
        let e = err(None, &[("OOLOI__GRPC__LISTN", "1.2.3.4:5")], &[]);
        assert!(e.contains("OOLOI__GRPC__LISTN"), "{e}");
        assert!(e.contains("did you mean OOLOI__GRPC__LISTEN?"), "{e}");
        let e = err(None, &[("OOLOI__grpc__listen", "1.2.3.4:5")], &[]);
        assert!(e.contains("did you mean OOLOI__GRPC__LISTEN?"), "{e}");
        let e = err(None, &[("OOLOI__NOPE", "x")], &[]);
        assert!(
            e.starts_with("unknown environment variable OOLOI__NOPE"),
            "{e}"
        );
        // Other variables are not looked at.
        load(
            None,
            &[("PATH", "/bin"), ("OOLOI_DEBUG", "1"), ("OOLOI", "x")],
            &[],
        )
        .unwrap();

        let e = err(Some("[grpc]\nlistne = \"1.2.3.4:5\""), &[], &[]);
        assert!(
            e.contains("`grpc.listne`") && e.contains("grpc.listen?"),
            "{e}"
        );
        let e = err(Some("[grcp]\nlisten = \"1.2.3.4:5\""), &[], &[]);
        assert!(e.contains("`grcp`") && e.contains("grpc?"), "{e}");
        let e = err(Some("[grpc.tls]\ncert = \"x\""), &[], &[]);
        assert!(e.contains("`grpc.tls`"), "{e}");
        let e = err(Some("listen = \"1.2.3.4:5\""), &[], &[]);
        assert!(e.contains("`listen`"), "{e}");
        let e = err(Some("grpc = 5"), &[], &[]);
        assert!(
            e.contains("grpc (configuration file): 5 is not a table"),
            "{e}"
        );

        let e = err(None, &[], &["--grpc-listn", "1.2.3.4:5"]);
        assert!(
            e.contains("unknown flag --grpc-listn") && e.contains("--grpc-listen?"),
            "{e}"
        );
        let e = err(None, &[], &["--durability", "async"]);
        assert!(e.contains("unknown flag --durability"), "{e}");
        let e = err(None, &[], &["serve"]);
        assert!(e.contains("unexpected argument \"serve\""), "{e}");
        let e = err(None, &[], &["--data-dir"]);
        assert_eq!(e, "flag --data-dir needs a value");
    }

    #[test]
    fn malformed_values_name_the_key_and_the_form() {
        assert_eq!(
            err(None, &[("OOLOI__GRPC__LISTEN", "abc")], &[]),
            "OOLOI__GRPC__LISTEN: \"abc\" is not a socket address like 127.0.0.1:10700"
        );
        assert_eq!(
            err(None, &[], &["--http-listen", "localhost"]),
            "--http-listen: \"localhost\" is not a socket address like 127.0.0.1:10700"
        );
        assert_eq!(
            err(Some("[grpc]\nlisten = \"abc\""), &[], &[]),
            "grpc.listen (configuration file): \"abc\" is not a socket address like 127.0.0.1:10700"
        );
        assert_eq!(
            err(None, &[("OOLOI__STORE__DURABILITY", "fsync")], &[]),
            "OOLOI__STORE__DURABILITY: \"fsync\" is not one of sync, async"
        );
        assert_eq!(
            err(None, &[], &["--auth", "oauth"]),
            "--auth: \"oauth\" is not one of none, jwt"
        );
        assert_eq!(
            err(None, &[("OOLOI__LOG__FORMAT", "JSON")], &[]),
            "OOLOI__LOG__FORMAT: \"JSON\" is not one of text, json"
        );
        assert_eq!(
            err(None, &[("OOLOI__EVENTS__QUEUE_CAPACITY", "lots")], &[]),
            "OOLOI__EVENTS__QUEUE_CAPACITY: \"lots\" is not an integer from 1 to 4294967295"
        );
        assert_eq!(
            err(None, &[("OOLOI__AUTH__LEEWAY_SECONDS", "-1")], &[]),
            "OOLOI__AUTH__LEEWAY_SECONDS: \"-1\" is not an integer from 0 to 86400"
        );
        assert_eq!(
            err(Some("[events]\nqueue_capacity = \"10\""), &[], &[]),
            "events.queue_capacity (configuration file): \"10\" is not an integer"
        );
        assert_eq!(
            err(Some("[grpc]\nlisten = 10700"), &[], &[]),
            "grpc.listen (configuration file): 10700 is not a string"
        );
        assert_eq!(
            err(Some("[events]\nqueue_capacity = -3"), &[], &[]),
            "events.queue_capacity (configuration file): -3 is not an integer from 1 to 4294967295"
        );
        let e = err(Some("[auth]\npublic_key_files = [\"/a,b.pem\"]"), &[], &[]);
        assert!(e.contains("is not an array of strings"), "{e}");
        let e = err(None, &[("OOLOI__STORE__URL", "mysql://x")], &[]);
        assert!(
            e.contains("OOLOI__STORE__URL: \"mysql://x\" is not a database URL"),
            "{e}"
        );
        let e = err(None, &[("OOLOI__AUTH__JWKS_URL", "ftp://x")], &[]);
        assert!(e.contains("is not an http:// or https:// URL"), "{e}");
        let e = err(
            None,
            &[("OOLOI__TELEMETRY__OTLP_ENDPOINT", "collector:4317")],
            &[],
        );
        assert!(e.contains("OOLOI__TELEMETRY__OTLP_ENDPOINT"), "{e}");
        let e = err(None, &[("OOLOI__STORE__DATA_DIR", "")], &[]);
        assert!(e.contains("is not a directory path"), "{e}");
        let e = err(None, &[("OOLOI__AUTH__TENANT_CLAIM", " ")], &[]);
        assert!(e.contains("is not a claim name"), "{e}");
        let e = err(Some("[grpc\nlisten = 1"), &[], &[]);
        assert!(
            e.starts_with("the configuration file is not valid TOML"),
            "{e}"
        );
        // Surrounding whitespace is forgiven where it cannot be meant.
        let c = load(None, &[("OOLOI__GRPC__LISTEN", " 1.2.3.4:5 ")], &[]).unwrap();
        assert_eq!(c.grpc.listen.to_string(), "1.2.3.4:5");
    }

    #[test]
    fn secrets_never_appear_in_errors_or_debug() {
        let e = err(Some("[auth]\nhs256_secret = 12345"), &[], &[]);
        assert!(e.contains("<redacted>") && !e.contains("12345"), "{e}");
        let c = load(None, &[("OOLOI__AUTH__HS256_SECRET", "topsecret")], &[]).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("topsecret") && debug.contains("<redacted>"),
            "{debug}"
        );
        // A secret is kept exactly, spaces included.
        let c = load(None, &[("OOLOI__AUTH__HS256_SECRET", " s ")], &[]).unwrap();
        assert_eq!(c.auth.hs256_secret.unwrap().expose(), " s ");
    }

    #[test]
    fn jwt_mode_is_validated() {
        let e = err(None, &[("OOLOI__AUTH__MODE", "jwt")], &[]);
        assert!(
            e.contains("auth.issuer (OOLOI__AUTH__ISSUER) is not set"),
            "{e}"
        );
        let e = err(
            None,
            &[
                ("OOLOI__AUTH__ISSUER", "https://idp"),
                ("OOLOI__AUTH__JWKS_FILE", "/k"),
            ],
            &["--auth", "jwt"],
        );
        assert!(
            e.contains("auth.audience (OOLOI__AUTH__AUDIENCE) is not set"),
            "{e}"
        );
        let e = err(None, JWT_ENV, &[]);
        assert!(e.contains("no key source is set"), "{e}");
        for source in [
            ("OOLOI__AUTH__HS256_SECRET", "s"),
            ("OOLOI__AUTH__HS256_SECRET_FILE", "/s"),
            ("OOLOI__AUTH__PUBLIC_KEY_FILES", "/a.pem"),
            ("OOLOI__AUTH__JWKS_URL", "https://idp/jwks"),
            ("OOLOI__AUTH__JWKS_FILE", "/jwks.json"),
        ] {
            let c = load(None, &with_jwt(&[source]), &[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.auth.mode, AuthMode::Jwt);
        }
        // An empty value unsets: the issuer from the file is cleared by the environment.
        let e = err(
            Some("[auth]\nissuer = \"https://idp\""),
            &with_jwt(&[
                ("OOLOI__AUTH__JWKS_FILE", "/k"),
                ("OOLOI__AUTH__ISSUER", ""),
            ]),
            &[],
        );
        assert!(e.contains("auth.issuer"), "{e}");
        // Secret and secret file exclude each other, in any mode; so do the JWKS sources.
        let e = err(
            None,
            &[
                ("OOLOI__AUTH__HS256_SECRET", "s"),
                ("OOLOI__AUTH__HS256_SECRET_FILE", "/s"),
            ],
            &[],
        );
        assert!(e.contains("are both set"), "{e}");
        let e = err(
            None,
            &with_jwt(&[
                ("OOLOI__AUTH__JWKS_URL", "https://i/j"),
                ("OOLOI__AUTH__JWKS_FILE", "/j"),
            ]),
            &[],
        );
        assert!(
            e.contains("auth.jwks_url") && e.contains("are both set"),
            "{e}"
        );
        // A secret from the file and a secret file from the environment conflict too.
        let e = err(
            Some("[auth]\nhs256_secret = \"s\""),
            &[("OOLOI__AUTH__HS256_SECRET_FILE", "/s")],
            &[],
        );
        assert!(e.contains("are both set"), "{e}");
        // Unless the environment clears the file's secret.
        load(
            Some("[auth]\nhs256_secret = \"s\""),
            &[
                ("OOLOI__AUTH__HS256_SECRET_FILE", "/s"),
                ("OOLOI__AUTH__HS256_SECRET", ""),
            ],
            &[],
        )
        .unwrap();
    }

    #[test]
    fn store_url_defaults_follow_the_data_dir() {
        let url = |file: Option<&str>, e: &[(&str, &str)], a: &[&str]| {
            load(file, e, a).unwrap().store.url
        };
        assert_eq!(
            url(None, &[], &["--data-dir", "/srv/o"]),
            "sqlite:///srv/o/ooloi.db"
        );
        assert_eq!(
            url(None, &[("OOLOI__STORE__DATA_DIR", "rel")], &[]),
            "sqlite://rel/ooloi.db"
        );
        assert_eq!(
            url(Some("[store]\ndata_dir = \"/f\""), &[], &[]),
            "sqlite:///f/ooloi.db"
        );
        // The data dir from a higher layer still moves the default URL.
        assert_eq!(
            url(
                Some("[store]\ndata_dir = \"/f\""),
                &[("OOLOI__STORE__DATA_DIR", "/e")],
                &[]
            ),
            "sqlite:///e/ooloi.db"
        );
        // An explicit URL, from any layer, is kept whatever the data dir.
        assert_eq!(
            url(
                Some("[store]\nurl = \"sqlite:///x.db\""),
                &[],
                &["--data-dir", "/y"]
            ),
            "sqlite:///x.db"
        );
        assert_eq!(
            url(
                None,
                &[("OOLOI__STORE__URL", "postgres://h/d")],
                &["--data-dir", "/y"]
            ),
            "postgres://h/d"
        );
        assert_eq!(default_store_url(Path::new("/a/")), "sqlite:///a/ooloi.db");
    }

    #[test]
    fn limits_at_their_bounds() {
        let ok = |k: &str, v: &str| load(None, &[(k, v)], &[]).map(|c| c.value_limits());
        for (k, min, max) in [
            (
                "OOLOI__LIMITS__MAX_DEPTH",
                1u64,
                MAX_CONFIGURABLE_DEPTH as u64,
            ),
            ("OOLOI__LIMITS__MAX_MESSAGE_BYTES", 1, i32::MAX as u64),
            ("OOLOI__LIMITS__MAX_COLLECTION_ELEMENTS", 1, U32_MAX),
            ("OOLOI__LIMITS__MAX_TOTAL_NODES", 1, U32_MAX),
            ("OOLOI__LIMITS__MAX_STRING_BYTES", 1, U32_MAX),
            ("OOLOI__EVENTS__QUEUE_CAPACITY", 1, U32_MAX),
            ("OOLOI__GRPC__MAX_CONCURRENT_STREAMS", 1, U32_MAX),
            ("OOLOI__GRPC__MAX_HEADER_LIST_SIZE", 1, U32_MAX),
            ("OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS", 1, DAY),
            ("OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS", 1, DAY),
            ("OOLOI__GRPC__MAX_PENDING_ACCEPT_RESET_STREAMS", 1, U32_MAX),
            ("OOLOI__GRPC__MAX_LOCAL_ERROR_RESET_STREAMS", 1, U32_MAX),
            ("OOLOI__AUTH__LEEWAY_SECONDS", 0, DAY),
        ] {
            assert!(ok(k, &min.to_string()).is_ok(), "{k} = {min}");
            assert!(ok(k, &max.to_string()).is_ok(), "{k} = {max}");
            let below = min
                .checked_sub(1)
                .map(|b| b.to_string())
                .unwrap_or("-1".into());
            let e = ok(k, &below).unwrap_err().to_string();
            assert!(
                e.starts_with(k) && e.contains(&format!("from {min} to {max}")),
                "{e}"
            );
            let e = ok(k, &(max + 1).to_string()).unwrap_err().to_string();
            assert!(e.starts_with(k), "{e}");
        }
        let l = ok("OOLOI__LIMITS__MAX_DEPTH", "256").unwrap();
        assert_eq!(l.max_depth, 256);
        assert_eq!(l.validate(), Ok(()));
        // validate() catches limits set in code.
        let mut c = Config::default();
        c.limits.max_depth = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("limits.max_depth")
        );
        let mut c = Config::default();
        c.events.queue_capacity = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("events.queue_capacity")
        );
    }

    #[test]
    fn listeners_must_differ_unless_ephemeral() {
        let e = err(
            None,
            &[],
            &["--grpc-listen", "0.0.0.0:9", "--http-listen", "0.0.0.0:9"],
        );
        assert!(
            e.contains("grpc.listen and http.listen are both 0.0.0.0:9"),
            "{e}"
        );
        load(
            None,
            &[],
            &[
                "--grpc-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
            ],
        )
        .unwrap();
    }

    #[test]
    fn config_help_and_version_arguments() {
        let a = args(&[
            "--log-format",
            "json",
            "--config",
            "/etc/a.toml",
            "--config=/etc/b.toml",
        ]);
        assert_eq!(
            Config::config_file_arg(&a).unwrap(),
            Some(PathBuf::from("/etc/b.toml"))
        );
        assert_eq!(Config::config_file_arg(&[]).unwrap(), None);
        // load accepts --config (the caller reads the file).
        assert_eq!(
            Config::load(None, &[], &a).unwrap().log.format,
            LogFormat::Json
        );
        assert!(matches!(
            Config::config_file_arg(&args(&["--config"])),
            Err(ConfigError::MissingFlagValue { .. })
        ));
        assert!(matches!(
            Config::config_file_arg(&args(&["--config="])),
            Err(ConfigError::MissingFlagValue { .. })
        ));
        for h in ["-h", "--help"] {
            assert!(matches!(
                load(None, &[], &["--data-dir", "/x", h]),
                Err(ConfigError::HelpRequested)
            ));
        }
        for v in ["-V", "--version"] {
            assert!(matches!(
                load(None, &[], &[v]),
                Err(ConfigError::VersionRequested)
            ));
        }
    }

    #[test]
    fn usage_names_every_flag_and_variable() {
        for key in KEYS {
            assert!(
                USAGE.contains(&key.env_name()),
                "{} missing from USAGE",
                key.env_name()
            );
            if let Some(flag) = key.flag {
                assert!(USAGE.contains(flag), "{flag} missing from USAGE");
            }
        }
        for flag in ["--config", "--help", "--version"] {
            assert!(USAGE.contains(flag));
        }
        assert_eq!(Config::keys().len(), KEYS.len());
    }

    #[test]
    fn the_contract_keys_exist() {
        let contract = [
            "OOLOI__GRPC__LISTEN",
            "OOLOI__HTTP__LISTEN",
            "OOLOI__STORE__URL",
            "OOLOI__STORE__DATA_DIR",
            "OOLOI__STORE__DURABILITY",
            "OOLOI__AUTH__MODE",
            "OOLOI__AUTH__HS256_SECRET",
            "OOLOI__AUTH__HS256_SECRET_FILE",
            "OOLOI__AUTH__PUBLIC_KEY_FILES",
            "OOLOI__AUTH__JWKS_URL",
            "OOLOI__AUTH__JWKS_FILE",
            "OOLOI__AUTH__ISSUER",
            "OOLOI__AUTH__AUDIENCE",
            "OOLOI__AUTH__TENANT_CLAIM",
            "OOLOI__AUTH__ROLES_CLAIM",
            "OOLOI__AUTH__LEEWAY_SECONDS",
            "OOLOI__EVENTS__QUEUE_CAPACITY",
            "OOLOI__LIMITS__MAX_MESSAGE_BYTES",
            "OOLOI__TELEMETRY__OTLP_ENDPOINT",
            "OOLOI__LOG__FORMAT",
        ];
        let names: Vec<String> = KEYS.iter().map(Key::env_name).collect();
        for name in contract {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        let flags: Vec<&str> = KEYS.iter().filter_map(|k| k.flag).collect();
        assert_eq!(
            flags,
            [
                "--grpc-listen",
                "--http-listen",
                "--store-url",
                "--data-dir",
                "--auth",
                "--log-format"
            ]
        );
    }

    #[test]
    fn suggestions_are_close_or_absent() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            suggest("--auht", ["--auth", "--data-dir"].into_iter()),
            Some("--auth".into())
        );
        assert_eq!(
            suggest("--completely-different", ["--auth"].into_iter()),
            None
        );
    }
}
