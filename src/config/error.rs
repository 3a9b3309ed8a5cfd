//! Why a configuration could not be built: every error names the key, variable, flag or file
//! at fault, and the form expected, and never echoes a secret.

use std::path::PathBuf;

/// Why a configuration could not be built. Every variant names the key, variable, flag or file
/// at fault.
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
    /// A file named by a key (such as `store.url_file`) could not be read.
    #[error("cannot read {key} ({}): {source}", .path.display())]
    ReadKeyFile {
        /// The key, dotted.
        key: &'static str,
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
    /// The command line is not what `ooloi-server --help` describes, or asks for the help or
    /// the version (clap's error says which, and how to print it).
    #[error("{0}")]
    Args(#[from] clap::Error),
    /// The layered settings are inconsistent (jwt without an issuer, two secrets, ...).
    #[error("invalid configuration: {0}")]
    Inconsistent(String),
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => String::new(),
    }
}
