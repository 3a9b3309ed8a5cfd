//! The model benchmarks: Ooloi's benchmark piece (1000 measures x 20 instruments x 1 staff x
//! 1 voice x 8 items = 160,000 items) generated and fully traversed, its memory per item, and
//! single-item `set-item` calls through the method API on that piece, on 1 and 2 threads.
//! Baseline in the same run: the same items in plain nested `Vec`s of plain structs (what the
//! persistent structure costs over the simplest possible layout).
//!
//! Also, the cost of growing and shrinking one voice against its length (10, 1,000 and 10,000
//! items): an `add-item` at its end followed by a `remove-item` of that item, and an `atomic`
//! batch of 1,000 `add-item`s (a maximal batch), each on a voice that a committed version still
//! shares, as every call's working copy does.
//!
//! Run: `cargo bench --bench model` (add `-- --quick` for a short smoke run). Prints a table of
//! medians over repeated runs. `-- --profile-set-item` runs only the 1-thread `set-item` loop for
//! 3 s, for `perf record`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ooloi_server::api::{Api, NullSink};
use ooloi_server::identity::Caller;
use ooloi_server::model::cowvec::CowVec;
use ooloi_server::model::entity::{Instrument, Item, Measure, Musician, Pitch, Staff, Voice};
use ooloi_server::model::pitch::Note;
use ooloi_server::model::{EntityId, Piece, PieceId, ToValue};
use ooloi_server::stm::StmConfig;
use ooloi_server::value::{Value, ValueMap, ratio};

mod common;

use common::{INSTRUMENTS, ITEMS, MEASURES, generate, notes, time};

/// Visits every item; returns how many and the total duration (so nothing is optimised away).
fn traverse(piece: &Piece) -> (usize, i64) {
    let (mut count, mut eighths) = (0, 0);
    for m in piece.musicians.iter() {
        for i in m.instruments.iter() {
            for s in i.staves.iter() {
                for measure in s.measures.iter() {
                    for v in measure.voices.iter() {
                        for item in v.items.iter() {
                            count += 1;
                            if let Item::Pitch(p) = item {
                                eighths += p.duration.numerator() * 8 / p.duration.denominator();
                            }
                        }
                    }
                }
            }
        }
    }
    (count, eighths)
}

/// The baseline: the same shape in plain nested vectors.
struct PlainPitch {
    note: Note,
    duration: (i64, i64),
}

fn generate_plain() -> Vec<Vec<Vec<PlainPitch>>> {
    let notes = notes();
    (0..INSTRUMENTS)
        .map(|_| {
            (0..MEASURES)
                .map(|m| {
                    (0..ITEMS)
                        .map(|i| PlainPitch {
                            note: notes[(i + m) % notes.len()],
                            duration: (1, 8),
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn traverse_plain(plain: &[Vec<Vec<PlainPitch>>]) -> (usize, i64) {
    let (mut count, mut eighths) = (0, 0);
    for staff in plain {
        for measure in staff {
            for p in measure {
                count += 1;
                eighths += p.duration.0 * 8 / p.duration.1;
                black_box(&p.note);
            }
        }
    }
    (count, eighths)
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// `set-item` calls per second over `threads` threads for `duration`, each thread writing its
/// own staff (so calls conflict only through the piece ref they share).
fn set_item_rate(api: &Api, pid: PieceId, threads: usize, duration: Duration) -> (f64, u64) {
    let caller = Caller::local();
    let notes = notes();
    let calls = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (api, caller, notes) = (api.clone(), caller.clone(), notes.clone());
                s.spawn(move || {
                    let pitch = |i: usize| {
                        Item::Pitch(Pitch {
                            note: notes[i % notes.len()],
                            duration: ratio(1, 8),
                            attachments: CowVec::new(),
                            attrs: ValueMap::new(),
                        })
                        .to_value()
                    };
                    let items: Vec<Value> = (0..notes.len()).map(pitch).collect();
                    let pid = Value::string(pid.to_string());
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        for _ in 0..256 {
                            let (measure, item) = ((n as usize * 7) % MEASURES, n as usize % ITEMS);
                            let params = Value::vector([
                                Value::vector([
                                    Value::keyword("m"),
                                    Value::Int(t as i64),
                                    Value::Int(0),
                                    Value::Int(0),
                                    Value::Int(measure as i64),
                                    Value::Int(0),
                                ]),
                                pid.clone(),
                                Value::Int(item as i64),
                                items[(n as usize / 3) % items.len()].clone(),
                            ]);
                            api.execute(&caller, "set-item", &params)
                                .expect("set-item succeeds");
                            n += 1;
                        }
                    }
                    (n, start.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect::<Vec<_>>()
    });
    let total: u64 = calls.iter().map(|(n, _)| n).sum();
    let secs = calls
        .iter()
        .map(|(_, d)| d.as_secs_f64())
        .fold(0.0, f64::max);
    (total as f64 / secs, api.stm().stats().retries())
}

/// A piece with one voice of `len` items.
fn piece_with_voice(len: usize) -> Piece {
    let notes = notes();
    let mut piece = Piece::new(PieceId::mint(), "Long voice");
    let voice = Voice {
        attrs: ValueMap::new(),
        items: (0..len)
            .map(|i| {
                Item::Pitch(Pitch {
                    note: notes[i % notes.len()],
                    duration: ratio(1, 8),
                    attachments: CowVec::new(),
                    attrs: ValueMap::new(),
                })
            })
            .collect(),
    };
    let staff = Staff {
        id: EntityId::mint(),
        attrs: ValueMap::new(),
        measures: std::iter::once(Measure {
            attrs: ValueMap::new(),
            voices: CowVec::unit(voice),
        })
        .collect(),
    };
    let instrument = Instrument {
        id: EntityId::mint(),
        attrs: ValueMap::new(),
        staves: CowVec::unit(staff),
    };
    piece.musicians = CowVec::unit(Musician {
        id: EntityId::mint(),
        attrs: ValueMap::new(),
        instruments: CowVec::unit(instrument),
    });
    piece
}

/// Per `add-item` + `remove-item` pair, and per maximal batch, on a voice of `len` items.
fn voice_costs(len: usize, runs: usize, pairs: usize) -> (Duration, Duration) {
    let api = Api::new(StmConfig::default(), Arc::new(NullSink));
    let caller = Caller::local();
    let pid = api
        .import_piece(&caller, piece_with_voice(len))
        .expect("imports");
    let voice = Value::vector(
        std::iter::once(Value::keyword("m"))
            .chain((0..5).map(|_| Value::Int(0)))
            .collect::<Vec<_>>(),
    );
    let pid_value = Value::string(pid.to_string());
    let item = Item::Pitch(Pitch {
        note: "C4".parse().expect("valid"),
        duration: ratio(1, 4),
        attachments: CowVec::new(),
        attrs: ValueMap::new(),
    })
    .to_value();
    let add = Value::vector([voice.clone(), pid_value.clone(), item.clone()]);
    let remove = Value::vector([voice.clone(), pid_value.clone(), Value::Int(len as i64)]);
    let pair = time(runs, || {
        for _ in 0..pairs {
            api.execute(&caller, "add-item", &add).expect("add-item");
            api.execute(&caller, "remove-item", &remove)
                .expect("remove-item");
        }
    }) / pairs as u32;
    let op = Value::map([
        (Value::keyword("method"), Value::string("add-item")),
        (Value::keyword("params"), add),
    ]);
    let batch = Value::vector([Value::vector(vec![op; 1000])]);
    let batch_time = time(runs.min(5), || {
        api.execute(&caller, "atomic", &batch).expect("atomic")
    });
    (pair, batch_time)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--voice-length") {
        // Only the voice-length measurements.
        print_voice_costs(quick);
        return;
    }
    if std::env::args().any(|a| a == "--profile-set-item") {
        // Only the 1-thread set-item loop, for `perf record`.
        let api = Api::new(StmConfig::default(), Arc::new(NullSink));
        let pid = api
            .import_piece(&Caller::local(), generate())
            .expect("imports");
        let (rate, _) = set_item_rate(&api, pid, 1, Duration::from_secs(3));
        println!("set-item, 1 thread: {rate:.0} ops/s");
        return;
    }
    let runs = if quick { 3 } else { 11 };
    let rate_time = Duration::from_millis(if quick { 300 } else { 2000 });

    let before = rss_bytes();
    let piece = generate();
    let after = rss_bytes();
    let (count, eighths) = traverse(&piece);
    assert_eq!(
        (count, eighths),
        (
            MEASURES * INSTRUMENTS * ITEMS,
            (MEASURES * INSTRUMENTS * ITEMS) as i64
        )
    );
    let bytes_per_item = after.saturating_sub(before) as f64 / count as f64;

    let generate_ms = time(runs, generate).as_secs_f64() * 1e3;
    let traverse_ms = time(runs, || traverse(&piece)).as_secs_f64() * 1e3;
    let plain_generate_ms = time(runs, generate_plain).as_secs_f64() * 1e3;
    let plain = generate_plain();
    let plain_traverse_ms = time(runs, || traverse_plain(&plain)).as_secs_f64() * 1e3;

    let api = Api::new(StmConfig::default(), Arc::new(NullSink));
    let pid = api.import_piece(&Caller::local(), piece).expect("imports");
    let (one, retries_one) = set_item_rate(&api, pid, 1, rate_time);
    let (two, retries_total) = set_item_rate(&api, pid, 2, rate_time);

    println!("| measurement | ooloi-server | plain Vec baseline | target |");
    println!("|---|---:|---:|---|");
    println!(
        "| generate 160,000 items (median of {runs}) | {generate_ms:.1} ms | {plain_generate_ms:.1} ms | <= 100 ms |"
    );
    println!(
        "| traverse all items (median of {runs}) | {traverse_ms:.2} ms | {plain_traverse_ms:.2} ms | <= 50 ms |"
    );
    println!("| memory per item (RSS growth / items) | {bytes_per_item:.0} B | - | report |");
    println!("| set-item via api, 1 thread | {one:.0} ops/s | - | >= 200,000 ops/s |");
    println!("| set-item via api, 2 threads | {two:.0} ops/s | - | report |");
    println!(
        "| STM retries during the set-item runs | 1 thread: {retries_one}, both runs: {retries_total} | - | - |"
    );
    println!();
    print_voice_costs(quick);
}

fn print_voice_costs(quick: bool) {
    let (runs, pairs) = if quick { (3, 200) } else { (11, 2000) };
    println!("| voice length | add-item + remove-item | atomic of 1,000 add-items |");
    println!("|---:|---:|---:|");
    let mut first = None;
    for len in [10, 1_000, 10_000] {
        let (pair, batch) = voice_costs(len, runs, pairs);
        let base = *first.get_or_insert(pair);
        println!(
            "| {len} | {:.1} µs ({:.2}x the 10-item voice) | {:.2} ms |",
            pair.as_secs_f64() * 1e6,
            pair.as_secs_f64() / base.as_secs_f64(),
            batch.as_secs_f64() * 1e3
        );
    }
}
