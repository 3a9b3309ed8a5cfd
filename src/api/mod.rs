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
pub mod durable;
mod methods;
mod order;
pub mod registry;

use std::sync::Arc;
use std::time::Instant;

pub use call::Call;
pub use durable::{Ack, AckSlot, Durable};
pub use registry::{Args, Category, Handler, Method, MethodRegistry, Param, ParamKind};

use crate::error::Error;
use crate::identity::{Caller, TenantId, UserId};
use crate::model::classify::PieceEvent;
use crate::model::{Change, Piece, PieceId};
use crate::stm::{Ref, Stm, StmConfig};
use crate::tenants::{Admission, Quotas, TenantRegistry};
use crate::value::Value;
use tracing::field::Empty;

/// A piece in the registry.
#[derive(Clone, Debug)]
pub struct PieceEntry {
    /// The piece's ref.
    pub piece: Ref<Piece>,
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Who may use it (its own ref: sharing does not rewrite the piece registry).
    pub access: Ref<access::PieceAccess>,
    /// When a call last used it (ms on the API's clock): idle pieces are evicted.
    pub last_used: Arc<std::sync::atomic::AtomicU64>,
    /// The version it had when it was loaded from the store (durable by definition); `None`
    /// for a piece created in this process (durable once the store says so).
    pub loaded_version: Option<u64>,
}

/// A piece the store holds that is not in memory: what `list-pieces` and the first access
/// check need, without loading it.
#[derive(Clone, Debug)]
pub struct ColdPiece {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its title.
    pub title: Arc<str>,
    /// Its durable version.
    pub version: u64,
    /// Who may use it.
    pub access: Arc<access::PieceAccess>,
}

/// What one committed transaction did to one piece: its creation, a change, or its deletion.
/// This is the commit record the store makes durable and the event stage fans out.
#[derive(Clone, Debug)]
pub struct PieceCommit {
    /// The piece.
    pub piece_id: PieceId,
    /// Its version after the commit (for a creation, the version it was created at; for a
    /// deletion, its last version).
    pub version: u64,
    /// The tenant that owns the piece.
    pub tenant: TenantId,
    /// Who made the commit.
    pub author: UserId,
    /// The whole piece as created (`Some` only for a creation).
    pub created: Option<Arc<Piece>>,
    /// The piece was deleted.
    pub deleted: bool,
    /// Whether the access changed in this commit (a creation sets it too).
    pub access_changed: bool,
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
    /// The commit's share of its call's acknowledgement (see [`durable`]).
    pub ack: AckSlot,
    /// The transaction it belongs to (a number unique in this process) and how many piece
    /// commits that transaction made: the store writes them in one database transaction, so
    /// an atomic batch over several pieces is durable whole or not at all.
    pub txn: (u64, usize),
    /// The span of the call that made the commit: the store write and the event fan-out that
    /// follow it later, on other threads, are traced as its children.
    pub span: tracing::Span,
}

impl PieceCommit {
    /// A commit of `piece` at `version` that changed nothing yet (fill in the rest with struct
    /// update syntax): for sinks' tests and tools.
    pub fn new(tenant: TenantId, author: UserId, piece_id: PieceId, version: u64) -> PieceCommit {
        PieceCommit {
            piece_id,
            version,
            tenant,
            author,
            created: None,
            deleted: false,
            access_changed: false,
            changes: Arc::from(Vec::new()),
            events: Vec::new(),
            revoked: Vec::new(),
            access: None,
            ack: AckSlot::default(),
            txn: (0, 1),
            span: tracing::Span::none(),
        }
    }
}

/// Receives every piece commit, in commit order per piece, exactly once, after the commit.
/// The commit arrives with its ack: a sink that makes it durable settles it when it is, any
/// other sink settles it when it has taken the commit (see [`PieceCommit::ack`]).
pub trait EventSink: Send + Sync {
    /// Called once per piece per committed transaction that created, changed or deleted it.
    fn piece_committed(&self, commit: PieceCommit);
}

/// A sink that drops everything (for tools and tests that do not watch); it acknowledges
/// every commit, since there is nothing to make durable.
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    fn piece_committed(&self, mut commit: PieceCommit) {
        commit.ack.settle(Ok(()));
    }
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

/// A new ref for `piece`, with the validator every piece ref carries.
pub(crate) fn piece_ref(stm: &Stm, piece: Piece) -> Ref<Piece> {
    let r = stm.create_ref(piece);
    // Ids can only break after a structural change: re-check only then. Validators of one
    // ref run one at a time (under its commit lock), so the remembered count is consistent.
    let checked = std::sync::atomic::AtomicU64::new(u64::MAX);
    r.add_validator(move |p| {
        use std::sync::atomic::Ordering::Relaxed;
        if checked.load(Relaxed) == p.structure {
            return Ok(());
        }
        crate::model::validate(p).map_err(crate::stm::ValidationError::new)?;
        checked.store(p.structure, Relaxed);
        Ok(())
    });
    r
}

/// Counts a changing call from the moment it passed the write gate until its commits were
/// submitted, so that recovery can tell when every commit made before the gate closed has
/// reached the durability stage.
struct WriteInFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> WriteInFlight<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        WriteInFlight(count)
    }
}

impl Drop for WriteInFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What every call shares.
pub(crate) struct Core {
    pub(crate) stm: Stm,
    pub(crate) pieces: Ref<imbl::HashMap<PieceId, PieceEntry>>,
    /// Pieces in the store but not in memory (loaded on first access).
    pub(crate) cold: Ref<imbl::HashMap<PieceId, ColdPiece>>,
    /// The clock of `PieceEntry::last_used`.
    pub(crate) epoch: Instant,
    pub(crate) methods: MethodRegistry,
    pub(crate) sink: Arc<dyn EventSink>,
    /// Puts each piece's commits in version order for the sink.
    pub(crate) order: order::CommitOrder,
    pub(crate) limits: ApiLimits,
    /// Which tenants exist, their quotas and default access.
    pub(crate) tenants: Arc<TenantRegistry>,
    /// Why writes are refused (the store is down), if they are; read by every changing call.
    pub(crate) write_refusal: Ref<Option<String>>,
    /// Changing calls between the write gate and their submission.
    writes_in_flight: std::sync::atomic::AtomicUsize,
    /// The number of the next committed transaction.
    next_txn: std::sync::atomic::AtomicU64,
    /// Pieces the store holds that are not served: damaged data (DATA_LOSS), or held back
    /// until the store recovers (UNAVAILABLE). Their tenant and the error calls naming them
    /// get instead of PIECE_NOT_FOUND; their ids are never reused meanwhile.
    refused: std::sync::Mutex<std::collections::HashMap<PieceId, (TenantId, Error)>>,
    /// Where audit entries go (set once by the server).
    pub(crate) audit: std::sync::OnceLock<Arc<dyn audit::AuditLog>>,
    /// Whether calls are traced ([`Api::trace_calls`]).
    traced: std::sync::atomic::AtomicBool,
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

impl Core {
    /// Milliseconds on the API's clock (for `PieceEntry::last_used`).
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A registry entry for a piece entering memory at its current version.
    pub(crate) fn entry_for(
        &self,
        tenant: TenantId,
        piece: Piece,
        access: access::PieceAccess,
        from_store: bool,
    ) -> PieceEntry {
        let loaded_version = from_store.then_some(piece.version);
        PieceEntry {
            piece: piece_ref(&self.stm, piece),
            tenant,
            access: self.stm.create_ref(access),
            last_used: Arc::new(std::sync::atomic::AtomicU64::new(self.now_ms())),
            loaded_version,
        }
    }

    /// The refused pieces of `tenant`.
    pub(crate) fn refused_of(&self, tenant: &TenantId) -> Vec<PieceId> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused
            .iter()
            .filter(|(_, (owner, _))| owner == tenant)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The error of a refused piece `id`, if `tenant` owns one.
    pub(crate) fn refused_piece(&self, tenant: &TenantId, id: PieceId) -> Option<Error> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused
            .get(&id)
            .filter(|(owner, _)| owner == tenant)
            .map(|(_, error)| error.clone())
    }
}

impl Api {
    /// Puts a piece loaded from the store into the registry under its own id, owned by
    /// `tenant`, replacing any piece of that id: no commit, no record, no event. Its next
    /// commit is `piece.version + 1`.
    pub fn install(&self, tenant: TenantId, piece: Piece, access: access::PieceAccess) {
        self.install_where(Some(tenant), piece, access);
    }

    /// Installs a piece loaded because it was cold, only if it still is (a deletion may have
    /// removed it meanwhile), under the tenant the cold map names. Returns whether it was.
    pub fn install_cold(&self, piece: Piece, access: access::PieceAccess) -> bool {
        self.install_where(None, piece, access)
    }

    fn install_where(
        &self,
        tenant: Option<TenantId>,
        piece: Piece,
        access: access::PieceAccess,
    ) -> bool {
        let id = piece.id;
        let version = piece.version;
        let must_be_cold = tenant.is_none();
        let owner = match tenant {
            Some(t) => t,
            None => match self.cold_tenant(id) {
                Some(t) => t,
                None => return false,
            },
        };
        let entry = self.0.entry_for(owner, piece, access, true);
        // Its order starts before anyone can find the piece: a commit of it made the moment it
        // is in the registry must find its predecessor's version there.
        self.0.order.forget(id);
        self.0.order.start(id, version);
        let installed = self
            .0
            .stm
            .atomically(|tx| {
                if must_be_cold && !tx.read(&self.0.cold)?.contains_key(&id) {
                    return Ok::<_, Error>(false);
                }
                tx.alter(&self.0.pieces, |registry| {
                    registry.update(id, entry.clone())
                })?;
                tx.alter(&self.0.cold, |cold| cold.without(&id))?;
                Ok(true)
            })
            .unwrap_or(false);
        if installed {
            self.0
                .refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        installed
    }

    /// Removes a piece from the registry without a record or an event (the store no longer
    /// has it).
    pub fn uninstall(&self, id: PieceId) {
        let _ = self.0.stm.atomically(|tx| {
            tx.alter(&self.0.pieces, |registry| registry.without(&id))?;
            Ok::<_, Error>(())
        });
        self.0.order.forget(id);
    }

    /// Takes piece `id` of `tenant` out of service: it leaves the registry (if loaded), calls
    /// naming it get `error` (DATA_LOSS for damaged data, UNAVAILABLE while the store
    /// recovers), and nothing may create a piece of that id until it is installed again.
    pub fn refuse_piece(&self, tenant: TenantId, id: PieceId, error: Error) {
        self.0
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (tenant, error));
        // Out of the registry only: its commit order stays as it is, so that commits of it
        // still on their way arrive in order (and fail); installing it again restarts it.
        let _ = self.0.stm.atomically(|tx| {
            tx.alter(&self.0.pieces, |registry| registry.without(&id))?;
            tx.alter(&self.0.cold, |cold| cold.without(&id))?;
            Ok::<_, Error>(())
        });
    }

    /// Records a piece the store holds without loading it (start-up): calls naming it get
    /// [`Error::PieceNotLoaded`] until [`Api::install`] brings it in.
    pub fn add_cold(&self, id: PieceId, cold: ColdPiece) {
        let _ = self.0.stm.atomically(|tx| {
            tx.alter(&self.0.cold, |pieces| pieces.update(id, cold.clone()))?;
            Ok::<_, Error>(())
        });
    }

    /// The tenant of piece `id` if it is in the store but not in memory.
    pub fn cold_tenant(&self, id: PieceId) -> Option<TenantId> {
        self.0
            .stm
            .atomically(|tx| {
                Ok::<_, Error>(tx.read(&self.0.cold)?.get(&id).map(|c| c.tenant.clone()))
            })
            .unwrap_or(None)
    }

    /// The tenant a refused (or held back) piece belongs to.
    pub fn refused_tenant(&self, id: PieceId) -> Option<TenantId> {
        self.0
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .map(|(tenant, _)| tenant.clone())
    }

    /// Loaded pieces and when a call last used each (ms ago).
    pub fn loaded_pieces(&self) -> Vec<(PieceId, u64)> {
        let now = self.0.now_ms();
        let registry = self
            .0
            .stm
            .atomically(|tx| Ok::<_, Error>(tx.read(&self.0.pieces)?))
            .unwrap_or_default();
        registry
            .iter()
            .map(|(id, e)| {
                let used = e.last_used.load(std::sync::atomic::Ordering::Relaxed);
                (*id, now.saturating_sub(used))
            })
            .collect()
    }

    /// Takes a loaded piece out of memory, keeping what `list-pieces` needs: only if every
    /// commit of it is durable (`durable` is the last version the store has of it, `None` if
    /// none was written since it entered memory). Its next use loads it again. Returns
    /// whether it was evicted.
    pub fn evict(&self, id: PieceId, durable: Option<u64>) -> bool {
        let evicted = self.0.stm.atomically(|tx| {
            let Some(entry) = tx.read(&self.0.pieces)?.get(&id).cloned() else {
                return Ok::<_, Error>(false);
            };
            let piece = tx.read(&entry.piece)?;
            if Some(piece.version) != durable.or(entry.loaded_version) {
                return Ok(false);
            }
            let access = tx.read(&entry.access)?;
            // A write of its ref: a call still using the piece conflicts with the eviction.
            tx.write(&entry.piece, (*piece).clone());
            let cold = ColdPiece {
                tenant: entry.tenant.clone(),
                title: piece.title.clone(),
                version: piece.version,
                access: access.clone(),
            };
            tx.alter(&self.0.pieces, |registry| registry.without(&id))?;
            tx.alter(&self.0.cold, |pieces| pieces.update(id, cold.clone()))?;
            Ok(true)
        });
        let evicted = evicted.unwrap_or(false);
        if evicted {
            self.0.order.forget(id);
        }
        evicted
    }

    /// Serves piece `id` again as not found (the store no longer has it).
    pub fn clear_refusal(&self, id: PieceId) {
        self.0
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// A piece's current state and access, if it is loaded.
    pub fn piece_state(&self, id: PieceId) -> Option<(Piece, access::PieceAccess)> {
        self.0
            .stm
            .atomically(|tx| {
                let Some(entry) = tx.read(&self.0.pieces)?.get(&id).cloned() else {
                    return Ok::<_, Error>(None);
                };
                let piece = (*tx.read(&entry.piece)?).clone();
                let access = (*tx.read(&entry.access)?).clone();
                Ok(Some((piece, access)))
            })
            .unwrap_or(None)
    }

    /// Whether no changing call is between the write gate and its submission, and every
    /// submitted commit has been delivered to the sink. With the gate closed this stays true
    /// once it is.
    pub fn writes_quiescent(&self) -> bool {
        self.0
            .writes_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
            && self.0.order.is_idle()
    }

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
        let write_refusal = stm.create_ref(None);
        let cold = stm.create_ref(imbl::HashMap::new());
        let api = Api(Arc::new(Core {
            stm,
            pieces,
            cold,
            epoch: Instant::now(),
            methods: MethodRegistry::default(),
            sink,
            order: order::CommitOrder::default(),
            limits,
            tenants,
            write_refusal,
            writes_in_flight: std::sync::atomic::AtomicUsize::new(0),
            next_txn: std::sync::atomic::AtomicU64::new(1),
            refused: std::sync::Mutex::new(std::collections::HashMap::new()),
            audit: std::sync::OnceLock::new(),
            traced: std::sync::atomic::AtomicBool::new(false),
        }));
        methods::register_core(&api.0.methods);
        api
    }

    /// The method registry (register plugin methods here).
    pub fn methods(&self) -> &MethodRegistry {
        &self.0.methods
    }

    /// Traces calls (the server turns it on when spans are exported): each call records what
    /// it is on the caller's span, runs its transaction in a `stm.transaction` span, and hands
    /// the span on with its commits, so that their store write and fan-out are traced as its
    /// children. Off, a call touches no span: the spans would go nowhere.
    pub fn trace_calls(&self, on: bool) {
        self.0
            .traced
            .store(on, std::sync::atomic::Ordering::Relaxed);
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
        if let Some(e) = self.0.refused_piece(&caller.principal.tenant, piece.id) {
            return Err(e);
        }
        let mut committed = None;
        let mut in_flight = None;
        let id = self.0.stm.atomically(|tx| {
            Call::check_writable(tx, &self.0)?;
            in_flight.get_or_insert_with(|| WriteInFlight::enter(&self.0.writes_in_flight));
            if tx.read(&self.0.pieces)?.contains_key(&piece.id)
                || tx.read(&self.0.cold)?.contains_key(&piece.id)
            {
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
        // Imports are tools' and tests' calls: made durable behind the caller's back.
        drop(self.submit(committed));
        drop(in_flight);
        Ok(id)
    }

    /// Hands what a committed transaction did to the sink, in order (never waits); returns
    /// what resolves once the sink has made all of it durable.
    fn submit(&self, committed: Option<order::Committed>) -> Durable {
        let Some(mut committed) = committed else {
            return Durable::done();
        };
        let parts = committed.created.len() + committed.commits.len() + committed.deletions.len();
        let (durable, acks) = Durable::with_parts(parts);
        let txn = (
            self.0
                .next_txn
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            parts,
        );
        let commits = committed
            .created
            .iter_mut()
            .chain(committed.commits.iter_mut())
            .chain(committed.deletions.iter_mut());
        let span = if self.0.traced.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::Span::current()
        } else {
            tracing::Span::none()
        };
        for (commit, ack) in commits.zip(acks) {
            commit.ack = AckSlot(Some(ack));
            commit.txn = txn;
            commit.span = span.clone();
        }
        for (id, version) in std::mem::take(&mut committed.starts) {
            self.0.order.forget(id);
            self.0.order.start(id, version);
            self.clear_refusal(id);
        }
        self.0.order.submit(committed, &*self.0.sink);
        durable
    }

    /// Refuses (`Some(reason)`) or takes again (`None`) every call that would commit a change:
    /// the store cannot persist now. Calls that only read go on. A call racing the change
    /// conflicts with it and retries, so none commits after the gate closed.
    pub fn set_write_refusal(&self, reason: Option<String>) {
        let _ = self.0.stm.atomically(|tx| {
            tx.write(&self.0.write_refusal, reason.clone());
            Ok::<_, Error>(())
        });
    }

    /// Why writes are refused now, if they are.
    pub fn write_refusal(&self) -> Option<String> {
        self.0
            .stm
            .atomically(|tx| Ok::<_, Error>((*tx.read(&self.0.write_refusal)?).clone()))
            .unwrap_or(None)
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
        self.execute_durably(caller, method, params, deadline)
            .map(|(value, _)| value)
    }

    /// Like [`Api::execute_until`], also returning what resolves once the call's commits are
    /// durable: a transport acknowledges a write only after awaiting it (with `durability =
    /// sync`, the durability stage settles it after its store transaction committed).
    pub fn execute_durably(
        &self,
        caller: &Caller,
        method: &str,
        params: &Value,
        deadline: Option<Instant>,
    ) -> Result<(Value, Durable), Error> {
        let outcome = self.run(caller, method, params, deadline);
        audit::after_call(
            &*self.audit(),
            &self.0.methods,
            caller,
            method,
            params,
            outcome.as_ref().map(|(value, _)| value),
        );
        outcome
    }

    fn run(
        &self,
        caller: &Caller,
        method: &str,
        params: &Value,
        deadline: Option<Instant>,
    ) -> Result<(Value, Durable), Error> {
        // The call's span (the transport's, if any): what the call is, for its trace.
        let traced = self.0.traced.load(std::sync::atomic::Ordering::Relaxed);
        let call_span = if traced {
            tracing::Span::current()
        } else {
            tracing::Span::none()
        };
        call_span.record("ooloi.method", method);
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
        let named_piece = traced
            .then(|| {
                m.params
                    .iter()
                    .zip(args)
                    .find(|(param, _)| param.kind == ParamKind::PieceId)
                    .and_then(|(_, value)| value.as_str())
            })
            .flatten();
        if let Some(piece) = named_piece {
            call_span.record("ooloi.piece_id", piece);
        }
        // Only the last attempt's outcome counts: an attempt that retries sets it again.
        let mut committed = None;
        let mut in_flight = None;
        let mut attempts = 0_u32;
        // For traces only (target `ooloi_server::traces`).
        let transaction = if traced {
            tracing::info_span!(target: "ooloi_server::traces", "stm.transaction", retries = Empty)
        } else {
            tracing::Span::none()
        };
        let _in_transaction = transaction.enter();
        let result = self.0.stm.atomically(|tx| {
            attempts += 1;
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
            if call.changes_anything() {
                Call::check_writable(call.tx, &self.0)?;
                in_flight.get_or_insert_with(|| WriteInFlight::enter(&self.0.writes_in_flight));
            }
            committed = Some(call.finish());
            Ok::<_, Error>(result)
        });
        let retries = attempts.saturating_sub(1);
        transaction.record("retries", retries);
        call_span.record("ooloi.retries", retries);
        drop(_in_transaction);
        let result = result?;
        if traced
            && named_piece.is_none()
            && let Some(created) = committed.as_ref().and_then(|c| c.created.first())
        {
            // A creation names no piece: its span gets the one it made.
            call_span.record("ooloi.piece_id", tracing::field::display(created.piece_id));
        }
        let durable = self.submit(committed);
        drop(in_flight);
        Ok((result, durable))
    }

    /// How many pieces each tenant has now (one read of the piece registry).
    pub fn pieces_per_tenant(&self) -> std::collections::HashMap<TenantId, u64> {
        let registry = self
            .0
            .stm
            .atomically(|tx| Ok::<_, Error>(tx.read(&self.0.pieces)?))
            .unwrap_or_default();
        let cold = self
            .0
            .stm
            .atomically(|tx| Ok::<_, Error>(tx.read(&self.0.cold)?))
            .unwrap_or_default();
        let mut counts = std::collections::HashMap::new();
        for tenant in registry
            .values()
            .map(|e| &e.tenant)
            .chain(cold.values().map(|c| &c.tenant))
        {
            *counts.entry(tenant.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The limits calls run under.
    pub fn limits(&self) -> ApiLimits {
        self.0.limits
    }
}

/// A tenant record as a value (`get-tenant`'s answer; also how the store keeps it).
pub fn tenant_to_value(record: &crate::tenants::TenantRecord) -> Value {
    methods::tenants::describe(record)
}

/// Reads [`tenant_to_value`]'s form back.
pub fn tenant_from_value(value: &Value) -> Result<crate::tenants::TenantRecord, Error> {
    let map = value.as_map().ok_or_else(|| Error::ValidationFailed {
        message: "a tenant record is a map".into(),
    })?;
    methods::tenants::record_of(map)
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
