//! Request framing as the gRPC specification has it, checked before tonic decodes anything:
//!
//! - a method that takes one request message (unary and server-streaming: `ExecuteMethod`,
//!   `RegisterClient`, `Disconnect`, health `Check` and `Watch`) gets exactly one, else
//!   UNIMPLEMENTED ("request cardinality violation" in gRPC's status code table; tonic would
//!   ignore a second message, or say INTERNAL for none);
//! - a message with its compression flag set needs a `grpc-encoding` the server accepts (it
//!   accepts none), else UNIMPLEMENTED ("compression not supported by the server"; tonic would
//!   say INTERNAL).
//!
//! A broken request is answered with the status carried in the request body's error, which
//! tonic passes on unchanged, so the handler never runs. Only the body's framing is looked at,
//! as it streams: nothing is buffered.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::error::Error;
use crate::telemetry::grpc_layer::MessageCounter;
use crate::telemetry::labels::{GrpcMethod, GrpcType};

/// Adds [`Framing`] around the gRPC routes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FramingLayer;

impl<S> tower_layer::Layer<S> for FramingLayer {
    type Service = Framing<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Framing(inner)
    }
}

/// The service the layer makes: `inner`, whose single-message requests are checked.
#[derive(Clone, Debug)]
pub struct Framing<S>(S);

/// Whether requests of `method` are exactly one message.
fn single_message(method: GrpcMethod) -> bool {
    method != GrpcMethod::Unknown && method.grpc_type() != GrpcType::BidiStream
}

impl<S, ResBody> tower_service::Service<Request<tonic::body::Body>> for Framing<S>
where
    S: tower_service::Service<Request<tonic::body::Body>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        let method = GrpcMethod::of_path(request.uri().path());
        // A request that names an encoding is tonic's to check (it refuses every one with
        // UNIMPLEMENTED, as none is enabled); one that names none must not be compressed.
        let encoded = request.headers().contains_key("grpc-encoding");
        let check = Check {
            single: single_message(method),
            compression_allowed: encoded,
        };
        if !check.single && check.compression_allowed {
            return self.0.call(request);
        }
        self.0.call(request.map(|inner| {
            tonic::body::Body::new(Checked {
                inner,
                check,
                counter: MessageCounter::default(),
                failed: false,
            })
        }))
    }
}

/// What a request body must respect.
#[derive(Clone, Copy, Debug)]
struct Check {
    /// Exactly one message.
    single: bool,
    /// Compressed messages are allowed (the request named an encoding).
    compression_allowed: bool,
}

pin_project! {
    /// A request body checked as it streams.
    struct Checked<B> {
        #[pin]
        inner: B,
        check: Check,
        counter: MessageCounter,
        failed: bool,
    }
}

fn violation(message: &str) -> tonic::Status {
    tonic::Status::from(Error::ProtocolViolation(message.to_string()))
}

impl<B> Body for Checked<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        let frame = ready!(this.inner.poll_frame(cx));
        let fail = |failed: &mut bool, message: &str| {
            *failed = true;
            Poll::Ready(Some(Err(violation(message).into())))
        };
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.counter.feed(data);
                    if this.check.single && this.counter.messages() > 1 {
                        return fail(
                            this.failed,
                            "a method that takes one request message received more than one",
                        );
                    }
                    if !this.check.compression_allowed && this.counter.compressed() > 0 {
                        return fail(
                            this.failed,
                            "a compressed message without a grpc-encoding the server accepts",
                        );
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => {
                if this.check.single && this.counter.messages() == 0 {
                    return fail(
                        this.failed,
                        "a method that takes one request message received none",
                    );
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // The end is where the message count is checked, so it must be polled.
        false
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn framed(payloads: &[(u8, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (flag, p) in payloads {
            out.push(*flag);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            out.extend_from_slice(p);
        }
        out.into()
    }

    async fn read(
        body: Bytes,
        single: bool,
        compression_allowed: bool,
    ) -> Result<usize, tonic::Status> {
        let checked = Checked {
            inner: http_body_util::Full::new(body),
            check: Check {
                single,
                compression_allowed,
            },
            counter: MessageCounter::default(),
            failed: false,
        };
        match checked.collect().await {
            Ok(all) => Ok(all.to_bytes().len()),
            Err(e) => Err(*e.downcast::<tonic::Status>().expect("a status")),
        }
    }

    #[tokio::test]
    async fn one_message_passes_and_zero_or_two_are_cardinality_violations() {
        assert!(read(framed(&[(0, b"one")]), true, false).await.is_ok());
        for body in [Bytes::new(), framed(&[(0, b"one"), (0, b"two")])] {
            let status = read(body, true, false).await.unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unimplemented);
            assert!(
                status.message().contains("request message"),
                "{}",
                status.message()
            );
        }
        // Streams of requests (reflection) may carry any number.
        assert!(
            read(framed(&[(0, b"a"), (0, b"b")]), false, false)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_compressed_message_needs_an_encoding() {
        let status = read(framed(&[(1, b"zz")]), true, false).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert!(status.message().contains("compressed"));
        assert!(read(framed(&[(1, b"zz")]), true, true).await.is_ok());
    }

    #[test]
    fn which_methods_take_one_message() {
        assert!(single_message(GrpcMethod::ExecuteMethod));
        assert!(single_message(GrpcMethod::RegisterClient));
        assert!(single_message(GrpcMethod::HealthWatch));
        assert!(!single_message(GrpcMethod::ReflectionV1));
        assert!(!single_message(GrpcMethod::Unknown));
    }
}
