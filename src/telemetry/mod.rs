//! Telemetry: what the server measures about itself and how it says so. [`grpc_layer`] is the
//! tower layer that counts and times every gRPC call into [`GrpcStats`] (bounded labels from
//! [`labels`]); [`metrics`] renders those numbers, the client registry's and the STM's
//! counters and the process's gauges as Prometheus text ([`exposition`]) at scrape time;
//! [`process`] reads the process's memory and threads; [`logging`] installs the structured
//! log subscriber. The HTTP sidecar (`crate::http`) serves all of this; the domain modules
//! only keep counters and never see this module.

pub mod exposition;
pub mod grpc_layer;
pub mod grpc_stats;
pub mod labels;
pub mod logging;
pub mod metrics;
pub mod process;

pub use grpc_layer::GrpcMetricsLayer;
pub use grpc_stats::GrpcStats;
