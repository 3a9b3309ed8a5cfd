//! STM throughput and latency under contention, against a `Mutex` and a crates.io STM
//! (`fast-stm`) in the same run, on 1 and 2 threads.
//!
//! Workloads (every implementation runs the same operation on the same data):
//! - `W1 hot counter`: each transaction increments one shared counter.
//! - `W1 hot map`: one ref holds an `imbl::HashMap<u64, u64>` of 10,000 entries; each transaction
//!   increments the value of one random key.
//! - `W2 16 refs`: 16 account balances; 95% of operations transfer a random amount between two
//!   distinct random accounts, 5% scan all 16 and check the total. Scans run as `read_only`
//!   transactions in our STM.
//!
//! Implementations: `ours` (`Stm::atomically`, `alter` / `read` + `write`), `ours (commute)` (the
//! counter by `commute`), `mutex` (`std::sync::Mutex` around the same data, updated in place),
//! `mutex (persistent)` (the map updated as a persistent value, clone-then-update under the
//! lock: the path copying that any MVCC STM pays, without the STM) and `fast-stm`.
//!
//! Method: a custom harness, because criterion measures one thread. For every round, workload,
//! thread count and implementation: fresh data, a warm-up, then every thread runs operations in
//! a loop for a fixed time. Commits are counted per thread; every 64th write (every 8th scan) is
//! timed with `Instant` from the call to its return, retries included. Attempts are counted by
//! the transaction bodies (retries = attempts - commits); for our STM, retry causes come from
//! `Stm::stats()` deltas. After the run each workload checks its invariant (counter = number of
//! increments, map sum, bank total). The summary is the median over rounds; ratios to `mutex`
//! are taken within a round, then the median.
//!
//! Run: `cargo bench --bench stm` (3 rounds of 2 s per case, about 3 minutes).
//! Options after `--`: `--quick` (smoke run, 0.1 s, 1 round; the default when run without
//! `--bench`, as by `cargo test --benches`), `--secs S`, `--rounds N`, `--threads 1,2`,
//! `--only TEXT` (cases whose "workload/impl" contains TEXT). Environment: `STM_BENCH_SECS`,
//! `STM_BENCH_ROUNDS`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use fast_stm::TVar;
use ooloi_server::stm::{Ref, Stm, StmError, StmStats};

type Map = imbl::HashMap<u64, u64>;

const MAP_ENTRIES: u64 = 10_000;
const ACCOUNTS: usize = 16;
const INITIAL_BALANCE: i64 = 1_000_000;
const TOTAL: i64 = ACCOUNTS as i64 * INITIAL_BALANCE;
/// Percentage of W2 operations that are full scans.
const SCAN_PERCENT: u64 = 5;
/// Every how many writes (scans) one is timed.
const WRITE_SAMPLE_EVERY: u64 = 64;
const SCAN_SAMPLE_EVERY: u64 = 8;

/// A small deterministic generator per thread (no shared state between threads).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How many attempts a transaction made: `Ok` if it committed, `Err` if it gave up (our STM
/// after `StmConfig::max_retries` attempts).
type Attempts = Result<u32, u32>;

/// Our STM's outcome as [`Attempts`]; any error but giving up is a bug in the benchmark.
fn ours<R>(outcome: Result<R, StmError>, attempts: u32) -> (Option<R>, Attempts) {
    match outcome {
        Ok(r) => (Some(r), Ok(attempts)),
        Err(StmError::RetriesExhausted { .. }) => (None, Err(attempts)),
        Err(e) => panic!("unexpected STM error: {e}"),
    }
}

/// One implementation of one workload. `write` and `scan` run one transaction (or critical
/// section) and return how many attempts it took.
trait Workload: Sync {
    fn write(&self, rng: &mut Rng) -> Attempts;
    /// Only called by workloads that declare scans.
    fn scan(&self) -> Attempts {
        unreachable!("this workload has no scans")
    }
    fn stm_stats(&self) -> Option<StmStats> {
        None
    }
    /// Checks the data after `writes` writes in all: panics if an update was lost.
    fn verify(&self, writes: u64);
}

// ---------------------------------------------------------------------------------------------
// W1 hot counter

struct OursCounter {
    stm: Stm,
    counter: Ref<u64>,
    commute: bool,
}

impl Workload for OursCounter {
    fn write(&self, _: &mut Rng) -> Attempts {
        let mut attempts = 0;
        let outcome = self.stm.atomically(|tx| {
            attempts += 1;
            if self.commute {
                tx.commute(&self.counter, |v| v + 1);
                Ok(())
            } else {
                tx.alter(&self.counter, |v| v + 1)
            }
        });
        ours(outcome, attempts).1
    }
    fn stm_stats(&self) -> Option<StmStats> {
        Some(self.stm.stats())
    }
    fn verify(&self, writes: u64) {
        assert_eq!(*self.counter.current(), writes, "ours: lost increments");
    }
}

struct MutexCounter(Mutex<u64>);

impl Workload for MutexCounter {
    fn write(&self, _: &mut Rng) -> Attempts {
        *self.0.lock().unwrap() += 1;
        Ok(1)
    }
    fn verify(&self, writes: u64) {
        assert_eq!(*self.0.lock().unwrap(), writes, "mutex: lost increments");
    }
}

struct FastStmCounter(TVar<u64>);

impl Workload for FastStmCounter {
    fn write(&self, _: &mut Rng) -> Attempts {
        let attempts = Cell::new(0);
        fast_stm::atomically(|tx| {
            attempts.set(attempts.get() + 1);
            self.0.modify(tx, |v| v + 1)
        });
        Ok(attempts.get())
    }
    fn verify(&self, writes: u64) {
        assert_eq!(self.0.read_atomic(), writes, "fast-stm: lost increments");
    }
}

// ---------------------------------------------------------------------------------------------
// W1 hot map

fn initial_map() -> Map {
    (0..MAP_ENTRIES).map(|k| (k, 0)).collect()
}

/// The one update every implementation makes: the value of `key` plus one.
fn bump(map: &mut Map, key: u64) {
    *map.get_mut(&key).expect("every key is present") += 1;
}

fn map_sum(map: &Map) -> u64 {
    map.values().sum()
}

struct OursMap {
    stm: Stm,
    map: Ref<Map>,
}

impl Workload for OursMap {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let key = rng.below(MAP_ENTRIES);
        let mut attempts = 0;
        let outcome = self.stm.atomically(|tx| {
            attempts += 1;
            tx.alter(&self.map, |m| {
                let mut m = m.clone();
                bump(&mut m, key);
                m
            })
        });
        ours(outcome, attempts).1
    }
    fn stm_stats(&self) -> Option<StmStats> {
        Some(self.stm.stats())
    }
    fn verify(&self, writes: u64) {
        assert_eq!(map_sum(&self.map.current()), writes, "ours: lost updates");
    }
}

/// The map updated in place under the lock (imbl mutates uniquely owned nodes without copying).
struct MutexMap(Mutex<Map>);

impl Workload for MutexMap {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let key = rng.below(MAP_ENTRIES);
        bump(&mut self.0.lock().unwrap(), key);
        Ok(1)
    }
    fn verify(&self, writes: u64) {
        assert_eq!(
            map_sum(&self.0.lock().unwrap()),
            writes,
            "mutex: lost updates"
        );
    }
}

/// The map updated as a persistent value under the lock: clone (shares every node), update
/// (copies the path to the key), replace (frees the old path).
struct MutexPersistentMap(Mutex<Map>);

impl Workload for MutexPersistentMap {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let key = rng.below(MAP_ENTRIES);
        let mut guard = self.0.lock().unwrap();
        let mut next = guard.clone();
        bump(&mut next, key);
        *guard = next;
        Ok(1)
    }
    fn verify(&self, writes: u64) {
        assert_eq!(
            map_sum(&self.0.lock().unwrap()),
            writes,
            "mutex: lost updates"
        );
    }
}

struct FastStmMap(TVar<Map>);

impl Workload for FastStmMap {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let key = rng.below(MAP_ENTRIES);
        let attempts = Cell::new(0);
        fast_stm::atomically(|tx| {
            attempts.set(attempts.get() + 1);
            self.0.modify(tx, |mut m| {
                bump(&mut m, key);
                m
            })
        });
        Ok(attempts.get())
    }
    fn verify(&self, writes: u64) {
        assert_eq!(
            map_sum(&self.0.read_atomic()),
            writes,
            "fast-stm: lost updates"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// W2 16 refs: transfers and scans

/// Two distinct accounts and an amount.
fn transfer(rng: &mut Rng) -> (usize, usize, i64) {
    let from = rng.below(ACCOUNTS as u64) as usize;
    let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
    (from, to, rng.below(100) as i64)
}

struct OursBank {
    stm: Stm,
    accounts: Vec<Ref<i64>>,
}

impl Workload for OursBank {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let (from, to, amount) = transfer(rng);
        let (a, b) = (&self.accounts[from], &self.accounts[to]);
        let mut attempts = 0;
        let outcome = self.stm.atomically(|tx| {
            attempts += 1;
            let x = *tx.read(a)?;
            let y = *tx.read(b)?;
            tx.write(a, x - amount);
            tx.write(b, y + amount);
            Ok(())
        });
        ours(outcome, attempts).1
    }
    fn scan(&self) -> Attempts {
        let mut attempts = 0;
        let outcome = self.stm.read_only(|snap| {
            attempts += 1;
            let mut sum = 0;
            for a in &self.accounts {
                sum += *snap.read(a)?;
            }
            Ok(sum)
        });
        let (sum, attempts) = ours(outcome, attempts);
        if let Some(sum) = sum {
            assert_eq!(sum, TOTAL, "ours: inconsistent scan");
        }
        attempts
    }
    fn stm_stats(&self) -> Option<StmStats> {
        Some(self.stm.stats())
    }
    fn verify(&self, _: u64) {
        let sum: i64 = self.accounts.iter().map(|a| *a.current()).sum();
        assert_eq!(sum, TOTAL, "ours: money created or lost");
    }
}

struct MutexBank(Mutex<[i64; ACCOUNTS]>);

impl Workload for MutexBank {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let (from, to, amount) = transfer(rng);
        let mut accounts = self.0.lock().unwrap();
        accounts[from] -= amount;
        accounts[to] += amount;
        Ok(1)
    }
    fn scan(&self) -> Attempts {
        let sum: i64 = self.0.lock().unwrap().iter().sum();
        assert_eq!(sum, TOTAL, "mutex: inconsistent scan");
        Ok(1)
    }
    fn verify(&self, _: u64) {
        assert_eq!(self.scan(), Ok(1));
    }
}

struct FastStmBank(Vec<TVar<i64>>);

impl Workload for FastStmBank {
    fn write(&self, rng: &mut Rng) -> Attempts {
        let (from, to, amount) = transfer(rng);
        let (a, b) = (&self.0[from], &self.0[to]);
        let attempts = Cell::new(0);
        fast_stm::atomically(|tx| {
            attempts.set(attempts.get() + 1);
            let x = a.read(tx)?;
            let y = b.read(tx)?;
            a.write(tx, x - amount)?;
            b.write(tx, y + amount)
        });
        Ok(attempts.get())
    }
    fn scan(&self) -> Attempts {
        let attempts = Cell::new(0);
        // fast-stm does not guarantee opacity: a doomed attempt may see a torn total, so only
        // the committed result is checked.
        let sum = fast_stm::atomically(|tx| {
            attempts.set(attempts.get() + 1);
            let mut sum = 0;
            for a in &self.0 {
                sum += a.read(tx)?;
            }
            Ok(sum)
        });
        assert_eq!(sum, TOTAL, "fast-stm: inconsistent scan");
        Ok(attempts.get())
    }
    fn verify(&self, _: u64) {
        let sum: i64 = self.0.iter().map(TVar::read_atomic).sum();
        assert_eq!(sum, TOTAL, "fast-stm: money created or lost");
    }
}

// ---------------------------------------------------------------------------------------------
// The driver

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    HotCounter,
    HotMap,
    Bank,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::HotCounter => "W1 hot counter",
            Kind::HotMap => "W1 hot map",
            Kind::Bank => "W2 16 refs",
        }
    }
    fn scan_percent(self) -> u64 {
        if self == Kind::Bank { SCAN_PERCENT } else { 0 }
    }
    fn impls(self) -> &'static [&'static str] {
        match self {
            Kind::HotCounter => &["ours", "ours (commute)", "mutex", "fast-stm"],
            Kind::HotMap => &["ours", "mutex", "mutex (persistent)", "fast-stm"],
            Kind::Bank => &["ours", "mutex", "fast-stm"],
        }
    }
    fn build(self, implementation: &str) -> Box<dyn Workload> {
        let stm = Stm::default();
        match (self, implementation) {
            (Kind::HotCounter, "ours" | "ours (commute)") => Box::new(OursCounter {
                counter: stm.create_ref(0),
                stm,
                commute: implementation == "ours (commute)",
            }),
            (Kind::HotCounter, "mutex") => Box::new(MutexCounter(Mutex::new(0))),
            (Kind::HotCounter, "fast-stm") => Box::new(FastStmCounter(TVar::new(0))),
            (Kind::HotMap, "ours") => Box::new(OursMap {
                map: stm.create_ref(initial_map()),
                stm,
            }),
            (Kind::HotMap, "mutex") => Box::new(MutexMap(Mutex::new(initial_map()))),
            (Kind::HotMap, "mutex (persistent)") => {
                Box::new(MutexPersistentMap(Mutex::new(initial_map())))
            }
            (Kind::HotMap, "fast-stm") => Box::new(FastStmMap(TVar::new(initial_map()))),
            (Kind::Bank, "ours") => Box::new(OursBank {
                accounts: (0..ACCOUNTS)
                    .map(|_| stm.create_ref(INITIAL_BALANCE))
                    .collect(),
                stm,
            }),
            (Kind::Bank, "mutex") => Box::new(MutexBank(Mutex::new([INITIAL_BALANCE; ACCOUNTS]))),
            (Kind::Bank, "fast-stm") => Box::new(FastStmBank(
                (0..ACCOUNTS).map(|_| TVar::new(INITIAL_BALANCE)).collect(),
            )),
            _ => unreachable!("no implementation {implementation} of {self:?}"),
        }
    }
}

/// What one thread did with one kind of transaction (writes or scans) during one timed run.
#[derive(Default)]
struct Tally {
    /// Transactions run (committed or not).
    ops: u64,
    commits: u64,
    attempts: u64,
    /// Transactions that gave up without committing.
    gave_up: u64,
    max_attempts: u32,
    /// Sampled latencies of committed transactions, in nanoseconds.
    latency: Vec<u32>,
}

impl Tally {
    /// Runs one transaction, timing it if it is the `every`-th.
    fn run(&mut self, every: u64, op: impl FnOnce() -> Attempts) {
        let start = self.ops.is_multiple_of(every).then(Instant::now);
        let outcome = op();
        let elapsed = start.map(|s| s.elapsed());
        self.ops += 1;
        let attempts = match outcome {
            Ok(a) => {
                self.commits += 1;
                if let Some(e) = elapsed {
                    self.latency
                        .push(u32::try_from(e.as_nanos()).unwrap_or(u32::MAX));
                }
                a
            }
            Err(a) => {
                self.gave_up += 1;
                a
            }
        };
        self.attempts += u64::from(attempts);
        self.max_attempts = self.max_attempts.max(attempts);
    }

    fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        self.commits += other.commits;
        self.attempts += other.attempts;
        self.gave_up += other.gave_up;
        self.max_attempts = self.max_attempts.max(other.max_attempts);
        self.latency.extend(other.latency);
    }

    /// Retried attempts per commit.
    fn retries(&self) -> f64 {
        ratio(self.attempts - self.ops, self.commits)
    }
}

fn thread_loop(w: &dyn Workload, seed: u64, scan_percent: u64, stop: &AtomicBool) -> [Tally; 2] {
    let mut rng = Rng::new(seed);
    let mut writes = Tally {
        latency: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    let mut scans = Tally::default();
    while !stop.load(Ordering::Relaxed) {
        if scan_percent > 0 && rng.below(100) < scan_percent {
            scans.run(SCAN_SAMPLE_EVERY, || w.scan());
        } else {
            writes.run(WRITE_SAMPLE_EVERY, || w.write(&mut rng));
        }
    }
    [writes, scans]
}

/// Runs `threads` threads on `w` for `duration`; returns the merged tallies of writes and
/// scans, and the wall time from the start until the last thread stopped.
fn timed_run(
    w: &dyn Workload,
    threads: usize,
    duration: Duration,
    seed: u64,
    scan_percent: u64,
) -> ([Tally; 2], Duration) {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let tallies = thread_loop(w, seed + t as u64, scan_percent, stop);
                    (tallies, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let mut total = [Tally::default(), Tally::default()];
        let mut end = start;
        for h in handles {
            let ([writes, scans], finished) = h.join().expect("worker panicked");
            end = end.max(finished);
            total[0].merge(writes);
            total[1].merge(scans);
        }
        (total, end - start)
    })
}

/// One case's numbers from one round.
#[derive(Clone, Copy, Debug)]
struct Sample {
    writes_per_s: f64,
    write_p50: f64,
    write_p99: f64,
    /// Retried attempts per committed write.
    write_retries: f64,
    max_write_attempts: u32,
    scans_per_s: f64,
    scan_p50: f64,
    scan_p99: f64,
    scan_retries: f64,
    max_scan_attempts: u32,
    /// Transactions (writes or scans) that gave up without committing.
    gave_up: u64,
    /// Our STM's retries per commit (writes and scans) by cause: conflict, read miss, lock.
    causes: Option<[f64; 3]>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i])
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[derive(Clone, Copy)]
struct Case {
    kind: Kind,
    implementation: &'static str,
    threads: usize,
}

fn run_case(case: Case, config: &Config, seed: u64) -> Sample {
    let w = case.kind.build(case.implementation);
    let scan_percent = case.kind.scan_percent();
    let ([warm, _], _) = timed_run(&*w, case.threads, config.warmup, seed, scan_percent);
    let before = w.stm_stats();
    let ([mut writes, mut scans], elapsed) =
        timed_run(&*w, case.threads, config.duration, seed, scan_percent);
    let after = w.stm_stats();
    w.verify(warm.commits + writes.commits);

    let secs = elapsed.as_secs_f64();
    writes.latency.sort_unstable();
    scans.latency.sort_unstable();
    let causes = before.zip(after).map(|(b, a)| {
        let commits = writes.commits + scans.commits;
        assert_eq!(
            a.commits - b.commits,
            writes.commits,
            "stats count every write commit"
        );
        [
            ratio(a.retries_conflict - b.retries_conflict, commits),
            ratio(a.retries_read_miss - b.retries_read_miss, commits),
            ratio(
                a.retries_lock_contention - b.retries_lock_contention,
                commits,
            ),
        ]
    });
    Sample {
        writes_per_s: writes.commits as f64 / secs,
        write_p50: percentile(&writes.latency, 0.50),
        write_p99: percentile(&writes.latency, 0.99),
        write_retries: writes.retries(),
        max_write_attempts: writes.max_attempts,
        scans_per_s: scans.commits as f64 / secs,
        scan_p50: percentile(&scans.latency, 0.50),
        scan_p99: percentile(&scans.latency, 0.99),
        scan_retries: scans.retries(),
        max_scan_attempts: scans.max_attempts,
        gave_up: writes.gave_up + scans.gave_up,
        causes,
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration, summary and report

struct Config {
    /// A smoke run: too short (and, under `cargo test`, unoptimised) to quote.
    quick: bool,
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    threads: Vec<usize>,
    only: Option<String>,
}

fn parse_args() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) this is a smoke run.
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let env = |name: &str| std::env::var(name).ok();
    let mut secs: f64 = env("STM_BENCH_SECS").map_or(2.0, |s| s.parse().expect("STM_BENCH_SECS"));
    let mut rounds: usize = env("STM_BENCH_ROUNDS").map_or(3, |s| s.parse().expect("rounds"));
    if quick {
        secs = 0.1;
        rounds = 1;
    }
    let mut config = Config {
        quick,
        duration: Duration::ZERO,
        warmup: Duration::ZERO,
        rounds,
        threads: vec![1, 2],
        only: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().unwrap_or_else(|| panic!("{arg} needs {what}"));
        match arg.as_str() {
            "--secs" => secs = value("seconds").parse().expect("--secs"),
            "--rounds" => config.rounds = value("a count").parse().expect("--rounds"),
            "--threads" => {
                config.threads = value("a list")
                    .split(',')
                    .map(|t| t.parse().expect("--threads"))
                    .collect();
            }
            "--only" => config.only = Some(value("text").clone()),
            _ => {} // `--bench`, `--quick` and whatever else cargo passes
        }
    }
    config.duration = Duration::from_secs_f64(secs);
    config.warmup = Duration::from_secs_f64((secs * 0.15).min(0.3));
    config
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.retain(|x| !x.is_nan());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Per case, the samples of every round (in round order).
type Results = BTreeMap<(Kind, usize, usize), Vec<Sample>>;

struct Summary {
    s: Sample,
    /// Median over rounds of (this case's writes/s / the mutex's writes/s in the same round).
    vs_mutex: f64,
}

fn summarize(results: &Results, kind: Kind, threads: usize, impl_index: usize) -> Summary {
    let samples = &results[&(kind, threads, impl_index)];
    let mutex_index = kind.impls().iter().position(|&i| i == "mutex").unwrap();
    let mutex = &results[&(kind, threads, mutex_index)];
    let med = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    let causes = samples[0]
        .causes
        .map(|_| [0, 1, 2].map(|c| median(samples.iter().map(|s| s.causes.unwrap()[c]).collect())));
    Summary {
        s: Sample {
            writes_per_s: med(|s| s.writes_per_s),
            write_p50: med(|s| s.write_p50),
            write_p99: med(|s| s.write_p99),
            write_retries: med(|s| s.write_retries),
            scans_per_s: med(|s| s.scans_per_s),
            scan_p50: med(|s| s.scan_p50),
            scan_p99: med(|s| s.scan_p99),
            scan_retries: med(|s| s.scan_retries),
            max_write_attempts: samples.iter().map(|s| s.max_write_attempts).max().unwrap(),
            max_scan_attempts: samples.iter().map(|s| s.max_scan_attempts).max().unwrap(),
            gave_up: samples.iter().map(|s| s.gave_up).sum(),
            causes,
        },
        vs_mutex: median(
            samples
                .iter()
                .zip(mutex)
                .map(|(s, m)| s.writes_per_s / m.writes_per_s)
                .collect(),
        ),
    }
}

/// Median over rounds of the time per commit of `ours` relative to `baseline` (the inverse of
/// the commits/s ratio), or `None` if either did not run.
fn time_ratio(results: &Results, kind: Kind, threads: usize, baseline: &str) -> Option<f64> {
    let base = kind.impls().iter().position(|&i| i == baseline)?;
    let ours = results.get(&(kind, threads, 0))?;
    let base = results.get(&(kind, threads, base))?;
    Some(median(
        ours.iter()
            .zip(base)
            .map(|(o, b)| b.writes_per_s / o.writes_per_s)
            .collect(),
    ))
}

fn rate(per_s: f64) -> String {
    let n = per_s.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn micros(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn causes(c: Option<[f64; 3]>) -> String {
    match c {
        None => "-".into(),
        Some([conflict, miss, lock]) => format!(
            "{} / {} / {}",
            percent(conflict),
            percent(miss),
            percent(lock)
        ),
    }
}

fn retries(name: &str, r: f64) -> String {
    if name.starts_with("mutex") {
        "-".into()
    } else {
        percent(r)
    }
}

fn report(results: &Results, config: &Config) {
    println!(
        "\n{} round(s) of {:.1} s per case. Median over rounds; `vs mutex` = commits/s ratio to \
         the mutex of the same round and thread count; p50/p99 = one committed transaction from \
         call to return, retries included (sampled); retries = retried attempts per commit; max \
         att. = most attempts any transaction made (over all rounds); gave up = transactions \
         that never committed (all rounds); causes = our STM's retries per commit by cause: \
         conflict / read miss / lock contention.\n",
        config.rounds,
        config.duration.as_secs_f64()
    );
    let cases = |kind: Kind| {
        config.threads.iter().flat_map(move |&t| {
            (0..kind.impls().len())
                .filter(move |&i| results.contains_key(&(kind, t, i)))
                .map(move |i| (t, i, kind.impls()[i]))
        })
    };
    let w1: Vec<_> = [Kind::HotCounter, Kind::HotMap]
        .into_iter()
        .flat_map(|k| cases(k).map(move |c| (k, c)))
        .collect();
    if !w1.is_empty() {
        println!(
            "| workload | threads | impl | commits/s | vs mutex | p50 | p99 | retries | max att. \
             | gave up | causes |"
        );
        println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for (kind, (t, i, name)) in w1 {
            let Summary { s, vs_mutex } = summarize(results, kind, t, i);
            println!(
                "| {} | {t} | {name} | {} | {vs_mutex:.2}x | {} | {} | {} | {} | {} | {} |",
                kind.name(),
                rate(s.writes_per_s),
                micros(s.write_p50),
                micros(s.write_p99),
                retries(name, s.write_retries),
                s.max_write_attempts,
                s.gave_up,
                causes(s.causes),
            );
        }
    }
    let w2: Vec<_> = cases(Kind::Bank).collect();
    if !w2.is_empty() {
        println!(
            "\n| W2 16 refs | impl | transfers/s | vs mutex | p50 | p99 | retries | max att. | \
             scans/s | scan p50 | scan p99 | scan retries | max scan att. | gave up | causes |"
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for (t, i, name) in w2 {
            let Summary { s, vs_mutex } = summarize(results, Kind::Bank, t, i);
            println!(
                "| {t} thread{} | {name} | {} | {vs_mutex:.2}x | {} | {} | {} | {} | {} | {} | {} \
                 | {} | {} | {} | {} |",
                if t == 1 { "" } else { "s" },
                rate(s.writes_per_s),
                micros(s.write_p50),
                micros(s.write_p99),
                retries(name, s.write_retries),
                s.max_write_attempts,
                rate(s.scans_per_s),
                micros(s.scan_p50),
                micros(s.scan_p99),
                retries(name, s.scan_retries),
                s.max_scan_attempts,
                s.gave_up,
                causes(s.causes),
            );
        }
    }
    targets(results, config);
    if config.quick {
        println!("\nSmoke run (`--quick`, or run without `--bench`): do not quote these numbers.");
    }
}

/// The targets, checked against the medians (and the worst scan of every round).
fn targets(results: &Results, config: &Config) {
    println!(
        "\nTargets (ours, median over rounds; a throughput target is not met if any \
         transaction gave up):"
    );
    for &t in &config.threads {
        let get = |kind: Kind| {
            results
                .contains_key(&(kind, t, 0))
                .then(|| summarize(results, kind, t, 0))
        };
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        if let Some(s) = get(Kind::HotCounter) {
            let r = s.s.writes_per_s;
            println!(
                "- {t} thread(s), W1 hot counter >= 1,000,000 commits/s: {} ({}); gave up: {}",
                rate(r),
                verdict(r >= 1e6 && s.s.gave_up == 0),
                s.s.gave_up
            );
        }
        if let Some(s) = get(Kind::HotMap) {
            let r = s.s.writes_per_s;
            let vs = |baseline| time_ratio(results, Kind::HotMap, t, baseline).unwrap_or(f64::NAN);
            let (in_place, persistent) = (vs("mutex"), vs("mutex (persistent)"));
            println!(
                "- {t} thread(s), W1 hot map >= 500,000 commits/s: {} ({}); time per commit \
                 <= 2x mutex: {in_place:.2}x ({}), vs mutex (persistent): {persistent:.2}x; gave \
                 up: {}",
                rate(r),
                verdict(r >= 5e5 && s.s.gave_up == 0),
                verdict(in_place <= 2.0),
                s.s.gave_up
            );
        }
        if let Some(s) = get(Kind::Bank) {
            let r = s.s.writes_per_s;
            println!(
                "- {t} thread(s), W2 writers >= 1,500,000 tx/s: {} ({}); every scan within 2 \
                 attempts: max {} ({}); gave up: {}",
                rate(r),
                verdict(r >= 1.5e6 && s.s.gave_up == 0),
                s.s.max_scan_attempts,
                verdict(s.s.max_scan_attempts <= 2),
                s.s.gave_up
            );
        }
    }
}

fn main() {
    let config = parse_args();
    let mut cases = Vec::new();
    let wanted = |kind: Kind, implementation: &str| {
        let label = format!("{}/{implementation}", kind.name());
        config
            .only
            .as_ref()
            .is_none_or(|o| label.contains(o.as_str()))
    };
    for kind in [Kind::HotCounter, Kind::HotMap, Kind::Bank] {
        // The mutex runs whenever anything of its workload does: every ratio is against it.
        if !kind.impls().iter().any(|i| wanted(kind, i)) {
            continue;
        }
        for &threads in &config.threads {
            for (i, &implementation) in kind.impls().iter().enumerate() {
                if wanted(kind, implementation) || implementation == "mutex" {
                    let case = Case {
                        kind,
                        implementation,
                        threads,
                    };
                    cases.push((i, case));
                }
            }
        }
    }
    eprintln!(
        "stm bench: {} cases x {} round(s) x {:.2} s (+{:.2} s warm-up each)",
        cases.len(),
        config.rounds,
        config.duration.as_secs_f64(),
        config.warmup.as_secs_f64()
    );
    let load_before = load_average();
    let mut results = Results::new();
    for round in 0..config.rounds {
        for (n, &(i, case)) in cases.iter().enumerate() {
            let seed = 1 + (round * 1000 + n) as u64 * 64;
            let sample = run_case(case, &config, seed);
            eprintln!(
                "round {} | {} | {} thread(s) | {}: {} writes/s, p50 {}, p99 {}, retries {}, \
                 max attempts {}, gave up {}",
                round + 1,
                case.kind.name(),
                case.threads,
                case.implementation,
                rate(sample.writes_per_s),
                micros(sample.write_p50),
                micros(sample.write_p99),
                percent(sample.write_retries),
                sample.max_write_attempts,
                sample.gave_up,
            );
            results
                .entry((case.kind, case.threads, i))
                .or_default()
                .push(sample);
        }
    }
    report(&results, &config);
    println!(
        "\nLoad average (1, 5, 15 min) before: {load_before}; after: {}",
        load_average()
    );
}

/// The machine's load average, for the record (this machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}
