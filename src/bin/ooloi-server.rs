//! The ooloi-server binary. The gRPC service, the sidecar and their configuration arrive with
//! Stage 4; until then the binary reports its version and says what it does not yet do.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version" | "-V") => {
            println!("ooloi-server {}", env!("CARGO_PKG_VERSION"));
            std::process::ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "ooloi-server {}: the network service is not built yet (Stage 4). \
                 Use `ooloi` to convert values between EDN and protobuf.",
                env!("CARGO_PKG_VERSION")
            );
            std::process::ExitCode::from(2)
        }
    }
}
