//! The ooloi-server binary: reads the configuration (defaults < `--config` file < `OOLOI__`
//! environment < flags), installs structured logging (`log.format`, filter from `RUST_LOG`),
//! binds the gRPC listener (`grpc.listen`) and the HTTP sidecar (`http.listen`), logs the
//! addresses actually bound (`grpc_listen=... http_listen=...`, so a script that asked for
//! port 0 can read them), exports traces over OTLP when `telemetry.otlp_endpoint` is set, and
//! serves both until SIGTERM or SIGINT. That one signal drains gRPC
//! first (not ready, `server-shutdown` to every client, in-flight calls finish) while the
//! sidecar keeps answering probes with 503, then stops the sidecar. Configuration and usage
//! errors go to standard error as plain text with exit code 2.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use ooloi_server::config::{AuthMode, Config, ServerArgs, ServerCommand};
use ooloi_server::server::Server;
use ooloi_server::{grpc, http, telemetry};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// jemalloc, whose background thread returns freed memory to the system: with glibc's malloc
/// the memory of clients that came and went stayed with the process (BENCHMARKS.md, Stage 4c).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Resolves once `flag` turns true (or its sender is gone, which means nothing will ever set it
/// and waiting longer would hang shutdown).
async fn raised(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|raised| *raised).await;
}

async fn bind(what: &str, addr: std::net::SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!(listen = %addr, error = %e, "cannot listen for {what}");
            None
        }
    }
}

async fn run(config: Config) -> ExitCode {
    let (Some(grpc_listener), Some(http_listener)) = (
        bind("gRPC", config.grpc.listen).await,
        bind("HTTP", config.http.listen).await,
    ) else {
        return ExitCode::FAILURE;
    };
    let local = |l: &TcpListener, configured: std::net::SocketAddr| {
        l.local_addr()
            .map_or_else(|_| configured.to_string(), |a| a.to_string())
    };
    let grpc_addr = local(&grpc_listener, config.grpc.listen);
    let http_addr = local(&http_listener, config.http.listen);
    let server = Server::new(config);

    // One signal, two consumers: gRPC drains on the signal; the sidecar stops after gRPC has
    // finished, so readiness probes see 503 (not a refused connection) during the drain.
    let (signal_tx, signal_rx) = watch::channel(false);
    let (grpc_done_tx, grpc_done_rx) = watch::channel(false);
    let stopping = server.clone();
    let signal_on_stop = signal_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; draining");
        stopping.begin_shutdown();
        let _ = signal_on_stop.send(true);
    });

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        grpc_listen = %grpc_addr,
        http_listen = %http_addr,
        "ooloi-server serving"
    );
    // Start-up runs while both listeners already answer (not ready, NOT_SERVING), so probes
    // see the server starting rather than refused connections.
    let opening = async {
        match server.open().await {
            Ok(()) => {
                tracing::info!("ooloi-server ready");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "start-up failed; stopping");
                server.begin_shutdown();
                let _ = signal_tx.send(true);
                false
            }
        }
    };
    let grpc_run = async {
        let result = grpc::serve(&server, grpc_listener, raised(signal_rx)).await;
        let _ = grpc_done_tx.send(true);
        result
    };
    let http_run = http::serve(&server, http_listener, raised(grpc_done_rx));
    let (opened, grpc_result, http_result) = tokio::join!(opening, grpc_run, http_run);
    let mut code = if opened {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if let Err(e) = grpc_result {
        tracing::error!(error = %e, "gRPC server failed");
        code = ExitCode::FAILURE;
    }
    if let Err(e) = http_result {
        tracing::error!(error = %e, "HTTP sidecar failed");
        code = ExitCode::FAILURE;
    }
    // The transports have drained: what is queued for the store is written before exit.
    server.close_store().await;
    tracing::info!("ooloi-server stopped");
    code
}

/// `ooloi-server migrate [--check]`: applies the store's migrations, or checks that none is
/// pending (exit 1 listing them if some are).
fn migrate(config: &Config, check: bool) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ooloi-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let store = match ooloi_server::store::open(&config.store.url).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("ooloi-server: store: {e}");
                return ExitCode::FAILURE;
            }
        };
        let outcome = if check {
            store.pending_migrations().await.map(|pending| {
                if pending.is_empty() {
                    println!("{}: migrations up to date", store.backend());
                    ExitCode::SUCCESS
                } else {
                    println!(
                        "{}: pending migrations: {}",
                        store.backend(),
                        pending.join(", ")
                    );
                    ExitCode::from(1)
                }
            })
        } else {
            store.migrate().await.map(|()| {
                println!("{}: migrations applied", store.backend());
                ExitCode::SUCCESS
            })
        };
        store.close().await;
        outcome.unwrap_or_else(|e| {
            eprintln!("ooloi-server: store: {e}");
            ExitCode::FAILURE
        })
    })
}

/// How long `ooloi-server health` waits for the sidecar's answer: less than the image's
/// HEALTHCHECK timeout (5 s), so a slow answer is reported as such rather than killed.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The URL `ooloi-server health` probes: `--url`, or the sidecar that `http.listen` names,
/// reached on the loopback address when it listens on every address.
fn health_url(config: &Config, ready: bool, url: Option<&str>) -> String {
    if let Some(url) = url {
        return url.to_string();
    }
    let mut addr = config.http.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let path = if ready { "/readyz" } else { "/livez" };
    format!("http://{addr}{path}")
}

/// `ooloi-server health [--ready] [--url URL]`: exit 0 if the sidecar answers 200 within
/// [`HEALTH_TIMEOUT`], 1 otherwise (with the reason on standard error).
fn health(config: &Config, ready: bool, url: Option<&str>) -> ExitCode {
    let url = health_url(config, ready, url);
    let uri: ::http::Uri = match url.parse() {
        Ok(uri) if url.starts_with("http://") => uri,
        _ => {
            eprintln!("ooloi-server health: {url:?} is not an http:// URL");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ooloi-server health: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let answer = runtime.block_on(async {
        tokio::time::timeout(
            HEALTH_TIMEOUT,
            ooloi_server::net::client::get(&uri, "text/plain", 64 * 1024),
        )
        .await
    });
    match answer {
        Ok(Ok((status, _))) if status == ::http::StatusCode::OK => {
            println!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Ok(Ok((status, _))) => {
            eprintln!("ooloi-server health: {url} answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("ooloi-server health: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "ooloi-server health: {url} did not answer within {} s",
                HEALTH_TIMEOUT.as_secs()
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    // `--help`, `--version` and a malformed command line end here (clap prints them; a usage
    // error exits 2).
    let args = ServerArgs::parse();
    let config = match Config::from_process(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ooloi-server: {e}");
            return ExitCode::from(2);
        }
    };
    match &args.command {
        Some(ServerCommand::Migrate { check }) => return migrate(&config, *check),
        Some(ServerCommand::Health { ready, url }) => {
            return health(&config, *ready, url.as_deref());
        }
        None => {}
    }
    // Key files and the crypto self-test are checked before anything listens: a server that
    // cannot authenticate must not start (the server checks again when it opens).
    if let Err(e) = ooloi_server::auth::Authenticator::from_config(&config) {
        eprintln!("ooloi-server: authentication cannot start: {e}");
        return ExitCode::from(2);
    }
    // Without authentication anyone who can connect acts as anyone: only this machine may,
    // unless the operator says the network is trusted (Redis's protected mode).
    let exposed: Vec<String> = [
        ("grpc.listen", config.grpc.listen),
        ("http.listen", config.http.listen),
    ]
    .into_iter()
    .filter(|(_, addr)| !addr.ip().is_loopback())
    .map(|(key, addr)| format!("{key} = {addr}"))
    .collect();
    if config.auth.mode == AuthMode::None
        && !exposed.is_empty()
        && !config.auth.allow_insecure_network
    {
        eprintln!(
            "ooloi-server: refusing to listen beyond this machine without authentication ({}): \
             with auth.mode = none any client can act as any other. Listen on 127.0.0.1, use \
             auth.mode = jwt, or set auth.allow_insecure_network = true \
             (OOLOI__AUTH__ALLOW_INSECURE_NETWORK) on a network you trust.",
            exposed.join(", ")
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ooloi-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The OTLP exporter's channel runs on the runtime, so it is built inside it.
    let traces = match &config.telemetry.otlp_endpoint {
        None => None,
        Some(endpoint) => match runtime.block_on(async { telemetry::traces::exporter(endpoint) }) {
            Ok(exporter) => Some(exporter),
            Err(e) => {
                eprintln!("ooloi-server: telemetry.otlp_endpoint: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let rust_log = std::env::var("RUST_LOG").ok();
    telemetry::logging::init(config.log.format, rust_log.as_deref(), traces.as_ref());
    if let Some(endpoint) = &config.telemetry.otlp_endpoint {
        tracing::info!(otlp_endpoint = %endpoint, "exporting traces over OTLP/gRPC");
    }
    if config.auth.mode == AuthMode::None && !exposed.is_empty() {
        tracing::warn!(
            listen = %exposed.join(", "),
            "listening beyond this machine without authentication \
             (auth.allow_insecure_network = true): any client can act as any other"
        );
    }
    let fd_limit = ooloi_server::net::raise_fd_limit();
    tracing::debug!(fd_limit = ?fd_limit, "file-descriptor limit");
    for key in config.inert_settings() {
        if let Some(inert) = &key.inert {
            tracing::warn!(
                key = %key.dotted(),
                env = %key.env_name(),
                reason = inert.reason,
                "this setting has no effect in this version"
            );
        }
    }
    let code = runtime.block_on(run(config));
    // The last spans go out while the runtime that carries the exporter's channel still runs.
    if let Some(traces) = traces {
        traces.shutdown();
    }
    code
}
