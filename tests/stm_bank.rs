//! The bank invariant under contention, with opacity: 16 accounts whose balances always sum to
//! the same total. Eight threads run 20,000 transactions each (70% transfers between two random
//! accounts, 30% full scans), and two slow readers pause inside their transactions. The sum is
//! checked inside every attempt (a doomed attempt must also see a consistent snapshot) and after
//! every commit; no balance ever goes negative; every thread finishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ooloi_server::stm::{Ref, Stm, StmError};

const ACCOUNTS: usize = 16;
const INITIAL: i64 = 1_000;
const TOTAL: i64 = ACCOUNTS as i64 * INITIAL;

/// A small deterministic generator per thread (no shared RNG state between threads).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reads one account in whatever kind of transaction the caller runs.
type ReadAccount<'a> = dyn FnMut(&Ref<i64>) -> Result<Arc<i64>, StmError> + 'a;

fn scan(tx_read: &mut ReadAccount<'_>, accounts: &[Ref<i64>]) -> Result<i64, StmError> {
    let mut sum = 0;
    for a in accounts {
        let balance = *tx_read(a)?;
        assert!(
            balance >= 0,
            "negative balance {balance} seen inside a transaction"
        );
        sum += balance;
    }
    Ok(sum)
}

#[test]
fn bank_total_is_invariant_and_every_snapshot_is_consistent() {
    let stm = Stm::default();
    let accounts: Arc<Vec<Ref<i64>>> =
        Arc::new((0..ACCOUNTS).map(|_| stm.create_ref(INITIAL)).collect());
    let committed_checks = Arc::new(AtomicU64::new(0));

    let mut handles = Vec::new();
    for t in 0..8u64 {
        let (stm, accounts, checks) = (stm.clone(), accounts.clone(), committed_checks.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
            for _ in 0..20_000 {
                if rng.below(10) < 7 {
                    let (from, to) = (rng.below(16) as usize, rng.below(16) as usize);
                    let amount = rng.below(200) as i64;
                    let (stm2, accounts2, checks2) =
                        (stm.clone(), accounts.clone(), checks.clone());
                    stm.atomically(|tx| {
                        let a = *tx.read(&accounts[from])?;
                        let b = *tx.read(&accounts[to])?;
                        assert!(a >= 0 && b >= 0);
                        if from != to && a >= amount {
                            tx.write(&accounts[from], a - amount);
                            tx.write(&accounts[to], b + amount);
                        }
                        let (stm3, accounts3, checks3) =
                            (stm2.clone(), accounts2.clone(), checks2.clone());
                        tx.on_commit(move || {
                            let sum = stm3
                                .read_only(|snap| scan(&mut |r| snap.read(r), &accounts3))
                                .unwrap();
                            assert_eq!(sum, TOTAL, "sum after a commit");
                            checks3.fetch_add(1, Ordering::Relaxed);
                        });
                        Ok::<_, StmError>(())
                    })
                    .unwrap();
                } else if rng.below(2) == 0 {
                    let sum = stm
                        .atomically(|tx| scan(&mut |r| tx.read(r), &accounts))
                        .unwrap();
                    assert_eq!(sum, TOTAL);
                } else {
                    let sum = stm
                        .read_only(|snap| scan(&mut |r| snap.read(r), &accounts))
                        .unwrap();
                    assert_eq!(sum, TOTAL);
                }
            }
        }));
    }
    for slow in 0..2 {
        let (stm, accounts) = (stm.clone(), accounts.clone());
        handles.push(std::thread::spawn(move || {
            for _ in 0..20 {
                let body = |read: &mut ReadAccount<'_>| {
                    let mut sum = 0;
                    for (i, a) in accounts.iter().enumerate() {
                        if i == ACCOUNTS / 2 {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        sum += *read(a)?;
                    }
                    assert_eq!(
                        sum, TOTAL,
                        "a slow reader's snapshot is consistent in every attempt"
                    );
                    Ok::<_, StmError>(sum)
                };
                let sum = if slow == 0 {
                    stm.read_only(|snap| body(&mut |r| snap.read(r))).unwrap()
                } else {
                    stm.atomically(|tx| body(&mut |r| tx.read(r))).unwrap()
                };
                assert_eq!(sum, TOTAL);
            }
        }));
    }
    for h in handles {
        h.join()
            .expect("every thread finishes without a failed assertion");
    }
    let final_sum: i64 = accounts.iter().map(|a| *a.current()).sum();
    assert_eq!(final_sum, TOTAL);
    assert!(accounts.iter().all(|a| *a.current() >= 0));
    let stats = stm.stats();
    assert_eq!(stats.aborts_retries_exhausted, 0);
    assert!(committed_checks.load(Ordering::Relaxed) > 0);
    eprintln!("{stats:?}");
}
