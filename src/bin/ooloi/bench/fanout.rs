//! `fanout`: many subscribers of one piece, each on its own `RegisterClient` stream, the streams
//! spread over at most 125 per HTTP/2 connection. A latency phase edits the piece at a fixed
//! rate and records, per delivered piece event, the time from the server's commit (the event's
//! `timestamp`, epoch microseconds, same machine clock) to its arrival here. A saturation phase
//! edits as fast as two closed-loop editors can and counts deliveries per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ooloi_server::value::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::Streaming;

use super::light::{self, EventHead};
use super::progress::Progress;
use super::stats::{Row, Samples};
use super::unary::{self, Load};
use crate::failure::Failure;
use crate::session::{self, Session};

const IDLE: u8 = 0;
const LATENCY: u8 = 1;
const SATURATION: u8 = 2;

/// Streams per HTTP/2 connection (the server allows 256 by default).
pub const STREAMS_PER_CONNECTION: usize = 125;
/// Registrations in flight at once.
const REGISTER_CONCURRENCY: usize = 32;
/// Most events one subscriber reads in a run.
const MAX_EVENTS_PER_SUBSCRIBER: u64 = 100_000_000;

/// What a subscriber saw.
#[derive(Debug, Default)]
struct Seen {
    latencies: Samples,
    saturation_deliveries: u64,
    dropped_markers: u64,
}

struct Shared {
    phase: AtomicU8,
    latency_deliveries: AtomicU64,
}

async fn read_events(
    mut stream: Streaming<EventHead>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    for _ in 0..MAX_EVENTS_PER_SUBSCRIBER {
        let event = tokio::select! {
            _ = stop.changed() => break,
            event = stream.message() => match event {
                Ok(Some(event)) => event,
                _ => break,
            },
        };
        if event.event_type == "client-events-dropped" {
            seen.dropped_markers += 1;
        }
        if !event.event_type.starts_with("piece-") {
            continue;
        }
        match shared.phase.load(Ordering::Relaxed) {
            LATENCY => {
                let micros = (light::now_micros() - event.timestamp).max(0) as u64;
                seen.latencies.push_nanos(micros * 1000);
                shared.latency_deliveries.fetch_add(1, Ordering::Relaxed);
            }
            SATURATION => seen.saturation_deliveries += 1,
            _ => {}
        }
    }
    seen
}

/// Creates the bench's piece with a registered editor.
pub async fn editor(url: &str) -> Result<(Session, String), Failure> {
    let channel = session::connect(url).await?;
    let mut editor = Session::open(channel, &session::generated_id("ooloi-bench"), "bench").await?;
    let params = Value::vector([Value::map([(
        Value::keyword("title"),
        Value::string("bench"),
    )])]);
    let piece = editor.call("new-piece", &params).await?;
    let piece = piece
        .as_str()
        .ok_or_else(|| Failure::Other("new-piece returned no piece id".into()))?
        .to_owned();
    Ok((editor, piece))
}

/// Registers `n` clients with their streams over `channels` and subscribes them to `piece` with
/// calls over `calls` (a connection of its own: streams that are never read exhaust their
/// connection's flow-control window, which would stall a call's response sharing it); `each`
/// receives every registered stream. Each registration has 30 s.
pub async fn register_all(
    channels: &[tonic::transport::Channel],
    calls: &tonic::transport::Channel,
    n: usize,
    piece: &str,
    mut each: impl FnMut(Streaming<EventHead>),
) -> Result<(), Failure> {
    let prefix = session::generated_id("bench");
    let mut pending = JoinSet::new();
    for i in 0..n {
        if pending.len() >= REGISTER_CONCURRENCY
            && let Some(done) = pending.join_next().await
        {
            each(done.map_err(|e| Failure::Other(e.to_string()))??);
        }
        let (channel, calls) = (channels[i % channels.len()].clone(), calls.clone());
        let (id, piece) = (format!("{prefix}-{i}"), piece.to_owned());
        pending.spawn(async move {
            let registered = async {
                let stream = light::register(channel, &id).await?;
                light::subscribe(calls, &id, &piece).await?;
                Ok::<_, Failure>(stream)
            };
            tokio::time::timeout(Duration::from_secs(30), registered)
                .await
                .map_err(|_| Failure::Other(format!("registering {id} took over 30 s")))?
        });
    }
    while let Some(done) = pending.join_next().await {
        each(done.map_err(|e| Failure::Other(e.to_string()))??);
    }
    Ok(())
}

/// The fan-out scenario against `url`.
pub async fn run(
    url: &str,
    subscribers: usize,
    edit_rate: u64,
    duration: Duration,
) -> Result<Vec<Row>, Failure> {
    let (mut editor, piece) = editor(url).await?;
    let channels = light::connections(url, subscribers.div_ceil(STREAMS_PER_CONNECTION)).await?;
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(IDLE),
        latency_deliveries: AtomicU64::new(0),
    });
    let (stop, stopped) = watch::channel(false);
    let mut readers = JoinSet::new();
    let progress = Progress::start(&format!("fanout: registering {subscribers}"), duration);
    let calls = session::connect(url).await?;
    register_all(&channels, &calls, subscribers, &piece, |stream| {
        readers.spawn(read_events(stream, shared.clone(), stopped.clone()));
        progress.add(1);
    })
    .await?;
    progress.finish();

    // Latency: edits at a fixed rate, then a bounded wait for the last deliveries.
    let progress = Progress::start(
        &format!("fanout latency: {subscribers} subscribers, {edit_rate} edits/s"),
        duration,
    );
    shared.phase.store(LATENCY, Ordering::SeqCst);
    let edits = (edit_rate as f64 * duration.as_secs_f64()).round().max(1.0) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / edit_rate.max(1) as f64));
    let load = Load::new(&editor.id, &piece)?;
    let mut client = ooloi_server::proto::ooloi_service_client::OoloiServiceClient::new(
        session::connect(url).await?,
    );
    let started = Instant::now();
    for _ in 0..edits {
        tick.tick().await;
        client.execute_method(load.request()).await?;
        progress.add(1);
    }
    let expected = edits * subscribers as u64;
    let wait_until = Instant::now() + Duration::from_secs(10);
    while shared.latency_deliveries.load(Ordering::Relaxed) < expected
        && Instant::now() < wait_until
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let latency_elapsed = started.elapsed();
    shared.phase.store(IDLE, Ordering::SeqCst);
    progress.finish();

    // Saturation: two editors as fast as they can.
    let progress = Progress::start(
        &format!("fanout saturation: {subscribers} subscribers"),
        duration,
    );
    shared.phase.store(SATURATION, Ordering::SeqCst);
    let sat_started = Instant::now();
    let channels_for_edits = [session::connect(url).await?];
    let edits_done = unary::closed_loop(&channels_for_edits, &load, 2, duration, &progress).await?;
    shared.phase.store(IDLE, Ordering::SeqCst);
    let sat_elapsed = sat_started.elapsed();
    progress.finish();

    let _ = stop.send(true);
    let mut latencies = Samples::default();
    let (mut deliveries, mut dropped) = (0, 0);
    while let Some(seen) = readers.join_next().await {
        let seen = seen.map_err(|e| Failure::Other(format!("a subscriber failed: {e}")))?;
        latencies.extend(seen.latencies);
        deliveries += seen.saturation_deliveries;
        dropped += seen.dropped_markers;
    }
    let _ = editor.disconnect().await;

    let delivered = latencies.len() as u64;
    let mut latency = Row::new(format!("fanout {subscribers} subs @{edit_rate} edits/s"));
    latency.throughput = Some((
        delivered as f64 / latency_elapsed.as_secs_f64(),
        "deliveries/s",
    ));
    latency.latency = latencies.percentiles();
    latency.extra.push(("edits", edits as f64));
    latency.extra.push(("deliveries", delivered as f64));
    latency.extra.push(("expected_deliveries", expected as f64));
    latency.note = format!("commit-to-delivery; {delivered} of {expected} delivered");

    let mut saturation = Row::new(format!("fanout {subscribers} subs saturation"));
    saturation.throughput = Some((
        deliveries as f64 / sat_elapsed.as_secs_f64(),
        "deliveries/s",
    ));
    let edit_rate_done = edits_done.calls as f64 / edits_done.elapsed.as_secs_f64().max(1e-9);
    saturation.extra.push(("deliveries", deliveries as f64));
    saturation.extra.push(("edits_per_s", edit_rate_done));
    saturation.extra.push(("dropped_markers", dropped as f64));
    saturation.note = format!("{edit_rate_done:.0} edits/s; {dropped} drop markers");
    Ok(vec![latency, saturation])
}
