//! Update transactions: the transaction handle, and the commit protocol.
//!
//! Commit, in order: lock the written refs in ascending id order (waiting a bounded time for
//! each, then retrying the whole attempt: ordered acquisition means no deadlock, the bound means
//! no convoy); take a commit stamp from the clock; validate that every ref read still has a
//! version no newer than the snapshot (skipped when no one committed since the snapshot); apply
//! commutes to the newest values; run validators; install the new versions; unlock with the new
//! stamp. Then, outside every lock, wait until the previous commit on each written ref has run
//! its effects, run watches and `on_commit` effects, and mark this commit's effects done. A guard
//! releases the locks unchanged if anything fails or panics before installation.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use super::reference::{AnyValue, ErasedRef, LOCKED, stamp_of};
use super::snapshot::{Pin, check_same_stm, read_visible};
use super::sync::{self, Ordering};
use super::{Ref, RetryCause, RetrySignal, Shared, StmError, ValidationError};

type Commute = Box<dyn Fn(&AnyValue) -> AnyValue + Send>;
type Effect = Box<dyn FnOnce() + Send>;

struct WriteEntry {
    r: Arc<dyn ErasedRef>,
    /// The value set by `write`/`alter` (commutes after it are folded in).
    value: Option<AnyValue>,
    /// Commutes to apply at commit to the newest value (only when `value` is `None`).
    commutes: Vec<Commute>,
    /// The in-transaction view of a commuted ref, once read.
    view: Option<AnyValue>,
}

/// An update transaction's handle, passed to the body of [`super::Stm::atomically`].
pub struct Tx<'s> {
    shared: &'s Shared,
    snapshot: u64,
    reads: Vec<Arc<dyn ErasedRef>>,
    writes: Vec<WriteEntry>,
    effects: Vec<Effect>,
    retry: Option<RetryCause>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("snapshot", &self.snapshot)
            .field("reads", &self.reads.len())
            .field("writes", &self.writes.len())
            .finish()
    }
}

fn downcast<T: Send + Sync + 'static>(value: &AnyValue) -> Arc<T> {
    match value.clone().downcast::<T>() {
        Ok(v) => v,
        Err(_) => unreachable!("a ref only ever holds values of its own type"),
    }
}

fn erase<T: Send + Sync + 'static>(value: T) -> AnyValue {
    Arc::new(value)
}

impl<'s> Tx<'s> {
    /// The commit stamp of the snapshot this attempt reads.
    pub fn snapshot(&self) -> u64 {
        self.snapshot
    }

    fn entry_index(&self, id: u64) -> Option<usize> {
        self.writes.iter().position(|e| e.r.id() == id)
    }

    fn entry<T: Send + Sync + 'static>(&mut self, r: &Ref<T>) -> &mut WriteEntry {
        check_same_stm(self.shared, r);
        let index = match self.entry_index(r.id()) {
            Some(i) => i,
            None => {
                self.writes.push(WriteEntry {
                    r: r.0.clone(),
                    value: None,
                    commutes: Vec::new(),
                    view: None,
                });
                self.writes.len() - 1
            }
        };
        &mut self.writes[index]
    }

    /// Reads `r` at the snapshot and records it for validation.
    fn snapshot_read<T: Send + Sync + 'static>(&mut self, r: &Ref<T>) -> Result<Arc<T>, StmError> {
        match read_visible(self.shared, r, self.snapshot) {
            Some(v) => {
                if !self.reads.iter().any(|seen| seen.id() == r.id()) {
                    self.reads.push(r.0.clone());
                }
                Ok(v)
            }
            None => Err(self.signal(RetryCause::ReadMiss)),
        }
    }

    fn signal(&mut self, cause: RetryCause) -> StmError {
        self.retry = Some(cause);
        StmError::Retry(RetrySignal(cause))
    }

    /// The value of `r` at this attempt's snapshot (or this transaction's own write), *without*
    /// recording the read for validation: a later commit to `r` does not make this transaction
    /// retry. Only for reads whose staleness cannot matter, e.g. a lookup whose result is itself
    /// read (and so validated) before it is used.
    pub fn peek<T: Send + Sync + 'static>(&mut self, r: &Ref<T>) -> Result<Arc<T>, StmError> {
        check_same_stm(self.shared, r);
        if let Some(i) = self.entry_index(r.id())
            && let Some(v) = self.writes[i]
                .value
                .as_ref()
                .or(self.writes[i].view.as_ref())
        {
            return Ok(downcast(v));
        }
        read_visible(self.shared, r, self.snapshot).ok_or_else(|| self.signal(RetryCause::ReadMiss))
    }

    /// The value of `r` in this transaction: its own write if it made one, else the snapshot's
    /// (with this transaction's commutes applied).
    pub fn read<T: Send + Sync + 'static>(&mut self, r: &Ref<T>) -> Result<Arc<T>, StmError> {
        check_same_stm(self.shared, r);
        let Some(i) = self.entry_index(r.id()) else {
            return self.snapshot_read(r);
        };
        if let Some(v) = self.writes[i]
            .value
            .as_ref()
            .or(self.writes[i].view.as_ref())
        {
            return Ok(downcast(v));
        }
        // A commuted ref read for the first time: its view depends on the snapshot, so the read
        // is validated at commit like any other.
        let base: AnyValue = self.snapshot_read(r)?;
        let entry = &mut self.writes[i];
        let view = entry.commutes.iter().fold(base, |v, f| f(&v));
        entry.view = Some(view.clone());
        Ok(downcast(&view))
    }

    /// Sets `r` to `value` in this transaction.
    pub fn write<T: Send + Sync + 'static>(&mut self, r: &Ref<T>, value: T) {
        let entry = self.entry(r);
        entry.value = Some(erase(value));
        entry.commutes.clear();
        entry.view = None;
    }

    /// Sets `r` to `f` of its current value in this transaction.
    pub fn alter<T: Send + Sync + 'static>(
        &mut self,
        r: &Ref<T>,
        f: impl FnOnce(&T) -> T,
    ) -> Result<(), StmError> {
        let current = self.read(r)?;
        self.write(r, f(&current));
        Ok(())
    }

    /// Records a commutative update of `r`: `f` is applied at commit to the newest value, so
    /// concurrent commutes never conflict. `f` may run more than once and must be pure.
    pub fn commute<T: Send + Sync + 'static>(
        &mut self,
        r: &Ref<T>,
        f: impl Fn(&T) -> T + Send + 'static,
    ) {
        let erased: Commute = Box::new(move |v: &AnyValue| erase(f(&downcast::<T>(v))));
        let entry = self.entry(r);
        if let Some(v) = &entry.value {
            // Already written outright: the commute folds into that value.
            entry.value = Some(erased(v));
            return;
        }
        if let Some(view) = &entry.view {
            entry.view = Some(erased(view));
        }
        entry.commutes.push(erased);
    }

    /// Runs `effect` once after this transaction commits (never if it aborts or retries), after
    /// the effects of earlier commits on the refs it writes.
    pub fn on_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.effects.push(Box::new(effect));
    }
}

enum CommitError {
    Retry(RetryCause),
    Validation(ValidationError),
}

/// The commit locks held by a committing transaction. Dropped without `release_with`, it puts
/// back the words it found, so a failure or panic leaves every ref as it was.
struct Held<'a> {
    refs: Vec<(&'a dyn ErasedRef, u64)>,
}

impl<'a> Held<'a> {
    fn acquire(r: &'a dyn ErasedRef, wait_rounds: u32) -> Option<u64> {
        let word = r.lock_word();
        let mut round = 0;
        loop {
            let current = word.load(Ordering::Acquire);
            if current & LOCKED == 0
                && word
                    .compare_exchange_weak(
                        current,
                        current | LOCKED,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return Some(current);
            }
            if round >= wait_rounds {
                return None;
            }
            sync::pause(round);
            round += 1;
        }
    }

    /// The stamp of `id`'s newest version if this transaction holds its lock.
    fn stamp_if_held(&self, id: u64) -> Option<u64> {
        self.refs
            .iter()
            .find(|(r, _)| r.id() == id)
            .map(|(_, word)| stamp_of(*word))
    }

    fn release_with(mut self, stamp: u64) {
        for (r, _) in self.refs.drain(..) {
            r.lock_word().store(stamp << 1, Ordering::Release);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for (r, word) in self.refs.drain(..) {
            r.lock_word().store(word, Ordering::Release);
        }
    }
}

/// After commit: waits for earlier commits' effects on the same refs, then marks this commit's
/// effects done on drop (also if an effect panics), so later commits never wait forever.
struct EffectTurn {
    refs: Vec<(Arc<dyn ErasedRef>, u64)>,
    stamp: u64,
}

impl EffectTurn {
    fn wait(&self) {
        for (r, prev_stamp) in &self.refs {
            let mut round = 0;
            while r.effects_done().load(Ordering::Acquire) != *prev_stamp {
                sync::pause(round);
                round += 1;
            }
        }
    }
}

impl Drop for EffectTurn {
    fn drop(&mut self) {
        for (r, _) in &self.refs {
            r.effects_done().store(self.stamp, Ordering::Release);
        }
    }
}

type EffectJob = Box<dyn FnOnce() + Send>;

sync::thread_local! {
    /// Commits made by effects running on this thread, waiting for those effects to finish.
    /// `None` when no effects are running here.
    static DEFERRED: std::cell::RefCell<Option<VecDeque<(EffectTurn, EffectJob)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs a commit's watches and effects in its turn. A commit made by an effect (on the same
/// thread) would otherwise wait for its own caller's turn to end: it is queued instead and runs
/// right after the effect that made it, still in commit order per ref. The first panic of any
/// effect continues once the queue is empty.
fn run_in_turn(turn: EffectTurn, job: EffectJob) {
    let nested = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(queue) => {
            queue.push_back((turn, job));
            None
        }
        None => Some((turn, job)),
    });
    let Some(first) = nested else { return };
    DEFERRED.with(|d| *d.borrow_mut() = Some(VecDeque::new()));
    let mut first_panic = None;
    let mut next = Some(first);
    while let Some((turn, job)) = next {
        turn.wait();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(job)) {
            first_panic.get_or_insert(panic);
        }
        drop(turn);
        next = DEFERRED.with(|d| d.borrow_mut().as_mut().and_then(VecDeque::pop_front));
    }
    DEFERRED.with(|d| *d.borrow_mut() = None);
    if let Some(panic) = first_panic {
        resume_unwind(panic);
    }
}

impl Tx<'_> {
    fn commit(&mut self) -> Result<(), CommitError> {
        let shared = self.shared;
        if self.writes.is_empty() {
            // Read-only: the snapshot was consistent; there is nothing to validate or install.
            shared.counters.commit(true);
            run_effects(std::mem::take(&mut self.effects));
            return Ok(());
        }
        self.writes.sort_by_key(|e| e.r.id());
        let mut held = Held {
            refs: Vec::with_capacity(self.writes.len()),
        };
        // Locks are taken in id order, so waiting cannot deadlock. A transaction that read
        // something gives up after a while (its reads are likely stale by then); one that only
        // writes or commutes has nothing to go stale and waits as long as it takes, so blind
        // writes and commutes never retry.
        let wait_rounds = if self.reads.is_empty() {
            u32::MAX
        } else {
            shared.config.lock_wait_rounds
        };
        for entry in &self.writes {
            let r: &dyn ErasedRef = &*entry.r;
            match Held::acquire(r, wait_rounds) {
                Some(word) => held.refs.push((r, word)),
                None => return Err(CommitError::Retry(RetryCause::LockContention)),
            }
        }
        let stamp = shared.clock.fetch_add(1, Ordering::SeqCst) + 1;

        #[cfg(test)]
        let validate_reads = !shared.config.faults.skip_read_validation;
        #[cfg(not(test))]
        let validate_reads = true;
        if validate_reads && stamp != self.snapshot + 1 {
            for r in &self.reads {
                let newest = match held.stamp_if_held(r.id()) {
                    Some(s) => s,
                    None => {
                        let word = r.lock_word().load(Ordering::Acquire);
                        if word & LOCKED != 0 {
                            return Err(CommitError::Retry(RetryCause::Conflict));
                        }
                        stamp_of(word)
                    }
                };
                if newest > self.snapshot {
                    return Err(CommitError::Retry(RetryCause::Conflict));
                }
            }
        }

        let mut new_values: Vec<AnyValue> = Vec::with_capacity(self.writes.len());
        for entry in &self.writes {
            let value = match &entry.value {
                Some(v) => v.clone(),
                None => entry.commutes.iter().fold(entry.r.newest(), |v, f| f(&v)),
            };
            entry.r.validate(&value).map_err(CommitError::Validation)?;
            new_values.push(value);
        }

        let pins = shared.pins.current();
        let mut previous = Vec::with_capacity(self.writes.len());
        for (entry, value) in self.writes.iter().zip(&new_values) {
            previous.push(entry.r.install(stamp, value.clone(), &pins));
        }
        // Nothing to run after this commit: mark its effects done while the locks are still
        // held, provided every earlier commit on these refs is done, so that the next
        // committer on these refs never waits for this thread.
        let quiet = self.effects.is_empty()
            && self.writes.iter().zip(&previous).all(|(e, (prev, _))| {
                !e.r.has_watches() && e.r.effects_done().load(Ordering::Acquire) == *prev
            });
        if quiet {
            for e in &self.writes {
                e.r.effects_done().store(stamp, Ordering::Release);
            }
        }
        held.release_with(stamp);
        shared.counters.commit(false);
        if quiet {
            return Ok(());
        }

        let turn = EffectTurn {
            refs: self
                .writes
                .iter()
                .zip(&previous)
                .map(|(e, (s, _))| (e.r.clone(), *s))
                .collect(),
            stamp,
        };
        let effects = std::mem::take(&mut self.effects);
        let watched: Vec<_> = self
            .writes
            .iter()
            .zip(new_values)
            .zip(previous)
            .map(|((entry, new), (_, old))| (entry.r.clone(), old, new))
            .collect();
        run_in_turn(
            turn,
            Box::new(move || {
                for (r, old, new) in &watched {
                    r.run_watches(old, new, stamp);
                }
                run_effects(effects);
            }),
        );
        Ok(())
    }
}

fn run_effects(effects: Vec<Effect>) {
    for effect in effects {
        effect();
    }
}

/// A cheap per-attempt seed for backoff jitter.
fn jitter_seed(tx: &Tx<'_>, attempt: u32) -> u64 {
    let addr = tx as *const Tx<'_> as usize as u64;
    addr.rotate_left(17) ^ tx.snapshot.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(attempt)
}

pub(crate) fn run<R, E, F>(shared: &Shared, mut body: F) -> Result<R, E>
where
    F: FnMut(&mut Tx<'_>) -> Result<R, E>,
    E: From<StmError>,
{
    let mut last_cause = RetryCause::Conflict;
    let mut pin: Option<Pin<'_>> = None;
    for attempt in 1..=shared.config.max_retries {
        // After a read miss, the next attempt runs on a pinned snapshot, which cannot miss.
        // Any other retry takes a fresh snapshot: an old pinned one would conflict forever.
        drop(pin.take());
        if last_cause == RetryCause::ReadMiss && attempt > 1 {
            pin = Some(Pin::take(shared));
        }
        let mut tx = Tx {
            shared,
            snapshot: match &pin {
                Some(p) => p.stamp(),
                None => shared.clock.load(Ordering::SeqCst),
            },
            reads: Vec::new(),
            writes: Vec::new(),
            effects: Vec::new(),
            retry: None,
        };
        let outcome = body(&mut tx);
        let cause = match (tx.retry, outcome) {
            (Some(cause), _) => cause,
            (None, Err(e)) => {
                shared.counters.abort_user();
                abandon(&mut tx);
                return Err(e);
            }
            (None, Ok(result)) => match tx.commit() {
                Ok(()) => return Ok(result),
                Err(CommitError::Retry(cause)) => cause,
                Err(CommitError::Validation(e)) => {
                    shared.counters.abort_validation();
                    abandon(&mut tx);
                    return Err(StmError::Validation(e).into());
                }
            },
        };
        shared.counters.retry(cause);
        last_cause = cause;
        abandon(&mut tx);
        sync::backoff(attempt, jitter_seed(&tx, attempt));
    }
    shared.counters.abort_retries_exhausted();
    Err(StmError::RetriesExhausted {
        attempts: shared.config.max_retries,
        last_cause,
    }
    .into())
}

/// Discards an attempt that did not commit: its effects never run (unless a test fault says so).
fn abandon(tx: &mut Tx<'_>) {
    let effects = std::mem::take(&mut tx.effects);
    #[cfg(test)]
    if tx.shared.config.faults.effects_on_abort {
        run_effects(effects);
        return;
    }
    drop(effects);
}
