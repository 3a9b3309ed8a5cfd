//! Auth mode `jwt` through a real server (issue 11): the transport-level attack matrix (every
//! case UNAUTHENTICATED while a control token succeeds), open health and reflection, the tenant
//! taken only from the token, pieces of another tenant indistinguishable from missing ones,
//! client ids bound to their principal, and event streams that end when their token expires
//! unless renewed.

mod support;

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Header};
use ooloi_server::proto::OoloiRequest;
use serde_json::json;
use support::grpc::{
    STEP_TIMEOUT, TestServer, next_event, quiet_for, reason, register_request, request, to_value,
};
use support::jwt::{self, AUDIENCE, ISSUER, bearer, claims, hs256};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::{Code, Request, Status};

fn jwt_pairs(rsa_public: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OOLOI__AUTH__MODE", "jwt".into()),
        (
            "OOLOI__AUTH__HS256_SECRET",
            String::from_utf8(jwt::SECRET.to_vec()).unwrap(),
        ),
        ("OOLOI__AUTH__PUBLIC_KEY_FILES", rsa_public.into()),
        ("OOLOI__AUTH__ISSUER", ISSUER.into()),
        ("OOLOI__AUTH__AUDIENCE", AUDIENCE.into()),
    ]
}

async fn jwt_server() -> TestServer {
    let public = format!(
        "{}/tests/fixtures/keys/rsa-public.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let pairs = jwt_pairs(&public);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::tcp(&pairs).await
}

/// The client the control token registers in the attack tests.
const CONTROL: &str = "control-client";

/// `list-pieces []` with `token`, naming the control client.
async fn list(server: &TestServer, token: &str) -> Result<(), Status> {
    let mut grpc = server.client().await;
    grpc.execute_method(bearer(request(Some(CONTROL), "list-pieces", "[]"), token))
        .await
        .map(|_| ())
}

async fn assert_unauthenticated(server: &TestServer, request: Request<OoloiRequest>, case: &str) {
    let mut grpc = server.client().await;
    let status = grpc
        .execute_method(request)
        .await
        .expect_err(&format!("{case}: accepted"));
    assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
    assert_eq!(reason(&status), "UNAUTHENTICATED", "{case}");
    assert!(status.message().len() < 300, "{case}: {}", status.message());
}

#[tokio::test]
async fn every_attack_is_unauthenticated_while_the_control_token_succeeds() {
    let server = jwt_server().await;
    let control = jwt::token("acme", "alice", &[]);
    let _session = register(&server, CONTROL, &control).await;
    list(&server, &control).await.expect("the control token");
    let later = jwt::now() + 3600;
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims("acme", "alice", &[]);
        edit(&mut c);
        c
    };
    let mut tokens: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        tokens.push((
            format!("alg {alg}"),
            jwt::raw(
                &json!({"alg": alg, "typ": "JWT"}),
                &claims("acme", "alice", &[]),
                b"",
            ),
        ));
    }
    let rsa_public = jwt::key_file("rsa-public.pem");
    tokens.push((
        "HS256 with the RSA public key as secret".into(),
        jwt::hs256_raw(
            &json!({"alg": "HS256"}),
            &claims("acme", "alice", &[]),
            &rsa_public,
        ),
    ));
    tokens.push((
        "wrong key".into(),
        jwt::hs256_raw(
            &json!({"alg": "HS256"}),
            &claims("acme", "alice", &[]),
            &[9u8; 32],
        ),
    ));
    let mut bad_signature = control.clone();
    bad_signature.truncate(bad_signature.len() - 4);
    bad_signature.push_str("AAAA");
    tokens.push(("bad signature".into(), bad_signature));
    tokens.push((
        "expired".into(),
        hs256(&with(&|c| c["exp"] = json!(jwt::now() - 120))),
    ));
    tokens.push((
        "nbf in the future".into(),
        hs256(&with(&|c| c["nbf"] = json!(jwt::now() + 600))),
    ));
    tokens.push((
        "exp as a string".into(),
        hs256(&with(&|c| c["exp"] = json!(later.to_string()))),
    ));
    tokens.push((
        "nbf as a string".into(),
        hs256(&with(&|c| c["nbf"] = json!("0"))),
    ));
    tokens.push((
        "absurd exp".into(),
        hs256(&with(&|c| c["exp"] = json!(1e300))),
    ));
    tokens.push((
        "absurd exp (u64)".into(),
        hs256(&with(&|c| c["exp"] = json!(u64::MAX))),
    ));
    for claim in ["exp", "iss", "aud", "sub", "tenant"] {
        tokens.push((
            format!("missing {claim}"),
            hs256(&with(&|c| {
                c.as_object_mut().unwrap().remove(claim);
            })),
        ));
    }
    tokens.push((
        "wrong aud".into(),
        hs256(&with(&|c| c["aud"] = json!("other"))),
    ));
    tokens.push((
        "wrong iss".into(),
        hs256(&with(&|c| c["iss"] = json!("https://evil.test"))),
    ));
    for kid in [
        "unknown",
        "../../etc/passwd",
        "1' OR '1'='1",
        &"k".repeat(10 * 1024),
    ] {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.to_string());
        tokens.push((
            format!("kid {}", &kid[..kid.len().min(20)]),
            jwt::sign(h, &claims("acme", "alice", &[]), &jwt::private_key("rsa")),
        ));
    }
    let parts: Vec<&str> = control.split('.').collect();
    tokens.push((
        "edited payload".into(),
        format!(
            "{}.{}.{}",
            parts[0],
            jwt::b64(claims("acme", "mallory", &["admin"]).to_string().as_bytes()),
            parts[2]
        ),
    ));
    tokens.push((
        "20 KB token".into(),
        hs256(&with(&|c| c["pad"] = json!("p".repeat(20 * 1024)))),
    ));
    let mut id_token = Header::new(Algorithm::HS256);
    id_token.typ = Some("id_token+jwt".into());
    tokens.push((
        "another type".into(),
        jwt::sign(id_token, &claims("acme", "alice", &[]), &jwt::secret_key()),
    ));
    for (case, token) in &tokens {
        assert_unauthenticated(
            &server,
            bearer(request(Some(CONTROL), "list-pieces", "[]"), token),
            case,
        )
        .await;
        list(&server, &control)
            .await
            .expect("the control token still works");
    }

    // Headers: none, two, and malformed ones.
    assert_unauthenticated(
        &server,
        request(Some(CONTROL), "list-pieces", "[]"),
        "no token",
    )
    .await;
    let mut two = bearer(request(Some(CONTROL), "list-pieces", "[]"), &control);
    two.metadata_mut().append(
        "authorization",
        AsciiMetadataValue::try_from(format!("Bearer {control}")).unwrap(),
    );
    assert_unauthenticated(&server, two, "two authorization headers").await;
    for header in [
        "Basic YWxpY2U6c2VjcmV0".to_string(),
        "Bearer".into(),
        "Bearer ".into(),
        format!("Token {control}"),
        format!("Bearer{control}"),
        format!("Bearer {control} extra"),
    ] {
        let mut r = request(Some(CONTROL), "list-pieces", "[]");
        r.metadata_mut().insert(
            "authorization",
            AsciiMetadataValue::try_from(header.as_str()).unwrap(),
        );
        assert_unauthenticated(&server, r, &header[..header.len().min(30)]).await;
    }
    let mut binary = request(Some(CONTROL), "list-pieces", "[]");
    binary.metadata_mut().insert_bin(
        "authorization-bin",
        MetadataValue::from_bytes(control.as_bytes()),
    );
    assert_unauthenticated(&server, binary, "token only in a binary header").await;

    // A token for tenant A while the metadata claims tenant B.
    for header in ["x-ooloi-tenant", "x-tenant-id"] {
        let mut r = bearer(request(Some(CONTROL), "list-pieces", "[]"), &control);
        r.metadata_mut().insert(header, "globex".parse().unwrap());
        assert_unauthenticated(&server, r, header).await;
        let mut same = bearer(request(Some(CONTROL), "list-pieces", "[]"), &control);
        same.metadata_mut().insert(header, "acme".parse().unwrap());
        server
            .client()
            .await
            .execute_method(same)
            .await
            .expect("the token's own tenant");
    }

    // The scheme is case-insensitive (RFC 7235).
    let mut lower = request(Some(CONTROL), "list-pieces", "[]");
    lower.metadata_mut().insert(
        "authorization",
        AsciiMetadataValue::try_from(format!("bearer {control}")).unwrap(),
    );
    server
        .client()
        .await
        .execute_method(lower)
        .await
        .expect("bearer in lower case");

    // RS256 with the configured public key works.
    let rs = jwt::sign(
        Header::new(Algorithm::RS256),
        &claims("acme", "alice", &[]),
        &jwt::private_key("rsa"),
    );
    list(&server, &rs).await.expect("RS256");
    server.stop().await;
}

#[tokio::test]
async fn a_jku_header_is_never_fetched() {
    let server = jwt_server().await;
    let _session = register(&server, CONTROL, &jwt::token("acme", "alice", &[])).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    for alg in ["RS256", "HS256"] {
        let header = json!({"alg": alg, "jku": url, "x5u": url, "kid": "attacker"});
        let token = if alg == "HS256" {
            jwt::hs256_raw(
                &header,
                &claims("acme", "alice", &[]),
                b"attacker-secret-of-32-bytes.....",
            )
        } else {
            jwt::raw(&header, &claims("acme", "alice", &[]), &[1u8; 256])
        };
        assert_unauthenticated(
            &server,
            bearer(request(Some(CONTROL), "list-pieces", "[]"), &token),
            alg,
        )
        .await;
    }
    // The calls have been answered: any fetch would have connected by now.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the jku listener saw a connection: {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let server = jwt_server().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a token");
    assert_eq!(answer.into_inner().status, 1, "SERVING");
    server.stop().await;
}

/// A registered client of `user` in `tenant` with `token`: its gRPC client and event stream.
struct Session {
    grpc: support::grpc::Grpc,
    events: tonic::Streaming<ooloi_server::proto::EventMessage>,
    id: String,
}

async fn register(server: &TestServer, id: &str, token: &str) -> Session {
    let mut grpc = server.client().await;
    let mut events = grpc
        .register_client(bearer(Request::new(register_request(id)), token))
        .await
        .unwrap_or_else(|s| panic!("register {id}: {s:?}"))
        .into_inner();
    let confirmation = next_event(&mut events).await;
    assert_eq!(confirmation.event_type, "client-registration-confirmed");
    Session {
        grpc,
        events,
        id: id.into(),
    }
}

impl Session {
    async fn call(
        &mut self,
        token: &str,
        method: &str,
        params: &str,
    ) -> Result<ooloi_server::value::Value, Status> {
        let response = tokio::time::timeout(
            STEP_TIMEOUT,
            self.grpc
                .execute_method(bearer(request(Some(&self.id), method, params), token)),
        )
        .await
        .expect("answers in time")?
        .into_inner();
        Ok(to_value(response.result))
    }
}

/// Waits for the stream to end; returns its final status and when it ended.
async fn ended(
    events: &mut tonic::Streaming<ooloi_server::proto::EventMessage>,
) -> (Status, Instant) {
    loop {
        match tokio::time::timeout(STEP_TIMEOUT, events.message())
            .await
            .expect("the stream ends in time")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => return (status, Instant::now()),
        }
    }
}

fn expiring_token(tenant: &str, user: &str, seconds: u64) -> (String, std::time::SystemTime) {
    let exp = jwt::now() + seconds;
    let mut c = claims(tenant, user, &[]);
    c["exp"] = json!(exp);
    (hs256(&c), std::time::UNIX_EPOCH + Duration::from_secs(exp))
}

#[tokio::test]
async fn a_stream_ends_with_unauthenticated_when_its_token_expires() {
    let server = jwt_server().await;
    let (token, expires) = expiring_token("acme", "alice", 2);
    let mut session = register(&server, "expiring", &token).await;
    let (status, _) = ended(&mut session.events).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let late = std::time::SystemTime::now()
        .duration_since(expires)
        .unwrap_or_default();
    assert!(
        late < Duration::from_secs(1),
        "ended {late:?} after the token's exp"
    );
    // The registration went with the stream: the id is free again.
    let fresh = jwt::token("acme", "alice", &[]);
    assert!(
        support::grpc::eventually(Duration::from_secs(5), || {
            server
                .server()
                .registry()
                .get("acme", &"expiring".parse().unwrap())
                .is_none()
        })
        .await
    );
    let _again = register(&server, "expiring", &fresh).await;
    server.stop().await;
}

#[tokio::test]
async fn renew_client_session_keeps_a_stream_past_its_first_tokens_expiry() {
    let server = jwt_server().await;
    let (short, expires) = expiring_token("acme", "alice", 2);
    let mut session = register(&server, "renewing", &short).await;
    // Another principal cannot renew it.
    let mallory = jwt::token("acme", "mallory", &[]);
    let refused = session
        .call(&mallory, "renew-client-session", "[]")
        .await
        .unwrap_err();
    assert_ne!(refused.code(), Code::Ok);
    let (long, _) = expiring_token("acme", "alice", 60);
    let renewed = session
        .call(&long, "renew-client-session", "[]")
        .await
        .unwrap();
    assert!(format!("{renewed:?}").contains("expires-at"), "{renewed:?}");
    // Past the first token's expiry (plus the 1 s the stream may take), still open.
    let wait = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        + Duration::from_millis(1500);
    assert!(
        quiet_for(&mut session.events, wait).await,
        "the renewed stream stayed open"
    );
    // And it still delivers.
    let pid = session
        .call(&long, "new-piece", "[{:title \"x\"}]")
        .await
        .unwrap();
    let pid = pid.as_str().unwrap().to_string();
    session
        .call(&long, "subscribe-to-piece-events", &format!("[\"{pid}\"]"))
        .await
        .unwrap();
    session
        .call(&long, "set-title", &format!("[[] \"{pid}\" \"y\"]"))
        .await
        .unwrap();
    let event = next_event(&mut session.events).await;
    assert_eq!(event.event_type, "piece-structure-changed");
    server.stop().await;
}

#[tokio::test]
async fn a_client_id_acts_only_for_the_principal_that_registered_it() {
    let server = jwt_server().await;
    let alice = jwt::token("acme", "alice", &[]);
    let bob = jwt::token("acme", "bob", &[]);
    let mut session = register(&server, "alices-client", &alice).await;
    let pid = session
        .call(&alice, "new-piece", "[{:title \"a\"}]")
        .await
        .unwrap();
    let pid = pid.as_str().unwrap().to_string();
    // Bob names Alice's client: refused, and her client is untouched.
    let e = session
        .call(&bob, "subscribe-to-piece-events", &format!("[\"{pid}\"]"))
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    let mut grpc = server.client().await;
    let mut disconnect = bearer(
        Request::new(ooloi_server::proto::DisconnectRequest {}),
        &bob,
    );
    disconnect
        .metadata_mut()
        .insert("x-ooloi-client-id", "alices-client".parse().unwrap());
    let e = grpc.disconnect(disconnect).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        server
            .server()
            .registry()
            .get("acme", &"alices-client".parse().unwrap())
            .is_some()
    );
    // The same id in another tenant is another client.
    let other = jwt::token("globex", "alice", &[]);
    let _twin = register(&server, "alices-client", &other).await;
    server.stop().await;
}

#[tokio::test]
async fn another_tenants_piece_is_indistinguishable_from_a_missing_one() {
    let server = jwt_server().await;
    let alice = jwt::token("acme", "alice", &[]);
    let eve = jwt::token("globex", "eve", &[]);
    let mut a = register(&server, "a-client", &alice).await;
    let mut e = register(&server, "e-client", &eve).await;
    let pid = a
        .call(&alice, "new-piece", "[{:title \"secret\"}]")
        .await
        .unwrap();
    let pid = pid.as_str().unwrap().to_string();
    a.call(&alice, "subscribe-to-piece-events", &format!("[\"{pid}\"]"))
        .await
        .unwrap();
    let missing = "00000000-0000-4000-8000-000000000000";
    for (method, params) in [
        ("get-piece-metadata", "[\"{}\"]"),
        ("set-title", "[[] \"{}\" \"stolen\"]"),
        ("subscribe-to-piece-events", "[\"{}\"]"),
        ("delete-piece", "[\"{}\"]"),
    ] {
        let probe = |id: &str| params.replace("{}", id);
        let theirs = e.call(&eve, method, &probe(&pid)).await.unwrap_err();
        let nothing = e.call(&eve, method, &probe(missing)).await.unwrap_err();
        assert_eq!(theirs.code(), nothing.code(), "{method}");
        assert_eq!(reason(&theirs), reason(&nothing), "{method}");
        assert_eq!(
            theirs.message().replace(&pid, "ID"),
            nothing.message().replace(missing, "ID"),
            "{method}"
        );
    }
    // Nothing of tenant globex's probing reached acme's piece, and no acme event reached eve.
    assert!(quiet_for(&mut e.events, Duration::from_millis(300)).await);
    let listed = e.call(&eve, "list-pieces", "[]").await.unwrap();
    assert!(!format!("{listed:?}").contains(&pid), "{listed:?}");
    a.call(
        &alice,
        "set-title",
        &format!("[[] \"{pid}\" \"still mine\"]"),
    )
    .await
    .unwrap();
    assert_eq!(
        next_event(&mut a.events).await.event_type,
        "piece-structure-changed"
    );
    assert!(quiet_for(&mut e.events, Duration::from_millis(300)).await);
    server.stop().await;
}

#[tokio::test]
async fn a_server_with_an_unreadable_key_file_does_not_open() {
    let pairs = jwt_pairs("/nonexistent/key.pem");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let e = ooloi_server::server::Server::opened(support::grpc::config(&pairs))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/key.pem"), "{e}");
}

#[tokio::test]
async fn a_tenants_own_identity_provider_speaks_only_for_that_tenant() {
    let server = jwt_server().await;
    let dir = std::env::temp_dir().join(format!("ooloi-idp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks = dir.join("acme.json");
    std::fs::write(&jwks, jwt::jwks_of_rsa("acme-key")).unwrap();
    let operator = jwt::token("platform", "op", &["platform-admin"]);
    let mut op = register(&server, "operator", &operator).await;
    op.call(
        &operator,
        "create-tenant",
        &format!(
            "[{{:id \"acme\" :identity-provider {{:issuer \"https://idp.acme.edu\" :jwks-file \"{}\"}}}}]",
            jwks.display()
        ),
    )
    .await
    .unwrap();
    let acme_token = |tenant| provider_token("https://idp.acme.edu", "acme-key", "alice", tenant);
    // Without a tenant claim, and with its own: acme.
    for token in [acme_token(None), acme_token(Some("acme"))] {
        let mut s = register(&server, "acme-alice", &token).await;
        let pid = s.call(&token, "new-piece", "[]").await.unwrap();
        assert!(
            server
                .server()
                .registry()
                .get("acme", &"acme-alice".parse().unwrap())
                .is_some()
        );
        assert!(pid.as_str().is_some());
        drop(s);
        assert!(
            support::grpc::eventually(Duration::from_secs(5), || {
                server
                    .server()
                    .registry()
                    .get("acme", &"acme-alice".parse().unwrap())
                    .is_none()
            })
            .await
        );
    }
    // Claiming another tenant: refused.
    let globex = acme_token(Some("globex"));
    let e = server
        .client()
        .await
        .register_client(bearer(Request::new(register_request("x-client")), &globex))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    // The acme issuer with the platform's secret: not acme's keys, refused.
    let mut c = claims("acme", "mallory", &[]);
    c["iss"] = json!("https://idp.acme.edu");
    let e = server
        .client()
        .await
        .register_client(bearer(
            Request::new(register_request("m-client")),
            &hs256(&c),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    server.stop().await;
}

#[tokio::test]
async fn client_statistics_need_a_tenant_admin_or_the_platform_operator() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let server = jwt_server().await;
    let alice = jwt::token("acme", "alice", &[]);
    let _a = register(&server, "acme-client", &alice).await;
    let _e = register(&server, "globex-client", &jwt::token("globex", "eve", &[])).await;
    let sidecar = ooloi_server::http::router(server.server().clone());
    let get = |path: &str, token: Option<String>| {
        let mut request = http::Request::get(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let sidecar = sidecar.clone();
        async move {
            let response = sidecar.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status.as_u16(),
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    // Open: metrics and probes.
    let open = ooloi_server::http::router(server.server().clone())
        .oneshot(
            http::Request::get("/livez")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(get("/health/clients", None).await.0, 401);
    assert_eq!(get("/health/clients", Some(alice.clone())).await.0, 403);
    let (code, doc) = get(
        "/health/clients",
        Some(jwt::token("acme", "root", &["admin"])),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(doc["tenant"], "acme");
    assert!(
        doc["clients"].get("acme-client").is_some()
            && doc["clients"].get("globex-client").is_none(),
        "{doc}"
    );
    let (code, _) = get(
        "/health/clients/globex-client",
        Some(jwt::token("acme", "root", &["admin"])),
    )
    .await;
    assert_eq!(code, 404, "another tenant's client is not found");
    let operator = jwt::token("platform", "op", &["platform-admin"]);
    let (code, doc) = get("/health/clients", Some(operator.clone())).await;
    assert_eq!(code, 200);
    assert!(
        doc["tenants"]["acme"]["clients"]
            .get("acme-client")
            .is_some(),
        "{doc}"
    );
    assert!(
        doc["tenants"]["globex"]["clients"]
            .get("globex-client")
            .is_some(),
        "{doc}"
    );
    let (code, doc) = get("/health/clients?tenant=globex", Some(operator.clone())).await;
    assert_eq!((code, doc["tenant"].as_str()), (200, Some("globex")));
    assert_eq!(
        get("/health/clients/globex-client", Some(operator)).await.0,
        200
    );
    server.stop().await;
}

/// A JWKS endpoint on `127.0.0.1:0` serving `document` (changeable) and counting requests.
async fn jwks_endpoint(
    document: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = document.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_jwks_url_is_fetched_at_most_once_per_interval_whatever_kids_tokens_name() {
    let document = std::sync::Arc::new(std::sync::Mutex::new(jwt::jwks_of_rsa("key-1")));
    let (url, fetches) = jwks_endpoint(document.clone()).await;
    let server = TestServer::tcp(&[
        ("OOLOI__AUTH__MODE", "jwt"),
        ("OOLOI__AUTH__JWKS_URL", &url),
        ("OOLOI__AUTH__JWKS_MIN_REFRESH_SECONDS", "1"),
        ("OOLOI__AUTH__ISSUER", ISSUER),
        ("OOLOI__AUTH__AUDIENCE", AUDIENCE),
    ])
    .await;
    let count = || fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(count(), 1, "fetched once at start-up");
    let signed = |kid: &str| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        jwt::sign(h, &claims("acme", "alice", &[]), &jwt::private_key("rsa"))
    };
    let good = signed("key-1");
    let _session = register(&server, CONTROL, &good).await;
    let started = Instant::now();
    let mut grpc = server.client().await;
    // One RSA signature (slow in a debug build) under 1000 headers: the kid is looked up
    // before any signature is checked.
    let parts: Vec<&str> = good.split('.').collect();
    for i in 0..1000 {
        let header =
            json!({"alg": "RS256", "typ": "JWT", "kid": format!("random-{i}-{}", uuid_like(i))});
        let token = format!(
            "{}.{}.{}",
            jwt::b64(header.to_string().as_bytes()),
            parts[1],
            parts[2]
        );
        let status = grpc
            .execute_method(bearer(request(Some(CONTROL), "list-pieces", "[]"), &token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Refreshes run in the background: let the last one finish before counting.
    let _ = support::grpc::eventually(Duration::from_millis(500), || false).await;
    let allowed = 1 + 1 + elapsed.floor() as usize;
    assert!(
        count() <= allowed,
        "{} fetches in {elapsed:.2} s (at most {allowed})",
        count()
    );
    list(&server, &good)
        .await
        .expect("the known key still works");

    // Key rotation: the provider now serves key-2; a token signed under it is accepted once a
    // refresh (at most a minimum interval later) has fetched it.
    *document.lock().unwrap() = jwt::jwks_of_rsa("key-2");
    let rotated = signed("key-2");
    let mut accepted = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if list(&server, &rotated).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "the rotated key is fetched and used");
    server.stop().await;
}

fn uuid_like(i: usize) -> String {
    format!("{:016x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

#[tokio::test]
async fn a_tenants_provider_may_publish_its_keys_at_a_url() {
    let document = std::sync::Arc::new(std::sync::Mutex::new(jwt::jwks_of_rsa("uni-key")));
    let (url, fetches) = jwks_endpoint(document).await;
    let server = jwt_server().await;
    let operator = jwt::token("platform", "op", &["platform-admin"]);
    let mut op = register(&server, "operator", &operator).await;
    op.call(
        &operator,
        "create-tenant",
        &format!("[{{:id \"uni\" :identity-provider {{:issuer \"https://idp.uni.edu\" :jwks-url \"{url}\"}}}}]"),
    )
    .await
    .unwrap();
    let token_for = |tenant| provider_token("https://idp.uni.edu", "uni-key", "dana", tenant);
    let token = token_for(None);
    // The first token asks for the key set; a retry once it has arrived is accepted, as uni.
    let mut grpc = server.client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut registered = None;
    while Instant::now() < deadline {
        match grpc
            .register_client(bearer(
                Request::new(register_request("dana-client")),
                &token,
            ))
            .await
        {
            Ok(stream) => {
                registered = Some(stream.into_inner());
                break;
            }
            Err(status) => assert_eq!(status.code(), Code::Unauthenticated),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut events = registered.expect("accepted once the key set is fetched");
    assert_eq!(
        next_event(&mut events).await.event_type,
        "client-registration-confirmed"
    );
    assert!(
        server
            .server()
            .registry()
            .get("uni", &"dana-client".parse().unwrap())
            .is_some()
    );
    assert!(fetches.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let e = grpc
        .register_client(bearer(
            Request::new(register_request("d2")),
            &token_for(Some("acme")),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    server.stop().await;
}

/// A token of `user` from a tenant's own provider (`iss`, RSA key `kid`), naming `tenant` in
/// the tenant claim or leaving the claim out.
fn provider_token(iss: &str, kid: &str, user: &str, tenant: Option<&str>) -> String {
    let mut c = claims("x", user, &[]);
    c["iss"] = json!(iss);
    match tenant {
        Some(t) => c["tenant"] = json!(t),
        None => {
            c.as_object_mut().unwrap().remove("tenant");
        }
    }
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    jwt::sign(h, &c, &jwt::private_key("rsa"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_stream_still_ends_when_its_token_expires() {
    let server = jwt_server().await;
    let (short, expires) = expiring_token("acme", "alice", 2);
    let mut reader = register(&server, "busy-reader", &short).await;
    let writer_token = jwt::token("acme", "alice", &[]);
    let mut writer = register(&server, "writer", &writer_token).await;
    let pid = writer.call(&writer_token, "new-piece", "[]").await.unwrap();
    let pid = pid.as_str().unwrap().to_string();
    reader
        .call(&short, "subscribe-to-piece-events", &format!("[\"{pid}\"]"))
        .await
        .unwrap();
    // A writer keeps the piece busy (bounded: at most 10 s or 20,000 edits) while the reader
    // drains its stream, so its queue keeps getting events past the token's expiry.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = {
        let stop = stop.clone();
        let pid = pid.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            for i in 0..20_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed)
                    || started.elapsed() > Duration::from_secs(10)
                {
                    break;
                }
                let _ = writer
                    .call(
                        &writer_token,
                        "set-title",
                        &format!("[[] \"{pid}\" \"t{i}\"]"),
                    )
                    .await;
            }
        })
    };
    let (status, _) = ended(&mut reader.events).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writing.await.unwrap();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let late = std::time::SystemTime::now()
        .duration_since(expires)
        .unwrap_or_default();
    assert!(
        late < Duration::from_secs(1),
        "ended {late:?} after the token's exp under load"
    );
    server.stop().await;
}
