//! The server's one Prometheus [`Registry`], and its rendering. Registered in it: the crate's
//! process collector (the standard `process_*` series: CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, threads, start time; Linux only), the server's
//! own collectors ([`super::collectors`]), which read the server's atomics at scrape time, and
//! `ooloi_server_build_info{version}`.
//!
//! The page is the Prometheus text format 0.0.4, which `promtool check metrics` accepts.

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, IntGauge, Opts, Registry, TextEncoder};

use super::collectors::{
    ClientsCollector, ConnectionsCollector, ExecutorCollector, GrpcCollector, StmCollector,
    StoreCollector, TenantsCollector,
};
use super::grpc_stats::GrpcStats;
use crate::api::Api;
use crate::clients::ClientRegistry;
use crate::executor::Executor;
use crate::net::ConnectionStats;
use crate::store::pipeline::DurabilityStage;

/// The content type of the page.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Where the collectors read from.
#[derive(Clone, Debug)]
pub struct Sources {
    /// What the gRPC layer counts.
    pub grpc: Arc<GrpcStats>,
    /// The connected clients, their queues and the event totals.
    pub clients: Arc<ClientRegistry>,
    /// The API (its STM's counters).
    pub api: Api,
    /// The executor domain calls run on.
    pub executor: Executor,
    /// Each listener's connection statistics, by label value.
    pub connections: Vec<(&'static str, Arc<ConnectionStats>)>,
    /// Registered tenants that get their own series (`telemetry.max_tenant_series`).
    pub max_tenant_series: usize,
    /// The store's durability stage.
    pub store: DurabilityStage,
}

/// What the operating system says about the process, for the health documents. A figure the
/// platform cannot give is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessFigures {
    /// Resident memory, bytes.
    pub resident_bytes: Option<u64>,
    /// Threads of the process.
    pub threads: Option<u64>,
}

/// The registry, and the process collector also read directly for the health documents.
pub struct Metrics {
    registry: Registry,
    process: Option<Arc<dyn Collector>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A collector shared between the registry and a direct reader.
struct Shared(Arc<dyn Collector>);

impl Collector for Shared {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }
    fn collect(&self) -> Vec<MetricFamily> {
        self.0.collect()
    }
}

#[cfg(target_os = "linux")]
fn process_collector() -> Option<Arc<dyn Collector>> {
    Some(Arc::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))
}

#[cfg(not(target_os = "linux"))]
fn process_collector() -> Option<Arc<dyn Collector>> {
    None
}

impl Metrics {
    /// The registry with every collector, reading `sources`.
    pub fn new(sources: Sources) -> Metrics {
        let registry = Registry::new();
        let register = |c: Box<dyn Collector>| {
            // Registration fails only for invalid or duplicate descriptors: the server's own
            // constants, checked by the tests.
            registry
                .register(c)
                .unwrap_or_else(|e| panic!("metrics registry: {e}"));
        };
        let build_info = IntGauge::with_opts(
            Opts::new(
                "ooloi_server_build_info",
                "The server's version (always 1).",
            )
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .unwrap_or_else(|e| panic!("ooloi_server_build_info: {e}"));
        build_info.set(1);
        register(Box::new(build_info));
        register(Box::new(GrpcCollector::new(sources.grpc)));
        register(Box::new(ClientsCollector::new(sources.clients.clone())));
        register(Box::new(TenantsCollector::new(
            sources.api.clone(),
            sources.clients.clone(),
            sources.max_tenant_series,
        )));
        register(Box::new(StmCollector::new(sources.api)));
        register(Box::new(ExecutorCollector::new(sources.executor)));
        register(Box::new(StoreCollector::new(sources.store)));
        register(Box::new(ConnectionsCollector::new(sources.connections)));
        let process = process_collector();
        if let Some(p) = &process {
            register(Box::new(Shared(Arc::clone(p))));
        }
        Metrics { registry, process }
    }

    /// The registry (to register more collectors).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The whole `/metrics` page.
    pub fn render(&self) -> String {
        encode(&self.registry.gather())
    }

    /// The light page of `/health` in Prometheus form: the process and the connected clients.
    pub fn render_light(&self) -> String {
        let families: Vec<MetricFamily> = self
            .registry
            .gather()
            .into_iter()
            .filter(|f| {
                f.name().starts_with("process_") || f.name() == "ooloi_server_clients_connected"
            })
            .collect();
        encode(&families)
    }

    /// The process's resident memory and threads now.
    pub fn process(&self) -> ProcessFigures {
        let Some(collector) = &self.process else {
            return ProcessFigures::default();
        };
        let families = collector.collect();
        let gauge = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .and_then(|f| f.get_metric().first())
                .map(|m| m.get_gauge().get_value() as u64)
        };
        ProcessFigures {
            resident_bytes: gauge("process_resident_memory_bytes"),
            threads: gauge("process_threads"),
        }
    }
}

fn encode(families: &[MetricFamily]) -> String {
    let mut page = Vec::new();
    match TextEncoder::new().encode(families, &mut page) {
        Ok(()) => String::from_utf8(page).unwrap_or_default(),
        // Only malformed families fail to encode; the collectors build none, and a scrape
        // must still answer, so say what went wrong in the page's own comment syntax.
        Err(e) => format!("# metrics could not be encoded: {e}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NullSink;
    use crate::identity::{ClientId, Principal};
    use crate::stm::StmConfig;
    use crate::telemetry::labels::{GrpcCode, GrpcMethod};

    fn metrics() -> (Metrics, Sources) {
        let sources = Sources {
            grpc: Arc::new(GrpcStats::new()),
            clients: Arc::new(ClientRegistry::new()),
            api: Api::new(StmConfig::default(), Arc::new(NullSink)),
            executor: Executor::new(1, 4).unwrap(),
            connections: vec![("grpc", Arc::new(ConnectionStats::default()))],
            max_tenant_series: 100,
            store: DurabilityStage::new(crate::config::Durability::Sync, 1, 1, Arc::new(NullSink)),
        };
        (Metrics::new(sources.clone()), sources)
    }

    fn sample_line<'p>(page: &'p str, prefix: &str) -> Option<&'p str> {
        page.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn the_page_reads_the_atomics_at_scrape_time() {
        let (m, s) = metrics();
        let before = m.render();
        let execute = "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"ooloi.OoloiService\",grpc_method=\"ExecuteMethod\",grpc_code=\"OK\"}";
        assert_eq!(
            sample_line(&before, execute),
            Some(&*format!("{execute} 0")),
            "known series exist from the start"
        );
        s.grpc.record_started(GrpcMethod::ExecuteMethod);
        s.grpc.record_completed(
            GrpcMethod::ExecuteMethod,
            GrpcCode::OK,
            std::time::Duration::from_millis(3),
        );
        s.clients
            .register(&Principal::local(), ClientId::new("one").unwrap(), None, 4)
            .unwrap();
        let page = m.render();
        assert_eq!(sample_line(&page, execute), Some(&*format!("{execute} 1")));
        assert!(
            page.contains("ooloi_server_clients_connected 1\n"),
            "{page}"
        );
        assert!(page.contains("grpc_server_handling_seconds_bucket{grpc_type=\"unary\",grpc_service=\"ooloi.OoloiService\",grpc_method=\"ExecuteMethod\",le=\"0.005\"} 1"));
        assert!(page.contains("ooloi_server_build_info{version=\""));
        assert!(
            !page.contains("grpc_method=\"unknown\""),
            "no unknown path yet"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_series_are_the_standard_ones() {
        let (m, _) = metrics();
        let page = m.render();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(sample_line(&page, name).is_some(), "{name} missing");
        }
        let figures = m.process();
        assert!(figures.resident_bytes.unwrap() > 0);
        assert!(figures.threads.unwrap() >= 1);
        let light = m.render_light();
        assert!(light.contains("process_resident_memory_bytes "));
        assert!(light.contains("ooloi_server_clients_connected 0"));
        assert!(!light.contains("grpc_server_"));
    }
}
