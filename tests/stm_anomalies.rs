//! Anomaly scripts: the isolation anomalies of Berenson et al. ("A Critique of ANSI SQL
//! Isolation Levels") and Adya, each forced on two refs and shown not to happen.
//!
//! Every test runs two threads, T1 and T2, whose first attempts are driven into the anomalous
//! interleaving with `std::sync::Barrier`s; the interleaving is written next to each test in the
//! usual notation (`r1[x]` = T1 reads x, `w2[y]` = T2 writes y, `c1`/`a1` = T1 commits/aborts).
//! Only attempt 1 of a transaction body waits at a barrier: a retried body must not wait again
//! (its partner has moved on, so it would wait forever), which is why every body counts its
//! attempts. Threads only record what they observed; the assertions run after both have been
//! joined, so a failing check fails the test instead of leaving a partner stuck at a barrier.
//!
//! Each test checks the final state and the values every attempt observed, and, where the STM
//! promises it, which transaction retried. Each doc comment says what a broken STM would show.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use ooloi_server::stm::{Ref, Stm, StmConfig, StmError, ValidationError};

/// Counts the runs of one transaction body.
#[derive(Clone, Default)]
struct Attempts(Arc<AtomicU32>);

impl Attempts {
    /// Records a new run of the body and returns its 1-based number.
    fn start(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A rendezvous point for T1 and T2.
fn rendezvous() -> Arc<Barrier> {
    Arc::new(Barrier::new(2))
}

/// What a thread saw, in order, shared with the test for checking after the join.
#[derive(Clone)]
struct Journal<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Journal<T> {
    fn new() -> Self {
        Journal(Arc::new(Mutex::new(Vec::new())))
    }

    fn record(&self, entry: T) {
        self.0.lock().unwrap().push(entry);
    }

    fn entries(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }
}

/// The error type of bodies that abort on purpose.
#[derive(Debug, PartialEq)]
enum TxError {
    /// The body gave up; nothing it wrote may become visible.
    Aborted,
    Stm(StmError),
}

impl From<StmError> for TxError {
    fn from(e: StmError) -> Self {
        TxError::Stm(e)
    }
}

/// Records, for one ref, every commit's (stamp, new value) as its watch reports it.
fn watch_log(r: &Ref<i64>) -> Journal<(u64, i64)> {
    let log = Journal::new();
    let sink = log.clone();
    r.add_watch("journal", move |_, new, stamp| sink.record((stamp, **new)));
    log
}

// ---------------------------------------------------------------------------------------------
// P0: dirty write.

/// How T1 of the dirty-write script ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ending {
    Commit,
    Abort,
}

/// P0, dirty write: `w1[x=1] w2[x=2] w2[y=2] c2 w1[y=1] (c1 | a1)`.
///
/// T1 writes x, then T2 writes x and y and commits, then T1 writes y and commits (or aborts).
/// Each transaction must set x and y as a unit: if T1 commits, both end up 1 (T1 commits last);
/// if T1 aborts, both stay 2 (T1's abort must not roll x back over T2's commit). Both refs'
/// watches must report the same (stamp, value) sequence, so no version of one ref was ever paired
/// with the other transaction's version of the other. An STM that wrote in place would end at
/// x = 2, y = 1 (or x = 0 after rolling back T1). Blind writes never conflict, so nobody retries.
#[test]
fn p0_dirty_write_interleaved_writes_do_not_mix() {
    for ending in [Ending::Commit, Ending::Abort] {
        let stm = Stm::default();
        let x = stm.create_ref(0i64);
        let y = stm.create_ref(0i64);
        let (x_log, y_log) = (watch_log(&x), watch_log(&y));
        let (t1_has_written_x, t2_has_committed) = (rendezvous(), rendezvous());
        let (t1_attempts, t2_attempts) = (Attempts::default(), Attempts::default());

        let t1 = {
            let (stm, x, y, attempts) = (stm.clone(), x.clone(), y.clone(), t1_attempts.clone());
            let (a, b) = (t1_has_written_x.clone(), t2_has_committed.clone());
            thread::spawn(move || {
                stm.atomically(|tx| {
                    let attempt = attempts.start();
                    tx.write(&x, 1);
                    if attempt == 1 {
                        a.wait();
                        b.wait();
                    }
                    tx.write(&y, 1);
                    match ending {
                        Ending::Commit => Ok(()),
                        Ending::Abort => Err(TxError::Aborted),
                    }
                })
            })
        };
        let t2 = {
            let (stm, x, y, attempts) = (stm.clone(), x.clone(), y.clone(), t2_attempts.clone());
            thread::spawn(move || {
                t1_has_written_x.wait();
                stm.atomically(|tx| {
                    attempts.start();
                    tx.write(&x, 2);
                    tx.write(&y, 2);
                    Ok::<_, StmError>(())
                })
                .unwrap();
                t2_has_committed.wait();
            })
        };
        t2.join().unwrap();
        let t1_result = t1.join().unwrap();

        let expected = match ending {
            Ending::Commit => 1,
            Ending::Abort => 2,
        };
        assert_eq!(
            (*x.current(), *y.current()),
            (expected, expected),
            "{ending:?}"
        );
        assert_eq!(
            t1_result,
            match ending {
                Ending::Commit => Ok(()),
                Ending::Abort => Err(TxError::Aborted),
            }
        );
        let (x_versions, y_versions) = (x_log.entries(), y_log.entries());
        assert_eq!(
            x_versions, y_versions,
            "{ending:?}: x and y were installed together"
        );
        let values: Vec<i64> = x_versions.iter().map(|&(_, v)| v).collect();
        match ending {
            Ending::Commit => assert_eq!(values, [2, 1]),
            Ending::Abort => assert_eq!(values, [2]),
        }
        assert_eq!((t1_attempts.count(), t2_attempts.count()), (1, 1));
        assert_eq!(stm.stats().retries(), 0, "blind writes never conflict");
    }
}

// ---------------------------------------------------------------------------------------------
// P1: dirty read.

/// T2's ways of reading x and y: every one of them must show only committed state.
fn read_both_every_way(stm: &Stm, x: &Ref<i64>, y: &Ref<i64>, seen: &Journal<(&str, i64, i64)>) {
    let audit = stm.create_ref(0i64);
    let (vx, vy) = stm
        .atomically(|tx| {
            let both = (*tx.read(x)?, *tx.read(y)?);
            tx.write(&audit, both.0 + both.1);
            Ok::<_, StmError>(both)
        })
        .unwrap();
    seen.record(("update transaction", vx, vy));
    let (vx, vy) = stm
        .atomically(|tx| Ok::<_, StmError>((*tx.read(x)?, *tx.read(y)?)))
        .unwrap();
    seen.record(("reading transaction", vx, vy));
    let (vx, vy) = stm
        .read_only(|snap| Ok::<_, StmError>((*snap.read(x)?, *snap.read(y)?)))
        .unwrap();
    seen.record(("read_only", vx, vy));
    seen.record(("current", *x.current(), *y.current()));
}

/// The value T1 writes and must never be seen.
const DIRTY: i64 = -1;

/// P1, dirty read of an aborted write: `w1[x] w1[y] r2[x] r2[y] a1`.
///
/// T1 writes x and y, then waits while T2 reads both in every way the STM offers (an update
/// transaction, a transaction that only reads, `read_only`, `Ref::current`), then aborts. T2 must
/// see only the committed zeros; afterwards x and y are still zero and T1's `on_commit` effect
/// never ran. An STM that wrote in place (or published writes before commit) would show T2 the
/// -1s.
#[test]
fn p1_dirty_read_of_an_aborted_write_is_impossible() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let y = stm.create_ref(0i64);
    let (t1_has_written, t2_has_read) = (rendezvous(), rendezvous());
    let t1_effects = Arc::new(AtomicU32::new(0));
    let t1_attempts = Attempts::default();
    let t1 = {
        let (stm, x, y, attempts) = (stm.clone(), x.clone(), y.clone(), t1_attempts.clone());
        let (a, b, effects) = (
            t1_has_written.clone(),
            t2_has_read.clone(),
            t1_effects.clone(),
        );
        thread::spawn(move || {
            stm.atomically(|tx| {
                let attempt = attempts.start();
                tx.write(&x, DIRTY);
                tx.write(&y, DIRTY);
                let effects = effects.clone();
                tx.on_commit(move || {
                    effects.fetch_add(1, Ordering::SeqCst);
                });
                if attempt == 1 {
                    a.wait();
                    b.wait();
                }
                Err::<(), _>(TxError::Aborted)
            })
        })
    };
    let seen = Journal::new();
    let t2 = {
        let (stm, x, y, seen) = (stm.clone(), x.clone(), y.clone(), seen.clone());
        thread::spawn(move || {
            t1_has_written.wait();
            read_both_every_way(&stm, &x, &y, &seen);
            t2_has_read.wait();
        })
    };
    t2.join().unwrap();
    assert_eq!(t1.join().unwrap(), Err(TxError::Aborted));

    for (how, vx, vy) in seen.entries() {
        assert_eq!((vx, vy), (0, 0), "{how} saw T1's uncommitted write");
    }
    assert_eq!((*x.current(), *y.current()), (0, 0));
    assert_eq!(t1_effects.load(Ordering::SeqCst), 0);
    assert_eq!(t1_attempts.count(), 1);
}

/// P1, dirty read of an intermediate value: `w1[x=1] w1[y=1] r2[x] r2[y] w1[x=2] w1[y=2] c1
/// r2[x] r2[y]`.
///
/// T1 writes 1s, lets T2 read, then overwrites them with 2s and commits; T2 reads again after
/// the commit. T2 must see zeros before the commit and twos after, never the 1s that T1 only held
/// in the middle of its transaction.
#[test]
fn p1_dirty_read_of_an_intermediate_value_is_impossible() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let y = stm.create_ref(0i64);
    let (t1_has_written, t2_has_read, t1_has_committed) =
        (rendezvous(), rendezvous(), rendezvous());
    let t1_attempts = Attempts::default();
    let t1 = {
        let (stm, x, y, attempts) = (stm.clone(), x.clone(), y.clone(), t1_attempts.clone());
        let (a, b, c) = (
            t1_has_written.clone(),
            t2_has_read.clone(),
            t1_has_committed.clone(),
        );
        thread::spawn(move || {
            stm.atomically(|tx| {
                let attempt = attempts.start();
                tx.write(&x, 1);
                tx.write(&y, 1);
                if attempt == 1 {
                    a.wait();
                    b.wait();
                }
                tx.write(&x, 2);
                tx.write(&y, 2);
                Ok::<_, StmError>(())
            })
            .unwrap();
            c.wait();
        })
    };
    let (before, after) = (Journal::new(), Journal::new());
    let t2 = {
        let (stm, x, y) = (stm.clone(), x.clone(), y.clone());
        let (before, after) = (before.clone(), after.clone());
        thread::spawn(move || {
            t1_has_written.wait();
            read_both_every_way(&stm, &x, &y, &before);
            t2_has_read.wait();
            t1_has_committed.wait();
            read_both_every_way(&stm, &x, &y, &after);
        })
    };
    t1.join().unwrap();
    t2.join().unwrap();

    for (how, vx, vy) in before.entries() {
        assert_eq!((vx, vy), (0, 0), "{how} during T1");
    }
    for (how, vx, vy) in after.entries() {
        assert_eq!((vx, vy), (2, 2), "{how} after T1's commit");
    }
    assert_eq!(t1_attempts.count(), 1);
}

/// P1, dirty read during a commit that is then refused: `w1[x] w1[y] c1-begins r2[x] r2[y]
/// a1 (validator)`.
///
/// T1 writes -1s and commits; its validator on x runs while T1 holds its commit locks and has
/// already taken its commit stamp, and waits there until T2 starts reading, then refuses. T2's
/// snapshots are taken after T1's stamp, so an STM that installed versions before running
/// validators (or let readers read past a held commit lock into a half-done install) would show
/// T2 the -1s; T2 must wait for the commit to finish and see the zeros.
#[test]
fn p1_dirty_read_of_a_write_refused_during_commit_is_impossible() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let y = stm.create_ref(0i64);
    let t1_is_committing = rendezvous();
    let validator_calls = Attempts::default();
    {
        let (calls, committing) = (validator_calls.clone(), t1_is_committing.clone());
        x.add_validator(move |&v| {
            if calls.start() == 1 {
                committing.wait();
            }
            if v == DIRTY {
                Err(ValidationError::new("x may not be dirty"))
            } else {
                Ok(())
            }
        });
    }
    let t1 = {
        let (stm, x, y) = (stm.clone(), x.clone(), y.clone());
        let (calls, committing) = (validator_calls.clone(), t1_is_committing.clone());
        thread::spawn(move || {
            let outcome = stm.atomically(|tx| {
                tx.write(&x, DIRTY);
                tx.write(&y, DIRTY);
                Ok::<_, StmError>(())
            });
            // An STM that never ran the validator must fail this test, not leave T2 waiting.
            if calls.count() == 0 {
                committing.wait();
            }
            outcome
        })
    };
    let seen = Journal::new();
    let t2 = {
        let (stm, x, y, seen) = (stm.clone(), x.clone(), y.clone(), seen.clone());
        thread::spawn(move || {
            t1_is_committing.wait();
            read_both_every_way(&stm, &x, &y, &seen);
        })
    };
    t2.join().unwrap();
    let refused = t1.join().unwrap();
    assert!(
        matches!(refused, Err(StmError::Validation(_))),
        "{refused:?}"
    );

    for (how, vx, vy) in seen.entries() {
        assert_eq!((vx, vy), (0, 0), "{how} saw a refused write");
    }
    assert_eq!((*x.current(), *y.current()), (0, 0));
    assert_eq!(stm.stats().aborts_validation, 1);
}

// ---------------------------------------------------------------------------------------------
// P2: non-repeatable (fuzzy) read.

/// The kind of transaction T1 runs in the read scripts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reader {
    /// `Stm::atomically` that also writes, so its reads are validated at commit.
    Update,
    /// `Stm::atomically` that only reads.
    ReadingTransaction,
    /// `Stm::read_only`.
    Snapshot,
    /// `Stm::read_only` over refs that keep a single version, so T2's commit evicts the version
    /// T1's snapshot needs.
    SnapshotOfShortHistory,
}

const READERS: [Reader; 4] = [
    Reader::Update,
    Reader::ReadingTransaction,
    Reader::Snapshot,
    Reader::SnapshotOfShortHistory,
];

/// Reads a ref inside whichever kind of transaction T1 runs.
type ReadRef<'a> = dyn FnMut(&Ref<i64>) -> Result<Arc<i64>, StmError> + 'a;

/// Runs `body` as T1 in the way `reader` says; `Update` also writes the body's result to `out`.
fn run_reader(
    stm: &Stm,
    reader: Reader,
    out: &Ref<i64>,
    mut body: impl FnMut(&mut ReadRef<'_>) -> Result<i64, StmError>,
) -> i64 {
    match reader {
        Reader::Update => stm
            .atomically(|tx| {
                let result = body(&mut |r| tx.read(r))?;
                tx.write(out, result);
                Ok::<_, StmError>(result)
            })
            .unwrap(),
        Reader::ReadingTransaction => stm.atomically(|tx| body(&mut |r| tx.read(r))).unwrap(),
        Reader::Snapshot | Reader::SnapshotOfShortHistory => {
            stm.read_only(|snap| body(&mut |r| snap.read(r))).unwrap()
        }
    }
}

fn stm_for(reader: Reader) -> Stm {
    match reader {
        Reader::SnapshotOfShortHistory => Stm::new(StmConfig {
            initial_history: 1,
            max_history: 1,
            ..StmConfig::default()
        }),
        _ => Stm::default(),
    }
}

/// One attempt of T1 in a read script: its number and the values it read (a read that missed
/// history and ended the attempt is absent).
type AttemptReads = (u32, Vec<i64>);

/// The values an attempt read: `first`, then `second` unless that read missed history.
fn once_then(first: i64, second: &Result<Arc<i64>, StmError>) -> Vec<i64> {
    std::iter::once(first)
        .chain(second.as_deref().ok().copied())
        .collect()
}

/// P2, non-repeatable read: `r1[x] w2[x] c2 r1[x] c1`.
///
/// T1 reads x, T2 changes x and commits, T1 reads x again. Within one attempt T1 must read the
/// same value twice (an STM that read the newest value instead of its snapshot's would give 0
/// then 1). What happens next depends on T1's kind: an update transaction fails validation and
/// retries once, reading 1 twice (and writes what it read, 1); a reading transaction or a
/// snapshot commits at once with 0 twice (it is serialised before T2); a snapshot whose version
/// was evicted by T2's commit misses on its second read and retries, pinned, reading 1 twice.
#[test]
fn p2_non_repeatable_read_is_impossible() {
    for reader in READERS {
        let stm = stm_for(reader);
        let x = stm.create_ref(0i64);
        let out = stm.create_ref(-1i64);
        let (t1_has_read, t2_has_committed) = (rendezvous(), rendezvous());
        let t1_reads: Journal<AttemptReads> = Journal::new();
        let t1 = {
            let (stm, x, out, reads) = (stm.clone(), x.clone(), out.clone(), t1_reads.clone());
            let (a, b) = (t1_has_read.clone(), t2_has_committed.clone());
            let attempts = Attempts::default();
            thread::spawn(move || {
                run_reader(&stm, reader, &out, |read| {
                    let attempt = attempts.start();
                    let first = *read(&x)?;
                    if attempt == 1 {
                        a.wait();
                        b.wait();
                    }
                    let second = read(&x);
                    // Record before `?`, so a read that misses history shows in the journal.
                    reads.record((attempt, once_then(first, &second)));
                    second.map(|v| *v)
                })
            })
        };
        let t2 = {
            let (stm, x) = (stm.clone(), x.clone());
            thread::spawn(move || {
                t1_has_read.wait();
                stm.atomically(|tx| {
                    tx.write(&x, 1);
                    Ok::<_, StmError>(())
                })
                .unwrap();
                t2_has_committed.wait();
            })
        };
        t2.join().unwrap();
        let returned = t1.join().unwrap();

        let attempts = t1_reads.entries();
        for (attempt, reads) in &attempts {
            if let [first, second] = reads[..] {
                assert_eq!(first, second, "{reader:?} attempt {attempt} read x twice");
            }
        }
        let expected: Vec<AttemptReads> = match reader {
            Reader::Update => vec![(1, vec![0, 0]), (2, vec![1, 1])],
            Reader::ReadingTransaction | Reader::Snapshot => vec![(1, vec![0, 0])],
            Reader::SnapshotOfShortHistory => vec![(1, vec![0]), (2, vec![1, 1])],
        };
        assert_eq!(attempts, expected, "{reader:?}: (attempt, values read)");
        let last = expected.last().unwrap().1[1];
        assert_eq!(returned, last, "{reader:?}");
        let stats = stm.stats();
        let (conflicts, misses) = match reader {
            Reader::Update => (1, 0),
            Reader::ReadingTransaction | Reader::Snapshot => (0, 0),
            Reader::SnapshotOfShortHistory => (0, 1),
        };
        assert_eq!(
            (stats.retries_conflict, stats.retries_read_miss),
            (conflicts, misses),
            "{reader:?}: {stats:?}"
        );
        if reader == Reader::Update {
            assert_eq!(*out.current(), 1, "the retried attempt wrote what it read");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// P4: lost update.

/// P4, lost update: `r1[x=0] r2[x=0] w2[x=1] c2 w1[x=1] c1`.
///
/// Both transactions read x = 0 and increment it; T2 commits first. T1's attempt must then fail
/// validation and retry, reading 1 and writing 2. Without read validation T1 would commit 1 over
/// T2's 1 and the final count would be 1.
#[test]
fn p4_lost_update_is_impossible() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let (both_have_read, t2_has_committed) = (rendezvous(), rendezvous());
    let (t1_seen, t2_seen) = (Journal::new(), Journal::new());
    let increment = |seen: &Journal<(u32, i64)>, wait_after_read: Vec<Arc<Barrier>>| {
        let (stm, x, seen) = (stm.clone(), x.clone(), seen.clone());
        let attempts = Attempts::default();
        move || {
            stm.atomically(|tx| {
                let attempt = attempts.start();
                let value = *tx.read(&x)?;
                seen.record((attempt, value));
                if attempt == 1 {
                    for barrier in &wait_after_read {
                        barrier.wait();
                    }
                }
                tx.write(&x, value + 1);
                Ok::<_, StmError>(())
            })
            .unwrap();
        }
    };
    let t1 = thread::spawn(increment(
        &t1_seen,
        vec![both_have_read.clone(), t2_has_committed.clone()],
    ));
    let t2_body = increment(&t2_seen, vec![both_have_read]);
    let t2 = thread::spawn(move || {
        t2_body();
        t2_has_committed.wait();
    });
    t2.join().unwrap();
    t1.join().unwrap();

    assert_eq!(*x.current(), 2, "both increments count");
    assert_eq!(t2_seen.entries(), [(1, 0)]);
    assert_eq!(
        t1_seen.entries(),
        [(1, 0), (2, 1)],
        "T1 retried after T2's commit"
    );
    let stats = stm.stats();
    assert_eq!((stats.commits, stats.retries_conflict), (2, 1), "{stats:?}");
}

// ---------------------------------------------------------------------------------------------
// A5A: read skew.

const HALF: i64 = 50;

/// A5A, read skew: `r1[x=50] w2[x=20] w2[y=80] c2 r1[y] c1`, with the invariant x + y = 100.
///
/// T1 reads x, T2 moves 30 from x to y and commits, T1 reads y. T1 must read y = 50 from its
/// snapshot (an STM reading the newest value would give 80 and a sum of 130), in every kind of
/// transaction; every attempt's sum is 100. An update transaction also writes the sum, fails
/// validation and retries once, then reads the transferred state; the others commit at once.
#[test]
fn a5a_read_skew_is_impossible() {
    for reader in READERS {
        let stm = stm_for(reader);
        let x = stm.create_ref(HALF);
        let y = stm.create_ref(HALF);
        let out = stm.create_ref(0i64);
        let (t1_has_read_x, t2_has_committed) = (rendezvous(), rendezvous());
        let t1_reads: Journal<AttemptReads> = Journal::new();
        let t1 = {
            let (stm, x, y, out) = (stm.clone(), x.clone(), y.clone(), out.clone());
            let (a, b, reads) = (
                t1_has_read_x.clone(),
                t2_has_committed.clone(),
                t1_reads.clone(),
            );
            let attempts = Attempts::default();
            thread::spawn(move || {
                run_reader(&stm, reader, &out, |read| {
                    let attempt = attempts.start();
                    let vx = *read(&x)?;
                    if attempt == 1 {
                        a.wait();
                        b.wait();
                    }
                    let vy = read(&y);
                    // Record before `?`, so a read that misses history shows in the journal.
                    reads.record((attempt, once_then(vx, &vy)));
                    Ok(vx + *vy?)
                })
            })
        };
        let t2 = {
            let (stm, x, y) = (stm.clone(), x.clone(), y.clone());
            thread::spawn(move || {
                t1_has_read_x.wait();
                stm.atomically(|tx| {
                    tx.alter(&x, |v| v - 30)?;
                    tx.alter(&y, |v| v + 30)
                })
                .unwrap();
                t2_has_committed.wait();
            })
        };
        t2.join().unwrap();
        let sum = t1.join().unwrap();

        let attempts = t1_reads.entries();
        for (attempt, reads) in &attempts {
            if let [vx, vy] = reads[..] {
                assert_eq!(vx + vy, 2 * HALF, "{reader:?} attempt {attempt}: {reads:?}");
            }
        }
        let expected: Vec<AttemptReads> = match reader {
            Reader::Update => vec![(1, vec![50, 50]), (2, vec![20, 80])],
            Reader::ReadingTransaction | Reader::Snapshot => vec![(1, vec![50, 50])],
            Reader::SnapshotOfShortHistory => vec![(1, vec![50]), (2, vec![20, 80])],
        };
        assert_eq!(attempts, expected, "{reader:?}: (attempt, values read)");
        assert_eq!(sum, 2 * HALF);
        if reader == Reader::Update {
            assert_eq!(*out.current(), 2 * HALF);
        }
        assert_eq!((*x.current(), *y.current()), (HALF - 30, HALF + 30));
    }
}

// ---------------------------------------------------------------------------------------------
// A5B: write skew.

/// A5B, write skew: `r1[x=1] r1[y=1] r2[x=1] r2[y=1] w2[y=0] c2 w1[x=0] c1`, with the
/// constraint x + y >= 1 (two doctors, at least one on call).
///
/// Both transactions see both doctors on call and each takes its own off call, writing disjoint
/// refs; T2 commits first. T1 must fail validation (y, which it read, changed), retry, see
/// that only it is left, and stay: x = 1, y = 0. Without read validation both would commit and
/// nobody would be on call.
#[test]
fn a5b_write_skew_is_impossible() {
    let stm = Stm::default();
    let x = stm.create_ref(1i64);
    let y = stm.create_ref(1i64);
    let (both_have_read, t2_has_committed) = (rendezvous(), rendezvous());
    let (t1_seen, t2_seen) = (Journal::new(), Journal::new());
    // Takes `mine` off call if both doctors are on call; returns whether it did.
    let go_off_call = |mine: &Ref<i64>,
                       other: &Ref<i64>,
                       seen: &Journal<AttemptReads>,
                       barriers: Vec<Arc<Barrier>>| {
        let (stm, mine, other, seen) = (stm.clone(), mine.clone(), other.clone(), seen.clone());
        let attempts = Attempts::default();
        move || {
            stm.atomically(|tx| {
                let attempt = attempts.start();
                let (m, o) = (*tx.read(&mine)?, *tx.read(&other)?);
                seen.record((attempt, vec![m, o]));
                if attempt == 1 {
                    for barrier in &barriers {
                        barrier.wait();
                    }
                }
                if m + o >= 2 {
                    tx.write(&mine, 0);
                    return Ok::<_, StmError>(true);
                }
                Ok(false)
            })
            .unwrap()
        }
    };
    let t1 = thread::spawn(go_off_call(
        &x,
        &y,
        &t1_seen,
        vec![both_have_read.clone(), t2_has_committed.clone()],
    ));
    let t2_body = go_off_call(&y, &x, &t2_seen, vec![both_have_read]);
    let t2 = thread::spawn(move || {
        let went = t2_body();
        t2_has_committed.wait();
        went
    });
    assert!(t2.join().unwrap(), "T2 went off call");
    assert!(!t1.join().unwrap(), "T1 stayed once it saw T2 gone");

    assert_eq!((*x.current(), *y.current()), (1, 0));
    assert_eq!(t2_seen.entries(), [(1, vec![1, 1])]);
    assert_eq!(
        t1_seen.entries(),
        [(1, vec![1, 1]), (2, vec![1, 0])],
        "T1 retried after T2's commit"
    );
    let stats = stm.stats();
    assert_eq!((stats.commits, stats.retries_conflict), (1, 1), "{stats:?}");
}
