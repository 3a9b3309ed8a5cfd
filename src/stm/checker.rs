//! An Elle-style history checker for a list-append workload on the STM.
//!
//! # The workload
//!
//! [`KEYS`] refs each hold a list of `u64`. [`THREADS`] threads each run [`TXNS_PER_THREAD`]
//! transactions of 1 to [`MAX_OPS`] operations on random keys: an *append* (an `alter` that pushes
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
//! # Anomalies reported ([`Anomaly`])
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
//! appends at the end; the [`Observer`] of such an anomaly is `Aborted`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use super::{Faults, Ref, Stm, StmConfig, StmError};

/// Threads running transactions concurrently.
const THREADS: usize = 4;
/// Transactions each thread runs in one round.
const TXNS_PER_THREAD: usize = 2_000;
/// Keys (refs) the transactions pick from.
const KEYS: usize = 8;
/// The most operations in one transaction (the fewest is one).
const MAX_OPS: usize = 4;
/// The most rounds a fault test runs before it gives up: each fault is usually flagged in the
/// first round (see the tests), so 20 leaves a wide margin and still bounds the test.
const MAX_ROUNDS: usize = 20;
/// A transaction yields its time slice after an operation with probability 1 / this.
const YIELD_ONE_IN: usize = 8;
/// Every this many commits to a key, the commit yields its time slice before installing.
const COMMIT_YIELD_EVERY: usize = 8;
/// Nodes the searches for G-single cycles may visit in one history, which bounds the checker's
/// time on a badly broken history. Once it is spent, the remaining components are reported as G2
/// (which a G-single cycle also is).
const G_SINGLE_SEARCH_BUDGET: usize = 2_000_000;

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

/// Who saw a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Observer {
    /// A read by a committed attempt.
    Committed(AttemptId),
    /// A read by an aborted attempt (an anomaly here breaks opacity).
    Aborted(AttemptId),
    /// The final state, read after every thread finished.
    FinalState,
}

/// The kinds of one dependency edge, as a bit set.
#[derive(Clone, Copy, PartialEq, Eq)]
struct DepKinds(u8);

impl DepKinds {
    const WW: DepKinds = DepKinds(1);
    const WR: DepKinds = DepKinds(2);
    const RW: DepKinds = DepKinds(4);
    const NONE: DepKinds = DepKinds(0);
    const ALL: DepKinds = DepKinds(7);

    fn union(self, other: DepKinds) -> DepKinds {
        DepKinds(self.0 | other.0)
    }

    fn intersect(self, other: DepKinds) -> DepKinds {
        DepKinds(self.0 & other.0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for DepKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(Self::WW, "ww"), (Self::WR, "wr"), (Self::RW, "rw")]
            .into_iter()
            .filter(|(kind, _)| !self.intersect(*kind).is_empty())
            .map(|(_, name)| name)
            .collect();
        f.write_str(&names.join("|"))
    }
}

/// One edge of a reported cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dependency {
    from: AttemptId,
    to: AttemptId,
    kinds: DepKinds,
}

/// Adya's classes of dependency cycles, weakest isolation violated first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CycleKind {
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
enum Anomaly {
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

// ------------------------------------------------------------------------------------------------
// The checker
// ------------------------------------------------------------------------------------------------

/// Checks a history. An empty result means the analysis found no anomaly: the committed
/// transactions are serializable as far as their reads show, and every attempt saw a consistent
/// snapshot.
fn check(history: &History) -> Vec<Anomaly> {
    let analysis = Analysis::new(history);
    let mut anomalies = Vec::new();
    analysis.check_commit_counts(&mut anomalies);
    analysis.check_final_state(&mut anomalies);
    analysis.check_committed_appends(&mut anomalies);
    for id in 0..history.attempts.len() {
        analysis.check_reads(id, &mut anomalies);
    }
    analysis.check_cycles(&mut anomalies);
    anomalies
}

/// A history with the indexes the checks share.
struct Analysis<'h> {
    history: &'h History,
    /// Which attempt appended each value, and to which key.
    writer_of: HashMap<Value, (AttemptId, Key)>,
    /// Each key's final list as value -> first position.
    final_position: Vec<HashMap<Value, usize>>,
    /// Each key's positions in the final list that hold a value appended by an aborted attempt.
    aborted_in_final: Vec<Vec<usize>>,
}

impl<'h> Analysis<'h> {
    fn new(history: &'h History) -> Self {
        let mut writer_of = HashMap::new();
        for (id, attempt) in history.attempts.iter().enumerate() {
            for op in &attempt.ops {
                if let Op::Append { key, value } = *op {
                    // Uniqueness is the workload's promise, not the STM's; without it nothing
                    // below would mean anything.
                    let previous = writer_of.insert(value, (id, key));
                    assert!(previous.is_none(), "the workload appended {value:#x} twice");
                }
            }
        }
        let mut analysis = Analysis {
            history,
            writer_of,
            final_position: Vec::new(),
            aborted_in_final: Vec::new(),
        };
        for (key, list) in history.final_state.iter().enumerate() {
            let mut positions = HashMap::with_capacity(list.len());
            let mut aborted = Vec::new();
            for (position, &value) in list.iter().enumerate() {
                positions.entry(value).or_insert(position);
                if analysis
                    .writer(key, value)
                    .is_some_and(|writer| !analysis.committed(writer))
                {
                    aborted.push(position);
                }
            }
            analysis.final_position.push(positions);
            analysis.aborted_in_final.push(aborted);
        }
        analysis
    }

    fn committed(&self, id: AttemptId) -> bool {
        self.history.attempts[id].committed
    }

    /// The attempt that appended `value` to `key`, if any did.
    fn writer(&self, key: Key, value: Value) -> Option<AttemptId> {
        match self.writer_of.get(&value) {
            Some(&(id, k)) if k == key => Some(id),
            _ => None,
        }
    }

    /// Every logical transaction in the history returned from its call (the workload stops at
    /// the first error), so each must have exactly one committed attempt.
    fn check_commit_counts(&self, anomalies: &mut Vec<Anomaly>) {
        let mut committed: HashMap<(usize, usize), usize> = HashMap::new();
        for attempt in &self.history.attempts {
            *committed.entry((attempt.thread, attempt.txn)).or_default() +=
                usize::from(attempt.committed);
        }
        let mut wrong: Vec<_> = committed.into_iter().filter(|&(_, n)| n != 1).collect();
        wrong.sort_unstable();
        anomalies.extend(
            wrong
                .into_iter()
                .map(|((thread, txn), committed_attempts)| Anomaly::CommitCount {
                    thread,
                    txn,
                    committed_attempts,
                }),
        );
    }

    /// Values, duplicates and aborted writes in what `observer` saw of `key`: `list`, of which
    /// the first `checked` values are known to equal the final list's (whose values are checked
    /// once, as the final state's), so only aborted values are reported there, for G1a is about
    /// who saw them.
    fn check_values(
        &self,
        observer: Observer,
        key: Key,
        list: &[Value],
        checked: usize,
        anomalies: &mut Vec<Anomaly>,
    ) {
        let reader = match observer {
            Observer::Committed(id) | Observer::Aborted(id) => Some(id),
            Observer::FinalState => None,
        };
        let final_list = &self.history.final_state[key];
        for &position in self.aborted_in_final[key]
            .iter()
            .take_while(|&&p| p < checked)
        {
            let value = final_list[position];
            let writer = self
                .writer(key, value)
                .expect("aborted_in_final has writers");
            if Some(writer) != reader {
                anomalies.push(Anomaly::AbortedRead {
                    observer,
                    key,
                    value,
                    writer,
                });
            }
        }
        let mut seen = HashSet::new();
        for &value in &list[checked..] {
            // A value of the checked part is in the final list before `checked`.
            let in_checked_part = self.final_position[key]
                .get(&value)
                .is_some_and(|&p| p < checked);
            if !seen.insert(value) || in_checked_part {
                anomalies.push(Anomaly::DuplicateValue {
                    observer,
                    key,
                    value,
                });
            }
            match self.writer(key, value) {
                None => anomalies.push(Anomaly::GarbageValue {
                    observer,
                    key,
                    value,
                }),
                // An attempt may see its own appends whether or not it commits.
                Some(writer) if !self.committed(writer) && Some(writer) != reader => anomalies
                    .push(Anomaly::AbortedRead {
                        observer,
                        key,
                        value,
                        writer,
                    }),
                Some(_) => {}
            }
        }
    }

    fn check_final_state(&self, anomalies: &mut Vec<Anomaly>) {
        for (key, list) in self.history.final_state.iter().enumerate() {
            self.check_values(Observer::FinalState, key, list, 0, anomalies);
        }
    }

    /// Every committed append must have survived into the final state.
    fn check_committed_appends(&self, anomalies: &mut Vec<Anomaly>) {
        for (id, attempt) in self.history.attempts.iter().enumerate() {
            if !attempt.committed {
                continue;
            }
            for op in &attempt.ops {
                if let Op::Append { key, value } = *op
                    && !self.final_position[key].contains_key(&value)
                {
                    anomalies.push(Anomaly::LostAppend {
                        writer: id,
                        key,
                        value,
                    });
                }
            }
        }
    }

    /// Internal consistency, values, order and intermediate reads of one attempt's reads.
    fn check_reads(&self, id: AttemptId, anomalies: &mut Vec<Anomaly>) {
        let attempt = &self.history.attempts[id];
        let observer = if attempt.committed {
            Observer::Committed(id)
        } else {
            Observer::Aborted(id)
        };
        // Per key, what this attempt knows the list must look like. After a read: exactly that
        // read followed by the attempt's appends since. Before any read: only that it ends with
        // the attempt's own appends so far.
        let mut known: HashMap<Key, (&[Value], Vec<Value>)> = HashMap::new();
        let mut own_appends: HashMap<Key, Vec<Value>> = HashMap::new();
        for (op_index, op) in attempt.ops.iter().enumerate() {
            match op {
                Op::Append { key, value } => {
                    own_appends.entry(*key).or_default().push(*value);
                    if let Some((_, appended_since)) = known.get_mut(key) {
                        appended_since.push(*value);
                    }
                }
                Op::Read { key, list } => {
                    let key = *key;
                    let own = own_appends.get(&key).map_or(&[][..], Vec::as_slice);
                    let consistent = match known.get(&key) {
                        Some((earlier, since)) => {
                            list.len() == earlier.len() + since.len()
                                && list.starts_with(earlier)
                                && list.ends_with(since)
                        }
                        None => list.ends_with(own),
                    };
                    if !consistent {
                        anomalies.push(Anomaly::InternalInconsistency {
                            attempt: id,
                            key,
                            op_index,
                        });
                    }
                    known.insert(key, (list.as_slice(), Vec::new()));

                    // A committed attempt's own appends are in the final list right after what
                    // it read, so its whole read must be a prefix. An aborted attempt's are not,
                    // so only the part before them is compared.
                    let external = if attempt.committed {
                        &list[..]
                    } else {
                        let mut end = list.len();
                        while end > 0 && self.writer(key, list[end - 1]) == Some(id) {
                            end -= 1;
                        }
                        &list[..end]
                    };
                    let agreed = self.check_prefix(observer, key, external, anomalies);
                    self.check_values(observer, key, external, agreed, anomalies);
                    if attempt.committed {
                        self.check_intermediate(id, key, list, anomalies);
                    }
                }
            }
        }
    }

    /// A read must be a prefix of the key's final list: versions of a key form one chain.
    /// Returns how many leading values the read and the final list have in common.
    fn check_prefix(
        &self,
        observer: Observer,
        key: Key,
        list: &[Value],
        anomalies: &mut Vec<Anomaly>,
    ) -> usize {
        let final_list = &self.history.final_state[key];
        if final_list.starts_with(list) {
            return list.len();
        }
        let position = list
            .iter()
            .zip(final_list.iter())
            .take_while(|(read, expected)| read == expected)
            .count();
        anomalies.push(Anomaly::IncompatibleOrder {
            observer,
            key,
            position,
            read: list[position],
            expected: final_list.get(position).copied(),
        });
        position
    }

    /// G1b: the read's last value was not its writer's last append to the key.
    fn check_intermediate(
        &self,
        reader: AttemptId,
        key: Key,
        list: &[Value],
        anomalies: &mut Vec<Anomaly>,
    ) {
        let Some(&last) = list.last() else { return };
        let Some(writer) = self.writer(key, last) else {
            return;
        };
        // Aborted writers are G1a already; a transaction's own intermediate state is its own.
        if writer == reader || !self.committed(writer) {
            return;
        }
        let appends_after: bool = self.history.attempts[writer]
            .ops
            .iter()
            .skip_while(|op| !matches!(op, Op::Append { value, .. } if *value == last))
            .skip(1)
            .any(|op| matches!(op, Op::Append { key: k, .. } if *k == key));
        if appends_after {
            anomalies.push(Anomaly::IntermediateRead {
                reader,
                writer,
                key,
                value: last,
            });
        }
    }

    fn check_cycles(&self, anomalies: &mut Vec<Anomaly>) {
        let graph = DependencyGraph::build(self);
        let everyone = vec![true; graph.nodes.len()];
        let mut g_single_budget = G_SINGLE_SEARCH_BUDGET;
        for component in graph.components(&everyone, DepKinds::ALL) {
            let (kind, cycle) = graph.classify(&component, &mut g_single_budget);
            anomalies.push(Anomaly::Cycle {
                kind,
                component_size: component.len(),
                steps: cycle,
            });
        }
    }
}

/// The dependency graph over committed attempts. Nodes are indexes into `nodes`.
struct DependencyGraph {
    /// The committed attempt each node stands for.
    nodes: Vec<AttemptId>,
    /// Outgoing edges of each node, with their kinds; no self loops.
    out: Vec<Vec<(usize, DepKinds)>>,
}

impl DependencyGraph {
    fn build(analysis: &Analysis<'_>) -> Self {
        let history = analysis.history;
        let mut node_of: Vec<Option<usize>> = vec![None; history.attempts.len()];
        let mut nodes = Vec::new();
        for (id, attempt) in history.attempts.iter().enumerate() {
            if attempt.committed {
                node_of[id] = Some(nodes.len());
                nodes.push(id);
            }
        }
        let mut edges: HashMap<(usize, usize), DepKinds> = HashMap::new();
        // Only committed writers take part; anything else was reported already.
        let committed_writer = |key: Key, value: Value| {
            analysis
                .writer(key, value)
                .and_then(|writer| node_of[writer])
        };
        let mut add = |from: Option<usize>, to: Option<usize>, kinds: DepKinds| {
            if let (Some(from), Some(to)) = (from, to)
                && from != to
            {
                let entry = edges.entry((from, to)).or_insert(DepKinds::NONE);
                *entry = entry.union(kinds);
            }
        };

        // ww: the final list is each key's version order.
        for (key, list) in history.final_state.iter().enumerate() {
            for pair in list.windows(2) {
                add(
                    committed_writer(key, pair[0]),
                    committed_writer(key, pair[1]),
                    DepKinds::WW,
                );
            }
        }
        for (id, attempt) in history.attempts.iter().enumerate() {
            let reader = node_of[id];
            if reader.is_none() {
                continue;
            }
            for op in &attempt.ops {
                let Op::Read { key, list } = op else { continue };
                let final_list = &history.final_state[*key];
                // wr: the reader saw the version its last element's writer installed.
                if let Some(&last) = list.last() {
                    add(committed_writer(*key, last), reader, DepKinds::WR);
                }
                // rw: the next append in version order was not visible to the reader. Only
                // meaningful if the read is a prefix (IncompatibleOrder was reported otherwise).
                if final_list.starts_with(list)
                    && let Some(&next) = final_list.get(list.len())
                {
                    add(reader, committed_writer(*key, next), DepKinds::RW);
                }
            }
        }

        let mut out = vec![Vec::new(); nodes.len()];
        for ((from, to), kinds) in edges {
            out[from].push((to, kinds));
        }
        for targets in &mut out {
            // Sorted so that the reported cycles do not depend on hash order.
            targets.sort_unstable_by_key(|&(to, _)| to);
        }
        DependencyGraph { nodes, out }
    }

    /// The kinds of the edge `from -> to`.
    fn edge(&self, from: usize, to: usize) -> DepKinds {
        self.out[from]
            .iter()
            .find(|&&(t, _)| t == to)
            .map_or(DepKinds::NONE, |&(_, kinds)| kinds)
    }

    /// Strongly connected components with at least two nodes, of the subgraph of `member` nodes
    /// and edges with a kind in `kinds` (Tarjan's algorithm, iterative so that a long chain of
    /// transactions cannot overflow the stack).
    fn components(&self, member: &[bool], kinds: DepKinds) -> Vec<Vec<usize>> {
        const UNVISITED: usize = usize::MAX;
        let n = self.nodes.len();
        let mut index = vec![UNVISITED; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next_index = 0;
        let mut components = Vec::new();
        // The explicit call stack: (node, index of the next edge to follow).
        let mut calls: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if !member[root] || index[root] != UNVISITED {
                continue;
            }
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            calls.push((root, 0));
            while let Some(top) = calls.last_mut() {
                let node = top.0;
                let edge = self.out[node].get(top.1).copied();
                top.1 += 1;
                match edge {
                    Some((to, edge_kinds)) => {
                        if edge_kinds.intersect(kinds).is_empty() || !member[to] {
                            continue;
                        }
                        if index[to] == UNVISITED {
                            index[to] = next_index;
                            low[to] = next_index;
                            next_index += 1;
                            stack.push(to);
                            on_stack[to] = true;
                            calls.push((to, 0));
                        } else if on_stack[to] {
                            low[node] = low[node].min(index[to]);
                        }
                    }
                    None => {
                        calls.pop();
                        if let Some(&(parent, _)) = calls.last() {
                            low[parent] = low[parent].min(low[node]);
                        }
                        if low[node] == index[node] {
                            let mut component = Vec::new();
                            loop {
                                let top = stack.pop().expect("the node itself is on the stack");
                                on_stack[top] = false;
                                component.push(top);
                                if top == node {
                                    break;
                                }
                            }
                            if component.len() > 1 {
                                components.push(component);
                            }
                        }
                    }
                }
            }
        }
        components
    }

    /// The shortest path `from -> ... -> to` through `member` nodes along edges of `kinds`,
    /// visiting at most `budget` nodes (the budget is shared across calls).
    fn path(
        &self,
        from: usize,
        to: usize,
        member: &[bool],
        kinds: DepKinds,
        budget: &mut usize,
    ) -> Option<Vec<usize>> {
        let mut parent: HashMap<usize, usize> = HashMap::from([(from, from)]);
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                let mut path = vec![to];
                let mut at = to;
                while at != from {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            for &(next, edge_kinds) in &self.out[node] {
                if member[next]
                    && !edge_kinds.intersect(kinds).is_empty()
                    && !parent.contains_key(&next)
                {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// Some cycle among `member` nodes using only edges of `kinds`, as a closed node list.
    fn cycle(&self, member: &[bool], kinds: DepKinds) -> Option<Vec<usize>> {
        let component = self.components(member, kinds).into_iter().next()?;
        let mut in_component = vec![false; self.nodes.len()];
        for &node in &component {
            in_component[node] = true;
        }
        // The oldest node first, so that a reported cycle does not depend on traversal order.
        let start = *component.iter().min().expect("components are not empty");
        // Every node of a strongly connected component has a successor in it, and a path back.
        let &(next, _) = self.out[start].iter().find(|&&(to, edge_kinds)| {
            in_component[to] && !edge_kinds.intersect(kinds).is_empty()
        })?;
        let mut unlimited = usize::MAX;
        let mut cycle = vec![start];
        cycle.extend(self.path(next, start, &in_component, kinds, &mut unlimited)?);
        Some(cycle)
    }

    /// A cycle with exactly one rw edge among `member` nodes (which have no ww/wr cycle).
    fn single_anti_dependency_cycle(
        &self,
        member: &[bool],
        budget: &mut usize,
    ) -> Option<Vec<usize>> {
        let no_rw = DepKinds::WW.union(DepKinds::WR);
        for from in (0..self.nodes.len()).filter(|&n| member[n]) {
            for &(to, kinds) in &self.out[from] {
                if !member[to] || kinds.intersect(DepKinds::RW).is_empty() {
                    continue;
                }
                if let Some(back) = self.path(to, from, member, no_rw, budget) {
                    let mut cycle = vec![from];
                    cycle.extend(back);
                    return Some(cycle);
                }
                if *budget == 0 {
                    return None;
                }
            }
        }
        None
    }

    /// The most specific class of cycle in `component`, with one such cycle.
    fn classify(&self, component: &[usize], budget: &mut usize) -> (CycleKind, Vec<Dependency>) {
        let mut member = vec![false; self.nodes.len()];
        for &node in component {
            member[node] = true;
        }
        let no_rw = DepKinds::WW.union(DepKinds::WR);
        let (kind, cycle, allowed) = if let Some(c) = self.cycle(&member, DepKinds::WW) {
            (CycleKind::G0, c, DepKinds::WW)
        } else if let Some(c) = self.cycle(&member, no_rw) {
            (CycleKind::G1c, c, no_rw)
        } else if let Some(c) = self.single_anti_dependency_cycle(&member, budget) {
            (CycleKind::GSingle, c, DepKinds::ALL)
        } else {
            let c = self
                .cycle(&member, DepKinds::ALL)
                .expect("a strongly connected component has a cycle");
            (CycleKind::G2, c, DepKinds::ALL)
        };
        let steps = cycle
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let mut kinds = self.edge(pair[0], pair[1]).intersect(allowed);
                if kind == CycleKind::GSingle {
                    // The first edge is the single rw edge; the path back uses no rw edge.
                    kinds = kinds.intersect(if i == 0 { DepKinds::RW } else { no_rw });
                }
                Dependency {
                    from: self.nodes[pair[0]],
                    to: self.nodes[pair[1]],
                    kinds,
                }
            })
            .collect();
        (kind, steps)
    }
}

/// A readable summary of anomalies for a failure message: counts by kind, then the first few
/// with the attempts they name.
fn report(history: &History, anomalies: &[Anomaly]) -> String {
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

// ------------------------------------------------------------------------------------------------
// The workload
// ------------------------------------------------------------------------------------------------

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
fn run_workload(config: StmConfig, seed: u64) -> History {
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

// ------------------------------------------------------------------------------------------------
// Tests of the STM
// ------------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------------
// Tests of the checker on hand-made histories: each anomaly is found, and only where it is
// ------------------------------------------------------------------------------------------------

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
