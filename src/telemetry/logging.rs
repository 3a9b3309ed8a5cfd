//! Structured logs through `tracing`: one line per event on standard error, as text
//! (`2025-01-01T12:00:00.000000Z  INFO ooloi_server: message key=value`) or, with
//! `log.format = json`, as one JSON object per line with the fields at the top level. The
//! filter comes from `RUST_LOG` in the `target=level,level` form (`info` when unset or not
//! understood); per-call request lines are at debug level (`RUST_LOG=ooloi_server=debug`).
//! A line logged during a gRPC call names the call's span and its `trace_id` (text: as the span
//! prefix; JSON: in `span` and `spans`), so logs and traces can be matched.

use std::str::FromStr;

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
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
/// `traces`, spans are also exported ([`super::traces`]).
///
/// The log lines follow `RUST_LOG`, but never show the spans made only for traces
/// ([`super::traces::TRACE_ONLY_TARGET`]). Without an exporter that is the one filter, for
/// everything (no layer wants the trace-only spans, so they cost a callsite check). With one,
/// each layer has its own: the exporter takes this crate's spans at info whatever `RUST_LOG`
/// says (a quieter log must not turn tracing off, and the transport crates' own spans, the
/// exporter's connection among them, stay out of the traces).
pub fn init(format: LogFormat, rust_log: Option<&str>, traces: Option<&super::traces::Exporter>) {
    let (targets, understood) = filter(rust_log);
    let logged = targets.with_target(super::traces::TRACE_ONLY_TARGET, LevelFilter::OFF);
    let installed = match traces {
        None => tracing_subscriber::registry()
            .with(logged)
            .with(log_lines(format))
            .try_init(),
        Some(traces) => {
            let exported = Targets::new().with_target(env!("CARGO_CRATE_NAME"), Level::INFO);
            tracing_subscriber::registry()
                .with(log_lines(format).with_filter(logged))
                .with(traces.layer().with_filter(exported))
                .try_init()
        }
    };
    if installed.is_ok() && !understood {
        tracing::warn!(
            rust_log = rust_log.unwrap_or_default(),
            fallback = DEFAULT_FILTER,
            "RUST_LOG is not a target=level list; using the default filter"
        );
    }
}

/// The layer writing log lines to standard error, as text or JSON.
fn log_lines<S>(format: LogFormat) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    }
}

#[cfg(test)]
mod tests {
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
