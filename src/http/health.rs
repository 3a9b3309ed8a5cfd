//! The `/health*` handlers: pick the form ([`negotiate`]), build the document
//! ([`documents`](super::documents)) or the Prometheus text, and answer with the headers every
//! health response carries (`Cache-Control: no-store`, `X-Ooloi-Metrics-Schema: 1`). Errors are
//! JSON too: `{"error": {"code": "...", "message": "..."}}`. Per-client endpoints refuse
//! Prometheus (400): one series per client id would be unbounded. Without authentication they
//! answer only requests from this machine (403 `LOOPBACK_ONLY` otherwise); with it they need a
//! bearer token of a tenant admin (their tenant's clients) or of the platform operator (every
//! tenant's; `?tenant=` picks one), else 401 or 403.

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
use crate::identity::TenantId;
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

/// Whose clients a request may see.
enum Viewer {
    /// One tenant's.
    Tenant(TenantId),
    /// Every tenant's (the platform operator).
    All,
}

/// Who may see client statistics. Without authentication, the sidecar's tenant, from this
/// machine only (`auth.mode = none` is for a trusted machine; on a network the ids it lists
/// would let anyone act as those clients; a request that did not come over a network, from
/// tests or in-process, has no peer). With authentication, a bearer token of a tenant admin
/// (their tenant) or of the platform operator (every tenant).
fn viewer(
    sidecar: &Sidecar,
    peer: Option<&Peer>,
    headers: &HeaderMap,
) -> Result<Viewer, Box<Response>> {
    let Some(authenticator) = sidecar.server.authenticator() else {
        return Err(Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            "the server is starting",
        )));
    };
    if !authenticator.requires_token() {
        let remote = peer
            .and_then(|p| p.0)
            .is_some_and(|addr| !addr.ip().is_loopback());
        if remote && sidecar.server.config().auth.mode == AuthMode::None {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "LOOPBACK_ONLY",
                "without authentication (auth.mode = none) client statistics are served to \
                 this machine only",
            )));
        }
        return Ok(Viewer::Tenant(sidecar.tenant.clone()));
    }
    let identity = authenticator.authenticate(headers).map_err(|e| {
        let mut refused = error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &e.to_string());
        refused.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        Box::new(refused)
    })?;
    // A suspended tenant gets nothing here either.
    if sidecar
        .server
        .api()
        .tenants()
        .active_quotas(&identity.principal.tenant)
        .is_err()
    {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "TENANT_NOT_ACTIVE",
            "the caller's tenant is not active",
        )));
    }
    if identity.roles.platform_admin {
        Ok(Viewer::All)
    } else if identity.roles.tenant_admin {
        Ok(Viewer::Tenant(identity.principal.tenant))
    } else {
        Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "client statistics are for the tenant's admins and the platform operator",
        )))
    }
}

/// The tenants a viewer asked about: its own, or for the platform operator the one named by
/// `?tenant=`, or all.
fn tenants_seen(sidecar: &Sidecar, viewer: Viewer, uri: &Uri) -> Vec<TenantId> {
    match viewer {
        Viewer::Tenant(tenant) => vec![tenant],
        Viewer::All => {
            let named = uri
                .query()
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|pair| pair.strip_prefix("tenant=").map(TenantId::from));
            match named {
                Some(tenant) => vec![tenant],
                None => sidecar.server.registry().tenants(),
            }
        }
    }
}

/// `GET /health/clients`: every client of the tenants the caller may see, keyed by client id
/// (one tenant's document; the platform operator without `?tenant=` gets every tenant's, under
/// `tenants`).
pub async fn clients(
    State(sidecar): State<Sidecar>,
    peer: Option<Extension<Peer>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let viewer = match viewer(&sidecar, peer.as_deref(), &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    if let Some(refused) = refuse_unless_json(&uri, &headers) {
        return refused;
    }
    let all = matches!(viewer, Viewer::All) && !uri.query().unwrap_or("").contains("tenant=");
    let now = SystemTime::now();
    let tenants = tenants_seen(&sidecar, viewer, &uri);
    if all {
        let by_tenant: serde_json::Map<String, Value> = tenants
            .iter()
            .map(|t| (t.to_string(), documents::clients(&sidecar.server, t, now)))
            .collect();
        return json(StatusCode::OK, &serde_json::json!({ "tenants": by_tenant }));
    }
    let tenant = tenants
        .into_iter()
        .next()
        .unwrap_or_else(|| sidecar.tenant.clone());
    json(
        StatusCode::OK,
        &documents::clients(&sidecar.server, &tenant, now),
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
    let viewer = match viewer(&sidecar, peer.as_deref(), &headers) {
        Ok(viewer) => viewer,
        Err(refused) => return *refused,
    };
    if let Some(refused) = refuse_unless_json(&uri, &headers) {
        return refused;
    }
    let now = SystemTime::now();
    let found = tenants_seen(&sidecar, viewer, &uri)
        .iter()
        .find_map(|t| documents::client_by_id(&sidecar.server, t, &id, now));
    match found {
        Some(document) => json(StatusCode::OK, &document),
        // The id is not echoed: without authentication a client id is a credential.
        None => error(
            StatusCode::NOT_FOUND,
            "CLIENT_NOT_FOUND",
            "no client with this id is registered in this tenant",
        ),
    }
}
