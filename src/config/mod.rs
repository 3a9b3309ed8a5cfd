//! Typed server settings, layered: defaults < file (`--config FILE`, TOML) < environment
//! (`OOLOI__SECTION__KEY`) < command-line flags.
//!
//! The key names are a public contract (DESIGN section 12): operators, the Helm chart and tests
//! use them. Every key lives in a section; the file form is `[section] key = value` (or the
//! dotted `section.key = value`), the environment form is `OOLOI__SECTION__KEY` (upper case),
//! and a few keys also have a flag. `ooloi-server --help` lists every key with its environment
//! form and default, from the one table in [`keys`].
//!
//! | file | what it holds |
//! |---|---|
//! | [`types`] | [`Config`] and its sections, with the documented defaults |
//! | [`keys`] | the key table: names, flags, defaults, descriptions, parsers |
//! | [`layers`] | applying the file, the environment and the flags in order |
//! | [`cli`] | the command line (clap) and the settings list of `--help` |
//! | [`error`] | [`ConfigError`] |
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
//! - A key the server does not act on yet is listed by [`Config::inert_settings`] when set, and
//!   the server warns about each at start-up.
//!
//! [`Config::load`] builds a configuration from explicit inputs (a file's text, environment
//! pairs, arguments) and never reads the process environment; [`Config::from_process`] is the thin
//! wrapper the binary uses.

pub mod cli;
pub mod error;
pub mod keys;
mod layers;
pub mod types;

#[cfg(test)]
mod tests;

pub use cli::{ServerArgs, ServerCommand, SettingFlags};
pub use error::ConfigError;
pub use keys::{ENV_PREFIX, Inert, Key, KeyKind};
pub use types::{
    AuthConfig, AuthMode, Config, Durability, EventsConfig, GrpcConfig, HttpConfig, LimitsConfig,
    LogConfig, LogFormat, QuotasConfig, Secret, StoreConfig, TelemetryConfig, TenantsConfig,
    TenantsMode, default_store_url,
};

use clap::Parser;

use crate::value::ValueLimits;
use keys::KEYS;

impl Config {
    /// Builds the configuration from explicit inputs, layering defaults < `file` (TOML text) <
    /// `env` (name, value pairs; only `OOLOI__` names are looked at, later pairs win) < `args`
    /// (the arguments after the program name, as `ooloi-server` takes them; `--config FILE` is
    /// accepted and ignored here, since the caller reads the file). Then validates the result.
    /// Never reads the process environment.
    pub fn load(
        file: Option<&str>,
        env: &[(String, String)],
        args: &[String],
    ) -> Result<Config, ConfigError> {
        let program = std::iter::once("ooloi-server".to_string());
        let parsed = ServerArgs::try_parse_from(program.chain(args.iter().cloned()))?;
        Self::layered(file, env, &parsed.settings)
    }

    /// Like [`Config::load`], with the flags already parsed.
    pub fn layered(
        file: Option<&str>,
        env: &[(String, String)],
        flags: &SettingFlags,
    ) -> Result<Config, ConfigError> {
        let config = layers::layered(file, env, &flags.0)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration of this process: `args` as parsed from its command line, its
    /// environment and the file named by `--config`.
    pub fn from_process(args: &ServerArgs) -> Result<Config, ConfigError> {
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
        let text = match args.config_file() {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::ReadFile { path, source })?,
            ),
            None => None,
        };
        let mut config = Self::layered(text.as_deref(), &env, &args.settings)?;
        config.read_store_url_file(|path| std::fs::read_to_string(path))?;
        Ok(config)
    }

    /// With `store.url_file` set: `store.url` becomes the file's content, trimmed and checked
    /// like the key's own value. `read` reads a file (tests pass a map).
    pub fn read_store_url_file(
        &mut self,
        read: impl FnOnce(&std::path::Path) -> std::io::Result<String>,
    ) -> Result<(), ConfigError> {
        let Some(path) = &self.store.url_file else {
            return Ok(());
        };
        let text = read(path).map_err(|source| ConfigError::ReadKeyFile {
            key: "store.url_file",
            path: path.clone(),
            source,
        })?;
        self.store.url = keys::store_url(&text).map_err(|expected| ConfigError::Invalid {
            origin: format!("store.url_file ({})", path.display()),
            // The URL may hold a password: never echoed.
            value: "<redacted>".to_string(),
            expected,
        })?;
        Ok(())
    }

    /// Every documented key, in table order.
    pub fn keys() -> &'static [Key] {
        KEYS
    }

    /// The keys this configuration sets that the server does not act on yet.
    pub fn inert_settings(&self) -> Vec<&'static Key> {
        KEYS.iter()
            .filter(|key| key.inert.as_ref().is_some_and(|inert| (inert.is_set)(self)))
            .collect()
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
