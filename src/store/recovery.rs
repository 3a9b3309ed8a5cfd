//! Bringing pieces back from the store: the newest snapshot whose checksum holds, then the
//! records after it. A damaged snapshot is reported and the next older one is tried (the log
//! is kept behind it); a damaged or missing record makes the piece unloadable, reported with
//! DATA_LOSS, and such a piece is never installed, so nothing damaged is served or written
//! back over the stored data.

use super::record::{CorruptData, PieceState, Record};
use super::{Store, StoreError};
use crate::api::Api;
use crate::error::Error;
use crate::model::PieceId;

/// What start-up recovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Pieces loaded.
    pub pieces: usize,
    /// Records replayed on top of snapshots (or creations).
    pub records: usize,
    /// Pieces that could not be loaded (damaged data), with why.
    pub failed: Vec<(PieceId, String)>,
}

/// Loads `piece` from `store`: its state and how many records were replayed.
pub async fn load_state(store: &dyn Store, piece: PieceId) -> Result<(PieceState, usize), Error> {
    let stored = store.load(piece).await?;
    if stored.snapshots.is_empty() && stored.records.is_empty() {
        return Err(Error::PieceNotFound {
            piece_id: piece.to_string(),
        });
    }
    let loss = |message: String| Error::DataLoss {
        piece_id: piece.to_string(),
        message,
    };
    let records = stored
        .records
        .iter()
        .map(|r| Record::decode(&r.body, &r.checksum))
        .collect::<Result<Vec<_>, CorruptData>>()
        .map_err(|e| loss(format!("the redo log: {e}")))?;
    // Newest snapshot first; a damaged one falls back to the next (or to the log alone).
    let mut problems = Vec::new();
    let mut candidates: Vec<Option<&super::Stored>> = stored.snapshots.iter().map(Some).collect();
    candidates.push(None);
    for candidate in candidates {
        let snapshot = match candidate {
            Some(s) => match PieceState::decode(&s.body, &s.checksum) {
                Ok(state) => Some(state),
                Err(e) => {
                    tracing::error!(target: "ooloi_server::store", piece = %piece, version = s.version, error = %e, "damaged snapshot: trying an older one");
                    problems.push(format!("snapshot at version {}: {e}", s.version));
                    continue;
                }
            },
            None => None,
        };
        let base = snapshot.as_ref().map_or(0, |s| s.piece.version);
        let replayed = records.iter().filter(|r| r.version > base).count();
        match PieceState::rebuild(snapshot, records.iter().cloned()) {
            Ok(state) => return Ok((state, replayed)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    Err(loss(problems.join("; ")))
}

/// Loads every piece the store holds into `api` (start-up). Pieces whose data is damaged are
/// reported and left out; the rest load.
pub async fn recover_all(store: &dyn Store, api: &Api) -> Result<Recovered, StoreError> {
    let mut recovered = Recovered::default();
    for meta in store.catalogue().await? {
        match load_state(store, meta.piece_id).await {
            Ok((state, replayed)) => {
                api.install(meta.tenant.clone(), state.piece, state.access);
                recovered.pieces += 1;
                recovered.records += replayed;
            }
            Err(Error::StoreUnavailable { message }) => {
                return Err(StoreError::Unavailable(message));
            }
            Err(e) => {
                tracing::error!(target: "ooloi_server::store", piece = %meta.piece_id, tenant = %meta.tenant, error = %e, "piece not loaded: its stored data is damaged");
                api.refuse_piece(meta.tenant.clone(), meta.piece_id, e.clone());
                recovered.failed.push((meta.piece_id, e.to_string()));
            }
        }
    }
    Ok(recovered)
}

/// Reloads `piece` after a store failure: its durable state replaces what is in memory (the
/// commits that failed are dropped); a piece the store no longer has is removed.
pub async fn reload(store: &dyn Store, api: &Api, piece: PieceId) -> Result<(), Error> {
    match load_state(store, piece).await {
        Ok((state, _)) => {
            let tenant = store
                .catalogue()
                .await?
                .into_iter()
                .find(|m| m.piece_id == piece)
                .map(|m| m.tenant);
            match tenant {
                Some(tenant) => api.install(tenant, state.piece, state.access),
                None => {
                    api.uninstall(piece);
                    api.clear_refusal(piece);
                }
            }
            Ok(())
        }
        Err(Error::PieceNotFound { .. }) => {
            api.uninstall(piece);
            api.clear_refusal(piece);
            Ok(())
        }
        Err(e) => Err(e),
    }
}
