//! Concurrent writers through `Api::execute`: 8 threads editing different measures of one piece
//! all land; 8 threads racing on one attribute (a read-modify-write plugin method whose first
//! attempts are made to collide) serialise with no update lost; 8 threads appending to one voice
//! all land in order; writes to different pieces proceed side by side; and under all of it the
//! sink receives every committed write exactly once, in version order, and nothing for retried
//! attempts, no-ops or failures.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;

use ooloi_server::api::registry::param;
use ooloi_server::api::{Category, Method, ParamKind, PieceCommit};
use ooloi_server::model::classify::EventKind;
use ooloi_server::model::{Change, ChangeOp};
use ooloi_server::value::{Keyword, Value};
use support::api::*;

const THREADS: usize = 8;

/// Runs `body(k)` on `THREADS` threads started together; returns their results in order.
fn on_threads<T: Send + 'static>(body: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let body = Arc::new(body);
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|k| {
            let (body, start) = (body.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                body(k)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Checks that the sink saw exactly the versions `from+1..=from+count` of one piece, once each
/// and in order, and returns the commits by version.
fn commits_by_version(
    commits: Vec<PieceCommit>,
    pid: &str,
    from: i64,
    count: usize,
) -> BTreeMap<i64, PieceCommit> {
    let versions: Vec<i64> = commits.iter().map(|c| c.version as i64).collect();
    let expected: Vec<i64> = (from + 1..=from + count as i64).collect();
    assert_eq!(versions, expected, "each version once, in commit order");
    assert!(commits.iter().all(|c| c.piece_id.to_string() == pid));
    commits.into_iter().map(|c| (c.version as i64, c)).collect()
}

/// A piece with one staff of `THREADS` measures, each with one empty voice.
fn one_staff(t: &TestApi) -> String {
    let pid = t.new_piece("Ensemble");
    let mut ops = vec![
        op("add-musician", &pid, "[[] $pid {}]"),
        op("add-instrument", &pid, "[[:m 0] $pid {}]"),
        op("add-staff", &pid, "[[:m 0 0] $pid {}]"),
    ];
    for _ in 0..THREADS {
        ops.push(op("add-measure", &pid, "[[:m 0 0 0] $pid {:voices [{}]}]"));
    }
    t.ok("atomic", &pid, &batch(&ops));
    t.commits();
    pid
}

#[test]
fn eight_threads_editing_different_measures_all_land() {
    const WRITES: usize = 25;
    let t = Arc::new(TestApi::new());
    let pid = one_staff(&t);
    let from = t.version(&pid);

    let returned = {
        let (t, pid) = (t.clone(), pid.clone());
        on_threads(move |k| {
            (0..WRITES)
                .map(|i| {
                    let item = format!("{{:type :rest :duration 1/32 :writer {k} :seq {i}}}");
                    let result = t.ok("add-item", &pid, &format!("[[:m 0 0 0 {k} 0] $pid {item}]"));
                    written(&result, &pid)
                })
                .collect::<Vec<i64>>()
        })
    };

    // Every item landed in its measure, in the order its thread wrote it.
    for k in 0..THREADS {
        let items = t.ok("get-items", &pid, &format!("[[:m 0 0 0 {k} 0] $pid]"));
        let seqs: Vec<i64> = elements(&items)
            .iter()
            .map(|item| {
                assert_eq!(int(field(item, "writer")), k as i64);
                int(field(item, "seq"))
            })
            .collect();
        assert_eq!(seqs, (0..WRITES as i64).collect::<Vec<_>>(), "measure {k}");
    }
    let total = THREADS * WRITES;
    assert_eq!(t.version(&pid), from + total as i64);

    // Each committed write was seen once, with the event for the measure its thread edited.
    let commits = commits_by_version(t.commits(), &pid, from, total);
    for (k, versions) in returned.iter().enumerate() {
        for v in versions {
            let commit = &commits[v];
            assert_eq!(kinds(commit), [EventKind::PieceMeasuresInvalidated]);
            let data = event_data(commit, EventKind::PieceMeasuresInvalidated);
            assert_eq!(
                field(&data, "ranges"),
                &edn(&format!("[{{:staff [:m 0 0 0] :first {k} :last {k}}}]")),
                "version {v}"
            );
        }
    }
}

/// All parties wait here until every one has arrived (or the wait limit passes, a failure).
#[derive(Debug)]
struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Rendezvous {
    fn arrive(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, wait) = self
            .all_here
            .wait_timeout_while(arrived, WAIT_LIMIT, |n| *n < THREADS)
            .unwrap();
        drop(arrived);
        assert!(!wait.timed_out(), "every thread reaches the rendezvous");
    }
}

#[test]
fn eight_threads_racing_on_one_attribute_serialise_with_nothing_lost() {
    const INCREMENTS: usize = 25;
    let t = Arc::new(TestApi::new());
    let pid = one_staff(&t);
    let from = t.version(&pid);

    // A plugin read-modify-write of the staff's :counter. The first THREADS attempts (one per
    // thread, since each waits here) all read the counter before any of them commits, so at
    // least THREADS - 1 of them must conflict and run again.
    let attempts = Arc::new(AtomicUsize::new(0));
    let rendezvous = Arc::new(Rendezvous {
        arrived: Mutex::new(0),
        all_here: Condvar::new(),
    });
    {
        let (attempts, rendezvous) = (attempts.clone(), rendezvous.clone());
        t.api.methods().register(Method::new(
            "increment-counter",
            Category::Write,
            &[
                param("vpd", ParamKind::Vpd),
                param("piece-id", ParamKind::PieceId),
            ],
            "Adds one to the :counter of a node",
            move |call, args| {
                let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
                let piece = call.piece(pid)?;
                let current = piece
                    .node(&vpd)?
                    .attrs()
                    .and_then(|a| a.get_keyword("counter"))
                    .and_then(Value::as_int)
                    .unwrap_or(0);
                if attempts.fetch_add(1, Ordering::SeqCst) < THREADS {
                    rendezvous.arrive();
                }
                let change = Change {
                    at: vpd,
                    op: ChangeOp::SetAttr {
                        key: Keyword::new(None, "counter").unwrap(),
                        value: Some(Value::Int(current + 1)),
                    },
                };
                call.apply(pid, change)?;
                call.write_result(pid)
            },
        ));
    }
    let retries_before = t.api.stm().stats().retries();

    let returned = {
        let (t, pid) = (t.clone(), pid.clone());
        on_threads(move |_| {
            (0..INCREMENTS)
                .map(|_| written(&t.ok("increment-counter", &pid, "[[:m 0 0 0] $pid]"), &pid))
                .collect::<Vec<i64>>()
        })
    };

    let total = THREADS * INCREMENTS;
    let staff = t.ok("get-staff", &pid, "[[:m 0 0] $pid 0]");
    assert_eq!(
        int(field(&staff, "counter")),
        total as i64,
        "no increment lost"
    );
    assert!(attempts.load(Ordering::SeqCst) >= total + THREADS - 1);
    assert!(t.api.stm().stats().retries() >= retries_before + THREADS as u64 - 1);

    // Each call committed its own version; the versions are consecutive.
    let mut versions: Vec<i64> = returned.into_iter().flatten().collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (from + 1..=from + total as i64).collect::<Vec<_>>()
    );

    // The sink saw each version once, and version from+n is the n-th increment: serialised.
    let commits = commits_by_version(t.commits(), &pid, from, total);
    for (v, commit) in &commits {
        assert_eq!(kinds(commit), [EventKind::PieceStaffInvalidated]);
        match &commit.changes[..] {
            [
                Change {
                    op:
                        ChangeOp::SetAttr {
                            value: Some(Value::Int(n)),
                            ..
                        },
                    ..
                },
            ] => assert_eq!(*n, v - from, "version {v}"),
            other => panic!("version {v}: {other:?}"),
        }
    }
}

#[test]
fn eight_threads_appending_to_one_voice_all_land_in_order() {
    const ADDS: usize = 20;
    let t = Arc::new(TestApi::new());
    let pid = one_staff(&t);
    let from = t.version(&pid);
    {
        let (t, pid) = (t.clone(), pid.clone());
        on_threads(move |k| {
            for i in 0..ADDS {
                let item = format!("{{:type :rest :duration 1/32 :writer {k} :seq {i}}}");
                t.ok("add-item", &pid, &format!("[[:m 0 0 0 0 0] $pid {item}]"));
            }
        });
    }
    let items = t.ok("get-items", &pid, "[[:m 0 0 0 0 0] $pid]");
    let items = elements(&items);
    assert_eq!(items.len(), THREADS * ADDS);
    for k in 0..THREADS as i64 {
        let seqs: Vec<i64> = items
            .iter()
            .filter(|item| int(field(item, "writer")) == k)
            .map(|item| int(field(item, "seq")))
            .collect();
        assert_eq!(seqs, (0..ADDS as i64).collect::<Vec<_>>(), "writer {k}");
    }
    commits_by_version(t.commits(), &pid, from, THREADS * ADDS);
}

#[test]
fn only_committed_changes_reach_the_sink_amid_no_ops_and_failures() {
    const ROUNDS: usize = 15;
    let t = Arc::new(TestApi::new());
    let pid = one_staff(&t);
    let from = t.version(&pid);
    let outcomes = {
        let (t, pid) = (t.clone(), pid.clone());
        on_threads(move |k| {
            let (mut changed, mut unchanged, mut failed) = (0, 0, 0);
            for i in 0..ROUNDS {
                let item = "{:type :rest :duration 1/32}";
                let result = match i % 3 {
                    0 => t.call("add-item", &pid, &format!("[[:m 0 0 0 {k} 0] $pid {item}]")),
                    1 => t.call("set-name", &pid, r#"[[:m 0 0] $pid "Unnamed Instrument"]"#),
                    _ => t.call("add-item", &pid, &format!("[[:m 0 0 0 {k} 9] $pid {item}]")),
                };
                match result {
                    Ok(_) if i % 3 == 0 => changed += 1,
                    Ok(_) => unchanged += 1,
                    Err(e) => {
                        assert_eq!(e.reason(), "VPD_NOT_FOUND");
                        failed += 1;
                    }
                }
            }
            (changed, unchanged, failed)
        })
    };
    let changed: usize = outcomes.iter().map(|o| o.0).sum();
    assert_eq!(changed, THREADS * ROUNDS / 3);
    assert!(
        outcomes
            .iter()
            .all(|o| o.1 == ROUNDS / 3 && o.2 == ROUNDS / 3)
    );
    assert_eq!(t.version(&pid), from + changed as i64);
    commits_by_version(t.commits(), &pid, from, changed);
}

#[test]
fn writers_on_different_pieces_all_land() {
    const WRITES: usize = 25;
    let t = Arc::new(TestApi::new());
    let pieces: Vec<String> = (0..THREADS).map(|_| one_staff(&t)).collect();
    let from: Vec<i64> = pieces.iter().map(|p| t.version(p)).collect();
    {
        let (t, pieces) = (t.clone(), pieces.clone());
        on_threads(move |k| {
            for i in 0..WRITES {
                let item = format!("{{:type :rest :duration 1/32 :seq {i}}}");
                t.ok(
                    "add-item",
                    &pieces[k],
                    &format!("[[:m 0 0 0 0 0] $pid {item}]"),
                );
            }
        });
    }
    let mut by_piece: BTreeMap<String, Vec<PieceCommit>> = BTreeMap::new();
    for commit in t.commits() {
        by_piece
            .entry(commit.piece_id.to_string())
            .or_default()
            .push(commit);
    }
    for (k, pid) in pieces.iter().enumerate() {
        assert_eq!(t.version(pid), from[k] + WRITES as i64);
        let items = t.ok("get-items", pid, "[[:m 0 0 0 0 0] $pid]");
        assert_eq!(elements(&items).len(), WRITES);
        let commits = by_piece.remove(pid).unwrap_or_default();
        commits_by_version(commits, pid, from[k], WRITES);
    }
    assert!(by_piece.is_empty());
}
