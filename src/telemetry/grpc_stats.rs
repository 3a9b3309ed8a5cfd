//! What the gRPC layer counts, in the go-grpc-prometheus model: calls started, calls handled
//! by status code, handling time, and messages received and sent, each per method; plus the
//! server-wide API statistics of reference section 5.6 that only the transport can see (every
//! `ExecuteMethod` with its outcome, duration and bytes, refused registrations, authentication
//! failures). Fixed arrays of relaxed atomics indexed by the bounded labels, so recording is a
//! few atomic adds and never allocates or locks; the metrics collector reads them at scrape
//! time.
//!
//! Every call adds to about a dozen counters. Shared by all worker threads, those cache lines
//! would move between cores on every call (measured: about 5% of unary throughput on two
//! cores, BENCHMARKS.md), so the counters are sharded: each thread adds to the shard its index
//! picks, readers add the shards up. A reading is therefore a sum of relaxed loads, exact once
//! the calls it counts have finished.

use std::array;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::labels::{GrpcCode, GrpcMethod};

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` is implied). From half a
/// millisecond (an in-memory read) to ten seconds (a call stuck behind retries).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counts per bucket (not cumulative) and `+Inf`.
const SLOTS: usize = LATENCY_BUCKETS.len() + 1;

/// A latency histogram: a count per bucket (not cumulative; one more for `+Inf`) and the sum.
#[derive(Debug)]
struct Histogram {
    buckets: [AtomicU64; SLOTS],
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: counters(),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(saturating_nanos(elapsed), Ordering::Relaxed);
    }
}

/// A histogram read at one moment, summed over the shards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramReading {
    counts: [u64; SLOTS],
    sum_nanos: u64,
}

impl HistogramReading {
    /// Cumulative counts for each bound of [`LATENCY_BUCKETS`] and then `+Inf` (the total
    /// count). Derived from one read of each bucket, so `+Inf` always equals the sum of the
    /// buckets even while calls are being recorded.
    pub fn cumulative(&self) -> [u64; SLOTS] {
        let mut running = 0;
        array::from_fn(|i| {
            running += self.counts[i];
            running
        })
    }

    /// The sum of all observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos as f64 / 1e9
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

type PerCode<T> = [T; GrpcCode::COUNT];
type PerMethod<T> = [T; GrpcMethod::ALL.len()];

fn counters<const N: usize>() -> [AtomicU64; N] {
    array::from_fn(|_| AtomicU64::new(0))
}

/// One shard of every counter. Aligned so that two shards never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    started: PerMethod<AtomicU64>,
    handled: PerMethod<PerCode<AtomicU64>>,
    handling: PerMethod<Histogram>,
    msg_received: PerMethod<AtomicU64>,
    msg_sent: PerMethod<AtomicU64>,
    api_calls_total: AtomicU64,
    api_calls_success: AtomicU64,
    api_success_nanos_total: AtomicU64,
    api_request_bytes: AtomicU64,
    api_response_bytes: AtomicU64,
    registrations_rejected: AtomicU64,
    auth_failures: AtomicU64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            started: counters(),
            handled: array::from_fn(|_| counters()),
            handling: array::from_fn(|_| Histogram::default()),
            msg_received: counters(),
            msg_sent: counters(),
            api_calls_total: AtomicU64::new(0),
            api_calls_success: AtomicU64::new(0),
            api_success_nanos_total: AtomicU64::new(0),
            api_request_bytes: AtomicU64::new(0),
            api_response_bytes: AtomicU64::new(0),
            registrations_rejected: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
        }
    }
}

/// Shards per [`GrpcStats`]: enough that each worker thread of a runtime sized to the cores
/// usually has its own, a power of two so a thread's index picks one with a mask.
fn shard_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).next_power_of_two().clamp(2, 64)
}

/// This thread's index, assigned round-robin the first time a thread records something.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

/// The gRPC and API counters. Shared by the layer (which records), the metrics collector and
/// the health documents (which read).
#[derive(Debug)]
pub struct GrpcStats {
    shards: Box<[Shard]>,
}

impl Default for GrpcStats {
    fn default() -> Self {
        GrpcStats {
            shards: (0..shard_count()).map(|_| Shard::default()).collect(),
        }
    }
}

impl GrpcStats {
    /// No calls yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shard the calling thread records into.
    fn mine(&self) -> &Shard {
        &self.shards[thread_index() & (self.shards.len() - 1)]
    }

    /// A counter summed over the shards.
    fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|s| counter(s).load(Ordering::Relaxed))
            .sum()
    }

    /// A call of `method` arrived.
    pub fn record_started(&self, method: GrpcMethod) {
        self.mine().started[method.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// `count` request messages of `method` arrived.
    pub fn record_received(&self, method: GrpcMethod, count: u64) {
        self.mine().msg_received[method.index()].fetch_add(count, Ordering::Relaxed);
    }

    /// `count` response messages of `method` were sent.
    pub fn record_sent(&self, method: GrpcMethod, count: u64) {
        self.mine().msg_sent[method.index()].fetch_add(count, Ordering::Relaxed);
    }

    /// Records a finished call: counts it under its code, observes its handling time (for a
    /// stream, its whole life, as go-grpc-prometheus does), and what it means for the API
    /// statistics.
    pub fn record_completed(&self, method: GrpcMethod, code: GrpcCode, elapsed: Duration) {
        let shard = self.mine();
        shard.handled[method.index()][code.index()].fetch_add(1, Ordering::Relaxed);
        shard.handling[method.index()].observe(elapsed);
        if method == GrpcMethod::ExecuteMethod {
            shard.api_calls_total.fetch_add(1, Ordering::Relaxed);
            if code == GrpcCode::OK {
                shard.api_calls_success.fetch_add(1, Ordering::Relaxed);
                shard
                    .api_success_nanos_total
                    .fetch_add(saturating_nanos(elapsed), Ordering::Relaxed);
            }
        }
        // Without an authentication layer, UNAUTHENTICATED on these two methods is the client
        // identity check refusing the call (reference section 5.3).
        if code == GrpcCode::UNAUTHENTICATED
            && matches!(method, GrpcMethod::ExecuteMethod | GrpcMethod::Disconnect)
        {
            shard.auth_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a registration refused before its stream opened (invalid or duplicate id,
    /// malformed client info, oversized message).
    pub fn record_registration_rejected(&self) {
        self.mine()
            .registrations_rejected
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Adds request body bytes of an `ExecuteMethod` call.
    pub fn add_api_request_bytes(&self, bytes: u64) {
        self.mine()
            .api_request_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// Adds response body bytes of an `ExecuteMethod` call.
    pub fn add_api_response_bytes(&self, bytes: u64) {
        self.mine()
            .api_response_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// Calls of `method` started.
    pub fn started(&self, method: GrpcMethod) -> u64 {
        self.sum(|s| &s.started[method.index()])
    }

    /// Finished calls of `method` with `code`.
    pub fn handled(&self, method: GrpcMethod, code: GrpcCode) -> u64 {
        self.sum(|s| &s.handled[method.index()][code.index()])
    }

    /// Finished calls of any method whose code satisfies `pick`.
    pub fn handled_where(&self, pick: impl Fn(GrpcCode) -> bool) -> u64 {
        GrpcMethod::ALL
            .into_iter()
            .flat_map(|m| GrpcCode::all().map(move |c| (m, c)))
            .filter(|(_, c)| pick(*c))
            .map(|(m, c)| self.handled(m, c))
            .sum()
    }

    /// The handling-time histogram of `method`, now.
    pub fn handling(&self, method: GrpcMethod) -> HistogramReading {
        let mut reading = HistogramReading {
            counts: [0; SLOTS],
            sum_nanos: 0,
        };
        for shard in &self.shards {
            let h = &shard.handling[method.index()];
            for (total, bucket) in reading.counts.iter_mut().zip(&h.buckets) {
                *total += bucket.load(Ordering::Relaxed);
            }
            reading.sum_nanos = reading
                .sum_nanos
                .saturating_add(h.sum_nanos.load(Ordering::Relaxed));
        }
        reading
    }

    /// Request messages of `method` received.
    pub fn msg_received(&self, method: GrpcMethod) -> u64 {
        self.sum(|s| &s.msg_received[method.index()])
    }

    /// Response messages of `method` sent.
    pub fn msg_sent(&self, method: GrpcMethod) -> u64 {
        self.sum(|s| &s.msg_sent[method.index()])
    }

    /// Finished `ExecuteMethod` calls.
    pub fn api_calls_total(&self) -> u64 {
        self.sum(|s| &s.api_calls_total)
    }

    /// Finished `ExecuteMethod` calls with status OK.
    pub fn api_calls_success(&self) -> u64 {
        self.sum(|s| &s.api_calls_success)
    }

    /// The durations of the successful `ExecuteMethod` calls, added up, in nanoseconds.
    pub fn api_success_nanos_total(&self) -> u64 {
        self.sum(|s| &s.api_success_nanos_total)
    }

    /// `ExecuteMethod` request body bytes (gRPC messages with their 5-byte prefixes).
    pub fn api_request_bytes(&self) -> u64 {
        self.sum(|s| &s.api_request_bytes)
    }

    /// `ExecuteMethod` response body bytes (gRPC messages with their 5-byte prefixes).
    pub fn api_response_bytes(&self) -> u64 {
        self.sum(|s| &s.api_response_bytes)
    }

    /// Registrations refused before their stream opened.
    pub fn registrations_rejected(&self) -> u64 {
        self.sum(|s| &s.registrations_rejected)
    }

    /// Calls refused because the client identity was missing or not registered.
    pub fn auth_failures(&self) -> u64 {
        self.sum(|s| &s.auth_failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_cumulative_and_its_total_is_the_count() {
        let s = GrpcStats::new();
        let m = GrpcMethod::HealthCheck;
        let h = &s.mine().handling[m.index()];
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let reading = s.handling(m);
        let c = reading.cumulative();
        assert_eq!(c[0], 1, "0.5 ms bucket");
        assert_eq!(c[3], 2, "5 ms bucket");
        assert_eq!(c[LATENCY_BUCKETS.len() - 1], 2, "10 s bucket");
        assert_eq!(c[LATENCY_BUCKETS.len()], 3, "+Inf");
        assert!((reading.sum_seconds() - 60.0031).abs() < 1e-9);
    }

    #[test]
    fn api_statistics_follow_execute_method_outcomes() {
        let s = GrpcStats::new();
        let ms = Duration::from_millis(2);
        s.record_completed(GrpcMethod::ExecuteMethod, GrpcCode::OK, ms);
        s.record_completed(GrpcMethod::ExecuteMethod, GrpcCode::from_number(3), ms);
        s.record_completed(GrpcMethod::ExecuteMethod, GrpcCode::UNAUTHENTICATED, ms);
        s.record_completed(GrpcMethod::HealthCheck, GrpcCode::UNAUTHENTICATED, ms);
        assert_eq!(s.api_calls_total(), 3);
        assert_eq!(s.api_calls_success(), 1);
        assert_eq!(s.api_success_nanos_total(), 2_000_000);
        assert_eq!(s.auth_failures(), 1, "only ExecuteMethod and Disconnect");
        assert_eq!(s.handled(GrpcMethod::ExecuteMethod, GrpcCode::OK), 1);
        assert_eq!(s.handled_where(GrpcCode::is_client_error), 3);
        let h = s.handling(GrpcMethod::ExecuteMethod).cumulative();
        assert_eq!(h[LATENCY_BUCKETS.len()], 3, "every finished call is timed");
    }

    #[test]
    fn a_finished_stream_is_timed_over_its_whole_life() {
        let s = GrpcStats::new();
        s.record_started(GrpcMethod::RegisterClient);
        s.record_sent(GrpcMethod::RegisterClient, 5);
        s.record_completed(
            GrpcMethod::RegisterClient,
            GrpcCode::CANCELLED,
            Duration::from_secs(3600),
        );
        assert_eq!(s.started(GrpcMethod::RegisterClient), 1);
        assert_eq!(s.msg_sent(GrpcMethod::RegisterClient), 5);
        assert_eq!(
            s.handled(GrpcMethod::RegisterClient, GrpcCode::CANCELLED),
            1
        );
        let h = s.handling(GrpcMethod::RegisterClient).cumulative();
        assert_eq!(h[LATENCY_BUCKETS.len() - 1], 0, "past the 10 s bucket");
        assert_eq!(h[LATENCY_BUCKETS.len()], 1);
        assert_eq!(s.api_calls_total(), 0);
    }

    #[test]
    fn counts_from_many_threads_add_up_over_the_shards() {
        let s = GrpcStats::new();
        assert!(s.shards.len() >= 2 && s.shards.len().is_power_of_two());
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        s.record_started(GrpcMethod::ExecuteMethod);
                        s.record_completed(
                            GrpcMethod::ExecuteMethod,
                            GrpcCode::OK,
                            Duration::from_micros(50),
                        );
                        s.add_api_request_bytes(3);
                    }
                });
            }
        });
        assert_eq!(s.started(GrpcMethod::ExecuteMethod), 8000);
        assert_eq!(s.handled(GrpcMethod::ExecuteMethod, GrpcCode::OK), 8000);
        assert_eq!(s.api_request_bytes(), 24_000);
        let h = s.handling(GrpcMethod::ExecuteMethod);
        assert_eq!(h.cumulative()[0], 8000);
        assert!((h.sum_seconds() - 0.4).abs() < 1e-9);
    }
}
