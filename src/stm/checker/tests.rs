//! Tests of the checker itself on hand-made histories: each anomaly is found, and only where it
//! is; cycles are classified as Adya does, and a long chain does not overflow the stack.

use std::sync::Arc;

use super::analysis::check;
use super::anomaly::{Anomaly, CycleKind, Observer};
use super::{Attempt, AttemptId, History, Key, Op, Value};

fn append(key: Key, value: Value) -> Op {
    Op::Append { key, value }
}

fn read(key: Key, list: &[Value]) -> Op {
    Op::Read {
        key,
        list: Arc::new(list.to_vec()),
    }
}

/// An attempt of transaction `txn` (of thread 0).
fn attempt(txn: usize, committed: bool, ops: Vec<Op>) -> Attempt {
    Attempt {
        thread: 0,
        txn,
        read_only: false,
        ops,
        committed,
    }
}

fn history(attempts: Vec<Attempt>, final_state: &[&[Value]]) -> History {
    History {
        attempts,
        final_state: final_state
            .iter()
            .map(|list| Arc::new(list.to_vec()))
            .collect(),
    }
}

/// The cycle kind and the attempts on the cycle, in order, of every cycle found.
fn cycles(anomalies: &[Anomaly]) -> Vec<(CycleKind, Vec<AttemptId>)> {
    anomalies
        .iter()
        .filter_map(|anomaly| match anomaly {
            Anomaly::Cycle { kind, steps, .. } => {
                Some((*kind, steps.iter().map(|step| step.from).collect()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_serializable_history_with_retries_is_clean() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), read(0, &[1])]),
            // A retried attempt that saw its own append; the retry committed.
            attempt(
                1,
                false,
                vec![read(0, &[1]), append(0, 2), read(0, &[1, 2])],
            ),
            attempt(1, true, vec![read(0, &[1]), append(0, 3), append(1, 4)]),
            attempt(
                2,
                true,
                vec![read(0, &[1, 3]), read(1, &[4]), read(0, &[1, 3])],
            ),
        ],
        &[&[1, 3], &[4]],
    );
    assert_eq!(check(&h), []);
}

#[test]
fn flags_a_transaction_committed_twice() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1)]),
            attempt(0, true, vec![append(0, 2)]),
        ],
        &[&[1, 2]],
    );
    let anomalies = check(&h);
    assert!(anomalies.contains(&Anomaly::CommitCount {
        thread: 0,
        txn: 0,
        committed_attempts: 2
    }));
}

#[test]
fn flags_garbage_and_duplicate_values() {
    let h = history(vec![attempt(0, true, vec![append(0, 1)])], &[&[1, 1, 9]]);
    let anomalies = check(&h);
    let (observer, key) = (Observer::FinalState, 0);
    assert!(anomalies.contains(&Anomaly::DuplicateValue {
        observer,
        key,
        value: 1
    }));
    assert!(anomalies.contains(&Anomaly::GarbageValue {
        observer,
        key,
        value: 9
    }));
}

#[test]
fn flags_a_read_that_is_not_a_prefix() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1)]),
            attempt(1, true, vec![append(0, 2)]),
            attempt(2, true, vec![read(0, &[2])]),
        ],
        &[&[1, 2]],
    );
    assert!(check(&h).contains(&Anomaly::IncompatibleOrder {
        observer: Observer::Committed(2),
        key: 0,
        position: 0,
        read: 2,
        expected: Some(1),
    }));
}

#[test]
fn flags_an_aborted_read_g1a() {
    let h = history(
        vec![
            attempt(0, false, vec![append(0, 1)]),
            attempt(0, true, vec![append(0, 2)]),
            attempt(1, true, vec![read(0, &[1])]),
        ],
        &[&[1, 2]],
    );
    let anomalies = check(&h);
    for observer in [Observer::FinalState, Observer::Committed(2)] {
        assert!(
            anomalies.contains(&Anomaly::AbortedRead {
                observer,
                key: 0,
                value: 1,
                writer: 0
            }),
            "{observer:?} in {anomalies:?}"
        );
    }
}

#[test]
fn flags_a_lost_append() {
    // Both read the empty list and appended; the second overwrote the first.
    let h = history(
        vec![
            attempt(0, true, vec![read(0, &[]), append(0, 1)]),
            attempt(1, true, vec![read(0, &[]), append(0, 2)]),
        ],
        &[&[2]],
    );
    assert!(check(&h).contains(&Anomaly::LostAppend {
        writer: 0,
        key: 0,
        value: 1
    }));
}

#[test]
fn flags_an_intermediate_read_g1b() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), append(0, 2)]),
            attempt(1, true, vec![read(0, &[1])]),
        ],
        &[&[1, 2]],
    );
    assert!(check(&h).contains(&Anomaly::IntermediateRead {
        reader: 1,
        writer: 0,
        key: 0,
        value: 1
    }));
}

#[test]
fn flags_a_read_that_misses_the_attempts_own_append() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), read(0, &[])]),
            attempt(1, true, vec![read(1, &[]), read(1, &[5])]),
            attempt(2, true, vec![append(1, 5)]),
        ],
        &[&[1], &[5]],
    );
    let anomalies = check(&h);
    for (attempt, key, op_index) in [(0, 0, 1), (1, 1, 1)] {
        assert!(anomalies.contains(&Anomaly::InternalInconsistency {
            attempt,
            key,
            op_index
        }));
    }
}

#[test]
fn flags_a_dirty_or_stale_read_in_an_aborted_attempt() {
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1)]),
            attempt(1, false, vec![append(0, 2)]),
            // Saw another aborted attempt's append: opacity broken.
            attempt(2, false, vec![read(0, &[1, 2])]),
            // Its own append at the end is fine, but the list before it is not a prefix.
            attempt(3, false, vec![append(0, 3), read(0, &[7, 3])]),
            attempt(4, true, vec![append(0, 7)]),
        ],
        &[&[1, 7]],
    );
    let anomalies = check(&h);
    assert!(anomalies.contains(&Anomaly::AbortedRead {
        observer: Observer::Aborted(2),
        key: 0,
        value: 2,
        writer: 1
    }));
    assert!(anomalies.contains(&Anomaly::IncompatibleOrder {
        observer: Observer::Aborted(3),
        key: 0,
        position: 0,
        read: 7,
        expected: Some(1)
    }));
}

#[test]
fn classifies_a_write_cycle_as_g0() {
    // The two transactions' appends are ordered one way on key 0 and the other way on key 1.
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), append(1, 2)]),
            attempt(1, true, vec![append(0, 3), append(1, 4)]),
        ],
        &[&[1, 3], &[4, 2]],
    );
    assert_eq!(cycles(&check(&h)), [(CycleKind::G0, vec![0, 1])]);
}

#[test]
fn classifies_circular_information_flow_as_g1c() {
    // Each read the other's append.
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), read(1, &[2])]),
            attempt(1, true, vec![append(1, 2), read(0, &[1])]),
        ],
        &[&[1], &[2]],
    );
    assert_eq!(cycles(&check(&h)), [(CycleKind::G1c, vec![0, 1])]);
}

#[test]
fn classifies_a_fractured_read_as_g_single() {
    // The reader saw the writer's append to key 0 but not its append to key 1.
    let h = history(
        vec![
            attempt(0, true, vec![append(0, 1), append(1, 2)]),
            attempt(1, true, vec![read(0, &[1]), read(1, &[])]),
        ],
        &[&[1], &[2]],
    );
    assert_eq!(cycles(&check(&h)), [(CycleKind::GSingle, vec![1, 0])]);
}

#[test]
fn classifies_write_skew_as_g2() {
    // Each read the key the other appended to, before the other's append.
    let h = history(
        vec![
            attempt(0, true, vec![read(0, &[]), append(1, 1)]),
            attempt(1, true, vec![read(1, &[]), append(0, 2)]),
        ],
        &[&[2], &[1]],
    );
    assert_eq!(cycles(&check(&h)), [(CycleKind::G2, vec![0, 1])]);
}

#[test]
fn finds_a_cycle_along_a_long_chain_without_deep_recursion() {
    // A chain of 50,000 transactions, each appending after the previous one, closed into a
    // cycle by a first transaction that read the last one's append: G1c through every node.
    let n: u64 = 50_000;
    let mut attempts = vec![attempt(0, true, vec![append(0, 0), read(1, &[n - 1])])];
    attempts.extend((1..n).map(|i| attempt(i as usize, true, vec![append(1, i)])));
    attempts[1].ops.insert(0, read(0, &[0]));
    let final_1: Vec<Value> = (1..n).collect();
    let h = history(attempts, &[&[0], &final_1]);
    let found = cycles(&check(&h));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, CycleKind::G1c);
    assert_eq!(found[0].1.len(), n as usize);
}
