//! The gRPC transport (thin): decode, identify the caller, call the API, map errors. `serve`
//! runs the service on a listener the caller binds (tests bind `127.0.0.1:0`), with the HTTP/2
//! limits set explicitly, until the shutdown future resolves.

pub mod service;
pub mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream_shim::Incoming;

use crate::api::Api;
use crate::clients::{ClientRegistry, EventRouter};
use crate::config::Config;
use crate::proto::ooloi_service_server::OoloiServiceServer;
use service::OoloiGrpc;

mod tokio_stream_shim {
    //! The accepted connections of a bound listener, as the stream tonic serves from.
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::net::{TcpListener, TcpStream};

    pub struct Incoming(pub TcpListener);

    impl futures_core::Stream for Incoming {
        type Item = std::io::Result<TcpStream>;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.0
                .poll_accept(cx)
                .map(|r| Some(r.map(|(stream, _)| stream)))
        }
    }
}

/// The API and client routing a server runs, wired together: commits reach subscribers, and
/// the subscription methods are registered. (The configuration will choose the store here.)
pub fn build(_config: &Config) -> (Api, EventRouter) {
    let registry = Arc::new(ClientRegistry::new());
    let router = EventRouter::new(registry.clone());
    let api = Api::new(crate::stm::StmConfig::default(), Arc::new(router.clone()));
    crate::clients::methods::register(api.methods(), registry);
    (api, router)
}

/// Serves `OoloiService`, gRPC health (`grpc.health.v1`) and server reflection (v1 and
/// v1alpha) on `listener` until `shutdown` resolves; then health reports NOT_SERVING, every
/// client gets `server-shutdown`, and the server returns once in-flight calls have finished.
pub async fn serve(
    config: &Config,
    api: Api,
    router: EventRouter,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let max_message = config.limits.max_message_bytes;
    let service = OoloiServiceServer::new(OoloiGrpc::new(
        api,
        router.clone(),
        config.value_limits(),
        config.events.queue_capacity,
    ))
    .max_decoding_message_size(max_message)
    .max_encoding_message_size(max_message);
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    // Nothing to wait for yet (no store): ready as soon as the listener is bound.
    health.set_serving::<OoloiServiceServer<OoloiGrpc>>().await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let grpc = &config.grpc;
    tonic::transport::Server::builder()
        .max_concurrent_streams(Some(grpc.max_concurrent_streams))
        .http2_max_header_list_size(Some(grpc.max_header_list_size))
        .http2_keepalive_interval(Some(grpc.keepalive_interval()))
        .http2_keepalive_timeout(Some(grpc.keepalive_timeout()))
        .http2_max_pending_accept_reset_streams(Some(grpc.max_pending_accept_reset_streams))
        .http2_max_local_error_reset_streams(Some(grpc.max_local_error_reset_streams))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(Incoming(listener), async move {
            shutdown.await;
            health
                .set_not_serving::<OoloiServiceServer<OoloiGrpc>>()
                .await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            router.shutdown("the server is shutting down");
            // End every event stream once it has delivered what is queued (the shutdown notice
            // last), so that graceful shutdown does not wait on streams that never end.
            for client in router.registry().all_clients() {
                client.queue().close();
            }
        })
        .await?;
    Ok(())
}
