//! Persistence (DESIGN section 10): the [`Store`] trait, its SQLite, PostgreSQL and in-memory
//! implementations, the commit records and snapshots it keeps, the durability stage commits
//! pass through, and recovery at start-up.
//!
//! A store keeps bytes, not pieces: the redo log (one record per commit of a piece, in version
//! order), snapshots of whole pieces, piece metadata (what `list-pieces` answers from) and the
//! tenant registry. What the bytes mean is `record`; when they are written is `pipeline`;
//! how a piece comes back is `recovery`. Every implementation passes one conformance suite
//! (`tests/store_conformance.rs`).

pub mod memory;
pub mod pipeline;
pub mod record;
pub mod recovery;
pub mod snapshot;
pub mod sql;

use std::sync::Arc;

use crate::identity::TenantId;
use crate::model::PieceId;

/// Why the store failed. Messages name what failed, never credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation.
    #[error("{0}")]
    Unavailable(String),
    /// The store's URL or options are invalid.
    #[error("{0}")]
    Config(String),
    /// The schema is not the one this build expects.
    #[error("migrations: {0}")]
    Migration(String),
}

impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        crate::error::Error::StoreUnavailable {
            message: e.to_string(),
        }
    }
}

/// What one log entry does to the piece's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The piece was created (its metadata row is inserted).
    Created {
        /// Its title.
        title: String,
        /// Who created it.
        owner: String,
    },
    /// The piece changed; `title` is its new title if this commit changed it.
    Changed {
        /// The new title, if it changed.
        title: Option<String>,
    },
    /// The piece was deleted: its metadata, log and snapshots go.
    Deleted,
}

/// One record for the redo log, with the metadata it updates.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// The piece.
    pub piece_id: PieceId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The version after the commit.
    pub version: u64,
    /// What it does to the metadata.
    pub kind: EntryKind,
    /// The encoded access, when it changed (always for a creation).
    pub access: Option<Vec<u8>>,
    /// The encoded record.
    pub body: Vec<u8>,
    /// SHA-256 of `body`.
    pub checksum: [u8; 32],
    /// When it was committed (µs since the epoch).
    pub at_us: i64,
}

/// A piece's metadata: what `list-pieces` answers without loading the piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PieceMeta {
    /// The piece.
    pub piece_id: PieceId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its title.
    pub title: String,
    /// Who created it.
    pub owner: String,
    /// When it was created and last changed (µs since the epoch).
    pub created_us: i64,
    /// When it last changed.
    pub updated_us: i64,
    /// Its latest durable version.
    pub version: u64,
    /// Who may use it as of that version (the encoded access): `list-pieces` and the first
    /// access check need no load.
    pub access: Vec<u8>,
}

/// A stored body (a record or a snapshot) at a version, with its checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The version.
    pub version: u64,
    /// The bytes.
    pub body: Vec<u8>,
    /// SHA-256 of the bytes as written.
    pub checksum: Vec<u8>,
}

/// What the store holds of one piece.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredPiece {
    /// Snapshots, newest first.
    pub snapshots: Vec<Stored>,
    /// Records not trimmed yet, oldest first.
    pub records: Vec<Stored>,
}

/// How many snapshots of a piece are kept. The log is trimmed only behind the older one, so a
/// damaged newest snapshot can be rebuilt from the older one and the log.
pub const SNAPSHOTS_KEPT: usize = 2;

/// Where pieces, their history and the tenant registry are kept.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend (`sqlite`, `postgres`, `memory`), for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Applies the migrations this build has and the database has not (on PostgreSQL under an
    /// advisory lock, as replicas may start together).
    async fn migrate(&self) -> Result<(), StoreError>;

    /// The migrations this build has that the database has not applied (none: up to date).
    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Appends `entries` in order, in one transaction: all of them are durable or none.
    async fn append(&self, entries: &[LogEntry]) -> Result<(), StoreError>;

    /// Every piece's metadata.
    async fn catalogue(&self) -> Result<Vec<PieceMeta>, StoreError>;

    /// What is stored of `piece` (empty if nothing).
    async fn load(&self, piece: PieceId) -> Result<StoredPiece, StoreError>;

    /// Stores a snapshot of `piece`, keeps the [`SNAPSHOTS_KEPT`] newest, and trims the log
    /// up to the oldest kept one. A snapshot of a piece that is gone is dropped.
    async fn put_snapshot(&self, piece: PieceId, snapshot: Stored) -> Result<(), StoreError>;

    /// Stores (or replaces) a tenant record.
    async fn put_tenant(&self, tenant: &TenantId, body: &[u8]) -> Result<(), StoreError>;

    /// Removes a tenant record.
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError>;

    /// Every tenant record.
    async fn tenants(&self) -> Result<Vec<(TenantId, Vec<u8>)>, StoreError>;

    /// Closes connections (after the last flush).
    async fn close(&self);
}

/// Opens the store `url` names: `sqlite:<path>` (the file's directory is created),
/// `postgres://...` or `postgresql://...`, or `memory:` (nothing survives the process).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url == "memory:" || url == "memory://" {
        return Ok(Arc::new(memory::MemoryStore::default()));
    }
    Ok(Arc::new(sql::SqlStore::connect(url).await?))
}

/// Whether `url` names a store this build can open (checked with the configuration).
pub fn is_supported_url(url: &str) -> bool {
    url == "memory:"
        || url == "memory://"
        || url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
}
