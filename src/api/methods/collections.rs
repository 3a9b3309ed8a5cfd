//! The verbs over every child collection X (musicians, instruments, staves, measures, voices,
//! items, layouts, page-views, system-views, staff-views, measure-views): `get-X [vpd pid idx]`,
//! `get-Xs [vpd pid]`, `set-X [vpd pid idx value]`, `set-Xs [vpd pid values]`,
//! `add-X [vpd pid value]`, `remove-X [vpd pid idx]`, `move-X [vpd pid from to]` (to -1 = end),
//! `copy-X [vpd pid src to]` (to -1 = end; structural copies get fresh ids).
//!
//! Musicians seen through a layout (`[:l n]`) are references by id: adding one that is already
//! listed changes nothing, removing one only drops the reference, and copying is refused.
//! Removing a musician from the piece also drops it from every layout.

use crate::api::registry::{Category, Method, MethodRegistry, ParamKind, param};
use crate::api::{Args, Call};
use crate::error::Error;
use crate::model::entity::{
    Instrument, Item, Layout, Measure, MeasureView, Musician, PageView, Staff, StaffView,
    SystemView, Voice,
};
use crate::model::tree::NodeRef;
use crate::model::{Change, ChangeOp, Coll, EntityId, FromValue, Piece, PieceId, ToValue, Vpd};
use crate::value::Value;

use super::music::fresh_ids_value;

/// A value checked and completed (ids minted) as an element of `coll`. Elements without ids
/// are checked when the change is applied and recorded as given (reading them is deterministic,
/// so the change replays the same), which spares the hot path a second conversion.
pub(crate) fn normalize(coll: Coll, value: &Value) -> Result<Value, Error> {
    fn via<T: FromValue + ToValue>(v: &Value) -> Result<Value, Error> {
        Ok(T::from_value(v)?.to_value())
    }
    if !coll.is_structural() {
        return Ok(value.clone());
    }
    match coll {
        Coll::Musicians => via::<Musician>(value),
        Coll::Instruments => via::<Instrument>(value),
        Coll::Staves => via::<Staff>(value),
        Coll::Measures => via::<Measure>(value),
        Coll::Voices => via::<Voice>(value),
        Coll::Items => via::<Item>(value),
        Coll::Layouts => via::<Layout>(value),
        Coll::PageViews => via::<PageView>(value),
        Coll::SystemViews => via::<SystemView>(value),
        Coll::StaffViews => via::<StaffView>(value),
        Coll::MeasureViews => via::<MeasureView>(value),
    }
}

fn is_layout(vpd: &Vpd) -> bool {
    vpd.0.len() == 1 && vpd.0[0].coll == Coll::Layouts
}

/// The length of collection `coll` at `vpd`, checking that the node has one.
fn len_at(piece: &Piece, vpd: &Vpd, coll: Coll, args: &Args<'_>) -> Result<usize, Error> {
    let node = piece.node(vpd)?;
    node.collection(coll).map(|c| c.len()).ok_or_else(|| {
        Error::params(
            args.method(),
            Some(0),
            format!("the {} at {vpd} has no {}", node.kind_name(), coll.plural()),
        )
    })
}

fn missing_element(vpd: &Vpd, coll: Coll, index: usize, len: usize) -> Error {
    Error::VpdNotFound {
        vpd: vpd.child(coll, index).to_string(),
        message: format!("no {} {index} (there are {len})", coll.singular()),
    }
}

/// `to` as a position among `len` elements, -1 meaning the end.
fn target(args: &Args<'_>, i: usize, len: usize) -> Result<usize, Error> {
    match args.int(i)? {
        -1 => Ok(len),
        n if n >= 0 && (n as usize) <= len => Ok(n as usize),
        n => Err(Error::params(
            args.method(),
            Some(i),
            format!("target {n} is outside 0..={len} (or -1 for the end)"),
        )),
    }
}

fn layout_ids(piece: &Piece, vpd: &Vpd) -> Result<Vec<EntityId>, Error> {
    match piece.node(vpd)? {
        NodeRef::Layout(l) => Ok(l.musician_ids.iter().copied().collect()),
        _ => unreachable!("checked by is_layout"),
    }
}

fn musician_by_id(piece: &Piece, id: EntityId) -> Option<&Musician> {
    piece.musicians.iter().find(|m| m.id == id)
}

/// The musician id a layout argument names: an id string, a musician value with :id, or a VPD.
fn musician_ref(
    piece: &Piece,
    value: &Value,
    args: &Args<'_>,
    i: usize,
) -> Result<EntityId, Error> {
    let id = match value {
        Value::String(s) => s.parse().ok(),
        Value::Vector(_) => match piece.node(
            &Vpd::parse(value).map_err(|e| Error::params(args.method(), Some(i), e.to_string()))?,
        )? {
            NodeRef::Musician(m) => Some(m.id),
            _ => None,
        },
        Value::Record(r) => match r.fields().get_keyword("id") {
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        },
        Value::Map(m) => match m.get_keyword("id") {
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        },
        _ => None,
    };
    let id = id.ok_or_else(|| {
        Error::params(
            args.method(),
            Some(i),
            "a layout lists musicians by id: give an id, a musician or its VPD",
        )
    })?;
    if musician_by_id(piece, id).is_none() {
        return Err(Error::ValidationFailed {
            message: format!("the piece has no musician {id}"),
        });
    }
    Ok(id)
}

fn set_layout_ids(
    call: &mut Call<'_, '_>,
    pid: PieceId,
    vpd: &Vpd,
    ids: Vec<EntityId>,
) -> Result<(), Error> {
    call.apply(
        pid,
        Change {
            at: vpd.clone(),
            op: ChangeOp::SetMusicianIds { ids },
        },
    )?;
    Ok(())
}

fn register_coll(r: &MethodRegistry, coll: Coll) {
    let (one, many) = (coll.singular(), coll.plural());
    let vpd_pid = [
        param("vpd", ParamKind::Vpd),
        param("piece-id", ParamKind::PieceId),
    ];

    r.register(Method::new(
        &format!("get-{one}"),
        Category::Read,
        &[vpd_pid[0], vpd_pid[1], param("index", ParamKind::Int)],
        &format!("The {one} at an index of the node's {many}"),
        move |call, args| {
            let (vpd, pid, index) = (args.vpd(0)?, args.piece_id(1)?, args.index(2)?);
            let piece = call.piece(pid)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let ids = layout_ids(&piece, &vpd)?;
                let id = ids
                    .get(index)
                    .ok_or_else(|| missing_element(&vpd, coll, index, ids.len()))?;
                return Ok(musician_by_id(&piece, *id).map_or(Value::Nil, ToValue::to_value));
            }
            let len = len_at(&piece, &vpd, coll, args)?;
            piece
                .node(&vpd)?
                .collection(coll)
                .and_then(|c| c.get(index))
                .ok_or_else(|| missing_element(&vpd, coll, index, len))
        },
    ));
    r.register(Method::new(
        &format!("get-{many}"),
        Category::Read,
        &vpd_pid,
        &format!("All {many} of the node"),
        move |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let piece = call.piece(pid)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let ids = layout_ids(&piece, &vpd)?;
                return Ok(Value::vector(
                    ids.iter()
                        .filter_map(|id| musician_by_id(&piece, *id))
                        .map(ToValue::to_value),
                ));
            }
            let len = len_at(&piece, &vpd, coll, args)?;
            let c = piece
                .node(&vpd)?
                .collection(coll)
                .expect("checked by len_at");
            Ok(Value::vector((0..len).filter_map(|i| c.get(i))))
        },
    ));
    r.register(Method::new(
        &format!("set-{one}"),
        Category::Write,
        &[
            vpd_pid[0],
            vpd_pid[1],
            param("index", ParamKind::Int),
            param(one, ParamKind::Any),
        ],
        &format!("Replaces the {one} at an index"),
        move |call, args| {
            let (vpd, pid, index) = (args.vpd(0)?, args.piece_id(1)?, args.index(2)?);
            let piece = call.piece(pid)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let mut ids = layout_ids(&piece, &vpd)?;
                let id = musician_ref(&piece, args.value(3)?, args, 3)?;
                let len = ids.len();
                *ids.get_mut(index)
                    .ok_or_else(|| missing_element(&vpd, coll, index, len))? = id;
                set_layout_ids(call, pid, &vpd, ids)?;
                return call.write_result(pid);
            }
            let len = len_at(&piece, &vpd, coll, args)?;
            if index >= len {
                return Err(missing_element(&vpd, coll, index, len));
            }
            let value = normalize(coll, args.value(3)?).map_err(|e| in_arg(e, args, 3))?;
            if coll == Coll::Musicians {
                let kept: Vec<Value> = piece
                    .musicians
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        if i == index {
                            value.clone()
                        } else {
                            m.to_value()
                        }
                    })
                    .collect();
                prune_layouts(call, &piece, pid, &kept)?;
            }
            call.apply(
                pid,
                Change {
                    at: vpd,
                    op: ChangeOp::Set { coll, index, value },
                },
            )
            .map_err(|e| in_arg(e, args, 3))?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("set-{many}"),
        Category::Write,
        &[vpd_pid[0], vpd_pid[1], param(many, ParamKind::Vector)],
        &format!("Replaces all {many} of the node"),
        move |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let piece = call.piece(pid)?;
            let given = args.elements(2)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let ids = given
                    .iter()
                    .map(|v| musician_ref(&piece, v, args, 2))
                    .collect::<Result<Vec<_>, _>>()?;
                set_layout_ids(call, pid, &vpd, ids)?;
                return call.write_result(pid);
            }
            len_at(&piece, &vpd, coll, args)?;
            let mut values = Vec::with_capacity(given.len());
            for (i, v) in given.iter().enumerate() {
                if i % 1024 == 1023 {
                    call.check_deadline(&format!("while reading {many}"))?;
                }
                values.push(normalize(coll, v).map_err(|e| in_arg(e, args, 2))?);
            }
            if coll == Coll::Musicians {
                prune_layouts(call, &piece, pid, &values)?;
            }
            call.apply(
                pid,
                Change {
                    at: vpd,
                    op: ChangeOp::SetAll { coll, values },
                },
            )
            .map_err(|e| in_arg(e, args, 2))?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("add-{one}"),
        Category::Write,
        &[vpd_pid[0], vpd_pid[1], param(one, ParamKind::Any)],
        &format!("Appends a {one} to the node's {many}"),
        move |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let piece = call.piece(pid)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let mut ids = layout_ids(&piece, &vpd)?;
                let id = musician_ref(&piece, args.value(2)?, args, 2)?;
                if !ids.contains(&id) {
                    ids.push(id);
                    set_layout_ids(call, pid, &vpd, ids)?;
                }
                return call.write_result(pid);
            }
            let index = len_at(&piece, &vpd, coll, args)?;
            let value = normalize(coll, args.value(2)?).map_err(|e| in_arg(e, args, 2))?;
            call.apply(
                pid,
                Change {
                    at: vpd,
                    op: ChangeOp::Insert { coll, index, value },
                },
            )
            .map_err(|e| in_arg(e, args, 2))?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("remove-{one}"),
        Category::Write,
        &[vpd_pid[0], vpd_pid[1], param("index", ParamKind::Int)],
        &format!("Removes the {one} at an index"),
        move |call, args| {
            let (vpd, pid, index) = (args.vpd(0)?, args.piece_id(1)?, args.index(2)?);
            let piece = call.piece(pid)?;
            if coll == Coll::Musicians && is_layout(&vpd) {
                let mut ids = layout_ids(&piece, &vpd)?;
                if index >= ids.len() {
                    return Err(missing_element(&vpd, coll, index, ids.len()));
                }
                ids.remove(index);
                set_layout_ids(call, pid, &vpd, ids)?;
                return call.write_result(pid);
            }
            let len = len_at(&piece, &vpd, coll, args)?;
            if index >= len {
                return Err(missing_element(&vpd, coll, index, len));
            }
            if coll == Coll::Musicians {
                let kept: Vec<Value> = piece
                    .musicians
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != index)
                    .map(|(_, m)| m.to_value())
                    .collect();
                prune_layouts(call, &piece, pid, &kept)?;
            }
            call.apply(
                pid,
                Change {
                    at: vpd,
                    op: ChangeOp::Remove { coll, index },
                },
            )?;
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("move-{one}"),
        Category::Write,
        &[
            vpd_pid[0],
            vpd_pid[1],
            param("from", ParamKind::Int),
            param("to", ParamKind::Int),
        ],
        &format!("Moves a {one} to another position (to -1: the end)"),
        move |call, args| {
            let (vpd, pid, from) = (args.vpd(0)?, args.piece_id(1)?, args.index(2)?);
            let piece = call.piece(pid)?;
            let layout = coll == Coll::Musicians && is_layout(&vpd);
            let len = if layout {
                layout_ids(&piece, &vpd)?.len()
            } else {
                len_at(&piece, &vpd, coll, args)?
            };
            if from >= len {
                return Err(missing_element(&vpd, coll, from, len));
            }
            let to = target(args, 3, len)?.min(len - 1);
            if layout {
                let mut ids = layout_ids(&piece, &vpd)?;
                let id = ids.remove(from);
                ids.insert(to, id);
                set_layout_ids(call, pid, &vpd, ids)?;
            } else {
                call.apply(
                    pid,
                    Change {
                        at: vpd,
                        op: ChangeOp::Move { coll, from, to },
                    },
                )?;
            }
            call.write_result(pid)
        },
    ));
    r.register(Method::new(
        &format!("copy-{one}"),
        Category::Write,
        &[vpd_pid[0], vpd_pid[1], param("source", ParamKind::Int), param("to", ParamKind::Int)],
        &format!("Copies a {one} to a position in the same {many} (to -1: the end); structural copies get fresh ids"),
        move |call, args| {
            let (vpd, pid, source) = (args.vpd(0)?, args.piece_id(1)?, args.index(2)?);
            if coll == Coll::Musicians && is_layout(&vpd) {
                return Err(Error::NotAllowed {
                    message: "a layout lists musicians by reference; copy the musician in the piece ([]) instead".into(),
                });
            }
            let piece = call.piece(pid)?;
            let len = len_at(&piece, &vpd, coll, args)?;
            let value = piece.node(&vpd)?.collection(coll).and_then(|c| c.get(source)).ok_or_else(|| missing_element(&vpd, coll, source, len))?;
            let index = target(args, 3, len)?;
            let value = if coll.is_structural() { fresh_ids_value(coll, &value)? } else { value };
            call.apply(pid, Change { at: vpd, op: ChangeOp::Insert { coll, index, value } })?;
            call.write_result(pid)
        },
    ));
}

/// After the piece's musicians become `kept`, drops references to the others from layouts.
fn prune_layouts(
    call: &mut Call<'_, '_>,
    piece: &Piece,
    pid: PieceId,
    kept: &[Value],
) -> Result<(), Error> {
    let keep: Vec<EntityId> = kept
        .iter()
        .filter_map(|v| match v {
            Value::Record(r) => match r.fields().get_keyword("id") {
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for (i, layout) in piece.layouts.iter().enumerate() {
        let ids: Vec<EntityId> = layout
            .musician_ids
            .iter()
            .copied()
            .filter(|id| keep.contains(id))
            .collect();
        if ids.len() != layout.musician_ids.len() {
            set_layout_ids(call, pid, &Vpd::root().child(Coll::Layouts, i), ids)?;
        }
    }
    Ok(())
}

/// Names the argument a value error came from.
fn in_arg(e: Error, args: &Args<'_>, index: usize) -> Error {
    match e {
        Error::InvalidParams { message, .. } => Error::params(args.method(), Some(index), message),
        other => other,
    }
}

pub(crate) fn register(r: &MethodRegistry) {
    for coll in Coll::ALL {
        register_coll(r, coll);
    }
}
