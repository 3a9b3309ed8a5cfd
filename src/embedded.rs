//! The in-process transport: [`start`] runs the full gRPC service (the same `OoloiService`,
//! health and reflection as over TCP, with the same limits) over in-memory duplex pipes and
//! returns a tonic [`Channel`] to it, for a desktop application that embeds the server and for
//! tests. No socket is opened; every connection the channel makes is a new pipe.
//!
//! Clients over this transport are ordinary clients: they register, subscribe and receive
//! events exactly as network clients do (the connect and disconnect broadcasts included, a
//! decision recorded in `ARCHITECTURE.md`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::config::Config;
use crate::grpc::BoxError;
use crate::server::Server;

/// Bytes each direction of a pipe buffers before the writer waits for the reader.
const PIPE_BUFFER_BYTES: usize = 256 * 1024;

/// A running embedded server.
#[derive(Debug)]
pub struct Embedded {
    channel: Channel,
    server: Server,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), BoxError>>,
}

impl Embedded {
    /// A channel to the server; clone it freely (clones share one connection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The server state (registry, API, readiness), for the embedding application.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Shuts the server down as SIGTERM would (clients get `server-shutdown`, in-flight calls
    /// finish) and waits until it has stopped.
    pub async fn shutdown(mut self) -> Result<(), BoxError> {
        self.server.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(Box::new(e)),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Dropped without `shutdown`: still stop the server rather than leak its task.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the service for `config` on the current tokio runtime and connects a channel to it.
/// The configuration's listen addresses are not used.
pub async fn start(config: Config) -> Result<Embedded, BoxError> {
    start_with(Server::opened(config).await?).await
}

/// Like [`start`], over server state the caller built (and may keep a handle to).
pub async fn start_with(server: Server) -> Result<Embedded, BoxError> {
    let (connections, incoming) = mpsc::unbounded_channel::<DuplexStream>();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = server.clone();
    let task = tokio::spawn(async move {
        crate::grpc::serve_incoming(&serving, Incoming(incoming), async {
            let _ = stopped.await;
        })
        .await
    });
    let channel = Endpoint::from_static("http://ooloi.embedded")
        .connect_with_connector(Connector(connections))
        .await?;
    Ok(Embedded {
        channel,
        server,
        stop: Some(stop),
        task,
    })
}

/// The server's side: each pipe the connector made.
struct Incoming(mpsc::UnboundedReceiver<DuplexStream>);

impl futures_core::Stream for Incoming {
    type Item = Result<DuplexStream, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|pipe| pipe.map(Ok))
    }
}

/// The client's side: makes a pipe per connection and hands the other end to the server.
#[derive(Clone)]
struct Connector(mpsc::UnboundedSender<DuplexStream>);

impl tonic::codegen::Service<Uri> for Connector {
    type Response = TokioIo<DuplexStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER_BYTES);
        let sent = self.0.send(server);
        Box::pin(async move {
            sent.map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the embedded server has stopped",
                )
            })?;
            Ok(TokioIo::new(client))
        })
    }
}
