//! The dependency graph over committed attempts (ww, wr and rw edges recovered from the lists)
//! and the search for its cycles: strongly connected components, then the most specific of
//! Adya's classes (G0, G1c, G-single, G2) with one cycle of that class as evidence.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use super::analysis::Analysis;
use super::anomaly::{CycleKind, Dependency};
use super::{AttemptId, Key, Op, Value};

/// The kinds of one dependency edge, as a bit set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct DepKinds(u8);

impl DepKinds {
    pub(super) const WW: DepKinds = DepKinds(1);
    pub(super) const WR: DepKinds = DepKinds(2);
    pub(super) const RW: DepKinds = DepKinds(4);
    const NONE: DepKinds = DepKinds(0);
    pub(super) const ALL: DepKinds = DepKinds(7);

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

/// The dependency graph over committed attempts. Nodes are indexes into `nodes`.
pub(super) struct DependencyGraph {
    /// The committed attempt each node stands for.
    pub(super) nodes: Vec<AttemptId>,
    /// Outgoing edges of each node, with their kinds; no self loops.
    out: Vec<Vec<(usize, DepKinds)>>,
}

impl DependencyGraph {
    pub(super) fn build(analysis: &Analysis<'_>) -> Self {
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
    pub(super) fn components(&self, member: &[bool], kinds: DepKinds) -> Vec<Vec<usize>> {
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
    pub(super) fn classify(
        &self,
        component: &[usize],
        budget: &mut usize,
    ) -> (CycleKind, Vec<Dependency>) {
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
