//! The crash loop: the real binary is killed with SIGKILL at random moments while clients
//! stream atomic batches, 15 times on SQLite and 15 times on PostgreSQL. After each restart:
//! every acknowledged batch is fully present, every batch is all or nothing, nothing that was
//! never sent appears, and the restart takes under 5 s. In 3 cycles the kill comes within 20 ms
//! of the start. The seed of the random moments is printed, and `OOLOI_CRASH_SEED` replays it.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::value::edn;
use support::grpc::{register_request, request, to_value};
use support::process::{ServerProcess, server_command};
use support::stores::fresh_url;

const CYCLES: usize = 15;
const EARLY_KILLS: [usize; 3] = [2, 7, 11];
const WRITERS: usize = 4;

/// A small deterministic generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A server process (killed with SIGKILL when dropped) and when it was started.
struct Running {
    process: ServerProcess,
    started: Instant,
}

fn spawn(url: &str) -> Running {
    let process = ServerProcess::spawn(
        server_command()
            .env("OOLOI__STORE__URL", url)
            // Snapshots often, so that kills also land between a snapshot and its trimming.
            .env("OOLOI__STORE__SNAPSHOT_EVERY", "40"),
    );
    Running {
        process,
        started: Instant::now(),
    }
}

/// Waits for the serving and ready lines; returns the gRPC address and how long it took.
fn wait_ready(running: &Running) -> (SocketAddr, Duration) {
    let mut grpc = None;
    loop {
        let line = running
            .process
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs that it is ready");
        if let Some(at) = line.find("grpc_listen=") {
            let rest = &line[at + "grpc_listen=".len()..];
            grpc = rest.split_whitespace().next().and_then(|a| a.parse().ok());
        }
        assert!(!line.contains("start-up failed"), "{line}");
        if line.contains("ooloi-server ready") {
            return (
                grpc.expect("the serving line came first"),
                running.started.elapsed(),
            );
        }
    }
}

/// A registered client: its gRPC client, its id, and its event stream (kept open: a client
/// exists while its stream does).
struct Client {
    grpc: OoloiServiceClient<tonic::transport::Channel>,
    id: String,
    _events: tonic::Streaming<ooloi_server::proto::EventMessage>,
}

async fn connect(addr: SocketAddr) -> Client {
    let mut grpc = OoloiServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connects");
    let id = format!("crash-{}", uuid::Uuid::new_v4().simple());
    let events = grpc
        .register_client(register_request(&id))
        .await
        .expect("registers")
        .into_inner();
    Client {
        grpc,
        id,
        _events: events,
    }
}

async fn call(client: &mut Client, method: &str, params: &str) -> Result<String, tonic::Status> {
    let response = client
        .grpc
        .execute_method(request(Some(&client.id), method, params))
        .await?
        .into_inner();
    Ok(edn::print(&to_value(response.result)))
}

fn names(printed: &str) -> Vec<String> {
    printed
        .split(":name \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[derive(Default)]
struct Ledger {
    sent: HashSet<String>,
    acked: Vec<String>,
}

async fn verify(addr: SocketAddr, pieces: &[String], ledger: &Ledger, cycle: usize) {
    let mut client = connect(addr).await;
    let mut present: Vec<HashSet<String>> = Vec::new();
    for piece in pieces {
        let printed = call(&mut client, "get-musicians", &format!("[[] \"{piece}\"]"))
            .await
            .expect("the piece is there after the restart");
        present.push(names(&printed).into_iter().collect());
    }
    for token in &ledger.acked {
        for (i, names) in present.iter().enumerate() {
            assert!(
                names.contains(token),
                "cycle {cycle}: acknowledged batch {token} is missing from piece {i}"
            );
        }
    }
    let all: HashSet<&String> = present.iter().flatten().collect();
    for token in all {
        assert!(
            ledger.sent.contains(token),
            "cycle {cycle}: {token} appeared but was never sent"
        );
        let count = present.iter().filter(|n| n.contains(token)).count();
        assert_eq!(
            count,
            pieces.len(),
            "cycle {cycle}: batch {token} is in {count} of {} pieces",
            pieces.len()
        );
    }
}

async fn crash_loop(backend: &str, url: &str, rng: &mut Rng) {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // The pieces every batch touches, created (and acknowledged) first.
    let first = spawn(url);
    let (addr, _) = wait_ready(&first);
    let mut client = connect(addr).await;
    let mut pieces = Vec::new();
    for i in 0..3 {
        let id = call(&mut client, "new-piece", &format!("[{{:title \"p{i}\"}}]"))
            .await
            .unwrap();
        pieces.push(id.trim_matches('"').to_owned());
    }
    drop(first);
    let mut acked_total = 0;
    for cycle in 0..CYCLES {
        let running = spawn(url);
        if EARLY_KILLS.contains(&cycle) {
            // Within 20 ms of the start: usually before it is even ready.
            std::thread::sleep(Duration::from_millis(rng.below(20)));
            drop(running);
        } else {
            let (addr, _) = wait_ready(&running);
            let kill_after = Duration::from_millis(50 + rng.below(700));
            let mut writers = Vec::new();
            for w in 0..WRITERS {
                let (ledger, pieces) = (ledger.clone(), pieces.clone());
                writers.push(tokio::spawn(async move {
                    let Ok(mut client) = tokio::time::timeout(Duration::from_secs(5), connect(addr)).await else {
                        return;
                    };
                    for n in 0.. {
                        let token = format!("c{cycle}w{w}n{n}");
                        let ops: Vec<String> = pieces
                            .iter()
                            .map(|p| {
                                format!(
                                    "{{:method \"add-musician\" :params [[] \"{p}\" {{:name \"{token}\"}}]}}"
                                )
                            })
                            .collect();
                        ledger.lock().unwrap().sent.insert(token.clone());
                        match call(&mut client, "atomic", &format!("[[{}]]", ops.join(" "))).await
                        {
                            Ok(_) => ledger.lock().unwrap().acked.push(token),
                            Err(_) => return,
                        }
                    }
                }));
            }
            tokio::time::sleep(kill_after).await;
            drop(running); // SIGKILL, then reaped
            for w in writers {
                let _ = w.await;
            }
        }
        let restarted = spawn(url);
        let (addr, took) = wait_ready(&restarted);
        assert!(
            took < Duration::from_secs(5),
            "{backend} cycle {cycle}: the restart took {took:?}"
        );
        // The writers are done: a copy of the ledger is what was sent and acknowledged.
        let (sent, acked) = {
            let ledger = ledger.lock().unwrap();
            (ledger.sent.clone(), ledger.acked.clone())
        };
        acked_total = acked.len();
        verify(addr, &pieces, &Ledger { sent, acked }, cycle).await;
        drop(restarted);
    }
    eprintln!("{backend}: {CYCLES} cycles, {acked_total} acknowledged batches, all present");
    assert!(acked_total > 0, "some batches were acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_sigkill_on_every_backend() {
    let seed = std::env::var("OOLOI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash loop seed {seed} (OOLOI_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    for backend in ["sqlite", "postgres"] {
        let Some((url, _scratch)) = fresh_url(backend).await else {
            continue;
        };
        crash_loop(backend, &url, &mut rng).await;
    }
}
