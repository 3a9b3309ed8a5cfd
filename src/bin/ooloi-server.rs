//! The ooloi-server binary: reads the configuration (defaults < `--config` file < `OOLOI__`
//! environment < flags), serves gRPC on `grpc.listen` until SIGTERM or SIGINT, then tells the
//! clients and stops. The HTTP sidecar, authentication and the store arrive in later stages.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use ooloi_server::config::{Config, ConfigError, USAGE};
use ooloi_server::grpc;

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

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(c) => c,
        Err(ConfigError::HelpRequested) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::VersionRequested) => {
            println!("ooloi-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ooloi-server: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ooloi-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.grpc.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ooloi-server: cannot listen on {}: {e}", config.grpc.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener
            .local_addr()
            .map_or_else(|_| config.grpc.listen.to_string(), |a| a.to_string());
        eprintln!(
            "ooloi-server {} serving gRPC on {addr}",
            env!("CARGO_PKG_VERSION")
        );
        let server = ooloi_server::server::Server::new(config);
        match grpc::serve(&server, listener, shutdown_signal()).await {
            Ok(()) => {
                eprintln!("ooloi-server stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ooloi-server: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
