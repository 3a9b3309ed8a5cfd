//! The method API every transport calls: `Api::execute(caller, method, params)`.
//!
//! A call resolves the method by name in the [`MethodRegistry`], checks its arguments against
//! the method's parameter list, and runs its handler inside one STM transaction with a [`Call`]
//! context. Pieces live in a transactional registry (one ref holding a persistent map of piece
//! refs, one ref per piece), so creating a piece and editing it can be one atomic batch.
//! Writes edit a working copy of the piece as path-level changes; a call that changes nothing
//! makes no new version and no event. On commit, each changed piece's changes and their events
//! go to the [`EventSink`]. Nothing here knows about gRPC.

pub mod access;
pub mod audit;
pub mod call;
mod methods;
mod order;
pub mod registry;

use std::sync::Arc;
use std::time::Instant;

pub use call::Call;
pub use registry::{Args, Category, Handler, Method, MethodRegistry, Param, ParamKind};

use crate::error::Error;
use crate::identity::{Caller, TenantId, UserId};
use crate::model::classify::PieceEvent;
use crate::model::{Change, Piece, PieceId};
use crate::stm::{Ref, Stm, StmConfig};
use crate::tenants::{Admission, Quotas, TenantRegistry};
use crate::value::Value;

/// A piece in the registry.
#[derive(Clone, Debug)]
pub struct PieceEntry {
    /// The piece's ref.
    pub piece: Ref<Piece>,
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Who may use it (its own ref: sharing does not rewrite the piece registry).
    pub access: Ref<access::PieceAccess>,
}

/// What one committed transaction did to one piece.
#[derive(Clone, Debug)]
pub struct PieceCommit {
    /// The piece.
    pub piece_id: PieceId,
    /// Its version after the commit.
    pub version: u64,
    /// The path-level changes, in order: the redo record.
    pub changes: Arc<[Change]>,
    /// The events the changes raise (at most one of each kind).
    pub events: Vec<PieceEvent>,
    /// Users of the piece's tenant who lost read access in this commit: their clients are
    /// unsubscribed before any later commit of the piece is delivered.
    pub revoked: Vec<UserId>,
    /// Who could use the piece as of this commit (`None` for deletions and commits made
    /// outside a call). Events go only to subscribers who could read it then, so a
    /// subscription that raced a revocation receives nothing committed after it.
    pub access: Option<Arc<access::PieceAccess>>,
}

/// Receives every piece commit, in commit order per piece, exactly once, after the commit.
pub trait EventSink: Send + Sync {
    /// Called once per piece per committed transaction that changed it.
    fn piece_committed(&self, commit: &PieceCommit);
}

/// A sink that drops everything (for tools and tests that do not watch).
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn piece_committed(&self, _: &PieceCommit) {}
}

/// Limits on the work one call may make the server do. The transport sets them from
/// `limits.*`; the defaults are the documented ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// Operations in one `atomic` batch (`limits.max_batch_operations`).
    pub max_batch_operations: usize,
    /// The encoded size a result may reach (`limits.max_message_bytes`, less the response's
    /// own fields).
    pub max_result_bytes: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_batch_operations: 1000,
            max_result_bytes: 16 * 1024 * 1024 - RESPONSE_OVERHEAD,
        }
    }
}

/// Bytes an `OoloiResponse` adds around its result (`success`, `error`, the result's tag and
/// length), rounded up.
pub const RESPONSE_OVERHEAD: usize = 32;

/// What every call shares.
pub(crate) struct Core {
    pub(crate) stm: Stm,
    pub(crate) pieces: Ref<imbl::HashMap<PieceId, PieceEntry>>,
    pub(crate) methods: MethodRegistry,
    pub(crate) sink: Arc<dyn EventSink>,
    /// Puts each piece's commits in version order for the sink.
    pub(crate) order: order::CommitOrder,
    pub(crate) limits: ApiLimits,
    /// Which tenants exist, their quotas and default access.
    pub(crate) tenants: Arc<TenantRegistry>,
    /// Where audit entries go (set once by the server).
    pub(crate) audit: std::sync::OnceLock<Arc<dyn audit::AuditLog>>,
}

/// The method API over one STM.
#[derive(Clone)]
pub struct Api(Arc<Core>);

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("methods", &self.0.methods)
            .finish()
    }
}

impl Api {
    /// An API with the core methods and the default limits, sending commits to `sink`.
    pub fn new(config: StmConfig, sink: Arc<dyn EventSink>) -> Self {
        Self::with_limits(config, ApiLimits::default(), sink)
    }

    /// An API with the core methods and `limits`, sending commits to `sink`, with an open
    /// tenant registry on the default quotas.
    pub fn with_limits(config: StmConfig, limits: ApiLimits, sink: Arc<dyn EventSink>) -> Self {
        let tenants = TenantRegistry::new(
            Admission::Open,
            TenantId::from_static("platform"),
            Quotas {
                clients: 1000,
                pieces: 10_000,
                requests_per_second: 1000,
                burst: 2000,
            },
        );
        Self::with_tenants(config, limits, sink, Arc::new(tenants))
    }

    /// An API with the core methods and `limits`, sending commits to `sink`, admitting callers
    /// through `tenants`.
    pub fn with_tenants(
        config: StmConfig,
        limits: ApiLimits,
        sink: Arc<dyn EventSink>,
        tenants: Arc<TenantRegistry>,
    ) -> Self {
        let stm = Stm::new(config);
        let pieces = stm.create_ref(imbl::HashMap::new());
        let api = Api(Arc::new(Core {
            stm,
            pieces,
            methods: MethodRegistry::default(),
            sink,
            order: order::CommitOrder::default(),
            limits,
            tenants,
            audit: std::sync::OnceLock::new(),
        }));
        methods::register_core(&api.0.methods);
        api
    }

    /// The method registry (register plugin methods here).
    pub fn methods(&self) -> &MethodRegistry {
        &self.0.methods
    }

    /// Sends audit entries to `log` (once; later calls are ignored).
    pub fn set_audit(&self, log: Arc<dyn audit::AuditLog>) {
        let _ = self.0.audit.set(log);
    }

    /// Where audit entries go.
    pub fn audit(&self) -> Arc<dyn audit::AuditLog> {
        self.0
            .audit
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::new(audit::NoAudit))
    }

    /// The tenant registry.
    pub fn tenants(&self) -> &Arc<TenantRegistry> {
        &self.0.tenants
    }

    /// The STM the pieces live in.
    pub fn stm(&self) -> &Stm {
        &self.0.stm
    }

    /// Registers an existing piece (loaded from storage, or built by code) under its own id,
    /// owned by the caller's tenant. Refuses an id that is already registered.
    pub fn import_piece(&self, caller: &Caller, piece: Piece) -> Result<PieceId, Error> {
        crate::model::validate(&piece).map_err(|message| Error::ValidationFailed { message })?;
        let mut committed = None;
        let id = self.0.stm.atomically(|tx| {
            if tx.read(&self.0.pieces)?.contains_key(&piece.id) {
                return Err(Error::ValidationFailed {
                    message: format!("piece {} already exists", piece.id),
                });
            }
            if self.0.order.knows(piece.id) {
                // Deleted, but its `piece-deleted` is still on its way: a new piece under the
                // same id now would share the old one's event order.
                return Err(Error::ValidationFailed {
                    message: format!("piece {} was deleted moments ago; try again", piece.id),
                });
            }
            let mut call = Call::new(tx, &self.0, caller);
            let id = call.create_piece(piece.clone())?;
            committed = Some(call.finish());
            Ok(id)
        })?;
        self.submit(committed);
        Ok(id)
    }

    /// Hands what a committed transaction did to the sink, in order (never waits).
    fn submit(&self, committed: Option<order::Committed>) {
        if let Some(committed) = committed {
            self.0.order.submit(committed, &*self.0.sink);
        }
    }

    /// Calls `method` with `params` (a vector of positional arguments) for `caller`: its
    /// principal decides what it sees, and its client is the one methods such as
    /// `subscribe-to-piece-events` act for.
    pub fn execute(&self, caller: &Caller, method: &str, params: &Value) -> Result<Value, Error> {
        self.execute_until(caller, method, params, None)
    }

    /// Like [`Api::execute`], stopping with [`Error::DeadlineExceeded`] (nothing committed)
    /// once `deadline` has passed: before each attempt, between the operations of a batch and
    /// inside loops over a scope.
    pub fn execute_until(
        &self,
        caller: &Caller,
        method: &str,
        params: &Value,
        deadline: Option<Instant>,
    ) -> Result<Value, Error> {
        let outcome = self.run(caller, method, params, deadline);
        audit::after_call(
            &*self.audit(),
            &self.0.methods,
            caller,
            method,
            params,
            &outcome,
        );
        outcome
    }

    fn run(
        &self,
        caller: &Caller,
        method: &str,
        params: &Value,
        deadline: Option<Instant>,
    ) -> Result<Value, Error> {
        let m = self
            .0
            .methods
            .get(method)
            .ok_or_else(|| Error::MethodNotFound {
                method: crate::error::quote(method),
            })?;
        let args = params_of(method, params)?;
        m.check_args(args)?;
        // Only whether the tenant may work: the transport charges its request bucket before
        // the call reaches the executor.
        self.0.tenants.active_quotas(caller.tenant())?;
        let required = access::required_role(m.category);
        if required.is_none() && !caller.roles.platform_admin {
            return Err(Error::PermissionDenied {
                message: format!("{method} is for the platform operator"),
            });
        }
        // Only the last attempt's outcome counts: an attempt that retries sets it again.
        let mut committed = None;
        let result = self.0.stm.atomically(|tx| {
            let mut call = Call::new(tx, &self.0, caller);
            call.deadline = deadline;
            call.check_deadline("before the call")?;
            if let Some(role) = required {
                call.authorize_args(&m, args, role)?;
            }
            let result = (m.handler)(&mut call, &Args::new(&m.name, args))?;
            // Checked inside the transaction, so a result too large to send commits nothing. A
            // batch has charged its operations' results already, one by one.
            if !call.charged() {
                call.charge_result(&result)?;
            }
            committed = Some(call.finish());
            Ok::<_, Error>(result)
        })?;
        self.submit(committed);
        Ok(result)
    }

    /// How many pieces each tenant has now (one read of the piece registry).
    pub fn pieces_per_tenant(&self) -> std::collections::HashMap<TenantId, u64> {
        let registry = self
            .0
            .stm
            .atomically(|tx| Ok::<_, Error>(tx.read(&self.0.pieces)?))
            .unwrap_or_default();
        let mut counts = std::collections::HashMap::new();
        for entry in registry.values() {
            *counts.entry(entry.tenant.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The limits calls run under.
    pub fn limits(&self) -> ApiLimits {
        self.0.limits
    }
}

/// The tenant records of a `tenants.file` (TOML): an array of tables `[[tenants]]` with the
/// fields of `create-tenant`, spelled with `_` or `-` (`default_access = "tenant-read"`,
/// `quotas = { clients = 100 }`, `identity_provider = { issuer = "...", jwks_file = "..." }`).
pub fn tenant_records_from_toml(text: &str) -> Result<Vec<crate::tenants::TenantRecord>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    for key in table.keys() {
        if key != "tenants" {
            return Err(format!(
                "unknown key {key:?} (the file holds [[tenants]] tables)"
            ));
        }
    }
    let Some(list) = table.get("tenants") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or("tenants must be an array of tables ([[tenants]])")?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let value = toml_value(item).map_err(|e| format!("tenant {}: {e}", i + 1))?;
            let map = value
                .as_map()
                .ok_or_else(|| format!("tenant {} is not a table", i + 1))?;
            methods::tenant_record(map).map_err(|e| format!("tenant {}: {e}", i + 1))
        })
        .collect()
}

/// A TOML value as a [`Value`]: tables become maps with keyword keys (`_` read as `-`).
fn toml_value(item: &toml::Value) -> Result<Value, String> {
    Ok(match item {
        toml::Value::String(s) => Value::string(s),
        toml::Value::Integer(n) => Value::Int(*n),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => Value::vector(
            items
                .iter()
                .map(toml_value)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        toml::Value::Table(t) => Value::map(
            t.iter()
                .map(|(k, v)| Ok((Value::keyword(&k.replace('_', "-")), toml_value(v)?)))
                .collect::<Result<Vec<_>, String>>()?,
        ),
        other => return Err(format!("unsupported value {other}")),
    })
}

fn params_of<'v>(method: &str, params: &'v Value) -> Result<&'v [Value], Error> {
    match params {
        Value::Vector(v) | Value::List(v) => Ok(v.as_slice()),
        Value::Nil => Ok(&[]),
        other => Err(Error::params(
            method,
            None,
            format!("params must be a vector, got {}", other.kind()),
        )),
    }
}

/// Runs one operation of an atomic batch inside the batch's call.
pub(crate) fn run_in_batch(
    call: &mut Call<'_, '_>,
    method: &str,
    params: &Value,
) -> Result<Value, Error> {
    let m = call
        .methods()
        .get(method)
        .ok_or_else(|| Error::MethodNotFound {
            method: crate::error::quote(method),
        })?;
    let args = params_of(method, params)?;
    m.check_args(args)?;
    match access::required_role(m.category) {
        Some(role) => call.authorize_args(&m, args, role)?,
        // Admin methods change the tenant registry, which a failed batch could not undo.
        None => {
            return Err(Error::NotAllowed {
                message: format!("{method} cannot run inside an atomic batch"),
            });
        }
    }
    (m.handler)(call, &Args::new(&m.name, args))
}
