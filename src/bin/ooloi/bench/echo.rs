//! The plain-gRPC baseline: an `OoloiService` whose `ExecuteMethod` returns its params as the
//! result, with no API, registry or STM behind it. It runs on 127.0.0.1:0 in this process, on a
//! runtime and thread of its own with as many workers as a spawned server gets, so the `unary`
//! load driven against it measures what tonic, HTTP/2 and prost cost by themselves.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use ooloi_server::proto::{OoloiRequest, OoloiResponse};
use tokio::sync::oneshot;
use tonic::codegen::{Body, BoxFuture, Service, StdError, http, tokio_stream};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::failure::Failure;

/// `ExecuteMethod` answering with its own params.
#[derive(Debug, Clone, Copy)]
struct EchoMethod;

impl UnaryService<OoloiRequest> for EchoMethod {
    type Response = OoloiResponse;
    type Future = BoxFuture<Response<OoloiResponse>, Status>;

    fn call(&mut self, request: Request<OoloiRequest>) -> Self::Future {
        Box::pin(async move {
            Ok(Response::new(OoloiResponse {
                success: true,
                error: String::new(),
                result: request.into_inner().params,
            }))
        })
    }
}

/// The service: `ExecuteMethod` with tonic's prost codec and the generated messages, as a plain
/// tonic service would have it; every other method is UNIMPLEMENTED.
#[derive(Debug, Clone, Copy)]
struct Echo;

impl NamedService for Echo {
    const NAME: &'static str = "ooloi.OoloiService";
}

impl<B> Service<http::Request<B>> for Echo
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() == "/ooloi.OoloiService/ExecuteMethod" {
            return Box::pin(async move {
                let codec = tonic_prost::ProstCodec::<OoloiResponse, OoloiRequest>::default();
                Ok(Grpc::new(codec).unary(EchoMethod, request).await)
            });
        }
        Box::pin(async move { Ok(Status::unimplemented("echo baseline").into_http()) })
    }
}

/// The running echo server; [`EchoServer::stop`] ends it (dropping it only signals the stop).
#[derive(Debug)]
pub struct EchoServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EchoServer {
    /// Starts the echo server on a free loopback port.
    pub fn start() -> Result<EchoServer, Failure> {
        let fail = |e: std::io::Error| Failure::Other(format!("echo server: {e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
        listener.set_nonblocking(true).map_err(fail)?;
        let url = format!("http://{}", listener.local_addr().map_err(fail)?);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("echo-server")
            .enable_all()
            .build()
            .map_err(fail)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let incoming = Incoming(listener);
                let _ = tonic::transport::Server::builder()
                    .add_service(Echo)
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        Ok(EchoServer {
            url,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the server and waits (bounded) for its thread.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let join = tokio::task::spawn_blocking(move || thread.join());
            let _ = tokio::time::timeout(Duration::from_secs(5), join).await;
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Accepted connections with Nagle off, as the real server sets them.
struct Incoming(tokio::net::TcpListener);

impl tokio_stream::Stream for Incoming {
    type Item = std::io::Result<tokio::net::TcpStream>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_accept(cx).map(|r| {
            Some(r.map(|(stream, _)| {
                let _ = stream.set_nodelay(true);
                stream
            }))
        })
    }
}
