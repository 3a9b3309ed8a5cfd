//! The HTTP sidecar (DESIGN section 11; default `127.0.0.1:10701`, `http.listen`): `/metrics`
//! (Prometheus text 0.0.4), `/livez` (200 while the process serves), `/readyz` (200 when
//! ready, else 503), and Ooloi's statistics as JSON at `/health`, `/health/server`,
//! `/health/clients` and `/health/clients/{id}` ([`health`]). Everything is read from the
//! shared [`Server`] at request time; the sidecar keeps no state of its own. It is plain
//! HTTP/1.1 on its own listener, independent of the gRPC server's lifecycle, so that probes
//! still get answers (503) while gRPC drains during shutdown.

mod documents;
mod health;
mod negotiate;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::identity::{Principal, TenantId};
use crate::net::{self, Activity, Peer};
use crate::server::{Listen, Server};
use crate::telemetry::metrics;

pub use health::{JSON_CONTENT_TYPE, SCHEMA_HEADER, SCHEMA_VERSION};
pub use negotiate::{Format, UnknownFormat, negotiate};

/// What the handlers share: the server, and the tenant whose clients `/health/clients` lists
/// (`local` while authentication is off; with authentication it will come from the caller's
/// admin token).
#[derive(Clone, Debug)]
struct Sidecar {
    server: Server,
    tenant: TenantId,
}

/// The sidecar's routes over `server`, listing the clients of the `local` tenant.
pub fn router(server: Server) -> Router {
    router_for_tenant(server, Principal::local().tenant)
}

/// The sidecar's routes over `server`, listing the clients of `tenant`.
pub fn router_for_tenant(server: Server, tenant: TenantId) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/health", get(health::health))
        .route("/health/server", get(health::server))
        .route("/health/clients", get(health::clients))
        .route("/health/clients/{id}", get(health::client))
        .with_state(Sidecar { server, tenant })
}

/// Serves the sidecar on `listener` until `shutdown` resolves, then stops accepting and
/// returns once open requests are answered. HTTP/1.1 with hyper, under the sidecar's own
/// connection cap (`http.max_connections`); a connection must send its first bytes, and each
/// request its headers, within `limits.handshake_timeout_seconds` (which also ends a
/// keep-alive connection waiting that long for its next request), and one with no request in
/// flight for `limits.idle_connection_seconds` is closed.
pub async fn serve(
    server: &Server,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = server.connection_limits(Listen::Http);
    let stats = server.connection_stats(Listen::Http).clone();
    let listener = net::Listener::new(listener, limits, stats.clone());
    let routes = router(server.clone());
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout)
        .keep_alive(true);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            (io, peer, slot) = listener.accept() => {
                let io = net::Handshake::new(io, 1, limits.handshake_timeout, Some(stats.clone()));
                let activity = Arc::new(Activity::default());
                let in_flight = Arc::clone(&activity);
                let routes = routes.clone();
                let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(Peer(Some(peer)));
                    let guard = in_flight.enter();
                    let routes = routes.clone();
                    async move {
                        let response = routes.oneshot(request).await;
                        drop(guard);
                        response
                    }
                });
                let conn = http1.serve_connection(TokioIo::new(io), service);
                let (stopping, stats) = (stopping.clone(), stats.clone());
                connections.spawn(async move {
                    net::drive(conn, &activity, limits.idle_timeout, stopping, &stats).await;
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}

async fn metrics_page(State(sidecar): State<Sidecar>) -> Response {
    text(
        StatusCode::OK,
        metrics::CONTENT_TYPE,
        sidecar.server.metrics().render(),
    )
}

async fn livez() -> Response {
    text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
}

async fn readyz(State(sidecar): State<Sidecar>) -> Response {
    if sidecar.server.readiness().is_ready() {
        text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ready\n".into(),
        )
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "not ready\n".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::identity::ClientId;

    fn server() -> Server {
        Server::new(Config::load(None, &[], &[]).unwrap())
    }

    async fn get(
        server: &Server,
        uri: &str,
        headers: &[(&'static str, &'static str)],
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut request = Request::builder().uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = router(server.clone())
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn without_authentication_client_statistics_are_for_this_machine_only() {
        let s = server();
        let from = |peer: &str| {
            let mut request = Request::builder()
                .uri("/health/clients")
                .body(Body::empty())
                .unwrap();
            request
                .extensions_mut()
                .insert(Peer(Some(peer.parse().unwrap())));
            request
        };
        for (peer, expected) in [
            ("127.0.0.1:5000", StatusCode::OK),
            ("[::1]:5000", StatusCode::OK),
            ("10.1.2.3:5000", StatusCode::FORBIDDEN),
            ("[2001:db8::1]:5000", StatusCode::FORBIDDEN),
        ] {
            let response = router(s.clone()).oneshot(from(peer)).await.unwrap();
            assert_eq!(response.status(), expected, "{peer}");
        }
        let mut remote = from("10.1.2.3:5000");
        *remote.uri_mut() = "/health/clients/someone".parse().unwrap();
        let response = router(s.clone()).oneshot(remote).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["error"]["code"], "LOOPBACK_ONLY");
        // The rest of the sidecar answers anyone (probes and scrapers).
        let mut metrics = from("10.1.2.3:5000");
        *metrics.uri_mut() = "/metrics".parse().unwrap();
        assert_eq!(
            router(s).oneshot(metrics).await.unwrap().status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn readiness_drives_readyz_and_health_but_not_livez() {
        let s = server();
        assert_eq!(get(&s, "/livez", &[]).await.0, StatusCode::OK);
        assert_eq!(
            get(&s, "/readyz", &[]).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            get(&s, "/health", &[]).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        s.readiness().set(true);
        assert_eq!(get(&s, "/readyz", &[]).await.0, StatusCode::OK);
        let (status, headers, body) = get(&s, "/health", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], JSON_CONTENT_TYPE);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers[SCHEMA_HEADER], "1");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["status"], "healthy");
        assert!(doc["server"]["uptime_seconds"].is_number());
        assert!(doc["server"]["started_at_unix_seconds"].is_u64());
        assert_eq!(doc["server"]["clients_connected_current"], 0);
        assert!(doc["server"]["memory"].is_object());
    }

    #[tokio::test]
    async fn health_answers_prometheus_when_asked_and_clients_refuse_it() {
        let s = server();
        for (uri, headers) in [
            ("/health/server", &[("accept", "text/plain")][..]),
            ("/health/server?format=prom", &[][..]),
            ("/health", &[("user-agent", "Prometheus/2.0")][..]),
        ] {
            let (status, h, body) = get(&s, uri, headers).await;
            assert_ne!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(h[CONTENT_TYPE], metrics::CONTENT_TYPE, "{uri}");
            assert_eq!(h["cache-control"], "no-store", "{uri}");
            assert!(
                body.contains("# TYPE ooloi_server_clients_connected gauge"),
                "{uri}"
            );
        }
        let (status, h, body) = get(
            &s,
            "/health/server?format=json",
            &[("accept", "text/plain")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[CONTENT_TYPE], JSON_CONTENT_TYPE);
        assert!(body.contains("\"counters\""));
        for (uri, headers) in [
            ("/health/clients", &[("accept", "text/plain")][..]),
            ("/health/clients/abc?format=prom", &[][..]),
            (
                "/health/clients/abc",
                &[("user-agent", "Prometheus/3.1")][..],
            ),
            ("/health?format=xml", &[][..]),
        ] {
            let (status, h, body) = get(&s, uri, headers).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(h[SCHEMA_HEADER], "1", "{uri}");
            let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(doc["error"]["code"].is_string(), "{uri}");
        }
    }

    #[tokio::test]
    async fn an_unknown_client_is_a_structured_404_and_a_known_one_is_listed() {
        let s = server();
        let (status, h, body) = get(&s, "/health/clients/nobody-here", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(h[CONTENT_TYPE], JSON_CONTENT_TYPE);
        assert_eq!(h["cache-control"], "no-store");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["error"]["code"], "CLIENT_NOT_FOUND");
        assert!(!body.contains("nobody-here"), "the id is not echoed");
        s.router()
            .register(
                &Principal::local(),
                ClientId::new("known-1").unwrap(),
                None,
                4,
            )
            .unwrap();
        let (status, _, body) = get(&s, "/health/clients/known-1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["client_id"], "known-1");
        let (_, _, body) = get(&s, "/health/clients", &[]).await;
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["tenant"], "local");
        assert!(doc["clients"]["known-1"].is_object());
    }

    #[tokio::test]
    async fn metrics_is_prometheus_text() {
        let s = server();
        let (status, h, body) = get(&s, "/metrics", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
        assert!(body.contains("# TYPE grpc_server_handled_total counter\n"));
        assert!(body.contains("ooloi_server_stm_retries_total{cause=\"conflict\"} 0\n"));
    }
}
