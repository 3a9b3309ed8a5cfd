//! What several benchmarks share: Ooloi's benchmark piece (1000 measures x 20 instruments x 1
//! staff x 1 voice x 8 items = 160,000 items) and medians of timed runs.

#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ooloi_server::model::cowvec::CowVec;
use ooloi_server::model::entity::{Instrument, Item, Measure, Musician, Pitch, Staff, Voice};
use ooloi_server::model::pitch::Note;
use ooloi_server::model::{EntityId, Piece, PieceId};
use ooloi_server::value::{ValueMap, ratio};

pub const MEASURES: usize = 1000;
pub const INSTRUMENTS: usize = 20;
pub const ITEMS: usize = 8;

pub fn notes() -> Vec<Note> {
    ["C4", "D4", "E4", "F#4", "G4", "A4", "Bb4", "C5"]
        .iter()
        .map(|n| n.parse().expect("valid"))
        .collect()
}

pub fn generate() -> Piece {
    let notes = notes();
    let eighth = ratio(1, 8);
    let voice = |m: usize| Voice {
        attrs: ValueMap::new(),
        items: (0..ITEMS)
            .map(|i| {
                Item::Pitch(Pitch {
                    note: notes[(i + m) % notes.len()],
                    duration: eighth,
                    attachments: CowVec::new(),
                    attrs: ValueMap::new(),
                })
            })
            .collect(),
    };
    let staff = || Staff {
        id: EntityId::mint(),
        attrs: ValueMap::new(),
        measures: (0..MEASURES)
            .map(|m| Measure {
                attrs: ValueMap::new(),
                voices: CowVec::unit(voice(m)),
            })
            .collect(),
    };
    let mut piece = Piece::new(PieceId::mint(), "Benchmark piece");
    piece.musicians = (0..INSTRUMENTS)
        .map(|_| Musician {
            id: EntityId::mint(),
            attrs: ValueMap::new(),
            instruments: CowVec::unit(Instrument {
                id: EntityId::mint(),
                attrs: ValueMap::new(),
                staves: CowVec::unit(staff()),
            }),
        })
        .collect();
    piece
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}
