//! `burst`: does memory come back after a crowd leaves? Registers `--burst-clients` clients
//! (default 2,000) at once over as many connections as they need, each subscribed to the bench's
//! piece and reading its stream, commits `--burst-edits` edits while they are all there (every
//! client receives each one), then every client leaves: its stream and its connection are
//! dropped, which removes its registration. Reports the server's VmRSS when idle (the piece
//! created, nobody else registered), its peak during the burst (sampled every 20 ms), once
//! settled after everyone left, and again [`LATER`] after they left (an allocator may return
//! freed memory on a timer), with the fraction of the burst's growth returned by then.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

use super::fanout::{self, STREAMS_PER_CONNECTION};
use super::light;
use super::memory::settled_rss;
use super::progress::Progress;
use super::stats::Row;
use super::target::rss_bytes;
use super::unary::{self, Load};
use crate::failure::Failure;
use crate::session;

const MB: f64 = 1024.0 * 1024.0;

/// Most events one client reads before it stops reading (a bound on the loop, far above what
/// a run sends).
const MAX_EVENTS_PER_CLIENT: u64 = 10_000_000;

/// When the second reading after the burst is taken, from the moment everyone left: longer
/// than the default decay time of jemalloc's dirty pages (10 s).
const LATER: Duration = Duration::from_secs(15);

/// Samples `pid`'s RSS every 20 ms until `stop`, keeping the largest.
fn watch_peak(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_bytes(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak.max(rss_bytes(pid).unwrap_or(0))
    })
}

/// The burst scenario against the server at `url` with process id `pid`.
pub async fn run(url: &str, pid: u32, clients: usize, edits: u64) -> Result<Vec<Row>, Failure> {
    let (mut editor, piece) = fanout::editor(url).await?;
    let idle = settled_rss(pid).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_peak(pid, stop.clone());

    let progress = Progress::start(
        &format!("burst: registering {clients}"),
        Duration::from_secs(5),
    );
    let channels = light::connections(url, clients.div_ceil(STREAMS_PER_CONNECTION)).await?;
    let calls = session::connect(url).await?;
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = JoinSet::new();
    fanout::register_all(&channels, &calls, clients, &piece, |mut stream| {
        let received = received.clone();
        readers.spawn(async move {
            for _ in 0..MAX_EVENTS_PER_CLIENT {
                match stream.message().await {
                    Ok(Some(_)) => received.fetch_add(1, Ordering::Relaxed),
                    _ => break,
                };
            }
        });
        progress.add(1);
    })
    .await?;
    progress.finish();

    let progress = Progress::start(
        &format!("burst: {edits} edits to {clients} clients"),
        Duration::from_secs(5),
    );
    let load = Load::new(&editor.id, &piece)?;
    let done = unary::count_loop(std::slice::from_ref(&calls), &load, 4, edits, &progress).await?;
    progress.finish();

    // Everyone leaves: the readers (and with them the streams) and the connections go.
    readers.shutdown().await;
    drop(channels);
    drop(calls);
    let left = tokio::time::Instant::now();
    let after = settled_rss(pid).await?;
    stop.store(true, Ordering::Relaxed);
    let peak = peak
        .await
        .map_err(|e| Failure::Other(format!("the RSS sampler failed: {e}")))?
        .max(after);
    tokio::time::sleep_until(left + LATER).await;
    let later = settled_rss(pid).await?;
    let _ = editor.disconnect().await;

    let grown = peak.saturating_sub(idle);
    let kept = later.saturating_sub(idle);
    let returned = if grown == 0 {
        1.0
    } else {
        1.0 - kept as f64 / grown as f64
    };
    let mut row = Row::new(format!("burst {clients} clients"));
    row.extra.push(("idle_rss_bytes", idle as f64));
    row.extra.push(("peak_rss_bytes", peak as f64));
    row.extra.push(("after_rss_bytes", after as f64));
    row.extra.push(("later_rss_bytes", later as f64));
    row.extra.push(("returned_fraction", returned));
    row.extra.push(("edits", done as f64));
    row.extra
        .push(("events_received", received.load(Ordering::Relaxed) as f64));
    row.note = format!(
        "RSS idle {:.1} MB, peak +{:.1} MB, after leaving +{:.1} MB, {} s later +{:.1} MB ({:.0}% of the growth returned)",
        idle as f64 / MB,
        grown as f64 / MB,
        after.saturating_sub(idle) as f64 / MB,
        LATER.as_secs(),
        kept as f64 / MB,
        returned * 100.0
    );
    Ok(vec![row])
}
