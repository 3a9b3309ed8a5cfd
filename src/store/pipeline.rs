//! The durability stage: every piece commit passes through here, in each piece's version
//! order, on its way to the event stage.
//!
//! The API's commit order hands each commit to [`DurabilityStage::piece_committed`], which
//! encodes its record on the committing thread and queues it. One writer task takes whatever
//! is queued (up to [`MAX_GROUP`] records) and appends it in one store transaction: concurrent
//! commits share one fsync (group commit). Once the transaction committed, the writer settles
//! each commit's ack (with `durability = sync` the caller was waiting for it) and hands the
//! commit on to the event stage, in queue order, so no event goes out for a commit that is not
//! durable, and each piece's events keep their order. With `durability = async` the ack is
//! settled when the record is queued; at most `store.max_unflushed` records wait so, and more
//! wait for the store as in `sync`.
//!
//! Fail-stop: when an append fails, the stage refuses writes through the API's write gate,
//! marks the server not ready, fails every queued record (their callers get UNAVAILABLE
//! `STORE_UNAVAILABLE`) and remembers their pieces. A recovery task pings the store every
//! second; once it answers and every commit made before the gate closed has reached the stage,
//! it reloads the remembered pieces from the store (dropping the changes that never became
//! durable), opens the gate and marks the server ready again. No restart is needed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::record::{Record, checksum};
use super::{EntryKind, LogEntry, Store};
use crate::api::{Api, EventSink, PieceCommit};
use crate::config::Durability;
use crate::identity::TenantId;
use crate::model::{ChangeOp, PieceId};

/// The most records one store transaction takes.
pub const MAX_GROUP: usize = 512;

/// How long an append may take before the store counts as failed.
const APPEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a failed store is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// What the stage counted (read by the metrics collectors).
#[derive(Debug, Default)]
pub struct StageStats {
    /// Records made durable.
    pub records: AtomicU64,
    /// Store transactions (groups) committed.
    pub groups: AtomicU64,
    /// Appends that failed.
    pub failures: AtomicU64,
    /// Time spent in appends, µs.
    pub append_us: AtomicU64,
    /// Snapshots written.
    pub snapshots: AtomicU64,
    /// Snapshots that failed.
    pub snapshot_failures: AtomicU64,
}

struct Pending {
    entry: LogEntry,
    commit: PieceCommit,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Pending>,
    /// Records acknowledged before they were durable (async), not yet written.
    unflushed: usize,
    /// Tenant records to store (`None`: removed), in order.
    tenants: Vec<(u64, TenantId, Option<Vec<u8>>)>,
    /// The number of the last tenant change queued.
    tenants_queued: u64,
    /// Records the writer took and has not settled yet (they count as queued).
    in_writer: usize,
    /// No more records: the writer drains what is queued and stops.
    closed: bool,
}

/// Hooks the stage calls on the rest of the server.
pub trait StageHooks: Send + Sync {
    /// The store failed (`false`) or recovered (`true`): readiness follows.
    fn store_available(&self, available: bool);
}

struct Shared {
    /// Set by [`DurabilityStage::open`]; until then records wait in the queue.
    store: OnceLock<Arc<dyn Store>>,
    durability: Durability,
    max_unflushed: usize,
    snapshot_every: u64,
    queue: Mutex<Queue>,
    /// Wakes the writer (records queued, or closing).
    wake_writer: Notify,
    /// Wakes flushers (the queue emptied).
    drained: Notify,
    events: Arc<dyn EventSink>,
    api: OnceLock<Api>,
    hooks: OnceLock<Arc<dyn StageHooks>>,
    /// The store failed and has not recovered.
    failed: AtomicBool,
    /// Held while failing or recovering changes `failed`, the write gate and readiness, so
    /// that the three always change together (a failure right after a recovery cannot be
    /// overtaken by that recovery opening the gate).
    transition: Mutex<()>,
    /// The number of the last tenant change stored (they are stored in order).
    tenants_written: AtomicU64,
    /// Pieces that lost commits in the failure: reloaded on recovery.
    dirty: Mutex<HashSet<PieceId>>,
    /// Per piece: records written since its last snapshot, its last durable version, and
    /// whether a snapshot of it is being taken.
    since_snapshot: Mutex<HashMap<PieceId, (u64, u64, bool)>>,
    stats: Arc<StageStats>,
}

/// The durability stage (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct DurabilityStage(Arc<Shared>);

impl std::fmt::Debug for DurabilityStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurabilityStage")
            .field("backend", &self.0.store.get().map(|s| s.backend()))
            .field("durability", &self.0.durability)
            .finish()
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The log entry of `commit` (its record encoded, and what it does to the metadata).
pub fn entry_of(commit: &PieceCommit) -> LogEntry {
    let record = Record::of(commit);
    let body = record.encode();
    let kind = if let Some(piece) = &commit.created {
        EntryKind::Created {
            title: piece.title.to_string(),
            owner: commit.access.as_ref().map_or_else(
                || commit.author.as_str().to_owned(),
                |a| a.owner.as_str().to_owned(),
            ),
        }
    } else if commit.deleted {
        EntryKind::Deleted
    } else {
        EntryKind::Changed {
            title: commit.changes.iter().rev().find_map(|c| match &c.op {
                ChangeOp::SetTitle(t) => Some(t.to_string()),
                _ => None,
            }),
        }
    };
    LogEntry {
        piece_id: commit.piece_id,
        tenant: commit.tenant.clone(),
        version: commit.version,
        kind,
        access: record
            .access
            .as_ref()
            .map(|a| crate::value::wire::encode(&super::record::access_to_value(a))),
        checksum: checksum(&body),
        body,
        at_us: now_us(),
    }
}

/// One `store.write` span per transaction in `group`, each a child of the call that made it
/// (none for commits made outside a traced call). They end when dropped, after the append.
fn write_spans(group: &[PieceCommit], backend: &str) -> Vec<tracing::Span> {
    let mut spans = Vec::new();
    let mut last_txn = None;
    for commit in group {
        if last_txn == Some(commit.txn.0) || commit.span.is_disabled() {
            continue;
        }
        last_txn = Some(commit.txn.0);
        spans.push(tracing::info_span!(
            target: "ooloi_server::traces",
            parent: &commit.span,
            "store.write",
            db.system = backend,
            records = commit.txn.1,
            group_records = group.len(),
            otel.status_code = tracing::field::Empty,
        ));
    }
    spans
}

/// The `events.fan_out` span of a durable commit, a child of the call that made it.
fn fan_out_span(commit: &PieceCommit) -> tracing::Span {
    if commit.span.is_disabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: "ooloi_server::traces",
        parent: &commit.span,
        "events.fan_out",
        piece_id = %commit.piece_id,
        version = commit.version,
        events = commit.events.len(),
    )
}

/// How many records from the front of `items` form whole transactions: every transaction
/// with a commit among them has all its commits among them. At least [`MAX_GROUP`] if that
/// many are whole (more only to finish a large transaction); 0 while the first transaction
/// waits for a commit still in the API's commit order.
fn whole_transactions(items: &VecDeque<Pending>) -> usize {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut incomplete = 0usize;
    let mut whole = 0;
    for (i, pending) in items.iter().enumerate() {
        let (txn, parts) = pending.commit.txn;
        if parts > 1 {
            let count = seen.entry(txn).or_insert(0);
            if *count == 0 {
                incomplete += 1;
            }
            *count += 1;
            if *count == parts {
                incomplete -= 1;
            }
        }
        if incomplete == 0 {
            whole = i + 1;
            if whole >= MAX_GROUP {
                break;
            }
        }
    }
    whole
}

impl DurabilityStage {
    /// A stage handing durable commits to `events`; it writes once [`DurabilityStage::open`]
    /// gave it a store (commits made before wait in its queue).
    pub fn new(
        durability: Durability,
        max_unflushed: usize,
        snapshot_every: u64,
        events: Arc<dyn EventSink>,
    ) -> DurabilityStage {
        DurabilityStage(Arc::new(Shared {
            store: OnceLock::new(),
            durability,
            max_unflushed,
            snapshot_every: snapshot_every.max(1),
            queue: Mutex::new(Queue::default()),
            wake_writer: Notify::new(),
            drained: Notify::new(),
            events,
            api: OnceLock::new(),
            hooks: OnceLock::new(),
            failed: AtomicBool::new(false),
            transition: Mutex::new(()),
            tenants_written: AtomicU64::new(0),
            dirty: Mutex::new(HashSet::new()),
            since_snapshot: Mutex::new(HashMap::new()),
            stats: Arc::new(StageStats::default()),
        }))
    }

    /// The store records go to, once open.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.0.store.get()
    }

    /// Gives the stage its store and starts the writer task on the current runtime. A second
    /// call does nothing.
    pub fn open(&self, store: Arc<dyn Store>) {
        if self.0.store.set(store).is_ok() {
            let stage = self.clone();
            tokio::spawn(async move { stage.run_writer().await });
        }
    }

    /// What the stage counted.
    pub fn stats(&self) -> &Arc<StageStats> {
        &self.0.stats
    }

    /// Whether the store is failed now.
    pub fn is_failed(&self) -> bool {
        self.0.failed.load(Acquire)
    }

    /// Records queued and not durable yet.
    pub fn queued(&self) -> usize {
        let queue = self.lock();
        queue.items.len() + queue.in_writer
    }

    /// Connects the stage to the API it serves (for the write gate, snapshots and reloads)
    /// and to the server's hooks.
    pub fn attach(&self, api: Api, hooks: Arc<dyn StageHooks>) {
        let _ = self.0.api.set(api);
        let _ = self.0.hooks.set(hooks);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until everything queued so far is written (or failed); then, if `close`, stops
    /// the writer. Shutdown calls it with `close` after the transports drained.
    pub async fn flush(&self, close: bool) {
        if self.0.store.get().is_none() {
            // Never opened: nothing will write what is queued.
            let queued: Vec<PieceCommit> = {
                let mut queue = self.lock();
                queue.closed |= close;
                queue.items.drain(..).map(|p| p.commit).collect()
            };
            self.fail(queued, "the store was never opened".into());
            return;
        }
        loop {
            let drained = self.0.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let mut queue = self.lock();
                if close {
                    queue.closed = true;
                }
                if queue.items.is_empty()
                    && queue.in_writer == 0
                    && (queue.tenants.is_empty() || self.is_failed())
                {
                    break;
                }
            }
            self.0.wake_writer.notify_one();
            drained.await;
        }
        self.0.wake_writer.notify_one();
    }

    async fn run_writer(self) {
        loop {
            let woken = self.0.wake_writer.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let tenants = std::mem::take(&mut self.lock().tenants);
            if !tenants.is_empty() {
                self.write_tenants(tenants).await;
                self.0.drained.notify_waiters();
            }
            let group: Option<Vec<Pending>> = {
                let mut queue = self.lock();
                if queue.items.is_empty() && !queue.tenants.is_empty() && !self.is_failed() {
                    continue;
                }
                if queue.items.is_empty() {
                    self.0.drained.notify_waiters();
                    if queue.closed {
                        return;
                    }
                }
                let n = match whole_transactions(&queue.items) {
                    // Shutting down with a transaction whose other commits never came (a
                    // stage that panicked): what there is is written.
                    0 if queue.closed => queue.items.len(),
                    n => n,
                };
                queue.in_writer = n;
                (n > 0).then(|| queue.items.drain(..n).collect())
            };
            let Some(group) = group else {
                woken.await;
                continue;
            };
            self.write_group(group).await;
            self.lock().in_writer = 0;
        }
    }

    /// Stores tenant changes; on failure they stay queued (ahead of later ones) for after the
    /// store recovered.
    async fn write_tenants(&self, changes: Vec<(u64, TenantId, Option<Vec<u8>>)>) {
        let Some(store) = self.0.store.get() else {
            return;
        };
        if !self.is_failed() {
            let mut done = 0;
            for (seq, tenant, body) in &changes {
                let outcome = match body {
                    Some(body) => store.put_tenant(tenant, body).await,
                    None => store.delete_tenant(tenant).await,
                };
                if let Err(e) = outcome {
                    self.0.stats.failures.fetch_add(1, Relaxed);
                    tracing::error!(target: "ooloi_server::store", error = %e, tenant = %tenant, "storing a tenant record failed: writes are refused until the store recovers");
                    self.enter_failure();
                    break;
                }
                self.0.tenants_written.store(*seq, Relaxed);
                done += 1;
            }
            if done == changes.len() {
                return;
            }
            let mut queue = self.lock();
            let later = std::mem::take(&mut queue.tenants);
            queue.tenants = changes.into_iter().skip(done).chain(later).collect();
            return;
        }
        let mut queue = self.lock();
        let later = std::mem::take(&mut queue.tenants);
        queue.tenants = changes.into_iter().chain(later).collect();
    }

    /// Queues a tenant record to store (`None`: removed). Written ahead of the next group of
    /// records; the admin call does not wait for it.
    pub fn tenant_changed(&self, tenant: &TenantId, body: Option<Vec<u8>>) {
        let mut queue = self.lock();
        queue.tenants_queued += 1;
        let seq = queue.tenants_queued;
        queue.tenants.push((seq, tenant.clone(), body));
        drop(queue);
        self.0.wake_writer.notify_one();
    }

    /// Waits until every tenant change queued so far is stored (an admin call is acknowledged
    /// only then); fails if the store fails first.
    pub async fn tenants_durable(&self) -> Result<(), crate::error::Error> {
        let target = self.lock().tenants_queued;
        if self.0.store.get().is_none() {
            return Ok(()); // not open: the changes are stored once it is (start-up seeds)
        }
        loop {
            let drained = self.0.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.0.tenants_written.load(Relaxed) >= target {
                return Ok(());
            }
            if self.is_failed() {
                return Err(crate::error::Error::StoreUnavailable {
                    message: "the store is unavailable; the tenant change is not stored".into(),
                });
            }
            self.0.wake_writer.notify_one();
            drained.await;
        }
    }

    async fn write_group(&self, group: Vec<Pending>) {
        let acked_early = self.0.durability == Durability::Async;
        let (entries, group): (Vec<LogEntry>, Vec<PieceCommit>) =
            group.into_iter().map(|p| (p.entry, p.commit)).unzip();
        if self.is_failed() {
            self.fail(group, "the store is unavailable".into());
            return;
        }
        let Some(store) = self.0.store.get() else {
            return;
        };
        let writes = write_spans(&group, store.backend());
        let started = Instant::now();
        // A store that stops answering (a connection black-holed) fails like one that refuses.
        let outcome = match tokio::time::timeout(APPEND_TIMEOUT, store.append(&entries)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(super::StoreError::Unavailable(format!(
                "no answer from the store within {} s",
                APPEND_TIMEOUT.as_secs()
            ))),
        };
        self.0
            .stats
            .append_us
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        if outcome.is_err() {
            for span in &writes {
                span.record("otel.status_code", "ERROR");
            }
        }
        drop(writes);
        match outcome {
            Ok(()) => {
                self.0.stats.groups.fetch_add(1, Relaxed);
                self.0.stats.records.fetch_add(group.len() as u64, Relaxed);
                if acked_early {
                    let mut queue = self.lock();
                    queue.unflushed = queue
                        .unflushed
                        .saturating_sub(group.iter().filter(|c| c.ack.0.is_none()).count());
                }
                let mut snapshots = Vec::new();
                for mut commit in group {
                    commit.ack.settle(Ok(()));
                    self.count_for_snapshot(&commit, &mut snapshots);
                    // The event stage settles nothing now: the ack is gone.
                    let events = self.0.events.clone();
                    let fan_out = fan_out_span(&commit);
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                        fan_out.in_scope(|| events.piece_committed(commit))
                    }));
                }
                for piece in snapshots {
                    self.spawn_snapshot(piece);
                }
            }
            Err(e) => {
                self.0.stats.failures.fetch_add(1, Relaxed);
                tracing::error!(target: "ooloi_server::store", error = %e, records = group.len(), "append failed: writes are refused until the store recovers");
                // The gate closes and readiness turns false before any caller hears of the
                // failure.
                self.enter_failure();
                self.fail(group, e.to_string());
            }
        }
    }

    /// Fails `group`'s commits: their callers get UNAVAILABLE, their pieces are reloaded
    /// from the store on recovery, and no event goes out for them.
    fn fail(&self, group: Vec<PieceCommit>, message: String) {
        let mut dirty = self.0.dirty.lock().unwrap_or_else(|e| e.into_inner());
        let mut queue_unflushed = 0;
        for mut commit in group {
            if commit.ack.0.is_none() {
                queue_unflushed += 1;
            }
            let piece = commit.piece_id;
            if dirty.insert(piece)
                && let Some(api) = self.0.api.get()
            {
                // What it holds in memory is not durable: nobody reads it until the piece is
                // reloaded from the store.
                api.refuse_piece(
                    commit.tenant.clone(),
                    piece,
                    crate::error::Error::StoreUnavailable {
                        message: format!(
                            "piece {piece} is reloaded from the store once the store recovers"
                        ),
                    },
                );
            }
            commit
                .ack
                .settle(Err(crate::error::Error::StoreUnavailable {
                    message: message.clone(),
                }));
        }
        drop(dirty);
        if queue_unflushed > 0 {
            let mut queue = self.lock();
            queue.unflushed = queue.unflushed.saturating_sub(queue_unflushed);
        }
    }

    fn enter_failure(&self) {
        let _transition = self.0.transition.lock().unwrap_or_else(|e| e.into_inner());
        if self.0.failed.load(Acquire) {
            return;
        }
        // The gate closes and readiness turns false before the failure is visible
        // (`is_failed`, Release/Acquire): a caller told of it finds the server not ready.
        if let Some(api) = self.0.api.get() {
            api.set_write_refusal(Some("the store is unavailable; try again shortly".into()));
        }
        if let Some(hooks) = self.0.hooks.get() {
            hooks.store_available(false);
        }
        self.0.failed.store(true, Release);
        let stage = self.clone();
        tokio::spawn(async move { stage.recover().await });
    }

    /// Waits for the store, then reloads the pieces that lost commits and takes writes again.
    async fn recover(self) {
        loop {
            tokio::time::sleep(RETRY_EVERY).await;
            let Some(store) = self.0.store.get() else {
                return;
            };
            if store.ping().await.is_err() {
                continue;
            }
            let Some(api) = self.0.api.get() else {
                return;
            };
            // Every commit made before the gate closed must have reached the stage (and
            // failed) before its piece is reloaded, or a late one would land on the reloaded
            // piece.
            if !api.writes_quiescent() || self.queued() > 0 {
                continue;
            }
            let dirty: Vec<PieceId> = self
                .0
                .dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .collect();
            let mut reloaded = true;
            for piece in &dirty {
                match super::recovery::reload(&**store, api, *piece).await {
                    Ok(()) => {
                        self.0
                            .dirty
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(piece);
                    }
                    Err(crate::error::Error::StoreUnavailable { message }) => {
                        tracing::warn!(target: "ooloi_server::store", piece = %piece, error = %message, "reload after the store failure failed; retrying");
                        reloaded = false;
                        break;
                    }
                    Err(e) => {
                        // Damaged in the store: refused (DATA_LOSS), never written; the other
                        // pieces recover.
                        tracing::error!(target: "ooloi_server::store", piece = %piece, error = %e, "piece refused after the store failure: its stored data is damaged");
                        self.0
                            .dirty
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(piece);
                    }
                }
            }
            if !reloaded {
                continue;
            }
            {
                let _transition = self.0.transition.lock().unwrap_or_else(|e| e.into_inner());
                self.0.failed.store(false, Release);
                api.set_write_refusal(None);
                if let Some(hooks) = self.0.hooks.get() {
                    hooks.store_available(true);
                }
            }
            // Tenant changes held back while the store was down go now.
            self.0.wake_writer.notify_one();
            tracing::info!(target: "ooloi_server::store", reloaded = dirty.len(), "the store recovered: writes are taken again");
            return;
        }
    }

    fn count_for_snapshot(&self, commit: &PieceCommit, due: &mut Vec<PieceId>) {
        let mut counts = self
            .0
            .since_snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if commit.deleted {
            counts.remove(&commit.piece_id);
            return;
        }
        let (n, durable, taking) = counts.entry(commit.piece_id).or_insert((0, 0, false));
        *n += 1;
        *durable = commit.version;
        // Due until one is taken: a snapshot skipped (its piece was ahead of the store) is
        // tried again at the next record, one at a time per piece.
        if *n >= self.0.snapshot_every && !*taking {
            *taking = true;
            due.push(commit.piece_id);
        }
    }

    /// Writes a snapshot of `piece` in the background: its state is read and encoded off the
    /// writer, and only a state no newer than what is durable is written.
    fn spawn_snapshot(&self, piece: PieceId) {
        let Some(api) = self.0.api.get().cloned() else {
            return;
        };
        let stage = self.clone();
        tokio::spawn(async move {
            let taken = stage.snapshot(&api, piece).await;
            if let Err(e) = &taken {
                stage.0.stats.snapshot_failures.fetch_add(1, Relaxed);
                tracing::warn!(target: "ooloi_server::store", piece = %piece, error = %e, "snapshot failed; the log is kept");
            }
            let mut counts = stage
                .0
                .since_snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((n, _, taking)) = counts.get_mut(&piece) {
                *taking = false;
                if matches!(taken, Ok(true)) {
                    *n = 0;
                }
            }
        });
    }

    /// Snapshots `piece` now (also used by benchmarks and tests).
    /// Snapshots `piece` now if its state in memory is all durable; returns whether it did.
    pub async fn snapshot(&self, api: &Api, piece: PieceId) -> Result<bool, crate::error::Error> {
        // A version the writer has not made durable yet (a commit racing the snapshot) is not
        // snapshotted: after a crash the snapshot would hold what the log does not. Checked
        // before the (costly) encoding; the next record tries again.
        let Some((state, access)) = api.piece_state(piece) else {
            return Ok(false);
        };
        if self
            .durable_version_of(piece)
            .is_none_or(|durable| state.version != durable)
        {
            return Ok(false);
        }
        let encoded = tokio::task::spawn_blocking(move || {
            let state = super::record::PieceState {
                piece: state,
                access,
            };
            let body = state.encode();
            (state.piece.version, checksum(&body), body)
        })
        .await
        .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        let (version, sum, body) = encoded;
        let Some(store) = self.0.store.get() else {
            return Ok(false);
        };
        store
            .put_snapshot(
                piece,
                super::Stored {
                    version,
                    body,
                    checksum: sum.to_vec(),
                },
            )
            .await?;
        self.0.stats.snapshots.fetch_add(1, Relaxed);
        Ok(true)
    }

    /// The last version of `piece` this stage made durable, if it wrote any.
    pub fn durable_version_of(&self, piece: PieceId) -> Option<u64> {
        self.0
            .since_snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&piece)
            .map(|(_, durable, _)| *durable)
    }
}

impl EventSink for DurabilityStage {
    fn piece_committed(&self, mut commit: PieceCommit) {
        let entry = entry_of(&commit);
        let mut queue = self.lock();
        if queue.closed {
            drop(queue);
            commit
                .ack
                .settle(Err(crate::error::Error::StoreUnavailable {
                    message: "the server is shutting down".into(),
                }));
            return;
        }
        if self.0.durability == Durability::Async && queue.unflushed < self.0.max_unflushed {
            queue.unflushed += 1;
            commit.ack.settle(Ok(()));
        }
        queue.items.push_back(Pending { entry, commit });
        drop(queue);
        self.0.wake_writer.notify_one();
    }
}
