//! A model check: random sequences of transactions (reads, writes, alters, commutes, ending in a
//! commit, an abort, a panic or a validator's refusal) run against the STM and against a plain
//! sequential model; after every transaction the refs, the effects and the watches agree.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ooloi_server::stm::{Ref, Stm, StmError, ValidationError};
use proptest::prelude::*;

const REFS: usize = 4;
/// The value every ref's validator refuses.
const FORBIDDEN: i64 = 13;

#[derive(Clone, Debug)]
enum Step {
    Read(usize),
    Write(usize, i64),
    Alter(usize, i64),
    Commute(usize, i64),
}

#[derive(Clone, Copy, Debug)]
enum Ending {
    Commit,
    Abort,
    Panic,
}

#[derive(Clone, Debug)]
struct Plan {
    steps: Vec<Step>,
    ending: Ending,
}

fn step() -> impl Strategy<Value = Step> {
    let k = 0..REFS;
    let v = -20i64..20;
    prop_oneof![
        k.clone().prop_map(Step::Read),
        (k.clone(), v.clone()).prop_map(|(k, v)| Step::Write(k, v)),
        (k.clone(), v.clone()).prop_map(|(k, d)| Step::Alter(k, d)),
        (k, v).prop_map(|(k, d)| Step::Commute(k, d)),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let ending = prop_oneof![
        6 => Just(Ending::Commit),
        1 => Just(Ending::Abort),
        1 => Just(Ending::Panic),
    ];
    (proptest::collection::vec(step(), 0..6), ending)
        .prop_map(|(steps, ending)| Plan { steps, ending })
}

#[derive(Debug)]
enum Outcome {
    Committed,
    Refused,
    Aborted,
    Panicked,
}

#[derive(Debug)]
struct Aborted;
impl From<StmError> for Aborted {
    fn from(_: StmError) -> Self {
        Aborted
    }
}

struct System {
    stm: Stm,
    refs: Vec<Ref<i64>>,
    effects: Arc<AtomicU64>,
    watch_calls: Vec<Arc<AtomicU64>>,
}

impl System {
    fn new() -> Self {
        let stm = Stm::default();
        let refs: Vec<_> = (0..REFS).map(|_| stm.create_ref(0i64)).collect();
        let watch_calls: Vec<_> = (0..REFS).map(|_| Arc::new(AtomicU64::new(0))).collect();
        for (r, calls) in refs.iter().zip(&watch_calls) {
            r.add_validator(|v| {
                if *v == FORBIDDEN {
                    Err(ValidationError::new("forbidden value"))
                } else {
                    Ok(())
                }
            });
            let calls = calls.clone();
            r.add_watch("count", move |_, _, _| {
                calls.fetch_add(1, Ordering::SeqCst);
            });
        }
        System {
            stm,
            refs,
            effects: Arc::new(AtomicU64::new(0)),
            watch_calls,
        }
    }

    /// Runs a plan; returns the outcome and the values its reads saw.
    fn run(&self, plan: &Plan) -> (Outcome, Vec<i64>) {
        let mut seen = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.stm.atomically(|tx| {
                seen.clear();
                for s in &plan.steps {
                    match *s {
                        Step::Read(k) => seen.push(*tx.read(&self.refs[k])?),
                        Step::Write(k, v) => tx.write(&self.refs[k], v),
                        Step::Alter(k, d) => tx.alter(&self.refs[k], |v| v.wrapping_add(d))?,
                        Step::Commute(k, d) => {
                            tx.commute(&self.refs[k], move |v| v.wrapping_add(d))
                        }
                    }
                }
                let effects = self.effects.clone();
                tx.on_commit(move || {
                    effects.fetch_add(1, Ordering::SeqCst);
                });
                match plan.ending {
                    Ending::Commit => Ok(()),
                    Ending::Abort => Err(Aborted),
                    Ending::Panic => panic!("planned panic"),
                }
            })
        }));
        let outcome = match result {
            Ok(Ok(())) => Outcome::Committed,
            Ok(Err(Aborted)) if matches!(plan.ending, Ending::Commit) => Outcome::Refused,
            Ok(Err(Aborted)) => Outcome::Aborted,
            Err(_) => Outcome::Panicked,
        };
        (outcome, seen)
    }
}

/// The sequential model: committed values, effects and watch counts.
#[derive(Default)]
struct Model {
    values: BTreeMap<usize, i64>,
    effects: u64,
    watch_calls: [u64; REFS],
}

impl Model {
    fn value(&self, k: usize) -> i64 {
        self.values.get(&k).copied().unwrap_or(0)
    }

    /// Applies a plan; returns the expected outcome and reads.
    fn run(&mut self, plan: &Plan) -> (Outcome, Vec<i64>) {
        let mut overlay: BTreeMap<usize, i64> = BTreeMap::new();
        let mut seen = Vec::new();
        for s in &plan.steps {
            let current = |overlay: &BTreeMap<usize, i64>, k| {
                overlay.get(&k).copied().unwrap_or(self.value(k))
            };
            match *s {
                Step::Read(k) => seen.push(current(&overlay, k)),
                Step::Write(k, v) => {
                    overlay.insert(k, v);
                }
                Step::Alter(k, d) | Step::Commute(k, d) => {
                    let v = current(&overlay, k).wrapping_add(d);
                    overlay.insert(k, v);
                }
            }
        }
        let outcome = match plan.ending {
            Ending::Abort => Outcome::Aborted,
            Ending::Panic => Outcome::Panicked,
            Ending::Commit if overlay.values().any(|v| *v == FORBIDDEN) => Outcome::Refused,
            Ending::Commit => {
                for (k, v) in overlay {
                    self.values.insert(k, v);
                    self.watch_calls[k] += 1;
                }
                self.effects += 1;
                Outcome::Committed
            }
        };
        (outcome, seen)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn stm_matches_a_sequential_model(plans in proptest::collection::vec(plan(), 1..40)) {
        let system = System::new();
        let mut model = Model::default();
        for plan in &plans {
            let (outcome, seen) = system.run(plan);
            let (expected, expected_seen) = model.run(plan);
            prop_assert_eq!(format!("{outcome:?}"), format!("{expected:?}"), "{:?}", plan);
            if matches!(outcome, Outcome::Committed | Outcome::Refused) {
                prop_assert_eq!(&seen, &expected_seen, "reads of {:?}", plan);
            }
            for k in 0..REFS {
                prop_assert_eq!(*system.refs[k].current(), model.value(k), "ref {} after {:?}", k, plan);
                prop_assert_eq!(system.watch_calls[k].load(Ordering::SeqCst), model.watch_calls[k]);
            }
            prop_assert_eq!(system.effects.load(Ordering::SeqCst), model.effects);
            let snapshot: Vec<i64> = system
                .stm
                .read_only(|snap| system.refs.iter().map(|r| snap.read(r).map(|v| *v)).collect::<Result<_, StmError>>())
                .unwrap();
            prop_assert_eq!(snapshot, (0..REFS).map(|k| model.value(k)).collect::<Vec<_>>());
        }
        let stats = system.stm.stats();
        prop_assert_eq!(stats.retries(), 0, "a single thread never retries");
    }
}
