//! The server's audit log: each [`AuditEntry`] the domain records becomes one structured log
//! line at info level under the target `audit` (JSON fields with `log.format = json`), so
//! operators can route the trail apart from other logs (`RUST_LOG=audit=info`).

use crate::api::audit::{AuditEntry, AuditLog};

/// Writes audit entries as log lines.
#[derive(Debug, Default)]
pub struct TracingAudit;

impl AuditLog for TracingAudit {
    fn record(&self, entry: AuditEntry) {
        tracing::info!(
            target: "audit",
            tenant = %entry.tenant,
            user = %entry.user,
            what = %entry.what,
            piece = entry.target.as_deref().unwrap_or(""),
            outcome = entry.outcome,
            "audit"
        );
    }
}
