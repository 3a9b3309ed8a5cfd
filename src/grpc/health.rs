//! gRPC health (`grpc.health.v1.Health`) follows the server's readiness: SERVING while the
//! server is ready, NOT_SERVING before start-up has finished, and from the start of shutdown on,
//! for both the overall status (`""`) and `ooloi.OoloiService`. The transport only reads
//! readiness; start-up and shutdown set it. When the transport drains, health `Watch` streams
//! end after their NOT_SERVING update, so they cannot hold shutdown open.

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The service names health answers for.
const SERVICES: [&str; 2] = ["", "ooloi.OoloiService"];

/// Reports `serving` for every service name.
pub async fn report(reporter: &HealthReporter, serving: bool) {
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// Shutdown: every `Watch` stream gets NOT_SERVING and then ends (an open health watch would
/// otherwise hold graceful shutdown forever), and checks keep answering NOT_SERVING.
pub async fn drain(reporter: &HealthReporter) {
    report(reporter, false).await;
    let mut reporter = reporter.clone();
    for service in SERVICES {
        // Dropping a service's status channel ends its watchers after the update they have
        // not yet read; setting it again answers later checks.
        reporter.clear_service_status(service).await;
        reporter
            .set_service_status(service, ServingStatus::NotServing)
            .await;
    }
}

/// Reports readiness now, then on every change, until the task is aborted or readiness is
/// gone.
pub async fn follow(
    reporter: HealthReporter,
    mut readiness: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let ready = *readiness.borrow_and_update();
    report(&reporter, ready).await;
    tokio::spawn(async move {
        while readiness.changed().await.is_ok() {
            let ready = *readiness.borrow_and_update();
            report(&reporter, ready).await;
        }
    })
}
