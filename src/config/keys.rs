//! The key table: every configuration key once, with its section and name (so its file and
//! environment forms), its flag if it has one, its TOML type, documented default, an example, a
//! one-line description for `--help`, whether it is secret, whether the server acts on it yet,
//! and the parser that sets it. The usage text, the flags and the layering all come from this
//! table, so they cannot disagree.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::types::{AuthMode, Config, Durability, LogFormat, Secret, TenantsMode};
use crate::value::MAX_CONFIGURABLE_DEPTH;

/// The TOML type a key takes in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A TOML string.
    Text,
    /// A TOML integer.
    Integer,
    /// A TOML array of strings, or one comma-separated string.
    List,
    /// A TOML boolean (`true` or `false`; the environment and flags spell it the same).
    Bool,
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
    /// What it sets, in a few words, for `--help`.
    pub help: &'static str,
    /// Set when the server does not act on the key yet: why, and how to tell that it was set.
    /// The server warns at start-up about every such key that is set, rather than ignore it
    /// silently.
    pub inert: Option<Inert>,
    pub(crate) set: Setter,
}

/// Why a key has no effect yet, and whether a configuration sets it.
#[derive(Debug)]
pub struct Inert {
    /// What the operator should know (`pieces live in memory only ...`).
    pub reason: &'static str,
    /// True when the configuration gives the key a value other than its default.
    pub is_set: fn(&Config) -> bool,
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

/// Why the token keys do nothing while authentication is off.
const AUTH_OFF: &str = "authentication is off (auth.mode = none), so no token is verified";

pub(super) const U32_MAX: u64 = u32::MAX as u64;
pub(super) const MESSAGE_MAX: u64 = i32::MAX as u64;
pub(super) const DAY: u64 = 86_400;

/// Every key, in the order `--help` lists them.
pub(crate) static KEYS: &[Key] = &[
    Key {
        section: "grpc",
        name: "listen",
        flag: Some("--grpc-listen"),
        kind: KeyKind::Text,
        default: "127.0.0.1:10700",
        example: "0.0.0.0:7000",
        secret: false,
        help: "gRPC address",
        inert: None,
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
        help: "HTTP/2 streams per connection",
        inert: None,
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
        default: "32768",
        example: "8192",
        secret: false,
        help: "largest HTTP/2 header list, bytes",
        inert: None,
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
        help: "HTTP/2 ping interval on an idle connection, seconds",
        inert: None,
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
        help: "how long a ping may go unanswered before the connection closes, seconds",
        inert: None,
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
        help: "streams a peer may reset before the server accepts them (rapid-reset guard)",
        inert: None,
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
        help: "streams reset for peer protocol errors before the connection closes",
        inert: None,
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
        help: "metrics and health sidecar address",
        inert: None,
        set: |c, v| {
            c.http.listen = socket(v)?;
            Ok(())
        },
    },
    Key {
        section: "http",
        name: "max_connections",
        flag: None,
        kind: KeyKind::Integer,
        default: "128",
        example: "32",
        secret: false,
        help: "open sidecar connections; beyond it new ones are closed at once",
        inert: None,
        set: |c, v| {
            c.http.max_connections = int(v, 1, U32_MAX)? as usize;
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
        secret: true,
        help: "database: sqlite://PATH, postgres://... or memory: (nothing kept)",
        inert: None,
        set: |c, v| {
            c.store.url = store_url(v)?;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "url_file",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "/run/secrets/database-url",
        secret: false,
        help: "file holding store.url (a database URL with a password stays out of the environment)",
        inert: None,
        set: |c, v| {
            c.store.url_file = optional_path(v);
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
        help: "data directory",
        inert: None,
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
        help: "sync | async: acknowledge a write after, or before, it is durable",
        inert: None,
        set: |c, v| {
            c.store.durability = choice(
                v,
                &[("sync", Durability::Sync), ("async", Durability::Async)],
            )?;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "max_unflushed",
        flag: None,
        kind: KeyKind::Integer,
        default: "10000",
        example: "1000",
        secret: false,
        help: "durability async: commits acknowledged but not yet durable, at most (the loss window)",
        inert: None,
        set: |c, v| {
            c.store.max_unflushed = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "evict_idle_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "600",
        example: "60",
        secret: false,
        help: "a loaded piece with no subscribers leaves memory after this many idle seconds",
        inert: None,
        set: |c, v| {
            c.store.evict_idle_seconds = int(v, 1, U32_MAX)?;
            Ok(())
        },
    },
    Key {
        section: "store",
        name: "snapshot_every",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000",
        example: "200",
        secret: false,
        help: "snapshot a piece after this many records (the log behind it is trimmed)",
        inert: None,
        set: |c, v| {
            c.store.snapshot_every = int(v, 1, U32_MAX)?;
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
        help: "none | jwt",
        inert: None,
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
        help: "HS256 shared secret",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.hs256_secret.is_some(),
        }),
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
        help: "file holding the HS256 secret",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.hs256_secret_file.is_some(),
        }),
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
        help: "PEM public keys (RS256, ES256, EdDSA), comma-separated",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && !c.auth.public_key_files.is_empty(),
        }),
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
        help: "JWKS URL (http:// or https://)",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.jwks_url.is_some(),
        }),
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
        help: "JWKS file",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.jwks_file.is_some(),
        }),
        set: |c, v| {
            c.auth.jwks_file = optional_path(v);
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "jwks_min_refresh_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "30",
        example: "300",
        secret: false,
        help: "with auth.jwks_url: the least time between two fetches of the key set (a token naming an unknown kid asks for one)",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.jwks_min_refresh_seconds != 30,
        }),
        set: |c, v| {
            c.auth.jwks_min_refresh_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "jwks_ttl_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "3600",
        example: "600",
        secret: false,
        help: "with auth.jwks_url: how long a fetched key set is used before it is fetched again",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.jwks_ttl_seconds != 3600,
        }),
        set: |c, v| {
            c.auth.jwks_ttl_seconds = int(v, 1, DAY)?;
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
        help: "required token issuer (iss); required in jwt mode",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.issuer.is_some(),
        }),
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
        help: "required token audience (aud); required in jwt mode",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.audience.is_some(),
        }),
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
        help: "token claim naming the tenant",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.tenant_claim != "tenant",
        }),
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
        help: "token claim listing the roles",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.roles_claim != "roles",
        }),
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
        help: "clock leeway for exp and nbf, seconds",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.leeway_seconds != 30,
        }),
        set: |c, v| {
            c.auth.leeway_seconds = int(v, 0, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "platform_tenant",
        flag: None,
        kind: KeyKind::Text,
        default: "platform",
        example: "operator",
        secret: false,
        help: "the tenant whose platform-admin principals operate the platform (manage tenants)",
        inert: Some(Inert {
            reason: AUTH_OFF,
            is_set: |c| c.auth.mode == AuthMode::None && c.auth.platform_tenant != "platform",
        }),
        set: |c, v| {
            c.auth.platform_tenant = optional(v).ok_or_else(|| "a tenant id".to_string())?;
            Ok(())
        },
    },
    Key {
        section: "auth",
        name: "allow_insecure_network",
        flag: None,
        kind: KeyKind::Bool,
        default: "false",
        example: "true",
        secret: false,
        help: "with auth.mode = none, allow a listen address other than loopback (anyone who can connect then acts as anyone)",
        inert: None,
        set: |c, v| {
            c.auth.allow_insecure_network = boolean(v)?;
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
        help: "events queued per client before the oldest is dropped",
        inert: None,
        set: |c, v| {
            c.events.queue_capacity = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "tenants",
        name: "mode",
        flag: None,
        kind: KeyKind::Text,
        default: "open",
        example: "registered",
        secret: false,
        help: "open (a tenant exists on first use) | registered (only tenants the platform operator created)",
        inert: None,
        set: |c, v| {
            c.tenants.mode = choice(
                v,
                &[
                    ("open", TenantsMode::Open),
                    ("registered", TenantsMode::Registered),
                ],
            )?;
            Ok(())
        },
    },
    Key {
        section: "tenants",
        name: "file",
        flag: None,
        kind: KeyKind::Text,
        default: "unset",
        example: "/etc/ooloi/tenants.toml",
        secret: false,
        help: "TOML file of tenant records the registry starts with",
        inert: None,
        set: |c, v| {
            c.tenants.file = optional_path(v);
            Ok(())
        },
    },
    Key {
        section: "quotas",
        name: "clients_per_tenant",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000",
        example: "100",
        secret: false,
        help: "connected clients per tenant (a tenant record may override)",
        inert: None,
        set: |c, v| {
            c.quotas.clients_per_tenant = int(v, 1, U32_MAX)?;
            Ok(())
        },
    },
    Key {
        section: "quotas",
        name: "pieces_per_tenant",
        flag: None,
        kind: KeyKind::Integer,
        default: "10000",
        example: "500",
        secret: false,
        help: "pieces per tenant (a tenant record may override)",
        inert: None,
        set: |c, v| {
            c.quotas.pieces_per_tenant = int(v, 1, U32_MAX)?;
            Ok(())
        },
    },
    Key {
        section: "quotas",
        name: "requests_per_second",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000",
        example: "50",
        secret: false,
        help: "sustained calls per second per tenant (a tenant record may override)",
        inert: None,
        set: |c, v| {
            c.quotas.requests_per_second = int(v, 1, U32_MAX)?;
            Ok(())
        },
    },
    Key {
        section: "quotas",
        name: "burst",
        flag: None,
        kind: KeyKind::Integer,
        default: "2000",
        example: "100",
        secret: false,
        help: "calls a tenant may make at once above its rate (a tenant record may override)",
        inert: None,
        set: |c, v| {
            c.quotas.burst = int(v, 1, U32_MAX)?;
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
        help: "largest gRPC message, bytes",
        inert: None,
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
        help: "value nesting depth (1 to 256)",
        inert: None,
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
        help: "elements per collection in a value",
        inert: None,
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
        help: "values per message",
        inert: None,
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
        help: "bytes per string in a value",
        inert: None,
        set: |c, v| {
            c.limits.max_string_bytes = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_batch_operations",
        flag: None,
        kind: KeyKind::Integer,
        default: "1000",
        example: "100",
        secret: false,
        help: "operations in one atomic batch",
        inert: None,
        set: |c, v| {
            c.limits.max_batch_operations = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_call_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "30",
        example: "5",
        secret: false,
        help: "the longest a call may run, whatever deadline the client asks for",
        inert: None,
        set: |c, v| {
            c.limits.max_call_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_client_info_bytes",
        flag: None,
        kind: KeyKind::Integer,
        default: "4096",
        example: "1024",
        secret: false,
        help: "encoded size of a registration's client_info",
        inert: None,
        set: |c, v| {
            c.limits.max_client_info_bytes = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_display_name_chars",
        flag: None,
        kind: KeyKind::Integer,
        default: "256",
        example: "64",
        secret: false,
        help: "characters of a client's :display-name",
        inert: None,
        set: |c, v| {
            c.limits.max_display_name_chars = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "handshake_timeout_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "10",
        example: "3",
        secret: false,
        help: "time a new connection has to send the HTTP/2 preface (sidecar: request headers)",
        inert: None,
        set: |c, v| {
            c.limits.handshake_timeout_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "idle_connection_seconds",
        flag: None,
        kind: KeyKind::Integer,
        default: "300",
        example: "60",
        secret: false,
        help: "time a connection may stay open with no request in flight",
        inert: None,
        set: |c, v| {
            c.limits.idle_connection_seconds = int(v, 1, DAY)?;
            Ok(())
        },
    },
    Key {
        section: "limits",
        name: "max_connections",
        flag: None,
        kind: KeyKind::Integer,
        default: "derived from the file-descriptor limit",
        example: "500",
        secret: false,
        help: "open connections per listener; beyond it new ones are closed at once",
        inert: None,
        set: |c, v| {
            c.limits.max_connections = Some(int(v, 1, U32_MAX)? as usize);
            Ok(())
        },
    },
    Key {
        section: "executor",
        name: "threads",
        flag: None,
        kind: KeyKind::Integer,
        default: "the number of cores",
        example: "4",
        secret: false,
        help: "threads that run domain calls, off the async workers",
        inert: None,
        set: |c, v| {
            c.executor.threads = Some(int(v, 1, 1024)? as usize);
            Ok(())
        },
    },
    Key {
        section: "executor",
        name: "queue",
        flag: None,
        kind: KeyKind::Integer,
        default: "1024",
        example: "64",
        secret: false,
        help: "calls waiting for an executor thread; beyond it a call gets RESOURCE_EXHAUSTED",
        inert: None,
        set: |c, v| {
            c.executor.queue = int(v, 1, U32_MAX)? as usize;
            Ok(())
        },
    },
    Key {
        section: "telemetry",
        name: "max_tenant_series",
        flag: None,
        kind: KeyKind::Integer,
        default: "100",
        example: "500",
        secret: false,
        help: "registered tenants that get their own Prometheus series (ooloi_server_tenant_*), first by id; 0 for none",
        inert: None,
        set: |c, v| {
            c.telemetry.max_tenant_series = int(v, 0, 100_000)? as usize;
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
        help: "OTLP/gRPC endpoint traces are exported to (unset: no export)",
        inert: None,
        set: |c, v| {
            let endpoint = http_url(v, "http://otel-collector:4317")?;
            if endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("https://"))
            {
                // Refused here rather than at start-up: this build has no TLS client.
                return Err(
                    "an http:// URL like http://otel-collector:4317 (this build \
                     has no TLS client: export to a collector on a trusted network, or a \
                     sidecar)"
                        .to_string(),
                );
            }
            c.telemetry.otlp_endpoint = endpoint;
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
        help: "text | json",
        inert: None,
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

fn boolean(v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("true or false".to_string()),
    }
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

pub(super) fn store_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let ok = v == "memory:"
        || ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| v.len() > scheme.len() && v.starts_with(scheme));
    if ok {
        Ok(v.to_string())
    } else {
        Err(
            "a database URL like sqlite://./data/ooloi.db, postgres://user@host/db or memory:"
                .to_string(),
        )
    }
}

fn claim(v: &str) -> Result<String, String> {
    optional(v).ok_or_else(|| "a claim name".to_string())
}
