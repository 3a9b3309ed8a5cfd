//! Tenants, roles and quotas through a real server in auth mode `jwt` (issue 11): the
//! authorization matrix over every RPC and every registered method (including one registered
//! at run time), piece sharing and revocation, the tenant registry (registered mode, admin
//! methods, suspension, deletion, the seed file) and the per-tenant quotas.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ooloi_server::api::{Category, Method, ParamKind, registry::param};
use ooloi_server::proto::{EventMessage, OoloiRequest};
use ooloi_server::value::{Value, edn};
use prost::Message;
use support::grpc::{
    STEP_TIMEOUT, TestServer, next_event, quiet_for, reason, register_request, request, to_value,
};
use support::jwt::{self, AUDIENCE, ISSUER, bearer};
use tonic::{Code, Request, Status, Streaming};

type Grpc = support::grpc::Grpc;

fn base() -> Vec<(&'static str, String)> {
    vec![
        ("OOLOI__AUTH__MODE", "jwt".into()),
        (
            "OOLOI__AUTH__HS256_SECRET",
            String::from_utf8(jwt::SECRET.to_vec()).unwrap(),
        ),
        ("OOLOI__AUTH__ISSUER", ISSUER.into()),
        ("OOLOI__AUTH__AUDIENCE", AUDIENCE.into()),
    ]
}

async fn start(extra: &[(&'static str, &str)]) -> TestServer {
    let mut pairs = base();
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::tcp(&pairs).await
}

/// A registered client of one principal.
struct User {
    token: String,
    id: String,
    grpc: Grpc,
    events: Streaming<EventMessage>,
}

impl User {
    async fn register(server: &TestServer, tenant: &str, user: &str, roles: &[&str]) -> User {
        let token = jwt::token(tenant, user, roles);
        Self::register_with(server, &token, &format!("{tenant}-{user}"))
            .await
            .unwrap()
    }

    async fn register_with(server: &TestServer, token: &str, id: &str) -> Result<User, Status> {
        let mut grpc = server.client().await;
        let mut events = grpc
            .register_client(bearer(Request::new(register_request(id)), token))
            .await?
            .into_inner();
        assert_eq!(
            next_event(&mut events).await.event_type,
            "client-registration-confirmed"
        );
        Ok(User {
            token: token.to_string(),
            id: id.to_string(),
            grpc,
            events,
        })
    }

    async fn call(&mut self, method: &str, params: &str) -> Result<Value, Status> {
        self.call_value(method, edn::parse(params).unwrap()).await
    }

    async fn call_value(&mut self, method: &str, params: Value) -> Result<Value, Status> {
        let mut r = Request::new(OoloiRequest {
            method: method.into(),
            params: Some(params.to_proto()),
        });
        r.metadata_mut()
            .insert("x-ooloi-client-id", self.id.parse().unwrap());
        let r = bearer(r, &self.token);
        let response = tokio::time::timeout(STEP_TIMEOUT, self.grpc.execute_method(r))
            .await
            .expect("answers in time")?;
        Ok(to_value(response.into_inner().result))
    }

    async fn ok(&mut self, method: &str, params: &str) -> Value {
        self.call(method, params)
            .await
            .unwrap_or_else(|s| panic!("{method} {params}: {s:?}"))
    }

    async fn new_piece(&mut self) -> String {
        self.ok("new-piece", "[{:title \"t\"}]")
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn denied(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::PermissionDenied | Code::NotFound | Code::Unauthenticated
    ) && [
        "PERMISSION_DENIED",
        "PIECE_NOT_FOUND",
        "UNAUTHENTICATED",
        "TENANT_NOT_ACTIVE",
    ]
    .contains(&reason(status).as_str())
}

/// The principals of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    NoToken,
    Viewer,
    Editor,
    Owner,
    OtherTenantOwner,
    TenantAdmin,
    PlatformOperator,
}

const EVERYONE: [Who; 7] = [
    Who::NoToken,
    Who::Viewer,
    Who::Editor,
    Who::Owner,
    Who::OtherTenantOwner,
    Who::TenantAdmin,
    Who::PlatformOperator,
];

/// Whether `who` may call a method of `category` on a piece of tenant `acme` owned by `Owner`
/// (`on_piece`: the method names a piece; else it acts on the caller's own tenant).
fn expected(name: &str, category: &str, on_piece: bool, who: Who) -> bool {
    use Who::*;
    if who == NoToken {
        return false;
    }
    // Deleting is the owner's (a lifecycle method that needs more than its category).
    let category = if name == "delete-piece" {
        "share"
    } else {
        category
    };
    if category == "admin" {
        return who == PlatformOperator;
    }
    if !on_piece {
        return true;
    }
    match (category, who) {
        (_, OtherTenantOwner | PlatformOperator) => false,
        (_, Owner | TenantAdmin) => true,
        ("read" | "lifecycle", Viewer | Editor) => true,
        ("write", Editor) => true,
        ("write", Viewer) => false,
        ("share", Viewer | Editor) => false,
        (other, who) => panic!("the matrix has no entry for category {other} and {who:?}"),
    }
}

/// Arguments of the right types for `params`, naming `piece` for every piece id.
fn arguments(params: &[Value], piece: &str) -> Value {
    Value::vector(params.iter().map(|p| {
        let kind = p
            .as_map()
            .unwrap()
            .get_keyword("type")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        match kind.as_str() {
            "a piece id string" => Value::string(piece),
            "a VPD vector such as [:m 0 0]" | "a vector" => Value::vector([]),
            "an integer" => Value::Int(0),
            "a map" => Value::map([]),
            "a string" => Value::string("nobody"),
            _ => Value::Nil,
        }
    }))
}

#[tokio::test]
async fn the_authorization_matrix_covers_every_rpc_and_every_method() {
    let server = start(&[
        ("OOLOI__QUOTAS__REQUESTS_PER_SECOND", "1000000"),
        ("OOLOI__QUOTAS__BURST", "1000000"),
    ])
    .await;
    // A method registered at run time gets its category's authorization.
    server.server().api().methods().register(Method::new(
        "plugin-retitle",
        Category::Write,
        &[param("piece-id", ParamKind::PieceId)],
        "A plugin's write",
        |call, args| {
            let pid = args.piece_id(0)?;
            let change = ooloi_server::model::Change {
                at: ooloi_server::model::Vpd::root(),
                op: ooloi_server::model::change::ChangeOp::SetTitle("plugin".into()),
            };
            call.apply(pid, change)?;
            call.write_result(pid)
        },
    ));
    let mut owner = User::register(&server, "acme", "owner", &[]).await;
    let mut users: BTreeMap<Who, User> = BTreeMap::new();
    users.insert(
        Who::Viewer,
        User::register(&server, "acme", "viewer", &[]).await,
    );
    users.insert(
        Who::Editor,
        User::register(&server, "acme", "editor", &[]).await,
    );
    users.insert(
        Who::OtherTenantOwner,
        User::register(&server, "globex", "owner", &[]).await,
    );
    users.insert(
        Who::TenantAdmin,
        User::register(&server, "acme", "admin", &["admin"]).await,
    );
    users.insert(
        Who::PlatformOperator,
        User::register(&server, "platform", "op", &["platform-admin"]).await,
    );

    // The RPCs, from the descriptor set: without a token each is UNAUTHENTICATED (health and
    // reflection are not in it: they are open), with one each works (tested through the
    // sessions above and the calls below).
    let set =
        prost_types::FileDescriptorSet::decode(ooloi_server::proto::FILE_DESCRIPTOR_SET).unwrap();
    let rpcs: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| f.service.iter())
        .flat_map(|s| s.method.iter().map(|m| m.name().to_string()))
        .collect();
    assert_eq!(rpcs.len(), 3, "{rpcs:?}");
    let mut anonymous = server.client().await;
    for rpc in &rpcs {
        let status = match rpc.as_str() {
            "ExecuteMethod" => anonymous
                .execute_method(request(Some("acme-owner"), "list-pieces", "[]"))
                .await
                .err(),
            "RegisterClient" => anonymous
                .register_client(register_request("anon"))
                .await
                .err(),
            "Disconnect" => anonymous
                .disconnect(support::grpc::disconnect_request(Some("acme-owner")))
                .await
                .err(),
            other => panic!("the matrix has no entry for RPC {other}"),
        };
        assert_eq!(status.expect(rpc).code(), Code::Unauthenticated, "{rpc}");
    }

    let listed = owner.ok("list-methods", "[]").await;
    let methods: Vec<(String, String, Vec<Value>)> = listed
        .as_seq()
        .unwrap()
        .as_slice()
        .iter()
        .map(|m| {
            let m = m.as_map().unwrap();
            let word = |k: &str| match m.get_keyword(k).unwrap() {
                Value::Keyword(k) => k.as_str().to_string(),
                Value::String(s) => s.to_string(),
                other => panic!("{other:?}"),
            };
            let params = m
                .get_keyword("params")
                .unwrap()
                .as_seq()
                .unwrap()
                .as_slice()
                .to_vec();
            (word("name"), word("category"), params)
        })
        .collect();
    assert!(methods.iter().any(|(n, ..)| n == "plugin-retitle"));
    assert!(methods.iter().any(|(n, ..)| n == "renew-client-session"));
    let mut checked = 0;
    for (name, category, params) in &methods {
        let on_piece = params.iter().any(|p| {
            p.as_map().unwrap().get_keyword("type").unwrap().as_str() == Some("a piece id string")
        });
        for who in EVERYONE {
            // A fresh piece each time: a method that deletes or shares must not change what the
            // next principal finds.
            let piece = owner.new_piece().await;
            owner
                .ok("share-piece", &format!("[\"{piece}\" \"viewer\" :viewer]"))
                .await;
            owner
                .ok("share-piece", &format!("[\"{piece}\" \"editor\" :editor]"))
                .await;
            let args = arguments(params, &piece);
            let outcome = match who {
                Who::NoToken => {
                    let mut r = Request::new(OoloiRequest {
                        method: name.clone(),
                        params: Some(args.to_proto()),
                    });
                    r.metadata_mut()
                        .insert("x-ooloi-client-id", owner.id.parse().unwrap());
                    server
                        .client()
                        .await
                        .execute_method(r)
                        .await
                        .map(|_| Value::Nil)
                }
                Who::Owner => owner.call_value(name, args).await,
                other => users.get_mut(&other).unwrap().call_value(name, args).await,
            };
            let allowed = match &outcome {
                Ok(_) => true,
                Err(status) => !denied(status),
            };
            assert_eq!(
                allowed,
                expected(name, category, on_piece, who),
                "{name} ({category}) as {who:?}: {outcome:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 7 * 100, "{checked} cases");
    server.stop().await;
}

#[tokio::test]
async fn sharing_grants_roles_and_revocation_stops_events_at_once() {
    let server = start(&[]).await;
    let mut alice = User::register(&server, "acme", "alice", &[]).await;
    let mut bob = User::register(&server, "acme", "bob", &[]).await;
    let pid = alice.new_piece().await;
    // Private by default: bob does not see it, even in the list.
    let e = bob
        .call("get-title", &format!("[[] \"{pid}\"]"))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIECE_NOT_FOUND");
    assert_eq!(bob.ok("list-pieces", "[]").await, Value::vector([]));
    // Viewer: reads and subscribes, cannot write or share.
    alice
        .ok("share-piece", &format!("[\"{pid}\" \"bob\" :viewer]"))
        .await;
    bob.ok("get-title", &format!("[[] \"{pid}\"]")).await;
    let e = bob
        .call("set-title", &format!("[[] \"{pid}\" \"x\"]"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::PermissionDenied, "PERMISSION_DENIED")
    );
    let e = bob
        .call("share-piece", &format!("[\"{pid}\" \"carol\" :viewer]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = bob
        .call("delete-piece", &format!("[\"{pid}\"]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Editor: writes.
    alice
        .ok("share-piece", &format!("[\"{pid}\" \"bob\" :editor]"))
        .await;
    bob.ok("set-title", &format!("[[] \"{pid}\" \"by bob\"]"))
        .await;
    let access = alice.ok("list-piece-access", &format!("[\"{pid}\"]")).await;
    assert_eq!(
        access.as_map().unwrap().get_keyword("owner"),
        Some(&Value::string("alice"))
    );
    let e = alice
        .call("unshare-piece", &format!("[\"{pid}\" \"alice\"]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // Revocation: bob subscribed; after unshare he gets nothing more, and at once.
    bob.ok("subscribe-to-piece-events", &format!("[\"{pid}\"]"))
        .await;
    alice
        .ok("set-title", &format!("[[] \"{pid}\" \"before\"]"))
        .await;
    assert_eq!(
        next_event(&mut bob.events).await.event_type,
        "piece-structure-changed"
    );
    let revoked_at = Instant::now();
    alice
        .ok("unshare-piece", &format!("[\"{pid}\" \"bob\"]"))
        .await;
    assert!(
        support::grpc::eventually(
            Duration::from_secs(1).saturating_sub(revoked_at.elapsed()),
            || {
                let id = bob.id.parse().unwrap();
                server
                    .server()
                    .registry()
                    .get("acme", &id)
                    .is_some_and(|c| !c.is_subscribed(pid.parse().unwrap()))
            }
        )
        .await,
        "unsubscribed within 1 s"
    );
    for i in 0..5 {
        alice
            .ok("set-title", &format!("[[] \"{pid}\" \"after {i}\"]"))
            .await;
    }
    assert!(
        quiet_for(&mut bob.events, Duration::from_millis(500)).await,
        "no event after the revocation"
    );
    let e = bob
        .call("get-title", &format!("[[] \"{pid}\"]"))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIECE_NOT_FOUND");

    // A tenant admin acts as owner of every piece of the tenant.
    let mut admin = User::register(&server, "acme", "root", &["admin"]).await;
    admin
        .ok("share-piece", &format!("[\"{pid}\" \"bob\" :viewer]"))
        .await;
    admin.ok("delete-piece", &format!("[\"{pid}\"]")).await;
    server.stop().await;
}

#[tokio::test]
async fn a_tenants_default_access_applies_to_its_new_pieces() {
    let server = start(&[]).await;
    let mut op = User::register(&server, "platform", "op", &["platform-admin"]).await;
    op.ok(
        "create-tenant",
        "[{:id \"school\" :name \"A School\" :default-access :tenant-read}]",
    )
    .await;
    let mut teacher = User::register(&server, "school", "teacher", &[]).await;
    let mut pupil = User::register(&server, "school", "pupil", &[]).await;
    let pid = teacher.new_piece().await;
    pupil.ok("get-title", &format!("[[] \"{pid}\"]")).await;
    let e = pupil
        .call("set-title", &format!("[[] \"{pid}\" \"x\"]"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    op.ok(
        "update-tenant",
        "[\"school\" {:default-access :tenant-write}]",
    )
    .await;
    let shared = teacher.new_piece().await;
    pupil
        .ok("set-title", &format!("[[] \"{shared}\" \"by the pupil\"]"))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn registered_mode_refuses_unknown_tenants_until_the_operator_creates_them() {
    let server = start(&[("OOLOI__TENANTS__MODE", "registered")]).await;
    let token = jwt::token("acme", "alice", &[]);
    let e = User::register_with(&server, &token, "alice-1")
        .await
        .err()
        .unwrap();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::PermissionDenied, "TENANT_NOT_ACTIVE")
    );
    let mut op = User::register(&server, "platform", "op", &["platform-admin"]).await;
    // A tenant admin is not the platform operator.
    let mut other_admin = User::register_with(
        &server,
        &jwt::token("platform", "helper", &["admin"]),
        "helper",
    )
    .await
    .unwrap();
    let e = other_admin
        .call("create-tenant", "[{:id \"acme\"}]")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    op.ok(
        "create-tenant",
        "[{:id \"acme\" :name \"Acme University\"}]",
    )
    .await;
    let mut alice = User::register_with(&server, &token, "alice-1")
        .await
        .unwrap();
    alice.new_piece().await;
    let listed = op.ok("list-tenants", "[]").await;
    assert!(
        format!("{listed:?}").contains("Acme University"),
        "{listed:?}"
    );
    let e = op
        .call("create-tenant", "[{:id \"acme\"}]")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = op.call("get-tenant", "[\"nobody\"]").await.unwrap_err();
    assert_eq!(
        (e.code(), reason(&e).as_str()),
        (Code::NotFound, "TENANT_NOT_FOUND")
    );
    server.stop().await;
}

#[tokio::test]
async fn suspension_ends_streams_and_refuses_calls_until_resumed() {
    let server = start(&[]).await;
    let mut op = User::register(&server, "platform", "op", &["platform-admin"]).await;
    op.ok("create-tenant", "[{:id \"acme\"}]").await;
    let mut alice = User::register(&server, "acme", "alice", &[]).await;
    let mut eve = User::register(&server, "globex", "eve", &[]).await;
    let started = Instant::now();
    op.ok("suspend-tenant", "[\"acme\"]").await;
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(1), alice.events.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Err(status)) => break status,
            other => panic!("the stream did not end with a status within 1 s: {other:?}"),
        }
    };
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "TENANT_NOT_ACTIVE")
    );
    let e = alice.call("list-pieces", "[]").await.unwrap_err();
    assert_eq!(reason(&e), "TENANT_NOT_ACTIVE");
    // Another tenant is untouched.
    eve.ok("list-pieces", "[]").await;
    assert!(quiet_for(&mut eve.events, Duration::from_millis(200)).await);
    op.ok("resume-tenant", "[\"acme\"]").await;
    let mut again = User::register_with(&server, &jwt::token("acme", "alice", &[]), "alice-again")
        .await
        .unwrap();
    again.ok("list-pieces", "[]").await;
    // The platform tenant cannot be suspended.
    assert!(op.call("suspend-tenant", "[\"platform\"]").await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn delete_tenant_needs_confirmation_and_deletes_every_piece() {
    let server = start(&[]).await;
    let mut op = User::register(&server, "platform", "op", &["platform-admin"]).await;
    op.ok("create-tenant", "[{:id \"acme\"}]").await;
    let mut alice = User::register(&server, "acme", "alice", &[]).await;
    alice.new_piece().await;
    alice.new_piece().await;
    let e = op
        .call("delete-tenant", "[\"acme\" \"acm\"]")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let done = op.ok("delete-tenant", "[\"acme\" \"acme\"]").await;
    assert_eq!(
        done.as_map().unwrap().get_keyword("pieces-deleted"),
        Some(&Value::Int(2))
    );
    let e = op.call("get-tenant", "[\"acme\"]").await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn the_registry_is_seeded_from_the_tenants_file() {
    let dir = std::env::temp_dir().join(format!("ooloi-tenants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tenants.toml");
    std::fs::write(
        &file,
        "[[tenants]]\nid = \"acme\"\nname = \"Acme University\"\ndefault_access = \"tenant-read\"\n\
         quotas = { clients = 1 }\n\n[[tenants]]\nid = \"closed\"\nstatus = \"suspended\"\n",
    )
    .unwrap();
    let server = start(&[
        ("OOLOI__TENANTS__MODE", "registered"),
        ("OOLOI__TENANTS__FILE", file.to_str().unwrap()),
    ])
    .await;
    let _alice = User::register(&server, "acme", "alice", &[]).await;
    let e = User::register_with(&server, &jwt::token("acme", "bob", &[]), "bob")
        .await
        .err()
        .unwrap();
    assert_eq!(reason(&e), "QUOTA_EXCEEDED");
    let e = User::register_with(&server, &jwt::token("closed", "x", &[]), "x-client")
        .await
        .err()
        .unwrap();
    assert_eq!(reason(&e), "TENANT_NOT_ACTIVE");
    server.stop().await;
    std::fs::write(&file, "[[tenants]]\nid = \"bad id!\"\n").unwrap();
    let mut pairs = base();
    pairs.push(("OOLOI__TENANTS__FILE", file.to_str().unwrap().to_string()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let e = ooloi_server::server::Server::opened(support::grpc::config(&pairs))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tenant 1"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn each_quota_is_enforced_per_tenant_with_a_retry_after() {
    let server = start(&[
        ("OOLOI__QUOTAS__CLIENTS_PER_TENANT", "2"),
        ("OOLOI__QUOTAS__PIECES_PER_TENANT", "2"),
        ("OOLOI__QUOTAS__REQUESTS_PER_SECOND", "1"),
        ("OOLOI__QUOTAS__BURST", "6"),
    ])
    .await;
    let quota_of = |e: &Status| {
        let details = tonic_types::StatusExt::get_error_details(e);
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "QUOTA_EXCEEDED");
        assert!(details.retry_info().is_some(), "RetryInfo");
        assert!(e.metadata().get("retry-after").is_some(), "retry-after");
        assert_eq!(e.code(), Code::ResourceExhausted);
        info.metadata.get("quota").cloned().unwrap()
    };
    // Clients: two at the limit, the third refused; another tenant unaffected.
    let mut a1 = User::register(&server, "acme", "a1", &[]).await;
    let _a2 = User::register(&server, "acme", "a2", &[]).await;
    let e = User::register_with(&server, &jwt::token("acme", "a3", &[]), "acme-a3")
        .await
        .err()
        .unwrap();
    assert_eq!(quota_of(&e), "clients");
    let mut g1 = User::register(&server, "globex", "g1", &[]).await;
    // Pieces: two, then refused.
    a1.new_piece().await;
    a1.new_piece().await;
    let e = a1.call("new-piece", "[]").await.unwrap_err();
    assert_eq!(quota_of(&e), "pieces");
    g1.new_piece().await;
    // Requests: the burst of 6 is spent (3 calls above, plus these); then refused.
    let mut refused = None;
    for _ in 0..10 {
        if let Err(e) = a1.call("list-pieces", "[]").await {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(
        quota_of(&refused.expect("the bucket ran dry")),
        "requests_per_second"
    );
    g1.ok("list-pieces", "[]").await;
    server.stop().await;
}

#[tokio::test]
async fn registered_tenants_get_their_own_series_up_to_the_cap() {
    let server = start(&[("OOLOI__TELEMETRY__MAX_TENANT_SERIES", "2")]).await;
    let mut op = User::register(&server, "platform", "op", &["platform-admin"]).await;
    for id in ["acme", "beta", "gamma"] {
        op.ok("create-tenant", &format!("[{{:id \"{id}\"}}]")).await;
    }
    let mut alice = User::register(&server, "acme", "alice", &[]).await;
    alice.new_piece().await;
    alice.ok("list-pieces", "[]").await;
    let mut walkin = User::register(&server, "walkin", "w", &[]).await;
    walkin.ok("list-pieces", "[]").await;
    let text = server.server().metrics().render();
    let value = |series: &str| {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .map(|v| v.parse::<f64>().unwrap())
    };
    assert_eq!(
        // RegisterClient, new-piece, list-pieces.
        value("ooloi_server_tenant_calls_total{tenant=\"acme\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value("ooloi_server_tenant_pieces{tenant=\"acme\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("ooloi_server_tenant_clients_connected{tenant=\"acme\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("ooloi_server_tenant_calls_total{tenant=\"beta\"}"),
        Some(0.0)
    );
    // The cap (2, by id) leaves gamma out; a tenant met on first use never gets series.
    assert!(!text.contains("tenant=\"gamma\""), "{text}");
    assert!(!text.contains("tenant=\"walkin\""), "{text}");
    server.stop().await;
}
