//! What voices hold: [`Item`] and its pitch, chord, rest and tuplet forms (a client's or plugin's
//! own record is kept as sent), their durations, and their conversion to and from records. Notes
//! travel as pitch text such as `"C#4"`, parsed and printed by [`Note`].

use super::type_names as tn;
use super::wire::{Fields, record, seq};
use super::{FromValue, ModelError, ToValue};
use crate::model::cowvec::CowVec;
use crate::model::pitch::Note;
use crate::value::{Ratio, Record, Value, ValueMap, ratio};

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
