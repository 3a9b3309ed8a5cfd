//! Reports an over-size message as RESOURCE_EXHAUSTED, the code gRPC specifies for "sent or
//! received message was larger than configured limit" and that gRPC clients and retry policies
//! expect. tonic checks the limit itself (before buffering the message, which must stay so) but
//! answers OUT_OF_RANGE; this layer rewrites exactly that answer, recognised by tonic's message,
//! in the trailers-only response tonic sends for a refused request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http::{HeaderValue, Request, Response};

/// The start of the message tonic gives an over-size incoming message, as it appears in the
/// `grpc-message` header (percent-encoded, as gRPC requires).
const TONIC_TOO_LARGE: &str = "Error,%20decoded%20message%20length%20too%20large";
const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: &str = "8";

/// The layer (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct SizeLimitStatusLayer;

impl<S> tower_layer::Layer<S> for SizeLimitStatusLayer {
    type Service = SizeLimitStatus<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SizeLimitStatus(inner)
    }
}

/// The service the layer wraps around the gRPC routes.
#[derive(Clone, Debug)]
pub struct SizeLimitStatus<S>(S);

/// Rewrites the status of one response if it is tonic's over-size refusal.
fn rewrite<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    let too_large = headers.get("grpc-status").map(HeaderValue::as_bytes)
        == Some(OUT_OF_RANGE.as_bytes())
        && headers
            .get("grpc-message")
            .is_some_and(|m| m.as_bytes().starts_with(TONIC_TOO_LARGE.as_bytes()));
    if too_large {
        headers.insert("grpc-status", HeaderValue::from_static(RESOURCE_EXHAUSTED));
    }
    response
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SizeLimitStatus<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move { response.await.map(rewrite) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    /// The response tonic sends for `status` (trailers-only: the status is in the headers).
    fn response(status: Status) -> Response<tonic::body::Body> {
        status.into_http()
    }

    fn code<B>(response: &Response<B>) -> &[u8] {
        response.headers()["grpc-status"].as_bytes()
    }

    #[test]
    fn tonic_s_over_size_refusal_becomes_resource_exhausted() {
        // The exact status tonic's decoder returns (tonic 0.14 `codec/decode.rs`).
        let refused = Status::out_of_range(
            "Error, decoded message length too large: found 4097 bytes, the limit is: 4096 bytes",
        );
        assert_eq!(code(&rewrite(response(refused))), b"8");
    }

    #[test]
    fn every_other_status_is_left_alone() {
        for status in [
            Status::out_of_range("index out of range"),
            Status::ok(""),
            Status::invalid_argument("Error, decoded message length too large"),
        ] {
            let expected = (status.code() as i32).to_string();
            assert_eq!(code(&rewrite(response(status))), expected.as_bytes());
        }
        let plain = Response::new(());
        assert!(rewrite(plain).headers().get("grpc-status").is_none());
    }
}
