//! Tests of the pitch module: parsing and printing, key signatures and scales, interval names,
//! and every transposition, checked both on examples and exhaustively over all notes and keys.

use super::interval::MAJOR_OR_PERFECT;
use super::*;

fn n(text: &str) -> Note {
    text.parse()
        .unwrap_or_else(|e| panic!("{text} should parse: {e}"))
}

fn key(text: &str) -> KeySignature {
    text.parse()
        .unwrap_or_else(|e| panic!("{text} should parse: {e}"))
}

fn iv(text: &str) -> Interval {
    Interval::parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"))
}

fn chromatic(note: &str, semitones: i32, key_text: Option<&str>) -> String {
    let key = key_text.map(key);
    transpose_chromatic(&n(note), semitones, key.as_ref())
        .unwrap()
        .to_string()
}

fn diatonic(note: &str, steps: i32, key_text: &str) -> String {
    transpose_diatonic(&n(note), steps, &key(key_text))
        .unwrap()
        .to_string()
}

/// Every note with octave -1..=9, alterations -2..=2 and no cents.
fn all_notes() -> Vec<Note> {
    let mut notes = Vec::new();
    for octave in MIN_OCTAVE..=MAX_OCTAVE {
        for step in Step::ALL {
            for alter in -2..=2 {
                notes.push(Note::new(step, alter, octave).unwrap());
            }
        }
    }
    notes
}

/// Every accepted key: 15 signatures times 7 modes.
fn all_keys() -> Vec<KeySignature> {
    Mode::ALL
        .into_iter()
        .flat_map(|mode| (-7..=7).map(move |k| KeySignature::from_fifths(k, mode).unwrap()))
        .collect()
}

// --- parsing and printing ---------------------------------------------------------------

#[test]
fn canonical_pitch_text_round_trips() {
    for text in [
        "C4", "C#4", "Bb3", "Ebb4", "F##4", "C4+50", "C4-25", "C-1", "B-1-25", "G9", "B##9",
        "Cbb-1", "A0", "Db5+99", "Gb2-99",
    ] {
        let note = n(text);
        assert_eq!(note.to_string(), text);
        assert_eq!(n(&note.to_string()), note);
    }
}

#[test]
fn every_note_round_trips_through_text() {
    for note in all_notes() {
        for cents in [-99, -1, 0, 1, 50, 99] {
            let note = note.with_cents(cents).unwrap();
            assert_eq!(n(&note.to_string()), note);
        }
    }
}

#[test]
fn alternative_spellings_parse_to_canonical_form() {
    assert_eq!(n("Fx4"), n("F##4"));
    assert_eq!(n("Fx4").to_string(), "F##4");
    assert_eq!(n("C4+0").to_string(), "C4");
    assert_eq!(n("C4+050").cents(), 50);
    assert_eq!(n("C04"), n("C4"));
}

#[test]
fn fields_of_parsed_notes() {
    let note = n("Ebb4-25");
    assert_eq!(note.step(), Step::E);
    assert_eq!(note.alter(), -2);
    assert_eq!(note.octave(), 4);
    assert_eq!(note.cents(), -25);
    assert_eq!(note.name(), NoteName::new(Step::E, -2).unwrap());
    assert_eq!(n("C-1-25").octave(), -1);
    assert_eq!(n("C-1-25").cents(), -25);
    assert_eq!(n("C-1+5").cents(), 5);
}

#[test]
fn midi_numbers() {
    let cases = [
        ("C4", 60),
        ("A4", 69),
        ("C-1", 0),
        ("G9", 127),
        ("B3", 59),
        ("Cb4", 59),
        ("B#3", 60),
        ("Ebb4", 62),
        ("F##4", 67),
        ("Cbb-1", -2),
        ("B##9", 133),
        ("C4+50", 60),
    ];
    for (text, midi) in cases {
        assert_eq!(n(text).midi(), midi, "{text}");
    }
    assert_eq!(n("C4+50").total_cents(), 6050);
    assert_eq!(n("C4-25").total_cents(), 5975);
    assert_eq!(n("C4").diatonic_index(), 28);
    assert_eq!(n("B3").diatonic_index(), 27);
    assert_eq!(n("Cb4").diatonic_index(), 28);
}

#[test]
fn equality_is_by_spelling() {
    assert_ne!(n("C#4"), n("Db4"));
    assert!(n("C#4").is_enharmonic(n("Db4")));
    assert!(n("B#3").is_enharmonic(n("C4")));
    assert!(n("C4+50").is_enharmonic(n("C#4-50")));
    assert!(!n("C4").is_enharmonic(n("C4+1")));
    assert!(!n("C4").is_enharmonic(n("C5")));
    assert!(
        NoteName::parse("G#")
            .unwrap()
            .is_enharmonic("Ab".parse().unwrap())
    );
}

#[test]
fn invalid_pitch_text_is_refused_with_a_reason() {
    assert_eq!(
        n_err("H4"),
        "\"H4\" is not a pitch: unknown step 'H'".to_owned()
    );
    let cases = [
        ("", "empty"),
        ("C", "missing octave"),
        ("C#", "missing octave"),
        ("c4", "upper-case"),
        ("C###4", "\"###\""),
        ("C#b4", "\"#b\""),
        ("Cxx4", "\"xx\""),
        ("C10", "octave 10 is outside -1..=9"),
        ("C-2", "octave -2 is outside -1..=9"),
        (
            "C99999999999999999999",
            "octave 99999999999999999999 is outside -1..=9",
        ),
        (
            "C4+1000000000000000000000",
            "cents +1000000000000000000000 is outside",
        ),
        ("C4+100", "cents +100 is outside -99..=99"),
        ("C4-100", "cents -100"),
        ("C4+", "expected cents"),
        ("C4x", "expected cents"),
        ("C4 ", "expected cents"),
        (" C4", "unknown step ' '"),
        ("C4+5a", "unexpected \"a\""),
        ("Cn4", "expected an octave number at \"n4\""),
        ("C+4", "expected an octave"),
        ("♯4", "unknown step '♯'"),
    ];
    for (text, expected) in cases {
        let message = n_err(text);
        assert!(
            message.contains(expected),
            "{text:?}: {message:?} lacks {expected:?}"
        );
        assert!(message.contains("is not a pitch"), "{message}");
    }
}

fn n_err(text: &str) -> String {
    Note::parse(text).unwrap_err().to_string()
}

#[test]
fn constructors_check_bounds() {
    assert_eq!(Note::new(Step::C, 3, 4), Err(PitchError::Alter(3)));
    assert_eq!(Note::new(Step::C, -3, 4), Err(PitchError::Alter(-3)));
    assert_eq!(Note::new(Step::C, 0, 10), Err(PitchError::Octave(10)));
    assert_eq!(Note::new(Step::C, 0, -2), Err(PitchError::Octave(-2)));
    assert_eq!(
        n("C4").with_cents(100).unwrap_err().to_string(),
        "cents 100 is outside -99..=99"
    );
    assert_eq!(n("C4").with_cents(-99).unwrap().to_string(), "C4-99");
    assert_eq!(NoteName::new(Step::F, 3), Err(PitchError::Alter(3)));
}

#[test]
fn steps() {
    assert_eq!(Step::from_index(0), Some(Step::C));
    assert_eq!(Step::from_index(6), Some(Step::B));
    assert_eq!(Step::from_index(7), None);
    for step in Step::ALL {
        assert_eq!(Step::from_letter(step.letter()), Some(step));
        assert_eq!(Step::from_index(usize::from(step.index())), Some(step));
    }
    assert_eq!(Step::from_letter('H'), None);
    assert_eq!(Step::B.natural_semitone(), 11);
    assert!(Step::C < Step::B);
}

#[test]
fn note_names() {
    for text in ["C", "F#", "Bb", "Ebb", "G##"] {
        assert_eq!(NoteName::parse(text).unwrap().to_string(), text);
    }
    assert_eq!(NoteName::parse("Fx").unwrap().to_string(), "F##");
    assert_eq!(NoteName::parse("F#").unwrap().pitch_class(), 6);
    assert_eq!(NoteName::parse("Cb").unwrap().pitch_class(), 11);
    assert_eq!(NoteName::parse("B#").unwrap().pitch_class(), 0);
    assert_eq!(NoteName::parse("F").unwrap().fifths(), -1);
    assert_eq!(NoteName::parse("F#").unwrap().fifths(), 6);
    assert_eq!(NoteName::parse("Bb").unwrap().fifths(), -2);
    for fifths in -15..=19 {
        assert_eq!(NoteName::from_fifths(fifths).unwrap().fifths(), fifths);
    }
    assert_eq!(NoteName::from_fifths(-16), None);
    assert_eq!(NoteName::from_fifths(20), None);
    assert_eq!(
        NoteName::parse("F#4").unwrap_err().to_string(),
        "\"F#4\" is not a note name: unexpected \"4\" after the accidental"
    );
    assert!(NoteName::parse("H").is_err());
    assert!(NoteName::parse("").is_err());
}

// --- modes and keys ---------------------------------------------------------------------

#[test]
fn modes_parse_and_print() {
    for mode in Mode::ALL {
        assert_eq!(Mode::parse(mode.name()).unwrap(), mode);
        assert_eq!(mode.to_string().parse::<Mode>().unwrap(), mode);
    }
    assert_eq!(Mode::parse(":major").unwrap(), Mode::Ionian);
    assert_eq!(Mode::parse("ionian").unwrap(), Mode::MAJOR);
    assert_eq!(Mode::parse("Aeolian").unwrap(), Mode::MINOR);
    assert_eq!(Mode::parse(":minor").unwrap(), Mode::Aeolian);
    assert_eq!(Mode::parse(":LOCRIAN").unwrap(), Mode::Locrian);
    assert_eq!(Mode::Ionian.to_string(), "major");
    assert_eq!(Mode::Aeolian.to_string(), "minor");
    assert_eq!(Mode::Dorian.to_string(), "dorian");
    assert!(
        Mode::parse("blues")
            .unwrap_err()
            .to_string()
            .starts_with("\"blues\" is not a mode")
    );
}

#[test]
fn signatures_of_major_and_minor_keys() {
    let majors = [
        ("Cb", -7),
        ("Gb", -6),
        ("Db", -5),
        ("Ab", -4),
        ("Eb", -3),
        ("Bb", -2),
        ("F", -1),
        ("C", 0),
        ("G", 1),
        ("D", 2),
        ("A", 3),
        ("E", 4),
        ("B", 5),
        ("F#", 6),
        ("C#", 7),
    ];
    let minors = [
        ("Ab", -7),
        ("Eb", -6),
        ("Bb", -5),
        ("F", -4),
        ("C", -3),
        ("G", -2),
        ("D", -1),
        ("A", 0),
        ("E", 1),
        ("B", 2),
        ("F#", 3),
        ("C#", 4),
        ("G#", 5),
        ("D#", 6),
        ("A#", 7),
    ];
    for (mode, table) in [(Mode::MAJOR, majors), (Mode::MINOR, minors)] {
        for (tonic, fifths) in table {
            let key = KeySignature::new(NoteName::parse(tonic).unwrap(), mode).unwrap();
            assert_eq!(key.fifths(), fifths, "{key}");
            assert_eq!(key.sharps(), fifths.max(0) as u8);
            assert_eq!(key.flats(), (-fifths).max(0) as u8);
            assert_eq!(KeySignature::from_fifths(fifths, mode).unwrap(), key);
            assert_eq!(key.accidentals().len(), fifths.unsigned_abs() as usize);
        }
    }
}

#[test]
fn signature_accidentals_in_written_order() {
    let names = |key: KeySignature| {
        key.accidentals()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(names(key("C# major")), "F# C# G# D# A# E# B#");
    assert_eq!(names(key("Cb major")), "Bb Eb Ab Db Gb Cb Fb");
    assert_eq!(names(key("E major")), "F# C# G# D#");
    assert_eq!(names(key("D minor")), "Bb");
    assert_eq!(names(key("A minor")), "");
}

#[test]
fn scales_of_all_modes() {
    let scale = |text: &str| {
        key(text)
            .scale()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(scale("C major"), "C D E F G A B");
    assert_eq!(scale("E major"), "E F# G# A B C# D#");
    assert_eq!(scale("Eb major"), "Eb F G Ab Bb C D");
    assert_eq!(scale("F# minor"), "F# G# A B C# D E");
    assert_eq!(scale("D dorian"), "D E F G A B C");
    assert_eq!(scale("E phrygian"), "E F G A B C D");
    assert_eq!(scale("F lydian"), "F G A B C D E");
    assert_eq!(scale("G mixolydian"), "G A B C D E F");
    assert_eq!(scale("A aeolian"), "A B C D E F G");
    assert_eq!(scale("B locrian"), "B C D E F G A");
    assert_eq!(scale("C dorian"), "C D Eb F G A Bb");
    assert_eq!(scale("C phrygian"), "C Db Eb F G Ab Bb");
    assert_eq!(scale("C lydian"), "C D E F# G A B");
    assert_eq!(scale("C mixolydian"), "C D E F G A Bb");
    assert_eq!(scale("C minor"), "C D Eb F G Ab Bb");
    assert_eq!(scale("C locrian"), "C Db Eb F Gb Ab Bb");
    assert_eq!(scale("C# major"), "C# D# E# F# G# A# B#");
    assert_eq!(scale("Cb major"), "Cb Db Eb Fb Gb Ab Bb");
    assert_eq!(
        [
            key("C dorian").fifths(),
            key("C phrygian").fifths(),
            key("C lydian").fifths(),
            key("C mixolydian").fifths(),
            key("C locrian").fifths()
        ],
        [-2, -4, 1, -1, -5]
    );
}

#[test]
fn scales_are_consistent_for_every_key() {
    for key in all_keys() {
        let scale = key.scale();
        assert_eq!(scale[0], key.tonic(), "{key}");
        for (degree, name) in scale.iter().enumerate() {
            assert!(name.alter().abs() <= 1, "{key}: {name}");
            assert_eq!(key.alter_of(name.step()), name.alter());
            assert_eq!(key.degree_of(*name), Some(degree as u8));
            assert!(key.is_diatonic(*name));
        }
        let classes: std::collections::BTreeSet<u8> =
            scale.iter().map(|name| name.pitch_class()).collect();
        assert_eq!(classes.len(), 7, "{key}");
        // The mode's interval pattern: the major scale rotated.
        let rotation = Mode::ALL.iter().position(|m| *m == key.mode()).unwrap();
        for i in 0..7 {
            let expected =
                (MAJOR_OR_PERFECT[(rotation + i) % 7] - MAJOR_OR_PERFECT[rotation]).rem_euclid(12);
            let actual = (i32::from(scale[i].pitch_class()) - i32::from(scale[0].pitch_class()))
                .rem_euclid(12);
            assert_eq!(actual, expected, "{key} degree {i}");
        }
        assert_eq!(key.to_string().parse::<KeySignature>().unwrap(), key);
    }
}

#[test]
fn key_signature_text() {
    assert_eq!(key("E major").to_string(), "E major");
    assert_eq!(key("F# aeolian").to_string(), "F# minor");
    assert_eq!(key("Bb :minor").to_string(), "Bb minor");
    assert_eq!(KeySignature::parse("E", ":major").unwrap(), key("E major"));
    assert!(
        "E".parse::<KeySignature>()
            .unwrap_err()
            .to_string()
            .contains("expected a tonic and a mode")
    );
    assert!("E major extra".parse::<KeySignature>().is_err());
    let f_sharp_minor = KeySignature::parse("F#", ":minor").unwrap();
    assert_eq!(f_sharp_minor.tonic_name(), "F#");
    assert_eq!(f_sharp_minor.mode_name(), "minor");
    assert_eq!(
        KeySignature::parse("Bb", "ionian").unwrap().mode_name(),
        "major"
    );
    assert_eq!(KeySignature::default(), key("C major"));
    assert_eq!(KeySignature::default().fifths(), 0);
    assert_eq!(
        KeySignature::parse("E", "blues").unwrap_err().to_string(),
        "\"blues\" is not a mode: expected major, minor, ionian, dorian, phrygian, lydian, \
         mixolydian, aeolian or locrian"
    );
    assert_eq!(
        KeySignature::parse("H", "major").unwrap_err().to_string(),
        "\"H\" is not a note name: unknown step 'H'"
    );
    assert!("H major".parse::<KeySignature>().is_err());
    assert!("E blues".parse::<KeySignature>().is_err());
}

#[test]
fn theoretical_keys_are_refused_naming_the_alternative() {
    let message = |tonic: &str, mode: Mode| {
        KeySignature::new(NoteName::parse(tonic).unwrap(), mode)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message("G#", Mode::MAJOR),
        "G# major would need 8 sharps; a key signature has at most 7 (use Ab major)"
    );
    assert_eq!(
        message("Fb", Mode::MAJOR),
        "Fb major would need 8 flats; a key signature has at most 7 (use E major)"
    );
    assert_eq!(
        message("Db", Mode::MINOR),
        "Db minor would need 8 flats; a key signature has at most 7 (use C# minor)"
    );
    assert_eq!(
        message("F##", Mode::Lydian),
        "F## lydian would need 14 sharps; a key signature has at most 7 (use G lydian)"
    );
    assert!(matches!(
        KeySignature::parse("E#", "major"),
        Err(PitchError::TheoreticalKey { fifths: 11, .. })
    ));
    assert_eq!(
        KeySignature::from_fifths(8, Mode::MAJOR),
        Err(PitchError::Fifths(8))
    );
    // Every tonic with every mode is either accepted or refused with a real alternative.
    for fifths in -15..=19 {
        let tonic = NoteName::from_fifths(fifths).unwrap();
        for mode in Mode::ALL {
            match KeySignature::new(tonic, mode) {
                Ok(key) => assert!(key.fifths().abs() <= 7),
                Err(PitchError::TheoreticalKey { alternative, .. }) => {
                    let real = KeySignature::new(alternative, mode).unwrap();
                    assert!(real.tonic().is_enharmonic(tonic));
                }
                Err(other) => panic!("{tonic} {mode}: {other}"),
            }
        }
    }
}

// --- intervals --------------------------------------------------------------------------

#[test]
fn interval_names() {
    let cases = [
        ("P1", 0, 0),
        ("A1", 0, 1),
        ("m2", 1, 1),
        ("M2", 1, 2),
        ("A2", 1, 3),
        ("d3", 2, 2),
        ("m3", 2, 3),
        ("M3", 2, 4),
        ("d4", 3, 4),
        ("P4", 3, 5),
        ("A4", 3, 6),
        ("d5", 4, 6),
        ("P5", 4, 7),
        ("A5", 4, 8),
        ("m6", 5, 8),
        ("M6", 5, 9),
        ("d7", 6, 9),
        ("m7", 6, 10),
        ("M7", 6, 11),
        ("d8", 7, 11),
        ("P8", 7, 12),
        ("A8", 7, 13),
        ("m9", 8, 13),
        ("M10", 9, 16),
        ("P11", 10, 17),
        ("P12", 11, 19),
        ("P15", 14, 24),
        ("dd5", 4, 5),
        ("dd3", 2, 1),
        ("AA4", 3, 7),
        ("AA6", 5, 11),
        ("d2", 1, 0),
    ];
    for (text, steps, semitones) in cases {
        let interval = iv(text);
        assert_eq!(interval, Interval::new(steps, semitones), "{text}");
        assert_eq!(interval.to_string(), text);
        let down = iv(&format!("-{text}"));
        assert_eq!(down, -interval);
        if interval != Interval::UNISON {
            assert_eq!(down.to_string(), format!("-{text}"));
        }
        assert_eq!(iv(&format!("+{text}")), interval);
    }
    assert_eq!(iv("M3"), Interval::MAJOR_THIRD);
    assert_eq!(iv("P8"), Interval::OCTAVE);
    assert_eq!(iv("A4"), Interval::AUGMENTED_FOURTH);
    assert_eq!(iv("d5"), Interval::DIMINISHED_FIFTH);
    assert_eq!(iv("-P1"), Interval::UNISON);
    assert_eq!(
        Interval::from_quality(Quality::Minor, 6).unwrap(),
        Interval::MINOR_SIXTH
    );
    assert_eq!(
        Interval::from_quality(Quality::Major, 7).unwrap(),
        Interval::MAJOR_SEVENTH
    );
    assert_eq!(iv("M3").quality_and_number(), Some((Quality::Major, 3)));
    assert_eq!(iv("-m2").quality_and_number(), Some((Quality::Minor, 2)));
}

#[test]
fn every_named_interval_round_trips() {
    let qualities = [
        Quality::DoublyDiminished,
        Quality::Diminished,
        Quality::Minor,
        Quality::Perfect,
        Quality::Major,
        Quality::Augmented,
        Quality::DoublyAugmented,
    ];
    let mut named = 0;
    for number in 1..=MAX_INTERVAL_NUMBER {
        for quality in qualities {
            let Ok(interval) = Interval::from_quality(quality, number) else {
                continue;
            };
            named += 1;
            assert_eq!(interval.quality_and_number(), Some((quality, number)));
            assert_eq!(iv(&interval.to_string()), interval);
            assert_eq!(iv(&(-interval).to_string()), -interval);
        }
    }
    // Per number: 5 qualities for perfect kinds, 6 for the others; unisons lose 2.
    assert!(named > 500);
}

#[test]
fn unnamed_intervals_print_their_parts() {
    assert_eq!(Interval::new(1, 7).to_string(), "1 steps/7 semitones");
    assert_eq!(Interval::new(1, 7).quality_and_number(), None);
    assert_eq!(Interval::new(0, -1).to_string(), "-A1");
    assert_eq!(Interval::new(100, 170).quality_and_number(), None);
}

#[test]
fn invalid_intervals_are_refused() {
    let cases = [
        ("", "missing the interval number"),
        ("M", "missing the interval number"),
        ("3", "missing the quality"),
        ("X3", "unknown quality \"X\""),
        (
            "P3",
            "a 3rd is major, minor, diminished or augmented, not perfect",
        ),
        ("M5", "a 5th is perfect, diminished or augmented, not major"),
        (
            "m8",
            "an octave is perfect, diminished or augmented, not minor",
        ),
        ("d1", "a unison cannot be diminished"),
        ("M0", "interval number 0 is outside 1..=99"),
        ("M100", "interval number 100"),
        (
            "M99999999999999",
            "interval number 99999999999999 is outside 1..=99",
        ),
        ("M3 ", "unexpected text"),
        ("M3x", "unexpected text"),
        ("--M3", "unknown quality \"-M\""),
    ];
    for (text, expected) in cases {
        let message = Interval::parse(text).unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "{text:?}: {message:?} lacks {expected:?}"
        );
        assert!(
            message.starts_with(&format!("{text:?} is not an interval: ")),
            "{message}"
        );
    }
    assert!(Interval::from_quality(Quality::Perfect, 2).is_err());
}

#[test]
fn interval_between_notes() {
    assert_eq!(Interval::between(n("C4"), n("E4")), iv("M3"));
    assert_eq!(Interval::between(n("E4"), n("C4")), iv("-M3"));
    assert_eq!(Interval::between(n("B3"), n("C4")), iv("m2"));
    assert_eq!(Interval::between(n("C4"), n("C#4")), iv("A1"));
    assert_eq!(Interval::between(n("C4"), n("Db4")), iv("m2"));
    assert_eq!(Interval::between(n("F#4"), n("C5")), iv("d5"));
    assert_eq!(Interval::between(n("C4"), n("G5")), iv("P12"));
}

// --- transposition by interval ----------------------------------------------------------

#[test]
fn transposition_by_interval_spells_exactly() {
    let cases = [
        ("F#4", "M3", "A#4"),
        ("C4", "M3", "E4"),
        ("E4", "m2", "F4"),
        ("B3", "m2", "C4"),
        ("C4", "-m2", "B3"),
        ("C4", "A1", "C#4"),
        ("C4", "-A1", "Cb4"),
        ("C4", "m2", "Db4"),
        ("Bb3", "M2", "C4"),
        ("Eb4", "A4", "A4"),
        ("Eb4", "d5", "Bbb4"),
        ("D4", "-P5", "G3"),
        ("B#3", "m2", "C#4"),
        ("Cb4", "-M2", "Bbb3"),
        ("C4+50", "P5", "G4+50"),
        ("A4", "M3", "C#5"),
        ("G#4", "M3", "B#4"),
        ("C4", "P15", "C6"),
        ("C4", "-P15", "C2"),
        ("F##4", "m2", "G#4"),
        ("Gbb4", "M2", "Abb4"),
    ];
    for (note, interval, expected) in cases {
        assert_eq!(
            transpose_by_interval(&n(note), iv(interval))
                .unwrap()
                .to_string(),
            expected,
            "{note} + {interval}"
        );
    }
}

#[test]
fn transposition_by_interval_refuses_triple_accidentals_and_range() {
    let err = transpose_by_interval(&n("F##4"), iv("A2")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "F##4 moved by A2 would be G with alteration +3, beyond a double sharp or flat"
    );
    assert!(matches!(
        transpose_by_interval(&n("Cbb4"), iv("-A1")),
        Err(PitchError::Unspellable { alter: -3, .. })
    ));
    assert_eq!(
        transpose_by_interval(&n("B9"), iv("m2")),
        Err(PitchError::Octave(10))
    );
    assert_eq!(
        transpose_by_interval(&n("C-1"), iv("-m2")),
        Err(PitchError::Octave(-2))
    );
    assert_eq!(
        transpose_by_interval(&n("G9"), iv("M3"))
            .unwrap()
            .to_string(),
        "B9"
    );
    assert_eq!(
        transpose_by_interval(&n("C-1"), iv("-A1"))
            .unwrap()
            .to_string(),
        "Cb-1"
    );
    assert!(transpose_by_interval(&n("C4"), Interval::new(i32::MAX, 0)).is_err());
    assert!(transpose_by_interval(&n("C4"), Interval::new(0, i32::MIN)).is_err());
}

#[test]
fn interval_and_back_returns_the_original() {
    let intervals: Vec<Interval> = [
        "P1", "A1", "m2", "M2", "A2", "d3", "m3", "M3", "d4", "P4", "A4", "d5", "P5", "A5", "m6",
        "M6", "m7", "M7", "d7", "P8", "M9", "P12", "M14", "P15",
    ]
    .iter()
    .map(|text| iv(text))
    .collect();
    let mut checked = 0;
    for note in all_notes() {
        let note = note.with_cents(17).unwrap();
        for &interval in &intervals {
            for interval in [interval, -interval] {
                let Ok(moved) = transpose_by_interval(&note, interval) else {
                    continue;
                };
                checked += 1;
                assert_eq!(moved.midi() - note.midi(), interval.semitones);
                assert_eq!(
                    moved.diatonic_index() - note.diatonic_index(),
                    interval.steps
                );
                assert_eq!(moved.cents(), 17);
                assert_eq!(Interval::between(note, moved), interval);
                assert_eq!(transpose_by_interval(&moved, -interval).unwrap(), note);
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
    // Single accidentals moved by minor, major and perfect intervals, the augmented fourth
    // and the diminished fifth always fit, except at the ends of the range.
    let common: Vec<Interval> = intervals
        .iter()
        .copied()
        .filter(|interval| {
            matches!(
                interval.quality_and_number(),
                Some((Quality::Minor | Quality::Major | Quality::Perfect, _))
            ) || *interval == Interval::AUGMENTED_FOURTH
                || *interval == Interval::DIMINISHED_FIFTH
        })
        .collect();
    assert_eq!(common.len(), 18);
    for note in all_notes() {
        if note.alter().abs() > 1 || !(1..=7).contains(&note.octave()) {
            continue;
        }
        for &interval in &common {
            for interval in [interval, -interval] {
                assert!(
                    transpose_by_interval(&note, interval).is_ok(),
                    "{note} {interval}"
                );
            }
        }
    }
}

// --- chromatic transposition ------------------------------------------------------------

#[test]
fn chromatic_examples_from_the_issue() {
    assert_eq!(chromatic("C4", 4, None), "E4");
    assert_eq!(chromatic("C4", 1, Some("F major")), "Db4");
    assert_eq!(chromatic("C4", 1, Some("D major")), "C#4");
}

#[test]
fn chromatic_without_key_uses_naturals_then_direction() {
    assert_eq!(chromatic("C4", 1, None), "C#4");
    assert_eq!(chromatic("D4", 1, None), "D#4");
    assert_eq!(chromatic("D4", -1, None), "Db4");
    assert_eq!(chromatic("E4", 1, None), "F4");
    assert_eq!(chromatic("F4", -1, None), "E4");
    assert_eq!(chromatic("C4", -1, None), "B3");
    assert_eq!(chromatic("B3", 1, None), "C4");
    assert_eq!(chromatic("Bb3", 2, None), "C4");
    assert_eq!(chromatic("C#4", 12, None), "C#5");
    assert_eq!(chromatic("Db4", 12, None), "C#5");
    assert_eq!(chromatic("C#4", -12, None), "Db3");
    assert_eq!(chromatic("Cb4", 1, None), "C4");
    assert_eq!(chromatic("C4+50", 7, None), "G4+50");
    assert_eq!(chromatic("C4-25", -13, None), "B2-25");
    assert_eq!(chromatic("F##4", 24, None), "G6");
}

#[test]
fn chromatic_by_zero_keeps_the_note() {
    for text in ["C#4", "Db4", "F##4", "Cb4+30"] {
        assert_eq!(chromatic(text, 0, None), text);
        assert_eq!(chromatic(text, 0, Some("C major")), text);
    }
}

#[test]
fn chromatic_spelling_table_per_key() {
    // The spelling of each pitch class 0..12 reached by moving up from C-1 (and down from
    // C10's position), per key.
    let spell = |key_text: &str, up: bool| {
        let key = key(key_text);
        (0..12)
            .map(|pc| {
                let (start, semitones) = if up { ("C3", pc + 12) } else { ("C6", pc - 24) };
                transpose_chromatic(&n(start), semitones, Some(&key))
                    .unwrap()
                    .name()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(spell("C major", true), "C C# D Eb E F F# G G# A Bb B");
    assert_eq!(spell("C major", false), "C C# D Eb E F F# G Ab A Bb B");
    assert_eq!(spell("A minor", false), "C C# D Eb E F F# G G# A Bb B");
    assert_eq!(spell("D dorian", false), "C C# D Eb E F F# G Ab A Bb B");
    assert_eq!(spell("G major", false), "C C# D D# E F F# G G# A Bb B");
    assert_eq!(spell("F major", true), "C Db D Eb E F F# G Ab A Bb B");
    assert_eq!(spell("D major", true), "C C# D D# E F F# G G# A A# B");
    assert_eq!(spell("D minor", true), "C C# D Eb E F F# G Ab A Bb B");
    assert_eq!(spell("E major", true), "B# C# D D# E E# F# G G# A A# B");
    assert_eq!(spell("Eb major", true), "C Db D Eb E F Gb G Ab A Bb Cb");
    assert_eq!(spell("Bb major", true), "C Db D Eb E F Gb G Ab A Bb B");
    assert_eq!(spell("B major", true), "B# C# D D# E E# F# G G# A A# B");
    assert_eq!(spell("G# minor", true), "B# C# D D# E E# F# F## G# A A# B");
    assert_eq!(spell("C# major", true), "B# C# D D# E E# F# G G# A A# B");
    assert_eq!(spell("A# minor", true), "B# C# D D# E E# F# G G# G## A# B");
    assert_eq!(spell("Cb major", true), "C Db D Eb Fb F Gb G Ab A Bb Cb");
    assert_eq!(spell("Gb major", true), "C Db D Eb Fb F Gb G Ab A Bb Cb");
}

#[test]
fn chromatic_respects_the_key_spelling_and_range() {
    // C major melody up a major third into E major: all notes from the E major scale.
    for (from, to) in [
        ("C4", "E4"),
        ("D4", "F#4"),
        ("E4", "G#4"),
        ("F4", "A4"),
        ("G4", "B4"),
        ("A4", "C#5"),
        ("B4", "D#5"),
    ] {
        assert_eq!(chromatic(from, 4, Some("E major")), to);
    }
    assert_eq!(chromatic("Db4", 1, Some("D major")), "D4");
    assert_eq!(chromatic("B3", 1, Some("F# major")), "B#3");
    assert_eq!(chromatic("C4", -1, Some("Gb major")), "Cb4");
    assert_eq!(
        transpose_chromatic(&n("G9"), 5, None),
        Err(PitchError::Octave(10))
    );
    assert_eq!(
        transpose_chromatic(&n("C-1"), -1, None),
        Err(PitchError::Octave(-2))
    );
    assert_eq!(
        transpose_chromatic(&n("C-1"), -1, Some(&key("Gb major")))
            .unwrap()
            .to_string(),
        "Cb-1"
    );
    assert_eq!(
        transpose_chromatic(&n("A9"), 3, Some(&key("C# major")))
            .unwrap()
            .to_string(),
        "B#9"
    );
    assert!(transpose_chromatic(&n("C4"), i32::MAX, None).is_err());
    assert!(transpose_chromatic(&n("C4"), i32::MIN, Some(&key("C major"))).is_err());
}

#[test]
fn chromatic_preserves_semitone_distance_for_all_notes_keys_and_offsets() {
    let mut keys: Vec<Option<KeySignature>> = all_keys().into_iter().map(Some).collect();
    keys.push(None);
    let notes: Vec<Note> = all_notes()
        .into_iter()
        .filter(|note| (2..=6).contains(&note.octave()))
        .map(|note| note.with_cents(-7).unwrap())
        .collect();
    for key in &keys {
        for &note in &notes {
            for semitones in -24..=24 {
                let moved = transpose_chromatic(&note, semitones, key.as_ref()).unwrap();
                assert_eq!(moved.midi() - note.midi(), semitones, "{note} {semitones}");
                assert_eq!(moved.cents(), -7);
                if semitones == 0 {
                    assert_eq!(moved, note);
                    continue;
                }
                let name = moved.name();
                match key {
                    None => assert!(
                        name.alter() == 0 || name.alter() == if semitones > 0 { 1 } else { -1 }
                    ),
                    Some(key) => {
                        let diatonic = key
                            .scale()
                            .into_iter()
                            .find(|degree| degree.is_enharmonic(name));
                        if let Some(degree) = diatonic {
                            assert_eq!(name, degree, "{key}: {note} {semitones}");
                        }
                        let leading_tone = key.mode() == Mode::Aeolian && {
                            let seventh = key.scale()[6];
                            name.step() == seventh.step() && name.alter() == seventh.alter() + 1
                        };
                        if !leading_tone {
                            assert!(name.alter().abs() <= 1, "{key}: {note} {semitones}");
                        }
                    }
                }
            }
        }
    }
}

// --- diatonic transposition -------------------------------------------------------------

#[test]
fn diatonic_examples_from_the_issue() {
    assert_eq!(diatonic("F#4", 1, "G major"), "G4");
    assert_eq!(diatonic("B4", 1, "G major"), "C5");
}

#[test]
fn diatonic_moves_by_scale_degrees() {
    assert_eq!(diatonic("C4", 2, "C major"), "E4");
    assert_eq!(diatonic("C5", -1, "C major"), "B4");
    assert_eq!(diatonic("C4", 7, "C major"), "C5");
    assert_eq!(diatonic("C4", -7, "C major"), "C3");
    assert_eq!(diatonic("C4", 9, "C major"), "E5");
    assert_eq!(diatonic("E4", 1, "E major"), "F#4");
    assert_eq!(diatonic("E4", 2, "E major"), "G#4");
    assert_eq!(diatonic("D#5", 1, "E major"), "E5");
    assert_eq!(diatonic("Bb3", 1, "F major"), "C4");
    assert_eq!(diatonic("C4", -1, "F major"), "Bb3");
    assert_eq!(diatonic("A4", 2, "D dorian"), "C5");
    assert_eq!(diatonic("E4", 1, "E phrygian"), "F4");
    assert_eq!(diatonic("E4", 1, "D major"), "F#4");
    assert_eq!(diatonic("B#3", 1, "C# major"), "C#4");
    assert_eq!(diatonic("Fb4", -1, "Cb major"), "Eb4");
    assert_eq!(diatonic("C4+30", 4, "C major"), "G4+30");
}

#[test]
fn diatonic_keeps_chromatic_deviation() {
    assert_eq!(diatonic("C#4", 1, "C major"), "D#4");
    assert_eq!(diatonic("F4", 1, "G major"), "Gb4");
    assert_eq!(diatonic("F4", -1, "G major"), "Eb4");
    assert_eq!(diatonic("G#4", 1, "A minor"), "A#4");
    assert_eq!(diatonic("C4", 1, "D major"), "Db4");
    assert_eq!(diatonic("C##4", 1, "C major"), "D##4");
    assert_eq!(diatonic("Bbb3", 1, "C major"), "Cbb4");
    assert_eq!(diatonic("B3", 1, "F major"), "C#4");
}

#[test]
fn diatonic_respells_instead_of_triple_accidentals() {
    // Fbb is three below F# in D major; three below G would be Gbbb, written Fb.
    assert_eq!(diatonic("Fbb4", 1, "D major"), "Fb4");
    // B## is three above Bb in F major; C### and A### are respelled on the next letter up.
    assert_eq!(diatonic("B##3", 1, "F major"), "D#4");
    assert_eq!(diatonic("B##3", -1, "F major"), "B#3");
    // In Cb major B## deviates by +3 from the key's Bb; one step up, the key's Cb + 3 is
    // C##, which fits.
    assert_eq!(diatonic("B##3", 1, "Cb major"), "C##4");
    assert_eq!(diatonic("Cbb4", 1, "C# major"), "Dbb4");
    assert_eq!(diatonic("Cbb4", -1, "C# major"), "Bbb3");
    assert_eq!(diatonic("Ebb4", 1, "A major"), "Fb4");
    for key in all_keys() {
        for note in all_notes() {
            let deviation = note.alter() - key.alter_of(note.step());
            for steps in [-8, -3, -1, 1, 2, 7] {
                let Ok(moved) = transpose_diatonic(&note, steps, &key) else {
                    continue;
                };
                let index = note.diatonic_index() + steps;
                let letter = Step::wrapping(i64::from(index));
                let kept = key.alter_of(letter) + deviation;
                let octave = index.div_euclid(7);
                let target =
                    (octave + 1) * 12 + i32::from(letter.natural_semitone()) + i32::from(kept);
                assert_eq!(moved.midi(), target, "{key}: {note} {steps}");
                if kept.abs() <= 2 {
                    assert_eq!(moved.step(), letter, "{key}: {note} {steps}");
                    assert_eq!(moved.alter(), kept);
                } else {
                    // Respelled on the next letter towards the pitch (two at most).
                    let moved_by = moved.diatonic_index() - index;
                    assert!(
                        moved_by.signum() == i32::from(kept.signum()) && moved_by.abs() <= 2,
                        "{key}: {note} {steps} -> {moved}"
                    );
                }
            }
        }
    }
}

#[test]
fn diatonic_range_errors() {
    assert_eq!(
        transpose_diatonic(&n("B9"), 1, &key("C major")),
        Err(PitchError::Octave(10))
    );
    assert_eq!(
        transpose_diatonic(&n("C-1"), -1, &key("C major")),
        Err(PitchError::Octave(-2))
    );
    assert!(transpose_diatonic(&n("C4"), i32::MAX, &key("C major")).is_err());
    assert!(transpose_diatonic(&n("C4"), i32::MIN, &key("C major")).is_err());
    assert_eq!(diatonic("A9", 1, "C major"), "B9");
}

#[test]
fn diatonic_up_and_back_returns_the_original() {
    let mut checked = 0;
    for key in all_keys() {
        for note in all_notes() {
            let deviation = note.alter() - key.alter_of(note.step());
            if deviation.abs() > 1 {
                continue;
            }
            for steps in -16..=16 {
                let Ok(moved) = transpose_diatonic(&note, steps, &key) else {
                    continue;
                };
                checked += 1;
                assert_eq!(
                    moved.diatonic_index() - note.diatonic_index(),
                    steps,
                    "{key}: {note} {steps}"
                );
                assert_eq!(
                    key.is_diatonic(moved.name()),
                    deviation == 0,
                    "{key}: {note} {steps}"
                );
                assert_eq!(transpose_diatonic(&moved, -steps, &key).unwrap(), note);
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

// --- the scripted score -----------------------------------------------------------------

#[test]
fn two_staves_up_a_major_third_into_e_major() {
    let treble = ["C5", "B4", "A4", "G4", "F#4", "F4", "E4", "Bb4", "D5", "C5"];
    let bass = ["C3", "G2", "A2", "E2", "F2", "D2", "G2", "C3", "Eb3", "G#2"];
    let treble_expected = [
        "E5", "D#5", "C#5", "B4", "A#4", "A4", "G#4", "D5", "F#5", "E5",
    ];
    let bass_expected = [
        "E3", "B2", "C#3", "G#2", "A2", "F#2", "B2", "E3", "G3", "B#2",
    ];
    let e_major = key("E major");
    for (staff, expected) in [(treble, treble_expected), (bass, bass_expected)] {
        for (from, to) in staff.iter().zip(expected) {
            let exact = transpose_by_interval(&n(from), Interval::MAJOR_THIRD).unwrap();
            assert_eq!(exact.to_string(), to, "{from}");
            let by_key = transpose_chromatic(&n(from), 4, Some(&e_major)).unwrap();
            assert_eq!(by_key.to_string(), to, "{from} in E major");
        }
    }
}
