//! `ooloi bench`: load scenarios against a server, a summary table on standard output (optionally
//! JSON), progress on standard error. Scenarios: `unary` (mutating calls, closed loop at several
//! concurrencies plus an open-loop fixed rate), `echo` (the same load against a bare tonic echo
//! service in this process: the plain-gRPC baseline), `fanout` (commit-to-delivery latency and
//! saturation with many subscribers) and `memory` (resident memory with clients that never
//! read). `--spawn` starts a fresh sibling `ooloi-server` per scenario and kills it afterwards;
//! Ctrl-C stops the run and still cleans up.

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

use crate::args::Args;
use crate::failure::Failure;
use crate::session;
use progress::Progress;
use stats::Row;
use target::{SpawnedServer, Target};
use unary::Load;

const SCENARIOS: [&str; 4] = ["unary", "echo", "fanout", "memory"];

/// The run's settings.
#[derive(Debug)]
struct Options {
    scenarios: Vec<String>,
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
}

fn options(args: &[String]) -> Result<Options, Failure> {
    let valued = [
        "server",
        "server-pid",
        "duration",
        "json",
        "callers",
        "connections",
        "rate",
        "subscribers",
        "edit-rate",
        "clients",
        "edits",
    ];
    let args = Args::parse(args, &valued, &["spawn"])?;
    let scenarios = if args.positional.is_empty() {
        SCENARIOS.map(str::to_owned).to_vec()
    } else {
        args.positional.clone()
    };
    if let Some(unknown) = scenarios.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        return Err(Failure::Usage(format!(
            "unknown scenario {unknown:?} (one of {})",
            SCENARIOS.join(", ")
        )));
    }
    if args.has("spawn") && (args.get("server").is_some() || args.get("server-pid").is_some()) {
        return Err(Failure::Usage(
            "--spawn excludes --server and --server-pid".into(),
        ));
    }
    let seconds: f64 = args.parsed("duration", 5.0)?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err(Failure::Usage(
            "--duration must be 0.01..3600 seconds".into(),
        ));
    }
    let callers = args
        .get("callers")
        .unwrap_or("1,16,64")
        .split(',')
        .map(|n| match n.trim().parse::<usize>() {
            Ok(n @ 1..=10_000) => Ok(n),
            _ => Err(Failure::Usage(format!("--callers: cannot use {n:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let positive = |name: &str, default: u64| -> Result<u64, Failure> {
        match args.parsed(name, default)? {
            0 => Err(Failure::Usage(format!("--{name} must be positive"))),
            n => Ok(n),
        }
    };
    Ok(Options {
        scenarios,
        spawn: args.has("spawn"),
        server: Target {
            url: args.server(),
            pid: args
                .get("server-pid")
                .map(|p| p.parse())
                .transpose()
                .map_err(|_| Failure::Usage("--server-pid must be a process id".into()))?,
        },
        duration: Duration::from_secs_f64(seconds),
        json: args.get("json").map(str::to_owned),
        callers,
        connections: positive("connections", 4)? as usize,
        rate: positive("rate", 10_000)?,
        subscribers: positive("subscribers", 1000)? as usize,
        edit_rate: positive("edit-rate", 100)?,
        clients: positive("clients", 1000)? as usize,
        edits: positive("edits", 3000)?,
    })
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

async fn scenario(name: &str, o: &Options) -> Result<Vec<Row>, Failure> {
    match name {
        "echo" => {
            let echo = echo::EchoServer::start()?;
            let load = Load::new("ooloi-bench-echo", "00000000-0000-4000-8000-000000000000")?;
            let rows = drive_unary("echo", &echo.url, &load, o).await;
            echo.stop().await;
            rows
        }
        "unary" => {
            let (target, _spawned) = server(o).await?;
            let (mut editor, piece) = fanout::editor(&target.url).await?;
            let load = Load::new(&editor.id, &piece)?;
            let rows = drive_unary("unary", &target.url, &load, o).await;
            let _ = editor.disconnect().await;
            rows
        }
        "fanout" => {
            let (target, _spawned) = server(o).await?;
            fanout::run(&target.url, o.subscribers, o.edit_rate, o.duration).await
        }
        _ => {
            let (target, _spawned) = server(o).await?;
            let pid = target.pid.ok_or_else(|| {
                Failure::Usage("the memory scenario needs --spawn or --server-pid".into())
            })?;
            memory::run(&target.url, pid, o.clients, o.edits).await
        }
    }
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
        rows.extend(scenario(name, o).await?);
    }
    compare_with_echo(&mut rows);
    Ok(rows)
}

/// Runs `ooloi bench` with the arguments after the command name.
pub async fn run(args: &[String]) -> Result<(), Failure> {
    let o = options(args)?;
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
