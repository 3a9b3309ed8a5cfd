//! The unary load, driven identically against the server (`unary`) and the echo baseline
//! (`echo`): every call is `set-title` on the bench's piece with a title never used before, so
//! each one commits a new version. Closed loop: N callers, spread over a few HTTP/2
//! connections, each sending its next call when the last one returns. Open loop: calls issued on
//! a fixed schedule by a timer thread, whatever the answers do, with latency measured from each
//! call's scheduled time (so a stall counts against every call it delays).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ooloi_server::proto::ooloi_service_client::OoloiServiceClient;
use ooloi_server::proto::{OoloiRequest, OoloiValue};
use ooloi_server::value::Value;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Status};

use super::progress::Progress;
use super::stats::{Row, Samples};
use crate::failure::Failure;
use crate::session::CLIENT_ID_HEADER;

/// The most calls an open-loop run lets wait for an answer; beyond it a call is counted as
/// not sent (the target is overloaded).
const MAX_IN_FLIGHT: usize = 20_000;

/// How many calls one closed-loop caller may make in one phase.
const MAX_CALLS_PER_CALLER: u64 = 50_000_000;

/// What every call carries: the caller's client id and the piece it edits.
#[derive(Debug, Clone)]
pub struct Load {
    client_id: AsciiMetadataValue,
    vpd: OoloiValue,
    piece_id: OoloiValue,
    titles: Arc<AtomicU64>,
    /// `Bearer $OOLOI_TOKEN`, when set (auth mode `jwt`).
    bearer: Option<AsciiMetadataValue>,
}

impl Load {
    pub fn new(client_id: &str, piece_id: &str) -> Result<Load, Failure> {
        Ok(Load {
            client_id: client_id
                .parse()
                .map_err(|_| Failure::Other(format!("bad client id {client_id:?}")))?,
            vpd: Value::vector([]).to_proto(),
            piece_id: Value::string(piece_id).to_proto(),
            titles: Arc::new(AtomicU64::new(0)),
            bearer: crate::session::bearer()?,
        })
    }

    /// The next call: `set-title [[] piece-id "title-N"]`, N never used before.
    pub fn request(&self) -> Request<OoloiRequest> {
        let n = self.titles.fetch_add(1, Ordering::Relaxed);
        let title = Value::string(format!("title-{n}")).to_proto();
        let params = OoloiValue {
            value_type: Some(ooloi_server::proto::ooloi_value::ValueType::VectorVal(
                ooloi_server::proto::OoloiVector {
                    elements: vec![self.vpd.clone(), self.piece_id.clone(), title],
                },
            )),
        };
        let mut request = Request::new(OoloiRequest {
            method: "set-title".into(),
            params: Some(params),
        });
        request
            .metadata_mut()
            .insert(CLIENT_ID_HEADER, self.client_id.clone());
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
        request
    }
}

/// What one phase measured.
#[derive(Debug, Default)]
pub struct Measurement {
    pub calls: u64,
    pub errors: u64,
    pub not_sent: u64,
    pub elapsed: Duration,
    pub samples: Samples,
    pub first_error: Option<String>,
}

impl Measurement {
    fn record_error(&mut self, status: &Status) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(crate::failure::describe(status));
        }
    }

    /// The summary row.
    pub fn row(mut self, scenario: String) -> Row {
        let mut row = Row::new(scenario);
        row.throughput = Some((
            self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9),
            "calls/s",
        ));
        row.latency = self.samples.percentiles();
        row.extra.push(("calls", self.calls as f64));
        row.extra.push(("errors", self.errors as f64));
        let mut notes = Vec::new();
        if self.errors > 0 {
            notes.push(format!("{} errors", self.errors));
        }
        if self.not_sent > 0 {
            row.extra.push(("not_sent", self.not_sent as f64));
            notes.push(format!("{} not sent (overloaded)", self.not_sent));
        }
        row.note = notes.join(", ");
        row
    }
}

fn clients(channels: &[Channel]) -> Vec<OoloiServiceClient<Channel>> {
    channels
        .iter()
        .cloned()
        .map(OoloiServiceClient::new)
        .collect()
}

/// `callers` closed-loop callers for `duration` after a warm-up of a tenth of it.
pub async fn closed_loop(
    channels: &[Channel],
    load: &Load,
    callers: usize,
    duration: Duration,
    progress: &Progress,
) -> Result<Measurement, Failure> {
    let clients = clients(channels);
    let started = Instant::now();
    let measure_from = started + duration / 10;
    let deadline = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..callers {
        let mut client = clients[i % clients.len()].clone();
        let (load, progress) = (load.clone(), progress.clone());
        tasks.spawn(async move {
            let mut m = Measurement {
                samples: Samples::with_capacity(1 << 16),
                ..Measurement::default()
            };
            for _ in 0..MAX_CALLS_PER_CALLER {
                let sent = Instant::now();
                if sent >= deadline {
                    break;
                }
                let outcome = client.execute_method(load.request()).await;
                if sent < measure_from {
                    continue;
                }
                match outcome {
                    Ok(_) => {
                        m.samples.push(sent.elapsed());
                        m.calls += 1;
                    }
                    Err(status) => m.record_error(&status),
                }
                progress.add(1);
            }
            m
        });
    }
    let mut total = Measurement::default();
    while let Some(joined) = tasks.join_next().await {
        let m = joined.map_err(|e| Failure::Other(format!("a caller failed: {e}")))?;
        total.calls += m.calls;
        total.errors += m.errors;
        total.samples.extend(m.samples);
        total.first_error = total.first_error.or(m.first_error);
    }
    total.elapsed = deadline.saturating_duration_since(measure_from);
    Ok(total)
}

struct Shared {
    samples: Mutex<Samples>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    in_flight: AtomicUsize,
}

/// Calls at a fixed `rate` per second for `duration`, over `channels`.
pub async fn open_loop(
    channels: &[Channel],
    load: &Load,
    rate: u64,
    duration: Duration,
    progress: &Progress,
) -> Result<Measurement, Failure> {
    let clients = clients(channels);
    let total = (rate as f64 * duration.as_secs_f64()).round().max(1.0) as u64;
    let shared = Arc::new(Shared {
        samples: Mutex::new(Samples::with_capacity(total as usize)),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
        in_flight: AtomicUsize::new(0),
    });
    let handle = tokio::runtime::Handle::current();
    let (load, progress) = (load.clone(), progress.clone());
    let generator = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let mut not_sent = 0;
            let start = Instant::now();
            let interval_ns = 1e9 / rate.max(1) as f64;
            for i in 0..total {
                let due = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if shared.in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    not_sent += 1;
                    continue;
                }
                shared.in_flight.fetch_add(1, Ordering::Relaxed);
                let mut client = clients[(i as usize) % clients.len()].clone();
                let (request, shared, progress) =
                    (load.request(), shared.clone(), progress.clone());
                handle.spawn(async move {
                    let outcome = client.execute_method(request).await;
                    let latency = due.elapsed();
                    match outcome {
                        Ok(_) => shared.samples.lock().expect("samples").push(latency),
                        Err(status) => {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                            let mut first = shared.first_error.lock().expect("first error");
                            first.get_or_insert_with(|| crate::failure::describe(&status));
                        }
                    }
                    progress.add(1);
                    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
            (not_sent, start.elapsed())
        })
    };
    let (not_sent, elapsed) = tokio::task::spawn_blocking(move || generator.join())
        .await
        .map_err(|e| Failure::Other(format!("the open-loop generator failed: {e}")))?
        .map_err(|_| Failure::Other("the open-loop generator panicked".into()))?;
    // Bounded wait for the answers still outstanding.
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    while shared.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let samples = std::mem::take(&mut *shared.samples.lock().expect("samples"));
    Ok(Measurement {
        calls: samples.len() as u64,
        errors: shared.errors.load(Ordering::Relaxed),
        not_sent,
        elapsed,
        samples,
        first_error: shared.first_error.lock().expect("first error").take(),
    })
}

/// `callers` closed-loop callers making `count` calls in all (within two minutes); returns the
/// calls that succeeded, failing on the first error.
pub async fn count_loop(
    channels: &[Channel],
    load: &Load,
    callers: usize,
    count: u64,
    progress: &Progress,
) -> Result<u64, Failure> {
    let clients = clients(channels);
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..callers {
        let mut client = clients[i % clients.len()].clone();
        let (load, progress, issued) = (load.clone(), progress.clone(), issued.clone());
        tasks.spawn(async move {
            let mut done = 0u64;
            while issued.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline {
                client.execute_method(load.request()).await?;
                done += 1;
                progress.add(1);
            }
            Ok::<u64, Status>(done)
        });
    }
    let mut total = 0;
    while let Some(joined) = tasks.join_next().await {
        total += joined.map_err(|e| Failure::Other(format!("a caller failed: {e}")))??;
    }
    Ok(total)
}
