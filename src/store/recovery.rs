//! Bringing pieces back from the store. At start-up every stored piece is registered from its
//! metadata, unloaded; the first call that uses one loads it: the newest snapshot whose
//! checksum holds, then the records after it. A damaged snapshot is reported and the next older one is tried (the log
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
    /// Pieces registered (loaded on first access).
    pub pieces: usize,
    /// Pieces refused (damaged metadata), with why.
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

/// Registers every piece the store holds with `api` without loading it (start-up): its
/// metadata and access are enough for `list-pieces` and for the first access check, and the
/// first call that uses it loads it ([`load`]).
pub async fn recover_all(store: &dyn Store, api: &Api) -> Result<Recovered, StoreError> {
    let mut recovered = Recovered::default();
    for meta in store.catalogue().await? {
        let access =
            crate::value::wire::decode(&meta.access, &crate::value::ValueLimits::default())
                .map_err(|e| e.to_string())
                .and_then(|v| super::record::access_from_value(&v));
        match access {
            Ok(access) => {
                api.add_cold(
                    meta.piece_id,
                    crate::api::ColdPiece {
                        tenant: meta.tenant.clone(),
                        title: meta.title.as_str().into(),
                        version: meta.version,
                        access: std::sync::Arc::new(access),
                    },
                );
                recovered.pieces += 1;
            }
            Err(e) => {
                let e = Error::DataLoss {
                    piece_id: meta.piece_id.to_string(),
                    message: format!("its stored access: {e}"),
                };
                tracing::error!(target: "ooloi_server::store", piece = %meta.piece_id, tenant = %meta.tenant, error = %e, "piece refused: its stored metadata is damaged");
                api.refuse_piece(meta.tenant.clone(), meta.piece_id, e.clone());
                recovered.failed.push((meta.piece_id, e.to_string()));
            }
        }
    }
    Ok(recovered)
}

/// Loads `piece`, which `api` knows as stored but not in memory, and installs it. A piece whose
/// data cannot be rebuilt is refused (DATA_LOSS from now on) and never written back.
pub async fn load(store: &dyn Store, api: &Api, piece: PieceId) -> Result<usize, Error> {
    let Some(tenant) = api.cold_tenant(piece) else {
        return Ok(0); // loaded meanwhile, or gone
    };
    match load_state(store, piece).await {
        Ok((state, replayed)) => {
            api.install_cold(state.piece, state.access);
            Ok(replayed)
        }
        Err(Error::StoreUnavailable { message }) => Err(Error::StoreUnavailable { message }),
        // Deleted since it was listed: it is gone, not damaged.
        Err(Error::PieceNotFound { .. }) => {
            api.uninstall(piece);
            Ok(0)
        }
        Err(e) => {
            tracing::error!(target: "ooloi_server::store", piece = %piece, tenant = %tenant, error = %e, "piece not loaded: its stored data is damaged");
            api.refuse_piece(tenant, piece, e.clone());
            Err(e)
        }
    }
}

/// Reloads `piece` after a store failure: its durable state replaces what is in memory (the
/// commits that failed are dropped); a piece the store no longer has is removed.
pub async fn reload(store: &dyn Store, api: &Api, piece: PieceId) -> Result<(), Error> {
    match load_state(store, piece).await {
        Ok((state, _)) => {
            match api.refused_tenant(piece) {
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
        Err(Error::StoreUnavailable { message }) => Err(Error::StoreUnavailable { message }),
        Err(e) => {
            // Damaged: refused for good (DATA_LOSS), so recovery of the rest goes on.
            if let Some(tenant) = api.refused_tenant(piece) {
                api.refuse_piece(tenant, piece, e.clone());
            }
            Err(e)
        }
    }
}
