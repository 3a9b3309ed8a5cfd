//! Classification of a transaction's changes into piece events: which parts of the score a
//! client must refetch or re-lay-out. At most one event of each kind per piece per transaction;
//! each carries the piece id, the new version, and what it invalidates:
//!
//! | event | raised by | data |
//! |---|---|---|
//! | `piece-structure-changed` | musicians, instruments, staves or layouts added, removed, moved, copied or replaced; names; the title; piece settings; a layout's musicians | - |
//! | `piece-measures-invalidated` | measures, voices, items and their attributes; time and key signatures and tempos | `:ranges [{:staff vpd :first i :last j-or-nil}]` (nil: to the end), `:all-staves-from i` for change sets |
//! | `piece-staff-invalidated` | staff attributes other than names (clef, lines); instrument attributes other than names and the endpoint counter `:next-id` (its staves) | `:staves [vpd ...]` |
//! | `piece-layout-invalidated` | layout attributes other than the name; a layout's page views | `:layouts [vpd ...]` |
//! | `piece-page-invalidated` | page view attributes; a page's system views | `:pages [vpd ...]` |
//! | `piece-system-invalidated` | anything below a system view | `:systems [vpd ...]` |
//! | `piece-deleted` | the piece was deleted | - |

use std::collections::{BTreeMap, BTreeSet};

use super::change::{Change, ChangeOp};
use super::entity::Piece;
use super::ids::PieceId;
use super::tree::NodeRef;
use super::vpd::{Coll, Vpd};
use crate::value::Value;

/// The kinds of piece event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    PieceStructureChanged,
    PieceMeasuresInvalidated,
    PieceStaffInvalidated,
    PieceLayoutInvalidated,
    PiecePageInvalidated,
    PieceSystemInvalidated,
    PieceDeleted,
}

impl EventKind {
    /// The event's `:type` name.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::PieceStructureChanged => "piece-structure-changed",
            EventKind::PieceMeasuresInvalidated => "piece-measures-invalidated",
            EventKind::PieceStaffInvalidated => "piece-staff-invalidated",
            EventKind::PieceLayoutInvalidated => "piece-layout-invalidated",
            EventKind::PiecePageInvalidated => "piece-page-invalidated",
            EventKind::PieceSystemInvalidated => "piece-system-invalidated",
            EventKind::PieceDeleted => "piece-deleted",
        }
    }
}

/// One piece event.
#[derive(Clone, Debug, PartialEq)]
pub struct PieceEvent {
    /// What kind.
    pub kind: EventKind,
    /// The piece.
    pub piece_id: PieceId,
    /// The piece version the event describes.
    pub version: u64,
    /// Kind-specific data (keyword name, value).
    pub data: Vec<(&'static str, Value)>,
}

impl PieceEvent {
    /// The event as its map: `{:type :piece-... :piece-id "..." :version n ...}`.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![
            (Value::keyword("type"), Value::keyword(self.kind.name())),
            (
                Value::keyword("piece-id"),
                Value::string(self.piece_id.to_string()),
            ),
            (Value::keyword("version"), Value::Int(self.version as i64)),
        ];
        entries.extend(
            self.data
                .iter()
                .map(|(k, v)| (Value::keyword(k), v.clone())),
        );
        Value::map(entries)
    }
}

/// The measures a staff needs re-laid: `first..=last`, `last == None` meaning to the end.
#[derive(Clone, Copy)]
struct Range {
    first: usize,
    last: Option<usize>,
}

impl Range {
    fn merge(self, other: Range) -> Range {
        Range {
            first: self.first.min(other.first),
            last: match (self.last, other.last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
        }
    }
}

#[derive(Default)]
struct Collector {
    structure: bool,
    ranges: BTreeMap<Vpd, Range>,
    all_staves_from: Option<i64>,
    staves: BTreeSet<Vpd>,
    layouts: BTreeSet<Vpd>,
    pages: BTreeSet<Vpd>,
    systems: BTreeSet<Vpd>,
}

impl Collector {
    fn measures(&mut self, staff: Vpd, range: Range) {
        let merged = match self.ranges.get(&staff) {
            Some(existing) => existing.merge(range),
            None => range,
        };
        self.ranges.insert(staff, merged);
    }

    /// Musical content changed at or below `at` (a measure, voice, tuplet or item path).
    fn content(&mut self, at: &Vpd) {
        if at.0.len() >= 4 {
            let measure = at.0[3].index;
            self.measures(
                Vpd(at.0[..3].to_vec()),
                Range {
                    first: measure,
                    last: Some(measure),
                },
            );
        }
    }

    /// Something changed in the visual hierarchy at `at` (depth 1 = layout, 2 = page, more =
    /// system or below).
    fn visual(&mut self, at: &Vpd) {
        match at.0.len() {
            0 => self.structure = true,
            1 => {
                self.layouts.insert(at.clone());
            }
            2 => {
                self.pages.insert(at.clone());
            }
            _ => {
                self.systems.insert(Vpd(at.0[..3].to_vec()));
            }
        }
    }

    fn add(&mut self, change: &Change, after: &Piece) {
        let at = &change.at;
        let visual = at.0.first().is_some_and(|s| s.coll == Coll::Layouts);
        match &change.op {
            ChangeOp::SetTitle(_)
            | ChangeOp::SetSetting { .. }
            | ChangeOp::SetMusicianIds { .. } => self.structure = true,
            ChangeOp::SetChange { measure, .. } => {
                self.all_staves_from =
                    Some(self.all_staves_from.map_or(*measure, |m| m.min(*measure)));
            }
            ChangeOp::SetAttr { key, .. } => {
                let name_like = key.namespace().is_none()
                    && matches!(key.name(), "name" | "short-name" | "number");
                match at.0.len() {
                    0 => self.structure = true,
                    _ if name_like && (visual && at.0.len() == 1 || !visual && at.0.len() <= 3) => {
                        self.structure = true
                    }
                    _ if visual => self.visual(at),
                    1 => self.structure = true,
                    // The instrument's endpoint-id counter (kept by `add-attachment`) is
                    // bookkeeping: the items it numbers report their own change.
                    2 if key.namespace().is_none() && key.name() == "next-id" => {}
                    2 => {
                        // An instrument's attributes (transposition, range...) affect its staves.
                        if let Ok(NodeRef::Instrument(instrument)) = after.node(at) {
                            for i in 0..instrument.staves.len() {
                                self.staves.insert(at.child(Coll::Staves, i));
                            }
                        }
                    }
                    3 => {
                        self.staves.insert(at.clone());
                    }
                    _ => self.content(at),
                }
            }
            ChangeOp::Set { coll, index, .. }
            | ChangeOp::Insert { coll, index, .. }
            | ChangeOp::Remove { coll, index } => {
                let (first, last) = match change.op {
                    ChangeOp::Set { .. } => (*index, Some(*index)),
                    _ => (*index, None),
                };
                self.collection(at, *coll, Range { first, last });
            }
            ChangeOp::Move { coll, from, to } => {
                let range = Range {
                    first: *from.min(to),
                    last: Some(*from.max(to)),
                };
                self.collection(at, *coll, range);
            }
            ChangeOp::SetAll { coll, .. } => self.collection(
                at,
                *coll,
                Range {
                    first: 0,
                    last: None,
                },
            ),
        }
    }

    fn collection(&mut self, at: &Vpd, coll: Coll, range: Range) {
        match coll {
            c if c.is_structural() => self.structure = true,
            Coll::Measures => self.measures(at.clone(), range),
            Coll::Voices | Coll::Items => self.content(at),
            _ => self.visual(at),
        }
    }

    fn events(self, piece_id: PieceId, version: u64) -> Vec<PieceEvent> {
        let mut events = Vec::new();
        let mut push = |kind, data| {
            events.push(PieceEvent {
                kind,
                piece_id,
                version,
                data,
            })
        };
        let vpds = |set: BTreeSet<Vpd>| Value::vector(set.iter().map(Vpd::to_compact));
        if self.structure {
            push(EventKind::PieceStructureChanged, vec![]);
        }
        if !self.ranges.is_empty() || self.all_staves_from.is_some() {
            let ranges = Value::vector(self.ranges.iter().map(|(staff, r)| {
                Value::map([
                    (Value::keyword("staff"), staff.to_compact()),
                    (Value::keyword("first"), Value::Int(r.first as i64)),
                    (
                        Value::keyword("last"),
                        r.last.map_or(Value::Nil, |l| Value::Int(l as i64)),
                    ),
                ])
            }));
            let mut data = vec![("ranges", ranges)];
            if let Some(from) = self.all_staves_from {
                data.push(("all-staves-from", Value::Int(from)));
            }
            push(EventKind::PieceMeasuresInvalidated, data);
        }
        if !self.staves.is_empty() {
            push(
                EventKind::PieceStaffInvalidated,
                vec![("staves", vpds(self.staves))],
            );
        }
        if !self.layouts.is_empty() {
            push(
                EventKind::PieceLayoutInvalidated,
                vec![("layouts", vpds(self.layouts))],
            );
        }
        if !self.pages.is_empty() {
            push(
                EventKind::PiecePageInvalidated,
                vec![("pages", vpds(self.pages))],
            );
        }
        if !self.systems.is_empty() {
            push(
                EventKind::PieceSystemInvalidated,
                vec![("systems", vpds(self.systems))],
            );
        }
        events
    }
}

/// The events for the changes one transaction made to a piece, now at `after`.
pub fn classify(after: &Piece, changes: &[Change]) -> Vec<PieceEvent> {
    let mut collector = Collector::default();
    for change in changes {
        collector.add(change, after);
    }
    collector.events(after.id, after.version)
}

/// The event for a deleted piece.
pub fn deleted(piece_id: PieceId, version: u64) -> PieceEvent {
    PieceEvent {
        kind: EventKind::PieceDeleted,
        piece_id,
        version,
        data: vec![],
    }
}
