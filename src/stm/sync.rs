//! The synchronisation primitives the STM is built on: the standard library's, or shuttle's when
//! the `shuttle` feature is on, so that schedule-exploration tests drive the real commit protocol
//! rather than a model of it. Every wait loop in the STM goes through [`pause`], which is a
//! scheduling point under shuttle.

#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock};

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::{Mutex, MutexGuard, RwLock};

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread_local;
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread_local;

/// Locks a mutex, ignoring poisoning. The STM never leaves the data behind its mutexes
/// half-updated when user code panics (user code never runs while one is held), so a poisoned
/// lock still guards consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads an `RwLock`, ignoring poisoning (see [`lock`]).
pub(crate) fn read<T, R>(l: &RwLock<T>, f: impl FnOnce(&T) -> R) -> R {
    f(&l.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// Writes an `RwLock`, ignoring poisoning (see [`lock`]).
pub(crate) fn write<T, R>(l: &RwLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
    f(&mut l.write().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// One step of waiting for another thread: a few CPU spin hints for the first rounds, then a
/// yield of the time slice (always a yield under shuttle, where it is the scheduling point).
pub(crate) fn pause(round: u32) {
    #[cfg(feature = "shuttle")]
    {
        let _ = round;
        shuttle::thread::yield_now();
    }
    #[cfg(not(feature = "shuttle"))]
    {
        // About 60 spin hints in all (a PAUSE can take 30+ ns), then yield: a waiter must not
        // burn a time slice that the thread it waits for could use.
        if round < 6 {
            for _ in 0..(1u32 << round) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}

/// Waits before retrying attempt `attempt` (1-based) of a transaction: exponential backoff
/// with jitter, spinning first, then yielding, then sleeping up to one millisecond, so that
/// contending transactions spread out instead of colliding again in lockstep.
pub(crate) fn backoff(attempt: u32, jitter_seed: u64) {
    #[cfg(feature = "shuttle")]
    {
        let _ = (attempt, jitter_seed);
        shuttle::thread::yield_now();
    }
    #[cfg(not(feature = "shuttle"))]
    {
        // xorshift for jitter: cheap, and good enough to de-synchronise retries.
        let mut x = jitter_seed | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if attempt <= 4 {
            for _ in 0..(x % (16u64 << attempt)) {
                std::hint::spin_loop();
            }
        } else if attempt <= 8 {
            std::thread::yield_now();
        } else {
            let cap_micros = 1u64 << (attempt - 8).min(10);
            std::thread::sleep(std::time::Duration::from_micros(1 + x % cap_micros));
        }
    }
}
