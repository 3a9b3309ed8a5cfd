//! Telemetry: what the server measures about itself and how it says so. [`grpc_layer`] is the
//! tower layer that counts and times every gRPC call into [`GrpcStats`] (bounded labels from
//! [`labels`]); [`metrics`] holds the one Prometheus registry, in which the server's own
//! [`collectors`] (built from [`family`] descriptors) read those numbers, the client
//! registry's and the STM's counters at scrape time, next to the crate's standard process
//! collector; [`logging`] installs the structured log subscriber; [`traces`] makes each call's
//! span, continues the caller's W3C trace and exports spans over OTLP when configured. The
//! domain modules keep counters and make `tracing` spans, and never see this module.

pub mod audit;
pub mod collectors;
pub mod family;
pub mod grpc_layer;
pub mod grpc_stats;
pub mod labels;
pub mod logging;
pub mod metrics;
pub mod traces;

pub use grpc_layer::GrpcMetricsLayer;
pub use grpc_stats::GrpcStats;
pub use metrics::Metrics;
