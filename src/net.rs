//! Connections, for both listeners: nothing a peer does can hold a connection, a file
//! descriptor or the accept loop for long.
//!
//! - **Cap.** A listener keeps at most [`ConnectionLimits::max_connections`] connections open;
//!   a connection beyond it is accepted and closed at once (so the kernel's queue does not
//!   fill up) and counted. The default is derived from the file-descriptor limit, which the
//!   server raises to its hard limit at start-up ([`raise_fd_limit`]).
//! - **Handshake.** A new connection must send its first bytes (the HTTP/2 preface on gRPC)
//!   within the handshake timeout, or it is closed ([`Handshake`]).
//! - **Idle.** A connection with no request in flight for the idle timeout is closed, with
//!   GOAWAY on HTTP/2 ([`Activity`], [`drive`]).
//! - **Accept errors** (out of file descriptors, most often) back off, from 1 ms doubling to
//!   1 s, instead of spinning a core.
//!
//! The HTTP protocols themselves are hyper's; this module only decides which connections get
//! to speak and for how long.

pub mod client;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;

/// File descriptors kept out of the connection budget: the process's own files, the executor,
/// the store, logs.
pub const RESERVED_FDS: u64 = 64;

/// How often the kernel probes an idle TCP connection. The HTTP/2 keepalive detects dead peers
/// first; this only cleans up connections whose HTTP layer is gone.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Raises this process's soft limit on open files to its hard limit, and returns the limit
/// now in force (`None` where the platform has no such limit).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(u64::MAX).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// This process's soft limit on open files (`None` where the platform has no such limit).
pub fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap a listener gets from `fd_limit` file descriptors when none is
/// configured: nine tenths of what is left after [`RESERVED_FDS`] and `others` (the other
/// listener's cap), at least 16.
pub fn derived_cap(fd_limit: Option<u64>, others: usize) -> usize {
    let Some(limit) = fd_limit else {
        return 1024;
    };
    let budget = limit
        .saturating_sub(RESERVED_FDS)
        .saturating_sub(others as u64);
    usize::try_from(budget * 9 / 10)
        .unwrap_or(usize::MAX)
        .max(16)
}

/// The peer of a connection, in each request's extensions (`None` for in-memory pipes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub Option<std::net::SocketAddr>);

/// What a listener allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a new connection has to send its first bytes.
    pub handshake_timeout: Duration,
    /// How long a connection may go with no request in flight.
    pub idle_timeout: Duration,
}

/// What happened to a listener's connections (relaxed atomics, read by the metrics).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because the listener was at its cap.
    pub refused: AtomicU64,
    /// Connections closed because they did not complete their handshake in time.
    pub handshake_timeouts: AtomicU64,
    /// Connections closed for being idle.
    pub idle_closed: AtomicU64,
    /// Failed accepts (each one backed off).
    pub accept_errors: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

/// A bound listener with its cap and statistics.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    open: Arc<AtomicUsize>,
}

/// One accepted connection's place under the cap; freed when dropped.
#[derive(Debug)]
pub struct Slot {
    open: Arc<AtomicUsize>,
    stats: Arc<ConnectionStats>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Listener {
    /// `listener`, serving at most `limits.max_connections` at once.
    pub fn new(
        listener: TcpListener,
        limits: ConnectionLimits,
        stats: Arc<ConnectionStats>,
    ) -> Self {
        Listener {
            listener,
            limits,
            stats,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// The next connection to serve, its peer's address, and its slot. Connections over the
    /// cap are closed here and counted; accept errors back off.
    pub async fn accept(&self) -> (TcpStream, std::net::SocketAddr, Slot) {
        let mut backoff = Duration::from_millis(1);
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(1);
                    let taken = self.open.fetch_add(1, Ordering::AcqRel);
                    if taken >= self.limits.max_connections {
                        self.open.fetch_sub(1, Ordering::AcqRel);
                        self.stats.refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    }
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    self.stats.open.fetch_add(1, Ordering::Relaxed);
                    // Events and small replies must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
                    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
                    let slot = Slot {
                        open: Arc::clone(&self.open),
                        stats: Arc::clone(&self.stats),
                    };
                    return (stream, peer, slot);
                }
                Err(e) => {
                    self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    if backoff == Duration::from_millis(1) {
                        tracing::warn!(error = %e, "accept failed; backing off");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

pin_project! {
    /// A connection that must receive its first `needed` bytes before a deadline; after that
    /// it is the inner connection unchanged. A read past the deadline fails with `TimedOut`,
    /// which makes the HTTP server drop the connection.
    #[derive(Debug)]
    pub struct Handshake<IO> {
        #[pin]
        inner: IO,
        needed: usize,
        deadline: Option<Pin<Box<Sleep>>>,
        stats: Option<Arc<ConnectionStats>>,
    }
}

impl<IO> Handshake<IO> {
    /// `inner`, which must deliver `needed` bytes within `timeout`; a timeout is counted in
    /// `stats`.
    pub fn new(
        inner: IO,
        needed: usize,
        timeout: Duration,
        stats: Option<Arc<ConnectionStats>>,
    ) -> Self {
        Handshake {
            inner,
            needed,
            deadline: (needed > 0).then(|| Box::pin(tokio::time::sleep(timeout))),
            stats,
        }
    }
}

impl<IO: AsyncRead> AsyncRead for Handshake<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            *this.deadline = None;
            if let Some(stats) = this.stats {
                stats.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the handshake did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        ready!(this.inner.poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        if *this.needed > 0 {
            *this.needed = this.needed.saturating_sub(read);
            if *this.needed == 0 {
                *this.deadline = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite> AsyncWrite for Handshake<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The requests one connection has in flight, and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    open: AtomicUsize,
    /// When the last request ended, in milliseconds since `born`.
    idle_since_ms: AtomicU64,
    born: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            open: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }
}

impl Activity {
    /// A request started; it ends when the guard is dropped (with its response body).
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.open.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    /// How long the connection has had no request in flight (zero while it has one).
    pub fn idle_for(&self) -> Duration {
        if self.open.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        self.born.elapsed().saturating_sub(since)
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = u64::try_from(self.0.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since_ms.store(now, Ordering::Release);
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An HTTP connection that can be asked to finish gracefully (GOAWAY on HTTP/2).
pub trait Graceful: Future {
    /// Stops taking new requests; the future resolves once the open ones are answered.
    fn graceful(self: Pin<&mut Self>);
}

impl<I, S, E, B> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs `connection` to its end: asks it to finish gracefully when `shutdown` turns true, or
/// when `activity` shows no request in flight for `idle_timeout` (counted in `stats`).
pub async fn drive<C: Graceful>(
    connection: C,
    activity: &Activity,
    idle_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
    stats: &ConnectionStats,
) {
    tokio::pin!(connection);
    let mut finishing = false;
    loop {
        let idle = activity.idle_for();
        let check_in = idle_timeout
            .saturating_sub(idle)
            .max(Duration::from_millis(10));
        tokio::select! {
            _ = &mut connection => return,
            changed = shutdown.wait_for(|stop| *stop), if !finishing => {
                // A dropped sender is a shutdown too: nothing will ever serve this again.
                let _ = changed;
                finishing = true;
                connection.as_mut().graceful();
            }
            _ = tokio::time::sleep(check_in), if !finishing => {
                if activity.idle_for() >= idle_timeout {
                    stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    finishing = true;
                    connection.as_mut().graceful();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_derived_cap_leaves_room_for_the_process_and_the_other_listener() {
        assert_eq!(derived_cap(Some(1024), 96), (1024 - 64 - 96) * 9 / 10);
        assert_eq!(derived_cap(Some(10), 0), 16, "never below 16");
        assert_eq!(derived_cap(None, 0), 1024);
    }

    #[tokio::test]
    async fn a_handshake_that_does_not_arrive_in_time_fails_the_read() {
        let (client, server) = tokio::io::duplex(64);
        let stats = Arc::new(ConnectionStats::default());
        let mut guarded = Handshake::new(server, 4, Duration::from_millis(50), Some(stats.clone()));
        let mut buf = [0u8; 8];
        let e = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(stats.handshake_timeouts.load(Ordering::Relaxed), 1);
        drop(client);
    }

    #[tokio::test]
    async fn once_the_handshake_arrived_there_is_no_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut guarded = Handshake::new(server, 4, Duration::from_millis(50), None);
        client.write_all(b"PRIx").await.unwrap();
        let mut buf = [0u8; 4];
        guarded.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"PRIx");
        tokio::time::sleep(Duration::from_millis(80)).await;
        client.write_all(b"more").await.unwrap();
        guarded.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"more", "reads go on past the handshake deadline");
    }

    #[test]
    fn activity_is_idle_only_without_requests_in_flight() {
        let activity = Arc::new(Activity::default());
        let first = activity.enter();
        let second = activity.enter();
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(first);
        assert_eq!(activity.idle_for(), Duration::ZERO, "one still in flight");
        drop(second);
        std::thread::sleep(Duration::from_millis(20));
        assert!(activity.idle_for() >= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_at_once_and_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ConnectionStats::default());
        let limits = ConnectionLimits {
            max_connections: 2,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
        };
        let listener = Listener::new(listener, limits, stats.clone());
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let (_a, _, slot_a) = listener.accept().await;
        let (_b, _, _slot_b) = listener.accept().await;
        {
            // The third is over the cap: accepted, closed and counted, while the listener
            // goes on waiting for one it can serve.
            let next = listener.accept();
            tokio::pin!(next);
            let deadline = Instant::now() + Duration::from_secs(10);
            while stats.refused.load(Ordering::Relaxed) == 0 {
                assert!(Instant::now() < deadline, "the third was not refused");
                tokio::select! {
                    _ = &mut next => panic!("nothing may be accepted at the cap"),
                    _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                }
            }
        }
        drop(slot_a);
        let fourth = TcpStream::connect(addr).await.unwrap();
        let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("a slot was free again");
        drop((accepted, fourth));
        assert_eq!(stats.refused.load(Ordering::Relaxed), 1);
        assert_eq!(stats.accepted.load(Ordering::Relaxed), 3);
        let mut third = clients.remove(2);
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), third.read(&mut byte))
            .await
            .expect("the refused connection is closed");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}
