//! Attribute getters and setters (`get-name`/`set-name`, `set-clef`, `get-title`, `set-duration`,
//! ...), piece settings (`get-keyless-accidentals`, `set-french-ties?`, ...) and the
//! measure-indexed change sets (`set-time-signature`, `set-key-signature`, `set-tempo`).
//! A setter given the value already in effect changes nothing: no version, no event.

use std::sync::Arc;

use crate::api::registry::{Category, Method, MethodRegistry, ParamKind, param};
use crate::api::{Args, Call};
use crate::error::Error;
use crate::model::attrs::{self, AttrSpec};
use crate::model::entity::Item;
use crate::model::settings::{PIECE_SETTINGS, SettingSpec};
use crate::model::tree::NodeRef;
use crate::model::{Change, ChangeOp, ChangeSetKind, PieceId, Vpd};
use crate::value::{Keyword, Ratio, Value};

use super::music;

fn vpd_pid() -> [crate::api::Param; 2] {
    [
        param("vpd", ParamKind::Vpd),
        param("piece-id", ParamKind::PieceId),
    ]
}

fn spec_for(node: NodeRef<'_>, name: &str, args: &Args<'_>) -> Result<&'static AttrSpec, Error> {
    attrs::find(node.attr_specs(), name).ok_or_else(|| {
        Error::params(
            args.method(),
            Some(0),
            format!("a {} has no :{name}", node.kind_name()),
        )
    })
}

fn register_attr(r: &MethodRegistry, name: &'static str) {
    r.register(Method::new(
        &format!("get-{name}"),
        Category::Read,
        &vpd_pid(),
        &format!("The :{name} of the node (its default when unset)"),
        move |call, args| {
            let piece = call.piece(args.piece_id(1)?)?;
            let node = piece.node(&args.vpd(0)?)?;
            let spec = spec_for(node, name, args)?;
            Ok(node
                .attrs()
                .and_then(|a| a.get_keyword(name))
                .cloned()
                .unwrap_or_else(|| attrs::default_of(spec)))
        },
    ));
    r.register(Method::new(
        &format!("set-{name}"),
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param(name, ParamKind::Any),
        ],
        &format!("Sets the :{name} of the node"),
        move |call, args| {
            let (vpd, pid, value) = (args.vpd(0)?, args.piece_id(1)?, args.value(2)?.clone());
            let piece = call.piece(pid)?;
            let node = piece.node(&vpd)?;
            let spec = spec_for(node, name, args)?;
            attrs::check(spec, &value).map_err(|message| Error::ValidationFailed { message })?;
            let current = node
                .attrs()
                .and_then(|a| a.get_keyword(name))
                .cloned()
                .unwrap_or_else(|| attrs::default_of(spec));
            if current != value {
                let key = Keyword::new(None, name).expect("declared attribute names are valid");
                call.apply(
                    pid,
                    Change {
                        at: vpd,
                        op: ChangeOp::SetAttr {
                            key,
                            value: Some(value),
                        },
                    },
                )?;
            }
            call.write_result(pid)
        },
    ));
}

fn require_root(vpd: &Vpd, args: &Args<'_>) -> Result<(), Error> {
    if *vpd != Vpd::root() {
        return Err(Error::params(
            args.method(),
            Some(0),
            "this applies to the piece: use the VPD []",
        ));
    }
    Ok(())
}

fn register_setting(r: &MethodRegistry, spec: &'static SettingSpec) {
    let name = spec.name;
    r.register(Method::new(
        &format!("get-{name}"),
        Category::Read,
        &vpd_pid(),
        &format!("Piece setting :{name}: {}", spec.doc),
        move |call, args| {
            require_root(&args.vpd(0)?, args)?;
            let piece = call.piece(args.piece_id(1)?)?;
            Ok(piece
                .settings
                .get_keyword(name)
                .cloned()
                .unwrap_or_else(|| spec.default_value()))
        },
    ));
    r.register(Method::new(
        &format!("set-{name}"),
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("value", ParamKind::Any),
        ],
        &format!(
            "Sets piece setting :{name} (the default removes it): {}",
            spec.doc
        ),
        move |call, args| {
            require_root(&args.vpd(0)?, args)?;
            let (pid, value) = (args.piece_id(1)?, args.value(2)?.clone());
            spec.check(&value)
                .map_err(|message| Error::ValidationFailed { message })?;
            let stored = if value == spec.default_value() {
                None
            } else {
                Some(value)
            };
            let key = Keyword::new(None, name).expect("declared setting names are valid");
            call.apply(
                pid,
                Change {
                    at: Vpd::root(),
                    op: ChangeOp::SetSetting { key, value: stored },
                },
            )?;
            call.write_result(pid)
        },
    ));
}

fn register_change_set(r: &MethodRegistry, kind: ChangeSetKind) {
    let name = kind.name();
    r.register(Method::new(
        &format!("set-{name}"),
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("measure", ParamKind::Int),
            param(name, ParamKind::Any),
        ],
        &format!("Sets the {name} from a measure index on (nil removes it)"),
        move |call, args| {
            require_root(&args.vpd(0)?, args)?;
            let (pid, measure) = (args.piece_id(1)?, args.index(2)? as i64);
            let value = match args.value(3)? {
                Value::Nil => None,
                v => Some(music::change_set_value(kind, v).map_err(|e| match e {
                    Error::InvalidParams { message, .. } => {
                        Error::params(args.method(), Some(3), message)
                    }
                    other => other,
                })?),
            };
            call.apply(
                pid,
                Change {
                    at: Vpd::root(),
                    op: ChangeOp::SetChange {
                        kind,
                        measure,
                        value,
                    },
                },
            )?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("get-{name}s"),
        Category::Read,
        &vpd_pid(),
        &format!("Every {name} change of the piece, by measure index"),
        move |call, args| {
            require_root(&args.vpd(0)?, args)?;
            let piece = call.piece(args.piece_id(1)?)?;
            let map = match kind {
                ChangeSetKind::TimeSignature => &piece.time_signatures,
                ChangeSetKind::KeySignature => &piece.key_signatures,
                ChangeSetKind::Tempo => &piece.tempos,
            };
            Ok(Value::Map(map.clone()))
        },
    ));
}

/// The item at an item VPD, with the path of the collection that holds it.
fn item_at(
    call: &mut Call<'_, '_>,
    pid: PieceId,
    vpd: &Vpd,
    args: &Args<'_>,
) -> Result<(Item, Vpd, usize), Error> {
    super::music::item_and_parent(&call.piece(pid)?, vpd, args, 0)
}

pub(crate) fn register(r: &MethodRegistry) {
    let mut names: Vec<&'static str> = [
        attrs::MUSICIAN,
        attrs::INSTRUMENT,
        attrs::STAFF,
        attrs::LAYOUT,
    ]
    .iter()
    .flat_map(|specs| specs.iter().map(|s| s.name))
    .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        register_attr(r, name);
    }
    for spec in PIECE_SETTINGS {
        register_setting(r, spec);
    }
    for kind in [
        ChangeSetKind::TimeSignature,
        ChangeSetKind::KeySignature,
        ChangeSetKind::Tempo,
    ] {
        register_change_set(r, kind);
    }

    r.register(Method::new(
        "get-title",
        Category::Read,
        &vpd_pid(),
        "The piece title",
        |call, args| {
            require_root(&args.vpd(0)?, args)?;
            Ok(Value::String(call.piece(args.piece_id(1)?)?.title.clone()))
        },
    ));
    r.register(Method::new(
        "set-title",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("title", ParamKind::String),
        ],
        "Sets the piece title",
        |call, args| {
            require_root(&args.vpd(0)?, args)?;
            let pid = args.piece_id(1)?;
            let Value::String(title) = args.value(2)? else {
                unreachable!("checked by the parameter list")
            };
            call.apply(
                pid,
                Change {
                    at: Vpd::root(),
                    op: ChangeOp::SetTitle(Arc::clone(title)),
                },
            )?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        "get-duration",
        Category::Read,
        &vpd_pid(),
        "The written duration of an item",
        |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let (item, _, _) = item_at(call, pid, &vpd, args)?;
            Ok(item.duration().map_or(Value::Nil, Value::Ratio))
        },
    ));
    r.register(Method::new(
        "set-duration",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("duration", ParamKind::Any),
        ],
        "Sets the written duration of a pitch, chord or rest",
        |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let duration = match args.value(2)? {
                Value::Ratio(r) if r.numerator() > 0 => *r,
                Value::Int(i) if *i > 0 => Ratio::canonical(*i, 1).expect("positive integer"),
                other => {
                    return Err(Error::ValidationFailed {
                        message: format!(
                            "a duration must be a positive ratio such as 1/4, got {other}"
                        ),
                    });
                }
            };
            let (mut item, parent, index) = item_at(call, pid, &vpd, args)?;
            match &mut item {
                Item::Pitch(p) => p.duration = duration,
                Item::Chord(c) => c.duration = duration,
                Item::Rest(r) => r.duration = duration,
                _ => {
                    return Err(Error::params(
                        args.method(),
                        Some(0),
                        "only pitches, chords and rests have a settable duration",
                    ));
                }
            }
            super::music::replace_item(call, pid, parent, index, &item)
        },
    ));
    r.register(Method::new(
        "get-note",
        Category::Read,
        &vpd_pid(),
        "The note of a pitch (\"C#4\")",
        |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            match item_at(call, pid, &vpd, args)?.0 {
                Item::Pitch(p) => Ok(Value::string(p.note.to_string())),
                _ => Err(Error::params(args.method(), Some(0), "not a pitch")),
            }
        },
    ));
    r.register(Method::new(
        "set-note",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("note", ParamKind::String),
        ],
        "Sets the note of a pitch (\"C#4\")",
        |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let Value::String(text) = args.value(2)? else {
                unreachable!("checked by the parameter list")
            };
            let note = text
                .parse()
                .map_err(|e| Error::params(args.method(), Some(2), format!("{e}")))?;
            let (mut item, parent, index) = item_at(call, pid, &vpd, args)?;
            match &mut item {
                Item::Pitch(p) => p.note = note,
                _ => return Err(Error::params(args.method(), Some(0), "not a pitch")),
            }
            super::music::replace_item(call, pid, parent, index, &item)
        },
    ));
}
