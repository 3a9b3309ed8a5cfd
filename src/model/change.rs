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

    /// The kind with this [`name`](ChangeSetKind::name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ChangeSetKind::TimeSignature,
            ChangeSetKind::KeySignature,
            ChangeSetKind::Tempo,
        ]
        .into_iter()
        .find(|k| k.name() == name)
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

/// A redo record being read: its fields and the op it names, for messages.
struct Record<'a> {
    map: &'a ValueMap,
    op: &'a str,
}

impl<'a> Record<'a> {
    fn error(&self, field: &str, message: impl std::fmt::Display) -> ModelError {
        ModelError::invalid(format!(
            "invalid change record (:op :{}): :{field} {message}",
            self.op
        ))
    }

    /// Refuses keys other than `:at`, `:op` and `fields`.
    fn only(&self, fields: &[&str]) -> Result<(), ModelError> {
        for (key, _) in self.map.iter() {
            let known = matches!(key, Value::Keyword(k) if k.namespace().is_none()
                && (["at", "op"].contains(&k.name()) || fields.contains(&k.name())));
            if !known {
                return Err(ModelError::invalid(format!(
                    "invalid change record (:op :{}): unexpected key {key}",
                    self.op
                )));
            }
        }
        Ok(())
    }

    fn get(&self, field: &str) -> Result<&'a Value, ModelError> {
        self.map
            .get_keyword(field)
            .ok_or_else(|| self.error(field, "is missing"))
    }

    fn value(&self, field: &str) -> Result<Value, ModelError> {
        self.get(field).cloned()
    }

    /// `nil` is `None`, as [`Change::to_value`] writes it.
    fn optional(&self, field: &str) -> Result<Option<Value>, ModelError> {
        let v = self.get(field)?;
        Ok((!v.is_nil()).then(|| v.clone()))
    }

    fn keyword(&self, field: &str) -> Result<&'a Keyword, ModelError> {
        match self.get(field)? {
            Value::Keyword(k) => Ok(k),
            other => Err(self.error(field, format!("must be a keyword, not a {}", other.kind()))),
        }
    }

    /// The name of a keyword without a namespace.
    fn name(&self, field: &str) -> Result<&'a str, ModelError> {
        let k = self.keyword(field)?;
        if k.namespace().is_some() {
            return Err(self.error(field, format!("must have no namespace, got {k}")));
        }
        Ok(k.name())
    }

    fn int(&self, field: &str) -> Result<i64, ModelError> {
        match self.get(field)? {
            Value::Int(n) => Ok(*n),
            other => Err(self.error(field, format!("must be an integer, not a {}", other.kind()))),
        }
    }

    fn index(&self, field: &str) -> Result<usize, ModelError> {
        let n = self.int(field)?;
        usize::try_from(n)
            .map_err(|_| self.error(field, format!("must be a non-negative integer, got {n}")))
    }

    fn coll(&self) -> Result<Coll, ModelError> {
        let name = self.name("coll")?;
        Coll::from_plural(name)
            .ok_or_else(|| self.error("coll", format!("names no collection: :{name}")))
    }

    fn vector(&self, field: &str) -> Result<&'a [Value], ModelError> {
        match self.get(field)? {
            Value::Vector(items) => Ok(items.as_slice()),
            other => Err(self.error(field, format!("must be a vector, not a {}", other.kind()))),
        }
    }
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

    /// Reads a change written by [`Change::to_value`] (the redo record); refuses anything else:
    /// a missing field, a field of the wrong type, a key the op does not write, an unknown op,
    /// collection or change-set kind, a negative index.
    pub fn from_value(value: &Value) -> Result<Change, ModelError> {
        let Value::Map(map) = value else {
            return Err(ModelError::invalid(format!(
                "invalid change record: a change record is a map, not a {}",
                value.kind()
            )));
        };
        let op = match map.get_keyword("op") {
            Some(Value::Keyword(k)) if k.namespace().is_none() => k.name(),
            Some(Value::Keyword(k)) => {
                return Err(ModelError::invalid(format!(
                    "invalid change record: :op {k} names no change"
                )));
            }
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "invalid change record: :op must be a keyword, not a {}",
                    other.kind()
                )));
            }
            None => return Err(ModelError::invalid("invalid change record: :op is missing")),
        };
        let r = Record { map, op };
        let op = match op {
            "set-attr" => {
                r.only(&["key", "value"])?;
                ChangeOp::SetAttr {
                    key: r.keyword("key")?.clone(),
                    value: r.optional("value")?,
                }
            }
            "set-title" => {
                r.only(&["value"])?;
                match r.get("value")? {
                    Value::String(t) => ChangeOp::SetTitle(t.clone()),
                    other => {
                        return Err(
                            r.error("value", format!("must be a string, not a {}", other.kind()))
                        );
                    }
                }
            }
            "set-setting" => {
                r.only(&["key", "value"])?;
                ChangeOp::SetSetting {
                    key: r.keyword("key")?.clone(),
                    value: r.optional("value")?,
                }
            }
            "set-change" => {
                r.only(&["kind", "measure", "value"])?;
                let name = r.name("kind")?;
                ChangeOp::SetChange {
                    kind: ChangeSetKind::from_name(name)
                        .ok_or_else(|| r.error("kind", format!("names no change set: :{name}")))?,
                    measure: r.int("measure")?,
                    value: r.optional("value")?,
                }
            }
            "set" => {
                r.only(&["coll", "index", "value"])?;
                ChangeOp::Set {
                    coll: r.coll()?,
                    index: r.index("index")?,
                    value: r.value("value")?,
                }
            }
            "insert" => {
                r.only(&["coll", "index", "value"])?;
                ChangeOp::Insert {
                    coll: r.coll()?,
                    index: r.index("index")?,
                    value: r.value("value")?,
                }
            }
            "remove" => {
                r.only(&["coll", "index"])?;
                ChangeOp::Remove {
                    coll: r.coll()?,
                    index: r.index("index")?,
                }
            }
            "move" => {
                r.only(&["coll", "from", "to"])?;
                ChangeOp::Move {
                    coll: r.coll()?,
                    from: r.index("from")?,
                    to: r.index("to")?,
                }
            }
            "set-all" => {
                r.only(&["coll", "values"])?;
                ChangeOp::SetAll {
                    coll: r.coll()?,
                    values: r.vector("values")?.to_vec(),
                }
            }
            "set-musician-ids" => {
                r.only(&["ids"])?;
                let ids = r.vector("ids")?.iter().enumerate().map(|(i, v)| {
                    let text = v.as_str().ok_or_else(|| {
                        r.error(
                            "ids",
                            format!("element {i} must be a string, not a {}", v.kind()),
                        )
                    })?;
                    text.parse::<EntityId>().map_err(|e| {
                        r.error(
                            "ids",
                            format!("element {i} is not an entity id ({text:?}: {e})"),
                        )
                    })
                });
                ChangeOp::SetMusicianIds {
                    ids: ids.collect::<Result<_, _>>()?,
                }
            }
            _ => {
                return Err(ModelError::invalid(format!(
                    "invalid change record: :op :{op} names no change"
                )));
            }
        };
        let at = Vpd::parse(r.get("at")?).map_err(|e| r.error("at", e))?;
        Ok(Change { at, op })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::edn;

    fn vpd(text: &str) -> Vpd {
        Vpd::parse(&edn::parse(text).unwrap()).unwrap()
    }

    fn key(name: &str) -> Keyword {
        Keyword::parse(name).unwrap()
    }

    fn change(at: &str, op: ChangeOp) -> Change {
        Change { at: vpd(at), op }
    }

    /// The message `from_value` refuses the record (EDN text) with.
    fn refused(text: &str) -> String {
        match Change::from_value(&edn::parse(text).unwrap()) {
            Err(ModelError::Invalid(message)) => message,
            other => panic!("{text} was not refused as invalid: {other:?}"),
        }
    }

    #[test]
    fn every_change_round_trips_through_its_redo_record() {
        let instrument = edn::parse(r#"#ooloi.Instrument{:name "Flute" :staves []}"#).unwrap();
        let ids = vec![EntityId::mint(), EntityId::mint()];
        let mut changes = vec![
            change(
                "[:m 0 1 0 3 0 :items 2]",
                ChangeOp::SetAttr {
                    key: key("dynamic"),
                    value: Some(Value::keyword("pp")),
                },
            ),
            change(
                "[:m 0]",
                ChangeOp::SetAttr {
                    key: key("ooloi/name"),
                    value: None,
                },
            ),
            change("[]", ChangeOp::SetTitle(Arc::from("Sinfonia — № 2"))),
            change("[]", ChangeOp::SetTitle(Arc::from(""))),
            change(
                "[]",
                ChangeOp::SetSetting {
                    key: key("tuning"),
                    value: Some(Value::Int(442)),
                },
            ),
            change(
                "[]",
                ChangeOp::SetSetting {
                    key: key("tuning"),
                    value: None,
                },
            ),
            change(
                "[:m 0 0 0 0 0]",
                ChangeOp::Set {
                    coll: Coll::Items,
                    index: 3,
                    value: Value::Nil,
                },
            ),
            change(
                "[:m 0]",
                ChangeOp::Insert {
                    coll: Coll::Instruments,
                    index: 0,
                    value: instrument.clone(),
                },
            ),
            change(
                "[:l 0 1 2]",
                ChangeOp::Move {
                    coll: Coll::StaffViews,
                    from: 4,
                    to: 0,
                },
            ),
            change(
                "[:m 1 0 0 7 0]",
                ChangeOp::SetAll {
                    coll: Coll::Items,
                    values: vec![],
                },
            ),
            change(
                "[]",
                ChangeOp::SetAll {
                    coll: Coll::Musicians,
                    values: vec![instrument.clone(), Value::map([])],
                },
            ),
            change("[:l 0]", ChangeOp::SetMusicianIds { ids: vec![] }),
            change("[:l 2]", ChangeOp::SetMusicianIds { ids }),
        ];
        for kind in [
            ChangeSetKind::TimeSignature,
            ChangeSetKind::KeySignature,
            ChangeSetKind::Tempo,
        ] {
            for (measure, value) in [
                (0, Some(edn::parse("{:beats 3 :unit 4}").unwrap())),
                (-1, None),
                (i64::MAX, Some(Value::Int(120))),
                (i64::MIN, Some(Value::ratio(3, 4).unwrap())),
            ] {
                changes.push(change(
                    "[]",
                    ChangeOp::SetChange {
                        kind,
                        measure,
                        value,
                    },
                ));
            }
        }
        for (i, coll) in Coll::ALL.into_iter().enumerate() {
            changes.push(change("[]", ChangeOp::Remove { coll, index: i }));
        }
        changes.push(change(
            "[:m 0 0 0 0 0 :items 1]",
            ChangeOp::Remove {
                coll: Coll::Items,
                index: usize::try_from(i64::MAX).unwrap(),
            },
        ));
        for c in &changes {
            let record = c.to_value();
            assert_eq!(Change::from_value(&record).as_ref(), Ok(c), "{record}");
            // As persisted: through EDN text and back.
            let reread = edn::parse(&record.to_string()).unwrap();
            assert_eq!(Change::from_value(&reread).as_ref(), Ok(c), "{record}");
        }
    }

    #[test]
    fn a_record_without_a_known_op_is_refused() {
        assert!(refused("[:m 0]").contains("a change record is a map, not a vector"));
        assert!(refused("{:at [:m 0] :coll :instruments :index 0}").contains(":op is missing"));
        assert!(refused("{:at [] :op :frobnicate}").contains(":op :frobnicate names no change"));
        assert!(refused("{:at [] :op :ooloi/insert}").contains("names no change"));
        assert!(
            refused(r#"{:at [] :op "set-title" :value "x"}"#).contains(":op must be a keyword")
        );
    }

    #[test]
    fn negative_or_non_integer_indexes_are_refused() {
        let m = refused("{:at [:m 0] :op :remove :coll :instruments :index -1}");
        assert!(
            m.contains(":index must be a non-negative integer, got -1"),
            "{m}"
        );
        let m = refused("{:at [:m 0] :op :move :coll :instruments :from 0 :to -2}");
        assert!(
            m.contains(":to must be a non-negative integer, got -2"),
            "{m}"
        );
        let m = refused(r#"{:at [:m 0] :op :insert :coll :instruments :index "0" :value nil}"#);
        assert!(m.contains(":index must be an integer, not a string"), "{m}");
        let m = refused("{:at [:m 0] :op :set :coll :instruments :index 1.0 :value nil}");
        assert!(m.contains(":index must be an integer, not a double"), "{m}");
        let m = refused("{:at [] :op :remove :coll :musicians :index 1N}");
        assert!(
            m.contains(":index must be an integer, not a big integer"),
            "{m}"
        );
        let m = refused("{:at [] :op :set-change :kind :tempo :measure 3/4 :value nil}");
        assert!(
            m.contains(":measure must be an integer, not a ratio"),
            "{m}"
        );
    }

    #[test]
    fn fields_missing_or_of_the_wrong_type_are_refused_naming_the_field() {
        for (text, expected) in [
            ("{:op :set-title :value \"x\"}", ":at is missing"),
            (
                "{:at [:x 0] :op :set-title :value \"x\"}",
                ":at invalid VPD",
            ),
            (
                "{:at {:m 0} :op :set-title :value \"x\"}",
                ":at invalid VPD",
            ),
            (
                "{:at [] :op :set-title :value :x}",
                ":value must be a string",
            ),
            ("{:at [] :op :set-title}", ":value is missing"),
            (
                "{:at [] :op :set-attr :key \"k\" :value 1}",
                ":key must be a keyword",
            ),
            ("{:at [] :op :set-setting :key :k}", ":value is missing"),
            (
                "{:at [] :op :set-change :kind :meter :measure 0 :value nil}",
                ":kind names no change set: :meter",
            ),
            (
                "{:at [] :op :set-change :kind \"tempo\" :measure 0 :value nil}",
                ":kind must be a keyword",
            ),
            (
                "{:at [] :op :remove :coll :widgets :index 0}",
                ":coll names no collection: :widgets",
            ),
            (
                "{:at [] :op :remove :coll :ooloi/musicians :index 0}",
                ":coll must have no namespace",
            ),
            (
                "{:at [] :op :remove :coll \"musicians\" :index 0}",
                ":coll must be a keyword",
            ),
            (
                "{:at [] :op :insert :coll :musicians :index 0}",
                ":value is missing",
            ),
            (
                "{:at [] :op :set-all :coll :musicians :values (1 2)}",
                ":values must be a vector, not a list",
            ),
            (
                "{:at [:l 0] :op :set-musician-ids :ids nil}",
                ":ids must be a vector",
            ),
            (
                "{:at [:l 0] :op :set-musician-ids :ids [#uuid \"00000000-0000-0000-0000-000000000001\"]}",
                ":ids element 0 must be a string, not a uuid",
            ),
            (
                "{:at [:l 0] :op :set-musician-ids :ids [\"00000000-0000-0000-0000-000000000001\" \"nope\"]}",
                ":ids element 1 is not an entity id",
            ),
            (
                "{:at [] :op :remove :coll :musicians :index 0 :value nil}",
                "unexpected key :value",
            ),
            (
                "{:at [] :op :set-title :value \"x\" \"at\" []}",
                "unexpected key \"at\"",
            ),
        ] {
            let m = refused(text);
            assert!(m.contains(expected), "{text}: {m}");
            assert!(m.starts_with("invalid change record"), "{text}: {m}");
        }
    }
}
