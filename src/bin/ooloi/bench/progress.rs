//! The progress display on standard error: one line, rewritten in place five times a second
//! when standard error is a terminal (phase, elapsed of planned seconds, operations so far and
//! their rate); otherwise one line when each phase starts, so logs stay readable.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A counter the load loops bump, shown by the display task while a phase runs.
#[derive(Debug, Clone)]
pub struct Progress {
    count: Arc<AtomicU64>,
    stop: Arc<watch::Sender<bool>>,
}

impl Progress {
    /// Starts showing `label` for a phase planned to last `planned`.
    pub fn start(label: &str, planned: Duration) -> Progress {
        let count = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let terminal = std::io::stderr().is_terminal();
        if !terminal {
            eprintln!("ooloi bench: {label} ({:.1} s)", planned.as_secs_f64());
        } else {
            let (label, count) = (label.to_owned(), count.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                // Bounded: the phase stops it, and a phase never runs past its plan by much.
                for _ in 0..(planned.as_secs() * 5 + 600) {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    let elapsed = started.elapsed().as_secs_f64();
                    let n = count.load(Ordering::Relaxed);
                    let rate = n as f64 / elapsed.max(1e-3);
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[K{label}: {elapsed:.1}/{:.1} s, {n} ops, {rate:.0}/s",
                        planned.as_secs_f64()
                    );
                    let _ = err.flush();
                }
                eprint!("\r\x1b[K");
            });
        }
        Progress {
            count,
            stop: Arc::new(stop),
        }
    }

    /// Adds `n` finished operations.
    pub fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// Ends the display of this phase (dropping the last clone does too).
    pub fn finish(&self) {
        let _ = self.stop.send(true);
    }
}
