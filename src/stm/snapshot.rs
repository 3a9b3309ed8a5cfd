//! Read-only transactions and the registry of pinned snapshots.
//!
//! A read-only attempt reads at the snapshot stamp it took when it started. Its first attempt
//! pins nothing, so the common short read costs no shared writes at all. If a read misses
//! (the ref's history has moved past the snapshot), the ref's history capacity grows and the
//! transaction retries with a pinned snapshot: committers keep, for every pinned stamp, the
//! version visible at it (see `History::push`), so the pinned attempt cannot miss.
//!
//! Registration is ordered against committers so that no needed version can slip away: the
//! reader counts itself in `active` before it takes its stamp under the registry lock; a
//! committer takes its commit stamp before it looks at `active`. Either the committer sees the
//! pin, or its stamp is newer than the pinned snapshot, and the version it trims is not the one
//! the snapshot sees.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::reference::Visible;
use super::sync::{self, AtomicUsize, Mutex, Ordering};
use super::{Ref, RetryCause, RetrySignal, Shared, StmError};

/// The pinned snapshot stamps, with how many readers pin each.
#[derive(Default)]
pub(crate) struct Pins {
    active: AtomicUsize,
    stamps: Mutex<BTreeMap<u64, usize>>,
}

impl Pins {
    /// The pinned stamps in ascending order; empty (and free) when nothing is pinned.
    pub(crate) fn current(&self) -> Vec<u64> {
        if self.active.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        sync::lock(&self.stamps).keys().copied().collect()
    }
}

/// A pinned snapshot stamp; unpins on drop.
pub(crate) struct Pin<'s> {
    pins: &'s Pins,
    stamp: u64,
}

impl<'s> Pin<'s> {
    /// Pins the current commit stamp.
    pub(crate) fn take(shared: &'s Shared) -> Pin<'s> {
        let pins = &shared.pins;
        pins.active.fetch_add(1, Ordering::SeqCst);
        let mut stamps = sync::lock(&pins.stamps);
        let stamp = shared.clock.load(Ordering::SeqCst);
        *stamps.entry(stamp).or_insert(0) += 1;
        Pin { pins, stamp }
    }

    /// The pinned stamp.
    pub(crate) fn stamp(&self) -> u64 {
        self.stamp
    }
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        let mut stamps = sync::lock(&self.pins.stamps);
        if let Some(count) = stamps.get_mut(&self.stamp) {
            *count -= 1;
            if *count == 0 {
                stamps.remove(&self.stamp);
            }
        }
        drop(stamps);
        self.pins.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A read-only view of every ref at one commit stamp.
pub struct Snapshot<'s> {
    shared: &'s Shared,
    stamp: u64,
    missed: bool,
}

impl std::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("stamp", &self.stamp)
            .finish()
    }
}

impl Snapshot<'_> {
    /// The commit stamp this snapshot sees.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    /// The value of `r` at this snapshot.
    pub fn read<T: Send + Sync + 'static>(&mut self, r: &Ref<T>) -> Result<Arc<T>, StmError> {
        check_same_stm(self.shared, r);
        match read_visible(self.shared, r, self.stamp) {
            Some(v) => Ok(v),
            None => {
                self.missed = true;
                Err(StmError::Retry(RetrySignal(RetryCause::ReadMiss)))
            }
        }
    }
}

pub(crate) fn check_same_stm<T>(shared: &Shared, r: &Ref<T>) {
    assert!(
        std::ptr::eq(shared, Arc::as_ptr(&r.0.shared)),
        "{r:?} belongs to a different Stm than this transaction"
    );
}

/// The version of `r` visible at `stamp`, or `None` after growing the ref's history on a miss.
pub(crate) fn read_visible<T: Send + Sync + 'static>(
    shared: &Shared,
    r: &Ref<T>,
    stamp: u64,
) -> Option<Arc<T>> {
    #[cfg(test)]
    let wait = !shared.config.faults.read_through_locks;
    #[cfg(not(test))]
    let wait = true;
    match r.0.read_at(stamp, wait) {
        Visible::Found(v) => Some(v),
        Visible::Missed => {
            if super::reference::ErasedRef::grow_history(&*r.0) {
                shared.counters.history_growth();
            }
            None
        }
    }
}

pub(crate) fn run<R, E, F>(shared: &Shared, mut body: F) -> Result<R, E>
where
    F: FnMut(&mut Snapshot<'_>) -> Result<R, E>,
    E: From<StmError>,
{
    let mut pin: Option<Pin<'_>> = None;
    for _attempt in 1..=shared.config.max_retries {
        let stamp = match &pin {
            Some(p) => p.stamp(),
            None => shared.clock.load(Ordering::SeqCst),
        };
        let mut snapshot = Snapshot {
            shared,
            stamp,
            missed: false,
        };
        let outcome = body(&mut snapshot);
        if !snapshot.missed {
            if outcome.is_ok() {
                shared.counters.commit(true);
            } else {
                shared.counters.abort_user();
            }
            return outcome;
        }
        shared.counters.retry(RetryCause::ReadMiss);
        // No backoff: the pinned attempt does not compete with anyone.
        drop(pin.take());
        pin = Some(Pin::take(shared));
    }
    shared.counters.abort_retries_exhausted();
    Err(StmError::RetriesExhausted {
        attempts: shared.config.max_retries,
        last_cause: RetryCause::ReadMiss,
    }
    .into())
}
