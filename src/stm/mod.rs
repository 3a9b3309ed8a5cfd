//! A multi-version software transactional memory (MVCC STM) in the manner of Clojure's refs.
//!
//! [`Ref<T>`]s hold immutable versions (`Arc<T>`); a global commit clock stamps each commit.
//! [`Stm::atomically`] runs a closure as an update transaction and [`Stm::read_only`] runs one on
//! a snapshot. Nothing here knows about music, I/O or async runtimes.
//!
//! # Guarantees
//!
//! - **Serializable updates.** An update transaction reads a snapshot taken when its attempt
//!   starts; at commit it locks the refs it writes (in ascending id order, so two committers never
//!   deadlock), takes a commit stamp, and checks that nothing it read has changed since its
//!   snapshot. If something did, the attempt is retried. Every committed transaction therefore
//!   behaves as if it ran alone at its commit stamp.
//! - **Opacity.** Every attempt, including one that will be retried, only ever sees one consistent
//!   snapshot: a read waits while a committer is installing, then takes the newest version no
//!   newer than the snapshot. A doomed attempt never sees half of another transaction.
//! - **Read-only transactions** ([`Stm::read_only`], or an update transaction that writes
//!   nothing) read their snapshot and commit without validation: writers never make them retry
//!   while the history still holds the versions they need. When it does not (a *read miss*), the
//!   ref's history capacity grows by one (up to [`StmConfig::max_history`]) and the transaction
//!   retries with its snapshot *pinned*: until it finishes, writers keep the version visible at
//!   that snapshot, so a long reader commits on its second attempt however busy the writers are.
//! - **Commute.** [`Tx::commute`] records a function that is applied again at commit to the
//!   newest value, so concurrent commutes of one ref never conflict (unless the same transaction
//!   also reads that ref, which makes the read subject to validation).
//! - **Retry with backoff.** Conflicts retry automatically with jittered exponential backoff, up
//!   to [`StmConfig::max_retries`]; then the transaction fails with
//!   [`StmError::RetriesExhausted`].
//! - **Validators** ([`Ref::add_validator`]) run at commit on each new value; a refusal fails the
//!   transaction with [`StmError::Validation`] and nothing is written.
//! - **Effects.** Watches ([`Ref::add_watch`]) and [`Tx::on_commit`] effects run exactly once,
//!   after a successful commit, never for an aborted attempt, and in commit order per ref: the
//!   effects of a commit run only after those of every earlier commit on the same refs.
//! - **Panics.** A panic in a transaction body, a commute function or a validator leaves no
//!   writes, no held locks and no poisoned state; the panic continues to the caller.

#[cfg(test)]
mod checker;
mod reference;
mod snapshot;
mod stats;
pub(crate) mod sync;
mod tx;

use std::sync::Arc;

pub use reference::Ref;
pub use snapshot::Snapshot;
pub use stats::StmStats;
pub use tx::Tx;

use sync::{AtomicU64, Ordering};

/// Why an attempt was retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryCause {
    /// Something the attempt read was changed by another commit.
    Conflict,
    /// A ref's history no longer held the version visible at the attempt's snapshot.
    ReadMiss,
    /// Another transaction held a ref's commit lock for too long.
    LockContention,
}

impl std::fmt::Display for RetryCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RetryCause::Conflict => "conflict",
            RetryCause::ReadMiss => "read miss",
            RetryCause::LockContention => "lock contention",
        })
    }
}

/// A validator's refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// What is wrong with the value.
    pub message: String,
}

impl ValidationError {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ValidationError {
            message: message.into(),
        }
    }
}

/// Why a transaction did not commit. Transaction bodies propagate it with `?` (their error type
/// implements `From<StmError>`); [`Stm::atomically`] retries on [`StmError::Retry`] by itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StmError {
    /// The attempt must start over (it read something that changed). Only ever seen inside a
    /// transaction body, which should return it; the STM then retries.
    #[error("transaction attempt must be retried ({0})")]
    Retry(RetrySignal),
    /// A validator refused a new value; nothing was written.
    #[error("validation failed: {0}")]
    Validation(ValidationError),
    /// The transaction was retried `attempts` times without committing.
    #[error("transaction gave up after {attempts} attempts (last cause: {last_cause})")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Why the last attempt was retried.
        last_cause: RetryCause,
    },
}

/// The token inside [`StmError::Retry`]; only the STM creates one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySignal(RetryCause);

impl std::fmt::Display for RetrySignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Tuning of one STM.
#[derive(Clone, Debug)]
pub struct StmConfig {
    /// Attempts before a transaction gives up. Default 10,000 (Clojure's limit).
    pub max_retries: u32,
    /// Versions a new ref keeps. Default 2.
    pub initial_history: usize,
    /// The most versions a ref keeps for unpinned readers. Default 32.
    pub max_history: usize,
    /// Wait rounds for a ref's commit lock before the attempt retries. Default 64.
    pub lock_wait_rounds: u32,
    #[cfg(test)]
    /// Deliberate bugs, for proving that the tests catch them.
    pub faults: Faults,
}

impl Default for StmConfig {
    fn default() -> Self {
        StmConfig {
            max_retries: 10_000,
            initial_history: 2,
            max_history: 32,
            lock_wait_rounds: 64,
            #[cfg(test)]
            faults: Faults::default(),
        }
    }
}

/// Deliberately broken behaviours, switched on only by tests that check the checkers.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Commit without validating the read set (allows lost updates and write skew).
    pub skip_read_validation: bool,
    /// Run on-commit effects for attempts that abort or retry too.
    pub effects_on_abort: bool,
    /// Read through commit locks instead of waiting (breaks snapshot consistency).
    pub read_through_locks: bool,
}

/// State shared by an STM and all its refs.
pub(crate) struct Shared {
    pub(crate) config: StmConfig,
    /// The commit clock: the stamp of the newest commit.
    pub(crate) clock: AtomicU64,
    next_ref_id: AtomicU64,
    pub(crate) counters: stats::Counters,
    pub(crate) pins: snapshot::Pins,
}

/// A software transactional memory: a commit clock, its refs and its counters. Cheap to clone
/// (clones share everything).
#[derive(Clone)]
pub struct Stm(Arc<Shared>);

impl std::fmt::Debug for Stm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stm")
            .field("clock", &self.0.clock.load(Ordering::Relaxed))
            .field("config", &self.0.config)
            .finish()
    }
}

impl Default for Stm {
    fn default() -> Self {
        Stm::new(StmConfig::default())
    }
}

impl Stm {
    /// A new STM with its own clock.
    pub fn new(config: StmConfig) -> Self {
        Stm(Arc::new(Shared {
            config,
            clock: AtomicU64::new(0),
            next_ref_id: AtomicU64::new(1),
            counters: stats::Counters::default(),
            pins: snapshot::Pins::default(),
        }))
    }

    /// A new ref holding `value`, visible to every snapshot.
    pub fn create_ref<T: Send + Sync + 'static>(&self, value: T) -> Ref<T> {
        let id = self.0.next_ref_id.fetch_add(1, Ordering::Relaxed);
        Ref::new(self.0.clone(), id, value)
    }

    /// The counters so far.
    pub fn stats(&self) -> StmStats {
        self.0.counters.snapshot()
    }

    /// The stamp of the newest commit.
    pub fn clock(&self) -> u64 {
        self.0.clock.load(Ordering::SeqCst)
    }

    /// Runs `body` as an update transaction and commits it, retrying on conflict. `body` may run
    /// several times; only the attempt that commits has effects. An `Err` from `body` aborts
    /// (nothing written) and is returned as is.
    pub fn atomically<R, E, F>(&self, body: F) -> Result<R, E>
    where
        F: FnMut(&mut Tx<'_>) -> Result<R, E>,
        E: From<StmError>,
    {
        tx::run(&self.0, body)
    }

    /// Runs `body` on a consistent snapshot. It never conflicts with writers; it retries only
    /// if a ref's history misses the snapshot, and then with the snapshot pinned.
    pub fn read_only<R, E, F>(&self, body: F) -> Result<R, E>
    where
        F: FnMut(&mut Snapshot<'_>) -> Result<R, E>,
        E: From<StmError>,
    {
        snapshot::run(&self.0, body)
    }
}
