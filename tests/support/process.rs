//! The real `ooloi-server` binary as a child process, for the tests that need a whole process
//! (signals, start-up lines, exit codes, crashes): [`server_command`] starts it on loopback port
//! 0 for both listeners with an in-memory store and no `RUST_LOG`; [`ServerProcess::spawn`] reads
//! its standard error line by line on a thread, so a test can wait for a line with a bound.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `ooloi-server --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0`, store `memory:`,
/// `RUST_LOG` unset, standard output discarded and standard error piped. Add to it (a later
/// `env` wins).
pub fn server_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ooloi-server"));
    command
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .env("OOLOI__STORE__URL", "memory:")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A running server and its standard-error lines as they come. Killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Spawns `command` (whose standard error must be piped).
    pub fn spawn(command: &mut Command) -> ServerProcess {
        let mut child = command.spawn().expect("the server starts");
        let stderr = child.stderr.take().expect("standard error is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServerProcess { child, lines }
    }

    /// The lines up to and including the first that contains `marker`, waiting at most
    /// `within` for each; fewer (without the marker) if the process goes quiet or exits.
    pub fn lines_until(&self, marker: &str, within: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(within) {
            let found = line.contains(marker);
            lines.push(line);
            if found {
                break;
            }
        }
        lines
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {}", self.child.id());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address a text-format log line gives for `key` (`grpc_listen=127.0.0.1:4242 ...`).
pub fn logged_addr(lines: &[String], key: &str) -> Option<String> {
    let needle = format!("{key}=");
    lines.iter().find_map(|line| {
        let at = line.find(&needle)?;
        line[at + needle.len()..]
            .split_whitespace()
            .next()
            .map(str::to_string)
    })
}
