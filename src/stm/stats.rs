//! Counters of what the STM did: commits, retries by cause, aborts by reason, history growth.
//! Relaxed atomics, each on its own cache line so that counting does not make committing
//! threads contend more than the commit itself does.

use super::RetryCause;
use super::sync::{AtomicU64, Ordering};

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Padded {
    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    commits: Padded,
    read_only_commits: Padded,
    retries_conflict: Padded,
    retries_read_miss: Padded,
    retries_lock_contention: Padded,
    aborts_user: Padded,
    aborts_validation: Padded,
    aborts_retries_exhausted: Padded,
    history_growth: Padded,
}

/// A snapshot of the STM's counters since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StmStats {
    /// Update transactions committed (with at least one write).
    pub commits: u64,
    /// Transactions committed without writes (`read_only`, or `atomically` without writes).
    pub read_only_commits: u64,
    /// Attempts retried because a value they read was changed by another commit.
    pub retries_conflict: u64,
    /// Attempts retried because a ref's history no longer held the version they needed.
    pub retries_read_miss: u64,
    /// Attempts retried because another transaction kept a ref locked for commit.
    pub retries_lock_contention: u64,
    /// Transactions whose body returned an error (nothing written).
    pub aborts_user: u64,
    /// Transactions refused by a validator (nothing written).
    pub aborts_validation: u64,
    /// Transactions that gave up after the retry limit.
    pub aborts_retries_exhausted: u64,
    /// Times a ref's history capacity grew after a read miss.
    pub history_growth: u64,
}

impl StmStats {
    /// All retries, whatever the cause.
    pub fn retries(&self) -> u64 {
        self.retries_conflict + self.retries_read_miss + self.retries_lock_contention
    }
}

impl Counters {
    pub(crate) fn commit(&self, read_only: bool) {
        if read_only {
            self.read_only_commits.add()
        } else {
            self.commits.add()
        }
    }
    pub(crate) fn retry(&self, cause: RetryCause) {
        match cause {
            RetryCause::Conflict => self.retries_conflict.add(),
            RetryCause::ReadMiss => self.retries_read_miss.add(),
            RetryCause::LockContention => self.retries_lock_contention.add(),
        }
    }
    pub(crate) fn abort_user(&self) {
        self.aborts_user.add()
    }
    pub(crate) fn abort_validation(&self) {
        self.aborts_validation.add()
    }
    pub(crate) fn abort_retries_exhausted(&self) {
        self.aborts_retries_exhausted.add()
    }
    pub(crate) fn history_growth(&self) {
        self.history_growth.add()
    }
    pub(crate) fn snapshot(&self) -> StmStats {
        StmStats {
            commits: self.commits.get(),
            read_only_commits: self.read_only_commits.get(),
            retries_conflict: self.retries_conflict.get(),
            retries_read_miss: self.retries_read_miss.get(),
            retries_lock_contention: self.retries_lock_contention.get(),
            aborts_user: self.aborts_user.get(),
            aborts_validation: self.aborts_validation.get(),
            aborts_retries_exhausted: self.aborts_retries_exhausted.get(),
            history_growth: self.history_growth.get(),
        }
    }
}
