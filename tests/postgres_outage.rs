//! PostgreSQL stops (`immediate` mode) in the middle of a write load: clients get UNAVAILABLE,
//! never OK for what did not persist, readiness turns false; once PostgreSQL is back the server
//! takes writes again by itself, and every acknowledged write is in the store. This test stops
//! the machine's PostgreSQL, so it lives in a test binary of its own (cargo runs test binaries
//! one at a time), and it starts PostgreSQL again even when it fails.

mod support;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::grpc::TestServer;
use support::stores::fresh_url;
use tonic::Code;

fn cluster() -> Option<String> {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .next()?;
    let usable = Command::new("pg_ctlcluster")
        .args(["--help"])
        .output()
        .is_ok();
    usable.then_some(version)
}

fn pg_ctl(version: &str, action: &[&str]) {
    let status = Command::new("pg_ctlcluster")
        .arg("--skip-systemctl-redirect")
        .arg(version)
        .arg("main")
        .args(action)
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "pg_ctlcluster {action:?} failed");
}

fn pg_ready() -> bool {
    Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts PostgreSQL again when dropped, whatever happened.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        if !pg_ready() {
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &self.0, "main", "start"])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pg_ready() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_while_postgres_is_down_and_resume_after() {
    let Some((url, _scratch)) = fresh_url("postgres").await else {
        return;
    };
    let Some(version) = cluster() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must be able to stop and start the local PostgreSQL cluster"
        );
        eprintln!("NOT RUN: pg_ctlcluster is not available to stop PostgreSQL");
        return;
    };
    let server = TestServer::tcp(&[("OOLOI__STORE__URL", url.as_str())]).await;
    let mut setup = server.register("setup").await;
    let piece = setup.new_piece("Load").await;

    // Writers: every OK is remembered with its token; every failure must be UNAVAILABLE.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<(Code, String)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut client = server.register(&format!("writer-{w}")).await;
        let (acked, failures, stop, piece) =
            (acked.clone(), failures.clone(), stop.clone(), piece.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let token = format!("w{w}n{n}");
                let params = format!("[[] \"{piece}\" {{:name \"{token}\"}}]");
                match client.call("add-musician", &params).await {
                    Ok(_) => acked.lock().unwrap().push(token),
                    Err(status) => {
                        failures
                            .lock()
                            .unwrap()
                            .push((status.code(), support::grpc::reason(&status)));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let guard = Restart(version.clone());
    pg_ctl(&version, &["stop", "-m", "immediate"]);
    let stopped_at = acked.lock().unwrap().len();
    // The server notices at its next write and turns not ready.
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.server().readiness().is_ready() {
        assert!(Instant::now() < deadline, "readiness stayed true");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = acked.lock().unwrap().len();
    assert!(
        during <= stopped_at + 4 * 2,
        "writes kept succeeding with PostgreSQL down: {stopped_at} -> {during}"
    );
    pg_ctl(&version, &["start"]);
    drop(guard);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.server().readiness().is_ready() {
        assert!(
            Instant::now() < deadline,
            "not ready 30 s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        acked.lock().unwrap().len() > resumed,
        "writes succeed again without a restart"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(!failures.is_empty(), "some writes were refused");
    for (code, reason) in &failures {
        assert_eq!(*code, Code::Unavailable, "{reason}");
        assert_eq!(reason, "STORE_UNAVAILABLE");
    }
    // Every acknowledged write is in the store.
    let printed = ooloi_server::value::edn::print(
        &setup
            .ok("get-musicians", &format!("[[] \"{piece}\"]"))
            .await,
    );
    let store = ooloi_server::store::open(&url).await.unwrap();
    let stored = ooloi_server::store::recovery::load_state(&*store, piece.parse().unwrap())
        .await
        .unwrap()
        .0;
    let stored_names: Vec<String> = stored
        .piece
        .musicians
        .iter()
        .filter_map(|m| {
            m.attrs
                .get_keyword("name")
                .and_then(|v| v.as_str().map(str::to_owned))
        })
        .collect();
    for token in acked.lock().unwrap().iter() {
        assert!(
            stored_names.contains(token),
            "acknowledged {token} is not stored"
        );
        assert!(printed.contains(&format!("\"{token}\"")));
    }
    eprintln!(
        "outage: {} acknowledged, {} refused with UNAVAILABLE",
        acked.lock().unwrap().len(),
        failures.len()
    );
    store.close().await;
}
