//! The in-memory [`Store`] (`store.url = "memory:"`): the same contract as the SQL stores,
//! kept in the process, for an embedded server that persists nothing and for tests that do not
//! test persistence. It passes the same conformance suite.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{
    EntryKind, LogEntry, PieceMeta, SNAPSHOTS_KEPT, Store, StoreError, Stored, StoredPiece,
};
use crate::identity::TenantId;
use crate::model::PieceId;

#[derive(Debug, Default)]
struct Piece {
    meta: Option<PieceMeta>,
    records: BTreeMap<u64, Stored>,
    snapshots: BTreeMap<u64, Stored>,
}

#[derive(Debug, Default)]
struct Inner {
    pieces: HashMap<PieceId, Piece>,
    tenants: BTreeMap<String, Vec<u8>>,
}

/// A store that lives as long as the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn append(&self, entries: &[LogEntry]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        // All or nothing, as a database transaction: a record already stored (or twice in the
        // group) or a piece created twice refuses the whole group before anything changes.
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            let stored = inner.pieces.get(&e.piece_id);
            let duplicate = !seen.insert((e.piece_id, e.version))
                || stored.is_some_and(|p| p.records.contains_key(&e.version))
                || (matches!(e.kind, EntryKind::Created { .. })
                    && stored.is_some_and(|p| p.meta.is_some()));
            if duplicate && e.kind != EntryKind::Deleted {
                return Err(StoreError::Unavailable(format!(
                    "the database refused: record {} of piece {} is already stored",
                    e.version, e.piece_id
                )));
            }
        }
        for e in entries {
            if e.kind == EntryKind::Deleted {
                inner.pieces.remove(&e.piece_id);
                continue;
            }
            let piece = inner.pieces.entry(e.piece_id).or_default();
            piece.records.insert(
                e.version,
                Stored {
                    version: e.version,
                    body: e.body.clone(),
                    checksum: e.checksum.to_vec(),
                },
            );
            match (&e.kind, &mut piece.meta) {
                (EntryKind::Created { title, owner }, meta) => {
                    *meta = Some(PieceMeta {
                        piece_id: e.piece_id,
                        tenant: e.tenant.clone(),
                        title: title.clone(),
                        owner: owner.clone(),
                        created_us: e.at_us,
                        updated_us: e.at_us,
                        version: e.version,
                        access: e.access.clone().unwrap_or_default(),
                    });
                }
                (EntryKind::Changed { title }, Some(meta)) => {
                    if let Some(title) = title {
                        meta.title = title.clone();
                    }
                    meta.updated_us = e.at_us;
                    meta.version = e.version;
                    if let Some(access) = &e.access {
                        meta.access = access.clone();
                    }
                }
                (EntryKind::Changed { .. }, None) | (EntryKind::Deleted, _) => {}
            }
        }
        Ok(())
    }

    async fn catalogue(&self) -> Result<Vec<PieceMeta>, StoreError> {
        let mut all: Vec<PieceMeta> = self
            .lock()
            .pieces
            .values()
            .filter_map(|p| p.meta.clone())
            .collect();
        all.sort_by(|a, b| (a.tenant.as_str(), a.piece_id).cmp(&(b.tenant.as_str(), b.piece_id)));
        Ok(all)
    }

    async fn load(&self, piece: PieceId) -> Result<StoredPiece, StoreError> {
        Ok(self
            .lock()
            .pieces
            .get(&piece)
            .map(|p| StoredPiece {
                snapshots: p.snapshots.values().rev().cloned().collect(),
                records: p.records.values().cloned().collect(),
            })
            .unwrap_or_default())
    }

    async fn put_snapshot(&self, piece: PieceId, snapshot: Stored) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let Some(p) = inner.pieces.get_mut(&piece).filter(|p| p.meta.is_some()) else {
            return Ok(());
        };
        p.snapshots.entry(snapshot.version).or_insert(snapshot);
        if p.snapshots.len() >= SNAPSHOTS_KEPT {
            let oldest_kept = *p
                .snapshots
                .keys()
                .rev()
                .nth(SNAPSHOTS_KEPT - 1)
                .unwrap_or(&0);
            p.snapshots.retain(|v, _| *v >= oldest_kept);
            p.records.retain(|v, _| *v > oldest_kept);
        }
        Ok(())
    }

    async fn put_tenant(&self, tenant: &TenantId, body: &[u8]) -> Result<(), StoreError> {
        self.lock()
            .tenants
            .insert(tenant.as_str().to_owned(), body.to_vec());
        Ok(())
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.lock().tenants.remove(tenant.as_str());
        Ok(())
    }

    async fn tenants(&self) -> Result<Vec<(TenantId, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()
            .tenants
            .iter()
            .map(|(t, b)| (TenantId::from(t.as_str()), b.clone()))
            .collect())
    }

    async fn close(&self) {}
}
