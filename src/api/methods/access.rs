//! The sharing methods (category `share`: the caller must own the piece):
//! `share-piece [pid user role]` grants `viewer`, `editor` or `owner` to a user of the tenant,
//! `unshare-piece [pid user]` takes a grant away (the user's clients stop receiving the piece's
//! events at once), and `list-piece-access [pid]` says who may use the piece.

use super::kw;
use crate::api::access::{PieceAccess, PieceRole};
use crate::api::registry::{Category, Method, MethodRegistry, ParamKind, param};
use crate::error::Error;
use crate::identity::UserId;
use crate::value::Value;

/// The longest user id a grant may name, in characters.
const MAX_USER_CHARS: usize = 256;

fn user_arg(method: &str, index: usize, value: &Value) -> Result<UserId, Error> {
    match value.as_str() {
        Some(s) if !s.is_empty() && s.chars().count() <= MAX_USER_CHARS => Ok(UserId::from(s)),
        _ => Err(Error::params(
            method,
            Some(index),
            format!("a user id is a string of 1 to {MAX_USER_CHARS} characters"),
        )),
    }
}

/// The text of a keyword (`:viewer`) or a string (`"viewer"`).
pub(super) fn word(value: &Value) -> Option<&str> {
    match value {
        Value::Keyword(k) => Some(k.as_str()),
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// `{:owner u :default-access a :grants {user role ...}}`.
pub(crate) fn describe(access: &PieceAccess) -> Value {
    Value::map([
        (kw("owner"), Value::string(access.owner.as_str())),
        (kw("default-access"), Value::keyword(access.default.name())),
        (
            kw("grants"),
            Value::map(
                access.grants.iter().map(|(user, role)| {
                    (Value::string(user.as_str()), Value::keyword(role.name()))
                }),
            ),
        ),
    ])
}

pub(super) fn register(r: &MethodRegistry) {
    r.register(Method::new(
        "share-piece",
        Category::Share,
        &[
            param("piece-id", ParamKind::PieceId),
            param("user", ParamKind::String),
            param("role", ParamKind::Any),
        ],
        "Grants a user of the tenant :viewer, :editor or :owner on a piece (owner only)",
        |call, args| {
            let pid = args.piece_id(0)?;
            let user = user_arg(args.method(), 1, args.value(1)?)?;
            let role = word(args.value(2)?)
                .and_then(PieceRole::from_name)
                .ok_or_else(|| {
                    Error::params(
                        args.method(),
                        Some(2),
                        "the role is :viewer, :editor or :owner",
                    )
                })?;
            let access = call.change_access(pid, |access| {
                if user != access.owner {
                    access.grants.insert(user, role);
                }
                Ok(())
            })?;
            Ok(describe(&access))
        },
    ));
    r.register(Method::new(
        "unshare-piece",
        Category::Share,
        &[
            param("piece-id", ParamKind::PieceId),
            param("user", ParamKind::String),
        ],
        "Takes a user's grant on a piece away; their clients stop receiving its events (owner only)",
        |call, args| {
            let pid = args.piece_id(0)?;
            let user = user_arg(args.method(), 1, args.value(1)?)?;
            let access = call.change_access(pid, |access| {
                if user == access.owner {
                    return Err(Error::NotAllowed {
                        message: "the creator's ownership cannot be taken away".into(),
                    });
                }
                access.grants.remove(&user);
                Ok(())
            })?;
            Ok(describe(&access))
        },
    ));
    r.register(Method::new(
        "list-piece-access",
        Category::Share,
        &[param("piece-id", ParamKind::PieceId)],
        "Who may use a piece: {:owner :default-access :grants} (owner only)",
        |call, args| {
            let access = call.access(args.piece_id(0)?)?;
            Ok(describe(&access))
        },
    ));
}
