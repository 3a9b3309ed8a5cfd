//! The list-append workload (described in the [module docs](super)): threads running random
//! appends and reads on a fresh STM, every attempt recorded with what it saw, and the final
//! state of every key, gathered into a [`History`] for the checker.

use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use super::{Attempt, History, Key, Op, Value};
use crate::stm::{Ref, Stm, StmConfig, StmError};

/// Threads running transactions concurrently.
pub(super) const THREADS: usize = 4;
/// Transactions each thread runs in one round.
pub(super) const TXNS_PER_THREAD: usize = 2_000;
/// Keys (refs) the transactions pick from.
pub(super) const KEYS: usize = 8;
/// The most operations in one transaction (the fewest is one).
pub(super) const MAX_OPS: usize = 4;
/// A transaction yields its time slice after an operation with probability 1 / this.
const YIELD_ONE_IN: usize = 8;
/// Every this many commits to a key, the commit yields its time slice before installing.
const COMMIT_YIELD_EVERY: usize = 8;

/// A small deterministic generator per thread (xorshift; no shared state between threads).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What a transaction will do; each attempt draws fresh values for its appends.
#[derive(Clone, Copy, Debug)]
enum Planned {
    Append(Key),
    Read(Key),
}

/// An attempt while the workload runs: `committed` is set by the attempt's on-commit effect.
struct Recording {
    attempt: Attempt,
    committed: Arc<AtomicBool>,
}

/// Runs one round of the workload on a fresh STM and returns its history.
pub(super) fn run_workload(config: StmConfig, seed: u64) -> History {
    let stm = Stm::new(config);
    let keys: Vec<Ref<Vec<Value>>> = (0..KEYS).map(|_| stm.create_ref(Vec::new())).collect();
    for key in &keys {
        // A validator runs after a commit has taken its stamp and before it installs its
        // versions. Yielding there makes some commits slow, so that other threads run inside
        // that window, which is where bugs in how readers treat commit locks show.
        let commits = AtomicUsize::new(0);
        key.add_validator(move |_| {
            if commits
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(COMMIT_YIELD_EVERY)
            {
                std::thread::yield_now();
            }
            Ok(())
        });
    }
    // Released together, so the threads overlap from the first transaction.
    let start = Barrier::new(THREADS);
    let recordings: Vec<Recording> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (stm, keys, start) = (&stm, &keys, &start);
                scope.spawn(move || {
                    start.wait();
                    run_thread(stm, keys, thread, seed)
                })
            })
            .collect();
        workers
            .into_iter()
            // A worker's panic (a transaction that failed) fails the test with its own message.
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| resume_unwind(panic)))
            .collect()
    });
    let attempts = recordings
        .into_iter()
        .map(|mut recording| {
            recording.attempt.committed = recording.committed.load(Ordering::SeqCst);
            recording.attempt
        })
        .collect();
    History {
        attempts,
        final_state: keys.iter().map(Ref::current).collect(),
    }
}

fn run_thread(stm: &Stm, keys: &[Ref<Vec<Value>>], thread: usize, seed: u64) -> Vec<Recording> {
    // Distinct per round and thread, and never zero (an odd multiplier keeps it nonzero).
    let mut rng =
        Rng((seed * THREADS as u64 + thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut log: Vec<Recording> = Vec::new();
    let mut counter: u64 = 0;
    for txn in 0..TXNS_PER_THREAD {
        let read_only = rng.below(10) == 0;
        let plan: Vec<Planned> = (0..1 + rng.below(MAX_OPS))
            .map(|_| {
                let key = rng.below(KEYS);
                if read_only || rng.below(2) == 0 {
                    Planned::Read(key)
                } else {
                    Planned::Append(key)
                }
            })
            .collect();
        let new_attempt = |committed: &Arc<AtomicBool>| Recording {
            attempt: Attempt {
                thread,
                txn,
                read_only,
                ops: Vec::new(),
                committed: false,
            },
            committed: Arc::clone(committed),
        };
        if read_only {
            let outcome: Result<(), StmError> = stm.read_only(|snapshot| {
                log.push(new_attempt(&Arc::new(AtomicBool::new(false))));
                let ops = &mut log.last_mut().expect("just pushed").attempt.ops;
                for planned in &plan {
                    if let Planned::Read(key) = *planned {
                        let list = snapshot.read(&keys[key])?;
                        ops.push(Op::Read { key, list });
                        maybe_yield(&mut rng);
                    }
                }
                Ok(())
            });
            outcome.unwrap_or_else(|e| panic!("thread {thread} transaction {txn} failed: {e}"));
            // `read_only` returns after the attempt that succeeded, which is the last one.
            let last = log.last().expect("the body ran at least once");
            last.committed.store(true, Ordering::SeqCst);
        } else {
            let outcome: Result<(), StmError> = stm.atomically(|tx| {
                let committed = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&committed);
                // Registered first, so that every attempt has it, even one cut short by a retry.
                tx.on_commit(move || flag.store(true, Ordering::SeqCst));
                log.push(new_attempt(&committed));
                let ops = &mut log.last_mut().expect("just pushed").attempt.ops;
                for planned in &plan {
                    match *planned {
                        Planned::Append(key) => {
                            counter += 1;
                            let value = ((thread as u64 + 1) << 32) | counter;
                            tx.alter(&keys[key], |list| {
                                let mut longer = Vec::with_capacity(list.len() + 1);
                                longer.extend_from_slice(list);
                                longer.push(value);
                                longer
                            })?;
                            ops.push(Op::Append { key, value });
                            maybe_yield(&mut rng);
                        }
                        Planned::Read(key) => {
                            let list = tx.read(&keys[key])?;
                            ops.push(Op::Read { key, list });
                            maybe_yield(&mut rng);
                        }
                    }
                }
                Ok(())
            });
            outcome.unwrap_or_else(|e| panic!("thread {thread} transaction {txn} failed: {e}"));
        }
    }
    log
}

/// Sometimes gives the time slice away in the middle of a transaction. With more threads than
/// cores, that lets another thread run (and commit) while this transaction is open, which
/// makes conflicts common even when the machine schedules threads in long slices.
fn maybe_yield(rng: &mut Rng) {
    if rng.below(YIELD_ONE_IN) == 0 {
        std::thread::yield_now();
    }
}
