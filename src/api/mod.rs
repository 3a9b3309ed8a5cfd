//! The method API every transport calls: `Api::execute(caller, method, params)`.
//!
//! A call resolves the method by name in the [`MethodRegistry`], checks its arguments against
//! the method's parameter list, and runs its handler inside one STM transaction with a [`Call`]
//! context. Pieces live in a transactional registry (one ref holding a persistent map of piece
//! refs, one ref per piece), so creating a piece and editing it can be one atomic batch.
//! Writes edit a working copy of the piece as path-level changes; a call that changes nothing
//! makes no new version and no event. On commit, each changed piece's changes and their events
//! go to the [`EventSink`]. Nothing here knows about gRPC.

pub mod call;
mod methods;
mod order;
pub mod registry;

use std::sync::Arc;

pub use call::Call;
pub use registry::{Args, Category, Handler, Method, MethodRegistry, Param, ParamKind};

use crate::error::Error;
use crate::identity::{Caller, TenantId};
use crate::model::classify::PieceEvent;
use crate::model::{Change, Piece, PieceId};
use crate::stm::{Ref, Stm, StmConfig};
use crate::value::Value;

/// A piece in the registry.
#[derive(Clone, Debug)]
pub struct PieceEntry {
    /// The piece's ref.
    pub piece: Ref<Piece>,
    /// The tenant that owns it.
    pub tenant: TenantId,
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

/// What every call shares.
pub(crate) struct Core {
    pub(crate) stm: Stm,
    pub(crate) pieces: Ref<imbl::HashMap<PieceId, PieceEntry>>,
    pub(crate) methods: MethodRegistry,
    pub(crate) sink: Arc<dyn EventSink>,
    /// Puts each piece's commits in version order for the sink.
    pub(crate) order: order::CommitOrder,
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
    /// An API with the core methods, sending commits to `sink`.
    pub fn new(config: StmConfig, sink: Arc<dyn EventSink>) -> Self {
        let stm = Stm::new(config);
        let pieces = stm.create_ref(imbl::HashMap::new());
        let api = Api(Arc::new(Core {
            stm,
            pieces,
            methods: MethodRegistry::default(),
            sink,
            order: order::CommitOrder::default(),
        }));
        methods::register_core(&api.0.methods);
        api
    }

    /// The method registry (register plugin methods here).
    pub fn methods(&self) -> &MethodRegistry {
        &self.0.methods
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
        let m = self
            .0
            .methods
            .get(method)
            .ok_or_else(|| Error::MethodNotFound {
                method: method.to_owned(),
            })?;
        let args = params_of(method, params)?;
        m.check_args(args)?;
        // Only the last attempt's outcome counts: an attempt that retries sets it again.
        let mut committed = None;
        let result = self.0.stm.atomically(|tx| {
            let mut call = Call::new(tx, &self.0, caller);
            let result = (m.handler)(&mut call, &Args::new(&m.name, args))?;
            committed = Some(call.finish());
            Ok::<_, Error>(result)
        })?;
        self.submit(committed);
        Ok(result)
    }
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
            method: method.to_owned(),
        })?;
    let args = params_of(method, params)?;
    m.check_args(args)?;
    (m.handler)(call, &Args::new(&m.name, args))
}
