//! Path-level changes: every edit of a piece is a list of [`Change`]s, each naming the node it
//! applies to (a [`Vpd`]) and what it does there, with every value complete (ids already
//! minted). Applying the list to the piece before the edit gives the piece after it, always
//! the same way, so the list is both what the events are classified from and the redo record
//! that persistence writes and replays.

use std::sync::Arc;

use super::ModelError;
use super::entity::Piece;
use super::ids::EntityId;
use super::tree::NodeMut;
use super::vpd::{Coll, Vpd};
use crate::value::{Keyword, Value, ValueMap};

/// The measure-indexed change sets of a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeSetKind {
    TimeSignature,
    KeySignature,
    Tempo,
}

impl ChangeSetKind {
    /// The name used in methods (`set-time-signature`) and values.
    pub const fn name(self) -> &'static str {
        match self {
            ChangeSetKind::TimeSignature => "time-signature",
            ChangeSetKind::KeySignature => "key-signature",
            ChangeSetKind::Tempo => "tempo",
        }
    }
}

/// What a change does at its node.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeOp {
    /// Sets (or with `None` removes) an attribute of the node.
    SetAttr { key: Keyword, value: Option<Value> },
    /// Sets the piece title.
    SetTitle(Arc<str>),
    /// Sets (or with `None` resets to default) a piece setting.
    SetSetting { key: Keyword, value: Option<Value> },
    /// Sets (or with `None` removes) the change-set entry at a measure.
    SetChange {
        kind: ChangeSetKind,
        measure: i64,
        value: Option<Value>,
    },
    /// Replaces element `index` of a child collection.
    Set {
        coll: Coll,
        index: usize,
        value: Value,
    },
    /// Inserts an element into a child collection.
    Insert {
        coll: Coll,
        index: usize,
        value: Value,
    },
    /// Removes an element of a child collection.
    Remove { coll: Coll, index: usize },
    /// Moves an element within a child collection.
    Move { coll: Coll, from: usize, to: usize },
    /// Replaces a whole child collection.
    SetAll { coll: Coll, values: Vec<Value> },
    /// Replaces the musicians a layout shows.
    SetMusicianIds { ids: Vec<EntityId> },
}

/// One path-level change.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The node the change applies to.
    pub at: Vpd,
    /// What it does.
    pub op: ChangeOp,
}

fn out_of_range(at: &Vpd, coll: Coll, index: usize, len: usize) -> ModelError {
    ModelError::VpdNotFound {
        vpd: at.child(coll, index).to_string(),
        message: format!("no {} {index} (there are {len})", coll.singular()),
    }
}

fn collection<'a>(
    node: NodeMut<'a>,
    at: &Vpd,
    coll: Coll,
) -> Result<&'a mut dyn super::tree::DynColl, ModelError> {
    node.collection(coll)
        .ok_or_else(|| ModelError::invalid(format!("the node at {at} has no {}", coll.plural())))
}

fn set_in_map(map: &mut ValueMap, key: Value, value: Option<Value>) -> bool {
    let before = map.get(&key).cloned();
    if before == value {
        return false;
    }
    *map = match value {
        Some(v) => map.insert(key, v),
        None => map.iter().filter(|(k, _)| *k != key).cloned().collect(),
    };
    true
}

impl Change {
    /// True when the change may alter structural ids.
    fn is_structural(&self) -> bool {
        match &self.op {
            ChangeOp::Set { coll, .. }
            | ChangeOp::Insert { coll, .. }
            | ChangeOp::Remove { coll, .. }
            | ChangeOp::Move { coll, .. }
            | ChangeOp::SetAll { coll, .. } => coll.is_structural(),
            ChangeOp::SetMusicianIds { .. } => true,
            _ => false,
        }
    }

    /// Applies the change; returns whether the piece changed.
    pub fn apply(&self, piece: &mut Piece) -> Result<bool, ModelError> {
        let changed = self.apply_op(piece)?;
        if changed && self.is_structural() {
            piece.structure += 1;
        }
        Ok(changed)
    }

    fn apply_op(&self, piece: &mut Piece) -> Result<bool, ModelError> {
        let at = &self.at;
        match &self.op {
            ChangeOp::SetTitle(title) => {
                if *piece.title == **title {
                    return Ok(false);
                }
                piece.title = title.clone();
                Ok(true)
            }
            ChangeOp::SetSetting { key, value } => Ok(set_in_map(
                &mut piece.settings,
                Value::Keyword(key.clone()),
                value.clone(),
            )),
            ChangeOp::SetChange {
                kind,
                measure,
                value,
            } => {
                let map = match kind {
                    ChangeSetKind::TimeSignature => &mut piece.time_signatures,
                    ChangeSetKind::KeySignature => &mut piece.key_signatures,
                    ChangeSetKind::Tempo => &mut piece.tempos,
                };
                Ok(set_in_map(map, Value::Int(*measure), value.clone()))
            }
            ChangeOp::SetAttr { key, value } => {
                let attrs = piece.node_mut(at)?.attrs().ok_or_else(|| {
                    ModelError::invalid(format!("the node at {at} has no attributes"))
                })?;
                Ok(set_in_map(
                    attrs,
                    Value::Keyword(key.clone()),
                    value.clone(),
                ))
            }
            ChangeOp::Set { coll, index, value } => {
                let c = collection(piece.node_mut(at)?, at, *coll)?;
                if *index >= c.len() {
                    return Err(out_of_range(at, *coll, *index, c.len()));
                }
                c.set(*index, value)
            }
            ChangeOp::Insert { coll, index, value } => {
                let c = collection(piece.node_mut(at)?, at, *coll)?;
                if *index > c.len() {
                    return Err(out_of_range(at, *coll, *index, c.len()));
                }
                c.insert(*index, value)?;
                Ok(true)
            }
            ChangeOp::Remove { coll, index } => {
                let c = collection(piece.node_mut(at)?, at, *coll)?;
                if *index >= c.len() {
                    return Err(out_of_range(at, *coll, *index, c.len()));
                }
                c.remove(*index);
                Ok(true)
            }
            ChangeOp::Move { coll, from, to } => {
                let c = collection(piece.node_mut(at)?, at, *coll)?;
                let len = c.len();
                if *from >= len || *to >= len {
                    return Err(out_of_range(at, *coll, (*from).max(*to), len));
                }
                if from == to {
                    return Ok(false);
                }
                c.move_to(*from, *to);
                Ok(true)
            }
            ChangeOp::SetAll { coll, values } => {
                collection(piece.node_mut(at)?, at, *coll)?.set_all(values)
            }
            ChangeOp::SetMusicianIds { ids } => match piece.node_mut(at)? {
                NodeMut::Layout(layout) => {
                    let new: super::cowvec::CowVec<EntityId> = ids.iter().copied().collect();
                    if layout.musician_ids == new {
                        return Ok(false);
                    }
                    layout.musician_ids = new;
                    Ok(true)
                }
                _ => Err(ModelError::invalid(format!("{at} is not a layout"))),
            },
        }
    }

    /// The change as a value, for logs and the redo record:
    /// `{:at [:m 0] :op :insert :coll :instruments :index 0 :value #...Instrument{...}}`.
    pub fn to_value(&self) -> Value {
        let mut fields: Vec<(&str, Value)> = vec![("at", self.at.to_compact())];
        let kw = Value::keyword;
        let opt = |v: &Option<Value>| v.clone().unwrap_or(Value::Nil);
        match &self.op {
            ChangeOp::SetAttr { key, value } => {
                fields.extend([
                    ("op", kw("set-attr")),
                    ("key", Value::Keyword(key.clone())),
                    ("value", opt(value)),
                ]);
            }
            ChangeOp::SetTitle(t) => {
                fields.extend([("op", kw("set-title")), ("value", Value::String(t.clone()))])
            }
            ChangeOp::SetSetting { key, value } => {
                fields.extend([
                    ("op", kw("set-setting")),
                    ("key", Value::Keyword(key.clone())),
                    ("value", opt(value)),
                ]);
            }
            ChangeOp::SetChange {
                kind,
                measure,
                value,
            } => fields.extend([
                ("op", kw("set-change")),
                ("kind", kw(kind.name())),
                ("measure", Value::Int(*measure)),
                ("value", opt(value)),
            ]),
            ChangeOp::Set { coll, index, value } => fields.extend([
                ("op", kw("set")),
                ("coll", kw(coll.plural())),
                ("index", Value::Int(*index as i64)),
                ("value", value.clone()),
            ]),
            ChangeOp::Insert { coll, index, value } => fields.extend([
                ("op", kw("insert")),
                ("coll", kw(coll.plural())),
                ("index", Value::Int(*index as i64)),
                ("value", value.clone()),
            ]),
            ChangeOp::Remove { coll, index } => fields.extend([
                ("op", kw("remove")),
                ("coll", kw(coll.plural())),
                ("index", Value::Int(*index as i64)),
            ]),
            ChangeOp::Move { coll, from, to } => fields.extend([
                ("op", kw("move")),
                ("coll", kw(coll.plural())),
                ("from", Value::Int(*from as i64)),
                ("to", Value::Int(*to as i64)),
            ]),
            ChangeOp::SetAll { coll, values } => fields.extend([
                ("op", kw("set-all")),
                ("coll", kw(coll.plural())),
                ("values", Value::vector(values.iter().cloned())),
            ]),
            ChangeOp::SetMusicianIds { ids } => fields.extend([
                ("op", kw("set-musician-ids")),
                (
                    "ids",
                    Value::vector(ids.iter().map(|id| Value::string(id.to_string()))),
                ),
            ]),
        }
        Value::map(fields.into_iter().map(|(k, v)| (kw(k), v)))
    }
}
