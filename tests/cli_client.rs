//! The `ooloi` server commands run as a user runs them: the built binary against a real server
//! started in the test on `127.0.0.1:0`. `call` prints results as EDN and errors with their
//! status and reason; `watch` prints a piece's events and stops when the stream ends or on
//! Ctrl-C (SIGINT), disconnecting; `bench` runs every scenario at tiny sizes and prints a row
//! for each. Waits are bounded reads of the child's output, never sleeps.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod support;

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{OoloiRequest, RegisterClientRequest};
use ooloi_server::value::{Value, ValueLimits, edn};
use support::grpc::TestServer;
use tonic::Request;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

fn url_of(server: &TestServer) -> String {
    format!("http://{}", server.addr())
}

/// A registered client of the test itself, for setting up pieces and making edits.
struct Tester {
    client: OoloiServiceClient<Channel>,
    _events: tonic::Streaming<ooloi_server::proto::EventMessage>,
}

impl Tester {
    async fn register(url: &str, id: &str) -> Tester {
        let mut client = OoloiServiceClient::connect(url.to_owned()).await.unwrap();
        let info = edn::parse(&format!("{{:client-id \"{id}\"}}")).unwrap();
        let mut events = client
            .register_client(RegisterClientRequest {
                client_info: Some(info.to_proto()),
            })
            .await
            .unwrap()
            .into_inner();
        let confirmed = tokio::time::timeout(WAIT, events.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(confirmed.event_type, "client-registration-confirmed");
        Tester {
            client,
            _events: events,
        }
    }

    async fn call(&mut self, id: &str, method: &str, params: &str) -> Value {
        let mut request = Request::new(OoloiRequest {
            method: method.into(),
            params: Some(edn::parse(params).unwrap().to_proto()),
        });
        request
            .metadata_mut()
            .insert("x-ooloi-client-id", id.parse().unwrap());
        let result = self.client.execute_method(request).await.unwrap();
        Value::from_proto(result.into_inner().result.unwrap(), &ValueLimits::default()).unwrap()
    }
}

/// Runs `ooloi ARGS` to completion off the runtime: (exit code, stdout, stderr).
async fn ooloi(args: &[&str]) -> (Option<i32>, String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_ooloi"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (out.status.code(), text(out.stdout), text(out.stderr))
    })
    .await
    .unwrap()
}

/// The lines a child writes to one of its pipes, as they come.
fn lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line matching `wanted`, within the bounded wait.
async fn line_matching(
    rx: mpsc::Receiver<String>,
    wanted: &str,
) -> (String, mpsc::Receiver<String>) {
    let wanted = wanted.to_owned();
    tokio::task::spawn_blocking(move || {
        loop {
            let line = rx
                .recv_timeout(WAIT)
                .unwrap_or_else(|e| panic!("no line with {wanted:?}: {e}"));
            if line.contains(&wanted) {
                return (line, rx);
            }
        }
    })
    .await
    .unwrap()
}

async fn wait_exit(mut child: Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the child did not exit in time");
            }
            // Polling a child process for its exit, bounded by the deadline above.
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_prints_results_as_edn_and_failures_with_status_and_reason() {
    let server = TestServer::tcp(&[]).await;
    let url = format!("http://{}", server.addr());
    let url = url.as_str();

    let (code, out, err) = ooloi(&[
        "call",
        "new-piece",
        "[{:title \"Quartet\"}]",
        "--server",
        url,
    ])
    .await;
    assert_eq!(code, Some(0), "{err}");
    let piece = edn::parse(out.trim()).unwrap();
    let piece = piece.as_str().expect("a piece id string").to_owned();

    // A given client id is registered for the call and freed afterwards, so it can be reused.
    for _ in 0..2 {
        let params = format!("[[] \"{piece}\"]");
        let (code, out, err) = ooloi(&[
            "call",
            "get-title",
            &params,
            "--server",
            url,
            "--client-id",
            "cli-tester",
        ])
        .await;
        assert_eq!((code, out.as_str()), (Some(0), "\"Quartet\"\n"), "{err}");
    }

    let (code, out, err) = ooloi(&["call", "add-musician", "[[] 1 {}]", "--server", url]).await;
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("INVALID_ARGUMENT"), "{err}");
    assert!(err.contains("reason: INVALID_PARAMS"), "{err}");
    assert!(err.contains("metadata: argument_index = 1"), "{err}");
    assert!(err.contains("field violation: params[1]"), "{err}");

    let (code, _, err) = ooloi(&["call", "frobnicate", "[]", "--server", url]).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains("UNIMPLEMENTED") && err.contains("reason: METHOD_NOT_FOUND"),
        "{err}"
    );

    let (code, _, err) = ooloi(&["call", "list-pieces", "[1 2", "--server", url]).await;
    assert_eq!(code, Some(2), "bad EDN is a usage error");
    assert!(
        err.contains("not valid EDN") && err.contains("--help"),
        "{err}"
    );

    let (code, _, err) = ooloi(&[
        "call",
        "list-pieces",
        "[]",
        "--client-id",
        "a b",
        "--server",
        url,
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(err.contains("INVALID_ARGUMENT"), "{err}");

    server.stop().await;
    let (code, _, err) = ooloi(&["call", "list-pieces", "[]", "--server", url]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot connect"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_piece_events_until_the_server_ends_the_stream() {
    let server = TestServer::tcp(&[]).await;
    let mut tester = Tester::register(&url_of(&server), "watch-tester").await;
    let piece = tester.call("watch-tester", "new-piece", "[{}]").await;
    let piece = piece.as_str().unwrap().to_owned();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ooloi"))
        .args(["watch", &piece, "--server", &url_of(&server)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (
        lines(child.stdout.take().unwrap()),
        lines(child.stderr.take().unwrap()),
    );
    let (_, stderr) = line_matching(stderr, "watching piece").await;

    let edit = format!("[[] \"{piece}\" \"Renamed\"]");
    tester.call("watch-tester", "set-title", &edit).await;
    let (line, stdout) = line_matching(stdout, "piece-structure-changed").await;
    let mut fields = line.splitn(3, ' ');
    let sequence: u64 = fields.next().unwrap().parse().unwrap();
    assert!(sequence >= 2, "after the confirmation: {line}");
    let data = edn::parse(fields.nth(1).unwrap()).unwrap();
    let data = data.as_map().unwrap();
    assert_eq!(data.get_keyword("piece-id"), Some(&Value::string(&piece)));
    assert_eq!(data.get_keyword("version"), Some(&Value::Int(1)));

    drop(tester);
    server.stop().await;
    let (_, _stdout) = line_matching(stdout, "server-shutdown").await;
    let (_, _stderr) = line_matching(stderr, "ended the stream").await;
    assert!(wait_exit(child).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_disconnects_on_ctrl_c_and_refuses_an_unknown_piece() {
    let server = TestServer::tcp(&[]).await;
    let mut tester = Tester::register(&url_of(&server), "sigint-tester").await;
    let piece = tester.call("sigint-tester", "new-piece", "[{}]").await;
    let piece = piece.as_str().unwrap().to_owned();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ooloi"))
        .args([
            "watch",
            &piece,
            "--server",
            &url_of(&server),
            "--client-id",
            "watcher-1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let (line, stderr) = line_matching(stderr, "watching piece").await;
    assert!(line.contains("watcher-1"), "{line}");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (_, _stderr) = line_matching(stderr, "disconnecting watcher-1").await;
    assert!(wait_exit(child).await.success());

    let (code, _, err) = ooloi(&["watch", "no-such-piece", "--server", &url_of(&server)]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("reason: "), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_every_scenario_against_a_spawned_server() {
    let json = std::env::temp_dir().join(format!("ooloi-bench-{}.json", std::process::id()));
    let json_path = json.to_str().unwrap().to_owned();
    let (code, out, err) = ooloi(&[
        "bench",
        "--spawn",
        "--duration",
        "0.2",
        "--callers",
        "1,2",
        "--rate",
        "200",
        "--subscribers",
        "5",
        "--edit-rate",
        "50",
        "--clients",
        "5",
        "--edits",
        "20",
        "--json",
        &json_path,
    ])
    .await;
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert!(
        rows[0].starts_with("scenario") && rows[0].contains("p99"),
        "{out}"
    );
    for scenario in [
        "unary c=1",
        "unary c=2",
        "unary open 200/s",
        "echo c=1",
        "echo c=2",
        "echo open 200/s",
        "fanout 5 subs @50 edits/s",
        "fanout 5 subs saturation",
        "memory 5 clients",
    ] {
        assert!(
            rows.iter().any(|r| r.starts_with(scenario)),
            "no {scenario:?} row:\n{out}"
        );
    }
    assert!(out.contains("x echo throughput"), "{out}");
    assert!(out.contains("50 of 50 delivered"), "{out}");
    let written = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    assert!(
        written.contains("\"rss_above_idle_bytes\"") && written.contains("\"p99_us\""),
        "{written}"
    );

    let (code, _, err) = ooloi(&["bench", "nonsense"]).await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains("'nonsense'") && err.contains("possible values: unary, echo, fanout, memory"),
        "{err}"
    );
    let (code, _, err) = ooloi(&["bench", "memory", "--server", "http://127.0.0.1:1"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--server-pid"), "{err}");
}

/// `ooloi token` mints a token from the server's settings, and `ooloi call` sends
/// `OOLOI_TOKEN` as the bearer token: with it a jwt-mode server answers, without it the call is
/// UNAUTHENTICATED.
#[tokio::test]
async fn token_mints_and_call_sends_ooloi_token() {
    let secret = "a-development-secret-of-32-bytes!";
    let settings = [
        ("OOLOI__AUTH__MODE", "jwt"),
        ("OOLOI__AUTH__HS256_SECRET", secret),
        ("OOLOI__AUTH__ISSUER", "https://idp.test"),
        ("OOLOI__AUTH__AUDIENCE", "ooloi"),
    ];
    let server = TestServer::tcp(&settings).await;
    let url = url_of(&server);
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_ooloi"))
                .args(&args)
                .env_remove("OOLOI_TOKEN")
                .envs(env)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            (out.status.code(), text(out.stdout), text(out.stderr))
        })
    };
    let server_env: Vec<(&'static str, String)> =
        settings.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (code, token, err) = run(
        args(&[
            "token", "--tenant", "acme", "--user", "alice", "--role", "admin", "--ttl", "10m",
        ]),
        server_env.clone(),
    )
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    let token = token.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let verified = server
        .server()
        .authenticator()
        .unwrap()
        .authenticate(&headers)
        .unwrap();
    assert_eq!(verified.principal.tenant.as_str(), "acme");
    assert!(verified.roles.tenant_admin && !verified.roles.platform_admin);
    let left = verified.expires_at.unwrap() - support::jwt::now();
    assert!((590..=600).contains(&left), "{left}");

    let call = args(&["call", "list-pieces", "[]", "--server", &url]);
    let (code, out, err) = run(call.clone(), vec![("OOLOI_TOKEN", token)])
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "[]");
    let (code, _, err) = run(call, vec![]).await.unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("UNAUTHENTICATED"), "{err}");

    // Bad arguments are usage errors; no secret configured is an error that says so.
    for bad in [
        args(&["token", "--tenant", "a", "--user", "u", "--ttl", "2y"]),
        args(&["token", "--tenant", "a", "--user", "u", "--ttl", "400d"]),
        args(&["token", "--tenant", "a", "--user", "u", "--role", "root"]),
    ] {
        let (code, _, err) = run(bad.clone(), server_env.clone()).await.unwrap();
        assert_eq!(code, Some(2), "{bad:?}: {err}");
    }
    let (code, _, err) = run(
        args(&["token", "--tenant", "a", "--user", "u"]),
        vec![
            ("OOLOI__AUTH__ISSUER", "i".into()),
            ("OOLOI__AUTH__AUDIENCE", "a".into()),
        ],
    )
    .await
    .unwrap();
    assert_ne!(code, Some(0));
    assert!(err.contains("secret"), "{err}");
    server.stop().await;
}

/// `ooloi tenant` drives the platform operator's methods with `OOLOI_TOKEN`.
#[tokio::test]
async fn tenant_commands_drive_the_admin_methods() {
    let server = TestServer::tcp(&[
        ("OOLOI__AUTH__MODE", "jwt"),
        (
            "OOLOI__AUTH__HS256_SECRET",
            "a-development-secret-of-32-bytes!",
        ),
        ("OOLOI__AUTH__ISSUER", "https://idp.test"),
        ("OOLOI__AUTH__AUDIENCE", "ooloi"),
    ])
    .await;
    let url = url_of(&server);
    let settings = ooloi_server::auth::VerifierSettings {
        hs256_secret: Some(b"a-development-secret-of-32-bytes!".to_vec()),
        issuer: "https://idp.test".into(),
        audience: "ooloi".into(),
        tenant_claim: "tenant".into(),
        roles_claim: "roles".into(),
        ..Default::default()
    };
    let operator = ooloi_server::auth::mint_hs256(
        &settings,
        "platform",
        "op",
        &["platform-admin".into()],
        600,
    )
    .unwrap();
    let member = ooloi_server::auth::mint_hs256(&settings, "acme", "alice", &[], 600).unwrap();
    let tenant = |args: &[&str], token: &str| {
        let mut all: Vec<String> = vec!["tenant".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        all.extend(["--server".to_string(), url.clone()]);
        let token = token.to_string();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_ooloi"))
                .args(&all)
                .env("OOLOI_TOKEN", token)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            (out.status.code(), text(out.stdout), text(out.stderr))
        })
    };
    let (code, out, err) = tenant(
        &[
            "create",
            "school",
            "--name",
            "A School",
            "--default-access",
            "tenant-read",
            "--clients",
            "5",
        ],
        &operator,
    )
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(":tenant-read") && out.contains("A School"),
        "{out}"
    );
    let (code, out, _) = tenant(&["list"], &operator).await.unwrap();
    assert_eq!(code, Some(0));
    assert!(out.contains("\"school\""), "{out}");
    for args in [&["suspend", "school"][..], &["resume", "school"]] {
        let (code, _, err) = tenant(args, &operator).await.unwrap();
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    // Only the platform operator.
    let (code, _, err) = tenant(&["list"], &member).await.unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("PERMISSION_DENIED"), "{err}");
    let (code, _, _) = tenant(&["delete", "school", "--confirm", "schol"], &operator)
        .await
        .unwrap();
    assert_eq!(code, Some(1));
    let (code, out, err) = tenant(&["delete", "school", "--confirm", "school"], &operator)
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(":pieces-deleted 0"), "{out}");
    server.stop().await;
}
