//! Constructors (`create-pitch`, `create-musician`, ...), attachments (`add-attachment`),
//! transposition (`transpose-chromatic`, `transpose-diatonic`, `transpose-by-interval` over any
//! VPD scope) and fresh ids for copies and clones.

use std::collections::HashMap;

use crate::api::registry::{Category, Method, MethodRegistry, ParamKind, optional, param};
use crate::api::{Args, Call};
use crate::error::Error;
use crate::model::entity::{Instrument, Item, Layout, Measure, Musician, Piece, Staff, Voice};
use crate::model::pitch::{Interval, KeySignature, Note, PitchError};
use crate::model::tree::NodeRef;
use crate::model::{
    Change, ChangeOp, ChangeSetKind, Coll, EntityId, FromValue, PieceId, ToValue, Vpd,
};
use crate::value::{Record, Value, ValueMap};

fn kw(name: &str) -> Value {
    Value::keyword(name)
}

// ---------------------------------------------------------------------------------------------
// Fresh ids

fn fresh_staff(s: &Staff) -> Staff {
    Staff {
        id: EntityId::mint(),
        ..s.clone()
    }
}

fn fresh_instrument(i: &Instrument) -> Instrument {
    Instrument {
        id: EntityId::mint(),
        staves: i.staves.iter().map(fresh_staff).collect(),
        ..i.clone()
    }
}

fn fresh_musician(m: &Musician) -> Musician {
    Musician {
        id: EntityId::mint(),
        instruments: m.instruments.iter().map(fresh_instrument).collect(),
        ..m.clone()
    }
}

/// A copy of a structural element with fresh ids for it and everything structural inside it.
pub(crate) fn fresh_ids_value(coll: Coll, value: &Value) -> Result<Value, Error> {
    Ok(match coll {
        Coll::Musicians => fresh_musician(&Musician::from_value(value)?).to_value(),
        Coll::Instruments => fresh_instrument(&Instrument::from_value(value)?).to_value(),
        Coll::Staves => fresh_staff(&Staff::from_value(value)?).to_value(),
        Coll::Layouts => Layout {
            id: EntityId::mint(),
            ..Layout::from_value(value)?
        }
        .to_value(),
        _ => value.clone(),
    })
}

/// A copy of a piece under `id`, with fresh ids everywhere and layouts pointing at the copies.
pub(crate) fn with_fresh_ids(piece: &Piece, id: PieceId) -> Piece {
    let mut renamed = HashMap::new();
    let musicians = piece
        .musicians
        .iter()
        .map(|m| {
            let copy = fresh_musician(m);
            renamed.insert(m.id, copy.id);
            copy
        })
        .collect();
    let layouts = piece
        .layouts
        .iter()
        .map(|l| Layout {
            id: EntityId::mint(),
            musician_ids: l
                .musician_ids
                .iter()
                .filter_map(|old| renamed.get(old).copied())
                .collect(),
            ..l.clone()
        })
        .collect();
    Piece {
        id,
        version: 0,
        musicians,
        layouts,
        ..piece.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Change-set values

const TIME_SIGNATURE: &str = "ooloi.shared.models.musical.time_signature.TimeSignature";
const KEY_SIGNATURE: &str = "ooloi.shared.models.musical.key_signature.KeySignature";
const TEMPO: &str = "ooloi.shared.models.musical.tempo.Tempo";

fn fields_of<'v>(v: &'v Value, type_name: &str, what: &str) -> Result<&'v ValueMap, Error> {
    match v {
        Value::Map(m) => Ok(m),
        Value::Record(r) if r.type_name() == type_name => Ok(r.fields()),
        other => Err(Error::params(
            "",
            None,
            format!("expected a {what} map, got {other}"),
        )),
    }
}

fn make_record(type_name: &str, fields: Vec<(&str, Value)>) -> Value {
    let fields = fields.into_iter().map(|(k, v)| (kw(k), v)).collect();
    Value::Record(Record::new(type_name, fields).expect("built-in type names are valid"))
}

fn time_signature(v: &Value) -> Result<Value, Error> {
    let f = fields_of(v, TIME_SIGNATURE, "time signature")?;
    let beats = match f.get_keyword("beats") {
        None => 4,
        Some(Value::Int(b)) if (1..=128).contains(b) => *b,
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":beats must be 1-128, got {other}"),
            });
        }
    };
    let unit = match f.get_keyword("unit") {
        None => 4,
        Some(Value::Int(u)) if [1, 2, 4, 8, 16, 32, 64].contains(u) => *u,
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":unit must be a power of two from 1 to 64, got {other}"),
            });
        }
    };
    Ok(make_record(
        TIME_SIGNATURE,
        vec![("beats", Value::Int(beats)), ("unit", Value::Int(unit))],
    ))
}

/// Reads a key signature value ({:mode :major :tonic "E"}).
pub(crate) fn key_signature_of(v: &Value) -> Result<KeySignature, Error> {
    let f = fields_of(v, KEY_SIGNATURE, "key signature")?;
    let mode = match f.get_keyword("mode") {
        None => "major".to_string(),
        Some(Value::Keyword(k)) => k.name().to_string(),
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":mode must be a keyword such as :major, got {other}"),
            });
        }
    };
    let tonic = match f.get_keyword("tonic") {
        None => "C".to_string(),
        Some(Value::String(s)) => s.to_string(),
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":tonic must be a string such as \"E\", got {other}"),
            });
        }
    };
    KeySignature::parse(&tonic, &mode).map_err(|e| Error::ValidationFailed {
        message: e.to_string(),
    })
}

fn key_signature(v: &Value) -> Result<Value, Error> {
    let key = key_signature_of(v)?;
    Ok(key_signature_value(&key))
}

fn key_signature_value(key: &KeySignature) -> Value {
    make_record(
        KEY_SIGNATURE,
        vec![
            ("mode", kw(key.mode_name())),
            ("tonic", Value::string(key.tonic_name())),
        ],
    )
}

fn tempo(v: &Value) -> Result<Value, Error> {
    let f = fields_of(v, TEMPO, "tempo")?;
    let bpm = match f.get_keyword("bpm") {
        None => Value::Int(120),
        Some(Value::Int(b)) if (1..=1000).contains(b) => Value::Int(*b),
        Some(Value::Ratio(r)) if r.numerator() > 0 => Value::Ratio(*r),
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":bpm must be positive, got {other}"),
            });
        }
    };
    let unit = match f.get_keyword("beat-unit") {
        None => Value::ratio(1, 4).expect("valid"),
        Some(Value::Ratio(r)) if r.numerator() > 0 => Value::Ratio(*r),
        Some(other) => {
            return Err(Error::ValidationFailed {
                message: format!(":beat-unit must be a positive ratio, got {other}"),
            });
        }
    };
    Ok(make_record(TEMPO, vec![("bpm", bpm), ("beat-unit", unit)]))
}

/// A change-set entry, checked and in canonical record form.
pub(crate) fn change_set_value(kind: ChangeSetKind, v: &Value) -> Result<Value, Error> {
    match kind {
        ChangeSetKind::TimeSignature => time_signature(v),
        ChangeSetKind::KeySignature => key_signature(v),
        ChangeSetKind::Tempo => tempo(v),
    }
}

// ---------------------------------------------------------------------------------------------
// Constructors

fn with_defaults(given: &ValueMap, defaults: Vec<(&str, Value)>) -> Value {
    let mut entries: Vec<(Value, Value)> = defaults.into_iter().map(|(k, v)| (kw(k), v)).collect();
    entries.extend(given.iter().cloned());
    Value::map(entries)
}

fn construct<T: FromValue + ToValue>(given: Value) -> Result<Value, Error> {
    Ok(T::from_value(&given)?.to_value())
}

fn register_constructors(r: &MethodRegistry) {
    type Build = fn(&ValueMap) -> Result<Value, Error>;
    let constructors: [(&str, &str, Build); 13] = [
        (
            "create-pitch",
            "A pitch record from {:note \"C#4\" :duration 1/4}",
            |m| {
                let v = with_defaults(
                    m,
                    vec![
                        ("type", kw("pitch")),
                        ("note", Value::string("C4")),
                        ("duration", Value::ratio(1, 4).expect("valid")),
                    ],
                );
                construct::<Item>(v)
            },
        ),
        (
            "create-chord",
            "A chord record from {:pitches [\"C4\" \"E4\" \"G4\"] :duration 1/2}",
            |m| {
                let v = with_defaults(
                    m,
                    vec![
                        ("type", kw("chord")),
                        ("duration", Value::ratio(1, 4).expect("valid")),
                    ],
                );
                construct::<Item>(v)
            },
        ),
        ("create-rest", "A rest record from {:duration 1/4}", |m| {
            let v = with_defaults(
                m,
                vec![
                    ("type", kw("rest")),
                    ("duration", Value::ratio(1, 4).expect("valid")),
                ],
            );
            construct::<Item>(v)
        }),
        (
            "create-tuplet",
            "A tuplet record from {:ratio 2/3 :items [...]}",
            |m| {
                let v = with_defaults(
                    m,
                    vec![
                        ("type", kw("tuplet")),
                        ("ratio", Value::ratio(2, 3).expect("valid")),
                    ],
                );
                construct::<Item>(v)
            },
        ),
        (
            "create-musician",
            "A musician record with a fresh id from {:name ...}",
            |m| construct::<Musician>(with_defaults(m, vec![("name", Value::string(""))])),
        ),
        (
            "create-instrument",
            "An instrument record with a fresh id from {:name ...}",
            |m| {
                construct::<Instrument>(with_defaults(
                    m,
                    vec![("name", Value::string("Unnamed Instrument"))],
                ))
            },
        ),
        (
            "create-staff",
            "A staff record with a fresh id; {} is a five-line treble staff",
            |m| {
                construct::<Staff>(with_defaults(
                    m,
                    vec![("clef", kw("treble")), ("lines", Value::Int(5))],
                ))
            },
        ),
        (
            "create-measure",
            "A measure record; {} has one empty voice",
            |m| {
                let voice = Voice::default().to_value();
                construct::<Measure>(with_defaults(m, vec![("voices", Value::vector([voice]))]))
            },
        ),
        ("create-voice", "A voice record from {:items [...]}", |m| {
            construct::<Voice>(Value::Map(m.clone()))
        }),
        (
            "create-layout",
            "A layout record with a fresh id from {:name ...}",
            |m| construct::<Layout>(with_defaults(m, vec![("name", Value::string(""))])),
        ),
        (
            "create-key-signature",
            "A key signature from {:mode :major :tonic \"E\"}",
            |m| key_signature(&Value::Map(m.clone())),
        ),
        (
            "create-time-signature",
            "A time signature from {:beats 3 :unit 4}",
            |m| time_signature(&Value::Map(m.clone())),
        ),
        (
            "create-tempo",
            "A tempo from {:bpm 120 :beat-unit 1/4}",
            |m| tempo(&Value::Map(m.clone())),
        ),
    ];
    for (name, doc, build) in constructors {
        r.register(Method::new(
            name,
            Category::Read,
            &[optional("fields", ParamKind::Map)],
            doc,
            move |_, args| {
                build(&args.map(0)?).map_err(|e| match e {
                    Error::InvalidParams { message, .. } => {
                        Error::params(args.method(), Some(0), message)
                    }
                    other => other,
                })
            },
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

const ATTACHMENTS: &str = "ooloi.shared.models.musical.attachments";

/// (record type, field, needs an end) for an attachment kind.
fn attachment_kind(kind: &str) -> Option<(&'static str, &'static str, bool)> {
    Some(match kind {
        "staccato" | "tenuto" | "marcato" | "accent" | "staccatissimo" | "fermata" => {
            ("articulation.Articulation", "kind", false)
        }
        "pppp" | "ppp" | "pp" | "p" | "mp" | "mf" | "f" | "ff" | "fff" | "ffff" | "sf" | "sfz"
        | "sfp" | "fp" => ("dynamic.Dynamic", "level", false),
        "cresc" | "dim" | "<" | ">" => ("hairpin.Hairpin", "kind", true),
        "slur" => ("slur.Slur", "kind", true),
        "tie" => ("tie.Tie", "kind", true),
        "glissando" => ("glissando.Glissando", "kind", true),
        "8va" | "8vb" | "15ma" | "15mb" => ("ottava.Ottava", "kind", true),
        _ => return None,
    })
}

fn attachments_mut(item: &mut Item) -> Option<&mut crate::model::cowvec::CowVec<Value>> {
    match item {
        Item::Pitch(p) => Some(&mut p.attachments),
        Item::Chord(c) => Some(&mut c.attachments),
        Item::Rest(r) => Some(&mut r.attachments),
        _ => None,
    }
}

fn item_attrs_mut(item: &mut Item) -> Option<&mut ValueMap> {
    match item {
        Item::Pitch(p) => Some(&mut p.attrs),
        Item::Chord(c) => Some(&mut c.attrs),
        Item::Rest(r) => Some(&mut r.attrs),
        Item::Tuplet(t) => Some(&mut t.attrs),
        Item::Custom(_) => None,
    }
}

/// The item at `vpd` (argument `arg`), with the path of the collection that holds it.
pub(crate) fn item_and_parent(
    piece: &Piece,
    vpd: &Vpd,
    args: &Args<'_>,
    arg: usize,
) -> Result<(Item, Vpd, usize), Error> {
    match (piece.node(vpd)?, vpd.parent(), vpd.last()) {
        (NodeRef::Item(item), Some(parent), Some(step)) => Ok((item.clone(), parent, step.index)),
        (node, _, _) => Err(Error::params(
            args.method(),
            Some(arg),
            format!("expected an item VPD, this is a {}", node.kind_name()),
        )),
    }
}

fn add_attachment(call: &mut Call<'_, '_>, args: &Args<'_>) -> Result<Value, Error> {
    let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
    let kind = match args.value(2)? {
        Value::String(s) => s.to_string(),
        Value::Keyword(k) => k.name().to_string(),
        Value::Symbol(s) => s.name().to_string(),
        other => {
            return Err(Error::params(
                args.method(),
                Some(2),
                format!("kind must be a string, keyword or symbol, got {other}"),
            ));
        }
    };
    let (type_suffix, field, spans) =
        attachment_kind(&kind).ok_or_else(|| Error::ValidationFailed {
            message: format!("unknown attachment kind {kind:?}"),
        })?;
    let piece = call.piece(pid)?;
    let (mut item, parent, index) = item_and_parent(&piece, &vpd, args, 0)?;
    let mut fields = vec![(
        field,
        Value::keyword(&kind.replace('<', "cresc").replace('>', "dim")),
    )];
    if spans {
        let end_vpd = match args.get(3) {
            Some(v) => {
                Vpd::parse(v).map_err(|e| Error::params(args.method(), Some(3), e.to_string()))?
            }
            None => {
                return Err(Error::params(
                    args.method(),
                    Some(3),
                    format!("a {kind} needs an end VPD"),
                ));
            }
        };
        if end_vpd.0.len() < 5 || vpd.0.len() < 5 || end_vpd.0[..3] != vpd.0[..3] {
            return Err(Error::ValidationFailed {
                message: "a span must end on an item of the same staff".into(),
            });
        }
        let (mut end_item, end_parent, end_index) = item_and_parent(&piece, &end_vpd, args, 3)?;
        let instrument = Vpd(vpd.0[..2].to_vec());
        let next_id = match piece
            .node(&instrument)?
            .attrs()
            .and_then(|a| a.get_keyword("next-id"))
        {
            Some(Value::Int(n)) => *n,
            _ => 1,
        };
        let endpoint =
            match item_attrs_mut(&mut end_item).and_then(|a| a.get_keyword("endpoint-id")) {
                Some(Value::Int(n)) => *n,
                _ => {
                    let attrs =
                        item_attrs_mut(&mut end_item).ok_or_else(|| Error::ValidationFailed {
                            message: "a span cannot end on a custom item".into(),
                        })?;
                    *attrs = attrs.insert(kw("endpoint-id"), Value::Int(next_id));
                    call.apply(
                        pid,
                        Change {
                            at: instrument,
                            op: ChangeOp::SetAttr {
                                key: crate::value::Keyword::new(None, "next-id").expect("valid"),
                                value: Some(Value::Int(next_id + 1)),
                            },
                        },
                    )?;
                    call.apply(
                        pid,
                        Change {
                            at: end_parent.clone(),
                            op: ChangeOp::Set {
                                coll: Coll::Items,
                                index: end_index,
                                value: end_item.to_value(),
                            },
                        },
                    )?;
                    next_id
                }
            };
        if end_parent == parent && end_index == index {
            return Err(Error::ValidationFailed {
                message: "a span cannot end where it starts".into(),
            });
        }
        fields.push(("end-id", Value::Int(endpoint)));
    }
    let attachment = make_record(&format!("{ATTACHMENTS}.{type_suffix}"), fields);
    let list = attachments_mut(&mut item).ok_or_else(|| Error::ValidationFailed {
        message: "only pitches, chords and rests take attachments".into(),
    })?;
    list.push_back(attachment);
    replace_item(call, pid, parent, index, &item)
}

/// Replaces the item at `index` of the items collection at `parent`; returns the write result.
pub(crate) fn replace_item(
    call: &mut Call<'_, '_>,
    pid: PieceId,
    parent: Vpd,
    index: usize,
    item: &Item,
) -> Result<Value, Error> {
    let value = item.to_value();
    call.apply(
        pid,
        Change {
            at: parent,
            op: ChangeOp::Set {
                coll: Coll::Items,
                index,
                value,
            },
        },
    )?;
    call.write_result(pid)
}

// ---------------------------------------------------------------------------------------------
// Transposition

/// The key signature in effect at `measure` (C major when none is set).
fn key_at(piece: &Piece, measure: usize) -> KeySignature {
    piece
        .key_signatures
        .iter()
        .filter_map(|(k, v)| match k {
            Value::Int(m) if *m <= measure as i64 => Some(v),
            _ => None,
        })
        .next_back()
        .and_then(|v| key_signature_of(v).ok())
        .unwrap_or_default()
}

fn transpose_item(
    item: &Item,
    f: &dyn Fn(&Note) -> Result<Note, PitchError>,
) -> Result<Item, Error> {
    let failed = |e: PitchError| Error::ValidationFailed {
        message: e.to_string(),
    };
    Ok(match item {
        Item::Pitch(p) => Item::Pitch(crate::model::entity::Pitch {
            note: f(&p.note).map_err(failed)?,
            ..p.clone()
        }),
        Item::Chord(c) => Item::Chord(crate::model::entity::Chord {
            notes: c
                .notes
                .iter()
                .map(f)
                .collect::<Result<_, _>>()
                .map_err(failed)?,
            ..c.clone()
        }),
        Item::Tuplet(t) => Item::Tuplet(crate::model::entity::Tuplet {
            items: t
                .items
                .iter()
                .map(|i| transpose_item(i, f))
                .collect::<Result<_, _>>()?,
            ..t.clone()
        }),
        other => other.clone(),
    })
}

/// Items transposed between two looks at the call's deadline.
const DEADLINE_CHECK_EVERY: usize = 256;

/// Transposes every item at or under `scope`; `f` gets the key at the item's measure.
fn transpose(
    call: &mut Call<'_, '_>,
    args: &Args<'_>,
    f: &dyn Fn(&Note, &KeySignature) -> Result<Note, PitchError>,
) -> Result<Value, Error> {
    let (scope, pid) = (args.vpd(0)?, args.piece_id(1)?);
    let piece = call.piece(pid)?;
    piece.node(&scope)?;
    if scope.0.first().is_some_and(|s| s.coll == Coll::Layouts) {
        return Err(Error::params(
            args.method(),
            Some(0),
            "layouts hold no notes; give a piece or musical VPD",
        ));
    }
    // Every voice in scope, as (voice path, measure index).
    let mut voices: Vec<Vpd> = Vec::new();
    let mut stack = vec![Vpd::root()];
    while let Some(at) = stack.pop() {
        let depth = at.0.len();
        if depth == 5 {
            voices.push(at);
            continue;
        }
        let coll = [
            Coll::Musicians,
            Coll::Instruments,
            Coll::Staves,
            Coll::Measures,
            Coll::Voices,
        ][depth];
        let len = piece.node(&at)?.collection(coll).map_or(0, |c| c.len());
        for i in (0..len).rev() {
            let child = at.child(coll, i);
            if child.starts_with(&scope) || scope.starts_with(&child) {
                stack.push(child);
            }
        }
    }
    for voice in voices {
        call.check_deadline("while transposing")?;
        let key = key_at(&piece, voice.0[3].index);
        let g = |n: &Note| f(n, &key);
        let NodeRef::Voice(v) = piece.node(&voice)? else {
            unreachable!("depth-5 paths are voices")
        };
        for (index, item) in v.items.iter().enumerate() {
            if index % DEADLINE_CHECK_EVERY == DEADLINE_CHECK_EVERY - 1 {
                call.check_deadline("while transposing")?;
            }
            let path = voice.child(Coll::Items, index);
            let new = if path.starts_with(&scope) {
                transpose_item(item, &g)?
            } else if scope.starts_with(&path) {
                // The scope is inside this item (a tuplet): transpose only that part.
                match piece.node(&scope)? {
                    NodeRef::Item(inner) => {
                        let replaced = transpose_item(inner, &g)?;
                        let mut updated = piece.clone();
                        let mut node = updated.node_mut(&scope)?;
                        if let crate::model::tree::NodeMut::Item(slot) = &mut node {
                            **slot = replaced;
                        }
                        match updated.node(&path)? {
                            NodeRef::Item(i) => i.clone(),
                            _ => unreachable!("path is an item"),
                        }
                    }
                    _ => continue,
                }
            } else {
                continue;
            };
            if new != *item {
                call.apply(
                    pid,
                    Change {
                        at: voice.clone(),
                        op: ChangeOp::Set {
                            coll: Coll::Items,
                            index,
                            value: new.to_value(),
                        },
                    },
                )?;
            }
        }
    }
    call.write_result(pid)
}

pub(crate) fn register(r: &MethodRegistry) {
    register_constructors(r);
    r.register(Method::new(
        "add-attachment",
        Category::Write,
        &[param("vpd", ParamKind::Vpd), param("piece-id", ParamKind::PieceId), param("kind", ParamKind::Any), optional("end-vpd", ParamKind::Vpd)],
        "Attaches an articulation, dynamic, hairpin, slur, tie, glissando or ottava to an item (spans take an end VPD)",
        add_attachment,
    ));
    r.register(Method::new(
        "transpose-chromatic",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("semitones", ParamKind::Int),
        ],
        "Transposes every note in scope by semitones, spelled for the key in effect",
        |call, args| {
            let semitones = args.int(2)?;
            let semitones = i32::try_from(semitones)
                .ok()
                .filter(|s| s.abs() <= 96)
                .ok_or_else(|| {
                    Error::params(args.method(), Some(2), "semitones must be within -96..=96")
                })?;
            transpose(call, args, &|n, key| {
                crate::model::pitch::transpose_chromatic(n, semitones, Some(key))
            })
        },
    ));
    r.register(Method::new(
        "transpose-diatonic",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("steps", ParamKind::Int),
        ],
        "Transposes every note in scope by scale steps of the key in effect",
        |call, args| {
            let steps = args.int(2)?;
            let steps = i32::try_from(steps)
                .ok()
                .filter(|s| s.abs() <= 56)
                .ok_or_else(|| {
                    Error::params(args.method(), Some(2), "steps must be within -56..=56")
                })?;
            transpose(call, args, &|n, key| {
                crate::model::pitch::transpose_diatonic(n, steps, key)
            })
        },
    ));
    r.register(Method::new(
        "transpose-by-interval",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("interval", ParamKind::String),
        ],
        "Transposes every note in scope by an exact interval (\"M3\", \"-P5\")",
        |call, args| {
            let Value::String(text) = args.value(2)? else {
                unreachable!("checked by the parameter list")
            };
            let interval: Interval = Interval::parse(text)
                .map_err(|e| Error::params(args.method(), Some(2), e.to_string()))?;
            transpose(call, args, &|n, _| {
                crate::model::pitch::transpose_by_interval(n, interval)
            })
        },
    ));
}
