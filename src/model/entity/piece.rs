//! The musical tree from the piece down to voices: [`Piece`], [`Musician`], [`Instrument`],
//! [`Staff`], [`Measure`] and [`Voice`], and their conversion to and from records. Items in voices
//! and layouts are their own submodules; a piece only holds them.

use std::sync::Arc;

use imbl::Vector;

use super::type_names as tn;
use super::wire::{Fields, check_attrs, map_field, record, seq};
use super::{FromValue, Item, Layout, ModelError, ToValue};
use crate::model::cowvec::CowVec;
use crate::model::ids::{EntityId, PieceId};
use crate::value::{Value, ValueMap};

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

impl FromValue for Musician {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::MUSICIAN, "musician")?;
        let id = f.id()?;
        let instruments = f.children("instruments", Instrument::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, crate::model::attrs::MUSICIAN, "musician")?;
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
        check_attrs(&attrs, crate::model::attrs::INSTRUMENT, "instrument")?;
        Ok(Instrument { id, attrs, staves })
    }
}

impl FromValue for Staff {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::STAFF, "staff")?;
        let id = f.id()?;
        let measures = f.children("measures", Measure::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, crate::model::attrs::STAFF, "staff")?;
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
