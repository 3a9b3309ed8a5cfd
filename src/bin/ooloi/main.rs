//! `ooloi`, the command-line client. Value tools work offline: `ooloi fmt EDN` prints the
//! canonical EDN form, `ooloi encode EDN` the protobuf bytes of the `OoloiValue` as hex, `ooloi
//! decode HEX` the value as EDN (`-` reads the argument from standard input). Server commands
//! talk gRPC to a running server: `ooloi call METHOD PARAMS` runs one API method, `ooloi watch
//! PIECE-ID` prints a piece's events as they arrive. `ooloi bench` measures a server; it lives in
//! its own module tree (`bench/`), apart from the user commands. `ooloi completions SHELL`
//! prints a completion script. The command line is parsed by clap; each command lives in its
//! own module, and this file only dispatches and turns failures into exit codes (0 success, 1
//! failure, 2 usage error).
#![forbid(unsafe_code)]

mod bench;
mod call;
mod failure;
mod session;
mod tenant;
mod token;
mod values;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use failure::Failure;

/// The ooloi-server command-line client: values, calls, events and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "ooloi", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print EDN in its canonical form
    Fmt {
        /// The value as EDN text, or - to read it from standard input
        edn: String,
    },
    /// Print the protobuf bytes of an EDN value (an OoloiValue) as hex
    Encode {
        /// The value as EDN text, or - to read it from standard input
        edn: String,
    },
    /// Print the OoloiValue in hex-encoded protobuf bytes as EDN
    Decode {
        /// The bytes as hex digits (whitespace ignored), or - to read them from standard input
        hex: String,
    },
    /// Call one API method on a server and print its result as EDN
    Call(call::CallArgs),
    /// Print a piece's events as they arrive, one line each, until Ctrl-C
    Watch(watch::WatchArgs),
    /// The platform operator's tenant commands (with OOLOI_TOKEN of a platform-admin)
    Tenant(tenant::TenantArgs),
    /// Mint an HS256 development token from the server's configured secret (prints it)
    Token(token::TokenArgs),
    /// Measure a server: unary throughput, event fan-out, memory (see BENCHMARKS.md)
    Bench(bench::BenchArgs),
    /// Print a shell completion script (for example: ooloi completions bash > ~/.ooloi.bash)
    Completions {
        /// The shell
        shell: Shell,
    },
}

/// The shells `completions` writes for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

fn main() -> ExitCode {
    // `--help`, `help COMMAND`, `--version` and a malformed command line end here (a usage
    // error exits 2, naming the argument).
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Fmt { edn } => values::fmt(&edn).map(|out| println!("{out}")),
        Command::Encode { edn } => values::encode(&edn).map(|out| println!("{out}")),
        Command::Decode { hex } => values::decode(&hex).map(|out| println!("{out}")),
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ooloi", &mut script);
            print_bytes(&script)
        }
        Command::Call(args) => with_runtime(call::run(args)),
        Command::Watch(args) => with_runtime(watch::run(args)),
        Command::Bench(args) => with_runtime(bench::run(args)),
        Command::Token(args) => token::run(args),
        Command::Tenant(args) => with_runtime(tenant::run(args)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("ooloi: {message}\n\nFor more information, try '--help'.");
            ExitCode::from(2)
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `bytes` to standard output; a closed pipe (`ooloi completions bash | head`) is not
/// an error.
fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(format!(
            "ooloi: writing standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

fn with_runtime(command: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(command)
}
