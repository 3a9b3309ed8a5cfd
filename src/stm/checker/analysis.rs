//! The checks of a history: commit counts, the values and order of every read and of the final
//! state, lost appends, intermediate and internally inconsistent reads, and (through the
//! [dependency graph](super::graph)) cycles among committed transactions. [`Analysis`] builds
//! the indexes these checks share once per history.

use std::collections::{HashMap, HashSet};

use super::anomaly::{Anomaly, Observer};
use super::graph::{DepKinds, DependencyGraph};
use super::{AttemptId, History, Key, Op, Value};

/// Nodes the searches for G-single cycles may visit in one history, which bounds the checker's
/// time on a badly broken history. Once it is spent, the remaining components are reported as G2
/// (which a G-single cycle also is).
const G_SINGLE_SEARCH_BUDGET: usize = 2_000_000;

/// Checks a history. An empty result means the analysis found no anomaly: the committed
/// transactions are serializable as far as their reads show, and every attempt saw a consistent
/// snapshot.
pub(super) fn check(history: &History) -> Vec<Anomaly> {
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
pub(super) struct Analysis<'h> {
    pub(super) history: &'h History,
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
    pub(super) fn writer(&self, key: Key, value: Value) -> Option<AttemptId> {
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
