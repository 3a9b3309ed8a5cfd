//! The audit trail (DESIGN section 9): one structured log line, at info level under the target
//! `audit`, for every denied authorization, every grant change and every tenant change: who
//! (tenant and user), what (the method), which piece (the first piece-id argument, if any) and
//! the outcome (`ok`, or the refusal's reason). Tokens and argument values other than ids are
//! never logged.

use super::{Category, MethodRegistry};
use crate::error::Error;
use crate::identity::Caller;
use crate::value::Value;

/// The methods whose success changes grants or tenants (reads of them are not audited).
const CHANGES: [&str; 7] = [
    "share-piece",
    "unshare-piece",
    "create-tenant",
    "update-tenant",
    "suspend-tenant",
    "resume-tenant",
    "delete-tenant",
];

/// True for the refusals that are authorization decisions.
fn is_denial(error: &Error) -> bool {
    matches!(
        error.root(),
        Error::PermissionDenied { .. } | Error::TenantNotActive { .. }
    )
}

/// One audit line.
pub fn record(caller: &Caller, what: &str, piece: Option<&str>, outcome: &str) {
    tracing::info!(
        target: "audit",
        tenant = %caller.principal.tenant,
        user = %caller.principal.user,
        what,
        piece = piece.unwrap_or(""),
        outcome,
        "audit"
    );
}

/// Audits a finished call if it changed grants or tenants, or was denied.
pub(crate) fn after_call(
    methods: &MethodRegistry,
    caller: &Caller,
    method: &str,
    params: &Value,
    outcome: &Result<Value, Error>,
) {
    let denied = outcome.as_ref().err().filter(|e| is_denial(e));
    let changed = outcome.is_ok() && CHANGES.contains(&method);
    if denied.is_none() && !changed {
        return;
    }
    let m = methods.get(method);
    // The piece: the first argument of kind piece-id; for tenant changes, the tenant named.
    let target = m.as_ref().and_then(|m| {
        let args = params.as_seq()?.as_slice();
        let index = match m.category {
            Category::Admin => 0,
            _ => m
                .params
                .iter()
                .position(|p| p.kind == super::ParamKind::PieceId)?,
        };
        args.get(index)?.as_str().map(str::to_owned)
    });
    let outcome = denied.map_or("ok", |e| e.reason());
    record(caller, method, target.as_deref(), outcome);
}
