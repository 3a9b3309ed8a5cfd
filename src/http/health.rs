//! The `/health*` handlers: pick the form ([`negotiate`]), build the document
//! ([`documents`](super::documents)) or the Prometheus text, and answer with the headers every
//! health response carries (`Cache-Control: no-store`, `X-Ooloi-Metrics-Schema: 1`). Errors are
//! JSON too: `{"error": {"code": "...", "message": "..."}}`. Per-client endpoints refuse
//! Prometheus (400): one series per client id would be unbounded. Without authentication they
//! answer only requests from this machine (403 `LOOPBACK_ONLY` otherwise).

use std::time::SystemTime;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use super::Sidecar;
use super::documents;
use super::negotiate::{Format, UnknownFormat, negotiate};
use crate::config::AuthMode;
use crate::net::Peer;
use crate::telemetry::metrics;

/// The `Content-Type` of the JSON answers.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The header naming the version of the health documents' shape.
pub const SCHEMA_HEADER: &str = "x-ooloi-metrics-schema";
/// The current version of the health documents' shape.
pub const SCHEMA_VERSION: &str = "1";

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert(
        SCHEMA_HEADER,
        http::HeaderValue::from_static(SCHEMA_VERSION),
    );
    response
}

fn json(status: StatusCode, document: &Value) -> Response {
    respond(status, JSON_CONTENT_TYPE, format!("{document}\n"))
}

fn prometheus(status: StatusCode, text: String) -> Response {
    respond(status, metrics::CONTENT_TYPE, text)
}

/// A structured error answer.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    json(status, &body)
}

fn unknown_format(_: UnknownFormat) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "UNKNOWN_FORMAT",
        "format must be prom or json",
    )
}

fn healthy_status(sidecar: &Sidecar) -> StatusCode {
    if sidecar.server.readiness().is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// `GET /health`: 200 while ready, 503 otherwise (load balancers read the status).
pub async fn health(State(sidecar): State<Sidecar>, uri: Uri, headers: HeaderMap) -> Response {
    let status = healthy_status(&sidecar);
    match negotiate(uri.query(), &headers) {
        Err(e) => unknown_format(e),
        Ok(Format::Prometheus) => prometheus(status, sidecar.server.metrics().render_light()),
        Ok(Format::Json) => json(
            status,
            &documents::health(&sidecar.server, SystemTime::now()),
        ),
    }
}

/// `GET /health/server`: every server counter (the Prometheus form is the `/metrics` page).
pub async fn server(State(sidecar): State<Sidecar>, uri: Uri, headers: HeaderMap) -> Response {
    match negotiate(uri.query(), &headers) {
        Err(e) => unknown_format(e),
        Ok(Format::Prometheus) => prometheus(StatusCode::OK, sidecar.server.metrics().render()),
        Ok(Format::Json) => json(
            StatusCode::OK,
            &documents::server(&sidecar.server, SystemTime::now()),
        ),
    }
}

/// The refusal for a per-client request that does not ask for JSON, if it does not.
fn refuse_unless_json(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    match negotiate(uri.query(), headers) {
        Err(e) => Some(unknown_format(e)),
        Ok(Format::Prometheus) => Some(error(
            StatusCode::BAD_REQUEST,
            "PROMETHEUS_NOT_SUPPORTED",
            "per-client statistics are JSON only: a series per client would be unbounded",
        )),
        Ok(Format::Json) => None,
    }
}

/// Without authentication, the client list is for this machine only (`auth.mode = none` is
/// for a trusted machine; on a network the ids it lists would let anyone act as those
/// clients). A request that did not come over a network (tests, in-process) has no peer.
fn refuse_remote(sidecar: &Sidecar, peer: Option<&Peer>) -> Option<Response> {
    let remote = peer
        .and_then(|p| p.0)
        .is_some_and(|addr| !addr.ip().is_loopback());
    (remote && sidecar.server.config().auth.mode == AuthMode::None).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "LOOPBACK_ONLY",
            "without authentication (auth.mode = none) client statistics are served to this \
             machine only",
        )
    })
}

/// `GET /health/clients`: every client of the sidecar's tenant, keyed by client id.
pub async fn clients(
    State(sidecar): State<Sidecar>,
    peer: Option<Extension<Peer>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse_remote(&sidecar, peer.as_deref()) {
        return refused;
    }
    if let Some(refused) = refuse_unless_json(&uri, &headers) {
        return refused;
    }
    json(
        StatusCode::OK,
        &documents::clients(&sidecar.server, &sidecar.tenant, SystemTime::now()),
    )
}

/// `GET /health/clients/{id}`: one client, or a structured 404.
pub async fn client(
    State(sidecar): State<Sidecar>,
    peer: Option<Extension<Peer>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse_remote(&sidecar, peer.as_deref()) {
        return refused;
    }
    if let Some(refused) = refuse_unless_json(&uri, &headers) {
        return refused;
    }
    match documents::client_by_id(&sidecar.server, &sidecar.tenant, &id, SystemTime::now()) {
        Some(document) => json(StatusCode::OK, &document),
        // The id is not echoed: without authentication a client id is a credential.
        None => error(
            StatusCode::NOT_FOUND,
            "CLIENT_NOT_FOUND",
            "no client with this id is registered in this tenant",
        ),
    }
}
