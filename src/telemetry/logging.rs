//! Structured logs through `tracing`: one line per event on standard error, as text
//! (`2025-01-01T12:00:00.000000Z  INFO ooloi_server: message key=value`) or, with
//! `log.format = json`, as one JSON object per line with the fields at the top level. The
//! filter comes from `RUST_LOG` in the `target=level,level` form (`info` when unset or not
//! understood); per-call request lines are at debug level (`RUST_LOG=ooloi_server=debug`).
//! A line logged during a gRPC call names the call's span and its `trace_id` (text: as the span
//! prefix; JSON: in `span` and `spans`), so logs and traces can be matched.

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` says nothing usable.
pub const DEFAULT_FILTER: &str = "info";

/// The filter a `RUST_LOG` value asks for, and whether it was understood (an unreadable value
/// falls back to [`DEFAULT_FILTER`] rather than silencing the server).
pub fn filter(rust_log: Option<&str>) -> (Targets, bool) {
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (default_filter(), true),
        Some(spec) => match Targets::from_str(spec) {
            Ok(targets) => (targets, true),
            Err(_) => (default_filter(), false),
        },
    }
}

fn default_filter() -> Targets {
    Targets::from_str(DEFAULT_FILTER).unwrap_or_default()
}

/// Installs the process-wide subscriber (once; a second call, as in tests, changes nothing).
/// `rust_log` is the value of `RUST_LOG`, passed in so that configuration stays explicit. With
/// `traces`, spans are also exported ([`super::traces`]); the same filter decides which.
pub fn init(format: LogFormat, rust_log: Option<&str>, traces: Option<&super::traces::Exporter>) {
    let (targets, understood) = filter(rust_log);
    let registry = tracing_subscriber::registry()
        .with(targets)
        .with(traces.map(super::traces::Exporter::layer));
    let installed = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if installed.is_ok() && !understood {
        tracing::warn!(
            rust_log = rust_log.unwrap_or_default(),
            fallback = DEFAULT_FILTER,
            "RUST_LOG is not a target=level list; using the default filter"
        );
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_sets_levels_per_target_and_nonsense_falls_back_to_info() {
        let (f, ok) = filter(None);
        assert!(ok);
        assert!(f.would_enable("ooloi_server", &Level::INFO));
        assert!(!f.would_enable("ooloi_server", &Level::DEBUG));
        let (f, ok) = filter(Some("warn,ooloi_server=debug"));
        assert!(ok);
        assert!(f.would_enable("ooloi_server::telemetry", &Level::DEBUG));
        assert!(!f.would_enable("h2", &Level::INFO));
        let (f, ok) = filter(Some("ooloi_server=[{x}]"));
        assert!(!ok);
        assert!(f.would_enable("ooloi_server", &Level::INFO));
    }
}
