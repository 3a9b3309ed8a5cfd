//! The tower layer in front of every gRPC service, measuring calls the way go-grpc-prometheus
//! does: a call is counted as started when it arrives; its request and response messages are
//! counted as their 5-byte gRPC prefixes pass in the body; it is counted as handled, with its
//! status code and its handling time, when it ends. The method is one of a fixed set
//! ([`GrpcMethod`]); the code comes from the `grpc-status` response header (a trailers-only
//! error) or from the trailers at the end of the body. A stream's handling time is its whole
//! life. A response body dropped before its trailers (the client went away) counts as
//! `CANCELLED`. `ExecuteMethod` body bytes go to the API statistics. Each call runs in its own
//! span ([`traces::request_span`]), which ends, with its status code, when the call is
//! recorded; each finished call is logged at debug level inside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::grpc_stats::GrpcStats;
use super::labels::{GrpcCode, GrpcMethod};
use super::traces;

/// Adds [`GrpcMetrics`] around the gRPC routes.
#[derive(Clone, Debug)]
pub struct GrpcMetricsLayer {
    stats: Arc<GrpcStats>,
}

impl GrpcMetricsLayer {
    /// A layer recording into `stats`.
    pub fn new(stats: Arc<GrpcStats>) -> Self {
        GrpcMetricsLayer { stats }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            stats: Arc::clone(&self.stats),
        }
    }
}

/// The service the layer makes: `inner`, measured.
#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
    stats: Arc<GrpcStats>,
}

/// Counts the gRPC messages in a body as its bytes pass: each message is a 5-byte prefix (a
/// compression flag and a big-endian length) and then that many bytes. A message counts when
/// its prefix is complete, wherever the body's chunks split it. The transport's framing checks
/// use it too ([`crate::grpc`]).
#[derive(Debug, Default)]
pub struct MessageCounter {
    /// Bytes of the current prefix seen so far (0 to 4).
    prefix_len: usize,
    prefix: [u8; 5],
    /// Payload bytes of the current message still to come.
    payload_left: u64,
    /// Messages whose prefix has passed.
    messages: u64,
    /// Of those, messages whose compression flag was set.
    compressed: u64,
}

impl MessageCounter {
    /// Reads `bytes`; returns how many messages started in them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut started = 0;
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skip = bytes
                    .len()
                    .min(usize::try_from(self.payload_left).unwrap_or(usize::MAX));
                self.payload_left -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            self.prefix[self.prefix_len] = bytes[0];
            self.prefix_len += 1;
            bytes = &bytes[1..];
            if self.prefix_len == self.prefix.len() {
                let [flag, a, b, c, d] = self.prefix;
                self.payload_left = u64::from(u32::from_be_bytes([a, b, c, d]));
                self.prefix_len = 0;
                started += 1;
                self.compressed += u64::from(flag != 0);
            }
        }
        self.messages += started;
        started
    }

    /// Messages whose prefix has passed so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Of those, how many had the compression flag set.
    pub fn compressed(&self) -> u64 {
        self.compressed
    }

    /// True between messages (no prefix or payload half read).
    pub fn at_boundary(&self) -> bool {
        self.prefix_len == 0 && self.payload_left == 0
    }
}

impl<S, ResBody> Service<http::Request<tonic::body::Body>> for GrpcMetrics<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = GrpcMethod::of_path(request.uri().path());
        self.stats.record_started(method);
        let span = traces::request_span(method, request.headers());
        let stats = Arc::clone(&self.stats);
        let request = request.map(|inner| {
            tonic::body::Body::new(RequestBody {
                inner,
                stats,
                method,
                messages: MessageCounter::default(),
            })
        });
        // The handler runs inside the call's span, so the spans it makes are its children.
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        MeteredFuture {
            inner,
            span: span.clone(),
            call: Some(Call {
                stats: Arc::clone(&self.stats),
                method,
                start: Instant::now(),
                span,
            }),
        }
    }
}

/// One call being measured; recorded exactly once, by [`Call::finish`].
#[derive(Debug)]
struct Call {
    stats: Arc<GrpcStats>,
    method: GrpcMethod,
    start: Instant,
    /// The call's span ([`traces::request_span`]); it ends when the call is recorded.
    span: tracing::Span,
}

impl Call {
    fn finish(self, code: GrpcCode) {
        let elapsed = self.start.elapsed();
        self.stats.record_completed(self.method, code, elapsed);
        traces::record_status(&self.span, code);
        // In the call's span without entering it (an enter costs even when the line is off).
        tracing::debug!(
            parent: &self.span,
            grpc_service = self.method.service(),
            grpc_method = self.method.name(),
            grpc_code = code.name(),
            duration_seconds = elapsed.as_secs_f64(),
            "grpc call finished"
        );
    }

    /// The response headers arrived: a registration refused with a trailers-only error is
    /// counted.
    fn headers(&self, code: Option<GrpcCode>) {
        if self.method == GrpcMethod::RegisterClient && code.is_some_and(|c| c != GrpcCode::OK) {
            self.stats.record_registration_rejected();
        }
    }
}

pin_project! {
    /// The inner service's response future; on the response it records what the headers say
    /// and wraps the body.
    #[derive(Debug)]
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        // Entered while the handler is polled.
        span: tracing::Span,
        call: Option<Call>,
    }

    impl<F> PinnedDrop for MeteredFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the handler answered: the client reset the stream (or the
            // connection went away) and hyper dropped the call.
            if let Some(call) = this.project().call.take() {
                call.finish(GrpcCode::CANCELLED);
            }
        }
    }
}

impl<F, ResBody, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: Body<Data = Bytes>,
{
    type Output = Result<http::Response<MeteredBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        let Some(call) = this.call.take() else {
            // Polled after completion: the inner future decides what that means.
            return Poll::Ready(result.map(|r| r.map(MeteredBody::finished)));
        };
        Poll::Ready(match result {
            Ok(response) => {
                let code = GrpcCode::from_headers(response.headers());
                call.headers(code);
                let method = call.method;
                let call = match code {
                    // Trailers-only: the headers are the whole response.
                    Some(code) => {
                        call.finish(code);
                        None
                    }
                    None => Some(call),
                };
                Ok(response.map(|inner| MeteredBody {
                    inner,
                    call,
                    method,
                    messages: MessageCounter::default(),
                }))
            }
            Err(e) => {
                call.finish(GrpcCode::UNKNOWN);
                Err(e)
            }
        })
    }
}

pin_project! {
    /// A response body that counts the messages it carries and records its call when the
    /// trailers pass (or the body ends or is dropped first).
    #[derive(Debug)]
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        method: GrpcMethod,
        messages: MessageCounter,
    }

    impl<B> PinnedDrop for MeteredBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the trailers: the client reset the stream or went away.
            if let Some(call) = this.project().call.take() {
                call.finish(GrpcCode::CANCELLED);
            }
        }
    }
}

impl<B> MeteredBody<B> {
    fn finished(inner: B) -> Self {
        MeteredBody {
            inner,
            call: None,
            method: GrpcMethod::Unknown,
            messages: MessageCounter::default(),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(call), Some(data)) = (&this.call, frame.data_ref()) {
                    let sent = this.messages.feed(data);
                    if sent > 0 {
                        call.stats.record_sent(*this.method, sent);
                    }
                    if *this.method == GrpcMethod::ExecuteMethod {
                        call.stats.add_api_response_bytes(data.len() as u64);
                    }
                }
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(call) = this.call.take()
                {
                    call.finish(GrpcCode::from_headers(trailers).unwrap_or(GrpcCode::UNKNOWN));
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    call.finish(GrpcCode::UNKNOWN);
                }
            }
            None => {
                // Ended without trailers: no status was sent, which gRPC reads as UNKNOWN.
                if let Some(call) = this.call.take() {
                    call.finish(GrpcCode::UNKNOWN);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// A request body that counts the messages it carries, and `ExecuteMethod`'s bytes.
    struct RequestBody<B> {
        #[pin]
        inner: B,
        stats: Arc<GrpcStats>,
        method: GrpcMethod,
        messages: MessageCounter,
    }
}

impl<B: Body<Data = Bytes>> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let received = this.messages.feed(data);
            if received > 0 {
                this.stats.record_received(*this.method, received);
            }
            if *this.method == GrpcMethod::ExecuteMethod {
                this.stats.add_api_request_bytes(data.len() as u64);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{Ready, ready};

    use http_body_util::BodyExt;

    use super::*;

    /// A service answering every call with `response()`.
    #[derive(Clone)]
    struct Fixed(fn() -> http::Response<http_body_util::Full<bytes::Bytes>>);

    impl Service<http::Request<tonic::body::Body>> for Fixed {
        type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            ready(Ok((self.0)()))
        }
    }

    fn request(path: &str) -> http::Request<tonic::body::Body> {
        http::Request::builder()
            .uri(path)
            .body(tonic::body::Body::empty())
            .unwrap()
    }

    /// A response whose body ends without trailers (so the status comes only at the end).
    fn body_without_trailers(
        body: &'static [u8],
    ) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(body)))
    }

    fn trailers_only(code: &str) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        http::Response::builder()
            .header("grpc-status", code)
            .body(http_body_util::Full::default())
            .unwrap()
    }

    /// `payloads` as gRPC messages (uncompressed), back to back.
    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            out.push(0);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn messages_are_counted_wherever_the_chunks_split_them() {
        let bytes = framed(&[b"", b"hello", &[7; 300], b"x"]);
        for chunk in [1, 2, 3, 5, 6, 7, 64, bytes.len()] {
            let mut counter = MessageCounter::default();
            let counted: u64 = bytes.chunks(chunk).map(|c| counter.feed(c)).sum();
            assert_eq!(counted, 4, "chunks of {chunk}");
        }
        let mut counter = MessageCounter::default();
        assert_eq!(
            counter.feed(&[0, 0, 0]),
            0,
            "half a prefix is no message yet"
        );
        assert_eq!(counter.feed(&[0, 2, b'a']), 1);
        assert_eq!(counter.feed(b"b"), 0, "the end of its payload");
    }

    #[tokio::test]
    async fn a_trailers_only_error_is_counted_from_the_headers() {
        let stats = Arc::new(GrpcStats::new());
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| trailers_only("16")));
        let response = service
            .call(request("/ooloi.OoloiService/ExecuteMethod"))
            .await
            .unwrap();
        assert_eq!(stats.started(GrpcMethod::ExecuteMethod), 1);
        assert_eq!(
            stats.handled(GrpcMethod::ExecuteMethod, GrpcCode::UNAUTHENTICATED),
            1,
            "counted before the body is read"
        );
        drop(response);
        assert_eq!(stats.handled_where(|_| true), 1, "and only once");
        assert_eq!(stats.auth_failures(), 1);
    }

    #[tokio::test]
    async fn an_unknown_path_is_bucketed_and_a_refused_registration_counted() {
        let stats = Arc::new(GrpcStats::new());
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| trailers_only("6")));
        service.call(request("/evil/{{path}}")).await.unwrap();
        service
            .call(request("/ooloi.OoloiService/RegisterClient"))
            .await
            .unwrap();
        assert_eq!(stats.started(GrpcMethod::Unknown), 1);
        assert_eq!(
            stats.handled(GrpcMethod::Unknown, GrpcCode::from_number(6)),
            1
        );
        assert_eq!(stats.registrations_rejected(), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_trailers_is_cancelled() {
        let stats = Arc::new(GrpcStats::new());
        let mut service =
            GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| body_without_trailers(b"12345")));
        let response = service
            .call(request("/ooloi.OoloiService/ExecuteMethod"))
            .await
            .unwrap();
        assert_eq!(stats.handled_where(|_| true), 0, "not finished yet");
        drop(response);
        assert_eq!(
            stats.handled(GrpcMethod::ExecuteMethod, GrpcCode::CANCELLED),
            1
        );
    }

    /// A service that never answers (the handler is still working when the client resets).
    #[derive(Clone)]
    struct Pending;

    impl Service<http::Request<tonic::body::Body>> for Pending {
        type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
        type Error = Infallible;
        type Future = std::future::Pending<Result<Self::Response, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            std::future::pending()
        }
    }

    #[tokio::test]
    async fn a_call_dropped_before_its_handler_answered_is_cancelled() {
        let stats = Arc::new(GrpcStats::new());
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(Pending);
        let mut call = Box::pin(service.call(request("/ooloi.OoloiService/ExecuteMethod")));
        // Polled once (the handler is running), then dropped as hyper drops a reset stream.
        assert!(poll_once(call.as_mut()).await.is_none());
        assert_eq!(stats.handled_where(|_| true), 0, "not finished yet");
        drop(call);
        assert_eq!(
            stats.handled(GrpcMethod::ExecuteMethod, GrpcCode::CANCELLED),
            1
        );
        assert_eq!(stats.handled_where(|_| true), 1, "and only once");
    }

    /// Polls `future` once: its output if it was ready.
    async fn poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            Poll::Ready(match Pin::new(&mut future).poll(cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            })
        })
        .await
    }

    #[tokio::test]
    async fn a_stream_is_timed_over_its_life_and_its_messages_counted() {
        let stats = Arc::new(GrpcStats::new());
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| {
            let events = framed(&[b"event one", b"event two", b"three"]);
            http::Response::new(http_body_util::Full::new(bytes::Bytes::from(events)))
        }));
        let response = service
            .call(request("/ooloi.OoloiService/RegisterClient"))
            .await
            .unwrap();
        let observed = || {
            *stats
                .handling(GrpcMethod::RegisterClient)
                .cumulative()
                .last()
                .unwrap()
        };
        assert_eq!(observed(), 0, "nothing timed while it lives");
        let mut body = response.into_body();
        body.frame().await.unwrap().unwrap();
        assert_eq!(stats.msg_sent(GrpcMethod::RegisterClient), 3);
        drop(body);
        assert_eq!(
            stats.handled(GrpcMethod::RegisterClient, GrpcCode::CANCELLED),
            1
        );
        assert_eq!(observed(), 1);
        assert_eq!(stats.registrations_rejected(), 0, "it was accepted");
    }

    #[tokio::test]
    async fn request_messages_and_bytes_are_counted_as_the_handler_reads_them() {
        let stats = Arc::new(GrpcStats::new());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = {
            let seen = seen.clone();
            tower::service_fn(move |request: http::Request<tonic::body::Body>| {
                let seen = seen.clone();
                async move {
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    seen.lock().unwrap().push(body.len());
                    Ok::<_, Infallible>(trailers_only("0"))
                }
            })
        };
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(reader);
        let bytes = framed(&[b"first", b"second"]);
        let request = http::Request::builder()
            .uri("/ooloi.OoloiService/ExecuteMethod")
            .body(tonic::body::Body::new(http_body_util::Full::new(
                bytes::Bytes::from(bytes.clone()),
            )))
            .unwrap();
        service.call(request).await.unwrap();
        assert_eq!(seen.lock().unwrap()[..], [bytes.len()]);
        assert_eq!(stats.msg_received(GrpcMethod::ExecuteMethod), 2);
        assert_eq!(stats.api_request_bytes(), bytes.len() as u64);
        assert_eq!(stats.handled(GrpcMethod::ExecuteMethod, GrpcCode::OK), 1);
    }

    #[tokio::test]
    async fn a_body_that_ends_without_trailers_is_unknown_and_its_bytes_count() {
        let stats = Arc::new(GrpcStats::new());
        let mut service =
            GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| body_without_trailers(b"12345")));
        let response = service
            .call(request("/ooloi.OoloiService/ExecuteMethod"))
            .await
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"12345");
        assert_eq!(
            stats.handled(GrpcMethod::ExecuteMethod, GrpcCode::UNKNOWN),
            1
        );
        assert_eq!(stats.api_response_bytes(), 5);
    }
}
