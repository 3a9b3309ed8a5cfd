//! What the checker reports: the [`Anomaly`] kinds (described in the [module docs](super)), who
//! saw each one, the classes of dependency cycles, and a readable report of a list of anomalies
//! for a failing test's message.

use super::graph::DepKinds;
use super::{AttemptId, History, Key, Op, Value};

/// Who saw a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Observer {
    /// A read by a committed attempt.
    Committed(AttemptId),
    /// A read by an aborted attempt (an anomaly here breaks opacity).
    Aborted(AttemptId),
    /// The final state, read after every thread finished.
    FinalState,
}

/// One edge of a reported cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Dependency {
    pub(super) from: AttemptId,
    pub(super) to: AttemptId,
    pub(super) kinds: DepKinds,
}

/// Adya's classes of dependency cycles, weakest isolation violated first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CycleKind {
    /// Write cycle: only ww edges.
    G0,
    /// Circular information flow: ww and wr edges.
    G1c,
    /// Exactly one anti-dependency (read skew, fractured read).
    GSingle,
    /// Anti-dependency cycles that are not G-single (write skew).
    G2,
}

/// A violation found in a history; see the module documentation for what each means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Anomaly {
    /// Transaction `txn` of `thread` returned but had `committed_attempts` committed attempts.
    CommitCount {
        thread: usize,
        txn: usize,
        committed_attempts: usize,
    },
    /// `observer` saw `value` in `key`, which no attempt appended to `key`.
    GarbageValue {
        observer: Observer,
        key: Key,
        value: Value,
    },
    /// `observer` saw `value` twice in `key`.
    DuplicateValue {
        observer: Observer,
        key: Key,
        value: Value,
    },
    /// What `observer` read of `key` is not a prefix of the key's final list.
    IncompatibleOrder {
        observer: Observer,
        key: Key,
        /// The first position where the read and the final list differ.
        position: usize,
        read: Value,
        /// The final list's value there (`None`: the final list is shorter).
        expected: Option<Value>,
    },
    /// G1a: `observer` saw `value`, appended to `key` by the aborted attempt `writer`.
    AbortedRead {
        observer: Observer,
        key: Key,
        value: Value,
        writer: AttemptId,
    },
    /// The committed attempt `writer` appended `value` to `key`; the final list lacks it.
    LostAppend {
        writer: AttemptId,
        key: Key,
        value: Value,
    },
    /// G1b: `reader` read `key` up to `value`, after which `writer` appended to `key` again.
    IntermediateRead {
        reader: AttemptId,
        writer: AttemptId,
        key: Key,
        value: Value,
    },
    /// A read of `key` by `attempt` disagrees with the attempt's own earlier reads and appends.
    InternalInconsistency {
        attempt: AttemptId,
        key: Key,
        /// The index of the offending read in the attempt's operations.
        op_index: usize,
    },
    /// A dependency cycle among committed transactions; `steps` go round it once.
    Cycle {
        kind: CycleKind,
        /// Committed transactions in the strongly connected component the cycle was found in.
        component_size: usize,
        steps: Vec<Dependency>,
    },
}

impl Anomaly {
    /// A short name for counting anomalies by kind.
    fn name(&self) -> &'static str {
        match self {
            Anomaly::CommitCount { .. } => "CommitCount",
            Anomaly::GarbageValue { .. } => "GarbageValue",
            Anomaly::DuplicateValue { .. } => "DuplicateValue",
            Anomaly::IncompatibleOrder { .. } => "IncompatibleOrder",
            Anomaly::AbortedRead { .. } => "AbortedRead (G1a)",
            Anomaly::LostAppend { .. } => "LostAppend",
            Anomaly::IntermediateRead { .. } => "IntermediateRead (G1b)",
            Anomaly::InternalInconsistency { .. } => "InternalInconsistency",
            Anomaly::Cycle { kind, .. } => match kind {
                CycleKind::G0 => "Cycle G0",
                CycleKind::G1c => "Cycle G1c",
                CycleKind::GSingle => "Cycle G-single",
                CycleKind::G2 => "Cycle G2",
            },
        }
    }
}

/// A readable summary of anomalies for a failure message: counts by kind, then the first few
/// with the attempts they name.
pub(super) fn report(history: &History, anomalies: &[Anomaly]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for anomaly in anomalies {
        match counts.iter_mut().find(|(name, _)| *name == anomaly.name()) {
            Some((_, n)) => *n += 1,
            None => counts.push((anomaly.name(), 1)),
        }
    }
    let mut text = format!("{} anomalies: {counts:?}\n", anomalies.len());
    for anomaly in anomalies.iter().take(5) {
        text += &format!("  {anomaly:?}\n");
        if let Anomaly::Cycle { steps, .. } = anomaly {
            for step in steps {
                text += &format!("    #{}: {}\n", step.from, describe(history, step.from));
            }
        }
    }
    text
}

/// One attempt in a line; reads show their length and last value, lists being long.
fn describe(history: &History, id: AttemptId) -> String {
    let attempt = &history.attempts[id];
    let ops: Vec<String> = attempt
        .ops
        .iter()
        .map(|op| match op {
            Op::Append { key, value } => format!("append({key}, {value:#x})"),
            Op::Read { key, list } => {
                format!(
                    "read({key}) = {} values, last {:x?}",
                    list.len(),
                    list.last()
                )
            }
        })
        .collect();
    format!(
        "thread {} txn {}{}{}: {}",
        attempt.thread,
        attempt.txn,
        if attempt.read_only { " read-only" } else { "" },
        if attempt.committed { "" } else { " (aborted)" },
        ops.join(", ")
    )
}
