//! The server under test. With `--spawn`, [`SpawnedServer`] starts the `ooloi-server` binary
//! next to this executable on free loopback ports (bound on port 0, read, released), waits for
//! gRPC health to report SERVING within a deadline, and kills the child when dropped, so the
//! bench never leaves a process behind. [`rss_bytes`] reads a process's resident memory from
//! `/proc/PID/status`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::failure::Failure;

/// How long a spawned server may take to report SERVING.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// Where the bench sends its load: a URL and, when known, the server's process id.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub pid: Option<u32>,
}

/// A child `ooloi-server`, killed and reaped on drop.
#[derive(Debug)]
pub struct SpawnedServer {
    child: Child,
    pub target: Target,
    /// Its data directory, removed on drop.
    data_dir: PathBuf,
}

fn free_port() -> Result<u16, Failure> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure::Other(format!("cannot find a free port: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::Other(format!("cannot find a free port: {e}")))?
        .port();
    Ok(port)
}

fn server_binary() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Other(format!("cannot locate this executable: {e}")))?;
    let path = exe.with_file_name(format!("ooloi-server{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(Failure::Other(format!(
            "--spawn needs the ooloi-server binary at {} (cargo build --release --bins)",
            path.display()
        )))
    }
}

impl SpawnedServer {
    /// Starts a fresh server and waits until it is serving.
    pub async fn start() -> Result<SpawnedServer, Failure> {
        let binary = server_binary()?;
        let (grpc, http) = (free_port()?, free_port()?);
        // A fresh data directory per server (a store named by OOLOI__STORE__URL wins).
        let data_dir =
            std::env::temp_dir().join(format!("ooloi-bench-{}-{grpc}", std::process::id()));
        let child = Command::new(&binary)
            .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
            .args(["--http-listen", &format!("127.0.0.1:{http}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Failure::Other(format!("cannot start {}: {e}", binary.display())))?;
        let pid = child.id();
        let mut server = SpawnedServer {
            child,
            data_dir,
            target: Target {
                url: format!("http://127.0.0.1:{grpc}"),
                pid: Some(pid),
            },
        };
        server.wait_serving().await?;
        Ok(server)
    }

    async fn wait_serving(&mut self) -> Result<(), Failure> {
        let started = Instant::now();
        let endpoint = Endpoint::from_shared(self.target.url.clone())
            .map_err(|e| Failure::Other(e.to_string()))?
            .connect_timeout(Duration::from_secs(1));
        let mut last = String::from("no answer");
        while started.elapsed() < START_DEADLINE {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Failure::Other(format!(
                    "the spawned ooloi-server exited ({status}) before serving"
                )));
            }
            match endpoint.connect().await {
                Ok(channel) => {
                    let mut health = HealthClient::new(channel);
                    let check = health.check(HealthCheckRequest {
                        service: String::new(),
                    });
                    match tokio::time::timeout(Duration::from_secs(1), check).await {
                        Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => {
                            return Ok(());
                        }
                        Ok(Ok(r)) => last = format!("health status {}", r.get_ref().status),
                        Ok(Err(status)) => last = status.to_string(),
                        Err(_) => last = "health check timed out".into(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            // Polling a starting process: the only signal it gives is its health answer.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(Failure::Other(format!(
            "the spawned ooloi-server was not serving within {} s: {last}",
            START_DEADLINE.as_secs()
        )))
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The resident memory of process `pid` (`VmRSS`), in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64, Failure> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| Failure::Other(format!("cannot read {path}: {e}")))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Failure::Other(format!("no VmRSS line in {path}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_its_own_resident_memory() {
        let rss = super::rss_bytes(std::process::id()).unwrap();
        assert!(rss > 100_000, "{rss}");
        assert!(super::rss_bytes(u32::MAX).is_err());
    }
}
