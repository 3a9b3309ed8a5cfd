//! [`CommitOrder`]: hands each piece's commits to the event sink in version order, exactly once,
//! without making any committing thread wait for another.
//!
//! A call submits its piece commits right after its transaction committed. Two calls that
//! committed versions 7 and 8 of a piece may submit in either order (the thread with 7 may be
//! preempted between its commit and its submission). Waiting for version 7 in the thread that
//! holds 8 would block that thread for as long as the other is descheduled, which on a loaded
//! machine is milliseconds, and every task queued on that thread with it. So nobody waits: a
//! submission that cannot be delivered yet is parked, and whichever thread delivers the version
//! before it also delivers it ("combining"). Per piece, at most one thread delivers at a time,
//! and it delivers while holding no lock, so deliveries of one piece never overlap and stay in
//! version order.
//!
//! A piece's order starts at its creation (`created` with the version it was created at): a
//! commit submitted before its piece's creation is parked until then. Versions grow by one per
//! commit; a deletion carries the last version and comes after the commit of that version, and
//! ends the piece's order.
//!
//! The per-piece state sits in a fixed number of mutex-guarded shards, on the STM's
//! synchronisation shim, so that the shuttle tests (`--features shuttle`) explore its
//! interleavings too.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{EventSink, PieceCommit};
use crate::model::PieceId;
use crate::stm::sync::{self, Mutex};

/// Shards of the per-piece state (a power of two; pieces spread by their id's low bits).
const SHARDS: usize = 32;

/// What one committed transaction did to pieces, in the order to submit it.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    /// Creations (version = the version each piece was created at).
    pub(crate) created: Vec<PieceCommit>,
    /// Commits of changed pieces (version = the new version).
    pub(crate) commits: Vec<PieceCommit>,
    /// Deletions (version = the piece's last version).
    pub(crate) deletions: Vec<PieceCommit>,
    /// Pieces deleted while not in memory, with their version: their order starts there.
    pub(crate) starts: Vec<(PieceId, u64)>,
}

/// Where a submission sorts among a piece's submissions: the creation at version v, a
/// commit of version v, then a deletion at version v.
type Key = (u64, Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Creation,
    Commit,
    Deletion,
}

#[derive(Debug, Default)]
struct PieceOrder {
    /// The last version delivered (or the creation version); `None` until the creation is
    /// submitted.
    last: Option<u64>,
    /// A thread is delivering this piece's submissions now.
    delivering: bool,
    /// The deletion was delivered: nothing more will come.
    ended: bool,
    parked: BTreeMap<Key, PieceCommit>,
}

impl PieceOrder {
    /// Takes the submissions that are next in order.
    fn take_ready(&mut self, ready: &mut Vec<PieceCommit>) {
        while let Some((&(version, kind), _)) = self.parked.first_key_value() {
            let next = match (kind, self.last) {
                (Kind::Creation, None) => true,
                (Kind::Commit, Some(last)) => version == last + 1,
                (Kind::Deletion, Some(last)) => version == last,
                _ => false,
            };
            if !next {
                break;
            }
            if let Some((_, commit)) = self.parked.pop_first() {
                ready.push(commit);
            }
            match kind {
                Kind::Creation | Kind::Commit => self.last = Some(version),
                Kind::Deletion => self.ended = true,
            }
        }
    }
}

/// Orders every piece's commits for the sink (see the module documentation).
#[derive(Debug)]
pub(crate) struct CommitOrder {
    shards: Vec<Mutex<HashMap<PieceId, PieceOrder>>>,
}

impl Default for CommitOrder {
    fn default() -> Self {
        CommitOrder {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl CommitOrder {
    fn shard(&self, piece: PieceId) -> &Mutex<HashMap<PieceId, PieceOrder>> {
        // Piece ids are random UUIDs: their last byte is as good as a hash.
        &self.shards[usize::from(piece.0.as_bytes()[15]) % SHARDS]
    }

    /// Submits what one committed transaction did; delivers to `sink` what is next in order
    /// (possibly also other threads' parked submissions), never waiting for another thread.
    pub(crate) fn submit(&self, committed: Committed, sink: &dyn EventSink) {
        for creation in committed.created {
            let key = (creation.version, Kind::Creation);
            self.add(creation.piece_id, key, creation, sink);
        }
        for commit in committed.commits {
            let key = (commit.version, Kind::Commit);
            self.add(commit.piece_id, key, commit, sink);
        }
        for deletion in committed.deletions {
            let key = (deletion.version, Kind::Deletion);
            self.add(deletion.piece_id, key, deletion, sink);
        }
    }

    /// Starts the order of a piece that exists without a creation to deliver (loaded from the
    /// store at `version`): its next commit is `version + 1`.
    pub(crate) fn start(&self, piece: PieceId, version: u64) {
        let mut pieces = sync::lock(self.shard(piece));
        let order = pieces.entry(piece).or_default();
        order.last = Some(version);
    }

    /// Forgets a piece's order (the piece was evicted from memory; it starts again when it is
    /// loaded). Returns false, forgetting nothing, while anything of it is undelivered.
    pub(crate) fn forget(&self, piece: PieceId) -> bool {
        let mut pieces = sync::lock(self.shard(piece));
        match pieces.get(&piece) {
            Some(order) if order.delivering || !order.parked.is_empty() => false,
            _ => {
                pieces.remove(&piece);
                true
            }
        }
    }

    fn add(&self, piece: PieceId, key: Key, commit: PieceCommit, sink: &dyn EventSink) {
        let shard = self.shard(piece);
        let mut ready = Vec::new();
        {
            let mut pieces = sync::lock(shard);
            let order = pieces.entry(piece).or_default();
            order.parked.insert(key, commit);
            if order.delivering {
                return; // the delivering thread will take it
            }
            order.take_ready(&mut ready);
            if ready.is_empty() {
                return;
            }
            order.delivering = true;
        }
        loop {
            for commit in ready.drain(..) {
                // A panicking sink must not leave the piece's order stuck in `delivering` (the
                // commit's ack, dropped unsettled, reports the failure to its caller).
                let _ = catch_unwind(AssertUnwindSafe(|| sink.piece_committed(commit)));
            }
            let mut pieces = sync::lock(shard);
            let Some(order) = pieces.get_mut(&piece) else {
                return;
            };
            order.take_ready(&mut ready);
            if ready.is_empty() {
                order.delivering = false;
                if order.ended && order.parked.is_empty() {
                    pieces.remove(&piece);
                }
                return;
            }
        }
    }

    /// Whether nothing submitted is waiting to be delivered, nor being delivered.
    pub(crate) fn is_idle(&self) -> bool {
        self.shards.iter().all(|shard| {
            sync::lock(shard)
                .values()
                .all(|order| !order.delivering && order.parked.is_empty())
        })
    }

    /// Whether `piece`'s order is still kept: it was created and its deletion (if any) has not
    /// been delivered yet. A piece id must not be used for a new piece while this holds, or the
    /// two pieces' commits would share one order.
    pub(crate) fn knows(&self, piece: PieceId) -> bool {
        sync::lock(self.shard(piece)).contains_key(&piece)
    }

    /// Pieces whose order is being kept (created and not yet deleted), for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| sync::lock(s).len()).sum()
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(PieceId, u64, bool)>>);

    impl EventSink for Recorder {
        fn piece_committed(&self, commit: PieceCommit) {
            if commit.created.is_some() {
                return;
            }
            self.0.lock().unwrap().push((
                commit.piece_id,
                commit.version,
                !commit.events.is_empty(),
            ));
        }
    }

    fn commit(piece: PieceId, version: u64) -> PieceCommit {
        PieceCommit::new("t".into(), "u".into(), piece, version)
    }

    fn creation(piece: PieceId, version: u64) -> PieceCommit {
        PieceCommit {
            created: Some(Arc::new(crate::model::Piece::new(piece, "p"))),
            ..commit(piece, version)
        }
    }

    fn deletion(piece: PieceId, version: u64) -> PieceCommit {
        PieceCommit {
            deleted: true,
            events: vec![crate::model::classify::deleted(piece, version)],
            ..commit(piece, version)
        }
    }

    fn only(commit: PieceCommit) -> Committed {
        Committed {
            commits: vec![commit],
            ..Committed::default()
        }
    }

    #[test]
    fn out_of_order_submissions_are_delivered_in_version_order() {
        let order = CommitOrder::default();
        let sink = Recorder::default();
        let p = PieceId::mint();
        order.submit(only(commit(p, 3)), &sink);
        order.submit(only(commit(p, 1)), &sink);
        assert!(sink.0.lock().unwrap().is_empty(), "parked until created");
        order.submit(
            Committed {
                created: vec![creation(p, 0)],
                ..Committed::default()
            },
            &sink,
        );
        assert_eq!(*sink.0.lock().unwrap(), vec![(p, 1, false)]);
        order.submit(only(commit(p, 2)), &sink);
        assert_eq!(
            *sink.0.lock().unwrap(),
            vec![(p, 1, false), (p, 2, false), (p, 3, false)],
            "2 delivered 3, which was parked"
        );
    }

    #[test]
    fn a_deletion_follows_the_commit_of_its_version_and_ends_the_piece() {
        let order = CommitOrder::default();
        let sink = Recorder::default();
        let p = PieceId::mint();
        order.submit(
            Committed {
                created: vec![creation(p, 0)],
                ..Committed::default()
            },
            &sink,
        );
        order.submit(
            Committed {
                deletions: vec![deletion(p, 1)],
                ..Committed::default()
            },
            &sink,
        );
        assert!(sink.0.lock().unwrap().is_empty(), "waits for version 1");
        assert!(
            order.knows(p),
            "not reusable while its deletion is undelivered"
        );
        order.submit(only(commit(p, 1)), &sink);
        assert_eq!(*sink.0.lock().unwrap(), vec![(p, 1, false), (p, 1, true)]);
        assert_eq!(order.len(), 0, "a deleted piece's order is dropped");
        assert!(!order.knows(p), "so its id may be used again");
    }

    #[test]
    fn concurrent_submitters_never_wait_and_every_commit_arrives_once_in_order() {
        let order = CommitOrder::default();
        let sink = Recorder::default();
        let pieces = [PieceId::mint(), PieceId::mint()];
        for p in pieces {
            order.submit(
                Committed {
                    created: vec![creation(p, 0)],
                    ..Committed::default()
                },
                &sink,
            );
        }
        // Four threads submit interleaved versions of two pieces in scrambled order.
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (order, sink) = (&order, &sink);
                scope.spawn(move || {
                    for i in (0..500u64).rev() {
                        let version = i * 4 + t + 1;
                        for p in pieces {
                            order.submit(only(commit(p, version)), sink);
                        }
                    }
                });
            }
        });
        let delivered = sink.0.lock().unwrap();
        for p in pieces {
            let versions: Vec<u64> = delivered
                .iter()
                .filter(|(piece, _, _)| *piece == p)
                .map(|(_, v, _)| *v)
                .collect();
            assert_eq!(versions, (1..=2000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panicking_sink_does_not_stop_later_deliveries() {
        struct Flaky(Recorder);
        impl EventSink for Flaky {
            fn piece_committed(&self, commit: PieceCommit) {
                let version = commit.version;
                self.0.piece_committed(commit);
                if version == 1 {
                    panic!("sink failure");
                }
            }
        }
        let order = CommitOrder::default();
        let sink = Flaky(Recorder::default());
        let p = PieceId::mint();
        order.submit(
            Committed {
                created: vec![creation(p, 0)],
                commits: vec![commit(p, 1)],
                ..Committed::default()
            },
            &sink,
        );
        order.submit(only(commit(p, 2)), &sink);
        assert_eq!(
            *sink.0.0.lock().unwrap(),
            vec![(p, 1, false), (p, 2, false)]
        );
    }
}

/// Schedule exploration (`cargo test --features shuttle --lib api::order`): whatever the
/// interleaving of creation, commits and deletion submitted from different threads, each is
/// delivered once, in order, and the finished piece's state is dropped.
#[cfg(all(test, feature = "shuttle"))]
mod shuttle_tests {
    use std::sync::Arc;

    use shuttle::sync::Mutex;
    use shuttle::thread;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(PieceId, u64, bool)>>);

    impl EventSink for Recorder {
        fn piece_committed(&self, commit: PieceCommit) {
            if commit.created.is_some() {
                return;
            }
            let deletion = !commit.events.is_empty();
            self.0
                .lock()
                .unwrap()
                .push((commit.piece_id, commit.version, deletion));
        }
    }

    fn commit(piece: PieceId, version: u64, deletion: bool) -> PieceCommit {
        PieceCommit {
            deleted: deletion,
            events: if deletion {
                vec![crate::model::classify::deleted(piece, version)]
            } else {
                Vec::new()
            },
            ..PieceCommit::new("t".into(), "u".into(), piece, version)
        }
    }

    fn creation(piece: PieceId, version: u64) -> PieceCommit {
        PieceCommit {
            created: Some(Arc::new(crate::model::Piece::new(piece, "p"))),
            ..commit(piece, version, false)
        }
    }

    fn scenario() {
        // Same last byte: both pieces share a shard.
        let a = PieceId(uuid::Uuid::from_u128(0x0107));
        let b = PieceId(uuid::Uuid::from_u128(0x0207));
        let order = Arc::new(CommitOrder::default());
        let sink = Arc::new(Recorder::default());
        let submit = |committed: Committed| {
            let (order, sink) = (Arc::clone(&order), Arc::clone(&sink));
            thread::spawn(move || order.submit(committed, &*sink))
        };
        let threads = [
            submit(Committed {
                created: vec![creation(a, 0), creation(b, 5)],
                ..Committed::default()
            }),
            submit(Committed {
                commits: vec![commit(a, 1, false), commit(b, 6, false)],
                ..Committed::default()
            }),
            submit(Committed {
                commits: vec![commit(a, 2, false)],
                deletions: vec![commit(a, 2, true)],
                ..Committed::default()
            }),
        ];
        for t in threads {
            t.join().unwrap();
        }
        let delivered = sink.0.lock().unwrap().clone();
        let of = |p: PieceId| -> Vec<(u64, bool)> {
            delivered
                .iter()
                .filter(|(piece, ..)| *piece == p)
                .map(|(_, v, d)| (*v, *d))
                .collect()
        };
        assert_eq!(of(a), vec![(1, false), (2, false), (2, true)]);
        assert_eq!(of(b), vec![(6, false)]);
        assert_eq!(
            order.len(),
            1,
            "the deleted piece is forgotten, the live one kept"
        );
    }

    #[test]
    fn every_interleaving_delivers_each_submission_once_in_order() {
        shuttle::check_random(scenario, 3000);
        shuttle::check_pct(scenario, 3000, 3);
    }
}
