//! The tower layer in front of every gRPC service: it names each call by its method (a fixed
//! set, [`GrpcMethod`]), takes its status code from the `grpc-status` response header (a
//! trailers-only error) or from the trailers at the end of the body, and records it in
//! [`GrpcStats`] with its latency, plus the `ExecuteMethod` body bytes. A unary call's latency
//! runs to the end of its response. A stream (`RegisterClient`, health `Watch`, reflection) is
//! counted when it ends, under its final code in both the counter and the histogram, but its
//! latency is the time to the response headers, because a stream lives as long as its client
//! wants and would otherwise swamp the histogram. A
//! response body dropped before its trailers (the client went away) counts as `CANCELLED`.
//! Each finished call is logged at debug level.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::grpc_stats::GrpcStats;
use super::labels::{GrpcCode, GrpcMethod};

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

impl<S, ResBody> Service<http::Request<tonic::body::Body>> for GrpcMetrics<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>,
    ResBody: Body,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = GrpcMethod::of_path(request.uri().path());
        let request = if method == GrpcMethod::ExecuteMethod {
            let stats = Arc::clone(&self.stats);
            request.map(|body| {
                tonic::body::Body::new(CountingBody {
                    inner: body,
                    count: move |n| stats.add_api_request_bytes(n),
                })
            })
        } else {
            request
        };
        MeteredFuture {
            inner: self.inner.call(request),
            call: Some(Call {
                stats: Arc::clone(&self.stats),
                method,
                start: Instant::now(),
                headers_after: None,
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
    /// When the response headers arrived (a stream's latency).
    headers_after: Option<std::time::Duration>,
}

impl Call {
    fn finish(self, code: GrpcCode) {
        let elapsed = self.start.elapsed();
        self.stats.record_completed(self.method, code, elapsed);
        if self.method.is_streaming() {
            let latency = self.headers_after.unwrap_or(elapsed);
            self.stats.observe_latency(self.method, code, latency);
        }
        tracing::debug!(
            method = self.method.label(),
            code = code.name(),
            duration_seconds = elapsed.as_secs_f64(),
            "grpc call finished"
        );
    }

    /// The response headers arrived: a stream's latency ends here (recorded with its final
    /// code when it ends), and a registration refused with a trailers-only error is counted.
    fn headers(&mut self, code: Option<GrpcCode>) {
        if !self.method.is_streaming() {
            return;
        }
        self.headers_after = Some(self.start.elapsed());
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
        call: Option<Call>,
    }
}

impl<F, ResBody, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: Body,
{
    type Output = Result<http::Response<MeteredBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(mut call) = this.call.take() else {
            // Polled after completion: the inner future decides what that means.
            return Poll::Ready(result.map(|r| r.map(MeteredBody::finished)));
        };
        Poll::Ready(match result {
            Ok(response) => {
                let code = GrpcCode::from_headers(response.headers());
                call.headers(code);
                let count_bytes = call.method == GrpcMethod::ExecuteMethod;
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
                    count_bytes,
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
    /// A response body that records its call when the trailers pass (or the body ends or is
    /// dropped first), counting `ExecuteMethod` response bytes on the way.
    #[derive(Debug)]
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        count_bytes: bool,
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
            count_bytes: false,
        }
    }
}

impl<B: Body> Body for MeteredBody<B> {
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
                if let (true, Some(call), Some(data)) =
                    (*this.count_bytes, &this.call, frame.data_ref())
                {
                    call.stats.add_api_response_bytes(data.remaining() as u64);
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
    /// A request body that reports the length of each data frame to `count`.
    struct CountingBody<B, C> {
        #[pin]
        inner: B,
        count: C,
    }
}

impl<B: Body, C: Fn(u64)> Body for CountingBody<B, C> {
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
            (this.count)(data.remaining() as u64);
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

    #[tokio::test]
    async fn a_trailers_only_error_is_counted_from_the_headers() {
        let stats = Arc::new(GrpcStats::new());
        let mut service = GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| trailers_only("16")));
        let response = service
            .call(request("/ooloi.OoloiService/ExecuteMethod"))
            .await
            .unwrap();
        assert_eq!(
            stats.calls(GrpcMethod::ExecuteMethod, GrpcCode::UNAUTHENTICATED),
            1,
            "counted before the body is read"
        );
        drop(response);
        assert_eq!(stats.calls_where(|_| true), 1, "and only once");
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
        assert_eq!(
            stats.calls(GrpcMethod::Unknown, GrpcCode::from_number(6)),
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
        assert_eq!(stats.calls_where(|_| true), 0, "not finished yet");
        drop(response);
        assert_eq!(
            stats.calls(GrpcMethod::ExecuteMethod, GrpcCode::CANCELLED),
            1
        );
    }

    #[tokio::test]
    async fn a_stream_is_counted_and_timed_under_the_same_final_code() {
        let stats = Arc::new(GrpcStats::new());
        let mut service =
            GrpcMetricsLayer::new(stats.clone()).layer(Fixed(|| body_without_trailers(b"events")));
        let response = service
            .call(request("/ooloi.OoloiService/RegisterClient"))
            .await
            .unwrap();
        let observed = |code| {
            *stats
                .latency(GrpcMethod::RegisterClient, code)
                .cumulative()
                .last()
                .unwrap()
        };
        assert_eq!(observed(GrpcCode::OK), 0, "nothing recorded while it lives");
        drop(response);
        assert_eq!(
            stats.calls(GrpcMethod::RegisterClient, GrpcCode::CANCELLED),
            1
        );
        assert_eq!(observed(GrpcCode::CANCELLED), 1);
        assert_eq!(observed(GrpcCode::OK), 0);
        assert_eq!(stats.registrations_rejected(), 0, "it was accepted");
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
        assert_eq!(stats.calls(GrpcMethod::ExecuteMethod, GrpcCode::UNKNOWN), 1);
        assert_eq!(stats.api_response_bytes(), 5);
    }
}
