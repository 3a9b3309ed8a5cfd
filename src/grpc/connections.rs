//! Serving gRPC connections ourselves, with hyper's HTTP/2 server: each accepted connection
//! (a TCP stream under the listener's cap, or an in-memory pipe of the embedded transport) gets
//! the handshake deadline, its own in-flight count for the idle timeout, and the shared,
//! layered routes. tonic's own server cannot bound connections this way; it is not used.
//!
//! Shutdown: stop accepting, run the caller's drain steps, ask every connection to finish
//! (GOAWAY: open calls complete, new ones are refused), and return once all have ended.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::net::{self, Activity, ConnectionLimits, ConnectionStats, InFlight, Peer, Slot};

/// The HTTP/2 connection preface every client sends first (RFC 9113, section 3.4).
pub const PREFACE_LEN: usize = 24;

/// The layered gRPC routes every connection shares.
pub type Routes = tower::util::BoxCloneSyncService<
    Request<tonic::body::Body>,
    Response<tonic::body::Body>,
    Infallible,
>;

/// A connection to serve.
#[derive(Debug)]
pub struct Accepted<IO> {
    /// The connection.
    pub io: IO,
    /// Its place under the listener's cap, freed when the connection ends.
    pub slot: Option<Slot>,
    /// Who is on the other end.
    pub peer: Option<SocketAddr>,
}

/// Where connections come from.
pub trait Accept: Send {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection, or `None` when there will be no more.
    fn next(&mut self) -> impl Future<Output = Option<Accepted<Self::Io>>> + Send;
}

impl Accept for net::Listener {
    type Io = tokio::net::TcpStream;
    async fn next(&mut self) -> Option<Accepted<Self::Io>> {
        let (io, peer, slot) = self.accept().await;
        Some(Accepted {
            io,
            slot: Some(slot),
            peer: Some(peer),
        })
    }
}

/// Connections from a stream (the embedded transport's pipes); errors are skipped.
#[derive(Debug)]
pub struct FromStream<S>(pub S);

impl<S, IO, E> Accept for FromStream<S>
where
    S: futures_core::Stream<Item = Result<IO, E>> + Send + Unpin,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = IO;
    async fn next(&mut self) -> Option<Accepted<IO>> {
        loop {
            let next = std::future::poll_fn(|cx| Pin::new(&mut self.0).poll_next(cx)).await?;
            if let Ok(io) = next {
                return Some(Accepted {
                    io,
                    slot: None,
                    peer: None,
                });
            }
        }
    }
}

/// What serving needs besides the connections.
#[derive(Clone, Debug)]
pub struct Serving {
    /// The layered routes.
    pub routes: Routes,
    /// The HTTP/2 settings (limits applied).
    pub http2: Arc<hyper::server::conn::http2::Builder<TokioExecutor>>,
    /// The connection limits.
    pub limits: ConnectionLimits,
    /// Where connection events are counted.
    pub stats: Arc<ConnectionStats>,
}

/// Serves every connection `accept` yields until `shutdown` resolves; then stops accepting,
/// awaits `drain` (the caller's steps: health, notices to clients, ending event streams),
/// asks every connection to finish and returns when all have.
pub async fn serve<A: Accept>(
    mut accept: A,
    serving: Serving,
    shutdown: impl Future<Output = ()> + Send,
    drain: impl Future<Output = ()> + Send,
) {
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            next = accept.next() => match next {
                Some(accepted) => {
                    connections.spawn(connection(accepted, serving.clone(), stopping.clone()));
                }
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // No new connections from here on (a listener's socket closes with it).
    drop(accept);
    drain.await;
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection to its end.
async fn connection<IO>(accepted: Accepted<IO>, serving: Serving, stopping: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Accepted { io, slot, peer } = accepted;
    let io = net::Handshake::new(
        io,
        PREFACE_LEN,
        serving.limits.handshake_timeout,
        Some(Arc::clone(&serving.stats)),
    );
    let activity = Arc::new(Activity::default());
    let service = ConnectionService {
        routes: serving.routes.clone(),
        activity: Arc::clone(&activity),
        peer: Peer(peer),
    };
    let conn = serving.http2.serve_connection(TokioIo::new(io), service);
    net::drive(
        conn,
        &activity,
        serving.limits.idle_timeout,
        stopping,
        &serving.stats,
    )
    .await;
    drop(slot);
}

/// The HTTP/2 builder with the server's settings.
pub fn http2_builder(
    limits: &super::limits::Http2Limits,
) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new());
    limits.apply(builder)
}

/// One connection's service: the shared routes, with each request counted in flight until
/// its response body ends, and the peer in its extensions.
#[derive(Clone, Debug)]
struct ConnectionService {
    routes: Routes,
    activity: Arc<Activity>,
    peer: Peer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Tracked<tonic::body::Body>>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.enter();
        let mut request = request.map(tonic::body::Body::new);
        request.extensions_mut().insert(self.peer);
        let routes = self.routes.clone();
        Box::pin(async move {
            let response = routes.oneshot(request).await?;
            Ok(response.map(|inner| Tracked {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

pin_project! {
    /// A response body that keeps its request counted in flight until it is done.
    #[derive(Debug)]
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        _in_flight: InFlight,
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
