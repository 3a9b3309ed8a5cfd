//! The layer that says who is calling: for every request it builds the [`Caller`] once, from
//! the request's metadata, and puts it into the request's extensions, where the handlers take
//! it (the shape of qdrant's auth layer). Handlers never read identity headers themselves, and
//! the domain decides what the caller may do.
//!
//! The server's [`Authenticator`] says who the request is: with authentication off
//! (`auth.mode = none`) the local principal, with `auth.mode = jwt` the principal of the
//! verified bearer token (the tenant comes only from it). The client is the one
//! `x-ooloi-client-id` names. A request whose credentials are missing, refused or malformed, or
//! whose identity is malformed (a client id that breaks the client-id rules, or two of them), is
//! refused here with UNAUTHENTICATED, before any handler runs; the token never appears in the
//! refusal or in a log. Health checks and reflection need no identity and pass through
//! untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tonic::Status;

use crate::auth::Authenticator;
use crate::error::Error;
use crate::identity::{Caller, ClientId};
use crate::server::Server;

/// The metadata header naming the calling client.
pub const CLIENT_ID_HEADER: &str = "x-ooloi-client-id";

/// Paths that serve anyone: load balancers and tools call them without credentials.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The caller of a request with these headers, as `authenticator` says.
pub fn caller_of(headers: &HeaderMap, authenticator: &Authenticator) -> Result<Caller, Error> {
    let unauthenticated = |message: String| Error::Unauthenticated { message };
    let identity = authenticator
        .authenticate(headers)
        .map_err(|e| unauthenticated(e.to_string()))?;
    let mut ids = headers.get_all(CLIENT_ID_HEADER).iter();
    let client = match (ids.next(), ids.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(unauthenticated(format!("more than one {CLIENT_ID_HEADER}")));
        }
        (Some(value), None) => {
            let text = value
                .to_str()
                .map_err(|_| unauthenticated(format!("invalid {CLIENT_ID_HEADER}: not ASCII")))?;
            let id = ClientId::new(text)
                .map_err(|e| unauthenticated(format!("invalid {CLIENT_ID_HEADER}: {e}")))?;
            Some(id)
        }
    };
    Ok(match identity.expires_at {
        None => Caller::new(identity.principal, client),
        Some(expires_at) => {
            Caller::authenticated(identity.principal, identity.roles, expires_at, client)
        }
    })
}

/// Adds [`CallerService`] around the gRPC routes.
#[derive(Clone, Debug)]
pub struct CallerLayer {
    server: Server,
}

impl CallerLayer {
    /// Requests are authenticated by `server`'s authenticator.
    pub fn new(server: Server) -> Self {
        CallerLayer { server }
    }
}

impl<S> tower_layer::Layer<S> for CallerLayer {
    type Service = CallerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CallerService {
            inner,
            server: self.server.clone(),
        }
    }
}

/// The service the layer makes: `inner`, with a [`Caller`] in every request it lets through.
#[derive(Clone, Debug)]
pub struct CallerService<S> {
    inner: S,
    server: Server,
}

pin_project! {
    /// The inner service's future, or the refusal of a malformed identity (no allocation
    /// either way).
    #[project = CallerFutureProj]
    #[derive(Debug)]
    pub enum CallerFuture<F> {
        /// The request went on to the routes.
        Inner { #[pin] future: F },
        /// Refused here; the response is taken when polled.
        Refused { response: Option<Response<tonic::body::Body>> },
    }
}

impl<F, E> Future for CallerFuture<F>
where
    F: Future<Output = Result<Response<tonic::body::Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CallerFutureProj::Inner { future } => future.poll(cx),
            CallerFutureProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("a refusal is polled to completion once"))),
        }
    }
}

impl<S, ReqBody> tower_service::Service<Request<ReqBody>> for CallerService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<tonic::body::Body>>,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = CallerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if !OPEN_PREFIXES.iter().any(|open| path.starts_with(open)) {
            let caller = match self.server.authenticator() {
                Some(authenticator) => caller_of(request.headers(), authenticator),
                None => Err(Error::NotReady {
                    message: "authentication is starting".into(),
                }),
            };
            match caller {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                }
                Err(refused) => {
                    return CallerFuture::Refused {
                        response: Some(Status::from(refused).into_http()),
                    };
                }
            }
        }
        CallerFuture::Inner {
            future: self.inner.call(request),
        }
    }
}

/// The caller the layer put into `request`'s extensions (taken out, so it is not cloned).
pub fn take_caller<T>(request: &mut tonic::Request<T>) -> Result<Caller, Error> {
    request
        .extensions_mut()
        .remove::<Caller>()
        .ok_or_else(|| Error::Unauthenticated {
            message: "no caller: the request did not pass the identity layer".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Principal;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CLIENT_ID_HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn the_caller_is_the_principal_with_the_named_client() {
        let p = Principal::local();
        let auth = Authenticator::None(p.clone());
        let c = caller_of(&headers(&[b"my-client"]), &auth).unwrap();
        assert_eq!(c.principal, p);
        assert_eq!(c.client.unwrap().as_str(), "my-client");
        assert_eq!(caller_of(&headers(&[]), &auth).unwrap().client, None);
    }

    #[test]
    fn malformed_identities_are_unauthenticated_without_echoing_them() {
        let auth = Authenticator::None(Principal::local());
        let huge = vec![b'x'; 100_000];
        for bad in [
            headers(&[b"ab"]),
            headers(&[b"no spaces"]),
            headers(&[&huge]),
            headers(&[b"\xff\xfeabc"]),
            headers(&[b"first", b"second"]),
        ] {
            let e = caller_of(&bad, &auth).unwrap_err();
            assert_eq!(e.reason(), "UNAUTHENTICATED", "{e}");
            assert!(e.to_string().len() < 300, "{e}");
        }
    }
}
