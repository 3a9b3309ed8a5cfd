//! The context of one call (or one atomic batch) inside its transaction: the caller, the piece
//! registry, and a working copy of every piece being edited with the changes made to it so far.
//! Later operations of a batch read the working copies, so they see earlier ones. When the body
//! finishes, each piece that really changed gets a new version and is written back; after the
//! commit, its changes (the redo record) and their events go to the event sink, in version
//! order per piece ([`super::order`]).

use std::sync::Arc;
use std::time::Instant;

use super::access::{MAX_GRANTS_PER_PIECE, PieceAccess, PieceRole};
use super::order::Committed;
use super::{Core, PieceCommit, PieceEntry};
use super::{Method, ParamKind};
use crate::error::Error;
use crate::identity::{Caller, Principal, UserId};
use crate::model::classify::{self, PieceEvent};
use crate::model::{Change, Piece, PieceId};
use crate::stm::{Ref, Tx};
use crate::value::Value;

struct Work {
    id: PieceId,
    tenant: crate::identity::TenantId,
    r: Ref<Piece>,
    piece: Piece,
    changes: Vec<Change>,
    /// Users who lost read access in this call: the piece gets a new version so that the
    /// revocation takes its place in the piece's commit order.
    revoked: Vec<UserId>,
    /// Access changed (even if nobody lost it): a new version too.
    access_changed: bool,
    /// The access in force (as read, or as this call changed it).
    access: Arc<PieceAccess>,
}

/// One call's view of the world, inside its transaction.
pub struct Call<'t, 's> {
    pub(crate) tx: &'t mut Tx<'s>,
    pub(crate) core: &'t Core,
    /// Who is calling (and from which client, if any).
    pub caller: &'t Caller,
    /// When the call must stop (nothing committed), if it has a deadline.
    pub(crate) deadline: Option<Instant>,
    /// Encoded bytes of the results charged so far (see [`Call::charge_result`]).
    result_bytes: usize,
    work: Vec<Work>,
    deleted: Vec<(PieceId, u64, crate::identity::TenantId)>,
    /// Pieces deleted without being in memory (stored, or refused), with their version: their
    /// commit order starts there so that their deletions can be delivered.
    unloaded_deleted: Vec<(PieceId, u64)>,
    /// Pieces created by this call, as created.
    created: Vec<(PieceId, Arc<Piece>, Arc<PieceAccess>)>,
}

impl std::fmt::Debug for Call<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("caller", &self.caller)
            .field("editing", &self.work.len())
            .finish()
    }
}

impl<'t, 's> Call<'t, 's> {
    pub(crate) fn new(tx: &'t mut Tx<'s>, core: &'t Core, caller: &'t Caller) -> Self {
        Call {
            tx,
            core,
            caller,
            deadline: None,
            result_bytes: 0,
            work: Vec::new(),
            deleted: Vec::new(),
            unloaded_deleted: Vec::new(),
            created: Vec::new(),
        }
    }

    /// The registry entry of a piece the caller may see, with the caller's role on it.
    ///
    /// The registry is peeked, not read: a piece created or deleted by someone else must not
    /// make this call retry. That is safe because every use of the entry reads the piece's own
    /// ref, and deleting a piece also writes that ref, so a call racing a delete conflicts on
    /// the piece and, retried, no longer finds it. The access ref is read: a call that used a
    /// role conflicts with the change that takes it away.
    ///
    /// A piece of another tenant, and one the caller has no role on, is not found: the same
    /// error, byte for byte, as a piece that does not exist.
    pub(crate) fn entry(&mut self, id: PieceId) -> Result<(PieceEntry, PieceRole), Error> {
        let registry = self.tx.peek(&self.core.pieces)?;
        let not_found = || Error::PieceNotFound {
            piece_id: id.to_string(),
        };
        let entry = match registry.get(&id) {
            Some(entry) if entry.tenant == self.caller.principal.tenant => entry.clone(),
            Some(_) => return Err(not_found()),
            None => {
                let tenant = &self.caller.principal.tenant;
                if self
                    .tx
                    .peek(&self.core.cold)?
                    .get(&id)
                    .is_some_and(|c| c.tenant == *tenant)
                {
                    // In the store, not in memory: the transport loads it and calls again.
                    return Err(Error::PieceNotLoaded {
                        piece_id: id.to_string(),
                    });
                }
                return Err(self
                    .core
                    .refused_piece(tenant, id)
                    .unwrap_or_else(not_found));
            }
        };
        entry
            .last_used
            .store(self.core.now_ms(), std::sync::atomic::Ordering::Relaxed);
        let role = self
            .tx
            .read(&entry.access)?
            .role_of(self.caller)
            .ok_or_else(not_found)?;
        Ok((entry, role))
    }

    /// The caller's role on a piece it may see, or PERMISSION_DENIED when it is weaker than
    /// `needed` (and PIECE_NOT_FOUND when it has none).
    pub(crate) fn require(&mut self, id: PieceId, needed: PieceRole) -> Result<PieceEntry, Error> {
        let (entry, role) = self.entry(id)?;
        if role < needed {
            return Err(Error::PermissionDenied {
                message: format!(
                    "this needs the {} role on piece {id}; the caller is {}",
                    needed.name(),
                    role.name()
                ),
            });
        }
        Ok(entry)
    }

    /// Checks `role` on every piece `method`'s arguments name (before its handler runs). A
    /// piece the call creates is not named by its arguments; an argument that is not a piece
    /// id is the handler's to refuse.
    pub(crate) fn authorize_args(
        &mut self,
        method: &Method,
        args: &[Value],
        role: PieceRole,
    ) -> Result<(), Error> {
        for (param, value) in method.params.iter().zip(args) {
            if param.kind != ParamKind::PieceId {
                continue;
            }
            if let Some(id) = value.as_str().and_then(|s| s.parse::<PieceId>().ok())
                && !self.created.iter().any(|(c, ..)| *c == id)
            {
                self.require(id, role)?;
            }
        }
        Ok(())
    }

    /// Who may use a piece (the caller must be its owner).
    pub fn access(&mut self, id: PieceId) -> Result<PieceAccess, Error> {
        let entry = self.require(id, PieceRole::Owner)?;
        Ok((*self.tx.read(&entry.access)?).clone())
    }

    /// Changes who may use a piece (the caller must be its owner): `edit` gets the access and
    /// returns it changed. Users who could read the piece before and cannot after are
    /// unsubscribed from its events before any later commit of it is delivered.
    pub fn change_access(
        &mut self,
        id: PieceId,
        edit: impl FnOnce(&mut PieceAccess) -> Result<(), Error>,
    ) -> Result<PieceAccess, Error> {
        let entry = self.require(id, PieceRole::Owner)?;
        let before = (*self.tx.read(&entry.access)?).clone();
        let mut after = before.clone();
        edit(&mut after)?;
        if after.grants.len() > MAX_GRANTS_PER_PIECE {
            return Err(Error::LimitExceeded {
                limit: "grants per piece",
                max: MAX_GRANTS_PER_PIECE as u64,
                what: format!("{} grants", after.grants.len()),
            });
        }
        if after == before {
            return Ok(after);
        }
        let revoked: Vec<UserId> = before
            .grants
            .keys()
            .filter(|user| after.role_of_user(user).is_none())
            .cloned()
            .collect();
        self.tx.write(&entry.access, after.clone());
        let i = self.work_index(id)?;
        self.work[i].access_changed = true;
        self.work[i].revoked.extend(revoked);
        self.work[i].access = Arc::new(after.clone());
        Ok(after)
    }

    /// Fails with [`Error::DeadlineExceeded`] once the call's deadline has passed; `at` says
    /// where the call was (`after operation 3 of 10`). Long work calls this between steps, so
    /// a call past its deadline stops there and commits nothing.
    pub fn check_deadline(&self, at: &str) -> Result<(), Error> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(Error::DeadlineExceeded {
                message: format!("the call ran out of time {at}"),
            }),
            _ => Ok(()),
        }
    }

    /// Adds the encoded size of `result` to what this call will send, and fails with
    /// [`Error::ResponseTooLarge`] once that passes the limit. A batch charges each operation's
    /// result as it is made, so it stops before building the rest.
    pub fn charge_result(&mut self, result: &crate::value::Value) -> Result<(), Error> {
        self.result_bytes = self
            .result_bytes
            .saturating_add(crate::value::wire::encoded_len(result));
        let max = self.core.limits.max_result_bytes;
        if self.result_bytes > max {
            return Err(Error::ResponseTooLarge {
                max: max + super::RESPONSE_OVERHEAD,
            });
        }
        Ok(())
    }

    /// True once something has been charged with [`Call::charge_result`].
    pub fn charged(&self) -> bool {
        self.result_bytes > 0
    }

    /// The limits the call runs under.
    pub fn limits(&self) -> super::ApiLimits {
        self.core.limits
    }

    /// The principal the call acts as.
    pub fn principal(&self) -> &Principal {
        &self.caller.principal
    }

    /// The piece as this call sees it (with the call's own edits so far).
    pub fn piece(&mut self, id: PieceId) -> Result<Piece, Error> {
        if let Some(w) = self.work.iter().find(|w| w.id == id) {
            return Ok(w.piece.clone());
        }
        let (entry, _) = self.entry(id)?;
        Ok((*self.tx.read(&entry.piece)?).clone())
    }

    fn work_index(&mut self, id: PieceId) -> Result<usize, Error> {
        if let Some(i) = self.work.iter().position(|w| w.id == id) {
            return Ok(i);
        }
        let entry = if self.created.iter().any(|(c, ..)| *c == id) {
            // Created by this call: the caller is its owner.
            self.entry(id)?.0
        } else {
            self.require(id, PieceRole::Editor)?
        };
        let piece = (*self.tx.read(&entry.piece)?).clone();
        let access = Arc::new((*self.tx.read(&entry.access)?).clone());
        self.work.push(Work {
            id,
            tenant: entry.tenant,
            r: entry.piece,
            piece,
            changes: Vec::new(),
            revoked: Vec::new(),
            access_changed: false,
            access,
        });
        Ok(self.work.len() - 1)
    }

    /// Applies a change to the piece's working copy; records it if it changed anything.
    pub fn apply(&mut self, id: PieceId, change: Change) -> Result<bool, Error> {
        let i = self.work_index(id)?;
        let work = &mut self.work[i];
        let changed = change.apply(&mut work.piece)?;
        if changed {
            work.changes.push(change);
        }
        Ok(changed)
    }

    /// The version the piece will have when this call commits.
    pub fn version_after(&mut self, id: PieceId) -> Result<u64, Error> {
        if let Some(w) = self.work.iter().find(|w| w.id == id) {
            return Ok(w.piece.version + u64::from(!w.changes.is_empty() || w.access_changed));
        }
        Ok(self.piece(id)?.version)
    }

    /// The usual result of a write: `{:piece-id pid :version n}`.
    pub fn write_result(&mut self, id: PieceId) -> Result<crate::value::Value, Error> {
        use crate::value::Value;
        let version = self.version_after(id)?;
        Ok(Value::map([
            (Value::keyword("piece-id"), Value::string(id.to_string())),
            (Value::keyword("version"), Value::Int(version as i64)),
        ]))
    }

    /// Registers a new piece owned by the caller's tenant.
    pub(crate) fn create_piece(&mut self, piece: Piece) -> Result<PieceId, Error> {
        let tenant = &self.caller.principal.tenant;
        let quotas = self.core.tenants.active_quotas(tenant)?;
        // Counted from a peek: creations racing each other may pass the quota by as many as
        // run at once; a count in a shared ref would make every creation conflict.
        let registry = self.tx.peek(&self.core.pieces)?;
        let cold = self.tx.peek(&self.core.cold)?;
        let owned = registry.values().filter(|e| e.tenant == *tenant).count() as u64
            + cold.values().filter(|c| c.tenant == *tenant).count() as u64
            + self.created.len() as u64;
        if owned >= quotas.pieces {
            return Err(Error::QuotaExceeded {
                quota: "pieces",
                max: quotas.pieces,
                retry_after_ms: 1000,
            });
        }
        let initial = PieceAccess::new(
            self.caller.principal.user.clone(),
            self.core.tenants.default_access(tenant),
        );
        let id = piece.id;
        self.created
            .push((id, Arc::new(piece.clone()), Arc::new(initial.clone())));
        let entry =
            self.core
                .entry_for(self.caller.principal.tenant.clone(), piece, initial, false);
        self.tx.commute(&self.core.pieces, move |registry| {
            registry.update(id, entry.clone())
        });
        Ok(id)
    }

    /// Removes a piece from the registry.
    pub(crate) fn delete_piece(&mut self, id: PieceId) -> Result<(), Error> {
        // The last committed version: edits made earlier in this call die with the piece.
        let entry = self.require(id, PieceRole::Owner)?;
        let last = self.tx.read(&entry.piece)?;
        let version = last.version;
        // A tombstone write: any transaction still editing this piece conflicts here.
        self.tx.write(&entry.piece, (*last).clone());
        self.tx
            .alter(&self.core.pieces, |registry| registry.without(&id))?;
        self.work.retain(|w| w.id != id);
        self.deleted.push((id, version, entry.tenant.clone()));
        Ok(())
    }

    /// Deletes every piece of `tenant` (the platform operator deleting the tenant); returns
    /// how many. Their subscribers receive `piece-deleted`.
    pub(crate) fn delete_pieces_of(
        &mut self,
        tenant: &crate::identity::TenantId,
    ) -> Result<usize, Error> {
        let registry = self.tx.read(&self.core.pieces)?;
        let doomed: Vec<(PieceId, PieceEntry)> = registry
            .iter()
            .filter(|(_, e)| e.tenant == *tenant)
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        for (id, entry) in &doomed {
            let last = self.tx.read(&entry.piece)?;
            self.tx.write(&entry.piece, (*last).clone());
            self.deleted.push((*id, last.version, entry.tenant.clone()));
        }
        self.tx.alter(&self.core.pieces, |registry| {
            let mut kept = registry.clone();
            for (id, _) in &doomed {
                kept.remove(id);
            }
            kept
        })?;
        // Its pieces not in memory go too: stored ones (their metadata is enough to delete
        // them) and refused ones (damaged or held back), so that nothing of the tenant is left
        // for a later tenant of the same id.
        let cold = self.tx.read(&self.core.cold)?;
        let mut unloaded: Vec<(PieceId, u64)> = cold
            .iter()
            .filter(|(_, c)| c.tenant == *tenant)
            .map(|(id, c)| (*id, c.version))
            .collect();
        let refused: Vec<(PieceId, u64)> = self
            .core
            .refused_of(tenant)
            .into_iter()
            .filter(|id| !unloaded.iter().any(|(u, _)| u == id))
            .map(|id| (id, 0))
            .collect();
        unloaded.extend(refused);
        if !unloaded.is_empty() {
            self.tx.alter(&self.core.cold, |pieces| {
                let mut kept = pieces.clone();
                for (id, _) in &unloaded {
                    kept.remove(id);
                }
                kept
            })?;
        }
        for (id, version) in &unloaded {
            self.deleted.push((*id, *version, tenant.clone()));
        }
        let count = doomed.len() + unloaded.len();
        self.unloaded_deleted.extend(unloaded);
        Ok(count)
    }

    /// Whether committing this call would create, change or delete anything.
    pub(crate) fn changes_anything(&self) -> bool {
        !self.created.is_empty()
            || !self.deleted.is_empty()
            || !self.unloaded_deleted.is_empty()
            || self
                .work
                .iter()
                .any(|w| !w.changes.is_empty() || w.access_changed)
    }

    /// Fails the transaction while writes are refused (the store is down). Reading the gate
    /// puts it in the transaction's read set: closing it conflicts with every changing call
    /// in flight, so none commits after the store failed.
    pub(crate) fn check_writable(tx: &mut Tx<'_>, core: &Core) -> Result<(), Error> {
        match &*tx.read(&core.write_refusal)? {
            None => Ok(()),
            Some(reason) => Err(Error::StoreUnavailable {
                message: reason.clone(),
            }),
        }
    }

    /// Writes back every changed piece with a new version and returns what the transaction
    /// will have done once it commits: pieces created, piece commits with their events
    /// (classified here, so nothing that could fail is left for after the commit), deletions.
    /// The caller submits it to [`super::order::CommitOrder`] after the commit, and drops it if
    /// the transaction retries or fails.
    pub(crate) fn finish(self) -> Committed {
        let author = &self.caller.principal.user;
        let created = self
            .created
            .into_iter()
            .map(|(id, piece, access)| PieceCommit {
                piece_id: id,
                version: piece.version,
                tenant: self.caller.principal.tenant.clone(),
                author: author.clone(),
                created: Some(piece),
                deleted: false,
                access_changed: true,
                changes: Arc::from(Vec::new()),
                events: Vec::new(),
                revoked: Vec::new(),
                access: Some(access),
                ack: Default::default(),
                txn: (0, 1),
                span: tracing::Span::none(),
            })
            .collect();
        let mut commits = Vec::new();
        for mut work in self.work {
            if work.changes.is_empty() && !work.access_changed {
                continue;
            }
            work.piece.version += 1;
            let events: Vec<PieceEvent> = classify::classify(&work.piece, &work.changes);
            let commit = PieceCommit {
                piece_id: work.id,
                version: work.piece.version,
                tenant: work.tenant,
                author: author.clone(),
                created: None,
                deleted: false,
                access_changed: work.access_changed,
                changes: work.changes.into(),
                events,
                revoked: work.revoked,
                access: Some(work.access),
                ack: Default::default(),
                txn: (0, 1),
                span: tracing::Span::none(),
            };
            self.tx.write(&work.r, work.piece);
            commits.push(commit);
        }
        let deletions = self
            .deleted
            .into_iter()
            .map(|(id, version, tenant)| PieceCommit {
                piece_id: id,
                version,
                tenant,
                author: author.clone(),
                created: None,
                deleted: true,
                access_changed: false,
                changes: Arc::from(Vec::new()),
                events: vec![classify::deleted(id, version)],
                revoked: Vec::new(),
                access: None,
                ack: Default::default(),
                txn: (0, 1),
                span: tracing::Span::none(),
            })
            .collect();
        Committed {
            created,
            commits,
            deletions,
            starts: self.unloaded_deleted,
        }
    }

    /// The method registry (for `atomic` and `list-methods`).
    pub(crate) fn methods(&self) -> &super::MethodRegistry {
        &self.core.methods
    }
}
