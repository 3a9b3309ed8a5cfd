//! Conversion throughput on realistic payloads, against plain prost in the same run.
//!
//! For each payload: decoding bytes with prost into generated structs (the baseline), with the
//! direct decoder into `Value` (what the server does), and with prost followed by the conversion
//! into `Value`; encoding a prebuilt generated struct with prost (baseline), a `Value` with the
//! direct encoder, and a `Value` converted to generated structs then encoded with prost.
//! Run: `cargo bench --bench value_codec`; criterion reports throughput per encoded byte.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ooloi_server::proto::OoloiValue;
use ooloi_server::value::{Record, Value, ValueLimits, edn, wire};
use prost::Message;

const NS: &str = "ooloi.shared.models.musical";

fn kw(s: &str) -> Value {
    Value::keyword(s)
}

fn record(type_name: &str, fields: Vec<(&str, Value)>) -> Value {
    let fields = fields.into_iter().map(|(k, v)| (kw(k), v)).collect();
    Value::Record(Record::new(type_name, fields).unwrap())
}

fn pitch(note: &str, duration: (i64, i64)) -> Value {
    record(
        &format!("{NS}.pitch.Pitch"),
        vec![
            ("note", Value::string(note)),
            ("duration", Value::ratio(duration.0, duration.1).unwrap()),
            ("attachments", Value::vector([])),
        ],
    )
}

/// One measure of one voice holding 8 three-note chords, each with an articulation, a dynamic
/// and a slur start.
fn measure_of_chords() -> Value {
    let chord = |i: i64| {
        let attachments = Value::vector([
            record(
                &format!("{NS}.attachments.articulation.Articulation"),
                vec![("kind", kw("staccato"))],
            ),
            record(
                &format!("{NS}.attachments.dynamic.Dynamic"),
                vec![("level", kw("mf"))],
            ),
            record(
                &format!("{NS}.attachments.slur.Slur"),
                vec![(
                    "end-vpd",
                    edn::parse(&format!("[:m 0 0 0 1 0 :items {i}]")).unwrap(),
                )],
            ),
        ]);
        record(
            &format!("{NS}.chord.Chord"),
            vec![
                (
                    "pitches",
                    Value::vector(["C4", "E4", "G4"].map(|n| pitch(n, (1, 8)))),
                ),
                ("duration", Value::ratio(1, 8).unwrap()),
                ("attachments", attachments),
            ],
        )
    };
    let voice = record(
        &format!("{NS}.voice.Voice"),
        vec![("items", Value::vector((0..8).map(chord)))],
    );
    record(
        &format!("{NS}.measure.Measure"),
        vec![("voices", Value::vector([voice]))],
    )
}

/// 10,000 pitch records in a vector.
fn ten_thousand_pitches() -> Value {
    const NOTES: [&str; 7] = ["C4", "D4", "E#4", "F4", "Gb4", "A4", "B4"];
    Value::vector((0..10_000).map(|i| pitch(NOTES[i % 7], (1, 1 << (i % 5)))))
}

/// Maps nested 30 levels deep (prost reads at most 100 nested messages, 3 per map level), each
/// level with a few scalar entries beside the child.
fn deeply_nested_map() -> Value {
    (0..30).fold(Value::Nil, |child, level| {
        Value::map([
            (kw("level"), Value::Int(level)),
            (kw("name"), Value::string(format!("level-{level}"))),
            (kw("tags"), Value::set([kw("a"), kw("b")])),
            (kw("child"), child),
        ])
    })
}

fn codec(c: &mut Criterion) {
    let limits = ValueLimits::default();
    let payloads = [
        ("measure_8_chords", measure_of_chords()),
        ("vector_10k_pitches", ten_thousand_pitches()),
        ("nested_map_30", deeply_nested_map()),
    ];
    for (name, value) in payloads {
        let bytes = wire::encode(&value);
        let message = OoloiValue::decode(bytes.as_slice()).unwrap();
        assert_eq!(wire::decode(&bytes, &limits).unwrap(), value);

        let mut group = c.benchmark_group(format!("decode/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("prost"), |b| {
            b.iter(|| OoloiValue::decode(black_box(bytes.as_slice())).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("direct"), |b| {
            b.iter(|| wire::decode(black_box(&bytes), &limits).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("prost+convert"), |b| {
            b.iter(|| {
                let m = OoloiValue::decode(black_box(bytes.as_slice())).unwrap();
                Value::from_proto(m, &limits).unwrap()
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("encode/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("prost"), |b| {
            b.iter(|| black_box(&message).encode_to_vec())
        });
        group.bench_function(BenchmarkId::from_parameter("direct"), |b| {
            b.iter(|| wire::encode(black_box(&value)))
        });
        group.bench_function(BenchmarkId::from_parameter("convert+prost"), |b| {
            b.iter(|| black_box(&value).to_proto().encode_to_vec())
        });
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
