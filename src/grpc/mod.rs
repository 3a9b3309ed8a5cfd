//! The gRPC transport (thin): decode, identify the caller, call the API, map errors.
//!
//! [`serve`] runs `OoloiService`, gRPC health and server reflection on a listener the caller
//! binds (tests bind `127.0.0.1:0`); [`serve_incoming`] does the same over any stream of
//! connections (the embedded transport hands in in-memory duplex pipes). Both set the HTTP/2
//! limits explicitly ([`limits`]) and run until the shutdown future resolves; then health goes
//! NOT_SERVING, every client gets `server-shutdown`, every event stream ends after its queued
//! events, and the call returns once in-flight calls have finished. Readiness is the server's
//! (set by [`Server::open`] and [`Server::begin_shutdown`]); health follows it ([`health`]).

mod call_frames;
pub mod caller;
pub mod codec;
mod event_frame;
pub mod health;
pub mod limits;
pub mod reflection;
pub mod service;
mod size_limit;
pub mod status;
pub mod streams;
pub mod stub;

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tonic::transport::server::Connected;

use crate::identity::Principal;
use crate::server::Server;
use crate::telemetry::GrpcMetricsLayer;
use service::OoloiGrpc;
use stub::ooloi_service_server::OoloiServiceServer;

pub use call_frames::{RequestFrame, ResponseFrame};
pub use event_frame::EventFrame;

/// The boxed error a transport returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod incoming {
    //! The accepted connections of a bound listener, as the stream tonic serves from.
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::net::{TcpListener, TcpStream};

    pub struct Incoming(pub TcpListener);

    impl futures_core::Stream for Incoming {
        type Item = std::io::Result<TcpStream>;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.0.poll_accept(cx).map(|r| {
                Some(r.map(|(stream, _)| {
                    // Events and small replies must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    stream
                }))
            })
        }
    }
}

/// Serves gRPC on `listener` until `shutdown` resolves (see the module documentation).
pub async fn serve(
    server: &Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    serve_incoming(server, incoming::Incoming(listener), shutdown).await
}

/// Serves gRPC on every connection `incoming` yields until `shutdown` resolves.
pub async fn serve_incoming<I, IO, IE>(
    server: &Server,
    incoming: I,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError>
where
    I: futures_core::Stream<Item = Result<IO, IE>> + Send,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<BoxError>,
{
    let config = server.config();
    let max_message = config.limits.max_message_bytes;
    let grpc = OoloiGrpc::new(server.clone());
    let streams = grpc.streams().clone();
    let service = OoloiServiceServer::new(grpc)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = reflection::v1()?;
    let reflection_v1alpha = reflection::v1alpha()?;
    let following = health::follow(health.clone(), server.readiness().subscribe()).await;
    let router = server.router().clone();
    limits::Http2Limits::from_config(&config.grpc)
        .apply(tonic::transport::Server::builder())
        .layer(GrpcMetricsLayer::new(server.grpc_stats().clone()))
        .layer(size_limit::SizeLimitStatusLayer)
        .layer(caller::CallerLayer::unauthenticated(Principal::local()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            // Draining: NOT_SERVING whatever readiness says (an embedder may stop the transport
            // and keep the server).
            following.abort();
            health::drain(&health).await;
            router.shutdown("the server is shutting down");
            // End every event stream once it has delivered what is queued (the shutdown notice
            // last), so that graceful shutdown does not wait on streams that never end.
            streams.close_all();
        })
        .await?;
    Ok(())
}
