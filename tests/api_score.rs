//! A scripted score written the way a client would, through `Api::execute` only: a new piece;
//! two violins (musician, instrument and staff each, made with the constructors); 32 measures
//! per staff, each voice filled item by item with chords, pitches, rests and a triplet. Then one
//! `atomic` batch sets E major from measure 0 and transposes both staves up a major third, and
//! every pitch of the score is checked against a spelling table written out here, independently
//! of the server's pitch code. Also: a 6-operation batch whose 5th operation fails leaves the
//! score and its version unchanged and emits nothing.

mod support;

use ooloi_server::error::Error;
use ooloi_server::model::classify::EventKind;
use ooloi_server::model::pitch::Note;
use ooloi_server::value::Value;
use support::api::*;

const MEASURES: usize = 32;
const STAVES: usize = 2;

/// Notes a violin part in C might use, chromatic ones included.
const POOL: [&str; 16] = [
    "G4", "A4", "B4", "C5", "D5", "E5", "F5", "G5", "F#4", "C#5", "Eb5", "Bb4", "A5", "B5", "D4",
    "E4",
];

/// One item as the script writes it.
#[derive(Clone, Debug)]
enum Written {
    Pitch(&'static str),
    Chord(Vec<&'static str>),
    Rest,
    /// Three eighths in the time of two.
    Triplet([&'static str; 3]),
}

impl Written {
    fn edn(&self) -> String {
        let pitch = |n: &str, d: &str| format!("{{:type :pitch :note {n:?} :duration {d}}}");
        match self {
            Written::Pitch(n) => pitch(n, "1/4"),
            Written::Chord(ns) => format!(
                "{{:type :chord :pitches [{}] :duration 1/4}}",
                ns.iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Written::Rest => "{:type :rest :duration 1/4}".to_string(),
            Written::Triplet(ns) => format!(
                "{{:type :tuplet :ratio 2/3 :items [{}]}}",
                ns.map(|n| pitch(n, "1/8")).join(" ")
            ),
        }
    }
}

/// What measure `m` of staff `s` holds: a full 4/4 bar whose contents vary with `m` and `s`.
fn script(s: usize, m: usize) -> Vec<Written> {
    let at = |i: usize| POOL[i % POOL.len()];
    let chord = Written::Chord(vec![at(m + s), at(m + s + 4), at(m + s + 9)]);
    let pitch = Written::Pitch(at(3 * m + s));
    let triplet = Written::Triplet([at(2 * m + s + 2), at(2 * m + s + 7), at(2 * m + s + 11)]);
    if m.is_multiple_of(2) {
        vec![chord, pitch, Written::Rest, triplet]
    } else {
        vec![pitch, triplet, chord, Written::Rest]
    }
}

/// A note a major third higher, spelled as in E major (the key of C moved up a major third),
/// from a table rather than from the server's pitch code.
fn major_third_up(note: &str) -> String {
    let split = note.find(|c: char| c.is_ascii_digit()).expect("an octave");
    let (name, octave) = (&note[..split], note[split..].parse::<i32>().unwrap());
    let (name, carry) = match name {
        "C" => ("E", 0),
        "C#" => ("E#", 0),
        "D" => ("F#", 0),
        "Eb" => ("G", 0),
        "E" => ("G#", 0),
        "F" => ("A", 0),
        "F#" => ("A#", 0),
        "G" => ("B", 0),
        "A" => ("C#", 1),
        "Bb" => ("D", 1),
        "B" => ("D#", 1),
        other => panic!("no entry for {other}"),
    };
    format!("{name}{}", octave + carry)
}

/// Builds the score and returns the test API and the piece id.
fn build_score() -> (TestApi, String) {
    let t = TestApi::new();
    let pid = t.new_piece("Two Violins");
    let mut version = 0;
    let mut write = |method: &str, params: &str| {
        let result = t.ok(method, &pid, params);
        version += 1;
        assert_eq!(written(&result, &pid), version, "{method} {params}");
    };

    for (s, name) in ["Violin I", "Violin II"].iter().enumerate() {
        let musician = t.exec("create-musician", &edn(&format!("[{{:name {name:?}}}]")));
        let instrument = t.exec(
            "create-instrument",
            &edn(r#"[{:name "Violin" :short-name "Vn." :family :strings}]"#),
        );
        let staff = t.exec("create-staff", &edn("[{:clef :treble}]"));
        write("add-musician", &format!("[[] $pid {}]", musician.unwrap()));
        write(
            "add-instrument",
            &format!("[[:m {s}] $pid {}]", instrument.unwrap()),
        );
        write(
            "add-staff",
            &format!("[[:m {s} 0] $pid {}]", staff.unwrap()),
        );
    }
    write("set-time-signature", "[[] $pid 0 {:beats 4 :unit 4}]");

    let measure = t.exec("create-measure", &edn("[]")).unwrap();
    for s in 0..STAVES {
        for m in 0..MEASURES {
            write("add-measure", &format!("[[:m {s} 0 0] $pid {measure}]"));
            for item in script(s, m) {
                write(
                    "add-item",
                    &format!("[[:m {s} 0 0 {m} 0] $pid {}]", item.edn()),
                );
            }
        }
    }
    t.commits();

    let structure = t.ok("get-piece-structure", &pid, "[[] $pid]");
    let musicians = elements(field(&structure, "musicians"));
    assert_eq!(musicians.len(), STAVES);
    for m in musicians {
        let instruments = elements(field(m, "instruments"));
        assert_eq!(instruments.len(), 1);
        let staves = elements(field(&instruments[0], "staves"));
        assert_eq!(staves.len(), 1);
        assert_eq!(int(field(&staves[0], "measure-count")), MEASURES as i64);
    }
    (t, pid)
}

fn note(v: &Value) -> String {
    string(v).to_owned()
}

/// Checks one item read back against what was written, with `f` applied to every note.
fn check_item(got: &Value, written: &Written, f: &dyn Fn(&str) -> String, at: &str) {
    let duration = |d: &str| assert_eq!(field(got, "duration"), &edn(d), "{at}");
    match written {
        Written::Pitch(n) => {
            assert_eq!(note(field(got, "note")), f(n), "{at}");
            duration("1/4");
        }
        Written::Chord(ns) => {
            let got_notes: Vec<String> = elements(field(got, "pitches")).iter().map(note).collect();
            let expected: Vec<String> = ns.iter().map(|n| f(n)).collect();
            assert_eq!(got_notes, expected, "{at}");
            duration("1/4");
        }
        Written::Rest => {
            assert!(
                !has_field(got, "note") && !has_field(got, "pitches"),
                "{at}"
            );
            duration("1/4");
        }
        Written::Triplet(ns) => {
            assert_eq!(field(got, "ratio"), &edn("2/3"), "{at}");
            let inner = elements(field(got, "items"));
            assert_eq!(inner.len(), 3, "{at}");
            for (i, (item, n)) in inner.iter().zip(ns).enumerate() {
                assert_eq!(note(field(item, "note")), f(n), "{at} triplet {i}");
                assert_eq!(field(item, "duration"), &edn("1/8"), "{at} triplet {i}");
            }
        }
    }
}

/// Checks every item of the score; returns how many notes were checked.
fn check_score(t: &TestApi, pid: &str, f: &dyn Fn(&str) -> String) -> usize {
    let mut notes = 0;
    for s in 0..STAVES {
        for m in 0..MEASURES {
            let items = t.ok("get-items", pid, &format!("[[:m {s} 0 0 {m} 0] $pid]"));
            let items = elements(&items);
            let expected = script(s, m);
            assert_eq!(items.len(), expected.len(), "staff {s} measure {m}");
            for (i, (got, written)) in items.iter().zip(&expected).enumerate() {
                check_item(got, written, f, &format!("staff {s} measure {m} item {i}"));
                notes += match written {
                    Written::Pitch(_) => 1,
                    Written::Chord(ns) => ns.len(),
                    Written::Rest => 0,
                    Written::Triplet(_) => 3,
                };
            }
        }
    }
    notes
}

#[test]
fn the_spelling_table_moves_every_pool_note_up_four_semitones() {
    for n in POOL {
        let (from, to) = (
            Note::parse(n).unwrap(),
            Note::parse(&major_third_up(n)).unwrap(),
        );
        assert_eq!(to.midi() - from.midi(), 4, "{n}");
        assert_eq!(
            to.diatonic_index() - from.diatonic_index(),
            2,
            "{n}: a third"
        );
    }
}

#[test]
fn a_scripted_score_transposed_to_e_major_in_one_batch() {
    let (t, pid) = build_score();
    let version = t.version(&pid);
    // Every note as written, before the batch.
    let notes = check_score(&t, &pid, &|n| n.to_string());
    assert_eq!(notes, STAVES * MEASURES * 7);

    // E major from measure 0, then both staves up a major third: by semitones, spelled for the
    // key the first operation set, and by the exact interval.
    let ops = [
        op(
            "set-key-signature",
            &pid,
            r#"[[] $pid 0 {:mode :major :tonic "E"}]"#,
        ),
        op("transpose-chromatic", &pid, "[[:m 0 0 0] $pid 4]"),
        op("transpose-by-interval", &pid, r#"[[:m 1 0 0] $pid "M3"]"#),
    ];
    let results = t.ok("atomic", &pid, &batch(&ops));
    for result in elements(&results) {
        assert_eq!(written(result, &pid), version + 1);
    }

    assert_eq!(check_score(&t, &pid, &major_third_up), notes);
    let keys = t.ok("get-key-signatures", &pid, "[[] $pid]");
    let key = keys
        .as_map()
        .unwrap()
        .get(&Value::Int(0))
        .expect("a key at 0");
    assert_eq!(field(key, "mode"), &Value::keyword("major"));
    assert_eq!(field(key, "tonic"), &Value::string("E"));
    assert_eq!(t.version(&pid), version + 1);

    // One commit, one measures event covering every measure of both staves and the key change.
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(kinds(&commits[0]), [EventKind::PieceMeasuresInvalidated]);
    let data = event_data(&commits[0], EventKind::PieceMeasuresInvalidated);
    assert_eq!(field(&data, "all-staves-from"), &Value::Int(0));
    let every_measure = |staff: &str| format!("{{:staff {staff} :first 0 :last {}}}", MEASURES - 1);
    let ranges = format!(
        "[{} {}]",
        every_measure("[:m 0 0 0]"),
        every_measure("[:m 1 0 0]")
    );
    assert_eq!(field(&data, "ranges"), &edn(&ranges));
}

#[test]
fn a_failing_fifth_operation_of_six_leaves_the_score_untouched() {
    let (t, pid) = build_score();
    let before = t.snapshot(&pid);
    let version = t.version(&pid);
    let ops = [
        op("set-title", &pid, r#"[[] $pid "Changed"]"#),
        op("transpose-chromatic", &pid, "[[] $pid 7]"),
        op("set-key-signature", &pid, r#"[[] $pid 0 {:tonic "B"}]"#),
        op("add-musician", &pid, r#"[[] $pid {:name "Viola"}]"#),
        op(
            "add-item",
            &pid,
            "[[:m 0 0 0 40 0] $pid {:type :rest :duration 1/4}]",
        ),
        op("set-clef", &pid, "[[:m 1 0 0] $pid :alto]"),
    ];
    let e = t.fail("atomic", &pid, &batch(&ops));
    assert_eq!(e.reason(), "VPD_NOT_FOUND");
    let Error::BatchOperationFailed { index, method, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!((*index, method.as_str()), (4, "add-item"));
    assert!(e.to_string().contains("measure 40"), "{e}");

    assert_eq!(t.snapshot(&pid), before);
    assert_eq!(t.version(&pid), version);
    let listed = t.exec("list-pieces", &edn("[]")).unwrap();
    assert_eq!(int(field(&elements(&listed)[0], "version")), version);
    assert!(t.commits().is_empty());
}
