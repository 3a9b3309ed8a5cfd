//! `memory`: the server's resident memory with many registered clients that never read their
//! streams, all subscribed to one piece that is edited until every client's queue has
//! overflowed (edits default to three times the default queue capacity of 1000, which also
//! covers what HTTP/2 flow-control windows absorb; the clients use the HTTP/2 default 64 KiB
//! stream window). Reports VmRSS above the idle server (after the piece was created, before any
//! client registered) and checks, by finally reading one more client's stream (alone on its
//! connection, so the others' unread data cannot starve it), that its queue did overflow.

use std::time::{Duration, Instant};

use tonic::Streaming;

use super::fanout::{self, STREAMS_PER_CONNECTION};
use super::light::{self, EventHead};
use super::progress::Progress;
use super::stats::Row;
use super::target::rss_bytes;
use super::unary::{self, Load};
use crate::failure::Failure;
use crate::session;

const MB: f64 = 1024.0 * 1024.0;

/// Resident memory once it stops moving (within 1% over 200 ms), read at most 30 times.
pub async fn settled_rss(pid: u32) -> Result<u64, Failure> {
    let mut last = rss_bytes(pid)?;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = rss_bytes(pid)?;
        if now.abs_diff(last) * 100 <= last {
            return Ok(now.max(last));
        }
        last = now;
    }
    Ok(last)
}

/// Whether a `client-events-dropped` marker arrives on `stream` (bounded read).
async fn saw_overflow(stream: &mut Streaming<EventHead>, max_events: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..max_events {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.message()).await {
            Ok(Ok(Some(event))) if event.event_type == "client-events-dropped" => return true,
            Ok(Ok(Some(_))) => {}
            _ => return false,
        }
    }
    false
}

/// The memory scenario against the server at `url` with process id `pid`.
pub async fn run(url: &str, pid: u32, clients: usize, edits: u64) -> Result<Vec<Row>, Failure> {
    let (mut editor, piece) = fanout::editor(url).await?;
    let idle = settled_rss(pid).await?;
    let per_connection = clients.div_ceil(STREAMS_PER_CONNECTION);
    let window = Some(light::DEFAULT_WINDOW);
    let channels = light::connections_with_window(url, per_connection, window).await?;
    let mut streams = Vec::with_capacity(clients);
    let progress = Progress::start(
        &format!("memory: registering {clients}"),
        Duration::from_secs(5),
    );
    let calls = session::connect(url).await?;
    fanout::register_all(&channels, &calls, clients, &piece, |stream| {
        streams.push(stream);
        progress.add(1);
    })
    .await?;
    // One more client that does not read either, alone on its connection, so that reading it at
    // the end is not starved by the other streams' share of their connection's window.
    let probe_id = session::generated_id("bench-probe");
    let probe_channel = light::connections_with_window(url, 1, window)
        .await?
        .remove(0);
    let mut probe = light::register(probe_channel, &probe_id).await?;
    light::subscribe(calls.clone(), &probe_id, &piece).await?;
    progress.finish();
    let registered = settled_rss(pid).await?;

    let progress = Progress::start(
        &format!("memory: {edits} edits, {clients} clients not reading"),
        Duration::from_secs(10),
    );
    let load = Load::new(&editor.id, &piece)?;
    let edit_channels = [session::connect(url).await?];
    let done = unary::count_loop(&edit_channels, &load, 4, edits, &progress).await?;
    progress.finish();
    let loaded = settled_rss(pid).await?;

    let overflowed = saw_overflow(&mut probe, edits + clients as u64 + 10).await;
    drop(streams);
    let _ = editor.disconnect().await;

    let above = loaded.saturating_sub(idle);
    let mut row = Row::new(format!("memory {clients} clients"));
    row.extra.push(("idle_rss_bytes", idle as f64));
    row.extra.push(("registered_rss_bytes", registered as f64));
    row.extra.push(("loaded_rss_bytes", loaded as f64));
    row.extra.push(("rss_above_idle_bytes", above as f64));
    row.extra.push(("edits", done as f64));
    row.extra
        .push(("queues_overflowed", if overflowed { 1.0 } else { 0.0 }));
    row.note = format!(
        "RSS +{:.1} MB above idle {:.1} MB ({:.1} MB after registering); {done} edits; queue overflow {}",
        above as f64 / MB,
        idle as f64 / MB,
        registered.saturating_sub(idle) as f64 / MB,
        if overflowed { "seen" } else { "NOT seen" }
    );
    Ok(vec![row])
}
