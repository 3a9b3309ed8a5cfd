//! `Ref<T>`: a transactional reference holding immutable versions.
//!
//! Each ref has a versioned lock word (`stamp << 1 | locked`), where `stamp` is the commit stamp
//! of its newest version, and a short history of versions, newest first. Committers set the lock
//! bit for the few microseconds between validation and installing their version; readers never
//! take the lock word, they wait while it is set and then pick the newest version no newer than
//! their snapshot. History keeps `cap` versions (the cap grows when a reader misses, up to the
//! configured maximum) plus, for each pinned snapshot, the version visible at it.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use super::sync::{self, AtomicU64, Mutex, Ordering, RwLock};
use super::{Shared, ValidationError};

pub(crate) type AnyValue = Arc<dyn Any + Send + Sync>;

type Validator<T> = Arc<dyn Fn(&T) -> Result<(), ValidationError> + Send + Sync>;
type Watch<T> = Arc<dyn Fn(&Arc<T>, &Arc<T>, u64) + Send + Sync>;

pub(crate) const LOCKED: u64 = 1;

/// The stamp in a lock word.
pub(crate) fn stamp_of(word: u64) -> u64 {
    word >> 1
}

/// A transactional reference to an immutable value of type `T`. Cloning is cheap and yields
/// the same ref. Read and change it inside [`super::Stm::atomically`] or
/// [`super::Stm::read_only`].
pub struct Ref<T>(pub(crate) Arc<RefCore<T>>);

pub(crate) struct RefCore<T> {
    pub(crate) id: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) lock: AtomicU64,
    history: Mutex<History<T>>,
    /// Stamp of the newest commit on this ref whose watches and effects have run.
    effects_done: AtomicU64,
    validators: RwLock<Vec<Validator<T>>>,
    watches: RwLock<Vec<(String, Watch<T>)>>,
}

/// One version: its value was current from `stamp` until `until` (the next version's stamp;
/// `u64::MAX` for the newest). Keeping `until` makes a lookup exact even when trimming has left
/// gaps between kept versions.
struct Version<T> {
    stamp: u64,
    until: u64,
    value: Arc<T>,
}

struct History<T> {
    /// Newest first.
    versions: VecDeque<Version<T>>,
    cap: usize,
}

impl<T> History<T> {
    /// The version current at snapshot `rv`, if history still holds it.
    fn visible_at(&self, rv: u64) -> Option<&Arc<T>> {
        self.versions
            .iter()
            .find(|v| v.stamp <= rv && rv < v.until)
            .map(|v| &v.value)
    }

    fn newest(&self) -> &Version<T> {
        &self.versions[0]
    }

    /// Adds the newest version and trims: keep the `cap` newest, and every older version that
    /// is the one visible at a pinned snapshot (`pins` sorted ascending).
    fn push(&mut self, stamp: u64, value: Arc<T>, pins: &[u64]) {
        if let Some(front) = self.versions.front_mut() {
            front.until = stamp;
        }
        self.versions.push_front(Version {
            stamp,
            until: u64::MAX,
            value,
        });
        if self.versions.len() <= self.cap {
            return;
        }
        let cap = self.cap;
        let mut i = 0;
        self.versions.retain(|v| {
            // Visible at pin p when stamp <= p < until.
            let first_pin_at_or_after = pins.partition_point(|&p| p < v.stamp);
            let pinned = pins
                .get(first_pin_at_or_after)
                .is_some_and(|&p| p < v.until);
            i += 1;
            i <= cap || pinned
        });
    }
}

impl<T: Send + Sync + 'static> Ref<T> {
    pub(crate) fn new(shared: Arc<Shared>, id: u64, value: T) -> Self {
        let cap = shared.config.initial_history.max(1);
        let mut versions = VecDeque::with_capacity(cap + 1);
        versions.push_front(Version {
            stamp: 0,
            until: u64::MAX,
            value: Arc::new(value),
        });
        Ref(Arc::new(RefCore {
            id,
            shared,
            lock: AtomicU64::new(0),
            history: Mutex::new(History { versions, cap }),
            effects_done: AtomicU64::new(0),
            validators: RwLock::new(Vec::new()),
            watches: RwLock::new(Vec::new()),
        }))
    }

    /// A number unique among the refs of one STM.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The newest committed value, read outside any transaction. Waits while a commit is
    /// installing a new version.
    pub fn current(&self) -> Arc<T> {
        let mut round = 0;
        loop {
            let before = self.0.lock.load(Ordering::Acquire);
            if before & LOCKED == 0 {
                let value = sync::lock(&self.0.history).newest().value.clone();
                if self.0.lock.load(Ordering::Acquire) == before {
                    return value;
                }
            }
            sync::pause(round);
            round += 1;
        }
    }

    /// Adds a validator: a commit that would give this ref a value the validator refuses fails
    /// with [`super::StmError::Validation`] and writes nothing. Validators run while the commit
    /// holds its locks, so they should be quick and must not use the STM.
    pub fn add_validator(
        &self,
        validator: impl Fn(&T) -> Result<(), ValidationError> + Send + Sync + 'static,
    ) {
        sync::write(&self.0.validators, |v| v.push(Arc::new(validator)));
    }

    /// Adds (or replaces) the watch under `key`. After every commit that changes this ref, the
    /// watch runs once with the old value, the new value and the commit stamp, in commit order.
    pub fn add_watch(
        &self,
        key: impl Into<String>,
        watch: impl Fn(&Arc<T>, &Arc<T>, u64) + Send + Sync + 'static,
    ) {
        let key = key.into();
        sync::write(&self.0.watches, |w| {
            w.retain(|(k, _)| *k != key);
            w.push((key, Arc::new(watch)));
        });
    }

    /// Removes the watch under `key`; true if there was one.
    pub fn remove_watch(&self, key: &str) -> bool {
        sync::write(&self.0.watches, |w| {
            let before = w.len();
            w.retain(|(k, _)| k != key);
            w.len() != before
        })
    }

    /// How many versions the ref keeps now (for tests and diagnostics).
    pub fn history_len(&self) -> usize {
        sync::lock(&self.0.history).versions.len()
    }

    /// The ref's current history capacity (grows after read misses).
    pub fn history_capacity(&self) -> usize {
        sync::lock(&self.0.history).cap
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref(self.0.clone())
    }
}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Ref<T> {}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref#{}", self.0.id)
    }
}

/// What a snapshot read found.
pub(crate) enum Visible<T> {
    /// The version visible at the snapshot.
    Found(Arc<T>),
    /// History no longer holds it.
    Missed,
}

impl<T: Send + Sync + 'static> RefCore<T> {
    /// The version visible at snapshot `rv`, waiting while a commit holds the lock (its version
    /// may belong to the snapshot). With `wait_for_locks` off (a test-only fault) it reads
    /// through the lock and can see a half-installed commit.
    pub(crate) fn read_at(&self, rv: u64, wait_for_locks: bool) -> Visible<T> {
        let mut round = 0;
        loop {
            let before = self.lock.load(Ordering::Acquire);
            if before & LOCKED == 0 || !wait_for_locks {
                let found = sync::lock(&self.history).visible_at(rv).cloned();
                if self.lock.load(Ordering::Acquire) == before || !wait_for_locks {
                    return match found {
                        Some(v) => Visible::Found(v),
                        None => Visible::Missed,
                    };
                }
            }
            sync::pause(round);
            round += 1;
        }
    }
}

/// The type-erased face of a ref, used by the commit protocol over refs of different types.
pub(crate) trait ErasedRef: Send + Sync {
    fn id(&self) -> u64;
    fn lock_word(&self) -> &AtomicU64;
    /// The newest value; only called while this transaction holds the lock.
    fn newest(&self) -> AnyValue;
    fn validate(&self, value: &AnyValue) -> Result<(), ValidationError>;
    /// Installs a version; returns the previous newest (stamp, value).
    fn install(&self, stamp: u64, value: AnyValue, pins: &[u64]) -> (u64, AnyValue);
    fn effects_done(&self) -> &AtomicU64;
    fn run_watches(&self, old: &AnyValue, new: &AnyValue, stamp: u64);
    /// True if the ref has watches (checked at commit to skip the effect turn).
    fn has_watches(&self) -> bool;
    /// Raises the history capacity by one, up to the maximum; true if it grew.
    fn grow_history(&self) -> bool;
}

fn downcast<T: Send + Sync + 'static>(value: &AnyValue) -> Arc<T> {
    match value.clone().downcast::<T>() {
        Ok(v) => v,
        Err(_) => unreachable!("a ref only ever holds values of its own type"),
    }
}

impl<T: Send + Sync + 'static> ErasedRef for RefCore<T> {
    fn id(&self) -> u64 {
        self.id
    }

    fn lock_word(&self) -> &AtomicU64 {
        &self.lock
    }

    fn newest(&self) -> AnyValue {
        sync::lock(&self.history).newest().value.clone()
    }

    fn validate(&self, value: &AnyValue) -> Result<(), ValidationError> {
        let validators = sync::read(&self.validators, |v| v.clone());
        if validators.is_empty() {
            return Ok(());
        }
        let value = downcast::<T>(value);
        validators.iter().try_for_each(|validate| validate(&value))
    }

    fn install(&self, stamp: u64, value: AnyValue, pins: &[u64]) -> (u64, AnyValue) {
        let mut history = sync::lock(&self.history);
        let previous = history.newest();
        let (prev_stamp, prev): (u64, AnyValue) = (previous.stamp, previous.value.clone());
        history.push(stamp, downcast::<T>(&value), pins);
        (prev_stamp, prev)
    }

    fn effects_done(&self) -> &AtomicU64 {
        &self.effects_done
    }

    fn run_watches(&self, old: &AnyValue, new: &AnyValue, stamp: u64) {
        let watches = sync::read(&self.watches, |w| w.clone());
        if watches.is_empty() {
            return;
        }
        let (old, new) = (downcast::<T>(old), downcast::<T>(new));
        for (_, watch) in &watches {
            watch(&old, &new, stamp);
        }
    }

    fn has_watches(&self) -> bool {
        sync::read(&self.watches, |w| !w.is_empty())
    }

    fn grow_history(&self) -> bool {
        let mut history = sync::lock(&self.history);
        if history.cap < self.shared.config.max_history {
            history.cap += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(stamps: &[u64], cap: usize) -> History<u64> {
        let mut h = History {
            versions: VecDeque::new(),
            cap,
        };
        for &s in stamps {
            h.push(s, Arc::new(s), &[]);
        }
        h
    }

    fn stamps(h: &History<u64>) -> Vec<u64> {
        h.versions.iter().map(|v| v.stamp).collect()
    }

    #[test]
    fn keeps_the_newest_cap_versions() {
        assert_eq!(stamps(&history(&[1, 2, 3, 4, 5], 2)), [5, 4]);
        assert_eq!(history(&[1, 2, 3], 2).visible_at(3).map(|v| **v), Some(3));
        assert_eq!(history(&[1, 3, 5], 2).visible_at(4).map(|v| **v), Some(3));
        assert!(history(&[1, 3, 5], 2).visible_at(2).is_none());
    }

    #[test]
    fn keeps_the_version_visible_at_each_pin() {
        let mut h = history(&[1, 3], 1);
        h.push(5, Arc::new(5), &[4]);
        assert_eq!(stamps(&h), [5, 3], "3 is visible at pin 4");
        h.push(7, Arc::new(7), &[4]);
        assert_eq!(stamps(&h), [7, 3], "5 is visible at no pin");
        h.push(9, Arc::new(9), &[4, 7]);
        assert_eq!(stamps(&h), [9, 7, 3]);
        h.push(11, Arc::new(11), &[]);
        assert_eq!(stamps(&h), [11]);
    }

    #[test]
    fn a_gap_left_by_trimming_is_a_miss_not_an_older_version() {
        let mut h = history(&[1, 3], 1);
        h.push(5, Arc::new(5), &[4]);
        h.push(7, Arc::new(7), &[4]);
        assert_eq!(stamps(&h), [7, 3]);
        assert_eq!(h.visible_at(4).map(|v| **v), Some(3));
        assert!(h.visible_at(6).is_none(), "5 was current at 6 and is gone");
        assert_eq!(h.visible_at(7).map(|v| **v), Some(7));
    }
}
