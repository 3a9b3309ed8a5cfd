//! The audit trail (DESIGN section 9): one [`AuditEntry`] for every denied authorization, every
//! grant change and every tenant change: who (tenant and user), what (the method), which piece
//! (the first piece-id argument; for tenant changes the tenant named) and the outcome (`ok`, or
//! the refusal's reason). Tokens and argument values other than ids are never recorded. The
//! domain hands entries to an [`AuditLog`]; the server's writes each as one structured log line
//! (`telemetry::audit`).

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

/// One audited decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The caller's tenant.
    pub tenant: String,
    /// The caller's user.
    pub user: String,
    /// The method or RPC.
    pub what: String,
    /// The piece (or, for tenant changes, the tenant) it named, if any.
    pub target: Option<String>,
    /// `ok`, or the refusal's reason.
    pub outcome: &'static str,
}

/// Where audit entries go.
pub trait AuditLog: Send + Sync {
    /// Records one entry.
    fn record(&self, entry: AuditEntry);
}

/// Drops every entry (tools and tests that do not audit).
#[derive(Debug, Default)]
pub struct NoAudit;

impl AuditLog for NoAudit {
    fn record(&self, _: AuditEntry) {}
}

/// Records one decision of `caller` in `log`.
pub fn record(
    log: &dyn AuditLog,
    caller: &Caller,
    what: &str,
    target: Option<&str>,
    outcome: &'static str,
) {
    log.record(AuditEntry {
        tenant: caller.principal.tenant.to_string(),
        user: caller.principal.user.to_string(),
        what: what.to_owned(),
        target: target.map(str::to_owned),
        outcome,
    });
}

/// Audits a finished call if it changed grants or tenants, or was denied.
pub(crate) fn after_call(
    log: &dyn AuditLog,
    methods: &MethodRegistry,
    caller: &Caller,
    method: &str,
    params: &Value,
    outcome: Result<&Value, &Error>,
) {
    let denied = outcome.err().filter(|e| is_denial(e));
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
        let arg = args.get(index)?;
        // `create-tenant` names its tenant inside the record.
        arg.as_str()
            .or_else(|| arg.as_map()?.get_keyword("id")?.as_str())
            .map(str::to_owned)
    });
    let outcome = denied.map_or("ok", |e| e.reason());
    record(log, caller, method, target.as_deref(), outcome);
}
