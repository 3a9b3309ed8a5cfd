//! `ooloi`, the command-line client. Value tools work offline: `ooloi fmt EDN` prints the
//! canonical EDN form, `ooloi encode EDN` the protobuf bytes of the `OoloiValue` as hex, `ooloi
//! decode HEX` the value as EDN (`-` reads the argument from standard input). Server commands
//! talk gRPC to a running server: `ooloi call METHOD PARAMS` runs one API method, `ooloi watch
//! PIECE-ID` prints a piece's events as they arrive, `ooloi bench` measures the server. Each
//! command lives in its own module; this file only dispatches and turns failures into exit codes
//! (0 success, 1 failure, 2 usage error).
#![forbid(unsafe_code)]

mod args;
mod bench;
mod call;
mod failure;
mod session;
mod values;
mod watch;

use std::process::ExitCode;

use failure::Failure;

const USAGE: &str = "\
usage: ooloi fmt EDN | ooloi encode EDN | ooloi decode HEX        (- reads stdin)
       ooloi call METHOD EDN-PARAMS [--server URL] [--client-id ID]
       ooloi watch PIECE-ID [--server URL] [--client-id ID]
       ooloi bench [unary|echo|fanout|memory ...] [--server URL [--server-pid PID] | --spawn]
                   [--duration S] [--json FILE] [--callers 1,16,64] [--rate N]
                   [--subscribers N] [--edit-rate N] [--clients N] [--edits N]
server URL default: http://127.0.0.1:10700";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = match command.as_str() {
        "fmt" | "encode" | "decode" => match rest {
            [arg] => values::run(command, arg).map(|out| println!("{out}")),
            _ => Err(Failure::Usage(format!("{command} takes one argument"))),
        },
        "call" | "watch" | "bench" => with_runtime(command, rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("ooloi: {message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

fn with_runtime(command: &str, rest: &[String]) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        match command {
            "call" => call::run(rest).await,
            "watch" => watch::run(rest).await,
            _ => bench::run(rest).await,
        }
    })
}
