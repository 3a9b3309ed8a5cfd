//! The piece tree as typed structs over persistent vectors (`imbl`): cloning any node is O(1),
//! and an update copies only the path from the root to what it changes, so every STM version of
//! a piece shares all untouched structure with the previous one.
//!
//! Entities keep typed fields for what the server relies on (ids, children, notes, durations)
//! and an `attrs` map for everything else: declared attributes (see `attrs`) and any unknown
//! field a client or plugin sent, which is kept and returned as it came.
//!
//! On the wire every entity is a record whose type name is Ooloi's class name (so Ooloi clients
//! read them as their own records); plain maps are accepted too (items then need `:type`).

use std::sync::Arc;

use imbl::Vector;

use super::cowvec::CowVec;

use super::ModelError;
use super::ids::{EntityId, PieceId};
use super::pitch::Note;
use crate::value::{Keyword, Ratio, Record, Value, ValueMap, ratio};

/// Record type names, as Ooloi's Clojure records are named on the wire.
pub mod type_names {
    pub const PIECE: &str = "ooloi.shared.models.musical.piece.Piece";
    pub const MUSICIAN: &str = "ooloi.shared.models.musical.musician.Musician";
    pub const INSTRUMENT: &str = "ooloi.shared.models.musical.instrument.Instrument";
    pub const STAFF: &str = "ooloi.shared.models.musical.staff.Staff";
    pub const MEASURE: &str = "ooloi.shared.models.musical.measure.Measure";
    pub const VOICE: &str = "ooloi.shared.models.musical.voice.Voice";
    pub const PITCH: &str = "ooloi.shared.models.musical.pitch.Pitch";
    pub const CHORD: &str = "ooloi.shared.models.musical.chord.Chord";
    pub const REST: &str = "ooloi.shared.models.musical.rest.Rest";
    pub const TUPLET: &str = "ooloi.shared.models.musical.tuplet.Tuplet";
    pub const LAYOUT: &str = "ooloi.shared.models.visual.layout.Layout";
    pub const PAGE_VIEW: &str = "ooloi.shared.models.visual.page_view.PageView";
    pub const SYSTEM_VIEW: &str = "ooloi.shared.models.visual.system_view.SystemView";
    pub const STAFF_VIEW: &str = "ooloi.shared.models.visual.staff_view.StaffView";
    pub const MEASURE_VIEW: &str = "ooloi.shared.models.visual.measure_view.MeasureView";
}

use type_names as tn;

/// A piece: the root of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub id: PieceId,
    /// Bumped by every transaction that changes the piece.
    pub version: u64,
    pub title: Arc<str>,
    /// Non-default piece settings (see `settings`).
    pub settings: ValueMap,
    pub musicians: CowVec<Musician>,
    pub layouts: CowVec<Layout>,
    /// Measure index -> time signature.
    pub time_signatures: ValueMap,
    /// Measure index -> key signature.
    pub key_signatures: ValueMap,
    /// Measure index -> tempo.
    pub tempos: ValueMap,
    /// Unknown fields.
    pub attrs: ValueMap,
    /// Counts changes that may alter structural ids (musicians, instruments, staves, layouts),
    /// so the piece validator re-checks ids only after such a change. Not part of the value.
    pub structure: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Musician {
    pub id: EntityId,
    pub attrs: ValueMap,
    pub instruments: CowVec<Instrument>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instrument {
    pub id: EntityId,
    pub attrs: ValueMap,
    pub staves: CowVec<Staff>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Staff {
    pub id: EntityId,
    pub attrs: ValueMap,
    pub measures: Vector<Measure>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Measure {
    pub attrs: ValueMap,
    pub voices: CowVec<Voice>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Voice {
    pub attrs: ValueMap,
    pub items: CowVec<Item>,
}

/// Something in a voice.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Pitch(Pitch),
    Chord(Chord),
    Rest(Rest),
    Tuplet(Tuplet),
    /// A plugin's or client's own record, kept as sent.
    Custom(Record),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pitch {
    pub note: Note,
    pub duration: Ratio,
    pub attachments: CowVec<Value>,
    pub attrs: ValueMap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chord {
    pub notes: CowVec<Note>,
    pub duration: Ratio,
    pub attachments: CowVec<Value>,
    pub attrs: ValueMap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rest {
    pub duration: Ratio,
    pub attachments: CowVec<Value>,
    pub attrs: ValueMap,
}

/// Items played in `ratio` of their written time (a triplet of eighths is 2/3).
#[derive(Clone, Debug, PartialEq)]
pub struct Tuplet {
    pub ratio: Ratio,
    pub items: CowVec<Item>,
    pub attrs: ValueMap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub id: EntityId,
    pub attrs: ValueMap,
    /// The musicians shown, in order, by id.
    pub musician_ids: CowVec<EntityId>,
    pub page_views: CowVec<PageView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PageView {
    pub attrs: ValueMap,
    pub system_views: CowVec<SystemView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct SystemView {
    pub attrs: ValueMap,
    pub staff_views: CowVec<StaffView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StaffView {
    pub attrs: ValueMap,
    pub measure_views: CowVec<MeasureView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct MeasureView {
    pub attrs: ValueMap,
}

impl Piece {
    /// An empty piece.
    pub fn new(id: PieceId, title: &str) -> Self {
        Piece {
            id,
            version: 0,
            title: Arc::from(title),
            settings: ValueMap::new(),
            musicians: CowVec::new(),
            layouts: CowVec::new(),
            time_signatures: ValueMap::new(),
            key_signatures: ValueMap::new(),
            tempos: ValueMap::new(),
            attrs: ValueMap::new(),
            structure: 0,
        }
    }
}

impl Item {
    /// The item's written duration (a tuplet's is its items' total times its ratio); `None`
    /// for custom items.
    pub fn duration(&self) -> Option<Ratio> {
        match self {
            Item::Pitch(p) => Some(p.duration),
            Item::Chord(c) => Some(c.duration),
            Item::Rest(r) => Some(r.duration),
            Item::Tuplet(t) => {
                let mut total = num_rational::Ratio::new_raw(0i64, 1);
                for item in t.items.iter() {
                    total += item.duration()?.as_rational();
                }
                let scaled = total * t.ratio.as_rational();
                Ratio::canonical(*scaled.numer(), *scaled.denom()).ok()
            }
            Item::Custom(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversion to values

fn kw(name: &'static str) -> Value {
    Value::Keyword(Keyword::from_static(name))
}

fn record(type_name: &'static str, attrs: &ValueMap, fields: Vec<(&'static str, Value)>) -> Value {
    let mut entries: Vec<(Value, Value)> = Vec::with_capacity(attrs.len() + fields.len());
    entries.extend(attrs.iter().cloned());
    entries.extend(fields.into_iter().map(|(k, v)| (kw(k), v)));
    Value::Record(Record::from_static(
        type_name,
        entries.into_iter().collect(),
    ))
}

fn seq<'a, T: 'a>(items: impl IntoIterator<Item = &'a T>, f: impl Fn(&T) -> Value) -> Value {
    Value::vector(items.into_iter().map(f))
}

/// Conversion of an entity to its wire form.
pub trait ToValue {
    /// The entity as a record.
    fn to_value(&self) -> Value;
}

impl ToValue for Piece {
    fn to_value(&self) -> Value {
        record(
            tn::PIECE,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                ("version", Value::Int(self.version as i64)),
                ("title", Value::String(self.title.clone())),
                ("settings", Value::Map(self.settings.clone())),
                ("musicians", seq(&self.musicians, ToValue::to_value)),
                ("layouts", seq(&self.layouts, ToValue::to_value)),
                ("time-signatures", Value::Map(self.time_signatures.clone())),
                ("key-signatures", Value::Map(self.key_signatures.clone())),
                ("tempos", Value::Map(self.tempos.clone())),
            ],
        )
    }
}

impl ToValue for Musician {
    fn to_value(&self) -> Value {
        record(
            tn::MUSICIAN,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                ("instruments", seq(&self.instruments, ToValue::to_value)),
            ],
        )
    }
}

impl ToValue for Instrument {
    fn to_value(&self) -> Value {
        record(
            tn::INSTRUMENT,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                ("staves", seq(&self.staves, ToValue::to_value)),
            ],
        )
    }
}

impl ToValue for Staff {
    fn to_value(&self) -> Value {
        record(
            tn::STAFF,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                ("measures", seq(&self.measures, ToValue::to_value)),
            ],
        )
    }
}

impl ToValue for Measure {
    fn to_value(&self) -> Value {
        record(
            tn::MEASURE,
            &self.attrs,
            vec![("voices", seq(&self.voices, ToValue::to_value))],
        )
    }
}

impl ToValue for Voice {
    fn to_value(&self) -> Value {
        record(
            tn::VOICE,
            &self.attrs,
            vec![("items", seq(&self.items, ToValue::to_value))],
        )
    }
}

fn note_value(n: &Note) -> Value {
    Value::string(n.to_string())
}

impl ToValue for Item {
    fn to_value(&self) -> Value {
        match self {
            Item::Pitch(p) => record(
                tn::PITCH,
                &p.attrs,
                vec![
                    // Fields in key order, so that building the record needs no sort.
                    ("attachments", seq(&p.attachments, Value::clone)),
                    ("duration", Value::Ratio(p.duration)),
                    ("note", note_value(&p.note)),
                ],
            ),
            Item::Chord(c) => record(
                tn::CHORD,
                &c.attrs,
                vec![
                    ("attachments", seq(&c.attachments, Value::clone)),
                    ("duration", Value::Ratio(c.duration)),
                    ("pitches", seq(&c.notes, note_value)),
                ],
            ),
            Item::Rest(r) => record(
                tn::REST,
                &r.attrs,
                vec![
                    ("attachments", seq(&r.attachments, Value::clone)),
                    ("duration", Value::Ratio(r.duration)),
                ],
            ),
            Item::Tuplet(t) => record(
                tn::TUPLET,
                &t.attrs,
                vec![
                    ("items", seq(&t.items, ToValue::to_value)),
                    ("ratio", Value::Ratio(t.ratio)),
                ],
            ),
            Item::Custom(r) => Value::Record(r.clone()),
        }
    }
}

impl ToValue for Layout {
    fn to_value(&self) -> Value {
        record(
            tn::LAYOUT,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                (
                    "musician-ids",
                    seq(&self.musician_ids, |id| Value::string(id.to_string())),
                ),
                ("page-views", seq(&self.page_views, ToValue::to_value)),
            ],
        )
    }
}

impl ToValue for PageView {
    fn to_value(&self) -> Value {
        record(
            tn::PAGE_VIEW,
            &self.attrs,
            vec![("system-views", seq(&self.system_views, ToValue::to_value))],
        )
    }
}

impl ToValue for SystemView {
    fn to_value(&self) -> Value {
        record(
            tn::SYSTEM_VIEW,
            &self.attrs,
            vec![("staff-views", seq(&self.staff_views, ToValue::to_value))],
        )
    }
}

impl ToValue for StaffView {
    fn to_value(&self) -> Value {
        record(
            tn::STAFF_VIEW,
            &self.attrs,
            vec![("measure-views", seq(&self.measure_views, ToValue::to_value))],
        )
    }
}

impl ToValue for MeasureView {
    fn to_value(&self) -> Value {
        record(tn::MEASURE_VIEW, &self.attrs, vec![])
    }
}

// ---------------------------------------------------------------------------------------------
// Conversion from values

/// The fields of an entity value being read: known fields are taken out, the rest stay as
/// attributes.
struct Fields {
    what: &'static str,
    entries: Vec<(Value, Value)>,
}

impl Fields {
    /// Accepts a record of `type_name` or a plain map.
    fn of(value: &Value, type_name: &str, what: &'static str) -> Result<Fields, ModelError> {
        let map = match value {
            Value::Map(m) => m,
            Value::Record(r) if r.type_name() == type_name => r.fields(),
            Value::Record(r) => {
                return Err(ModelError::invalid(format!(
                    "expected a {what}, got a record of type {}",
                    r.type_name()
                )));
            }
            other => {
                return Err(ModelError::invalid(format!(
                    "expected a {what} (record or map), got a {}",
                    other.kind()
                )));
            }
        };
        Ok(Fields {
            what,
            entries: map.iter().cloned().collect(),
        })
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| {
            matches!(k, Value::Keyword(kw) if kw.namespace().is_none() && kw.name() == name)
        })?;
        Some(self.entries.remove(at).1)
    }

    fn rest(self) -> ValueMap {
        self.entries.into_iter().collect()
    }

    fn id(&mut self) -> Result<EntityId, ModelError> {
        match self.take("id") {
            None | Some(Value::Nil) => Ok(EntityId::mint()),
            Some(Value::String(s)) => s.parse().map_err(|_| {
                ModelError::invalid(format!("{} :id {s:?} is not a UUID string", self.what))
            }),
            Some(other) => Err(ModelError::invalid(format!(
                "{} :id must be a UUID string, got {other}",
                self.what
            ))),
        }
    }

    fn children<T, C>(
        &mut self,
        name: &str,
        f: impl Fn(&Value) -> Result<T, ModelError>,
    ) -> Result<C, ModelError>
    where
        C: FromIterator<T>,
    {
        match self.take(name) {
            None | Some(Value::Nil) => Ok(std::iter::empty().collect()),
            Some(Value::Vector(items)) | Some(Value::List(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| f(v).map_err(|e| e.within(format!("{} :{name} [{i}]", self.what))))
                .collect(),
            Some(other) => Err(ModelError::invalid(format!(
                "{} :{name} must be a vector, got a {}",
                self.what,
                other.kind()
            ))),
        }
    }

    fn duration(&mut self) -> Result<Ratio, ModelError> {
        let d = match self.take("duration") {
            Some(Value::Ratio(r)) => r,
            Some(Value::Int(i)) => {
                Ratio::canonical(i, 1).map_err(|e| ModelError::invalid(e.to_string()))?
            }
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "{} :duration must be a ratio such as 1/4, got {other}",
                    self.what
                )));
            }
            None => {
                return Err(ModelError::invalid(format!(
                    "{} needs a :duration",
                    self.what
                )));
            }
        };
        if d.numerator() <= 0 {
            return Err(ModelError::validation(format!(
                "{} :duration must be positive, got {d}",
                self.what
            )));
        }
        Ok(d)
    }

    fn attachments(&mut self) -> Result<CowVec<Value>, ModelError> {
        self.children("attachments", |v| Ok(v.clone()))
    }
}

/// Conversion of an entity from its wire form (a record of its type or a plain map).
pub trait FromValue: Sized {
    /// Reads the entity, minting ids that are absent.
    fn from_value(value: &Value) -> Result<Self, ModelError>;
}

fn map_field(fields: &mut Fields, name: &str) -> Result<ValueMap, ModelError> {
    match fields.take(name) {
        None | Some(Value::Nil) => Ok(ValueMap::new()),
        Some(Value::Map(m)) => Ok(m),
        Some(other) => Err(ModelError::invalid(format!(
            ":{name} must be a map, got {}",
            other.kind()
        ))),
    }
}

impl FromValue for Piece {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::PIECE, "piece")?;
        let id = match f.take("id") {
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| ModelError::invalid(format!("piece :id {s:?} is not a UUID")))?,
            None | Some(Value::Nil) => PieceId::mint(),
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "piece :id must be a string, got {other}"
                )));
            }
        };
        let version = match f.take("version") {
            Some(Value::Int(v)) if v >= 0 => v as u64,
            None => 0,
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "piece :version must be a count, got {other}"
                )));
            }
        };
        let title = match f.take("title") {
            Some(Value::String(s)) => s,
            None | Some(Value::Nil) => Arc::from(""),
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "piece :title must be a string, got {other}"
                )));
            }
        };
        Ok(Piece {
            id,
            version,
            title,
            settings: map_field(&mut f, "settings")?,
            musicians: f.children("musicians", Musician::from_value)?,
            layouts: f.children("layouts", Layout::from_value)?,
            time_signatures: map_field(&mut f, "time-signatures")?,
            key_signatures: map_field(&mut f, "key-signatures")?,
            tempos: map_field(&mut f, "tempos")?,
            attrs: f.rest(),
            structure: 0,
        })
    }
}

fn check_attrs(
    attrs: &ValueMap,
    specs: &'static [super::attrs::AttrSpec],
    what: &str,
) -> Result<(), ModelError> {
    for spec in specs {
        if let Some(v) = attrs.get_keyword(spec.name) {
            super::attrs::check(spec, v)
                .map_err(|e| ModelError::validation(format!("{what}: {e}")))?;
        }
    }
    Ok(())
}

impl FromValue for Musician {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::MUSICIAN, "musician")?;
        let id = f.id()?;
        let instruments = f.children("instruments", Instrument::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, super::attrs::MUSICIAN, "musician")?;
        Ok(Musician {
            id,
            attrs,
            instruments,
        })
    }
}

impl FromValue for Instrument {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::INSTRUMENT, "instrument")?;
        let id = f.id()?;
        let staves = f.children("staves", Staff::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, super::attrs::INSTRUMENT, "instrument")?;
        Ok(Instrument { id, attrs, staves })
    }
}

impl FromValue for Staff {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::STAFF, "staff")?;
        let id = f.id()?;
        let measures = f.children("measures", Measure::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, super::attrs::STAFF, "staff")?;
        Ok(Staff {
            id,
            attrs,
            measures,
        })
    }
}

impl FromValue for Measure {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::MEASURE, "measure")?;
        let voices = f.children("voices", Voice::from_value)?;
        Ok(Measure {
            voices,
            attrs: f.rest(),
        })
    }
}

impl FromValue for Voice {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::VOICE, "voice")?;
        let items = f.children("items", Item::from_value)?;
        Ok(Voice {
            items,
            attrs: f.rest(),
        })
    }
}

fn parse_note(v: &Value, what: &str) -> Result<Note, ModelError> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Record(_) | Value::Map(_) => match Fields::of(v, tn::PITCH, "pitch")?.take("note") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(ModelError::invalid(format!(
                    "{what}: a pitch needs a :note string"
                )));
            }
        },
        other => {
            return Err(ModelError::invalid(format!(
                "{what}: expected a pitch such as \"C4\", got {other}"
            )));
        }
    };
    text.parse::<Note>()
        .map_err(|e| ModelError::invalid(format!("{what}: {e}")))
}

impl FromValue for Item {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let kind = match value {
            Value::Record(r) => match r.type_name() {
                tn::PITCH => "pitch",
                tn::CHORD => "chord",
                tn::REST => "rest",
                tn::TUPLET => "tuplet",
                _ => return Ok(Item::Custom(r.clone())),
            },
            Value::Map(m) => match m.get_keyword("type") {
                Some(Value::Keyword(k)) if k.namespace().is_none() => match k.name() {
                    "pitch" => "pitch",
                    "chord" => "chord",
                    "rest" => "rest",
                    "tuplet" => "tuplet",
                    other => {
                        return Err(ModelError::invalid(format!(
                            "unknown item :type :{other}; expected :pitch, :chord, :rest or :tuplet"
                        )));
                    }
                },
                _ => {
                    return Err(ModelError::invalid(
                        "an item map needs :type (:pitch, :chord, :rest or :tuplet), or send a record",
                    ));
                }
            },
            other => {
                return Err(ModelError::invalid(format!(
                    "expected an item, got a {}",
                    other.kind()
                )));
            }
        };
        let type_name = match kind {
            "pitch" => tn::PITCH,
            "chord" => tn::CHORD,
            "rest" => tn::REST,
            _ => tn::TUPLET,
        };
        let mut f = Fields::of(value, type_name, "item")?;
        if matches!(value, Value::Map(_)) {
            f.take("type");
        }
        Ok(match kind {
            "pitch" => {
                let note = parse_note(&f.take("note").unwrap_or(Value::Nil), "pitch :note")?;
                let duration = f.duration()?;
                let attachments = f.attachments()?;
                Item::Pitch(Pitch {
                    note,
                    duration,
                    attachments,
                    attrs: f.rest(),
                })
            }
            "chord" => {
                let notes: CowVec<Note> =
                    f.children("pitches", |v| parse_note(v, "chord :pitches"))?;
                if notes.is_empty() {
                    return Err(ModelError::validation("a chord needs at least one pitch"));
                }
                let duration = f.duration()?;
                let attachments = f.attachments()?;
                Item::Chord(Chord {
                    notes,
                    duration,
                    attachments,
                    attrs: f.rest(),
                })
            }
            "rest" => {
                let duration = f.duration()?;
                let attachments = f.attachments()?;
                Item::Rest(Rest {
                    duration,
                    attachments,
                    attrs: f.rest(),
                })
            }
            _ => {
                let ratio = match f.take("ratio") {
                    Some(Value::Ratio(r)) if r.numerator() > 0 => r,
                    None => ratio(2, 3),
                    Some(other) => {
                        return Err(ModelError::validation(format!(
                            "tuplet :ratio must be a positive ratio such as 2/3, got {other}"
                        )));
                    }
                };
                let items = f.children("items", Item::from_value)?;
                Item::Tuplet(Tuplet {
                    ratio,
                    items,
                    attrs: f.rest(),
                })
            }
        })
    }
}

impl FromValue for Layout {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::LAYOUT, "layout")?;
        let id = f.id()?;
        let musician_ids = f.children("musician-ids", |v| match v {
            Value::String(s) => s
                .parse()
                .map_err(|_| ModelError::invalid(format!("{s:?} is not a UUID"))),
            other => Err(ModelError::invalid(format!(
                "musician ids are UUID strings, got {other}"
            ))),
        })?;
        let page_views = f.children("page-views", PageView::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, super::attrs::LAYOUT, "layout")?;
        Ok(Layout {
            id,
            attrs,
            musician_ids,
            page_views,
        })
    }
}

impl FromValue for PageView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::PAGE_VIEW, "page view")?;
        let system_views = f.children("system-views", SystemView::from_value)?;
        Ok(PageView {
            system_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for SystemView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::SYSTEM_VIEW, "system view")?;
        let staff_views = f.children("staff-views", StaffView::from_value)?;
        Ok(SystemView {
            staff_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for StaffView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::STAFF_VIEW, "staff view")?;
        let measure_views = f.children("measure-views", MeasureView::from_value)?;
        Ok(StaffView {
            measure_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for MeasureView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let f = Fields::of(value, tn::MEASURE_VIEW, "measure view")?;
        Ok(MeasureView { attrs: f.rest() })
    }
}
