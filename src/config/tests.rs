//! The configuration's tests: defaults, every layer over the one below, every key from each
//! source, errors that name what is wrong, the command line and its help.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;

use super::keys::{DAY, KEYS, U32_MAX};
use super::layers::{edit_distance, suggest};
use super::*;
use crate::value::{MAX_CONFIGURABLE_DEPTH, ValueLimits};

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
        KeyKind::Integer | KeyKind::Bool => value.to_string(),
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
    assert_eq!(c.grpc.max_header_list_size, 32768);
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
        // The documented default, applied as a value, gives the default configuration (a
        // default described in words, like `derived from the file-descriptor limit`, is what
        // the unset value means).
        let described = key.default.contains(' ');
        if key.default != "unset" && key.name != "url" && !described {
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
        e.contains("--grpc-listn") && e.contains("--grpc-listen"),
        "{e}"
    );
    let e = err(None, &[], &["--durability", "async"]);
    assert!(e.contains("--durability"), "{e}");
    let e = err(None, &[], &["serve"]);
    assert!(e.contains("'serve'"), "{e}");
    let e = err(None, &[], &["--data-dir"]);
    assert!(
        e.contains("--data-dir") && e.contains("value is required"),
        "{e}"
    );
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
    // A store URL may hold a password: never echoed.
    let e = err(
        None,
        &[("OOLOI__STORE__URL", "mysql://root:hunter2@x")],
        &[],
    );
    assert!(
        e.contains("OOLOI__STORE__URL: <redacted> is not a database URL") && !e.contains("hunter2"),
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
    // No TLS client in this build: an https:// collector is refused here, not at start-up.
    let e = err(
        None,
        &[("OOLOI__TELEMETRY__OTLP_ENDPOINT", "https://collector:4317")],
        &[],
    );
    assert!(e.contains("has no TLS client"), "{e}");
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
    let url =
        |file: Option<&str>, e: &[(&str, &str)], a: &[&str]| load(file, e, a).unwrap().store.url;
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
fn the_store_url_can_come_from_a_file_and_is_never_echoed() {
    let files = |path: &Path| match path.to_str() {
        Some("/run/secrets/db") => Ok("  postgres://ooloi:pw@db:5432/ooloi\n".to_string()),
        Some("/run/secrets/bad") => Ok("mysql://root:hunter2@db/x".to_string()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    let mut c = load(None, &[("OOLOI__STORE__URL_FILE", "/run/secrets/db")], &[]).unwrap();
    c.read_store_url_file(files).unwrap();
    assert_eq!(c.store.url, "postgres://ooloi:pw@db:5432/ooloi");
    // Not set: the URL stays what the layers made it.
    let mut c = load(None, &[], &[]).unwrap();
    c.read_store_url_file(files).unwrap();
    assert_eq!(c.store.url, "sqlite://./data/ooloi.db");
    // A bad URL in the file is an error naming the key and the file, without the content.
    let mut c = load(None, &[("OOLOI__STORE__URL_FILE", "/run/secrets/bad")], &[]).unwrap();
    let e = c.read_store_url_file(files).unwrap_err().to_string();
    assert!(e.contains("store.url_file (/run/secrets/bad)"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let mut c = load(None, &[("OOLOI__STORE__URL_FILE", "/missing")], &[]).unwrap();
    let e = c.read_store_url_file(files).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read store.url_file (/missing)"),
        "{e}"
    );
    // Both set is ambiguous.
    let e = err(
        None,
        &[
            ("OOLOI__STORE__URL_FILE", "/run/secrets/db"),
            ("OOLOI__STORE__URL", "postgres://h/d"),
        ],
        &[],
    );
    assert!(e.contains("both set"), "{e}");
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
    use clap::Parser;
    let a = args(&[
        "--log-format",
        "json",
        "--config",
        "/etc/a.toml",
        "--config=/etc/b.toml",
    ]);
    let parsed = ServerArgs::try_parse_from(
        ["ooloi-server"]
            .into_iter()
            .chain(a.iter().map(String::as_str)),
    )
    .unwrap();
    assert_eq!(
        parsed.config_file(),
        Some(PathBuf::from("/etc/b.toml")),
        "the last --config wins"
    );
    // load accepts --config (the caller reads the file).
    assert_eq!(
        Config::load(None, &[], &a).unwrap().log.format,
        LogFormat::Json
    );
    let kind = |a: &[&str]| match load(None, &[], a) {
        Err(ConfigError::Args(e)) => e.kind(),
        other => panic!("{a:?}: {other:?}"),
    };
    assert_eq!(kind(&["--config"]), ErrorKind::InvalidValue);
    assert_eq!(kind(&["--config="]), ErrorKind::InvalidValue);
    for h in ["-h", "--help"] {
        assert_eq!(kind(&["--data-dir", "/x", h]), ErrorKind::DisplayHelp);
    }
    for v in ["-V", "--version"] {
        assert_eq!(kind(&[v]), ErrorKind::DisplayVersion);
    }
}

#[test]
fn help_names_every_flag_key_variable_and_default() {
    use clap::CommandFactory;
    let help = ServerArgs::command().render_long_help().to_string();
    for key in KEYS {
        assert!(
            help.contains(&key.env_name()),
            "{} missing from --help",
            key.env_name()
        );
        assert!(
            help.contains(&key.dotted()),
            "{} missing from --help",
            key.dotted()
        );
        assert!(
            help.contains(&format!("[default: {}]", key.default)),
            "the default of {} missing from --help",
            key.dotted()
        );
        if let Some(flag) = key.flag {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
    }
    for flag in ["--config", "--help", "--version"] {
        assert!(help.contains(flag), "{flag}");
    }
    assert_eq!(Config::keys().len(), KEYS.len());
}

#[test]
fn keys_not_acted_on_are_reported_only_when_set() {
    assert!(Config::default().inert_settings().is_empty());
    let named =
        |c: &Config| -> Vec<String> { c.inert_settings().iter().map(|k| k.dotted()).collect() };
    let c = load(
        None,
        &[("OOLOI__TELEMETRY__OTLP_ENDPOINT", "http://otel:4317")],
        &[],
    )
    .unwrap();
    assert!(named(&c).is_empty(), "trace export is acted on");
    let c = load(
        None,
        &[("OOLOI__STORE__DURABILITY", "async")],
        &["--data-dir", "/srv"],
    )
    .unwrap();
    assert!(named(&c).is_empty(), "the store keys are acted on");
    let c = load(None, &[("OOLOI__AUTH__ISSUER", "https://idp")], &[]).unwrap();
    assert_eq!(named(&c), ["auth.issuer"]);
    // Every key the server does not act on can be detected when given its example value.
    for key in KEYS.iter().filter(|k| k.inert.is_some()) {
        let c = load(None, &[(key.env_name().as_str(), key.example)], &[]).unwrap();
        assert!(named(&c).contains(&key.dotted()), "{}", key.dotted());
    }
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
