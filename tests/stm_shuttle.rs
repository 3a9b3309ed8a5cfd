#![cfg(feature = "shuttle")]
//! Schedule exploration of the STM's commit protocol with [shuttle].
//!
//! With the `shuttle` feature the STM is built on shuttle's atomics, mutexes and `yield_now`
//! (see `src/stm/sync.rs`), so every load, store, lock and wait-loop round inside
//! `Stm::atomically`, `Stm::read_only` and `Ref::current` is a point where shuttle may switch
//! threads. Each scenario below spawns two or three shuttle threads that race small
//! transactions, then checks a property that any serializable, opaque STM must keep, and is run
//! under two schedulers:
//!
//! - the random scheduler, which switches at every scheduling point with uniform chance, and
//! - PCT (probabilistic concurrency testing), which runs threads by priority and changes
//!   priorities at a few random points, so it finds bugs that need a specific, small number of
//!   preemptions (the "bug depth") with a guaranteed probability per iteration.
//!
//! Assertions inside transaction bodies run on every attempt, including attempts that will be
//! retried, which is how opacity (a doomed attempt never sees an inconsistent snapshot) is
//! checked. Each scenario also reports whether its execution actually contended (some attempt
//! was retried, or a read missed history); a test fails if no explored schedule ever did, so a
//! green run cannot come from schedules that happened to serialise the threads.
//!
//! Shuttle runs one thread at a time and treats every atomic ordering as `SeqCst`, so these
//! tests explore interleavings, not weak-memory reorderings of the STM's Acquire/Release
//! accesses (it prints a warning saying so).
//!
//! A failure prints a schedule string; `shuttle::replay(scenario_fn, "<schedule>")` replays it
//! deterministically.
//!
//! Run with `cargo test --features shuttle --test stm_shuttle`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use ooloi_server::stm::{Ref, Stm, StmConfig, StmError, ValidationError};
use shuttle::sync::Mutex;
use shuttle::thread;

/// Iterations of the random scheduler per scenario.
const RANDOM_ITERATIONS: usize = 5_000;
/// Iterations of the PCT scheduler per scenario.
const PCT_ITERATIONS: usize = 5_000;
/// PCT's bug depth: one execution gets `PCT_DEPTH - 1` forced priority changes (preemptions).
/// The deepest interleaving here is "T1 reads, T2 commits, T1 misses and retries pinned, T2
/// commits again, T1 fails validation"; at depth 3 PCT found it only now and then, at depth 4
/// in every run.
const PCT_DEPTH: usize = 4;

/// Runs `scenario` once per iteration under the scheduler that `check` starts, and asserts that
/// at least one explored execution contended (the scenario returned true).
fn explore(scenario: fn() -> bool, check: impl FnOnce(Box<dyn Fn() + Send + Sync>)) {
    // A std atomic, deliberately outside shuttle's control: it only counts across executions
    // and is never part of the schedule being explored.
    let contended = Arc::new(AtomicUsize::new(0));
    let counter = contended.clone();
    check(Box::new(move || {
        if scenario() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }));
    assert!(
        contended.load(Ordering::Relaxed) > 0,
        "no explored schedule made any transaction retry; the scenario tests nothing"
    );
}

/// Declares `<scenario>::random` and `<scenario>::pct`, two tests running the scenario function
/// of the same name under each scheduler (separate tests so that they run in parallel and fail
/// separately).
macro_rules! explore {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn random() {
                super::explore(super::$scenario, |f| {
                    shuttle::check_random(f, super::RANDOM_ITERATIONS)
                });
            }

            #[test]
            fn pct() {
                super::explore(super::$scenario, |f| {
                    shuttle::check_pct(f, super::PCT_ITERATIONS, super::PCT_DEPTH)
                });
            }
        }
    };
}

/// Counts how many times a transaction body ran, so a scenario can tell retries apart. A std
/// atomic: it is test bookkeeping, not part of the protocol being explored.
#[derive(Clone, Default)]
struct Attempts(Arc<AtomicU32>);

impl Attempts {
    /// Records one more run of the body.
    fn start(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------------
// (a) Lost update: two threads each increment one counter twice with read-then-write.

/// Both threads read the counter and write it plus one. Every committed increment must have read
/// a different predecessor (0, 1, 2, 3 in some order), so the final count is exactly 4; a lost
/// update would show two commits that read the same value and a final count below 4.
fn lost_update() -> bool {
    let stm = Stm::default();
    let counter = stm.create_ref(0u64);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (stm, counter) = (stm.clone(), counter.clone());
            thread::spawn(move || {
                (0..2)
                    .map(|_| {
                        stm.atomically(|tx| {
                            let seen = *tx.read(&counter)?;
                            tx.write(&counter, seen + 1);
                            Ok::<_, StmError>(seen)
                        })
                        .unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seen: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [0, 1, 2, 3],
        "each committed increment read the value the previous one wrote"
    );
    assert_eq!(*counter.current(), 4);
    let stats = stm.stats();
    assert_eq!(stats.commits, 4);
    stats.retries() > 0
}
explore!(lost_update);

// ---------------------------------------------------------------------------------------------
// (b) Opacity: two transfers over two refs race a reader that checks the sum in every attempt.

const ACCOUNT_START: i64 = 100;
const ACCOUNT_TOTAL: i64 = 2 * ACCOUNT_START;

/// Moves `amount` from `from` to `to`, checking the total inside the attempt.
fn transfer(stm: &Stm, from: &Ref<i64>, to: &Ref<i64>, amount: i64) {
    stm.atomically(|tx| {
        let (f, t) = (*tx.read(from)?, *tx.read(to)?);
        assert_eq!(f + t, ACCOUNT_TOTAL, "a transfer saw a torn snapshot");
        tx.write(from, f - amount);
        tx.write(to, t + amount);
        Ok::<_, StmError>(())
    })
    .unwrap();
}

/// Thread 1 moves 30 from `a` to `b`, thread 2 moves 50 from `b` to `a` (reading in the other
/// order). Thread 3 checks `a + b` three ways: in an update transaction that reads both and
/// writes the sum to an audit ref (validated at commit), in a read-only `atomically`, and in
/// `read_only`. Every attempt, also one that is later retried, must see the invariant sum: a
/// read that straddles a commit and mixes old `a` with new `b` fails the assertion in the body.
fn transfers_and_readers() -> bool {
    let stm = Stm::default();
    let a = stm.create_ref(ACCOUNT_START);
    let b = stm.create_ref(ACCOUNT_START);
    let audit = stm.create_ref(0i64);
    let forth = {
        let (stm, a, b) = (stm.clone(), a.clone(), b.clone());
        thread::spawn(move || transfer(&stm, &a, &b, 30))
    };
    let back = {
        let (stm, a, b) = (stm.clone(), a.clone(), b.clone());
        thread::spawn(move || transfer(&stm, &b, &a, 50))
    };
    let reader = {
        let (stm, a, b, audit) = (stm.clone(), a.clone(), b.clone(), audit.clone());
        thread::spawn(move || {
            stm.atomically(|tx| {
                let sum = *tx.read(&a)? + *tx.read(&b)?;
                assert_eq!(sum, ACCOUNT_TOTAL, "an update attempt saw a torn snapshot");
                tx.write(&audit, sum);
                Ok::<_, StmError>(())
            })
            .unwrap();
            let sum = stm
                .atomically(|tx| {
                    let sum = *tx.read(&a)? + *tx.read(&b)?;
                    assert_eq!(sum, ACCOUNT_TOTAL, "a reading attempt saw a torn snapshot");
                    Ok::<_, StmError>(sum)
                })
                .unwrap();
            assert_eq!(sum, ACCOUNT_TOTAL);
            let sum = stm
                .read_only(|snap| {
                    let sum = *snap.read(&a)? + *snap.read(&b)?;
                    assert_eq!(sum, ACCOUNT_TOTAL, "a snapshot was torn");
                    Ok::<_, StmError>(sum)
                })
                .unwrap();
            assert_eq!(sum, ACCOUNT_TOTAL);
        })
    };
    for t in [forth, back, reader] {
        t.join().unwrap();
    }
    assert_eq!(
        (*a.current(), *b.current()),
        (ACCOUNT_START - 30 + 50, ACCOUNT_START + 30 - 50)
    );
    assert_eq!(*audit.current(), ACCOUNT_TOTAL);
    stm.stats().retries() > 0
}
explore!(transfers_and_readers);

// ---------------------------------------------------------------------------------------------
// (c) Write skew: two doctors on call, at least one must stay.

/// `x` and `y` are 1 when a doctor is on call; the constraint is `x + y >= 1`. Each thread reads
/// both and, if both are on call, takes its own doctor off call (writes only its own ref). The
/// two write sets are disjoint, so only validation of the read set can stop both from going:
/// exactly one may leave.
fn write_skew() -> bool {
    let stm = Stm::default();
    let x = stm.create_ref(1u8);
    let y = stm.create_ref(1u8);
    let threads: Vec<_> = [(x.clone(), y.clone()), (y.clone(), x.clone())]
        .into_iter()
        .map(|(mine, other)| {
            let stm = stm.clone();
            thread::spawn(move || {
                stm.atomically(|tx| {
                    let on_call = *tx.read(&mine)? + *tx.read(&other)?;
                    if on_call >= 2 {
                        tx.write(&mine, 0);
                        return Ok::<_, StmError>(true);
                    }
                    Ok(false)
                })
                .unwrap()
            })
        })
        .collect();
    let left: usize = threads
        .into_iter()
        .map(|t| usize::from(t.join().unwrap()))
        .sum();
    assert_eq!(left, 1, "exactly one doctor went off call");
    assert_eq!(*x.current() + *y.current(), 1, "someone is still on call");
    stm.stats().retries() > 0
}
explore!(write_skew);

// ---------------------------------------------------------------------------------------------
// (d) Watches and on-commit effects: exactly once per commit, in commit order per ref.

/// One entry of the effect log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// A watch on ref `on` ran for the commit stamped `stamp`.
    Watch {
        on: char,
        old: u64,
        new: u64,
        stamp: u64,
    },
    /// An `on_commit` effect ran for a commit that set `a` and/or `b` to these values.
    Effect { a: Option<u64>, b: Option<u64> },
}

/// Increments `a` and/or `b` in one transaction and logs an `on_commit` effect with the values
/// written. The effect also checks that it runs after the commit is visible.
fn increment_logged(
    stm: &Stm,
    refs: &[(char, &Ref<u64>)],
    log: &Arc<Mutex<Vec<Event>>>,
    attempts: &Attempts,
) {
    stm.atomically(|tx| {
        attempts.start();
        let (mut a, mut b) = (None, None);
        for &(name, r) in refs {
            let new = *tx.read(r)? + 1;
            tx.write(r, new);
            if name == 'a' {
                a = Some(new)
            } else {
                b = Some(new)
            }
        }
        let log = log.clone();
        let written: Vec<(Ref<u64>, u64)> = refs
            .iter()
            .filter_map(|&(name, r)| Some((r.clone(), if name == 'a' { a } else { b }?)))
            .collect();
        tx.on_commit(move || {
            for (r, value) in &written {
                assert!(
                    *r.current() >= *value,
                    "an on_commit effect ran before its commit was visible"
                );
            }
            log.lock().unwrap().push(Event::Effect { a, b });
        });
        Ok::<_, StmError>(())
    })
    .unwrap();
}

/// Thread 1 increments `a` twice, thread 2 increments `a` and `b` together, thread 3 increments
/// `b`, each in its own transaction with an `on_commit` effect; both refs have a watch. The four
/// effects and five watch calls go to one log. Per ref, the log must show each committed value exactly
/// once from its watch and once from its commit's effect, all of one commit's entries before any
/// of the next commit's (values are increments, so commit order is value order). A retried
/// attempt running its effect, an effect running twice, or two commits' effects overtaking each
/// other all break the exact sequences checked here.
fn effects_in_commit_order() -> bool {
    let stm = Stm::default();
    let a = stm.create_ref(0u64);
    let b = stm.create_ref(0u64);
    let log = Arc::new(Mutex::new(Vec::new()));
    for (name, r) in [('a', &a), ('b', &b)] {
        let log = log.clone();
        r.add_watch("log", move |old, new, stamp| {
            log.lock().unwrap().push(Event::Watch {
                on: name,
                old: **old,
                new: **new,
                stamp,
            });
        });
    }
    let attempts = Attempts::default();
    let plans: [Vec<Vec<char>>; 3] = [
        vec![vec!['a'], vec!['a']],
        vec![vec!['a', 'b']],
        vec![vec!['b']],
    ];
    let threads: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let (stm, a, b, log, attempts) = (
                stm.clone(),
                a.clone(),
                b.clone(),
                log.clone(),
                attempts.clone(),
            );
            thread::spawn(move || {
                for names in plan {
                    let refs: Vec<(char, &Ref<u64>)> = names
                        .iter()
                        .map(|&n| (n, if n == 'a' { &a } else { &b }))
                        .collect();
                    increment_logged(&stm, &refs, &log, &attempts);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let log = log.lock().unwrap().clone();
    for (name, commits) in [('a', 3u64), ('b', 2)] {
        // This ref's part of the log: the value each entry belongs to, in the order they ran.
        let values: Vec<u64> = log
            .iter()
            .filter_map(|e| match *e {
                Event::Watch { on, new, .. } if on == name => Some(new),
                Event::Effect { a, b } => {
                    if name == 'a' {
                        a
                    } else {
                        b
                    }
                }
                Event::Watch { .. } => None,
            })
            .collect();
        let expected: Vec<u64> = (1..=commits).flat_map(|v| [v, v]).collect();
        assert_eq!(
            values, expected,
            "ref {name}: one watch and one effect per commit, in commit order"
        );
        let watches: Vec<(u64, u64, u64)> = log
            .iter()
            .filter_map(|e| match *e {
                Event::Watch {
                    on,
                    old,
                    new,
                    stamp,
                } if on == name => Some((old, new, stamp)),
                _ => None,
            })
            .collect();
        for &(old, new, _) in &watches {
            assert_eq!(
                old + 1,
                new,
                "ref {name}: a watch gets the value it replaced"
            );
        }
        for pair in watches.windows(2) {
            assert!(pair[0].2 < pair[1].2, "ref {name}: watch stamps increase");
        }
    }
    // The a-and-b commit gives both its watches the same stamp: four commits, four stamps.
    // (Not necessarily 1..=4: an attempt that fails validation has already taken a stamp.)
    let mut stamps: Vec<u64> = log
        .iter()
        .filter_map(|e| match *e {
            Event::Watch { stamp, .. } => Some(stamp),
            Event::Effect { .. } => None,
        })
        .collect();
    stamps.sort_unstable();
    stamps.dedup();
    assert_eq!(
        stamps.len(),
        4,
        "stamps of the five watch calls: {stamps:?}"
    );
    assert_eq!(stm.stats().commits, 4);
    attempts.get() > 4
}
explore!(effects_in_commit_order);

// ---------------------------------------------------------------------------------------------
// (e) A validator that refuses a commit leaves every ref of that transaction unchanged.

/// The most `a` may hold.
const A_LIMIT: u64 = 5;

/// `a` has a validator allowing at most 5. Thread 1 adds 4 to `a` and `b` with `alter`; thread 2
/// adds 3 to both with `commute` (so its validator runs on a value computed at commit). Whichever
/// commits second would take `a` to 7 and is refused, and must leave `b` alone as well: `a == b`
/// always, in every snapshot thread 3 takes and at the end; the refused transaction's
/// `on_commit` effect and `b`'s watch never run for it.
fn validator_refusal() -> bool {
    let stm = Stm::default();
    let a = stm.create_ref(0u64);
    let b = stm.create_ref(0u64);
    a.add_validator(|&v| {
        if v <= A_LIMIT {
            Ok(())
        } else {
            Err(ValidationError::new(format!("a = {v} exceeds {A_LIMIT}")))
        }
    });
    let b_watched = Arc::new(Mutex::new(Vec::new()));
    {
        let b_watched = b_watched.clone();
        b.add_watch("log", move |_, new, _| {
            b_watched.lock().unwrap().push(**new)
        });
    }
    let effects = Arc::new(Mutex::new(Vec::new()));
    let adder = |amount: u64, commute: bool| {
        let (stm, a, b, effects) = (stm.clone(), a.clone(), b.clone(), effects.clone());
        thread::spawn(move || {
            stm.atomically(|tx| {
                if commute {
                    tx.commute(&a, move |v| v + amount);
                    tx.commute(&b, move |v| v + amount);
                } else {
                    tx.alter(&a, |v| v + amount)?;
                    tx.alter(&b, |v| v + amount)?;
                }
                let effects = effects.clone();
                tx.on_commit(move || effects.lock().unwrap().push(amount));
                Ok::<_, StmError>(amount)
            })
        })
    };
    let four = adder(4, false);
    let three = adder(3, true);
    let reader = {
        let (stm, a, b) = (stm.clone(), a.clone(), b.clone());
        thread::spawn(move || {
            stm.read_only(|snap| {
                let (a, b) = (*snap.read(&a)?, *snap.read(&b)?);
                assert_eq!(a, b, "a snapshot shows half of a transaction");
                Ok::<_, StmError>(())
            })
            .unwrap();
        })
    };
    let outcomes = [four.join().unwrap(), three.join().unwrap()];
    reader.join().unwrap();
    let committed: Vec<u64> = outcomes.iter().filter_map(|o| o.clone().ok()).collect();
    assert_eq!(
        committed.len(),
        1,
        "exactly one adder commits: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(StmError::Validation(_)))),
        "the other is refused by the validator: {outcomes:?}"
    );
    let winner = committed[0];
    assert_eq!((*a.current(), *b.current()), (winner, winner));
    assert_eq!(*effects.lock().unwrap(), [winner]);
    assert_eq!(*b_watched.lock().unwrap(), [winner]);
    let stats = stm.stats();
    assert_eq!((stats.commits, stats.aborts_validation), (1, 1));
    stats.retries() > 0
}
explore!(validator_refusal);

// ---------------------------------------------------------------------------------------------
// (f) Commute: concurrent commutes of one ref lose nothing and never conflict.

/// Thread 1 commutes +1 twice and thread 2 commutes +10 twice, in separate transactions that do
/// not read the counter. Thread 3 commutes +100, reads the counter (its in-transaction view, which
/// makes the read subject to validation), commutes +100 again and reads again: the second view
/// must be the first plus 100. Every addition must land exactly once (total 222; the digits say
/// which thread's would be missing), and only thread 3 may ever retry for a conflict.
fn commutes_lose_nothing() -> bool {
    let stm = Stm::default();
    let counter = stm.create_ref(0u64);
    let blind: Vec<_> = [1u64, 10]
        .into_iter()
        .map(|amount| {
            let (stm, counter) = (stm.clone(), counter.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    stm.atomically(|tx| {
                        tx.commute(&counter, move |v| v + amount);
                        Ok::<_, StmError>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    let reader_attempts = Attempts::default();
    let reading = {
        let (stm, counter, attempts) = (stm.clone(), counter.clone(), reader_attempts.clone());
        thread::spawn(move || {
            stm.atomically(|tx| {
                attempts.start();
                tx.commute(&counter, |v| v + 100);
                let first = *tx.read(&counter)?;
                tx.commute(&counter, |v| v + 100);
                let second = *tx.read(&counter)?;
                assert_eq!(
                    second,
                    first + 100,
                    "a commute updates the view already read"
                );
                // The blind commutes add at most 22, so the hundreds are this transaction's own.
                assert_eq!(first / 100, 1, "its own commute is in the view");
                Ok::<_, StmError>(())
            })
            .unwrap();
        })
    };
    for t in blind {
        t.join().unwrap();
    }
    reading.join().unwrap();
    assert_eq!(*counter.current(), 2 + 20 + 200);
    let stats = stm.stats();
    assert_eq!(stats.commits, 5);
    assert!(
        u64::from(reader_attempts.get() - 1) >= stats.retries_conflict,
        "a transaction that only commutes retried for a conflict: {stats:?}"
    );
    reader_attempts.get() > 1
}
explore!(commutes_lose_nothing);

// ---------------------------------------------------------------------------------------------
// (g) Read-only snapshots over a one-version history: misses, pins and their release.

/// Commits of the writer thread.
const PIN_WRITES: u64 = 3;

/// Every ref keeps exactly one version (`initial_history` = `max_history` = 1), so history
/// cannot grow: a reader whose snapshot is overtaken by a commit misses, and only pinning can
/// get it through. The writer thread commits `a += 1, b += 1` three times. Thread 2 runs a
/// `read_only` that reads `a`, `b` and `a` again; it must see `a == b` and the same `a` twice in
/// every attempt, and must commit by its second attempt (the pinned one), however the writer is
/// scheduled. Thread 3 reads both and writes their sum to an audit ref: after a miss its next
/// attempt is pinned too, and when that attempt then fails validation because the writer moved
/// on, the next one must read a newer snapshot (retrying on the same one could never commit).
/// Afterwards one more commit must trim every ref back to one version: no pin outlives its
/// transaction.
fn pinned_snapshots() -> bool {
    let stm = Stm::new(StmConfig {
        initial_history: 1,
        max_history: 1,
        ..StmConfig::default()
    });
    let a = stm.create_ref(0u64);
    let b = stm.create_ref(0u64);
    let audit = stm.create_ref(0u64);
    let writer = {
        let (stm, a, b) = (stm.clone(), a.clone(), b.clone());
        thread::spawn(move || {
            for _ in 0..PIN_WRITES {
                stm.atomically(|tx| {
                    tx.alter(&a, |v| v + 1)?;
                    tx.alter(&b, |v| v + 1)
                })
                .unwrap();
            }
        })
    };
    let snapshot_attempts = Attempts::default();
    let snapshot_reader = {
        let (stm, a, b, attempts) = (stm.clone(), a.clone(), b.clone(), snapshot_attempts.clone());
        thread::spawn(move || {
            stm.read_only(|snap| {
                attempts.start();
                let first_a = *snap.read(&a)?;
                let b = *snap.read(&b)?;
                let second_a = *snap.read(&a)?;
                assert_eq!(
                    (first_a, second_a),
                    (b, b),
                    "a snapshot changed or was torn"
                );
                assert!(b <= PIN_WRITES);
                Ok::<_, StmError>(())
            })
            .unwrap();
        })
    };
    let auditor = {
        let (stm, a, b, audit) = (stm.clone(), a.clone(), b.clone(), audit.clone());
        thread::spawn(move || {
            stm.atomically(|tx| {
                let (a, b) = (*tx.read(&a)?, *tx.read(&b)?);
                assert_eq!(a, b, "an update attempt saw a torn snapshot");
                tx.write(&audit, a + b);
                Ok::<_, StmError>(())
            })
            .unwrap();
        })
    };
    for t in [writer, snapshot_reader, auditor] {
        t.join().unwrap();
    }
    assert!(
        snapshot_attempts.get() <= 2,
        "a pinned read-only attempt missed history ({} attempts)",
        snapshot_attempts.get()
    );
    stm.atomically(|tx| {
        tx.alter(&a, |v| v + 1)?;
        tx.alter(&b, |v| v + 1)
    })
    .unwrap();
    let audited = *audit.current();
    assert!(
        audited.is_multiple_of(2) && audited <= 2 * PIN_WRITES,
        "the audit saw a committed state: {audited}"
    );
    for r in [&a, &b] {
        assert_eq!(*r.current(), PIN_WRITES + 1);
        assert_eq!(
            r.history_capacity(),
            1,
            "history never grows past max_history"
        );
        assert_eq!(
            r.history_len(),
            1,
            "a released pin still holds a version of {r:?}"
        );
    }
    assert_eq!(stm.stats().history_growth, 0);
    snapshot_attempts.get() > 1
}
explore!(pinned_snapshots);
