//! An Elle-style history checker for a list-append workload on the STM.
//!
//! # The workload
//!
//! [`KEYS`] refs each hold a list of `u64`. [`THREADS`] threads each run [`TXNS_PER_THREAD`]
//! transactions of 1 to [`MAX_OPS`](workload::MAX_OPS) operations on random keys: an *append* (an `alter` that pushes
//! a value) or a *read* (the whole list). About one transaction in ten runs through
//! [`Stm::read_only`] and only reads. Every appended value is globally unique (the thread in the
//! high half, a per-thread counter in the low half), and a retried attempt appends fresh values,
//! so any value seen anywhere names exactly one attempt that appended it.
//!
//! Every *attempt* is recorded, not just the one that commits: its operations in order, with the
//! list each read returned. An update attempt counts as committed only if an `on_commit` effect
//! it registered ran (so an STM that runs effects of aborted attempts makes them look committed,
//! and the checker must notice); a `read_only` attempt counts as committed when the call returned
//! `Ok` after it. After all threads finish, the final list of every key is read.
//!
//! With more threads than cores, a thread can run many short transactions alone in one time
//! slice, and then conflicts (and the races the fault tests need) are rare. So transactions
//! sometimes yield between operations, and some commits yield in a validator, which runs after
//! the commit has taken its stamp and before it installs its versions.
//!
//! # Why list-append
//!
//! Appends to a list record their own order: the final list of a key *is* the version order of
//! that key, every read names the exact version it saw (a prefix of that order), and the last
//! element of a read names the transaction that wrote the version. From that, the dependency
//! graph of the committed transactions can be recovered without knowing anything about the STM's
//! clock, and Adya's anomalies become cycles in it (see Kingsbury and Alvaro, "Elle: Inferring
//! Isolation Anomalies from Experimental Observations", VLDB 2020).
//!
//! # Anomalies reported ([`Anomaly`](anomaly::Anomaly))
//!
//! - **CommitCount**: a transaction whose call returned did not commit exactly once (an aborted
//!   attempt's effects ran, or the committing attempt's did not).
//! - **GarbageValue**: a list holds a value no attempt appended to that key.
//! - **DuplicateValue**: a list holds one value twice (an append applied twice).
//! - **IncompatibleOrder**: a read is not a prefix of the key's final list, so the key's versions
//!   do not form one chain (or the read saw a version that was later overwritten, not extended).
//! - **AbortedRead** (G1a): a value appended by an aborted attempt is visible in a read or in the
//!   final state.
//! - **LostAppend**: a committed append is missing from the final state (a lost update).
//! - **IntermediateRead** (G1b): a read ends at a value after which its writer appended again to
//!   the same key, so the reader saw the writer's transaction half done.
//! - **InternalInconsistency**: within one attempt, a read does not show the attempt's own
//!   earlier appends to that key (or differs from the attempt's earlier read plus its appends).
//! - **Cycle**: the dependency graph of committed transactions has a cycle, so no serial order
//!   explains what they saw. Edges: *ww* (`a` appended the element right before `b`'s in a
//!   final list), *wr* (`b` read a list whose last element `a` appended), *rw* (`a` read a list
//!   that `b`'s append, the next element in the final list, is missing from: `b` must come after
//!   `a`). The cycle is classified as in Adya's thesis: **G0** (only ww), **G1c** (ww and wr),
//!   **G-single** (exactly one rw) or **G2** (any other cycle with rw edges).
//!
//! The STM promises opacity (an attempt that will abort still sees a consistent snapshot), so the
//! value and order checks also apply to aborted attempts' reads, minus the attempt's own
//! appends at the end; the [`Observer`](anomaly::Observer) of such an anomaly is `Aborted`.
//!
//! # Layout
//!
//! [`workload`] runs the workload and records the history; [`analysis`] checks a history and
//! [`graph`] finds and classifies its dependency cycles; [`anomaly`] holds what they report. The
//! tests of the STM are below; the tests of the checker itself, on hand-made histories, are in
//! `tests.rs`.

mod analysis;
mod anomaly;
mod graph;
mod tests;
mod workload;

use std::sync::Arc;

use super::{Faults, StmConfig};
use analysis::check;
use anomaly::report;
use workload::{KEYS, THREADS, TXNS_PER_THREAD, run_workload};

/// The most rounds a fault test runs before it gives up: each fault is usually flagged in the
/// first round (see the tests), so 20 leaves a wide margin and still bounds the test.
const MAX_ROUNDS: usize = 20;

type Key = usize;
type Value = u64;
/// An attempt's index in [`History::attempts`].
type AttemptId = usize;

/// One operation of an attempt, as it happened.
#[derive(Clone, Debug)]
enum Op {
    /// The attempt appended `value` to `key`.
    Append { key: Key, value: Value },
    /// The attempt read `key` and saw `list` (shared with the STM's version, not copied).
    Read { key: Key, list: Arc<Vec<Value>> },
}

/// One run of a transaction body.
#[derive(Clone, Debug)]
struct Attempt {
    /// The thread that ran it.
    thread: usize,
    /// The logical transaction (its index within the thread) that this attempt belongs to.
    txn: usize,
    /// Ran through `Stm::read_only`.
    read_only: bool,
    /// The operations the attempt completed, in order (a retry signal can cut it short).
    ops: Vec<Op>,
    /// Its on-commit effect ran (update), or the call returned after it (read-only).
    committed: bool,
}

/// Everything the checker looks at: every attempt, and the final list of every key.
#[derive(Clone, Debug)]
struct History {
    attempts: Vec<Attempt>,
    final_state: Vec<Arc<Vec<Value>>>,
}

// ------------------------------------------------------------------------------------------------
// Tests of the STM
// ------------------------------------------------------------------------------------------------

/// Runs rounds with `faults` until the checker flags one; returns that round.
fn rounds_until_flagged(faults: Faults) -> Option<usize> {
    (1..=MAX_ROUNDS).find(|&round| {
        let config = StmConfig {
            faults,
            ..StmConfig::default()
        };
        let history = run_workload(config, round as u64);
        let anomalies = check(&history);
        if !anomalies.is_empty() {
            // Visible with --nocapture: how soon the fault showed, and as what.
            eprintln!(
                "{faults:?} flagged in round {round}: {}",
                report(&history, &anomalies)
            );
        }
        !anomalies.is_empty()
    })
}

/// Rounds of the workload on the correct STM (each fault shows in the first round).
const CLEAN_ROUNDS: u64 = 3;

#[test]
fn the_stm_passes_the_list_append_check() {
    for round in 0..CLEAN_ROUNDS {
        let history = run_workload(StmConfig::default(), round);
        let anomalies = check(&history);
        assert!(anomalies.is_empty(), "{}", report(&history, &anomalies));

        // Guard against a vacuous pass: the history must exercise what the checker checks.
        let committed = history.attempts.iter().filter(|a| a.committed).count();
        let aborted = history.attempts.len() - committed;
        let read_only = history
            .attempts
            .iter()
            .filter(|a| a.committed && a.read_only)
            .count();
        let appended: usize = history.final_state.iter().map(|list| list.len()).sum();
        eprintln!(
            "round {round}: {committed} committed, {aborted} aborted attempts, \
             {read_only} read-only, {appended} values appended"
        );
        assert_eq!(committed, THREADS * TXNS_PER_THREAD);
        assert!(
            aborted > 0,
            "no attempt aborted: the workload made no conflicts"
        );
        assert!(read_only > 0, "no read-only transaction ran");
        assert!(appended > KEYS * 100, "too few appends: {appended}");
    }
}

#[test]
fn skipping_read_validation_is_flagged() {
    let faults = Faults {
        skip_read_validation: true,
        ..Faults::default()
    };
    let round = rounds_until_flagged(faults);
    assert!(round.is_some(), "no anomaly in {MAX_ROUNDS} rounds");
}

#[test]
fn running_effects_of_aborted_attempts_is_flagged() {
    let faults = Faults {
        effects_on_abort: true,
        ..Faults::default()
    };
    let round = rounds_until_flagged(faults);
    assert!(round.is_some(), "no anomaly in {MAX_ROUNDS} rounds");
}

#[test]
fn reading_through_commit_locks_is_flagged() {
    let faults = Faults {
        read_through_locks: true,
        ..Faults::default()
    };
    let round = rounds_until_flagged(faults);
    assert!(round.is_some(), "no anomaly in {MAX_ROUNDS} rounds");
}
