//! The executor domain calls run on: a fixed set of threads and a bounded queue, so that no
//! call runs on the async runtime's workers. A long call (a large `atomic` batch, a
//! transposition over a whole piece) then occupies one executor thread while the runtime keeps
//! accepting connections, answering health checks and delivering events, and the number of
//! calls waiting is bounded: when the queue is full a call is refused at once
//! ([`Busy`], RESOURCE_EXHAUSTED on the wire) instead of piling up.
//!
//! Jobs come in two [`Lane`]s. A heavy job (a large request: a big `atomic` batch) may occupy
//! all threads but one, so one thread always stays free for light jobs (`get-title`, one edit):
//! four clients sending maximal batches make each other wait, but not everyone else. With one
//! thread there is no such reserve. Light jobs are taken first; within a lane, first come first
//! served.
//!
//! A job is a closure; its result comes back through a future that resolves when the job has
//! run. A panicking job does not take its thread down: the panic ends that job (its future
//! reports [`JobFailed`]) and the thread goes on with the next one. Dropping the last handle
//! stops the threads after the jobs already queued.
//!
//! Tested three ways: unit tests of each rule, the hardening tests through the server, and a
//! shuttle exploration of the lanes (`--features shuttle`, where the threads, mutex and
//! condition variable are shuttle's).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "shuttle")]
use shuttle::{
    sync::{Condvar, Mutex, MutexGuard},
    thread,
};
#[cfg(not(feature = "shuttle"))]
use std::{
    sync::{Condvar, Mutex, MutexGuard},
    thread,
};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Counters of the executor (relaxed atomics, read by the metrics collector).
#[derive(Debug, Default)]
pub struct ExecutorStats {
    /// Jobs accepted into the queue.
    pub submitted: AtomicU64,
    /// Jobs refused because the queue was full.
    pub rejected: AtomicU64,
    /// Jobs that ran to the end (or panicked).
    pub completed: AtomicU64,
}

/// How much a job is expected to cost, from what the request looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A small request: runs on any thread.
    Light,
    /// A large request: never on the last free thread.
    Heavy,
}

#[derive(Debug)]
struct State {
    light: VecDeque<QueuedJob>,
    heavy: VecDeque<QueuedJob>,
    /// Heavy jobs running now.
    heavy_running: usize,
    /// Threads waiting on the condition variable.
    idle: usize,
    stopping: bool,
}

impl State {
    fn queued(&self) -> usize {
        self.light.len() + self.heavy.len()
    }
}

struct QueuedJob(Job);

impl std::fmt::Debug for QueuedJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueuedJob")
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    threads: usize,
    /// Heavy jobs that may run at once: all threads but one (when there are two or more).
    max_heavy: usize,
    stats: ExecutorStats,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so it never guards half-updated data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The queue was full: the job was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the executor's queue is full ({capacity} calls waiting)")]
pub struct Busy {
    /// The queue's capacity.
    pub capacity: usize,
}

/// The job panicked; it did not produce a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the call failed inside the server")]
pub struct JobFailed;

/// The executor. Cheap to clone; the threads stop when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Executor {
    shared: Arc<Shared>,
    _stop: Arc<StopOnDrop>,
}

/// Tells the threads to stop when the last [`Executor`] handle goes.
#[derive(Debug)]
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.lock().stopping = true;
        self.0.ready.notify_all();
    }
}

impl Executor {
    /// Starts `threads` threads (at least 1) serving a queue of `capacity` jobs (at least 1).
    pub fn new(threads: usize, capacity: usize) -> std::io::Result<Executor> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                light: VecDeque::new(),
                heavy: VecDeque::new(),
                heavy_running: 0,
                idle: 0,
                stopping: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            threads,
            max_heavy: if threads > 1 { threads - 1 } else { 1 },
            stats: ExecutorStats::default(),
        });
        for n in 0..shared.threads {
            let worker = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("ooloi-exec-{n}"))
                .spawn(move || work(&worker))?;
        }
        Ok(Executor {
            _stop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// Queues `job` in the light lane (see [`Executor::spawn_in`]).
    pub fn spawn<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<impl Future<Output = Result<R, JobFailed>> + Send + 'static, Busy> {
        self.spawn_in(Lane::Light, job)
    }

    /// Queues `job` in `lane`; the returned future resolves with its result once it has run.
    /// Refused at once with [`Busy`] when the queue (both lanes together) is full.
    pub fn spawn_in<R: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<impl Future<Output = Result<R, JobFailed>> + Send + 'static, Busy> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A receiver that went away (the client cancelled) does not care for the result.
            let _ = done.send(job());
        });
        let wake = {
            let mut state = self.shared.lock();
            if state.queued() >= self.shared.capacity {
                drop(state);
                self.shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(Busy {
                    capacity: self.shared.capacity,
                });
            }
            match lane {
                Lane::Light => state.light.push_back(QueuedJob(job)),
                Lane::Heavy => state.heavy.push_back(QueuedJob(job)),
            }
            state.idle > 0
        };
        self.shared.stats.submitted.fetch_add(1, Ordering::Relaxed);
        // Every waiting thread is idle and can take any job the lanes allow, so waking one is
        // enough (waking all cost each call a futile wake-up of the others). A heavy job that
        // no thread may take yet is taken when a heavy job ends, which notifies again.
        if wake {
            self.shared.ready.notify_one();
        }
        Ok(async move { result.await.map_err(|_| JobFailed) })
    }

    /// Jobs waiting for a thread now.
    pub fn queued(&self) -> usize {
        self.shared.lock().queued()
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Its counters.
    pub fn stats(&self) -> &ExecutorStats {
        &self.shared.stats
    }
}

/// One thread: takes jobs, light ones first and heavy ones while fewer than `max_heavy` run,
/// until the executor stops and the queue is empty.
fn work(shared: &Shared) {
    loop {
        let mut yielded = false;
        let (job, heavy) = {
            let mut state = shared.lock();
            loop {
                if let Some(job) = state.light.pop_front() {
                    break (job, false);
                }
                if state.heavy_running < shared.max_heavy
                    && let Some(job) = state.heavy.pop_front()
                {
                    state.heavy_running += 1;
                    break (job, true);
                }
                if state.stopping && state.queued() == 0 {
                    return;
                }
                if !yielded {
                    // Under load the next call is usually being decoded right now on an async
                    // worker: give it the core once before sleeping, so that it is queued
                    // without a wake-up (a futex wake and a context switch per call; this
                    // halved the context switches per call at 64 callers, BENCHMARKS.md).
                    yielded = true;
                    drop(state);
                    thread::yield_now();
                    state = shared.lock();
                    continue;
                }
                // Counted, so that a submission wakes a thread only when one sleeps.
                state.idle += 1;
                state = shared.ready.wait(state).unwrap_or_else(|p| p.into_inner());
                state.idle -= 1;
            }
        };
        // A panic ends this job only; its sender is dropped, so its caller sees `JobFailed`.
        let _ = catch_unwind(AssertUnwindSafe(job.0));
        shared.stats.completed.fetch_add(1, Ordering::Relaxed);
        if heavy {
            let mut state = shared.lock();
            state.heavy_running -= 1;
            if !state.heavy.is_empty() {
                drop(state);
                shared.ready.notify_all();
            }
        }
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    #[tokio::test]
    async fn jobs_run_off_the_caller_and_return_their_results() {
        let executor = Executor::new(2, 8).unwrap();
        let here = std::thread::current().id();
        let (value, thread) = executor
            .spawn(move || (6 * 7, std::thread::current().id()))
            .unwrap()
            .await
            .unwrap();
        assert_eq!(value, 42);
        assert_ne!(thread, here);
        assert_eq!(executor.stats().submitted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_at_the_limit_accepts() {
        // One thread, held by a job that waits on the barrier; then exactly `capacity` more
        // jobs fit, and the one after is refused.
        let executor = Executor::new(1, 3).unwrap();
        let hold = Arc::new(Barrier::new(2));
        let held = Arc::clone(&hold);
        let first = executor.spawn(move || held.wait()).unwrap();
        // Wait until the thread has taken the first job, so the queue is empty.
        while executor.queued() > 0 {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (0..3)
            .map(|i| executor.spawn(move || i).expect("within capacity"))
            .collect();
        assert_eq!(executor.queued(), 3);
        assert_eq!(executor.spawn(|| 99).err(), Some(Busy { capacity: 3 }));
        assert_eq!(executor.stats().rejected.load(Ordering::Relaxed), 1);
        hold.wait();
        first.await.unwrap();
        let mut results = Vec::new();
        for job in queued {
            results.push(job.await.unwrap());
        }
        assert_eq!(results, [0, 1, 2]);
    }

    #[tokio::test]
    async fn heavy_jobs_leave_one_thread_to_light_ones() {
        let executor = Executor::new(2, 16).unwrap();
        let hold = Arc::new(Barrier::new(2));
        // One heavy job holds a thread; a second heavy job must wait for it, not take the
        // other thread, which stays free for a light job.
        let held = Arc::clone(&hold);
        let first = executor.spawn_in(Lane::Heavy, move || held.wait()).unwrap();
        while executor.queued() > 0 {
            tokio::task::yield_now().await;
        }
        let second_ran = Arc::new(AtomicU64::new(0));
        let flag = Arc::clone(&second_ran);
        let second = executor
            .spawn_in(Lane::Heavy, move || flag.fetch_add(1, Ordering::SeqCst))
            .unwrap();
        let light = executor.spawn(|| "light").unwrap();
        assert_eq!(
            light.await,
            Ok("light"),
            "the light job ran beside the heavy one"
        );
        assert_eq!(
            second_ran.load(Ordering::SeqCst),
            0,
            "the second heavy job waits"
        );
        assert_eq!(executor.queued(), 1);
        hold.wait();
        first.await.unwrap();
        assert_eq!(second.await, Ok(0));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        let executor = Executor::new(1, 4).unwrap();
        let failed = executor
            .spawn(|| -> u8 { panic!("a bug in one call") })
            .unwrap();
        assert_eq!(failed.await, Err(JobFailed));
        let after = executor.spawn(|| 7).unwrap();
        assert_eq!(after.await, Ok(7));
    }

    #[test]
    fn dropping_the_executor_stops_its_threads_after_the_queue() {
        let executor = Executor::new(2, 16).unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        for _ in 0..10 {
            let ran = Arc::clone(&ran);
            // The result is not awaited: the jobs must run all the same.
            drop(
                executor
                    .spawn(move || {
                        std::thread::sleep(Duration::from_millis(1));
                        ran.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap(),
            );
        }
        let shared = Arc::clone(&executor.shared);
        drop(executor);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // The threads hold the last references once the handle is gone; they drop them when
        // they exit, after the queue is empty.
        while Arc::strong_count(&shared) > 1 {
            assert!(std::time::Instant::now() < deadline, "threads did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ran.load(Ordering::Relaxed), 10);
    }
}

/// Schedule exploration (`cargo test --features shuttle --lib executor::shuttle_tests`): two
/// heavy jobs and a light one on two threads, where the first heavy job can only finish after
/// the light one has run. If a second heavy job could take the last free thread, the light job
/// would never run and shuttle would report the deadlock (it does, with the reserve removed);
/// every schedule must complete every job, with never more than one heavy job running.
#[cfg(all(test, feature = "shuttle"))]
mod shuttle_tests {
    use super::*;

    #[derive(Default)]
    struct Observed {
        light_done: bool,
        heavy_running: usize,
        heavy_most: usize,
        finished: usize,
    }

    type Seen = Arc<(Mutex<Observed>, Condvar)>;

    fn heavy(seen: Seen) -> impl FnOnce() + Send + 'static {
        move || {
            let (lock, changed) = &*seen;
            let mut o = lock.lock().unwrap();
            o.heavy_running += 1;
            o.heavy_most = o.heavy_most.max(o.heavy_running);
            while !o.light_done {
                o = changed.wait(o).unwrap();
            }
            o.heavy_running -= 1;
            o.finished += 1;
            changed.notify_all();
        }
    }

    fn scenario() {
        let executor = Executor::new(2, 8).unwrap();
        let seen: Seen = Arc::new((Mutex::new(Observed::default()), Condvar::new()));
        let submitter = {
            let (executor, seen) = (executor.clone(), Arc::clone(&seen));
            thread::spawn(move || {
                drop(
                    executor
                        .spawn_in(Lane::Heavy, heavy(Arc::clone(&seen)))
                        .unwrap(),
                );
                drop(executor.spawn_in(Lane::Heavy, heavy(seen)).unwrap());
            })
        };
        let light_seen = Arc::clone(&seen);
        drop(
            executor
                .spawn(move || {
                    let (lock, changed) = &*light_seen;
                    let mut o = lock.lock().unwrap();
                    o.light_done = true;
                    o.finished += 1;
                    changed.notify_all();
                })
                .unwrap(),
        );
        submitter.join().unwrap();
        let (lock, changed) = &*seen;
        let mut o = lock.lock().unwrap();
        while o.finished < 3 {
            o = changed.wait(o).unwrap();
        }
        assert!(o.heavy_most <= 1, "two heavy jobs ran at once");
        drop(o);
        drop(executor);
    }

    #[test]
    fn a_light_job_always_finds_a_thread_and_every_job_completes() {
        shuttle::check_random(scenario, 2000);
        shuttle::check_pct(scenario, 2000, 3);
    }
}
