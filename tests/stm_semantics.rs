//! The STM's promises one by one: effects exactly once (also under forced retries), validators,
//! commute without conflicts, long readers under continuous writes, user aborts, panics
//! anywhere in a transaction, the retry limit, and reading one's own writes and commutes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use ooloi_server::stm::{Ref, RetryCause, Stm, StmConfig, StmError, ValidationError};

#[derive(Debug, PartialEq)]
enum AppError {
    Stm(StmError),
    Refused(&'static str),
}

impl From<StmError> for AppError {
    fn from(e: StmError) -> Self {
        AppError::Stm(e)
    }
}

/// Reads one ref in whatever kind of transaction the caller runs.
type ReadRef<'a> = dyn FnMut(&Ref<i64>) -> Result<Arc<i64>, StmError> + 'a;

/// Commits a write to `r` from another thread while the caller is inside a transaction, so
/// that the caller's read of `r` is stale at its commit.
fn interfere(stm: &Stm, r: &Ref<i64>, value: i64) {
    let (stm, r) = (stm.clone(), r.clone());
    std::thread::spawn(move || {
        stm.atomically(|tx| {
            tx.write(&r, value);
            Ok::<_, StmError>(())
        })
        .unwrap()
    })
    .join()
    .unwrap();
}

#[test]
fn effects_and_watches_run_exactly_once_under_forced_retries() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let watched = Arc::new(Mutex::new(Vec::new()));
    let w = watched.clone();
    x.add_watch("log", move |old, new, _stamp| {
        w.lock().unwrap().push((**old, **new))
    });
    let effects = Arc::new(AtomicU32::new(0));
    let attempts = AtomicU32::new(0);
    stm.atomically(|tx| {
        let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let v = *tx.read(&x)?;
        if n <= 3 {
            // Forces a conflict on the first three attempts.
            interfere(&stm, &x, 100 * i64::from(n));
        }
        tx.write(&x, v + 1);
        let e = effects.clone();
        tx.on_commit(move || {
            e.fetch_add(1, Ordering::SeqCst);
        });
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    assert_eq!(effects.load(Ordering::SeqCst), 1, "one commit, one effect");
    assert_eq!(*x.current(), 301);
    // Three interfering commits and ours, each watched exactly once, in commit order.
    assert_eq!(
        *watched.lock().unwrap(),
        [(0, 100), (100, 200), (200, 300), (300, 301)]
    );
    assert_eq!(stm.stats().retries_conflict, 3);
}

#[test]
fn effects_follow_commit_order_per_ref_under_concurrency() {
    let stm = Stm::default();
    let counter = stm.create_ref(0u64);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    counter.add_watch("order", move |_, new, stamp| {
        s.lock().unwrap().push((stamp, **new))
    });
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (stm, counter) = (stm.clone(), counter.clone());
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    stm.atomically(|tx| tx.alter(&counter, |c| c + 1)).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 8_000);
    // Watches ran in commit order: stamps and values both strictly increase.
    assert!(
        seen.windows(2)
            .all(|w| w[0].0 < w[1].0 && w[1].1 == w[0].1 + 1)
    );
}

#[test]
fn a_refusing_validator_fails_the_commit_and_writes_nothing() {
    let stm = Stm::default();
    let (a, b) = (stm.create_ref(10i64), stm.create_ref(0i64));
    a.add_validator(|v| {
        if *v >= 0 {
            Ok(())
        } else {
            Err(ValidationError::new("balance must not go negative"))
        }
    });
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let result = stm.atomically(|tx| {
        tx.alter(&a, |v| v - 20)?;
        tx.alter(&b, |v| v + 20)?;
        let r = r.clone();
        tx.on_commit(move || r.store(true, Ordering::SeqCst));
        Ok::<_, StmError>(())
    });
    assert_eq!(
        result,
        Err(StmError::Validation(ValidationError::new(
            "balance must not go negative"
        )))
    );
    assert_eq!((*a.current(), *b.current()), (10, 0), "neither ref changed");
    assert!(!ran.load(Ordering::SeqCst), "no effect of a refused commit");
    assert_eq!(stm.stats().aborts_validation, 1);
    // The refs are not left locked: a valid transaction commits.
    stm.atomically(|tx| tx.alter(&a, |v| v - 10)).unwrap();
    assert_eq!(*a.current(), 0);
}

#[test]
fn commuting_a_hot_counter_from_many_threads_loses_nothing_and_retries_nothing() {
    let stm = Stm::default();
    let counter = stm.create_ref(0u64);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (stm, counter) = (stm.clone(), counter.clone());
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    stm.atomically(|tx| {
                        tx.commute(&counter, |c| c + 1);
                        Ok::<_, StmError>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*counter.current(), 80_000);
    let stats = stm.stats();
    assert_eq!(stats.retries(), 0, "{stats:?}");
    assert_eq!(stats.commits, 80_000);
}

#[test]
fn a_long_reader_commits_within_two_attempts_while_writers_commit_continuously() {
    let stm = Stm::default();
    let refs: Arc<Vec<Ref<i64>>> = Arc::new((0..16).map(|_| stm.create_ref(100)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let (stm, refs, stop, writes) =
                (stm.clone(), refs.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let (from, to) = ((i % 16) as usize, ((i * 7 + 3) % 16) as usize);
                    stm.atomically(|tx| {
                        let a = *tx.read(&refs[from])?;
                        let b = *tx.read(&refs[to])?;
                        if from != to {
                            tx.write(&refs[from], a - 1);
                            tx.write(&refs[to], b + 1);
                        }
                        Ok::<_, StmError>(())
                    })
                    .unwrap();
                    writes.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    // Let the writers get going, then scan with a 50 ms pause in the middle, twice: once as a
    // read-only transaction, once through the update path.
    while writes.load(Ordering::Relaxed) < 1_000 {
        std::thread::yield_now();
    }
    for read_only in [true, false] {
        let attempts = AtomicU32::new(0);
        let before = writes.load(Ordering::Relaxed);
        let scan = |read: &mut ReadRef<'_>| {
            attempts.fetch_add(1, Ordering::SeqCst);
            let mut sum = 0;
            for (i, r) in refs.iter().enumerate() {
                if i == 8 {
                    std::thread::sleep(Duration::from_millis(50));
                }
                sum += *read(r)?;
            }
            Ok::<_, StmError>(sum)
        };
        let sum = if read_only {
            stm.read_only(|snap| scan(&mut |r| snap.read(r))).unwrap()
        } else {
            stm.atomically(|tx| scan(&mut |r| tx.read(r))).unwrap()
        };
        assert_eq!(sum, 1_600);
        let during = writes.load(Ordering::Relaxed) - before;
        assert!(
            during > 100,
            "writers kept committing during the scan ({during})"
        );
        let attempts = attempts.load(Ordering::SeqCst);
        assert!(attempts <= 2, "read_only={read_only}: {attempts} attempts");
    }
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
}

#[test]
fn an_error_from_the_body_aborts_with_nothing_written_and_no_effect() {
    let stm = Stm::default();
    let x = stm.create_ref(1i64);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let result: Result<(), AppError> = stm.atomically(|tx| {
        tx.write(&x, 2);
        let r = r.clone();
        tx.on_commit(move || r.store(true, Ordering::SeqCst));
        Err(AppError::Refused("changed my mind"))
    });
    assert_eq!(result, Err(AppError::Refused("changed my mind")));
    assert_eq!(*x.current(), 1);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(stm.stats().aborts_user, 1);
}

#[test]
fn a_panic_in_the_body_a_commute_or_a_validator_leaves_no_trace() {
    let stm = Stm::default();
    let (x, y) = (stm.create_ref(1i64), stm.create_ref(1i64));
    y.add_validator(|v| {
        assert!(*v != 13, "validator panics on 13");
        Ok(())
    });
    let body_panic = catch_unwind(AssertUnwindSafe(|| {
        stm.atomically(|tx| {
            tx.write(&x, 2);
            panic!("body panics after a write");
            #[allow(unreachable_code)]
            Ok::<_, StmError>(())
        })
    }));
    let commute_panic = catch_unwind(AssertUnwindSafe(|| {
        stm.atomically(|tx| {
            tx.write(&x, 3);
            tx.commute(&y, |_| panic!("commute panics at commit"));
            Ok::<_, StmError>(())
        })
    }));
    let validator_panic = catch_unwind(AssertUnwindSafe(|| {
        stm.atomically(|tx| {
            tx.write(&x, 4);
            tx.write(&y, 13);
            Ok::<_, StmError>(())
        })
    }));
    assert!(body_panic.is_err() && commute_panic.is_err() && validator_panic.is_err());
    assert_eq!(
        (*x.current(), *y.current()),
        (1, 1),
        "no write survived a panic"
    );
    // Nothing is left locked or poisoned: both refs commit normally, from another thread too.
    stm.atomically(|tx| {
        tx.alter(&x, |v| v + 10)?;
        tx.alter(&y, |v| v + 10)
    })
    .unwrap();
    let (stm2, x2) = (stm.clone(), x.clone());
    std::thread::spawn(move || stm2.atomically(|tx| tx.alter(&x2, |v| v + 1)).unwrap())
        .join()
        .unwrap();
    assert_eq!((*x.current(), *y.current()), (12, 11));
}

#[test]
fn a_panicking_effect_keeps_the_commit_and_does_not_block_later_effects() {
    let stm = Stm::default();
    let x = stm.create_ref(0i64);
    let result = catch_unwind(AssertUnwindSafe(|| {
        stm.atomically(|tx| {
            tx.write(&x, 1);
            tx.on_commit(|| panic!("effect panics"));
            Ok::<_, StmError>(())
        })
    }));
    assert!(result.is_err(), "the effect's panic reaches the caller");
    assert_eq!(*x.current(), 1, "the commit stands");
    let ran = Arc::new(AtomicBool::new(false));
    stm.atomically(|tx| {
        tx.write(&x, 2);
        let r = ran.clone();
        tx.on_commit(move || r.store(true, Ordering::SeqCst));
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert!(
        ran.load(Ordering::SeqCst),
        "the next commit's effects ran (no wait forever)"
    );
}

#[test]
fn a_transaction_that_always_conflicts_gives_up_at_the_retry_limit() {
    let stm = Stm::new(StmConfig {
        max_retries: 3,
        ..StmConfig::default()
    });
    let x = stm.create_ref(0i64);
    let attempts = AtomicU32::new(0);
    let result = stm.atomically(|tx| {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        let v = *tx.read(&x)?;
        interfere(&stm, &x, 1000 + i64::from(n));
        tx.write(&x, v + 1);
        Ok::<_, StmError>(())
    });
    assert_eq!(
        result,
        Err(StmError::RetriesExhausted {
            attempts: 3,
            last_cause: RetryCause::Conflict
        })
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(*x.current(), 1002, "only the interfering commits landed");
    assert_eq!(stm.stats().aborts_retries_exhausted, 1);
}

#[test]
fn a_transaction_reads_its_own_writes_and_commutes() {
    let stm = Stm::default();
    let (x, c) = (stm.create_ref(1i64), stm.create_ref(10i64));
    let seen = stm
        .atomically(|tx| {
            tx.write(&x, 5);
            let own = *tx.read(&x)?;
            tx.commute(&c, |v| v + 1);
            let commuted = *tx.read(&c)?;
            tx.commute(&c, |v| v * 2);
            let twice = *tx.read(&c)?;
            Ok::<_, StmError>((own, commuted, twice))
        })
        .unwrap();
    assert_eq!(seen, (5, 11, 22));
    assert_eq!((*x.current(), *c.current()), (5, 22));
}

#[test]
fn commutes_are_applied_again_to_the_newest_value_at_commit() {
    let stm = Stm::default();
    let c = stm.create_ref(0i64);
    let barrier = Barrier::new(2);
    let attempts = AtomicU32::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            stm.atomically(|tx| {
                attempts.fetch_add(1, Ordering::SeqCst);
                tx.commute(&c, |v| v + 1);
                barrier.wait();
                // The other thread commits +100 here; this commute must land on top of it.
                barrier.wait();
                Ok::<_, StmError>(())
            })
            .unwrap()
        });
        barrier.wait();
        stm.atomically(|tx| tx.alter(&c, |v| v + 100)).unwrap();
        barrier.wait();
    });
    assert_eq!(*c.current(), 101);
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "a commute never retries"
    );
}

#[test]
fn writing_after_a_commute_replaces_it() {
    let stm = Stm::default();
    let c = stm.create_ref(7i64);
    stm.atomically(|tx| {
        tx.commute(&c, |v| v + 1);
        tx.write(&c, 100);
        tx.commute(&c, |v| v + 1);
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert_eq!(*c.current(), 101);
}

#[test]
#[should_panic(expected = "belongs to a different Stm")]
fn a_ref_of_another_stm_is_refused() {
    let (a, b) = (Stm::default(), Stm::default());
    let foreign = b.create_ref(1);
    let _ = a.atomically(|tx| tx.read(&foreign).map(|v| *v));
}

#[test]
fn a_conflict_after_a_pinned_retry_takes_a_fresh_snapshot() {
    let stm = Stm::new(StmConfig {
        initial_history: 1,
        max_retries: 50,
        ..StmConfig::default()
    });
    let a = stm.create_ref(0u64);
    let mut attempts = 0;
    let outcome: Result<(), StmError> = stm.atomically(|tx| {
        attempts += 1;
        if attempts == 1 {
            // A newer version evicts the one at this snapshot: the read misses, and the next
            // attempt runs pinned.
            stm.atomically(|other| other.alter(&a, |v| v + 1)).unwrap();
        }
        let v = *tx.read(&a)?;
        if attempts == 2 {
            // A commit after the pin: the pinned attempt conflicts at commit.
            stm.atomically(|other| other.alter(&a, |v| v + 1)).unwrap();
        }
        tx.write(&a, v + 10);
        Ok(())
    });
    assert_eq!(outcome, Ok(()), "after {attempts} attempts");
    assert_eq!(
        attempts, 3,
        "miss, conflict, then commit on a fresh snapshot"
    );
    assert_eq!(*a.current(), 12);
}

#[test]
fn an_effect_that_commits_to_its_own_ref_runs_that_commits_effects_right_after() {
    let stm = Stm::default();
    let r = stm.create_ref(0u64);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    r.add_watch("log", move |old, new, _| {
        l.lock().unwrap().push((**old, **new))
    });
    let (stm2, r2, log2) = (stm.clone(), r.clone(), log.clone());
    stm.atomically(|tx| {
        tx.write(&r, 1);
        let (stm3, r3, log3) = (stm2.clone(), r2.clone(), log2.clone());
        tx.on_commit(move || {
            // Returns at once: the nested commit's effects wait for this effect to finish.
            stm3.atomically(|tx| {
                tx.write(&r3, 2);
                Ok::<_, StmError>(())
            })
            .unwrap();
            log3.lock().unwrap().push((100, 100));
        });
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert_eq!(*r.current(), 2);
    assert_eq!(*log.lock().unwrap(), [(0, 1), (100, 100), (1, 2)]);
    // Later writers of the ref are not stuck behind it.
    stm.atomically(|tx| tx.alter(&r, |v| v + 1)).unwrap();
    assert_eq!(*r.current(), 3);
}

#[test]
fn a_peeked_ref_changed_by_another_commit_does_not_make_the_transaction_retry() {
    let stm = Stm::default();
    let (directory, x) = (stm.create_ref(1i64), stm.create_ref(0i64));
    let attempts = AtomicU32::new(0);
    stm.atomically(|tx| {
        attempts.fetch_add(1, Ordering::SeqCst);
        let seen = *tx.peek(&directory)?;
        interfere(&stm, &directory, 2);
        tx.write(&x, seen * 10);
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "a peek is not validated"
    );
    assert_eq!((*directory.current(), *x.current()), (2, 10));
    // A read of the same ref would have conflicted.
    let attempts = AtomicU32::new(0);
    stm.atomically(|tx| {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        let seen = *tx.read(&directory)?;
        if n == 0 {
            interfere(&stm, &directory, 3);
        }
        tx.write(&x, seen * 10);
        Ok::<_, StmError>(())
    })
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(*x.current(), 30);
}
