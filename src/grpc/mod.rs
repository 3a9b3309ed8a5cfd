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
pub mod connections;
pub mod deadline;
mod event_frame;
pub mod framing;
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
use tower::ServiceExt;

use crate::net;
use crate::server::{Listen, Server};
use crate::telemetry::GrpcMetricsLayer;
use connections::{FromStream, Routes, Serving};
use service::OoloiGrpc;
use stub::ooloi_service_server::OoloiServiceServer;

pub use call_frames::{RequestFrame, ResponseFrame};
pub use event_frame::EventFrame;

/// The boxed error a transport returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves gRPC on `listener` until `shutdown` resolves (see the module documentation), under
/// the gRPC listener's connection limits.
pub async fn serve(
    server: &Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    let listener = net::Listener::new(
        listener,
        server.connection_limits(Listen::Grpc),
        server.connection_stats(Listen::Grpc).clone(),
    );
    serve_with(server, listener, shutdown).await
}

/// Serves gRPC on every connection `incoming` yields until `shutdown` resolves.
pub async fn serve_incoming<I, IO, IE>(
    server: &Server,
    incoming: I,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError>
where
    I: futures_core::Stream<Item = Result<IO, IE>> + Send + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_with(server, FromStream(incoming), shutdown).await
}

async fn serve_with<A: connections::Accept>(
    server: &Server,
    accept: A,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), BoxError> {
    let config = server.config();
    let max_message = config.limits.max_message_bytes;
    let grpc = OoloiGrpc::new(server.clone());
    let streams = grpc.streams().clone();
    let service = OoloiServiceServer::new(grpc)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message);
    let (health, health_service) = tonic_health::server::health_reporter();
    let following = health::follow(health.clone(), server.readiness().subscribe()).await;
    let routes = tonic::service::Routes::new(health_service)
        .add_service(reflection::v1()?)
        .add_service(reflection::v1alpha()?)
        .add_service(service)
        .prepare();
    // Outermost first: the metrics see every call, including those the layers below refuse.
    let layered = tower::ServiceBuilder::new()
        .layer(GrpcMetricsLayer::new(server.grpc_stats().clone()))
        .layer(size_limit::SizeLimitStatusLayer)
        .layer(caller::CallerLayer::new(server.clone()))
        .layer(framing::FramingLayer)
        .service(routes)
        .map_response(|response| response.map(tonic::body::Body::new));
    let serving = Serving {
        routes: Routes::new(layered),
        http2: std::sync::Arc::new(connections::http2_builder(
            &limits::Http2Limits::from_config(&config.grpc),
        )),
        limits: server.connection_limits(Listen::Grpc),
        stats: server.connection_stats(Listen::Grpc).clone(),
    };
    let router = server.router().clone();
    let drain = async move {
        // Draining: NOT_SERVING whatever readiness says (an embedder may stop the transport
        // and keep the server).
        following.abort();
        health::drain(&health).await;
        router.shutdown("the server is shutting down");
        // End every event stream once it has delivered what is queued (the shutdown notice
        // last), so that graceful shutdown does not wait on streams that never end.
        streams.close_all();
    };
    connections::serve(accept, serving, shutdown, drain).await;
    Ok(())
}
