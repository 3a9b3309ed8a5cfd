//! `ooloi bench`: load scenarios against a server, a summary table on standard output (optionally
//! JSON), progress on standard error. Scenarios: `unary` (mutating calls, closed loop at several
//! concurrencies plus an open-loop fixed rate), `echo` (the same load against a bare tonic echo
//! service in this process: the plain-gRPC baseline), `fanout` (commit-to-delivery latency and
//! saturation with many subscribers) and `memory` (resident memory with clients that never
//! read), `burst` (whether memory comes back after 2,000 clients register and leave). `--spawn` starts a fresh sibling `ooloi-server` per scenario and kills it afterwards;
//! Ctrl-C stops the run and still cleans up.

mod burst;
mod echo;
mod fanout;
mod light;
mod memory;
mod progress;
mod stats;
mod target;
mod unary;

use std::time::Duration;

use tonic::transport::Channel;

use crate::failure::Failure;
use crate::session;
use progress::Progress;
use stats::Row;
use target::{SpawnedServer, Target};
use unary::Load;

/// A benchmark scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Mutating calls: closed loop at each --callers concurrency, then an open loop at --rate
    Unary,
    /// The same load against a bare tonic echo service in this process (the baseline)
    Echo,
    /// Commit-to-delivery latency and saturation with --subscribers subscribers
    Fanout,
    /// Resident memory with --clients clients that never read (needs --spawn or --server-pid)
    Memory,
    /// Resident memory before, during and after --burst-clients clients register and leave
    /// (needs --spawn or --server-pid)
    Burst,
}

/// The arguments of `ooloi bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// The scenarios to run, in order (default: all five)
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Start a fresh sibling ooloi-server per scenario, and stop it afterwards
    #[arg(long, conflicts_with_all = ["server", "server_pid"])]
    spawn: bool,
    /// The server to measure
    #[arg(long, value_name = "URL", default_value = session::DEFAULT_SERVER)]
    server: String,
    /// The process id of --server, for the memory scenario
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Seconds each load runs (0.01 to 3600)
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = seconds)]
    duration: f64,
    /// Also write the results as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Closed-loop concurrencies of the unary load (1 to 10000 each)
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_value = "1,16,64",
          value_parser = clap::value_parser!(u16).range(1..=10_000))]
    callers: Vec<u16>,
    /// HTTP/2 connections the unary load spreads over
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Calls per second of the open-loop unary load
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// Subscribers of the fan-out piece
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    subscribers: u32,
    /// Edits per second in the fan-out scenario
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    edit_rate: u64,
    /// Clients that never read, in the memory scenario
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,
    /// Edits committed while they do not read, in the memory scenario
    #[arg(long, value_name = "N", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    edits: u64,
    /// Clients that register at once and leave, in the burst scenario
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    burst_clients: u32,
    /// Edits committed while the burst's clients are registered
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    burst_edits: u64,
}

/// A duration in seconds, 0.01 to 3600.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.01..=3600.0).contains(&s) => Ok(s),
        _ => Err("a number of seconds from 0.01 to 3600".into()),
    }
}

/// The run's settings.
#[derive(Debug)]
struct Options {
    scenarios: Vec<Scenario>,
    spawn: bool,
    server: Target,
    duration: Duration,
    json: Option<String>,
    callers: Vec<usize>,
    connections: usize,
    rate: u64,
    subscribers: usize,
    edit_rate: u64,
    clients: usize,
    edits: u64,
    burst_clients: usize,
    burst_edits: u64,
}

impl From<BenchArgs> for Options {
    fn from(a: BenchArgs) -> Self {
        let scenarios = if a.scenarios.is_empty() {
            vec![
                Scenario::Unary,
                Scenario::Echo,
                Scenario::Fanout,
                Scenario::Memory,
                Scenario::Burst,
            ]
        } else {
            a.scenarios
        };
        Options {
            scenarios,
            spawn: a.spawn,
            server: Target {
                url: a.server,
                pid: a.server_pid,
            },
            duration: Duration::from_secs_f64(a.duration),
            json: a.json,
            callers: a.callers.into_iter().map(usize::from).collect(),
            connections: a.connections as usize,
            rate: a.rate,
            subscribers: a.subscribers as usize,
            edit_rate: a.edit_rate,
            clients: a.clients as usize,
            edits: a.edits,
            burst_clients: a.burst_clients as usize,
            burst_edits: a.burst_edits,
        }
    }
}

/// The unary load (closed loop at each concurrency, then open loop) against `url`.
async fn drive_unary(name: &str, url: &str, load: &Load, o: &Options) -> Result<Vec<Row>, Failure> {
    let mut channels: Vec<Channel> = Vec::new();
    for _ in 0..o.connections {
        channels.push(session::connect(url).await?);
    }
    let mut rows = Vec::new();
    for &callers in &o.callers {
        let used = &channels[..callers.min(channels.len())];
        let label = format!("{name} c={callers}");
        let progress = Progress::start(&label, o.duration);
        let m = unary::closed_loop(used, load, callers, o.duration, &progress).await?;
        progress.finish();
        if m.calls == 0 {
            return Err(Failure::Other(format!(
                "{label}: no call succeeded: {}",
                m.first_error.unwrap_or_default()
            )));
        }
        rows.push(m.row(label));
    }
    let label = format!("{name} open {}/s", o.rate);
    let progress = Progress::start(&label, o.duration);
    let m = unary::open_loop(&channels, load, o.rate, o.duration, &progress).await?;
    progress.finish();
    rows.push(m.row(label));
    Ok(rows)
}

/// A server for one scenario: a fresh child with `--spawn`, else the one given.
async fn server(o: &Options) -> Result<(Target, Option<SpawnedServer>), Failure> {
    if o.spawn {
        let spawned = SpawnedServer::start().await?;
        Ok((spawned.target.clone(), Some(spawned)))
    } else {
        Ok((o.server.clone(), None))
    }
}

async fn scenario(name: Scenario, o: &Options) -> Result<Vec<Row>, Failure> {
    match name {
        Scenario::Echo => {
            let echo = echo::EchoServer::start()?;
            let load = Load::new("ooloi-bench-echo", "00000000-0000-4000-8000-000000000000")?;
            let rows = drive_unary("echo", &echo.url, &load, o).await;
            echo.stop().await;
            rows
        }
        Scenario::Unary => {
            let (target, _spawned) = server(o).await?;
            let (mut editor, piece) = fanout::editor(&target.url).await?;
            let load = Load::new(&editor.id, &piece)?;
            let rows = drive_unary("unary", &target.url, &load, o).await;
            let _ = editor.disconnect().await;
            rows
        }
        Scenario::Fanout => {
            let (target, _spawned) = server(o).await?;
            fanout::run(&target.url, o.subscribers, o.edit_rate, o.duration).await
        }
        Scenario::Memory => {
            let (target, _spawned) = server(o).await?;
            let pid = pid_of(&target, "memory")?;
            memory::run(&target.url, pid, o.clients, o.edits).await
        }
        Scenario::Burst => {
            let (target, _spawned) = server(o).await?;
            let pid = pid_of(&target, "burst")?;
            burst::run(&target.url, pid, o.burst_clients, o.burst_edits).await
        }
    }
}

/// The process id a memory-reading `scenario` needs.
fn pid_of(target: &Target, scenario: &str) -> Result<u32, Failure> {
    target.pid.ok_or_else(|| {
        Failure::Usage(format!(
            "the {scenario} scenario needs --spawn or --server-pid"
        ))
    })
}

/// Notes each server row with its ratio to the echo row of the same load.
fn compare_with_echo(rows: &mut [Row]) {
    let echo: Vec<Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("echo "))
        .cloned()
        .collect();
    for row in rows.iter_mut() {
        let Some(load) = row.scenario.strip_prefix("unary ") else {
            continue;
        };
        let Some(base) = echo.iter().find(|e| e.scenario[5..] == *load) else {
            continue;
        };
        let mut note = if load.starts_with("open") {
            match (row.latency, base.latency) {
                (Some(l), Some(b)) => {
                    let ratio = l[2].as_secs_f64() / b[2].as_secs_f64().max(1e-9);
                    row.extra.push(("p99_vs_echo", ratio));
                    format!("p99 {ratio:.2}x echo")
                }
                _ => continue,
            }
        } else {
            match (row.throughput, base.throughput) {
                (Some((t, _)), Some((b, _))) => {
                    let ratio = t / b.max(1e-9);
                    row.extra.push(("throughput_vs_echo", ratio));
                    format!("{ratio:.2}x echo throughput")
                }
                _ => continue,
            }
        };
        if !row.note.is_empty() {
            note = format!("{note}; {}", row.note);
        }
        row.note = note;
    }
}

async fn run_all(o: &Options) -> Result<Vec<Row>, Failure> {
    let mut rows = Vec::new();
    for name in &o.scenarios {
        rows.extend(scenario(*name, o).await?);
    }
    compare_with_echo(&mut rows);
    Ok(rows)
}

/// Runs `ooloi bench`.
pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    let o = Options::from(args);
    // On Ctrl-C or SIGTERM the run is dropped, and with it any spawned server (killed on drop).
    let rows = tokio::select! {
        rows = run_all(&o) => rows?,
        _ = interrupted() => {
            return Err(Failure::Other("interrupted".into()));
        }
    };
    print!("{}", stats::table(&rows));
    if let Some(path) = &o.json {
        std::fs::write(path, stats::json(&rows))
            .map_err(|e| Failure::Other(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
