//! The core methods: piece lifecycle, `atomic`, `list-methods`, `get-piece-structure`, and
//! (in the submodules) the verbs over every child collection, attributes, settings and change
//! sets, constructors, attachments and transposition.

mod access;
mod attributes;
mod collections;
mod music;
pub(crate) mod tenants;

use super::registry::{Category, Method, MethodRegistry, ParamKind, optional, param};
use super::run_in_batch;
use crate::error::Error;
use crate::model::settings::PIECE_SETTINGS;
use crate::model::tree::NodeRef;
use crate::model::{Piece, PieceId, Vpd};
use crate::value::Value;

pub(crate) use tenants::record_of as tenant_record;

/// Registers every core method.
pub(crate) fn register_core(registry: &MethodRegistry) {
    register_lifecycle(registry);
    collections::register(registry);
    attributes::register(registry);
    music::register(registry);
    access::register(registry);
    tenants::register(registry);
}

fn kw(name: &str) -> Value {
    Value::keyword(name)
}

fn register_lifecycle(r: &MethodRegistry) {
    r.register(Method::new(
        "new-piece",
        Category::Lifecycle,
        &[optional("fields", ParamKind::Map)],
        "Creates an empty piece (optionally {:title ...}) and returns its id",
        |call, args| {
            let fields = args.map(0)?;
            let title = match fields.get_keyword("title") {
                None | Some(Value::Nil) => "",
                Some(Value::String(s)) => s,
                Some(other) => {
                    return Err(Error::params(
                        args.method(),
                        Some(0),
                        format!(":title must be a string, got {other}"),
                    ));
                }
            };
            let id = call.create_piece(Piece::new(PieceId::mint(), title))?;
            Ok(Value::string(id.to_string()))
        },
    ));
    r.register(Method::new(
        "list-pieces",
        Category::Read,
        &[],
        "Lists the caller's pieces as [{:piece-id :title :version}], sorted by id",
        |call, _| {
            let tenant = call.principal().tenant.clone();
            let registry = call.tx.read(&call.core.pieces)?;
            let mut ids: Vec<PieceId> = registry
                .iter()
                .filter(|(_, e)| e.tenant == tenant)
                .map(|(id, _)| *id)
                .collect();
            // Pieces in the store but not in memory are listed from their metadata, unloaded.
            let cold = call.tx.read(&call.core.cold)?;
            let mut listed: Vec<(PieceId, Value)> = cold
                .iter()
                .filter(|(_, c)| c.tenant == tenant && c.access.role_of(call.caller).is_some())
                .map(|(id, c)| {
                    (
                        *id,
                        Value::map([
                            (kw("piece-id"), Value::string(id.to_string())),
                            (kw("title"), Value::String(c.title.clone())),
                            (kw("version"), Value::Int(c.version as i64)),
                        ]),
                    )
                })
                .collect();
            ids.sort();
            for id in ids {
                // Pieces of the tenant the caller has no role on are not listed.
                let piece = match call.piece(id) {
                    Ok(piece) => piece,
                    Err(Error::PieceNotFound { .. }) => continue,
                    Err(e) => return Err(e),
                };
                listed.push((
                    id,
                    Value::map([
                        (kw("piece-id"), Value::string(id.to_string())),
                        (kw("title"), Value::String(piece.title.clone())),
                        (kw("version"), Value::Int(piece.version as i64)),
                    ]),
                ));
            }
            listed.sort_by_key(|(id, _)| *id);
            Ok(Value::vector(listed.into_iter().map(|(_, v)| v)))
        },
    ));
    r.register(Method::new(
        "clone-piece",
        Category::Lifecycle,
        &[param("piece-id", ParamKind::PieceId)],
        "Copies a piece under a new id, with fresh ids for every musician, instrument, staff and layout",
        |call, args| {
            let source = call.piece(args.piece_id(0)?)?;
            let copy = music::with_fresh_ids(&source, PieceId::mint());
            let id = call.create_piece(copy)?;
            Ok(Value::string(id.to_string()))
        },
    ));
    r.register(Method::new(
        "delete-piece",
        Category::Lifecycle,
        &[param("piece-id", ParamKind::PieceId)],
        "Deletes a piece; its subscribers receive piece-deleted",
        |call, args| {
            let id = args.piece_id(0)?;
            call.delete_piece(id)?;
            Ok(Value::Bool(true))
        },
    ));
    r.register(Method::new(
        "get-piece-structure",
        Category::Read,
        &[param("vpd", ParamKind::Vpd), param("piece-id", ParamKind::PieceId)],
        "The piece's structure as plain maps: musicians, instruments, staves, layouts, dense settings, version",
        |call, args| {
            let vpd = args.vpd(0)?;
            if vpd != Vpd::root() {
                return Err(Error::params(args.method(), Some(0), "get-piece-structure takes the piece VPD []"));
            }
            let piece = call.piece(args.piece_id(1)?)?;
            Ok(structure(&piece))
        },
    ));
    r.register(Method::new(
        "list-methods",
        Category::Read,
        &[],
        "Every method with its category, parameters and one-line doc",
        |call, _| {
            Ok(Value::vector(
                call.methods().all().iter().map(|m| m.describe()),
            ))
        },
    ));
    r.register(Method::new(
        "atomic",
        Category::Write,
        &[param("operations", ParamKind::Vector)],
        "Runs [{:method name :params [...]} ...] in order in one transaction; all or nothing",
        |call, args| {
            let ops = args.elements(0)?;
            let max = call.limits().max_batch_operations;
            if ops.len() > max {
                return Err(Error::LimitExceeded {
                    limit: "limits.max_batch_operations",
                    max: max as u64,
                    what: format!("an atomic batch of {} operations", ops.len()),
                });
            }
            let mut results = Vec::with_capacity(ops.len());
            for (index, op) in ops.iter().enumerate() {
                call.check_deadline(&format!("before operation {index} of {}", ops.len()))?;
                let fail = |source: Error, method: &str| Error::BatchOperationFailed {
                    index,
                    method: crate::error::quote(method),
                    source: Box::new(source),
                };
                let Some(m) = op.as_map() else {
                    let e = Error::params(
                        "atomic",
                        Some(0),
                        format!("operation {index} must be a map {{:method :params}}"),
                    );
                    return Err(fail(e, ""));
                };
                let method = match m.get_keyword("method") {
                    Some(Value::String(s)) => s.to_string(),
                    Some(Value::Keyword(k)) => k.as_str().to_owned(),
                    _ => {
                        let e = Error::params(
                            "atomic",
                            Some(0),
                            format!("operation {index} needs :method (a string)"),
                        );
                        return Err(fail(e, ""));
                    }
                };
                if method == "atomic" {
                    let e = Error::NotAllowed {
                        message: "atomic batches do not nest".into(),
                    };
                    return Err(fail(e, &method));
                }
                let params = m.get_keyword("params").cloned().unwrap_or(Value::Nil);
                let result = run_in_batch(call, &method, &params).map_err(|e| fail(e, &method))?;
                // Counted as it is made: a batch of reads too large to send stops here, before
                // it builds the rest.
                call.charge_result(&result)?;
                results.push(result);
            }
            Ok(Value::vector(results))
        },
    ));
}

/// The structural projection of a piece: plain maps, structural fields only, dense settings.
pub(crate) fn structure(piece: &Piece) -> Value {
    let settings = Value::map(PIECE_SETTINGS.iter().map(|spec| {
        let default = spec.default_value();
        let value = piece
            .settings
            .get_keyword(spec.name)
            .cloned()
            .unwrap_or_else(|| default.clone());
        (
            kw(spec.name),
            Value::map([(kw("value"), value), (kw("default"), default)]),
        )
    }));
    let attrs = |node: NodeRef<'_>| -> Vec<(Value, Value)> {
        node.attr_specs()
            .iter()
            .filter(|s| s.structural)
            .map(|s| {
                let v = node.attrs().and_then(|a| a.get_keyword(s.name)).cloned();
                (
                    kw(s.name),
                    v.unwrap_or_else(|| crate::model::attrs::default_of(s)),
                )
            })
            .collect()
    };
    let musicians = Value::vector(piece.musicians.iter().map(|m| {
        let mut fields = vec![(kw("id"), Value::string(m.id.to_string()))];
        fields.extend(attrs(NodeRef::Musician(m)));
        fields.push((
            kw("instruments"),
            Value::vector(m.instruments.iter().map(|i| {
                let mut fields = vec![(kw("id"), Value::string(i.id.to_string()))];
                fields.extend(attrs(NodeRef::Instrument(i)));
                fields.push((
                    kw("staves"),
                    Value::vector(i.staves.iter().map(|s| {
                        let mut fields = vec![(kw("id"), Value::string(s.id.to_string()))];
                        fields.extend(attrs(NodeRef::Staff(s)));
                        fields.push((kw("measure-count"), Value::Int(s.measures.len() as i64)));
                        Value::map(fields)
                    })),
                ));
                Value::map(fields)
            })),
        ));
        Value::map(fields)
    }));
    let layouts = Value::vector(piece.layouts.iter().map(|l| {
        let mut fields = vec![(kw("id"), Value::string(l.id.to_string()))];
        fields.extend(attrs(NodeRef::Layout(l)));
        fields.push((
            kw("musician-ids"),
            Value::vector(
                l.musician_ids
                    .iter()
                    .map(|id| Value::string(id.to_string())),
            ),
        ));
        Value::map(fields)
    }));
    Value::map([
        (kw("id"), Value::string(piece.id.to_string())),
        (kw("title"), Value::String(piece.title.clone())),
        (kw("version"), Value::Int(piece.version as i64)),
        (kw("settings"), settings),
        (kw("musicians"), musicians),
        (kw("layouts"), layouts),
    ])
}
