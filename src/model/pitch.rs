//! Pitch names, key signatures, intervals and transposition.
//!
//! Everything here is a pure function over small `Copy` values; nothing touches the piece tree.
//! The methods `create-pitch`, `create-chord`, `create-key-signature`, `set-key-signature`,
//! `transpose-chromatic` and `transpose-diatonic` are built on it.
//!
//! # Pitch text
//!
//! A pitch is written `<step><accidental><octave>[<cents>]`, for example `C4`, `C#4`, `Bb3`,
//! `Ebb4`, `F##4`, `Fx4`, `C4+50`, `C4-25`, `C-1`, `B-1-25`.
//!
//! * The step is an upper-case letter `C D E F G A B` (a lower-case letter is refused, so that
//!   `b` always means flat).
//! * The accidental is one of nothing, `#`, `##` or `x` (double sharp), `b`, `bb`. Triple
//!   accidentals and mixtures such as `#b` are refused: [`Note::alter`] is always in `-2..=2`.
//! * The octave is scientific pitch notation: middle C is `C4` (MIDI 60), `A4` is MIDI 69, and
//!   the octave number belongs to the letter, so `Cb4` sounds as B3 (MIDI 59) and `B#3` as C4
//!   (MIDI 60). Octaves `-1..=9` are accepted, so the lowest pitch is `Cbb-1` (MIDI -2) and the
//!   highest `B##9` (MIDI 133); [`Note::midi`] is an `i32` and is not clamped to MIDI's 0..=127.
//! * Optional cents are a signed deviation in `-99..=99`, written with an explicit sign right
//!   after the octave. Cents never change the spelling and are carried unchanged through every
//!   transposition.
//!
//! [`Note`]'s `Display` writes the canonical form: `#`/`##` and `b`/`bb` (never `x`), and the
//! cents only when they are not zero (`C4+0` prints as `C4`). Parsing the printed form gives
//! back the same value. Equality is by spelling: `C#4 != Db4`; use [`Note::is_enharmonic`] to
//! compare sounding pitch.
//!
//! # Key signatures
//!
//! A [`KeySignature`] is a tonic [`NoteName`] and a [`Mode`]: `ionian` (also written `major`),
//! `dorian`, `phrygian`, `lydian`, `mixolydian`, `aeolian` (also written `minor`) and `locrian`.
//! Modes print as `major` and `minor` for ionian and aeolian, the other names as themselves.
//!
//! The number of sharps or flats is the key's position on the line of fifths
//! ([`KeySignature::fifths`]: positive for sharps, negative for flats). **Only keys with at most
//! seven sharps or flats are accepted.** Theoretical keys such as G# major (eight sharps, an
//! F double sharp in the signature) or Fb major are refused with [`PitchError::TheoreticalKey`],
//! whose message names the enharmonic key to use instead (`Ab major`, `E major`). As a
//! consequence every degree of a key's scale has at most a single accidental.
//!
//! # Intervals
//!
//! An [`Interval`] is a number of diatonic steps and a number of semitones, both signed (negative
//! is downwards). Names are quality + number: `P1 m2 M2 m3 M3 P4 A4 d5 P5 m6 M6 m7 M7 P8`, with
//! `d`/`A` for diminished/augmented, `dd`/`AA` for doubly so, compound numbers (`M9`, `P15`) up
//! to 99, and a leading `-` for a descending interval. A unison cannot be diminished (write
//! `-A1`).
//!
//! # Spelling rules
//!
//! [`transpose_by_interval`] spells exactly: the letter moves by the interval's steps and the
//! accidental is whatever makes the semitone distance right (`F#4 + M3 = A#4`, `B3 + m2 = C4`).
//! When that would need a triple sharp or flat it fails with [`PitchError::Unspellable`].
//!
//! [`transpose_diatonic`] moves the letter by scale degrees of the key and keeps the note's
//! deviation from the key: a note that is diatonic lands on a diatonic note (`F#4` up one step in
//! G major is `G4`), and a note raised or lowered against the key is raised or lowered by the
//! same amount on its new degree (`C#4` up one step in C major is `D#4`; `F4` up one step in G
//! major is `Gb4`). If keeping the deviation would need a triple accidental (possible only for a
//! note already carrying a double accidental against the key), the same sounding pitch is
//! respelled on the nearest letter that needs at most a double accidental (`Fbb4` up one step in
//! D major would be `Gbbb4`, and is written `Fb4`).
//!
//! [`transpose_chromatic`] moves by semitones and chooses a spelling for the result; the old
//! spelling plays no part, except that a move by zero semitones returns the note unchanged (with
//! or without a key). The rules:
//!
//! 1. **No key:** a pitch that has a natural spelling is spelled natural; any other pitch is
//!    spelled as a sharp when moving up and as a flat when moving down (`C4 + 1 = C#4`,
//!    `D4 - 1 = Db4`, `C4 + 4 = E4`).
//! 2. **Diatonic in the key:** the key's own spelling (`C4 + 1` in D major is `C#4`; in E major
//!    every transposed C-major scale note is spelled from the E major scale).
//! 3. **Minor leading tone:** in a minor (aeolian) key the raised seventh degree is spelled as
//!    such (`C#` in D minor, `G#` in A minor, `F##` in G# minor).
//! 4. **Other chromatic pitches:** each lies between two scale degrees a whole tone apart and can
//!    be spelled as the lower degree raised or the upper degree lowered. The spelling closer to
//!    the key on the line of fifths wins. Relative to the major key with the same signature this
//!    gives the raised fourth, the raised tonic, the lowered third and the lowered seventh (in C
//!    major: `F#`, `C#`, `Eb`, `Bb`; in G major: `C#`, `G#`, `Bb`, `F`; in F major: `B`, `F#`,
//!    `Ab`, `Eb`).
//! 5. **The tie:** one chromatic pitch class is equally close both ways, the raised fifth or
//!    lowered sixth of the major key with the same signature (`G#`/`Ab` in C major). It is
//!    spelled as the raised fifth in keys with sharps (`D#` in G major, `B#` in E major), as the
//!    lowered sixth in keys with flats (`C4 + 1` in F major is `Db4`; `Cb` in Eb major), and by
//!    direction in keys with no sharps or flats (`G#` moving up, `Ab` moving down). In a minor
//!    key this pitch class is the leading tone, so rule 3 applies instead.
//! 6. Rules 4 and 5 never choose a double accidental when the other spelling needs a single one
//!    (this only matters in keys with five or more sharps or flats: `G` rather than `F##` in C#
//!    major). Hence, apart from the minor leading tone of rule 3, chromatic transposition never
//!    writes a double sharp or double flat.
//!
//! Transpositions fail with [`PitchError::Octave`] when the result leaves octaves `-1..=9`.

use std::fmt;
use std::ops::Neg;
use std::str::FromStr;

/// The lowest octave a [`Note`] may have.
pub const MIN_OCTAVE: i8 = -1;
/// The highest octave a [`Note`] may have.
pub const MAX_OCTAVE: i8 = 9;
/// The largest alteration (a double sharp); the smallest is its negation (a double flat).
pub const MAX_ALTER: i8 = 2;
/// The largest cents deviation of a [`Note`]; the smallest is its negation.
pub const MAX_CENTS: i16 = 99;
/// The most sharps or flats a [`KeySignature`] may have.
pub const MAX_KEY_ACCIDENTALS: i8 = 7;
/// The largest interval number [`Interval::parse`] and [`Interval::from_quality`] accept.
pub const MAX_INTERVAL_NUMBER: u32 = 99;

/// What a piece of text was supposed to be, for [`PitchError::Parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// A pitch such as `C#4` ([`Note`]).
    Pitch,
    /// A note name without octave such as `F#` ([`NoteName`]), e.g. a key's tonic.
    NoteName,
    /// A mode such as `major` or `dorian` ([`Mode`]).
    Mode,
    /// A key signature such as `E major` ([`KeySignature`]).
    KeySignature,
    /// An interval such as `M3` or `-P5` ([`Interval`]).
    Interval,
}

impl TextKind {
    const fn article(self) -> &'static str {
        match self {
            TextKind::Interval => "an",
            _ => "a",
        }
    }
}

impl fmt::Display for TextKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextKind::Pitch => "pitch",
            TextKind::NoteName => "note name",
            TextKind::Mode => "mode",
            TextKind::KeySignature => "key signature",
            TextKind::Interval => "interval",
        })
    }
}

/// Why a pitch, key or interval was refused or a transposition failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PitchError {
    /// Text that does not parse, e.g. `"H4" is not a pitch: unknown step 'H'`.
    #[error("{input:?} is not {} {kind}: {reason}", .kind.article())]
    Parse {
        /// What the text was supposed to be.
        kind: TextKind,
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An alteration outside `-2..=2`.
    #[error("alteration {0} is outside -2..=2 (at most a double flat or double sharp)")]
    Alter(i64),
    /// An octave outside `-1..=9` (also the result of a transposition that goes too far).
    #[error("octave {0} is outside -1..=9")]
    Octave(i64),
    /// A cents deviation outside `-99..=99`.
    #[error("cents {0} is outside -99..=99")]
    Cents(i64),
    /// An interval number outside `1..=99`.
    #[error("interval number {0} is outside 1..={MAX_INTERVAL_NUMBER}")]
    IntervalNumber(u32),
    /// A transposition by an interval whose exact spelling needs more than a double accidental.
    #[error(
        "{note} moved by {interval} would be {step} with alteration {alter:+}, \
         beyond a double sharp or flat"
    )]
    Unspellable {
        /// The note being transposed.
        note: Note,
        /// The interval it was transposed by.
        interval: Interval,
        /// The letter the result falls on.
        step: Step,
        /// The alteration that letter would need.
        alter: i64,
    },
    /// A key with more than seven sharps or flats.
    #[error(
        "{tonic} {mode} would need {} {}; a key signature has at most 7 (use {alternative} {mode})",
        .fifths.unsigned_abs(),
        if *.fifths > 0 { "sharps" } else { "flats" }
    )]
    TheoreticalKey {
        /// The tonic asked for.
        tonic: NoteName,
        /// The mode asked for.
        mode: Mode,
        /// The signature it would need (positive: sharps, negative: flats).
        fifths: i32,
        /// The enharmonic tonic of the same mode that has a real signature.
        alternative: NoteName,
    },
    /// A signature outside `-7..=7` fifths given to [`KeySignature::from_fifths`].
    #[error("a key signature of {0} fifths is outside -7..=7")]
    Fifths(i32),
}

fn parse_error(kind: TextKind, input: &str, reason: impl Into<String>) -> PitchError {
    PitchError::Parse {
        kind,
        input: input.to_owned(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Step

/// A letter name, `C` to `B`, ordered upwards from C.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// C.
    C,
    /// D.
    D,
    /// E.
    E,
    /// F.
    F,
    /// G.
    G,
    /// A.
    A,
    /// B.
    B,
}

const NATURAL_SEMITONES: [i64; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Line-of-fifths position of each natural, C = 0 (F = -1, B = 5).
const NATURAL_FIFTHS: [i64; 7] = [0, 2, 4, -1, 1, 3, 5];
/// The naturals in line-of-fifths order, starting at F (position -1).
const FIFTHS_ORDER: [Step; 7] = [
    Step::F,
    Step::C,
    Step::G,
    Step::D,
    Step::A,
    Step::E,
    Step::B,
];

impl Step {
    /// All steps from C upwards.
    pub const ALL: [Step; 7] = [
        Step::C,
        Step::D,
        Step::E,
        Step::F,
        Step::G,
        Step::A,
        Step::B,
    ];

    /// The position within the octave: C = 0 ... B = 6.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The step at position `index` (C = 0 ... B = 6), if any.
    pub const fn from_index(index: usize) -> Option<Step> {
        if index < 7 {
            Some(Step::ALL[index])
        } else {
            None
        }
    }

    /// The step of the letter `letter` (upper case only).
    pub const fn from_letter(letter: char) -> Option<Step> {
        match letter {
            'C' => Some(Step::C),
            'D' => Some(Step::D),
            'E' => Some(Step::E),
            'F' => Some(Step::F),
            'G' => Some(Step::G),
            'A' => Some(Step::A),
            'B' => Some(Step::B),
            _ => None,
        }
    }

    /// The upper-case letter.
    pub const fn letter(self) -> char {
        match self {
            Step::C => 'C',
            Step::D => 'D',
            Step::E => 'E',
            Step::F => 'F',
            Step::G => 'G',
            Step::A => 'A',
            Step::B => 'B',
        }
    }

    /// Semitones of the natural above C in the same octave: C = 0, D = 2, ... B = 11.
    pub const fn natural_semitone(self) -> u8 {
        NATURAL_SEMITONES[self as usize] as u8
    }

    fn wrapping(index: i64) -> Step {
        Step::ALL[index.rem_euclid(7) as usize]
    }

    fn semis(self) -> i64 {
        NATURAL_SEMITONES[self as usize]
    }

    fn fifths(self) -> i64 {
        NATURAL_FIFTHS[self as usize]
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

fn accidental_text(alter: i8) -> &'static str {
    match alter {
        -2 => "bb",
        -1 => "b",
        1 => "#",
        2 => "##",
        _ => "",
    }
}

fn check_alter(alter: i64) -> Result<i8, PitchError> {
    if (-i64::from(MAX_ALTER)..=i64::from(MAX_ALTER)).contains(&alter) {
        Ok(alter as i8)
    } else {
        Err(PitchError::Alter(alter))
    }
}

/// Reads `<step><accidental>` from the start of `text`; returns the rest.
fn parse_step_and_accidental(text: &str) -> Result<(Step, i8, &str), String> {
    let first = text.chars().next().ok_or("the text is empty")?;
    let step = Step::from_letter(first).ok_or_else(|| {
        if ('a'..='g').contains(&first) {
            format!("unknown step '{first}' (steps are upper-case letters C to B)")
        } else {
            format!("unknown step '{first}'")
        }
    })?;
    let rest = &text[first.len_utf8()..];
    let end = rest
        .find(|c| !matches!(c, '#' | 'b' | 'x'))
        .unwrap_or(rest.len());
    let alter = match &rest[..end] {
        "" => 0,
        "#" => 1,
        "##" | "x" => 2,
        "b" => -1,
        "bb" => -2,
        other => {
            return Err(format!(
                "accidental \"{other}\" is not one of #, ##, x, b, bb"
            ));
        }
    };
    Ok((step, alter, &rest[end..]))
}

/// Reads an optionally signed run of ASCII digits: the value, the text it was read from and the
/// rest; `None` if there are no digits. Values too large for an `i64` saturate (they are out of
/// every range anyway).
fn parse_signed_digits(text: &str, sign_required: bool) -> Option<(i64, &str, &str)> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') if sign_required => (false, &text[1..]),
        _ if sign_required => return None,
        _ => (false, text),
    };
    let end = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let magnitude = body[..end].bytes().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    let literal = &text[..text.len() - body.len() + end];
    Some((
        if negative { -magnitude } else { magnitude },
        literal,
        &body[end..],
    ))
}

// ---------------------------------------------------------------------------------------------
// NoteName

/// A spelled pitch class: a step and an alteration, no octave (`F#`, `Bb`, `E`). Used for key
/// tonics and scale degrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NoteName {
    step: Step,
    alter: i8,
}

impl NoteName {
    /// A note name; fails if `alter` is outside `-2..=2`.
    pub fn new(step: Step, alter: i8) -> Result<NoteName, PitchError> {
        let alter = check_alter(i64::from(alter))?;
        Ok(NoteName { step, alter })
    }

    /// The natural of `step`.
    pub const fn natural(step: Step) -> NoteName {
        NoteName { step, alter: 0 }
    }

    /// Parses `<step><accidental>`, e.g. `G`, `F#`, `Bb`, `Fx`.
    pub fn parse(text: &str) -> Result<NoteName, PitchError> {
        let fail = |reason: String| parse_error(TextKind::NoteName, text, reason);
        let (step, alter, rest) = parse_step_and_accidental(text).map_err(fail)?;
        if !rest.is_empty() {
            return Err(fail(format!("unexpected \"{rest}\" after the accidental")));
        }
        Ok(NoteName { step, alter })
    }

    /// The letter.
    pub const fn step(self) -> Step {
        self.step
    }

    /// The alteration in semitones: -2 (double flat) to 2 (double sharp).
    pub const fn alter(self) -> i8 {
        self.alter
    }

    /// The pitch class, 0 (C, B#, Dbb) to 11 (B, Cb, A##).
    pub fn pitch_class(self) -> u8 {
        (self.step.semis() + i64::from(self.alter)).rem_euclid(12) as u8
    }

    /// The position on the line of fifths: C = 0, G = 1, F = -1, F# = 6, Bb = -2.
    pub fn fifths(self) -> i32 {
        (self.step.fifths() + 7 * i64::from(self.alter)) as i32
    }

    /// The note name at line-of-fifths position `fifths`; `None` beyond a double accidental
    /// (outside `-15..=19`).
    pub fn from_fifths(fifths: i32) -> Option<NoteName> {
        let shifted = i64::from(fifths) + 1;
        let step = FIFTHS_ORDER[shifted.rem_euclid(7) as usize];
        let alter = check_alter(shifted.div_euclid(7)).ok()?;
        Some(NoteName { step, alter })
    }

    /// Whether the two names sound the same (same pitch class).
    pub fn is_enharmonic(self, other: NoteName) -> bool {
        self.pitch_class() == other.pitch_class()
    }
}

impl fmt::Display for NoteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.step, accidental_text(self.alter))
    }
}

impl FromStr for NoteName {
    type Err = PitchError;

    fn from_str(text: &str) -> Result<NoteName, PitchError> {
        NoteName::parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Note

/// A spelled pitch: step, alteration, octave and cents, e.g. `C#4`, `Bb3+25`.
///
/// Equality is by spelling (`C#4 != Db4`); see [`Note::is_enharmonic`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Note {
    step: Step,
    alter: i8,
    octave: i8,
    cents: i16,
}

impl Note {
    /// A note without cents; fails if `alter` is outside `-2..=2` or `octave` outside `-1..=9`.
    pub fn new(step: Step, alter: i8, octave: i8) -> Result<Note, PitchError> {
        Note::checked(step, i64::from(alter), i64::from(octave), 0)
    }

    /// The same note with `cents` (`-99..=99`) instead of its own.
    pub fn with_cents(self, cents: i16) -> Result<Note, PitchError> {
        Note::checked(
            self.step,
            i64::from(self.alter),
            i64::from(self.octave),
            i64::from(cents),
        )
    }

    /// Parses pitch text such as `C4`, `F#4`, `Bb3`, `Ebb4`, `Fx4`, `C4+50`, `C-1`.
    pub fn parse(text: &str) -> Result<Note, PitchError> {
        let fail = |reason: String| parse_error(TextKind::Pitch, text, reason);
        let (step, alter, rest) = parse_step_and_accidental(text).map_err(fail)?;
        let (octave, octave_text, rest) = parse_signed_digits(rest, false).ok_or_else(|| {
            fail(if rest.is_empty() {
                "missing octave".to_owned()
            } else {
                format!("expected an octave number at \"{rest}\"")
            })
        })?;
        let (cents, cents_text, rest) = if rest.is_empty() {
            (0, "0", rest)
        } else {
            parse_signed_digits(rest, true).ok_or_else(|| {
                fail(format!(
                    "expected cents such as +50 or -25 after the octave, found \"{rest}\""
                ))
            })?
        };
        if !rest.is_empty() {
            return Err(fail(format!("unexpected \"{rest}\" at the end")));
        }
        if !(i64::from(MIN_OCTAVE)..=i64::from(MAX_OCTAVE)).contains(&octave) {
            return Err(fail(format!(
                "octave {octave_text} is outside {MIN_OCTAVE}..={MAX_OCTAVE}"
            )));
        }
        if !(-i64::from(MAX_CENTS)..=i64::from(MAX_CENTS)).contains(&cents) {
            return Err(fail(format!(
                "cents {cents_text} is outside -{MAX_CENTS}..={MAX_CENTS}"
            )));
        }
        Note::checked(step, i64::from(alter), octave, cents).map_err(|e| fail(e.to_string()))
    }

    fn checked(step: Step, alter: i64, octave: i64, cents: i64) -> Result<Note, PitchError> {
        let alter = check_alter(alter)?;
        if !(i64::from(MIN_OCTAVE)..=i64::from(MAX_OCTAVE)).contains(&octave) {
            return Err(PitchError::Octave(octave));
        }
        if !(-i64::from(MAX_CENTS)..=i64::from(MAX_CENTS)).contains(&cents) {
            return Err(PitchError::Cents(cents));
        }
        Ok(Note {
            step,
            alter,
            octave: octave as i8,
            cents: cents as i16,
        })
    }

    /// The note spelled `step` + `alter` whose semitone number is `midi`.
    fn at_midi(step: Step, alter: i64, midi: i64, cents: i16) -> Result<Note, PitchError> {
        let base = midi - alter - step.semis();
        debug_assert_eq!(base.rem_euclid(12), 0, "spelling does not match the pitch");
        Note::checked(step, alter, base.div_euclid(12) - 1, i64::from(cents))
    }

    /// The letter.
    pub const fn step(self) -> Step {
        self.step
    }

    /// The alteration in semitones: -2 (double flat) to 2 (double sharp).
    pub const fn alter(self) -> i8 {
        self.alter
    }

    /// The octave, `-1..=9`; C4 is middle C.
    pub const fn octave(self) -> i8 {
        self.octave
    }

    /// The deviation in cents, `-99..=99`.
    pub const fn cents(self) -> i16 {
        self.cents
    }

    /// The step and alteration without octave.
    pub const fn name(self) -> NoteName {
        NoteName {
            step: self.step,
            alter: self.alter,
        }
    }

    /// The semitone number, MIDI numbering (C4 = 60, A4 = 69, C-1 = 0), ignoring cents; ranges
    /// from -2 (`Cbb-1`) to 133 (`B##9`).
    pub fn midi(self) -> i32 {
        self.midi_i64() as i32
    }

    fn midi_i64(self) -> i64 {
        (i64::from(self.octave) + 1) * 12 + self.step.semis() + i64::from(self.alter)
    }

    /// The sounding pitch in cents above C-1: `midi() * 100 + cents()`.
    pub fn total_cents(self) -> i32 {
        self.midi() * 100 + i32::from(self.cents)
    }

    /// The diatonic position: `octave * 7 + step index` (C4 = 28, B3 = 27). The alteration does
    /// not count, so `Cb4` and `C#4` share it.
    pub fn diatonic_index(self) -> i32 {
        i32::from(self.octave) * 7 + i32::from(self.step.index())
    }

    /// Whether the two notes sound the same (same semitone and cents), whatever the spelling.
    pub fn is_enharmonic(self, other: Note) -> bool {
        self.total_cents() == other.total_cents()
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.step,
            accidental_text(self.alter),
            self.octave
        )?;
        if self.cents != 0 {
            write!(f, "{:+}", self.cents)?;
        }
        Ok(())
    }
}

impl FromStr for Note {
    type Err = PitchError;

    fn from_str(text: &str) -> Result<Note, PitchError> {
        Note::parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Mode and KeySignature

/// A diatonic mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Ionian, the major mode.
    Ionian,
    /// Dorian.
    Dorian,
    /// Phrygian.
    Phrygian,
    /// Lydian.
    Lydian,
    /// Mixolydian.
    Mixolydian,
    /// Aeolian, the (natural) minor mode.
    Aeolian,
    /// Locrian.
    Locrian,
}

impl Mode {
    /// Major, the same as [`Mode::Ionian`].
    pub const MAJOR: Mode = Mode::Ionian;
    /// Minor, the same as [`Mode::Aeolian`].
    pub const MINOR: Mode = Mode::Aeolian;
    /// All modes, in the order of the degrees of the major scale they start on.
    pub const ALL: [Mode; 7] = [
        Mode::Ionian,
        Mode::Dorian,
        Mode::Phrygian,
        Mode::Lydian,
        Mode::Mixolydian,
        Mode::Aeolian,
        Mode::Locrian,
    ];

    /// The printed name: `major`, `dorian`, `phrygian`, `lydian`, `mixolydian`, `minor`,
    /// `locrian`.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Ionian => "major",
            Mode::Dorian => "dorian",
            Mode::Phrygian => "phrygian",
            Mode::Lydian => "lydian",
            Mode::Mixolydian => "mixolydian",
            Mode::Aeolian => "minor",
            Mode::Locrian => "locrian",
        }
    }

    /// Parses a mode name, case-insensitively and with or without a leading `:` (as a keyword
    /// prints): `major`/`ionian`, `dorian`, `phrygian`, `lydian`, `mixolydian`,
    /// `minor`/`aeolian`, `locrian`.
    pub fn parse(text: &str) -> Result<Mode, PitchError> {
        let name = text.strip_prefix(':').unwrap_or(text).to_ascii_lowercase();
        Ok(match name.as_str() {
            "major" | "ionian" => Mode::Ionian,
            "dorian" => Mode::Dorian,
            "phrygian" => Mode::Phrygian,
            "lydian" => Mode::Lydian,
            "mixolydian" => Mode::Mixolydian,
            "minor" | "aeolian" => Mode::Aeolian,
            "locrian" => Mode::Locrian,
            _ => {
                return Err(parse_error(
                    TextKind::Mode,
                    text,
                    "expected major, minor, ionian, dorian, phrygian, lydian, mixolydian, \
                     aeolian or locrian",
                ));
            }
        })
    }

    /// How far the tonic sits from the tonic of the major key with the same signature, on the
    /// line of fifths: D dorian and C major share a signature, so dorian is -2.
    pub const fn fifths_offset(self) -> i32 {
        match self {
            Mode::Ionian => 0,
            Mode::Dorian => -2,
            Mode::Phrygian => -4,
            Mode::Lydian => 1,
            Mode::Mixolydian => -1,
            Mode::Aeolian => -3,
            Mode::Locrian => -5,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = PitchError;

    fn from_str(text: &str) -> Result<Mode, PitchError> {
        Mode::parse(text)
    }
}

/// A key: a tonic and a mode, with at most seven sharps or flats (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeySignature {
    tonic: NoteName,
    mode: Mode,
}

impl KeySignature {
    /// The key; fails with [`PitchError::TheoreticalKey`] if it needs more than seven sharps or
    /// flats.
    pub fn new(tonic: NoteName, mode: Mode) -> Result<KeySignature, PitchError> {
        let fifths = tonic.fifths() + mode.fifths_offset();
        if fifths.abs() <= i32::from(MAX_KEY_ACCIDENTALS) {
            return Ok(KeySignature { tonic, mode });
        }
        let mut real = fifths;
        while real.abs() > i32::from(MAX_KEY_ACCIDENTALS) {
            real -= 12 * real.signum();
        }
        let alternative = NoteName::from_fifths(real - mode.fifths_offset())
            .expect("a tonic of a real key has at most a single accidental");
        Err(PitchError::TheoreticalKey {
            tonic,
            mode,
            fifths,
            alternative,
        })
    }

    /// The key from tonic text (`"E"`, `"F#"`, `"Bb"`) and mode text as [`Mode::parse`] reads
    /// it (`"major"`, `":minor"`, `"dorian"`), e.g. from `{:mode :major :tonic "E"}`.
    pub fn parse(tonic: &str, mode: &str) -> Result<KeySignature, PitchError> {
        KeySignature::new(NoteName::parse(tonic)?, Mode::parse(mode)?)
    }

    /// The key of `mode` with `fifths` sharps (positive) or flats (negative), `-7..=7`:
    /// `from_fifths(2, Mode::MAJOR)` is D major, `from_fifths(-1, Mode::MINOR)` D minor.
    pub fn from_fifths(fifths: i32, mode: Mode) -> Result<KeySignature, PitchError> {
        if fifths.abs() > i32::from(MAX_KEY_ACCIDENTALS) {
            return Err(PitchError::Fifths(fifths));
        }
        let tonic = NoteName::from_fifths(fifths - mode.fifths_offset())
            .expect("a tonic of a real key has at most a single accidental");
        Ok(KeySignature { tonic, mode })
    }

    /// The tonic.
    pub const fn tonic(self) -> NoteName {
        self.tonic
    }

    /// The mode.
    pub const fn mode(self) -> Mode {
        self.mode
    }

    /// The tonic as text, e.g. `"F#"` (what a `:tonic` field holds).
    pub fn tonic_name(self) -> String {
        self.tonic.to_string()
    }

    /// The mode's name, e.g. `"major"`, `"dorian"` (what a `:mode` keyword holds; see
    /// [`Mode::name`]).
    pub const fn mode_name(self) -> &'static str {
        self.mode.name()
    }

    /// The signature: the number of sharps (positive) or flats (negative), `-7..=7`.
    pub fn fifths(self) -> i32 {
        self.tonic.fifths() + self.mode.fifths_offset()
    }

    /// The number of sharps in the signature (0 in flat keys).
    pub fn sharps(self) -> u8 {
        self.fifths().max(0) as u8
    }

    /// The number of flats in the signature (0 in sharp keys).
    pub fn flats(self) -> u8 {
        (-self.fifths()).max(0) as u8
    }

    /// The altered notes of the signature in the order they are written: sharps F C G D A E B,
    /// flats B E A D G C F.
    pub fn accidentals(self) -> Vec<NoteName> {
        let k = self.fifths();
        // Sharps start at F# (fifths 6) going up; flats at Bb (-2) going down.
        let positions: Vec<i32> = if k >= 0 {
            (6..6 + k).collect()
        } else {
            (-2 + k + 1..=-2).rev().collect()
        };
        positions
            .into_iter()
            .map(|q| NoteName::from_fifths(q).expect("signature accidentals are single"))
            .collect()
    }

    /// The alteration the signature gives `step`: 1, 0 or -1.
    pub fn alter_of(self, step: Step) -> i8 {
        self.alter_i64(step) as i8
    }

    fn alter_i64(self, step: Step) -> i64 {
        // The key's naturals and accidentals occupy fifths positions k-1 ..= k+5.
        (i64::from(self.fifths()) + 5 - step.fifths()).div_euclid(7)
    }

    /// The seven degrees of the scale, starting on the tonic.
    pub fn scale(self) -> [NoteName; 7] {
        let tonic = i64::from(self.tonic.step.index());
        std::array::from_fn(|i| {
            let step = Step::wrapping(tonic + i as i64);
            NoteName {
                step,
                alter: self.alter_of(step),
            }
        })
    }

    /// The degree (0 = tonic ... 6) that `name` is, if it is diatonic in this key with this
    /// spelling.
    pub fn degree_of(self, name: NoteName) -> Option<u8> {
        self.scale()
            .iter()
            .position(|&degree| degree == name)
            .map(|i| i as u8)
    }

    /// Whether `name` is one of the scale's degrees, spelled as the key spells it.
    pub fn is_diatonic(self, name: NoteName) -> bool {
        self.degree_of(name).is_some()
    }
}

impl Default for KeySignature {
    /// C major, the key in effect where none is set.
    fn default() -> KeySignature {
        KeySignature {
            tonic: NoteName::natural(Step::C),
            mode: Mode::Ionian,
        }
    }
}

impl fmt::Display for KeySignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic, self.mode)
    }
}

impl FromStr for KeySignature {
    type Err = PitchError;

    /// Parses `<tonic> <mode>`, e.g. `E major`, `F# minor`, `D dorian`.
    fn from_str(text: &str) -> Result<KeySignature, PitchError> {
        let mut words = text.split_whitespace();
        let (Some(tonic), Some(mode), None) = (words.next(), words.next(), words.next()) else {
            return Err(parse_error(
                TextKind::KeySignature,
                text,
                "expected a tonic and a mode, such as \"E major\"",
            ));
        };
        KeySignature::new(NoteName::parse(tonic)?, Mode::parse(mode)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Interval

/// An interval quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quality {
    /// Doubly diminished, `dd`.
    DoublyDiminished,
    /// Diminished, `d`.
    Diminished,
    /// Minor, `m` (seconds, thirds, sixths, sevenths).
    Minor,
    /// Perfect, `P` (unisons, fourths, fifths, octaves).
    Perfect,
    /// Major, `M` (seconds, thirds, sixths, sevenths).
    Major,
    /// Augmented, `A`.
    Augmented,
    /// Doubly augmented, `AA`.
    DoublyAugmented,
}

impl Quality {
    /// The abbreviation: `dd d m P M A AA`.
    pub const fn abbreviation(self) -> &'static str {
        match self {
            Quality::DoublyDiminished => "dd",
            Quality::Diminished => "d",
            Quality::Minor => "m",
            Quality::Perfect => "P",
            Quality::Major => "M",
            Quality::Augmented => "A",
            Quality::DoublyAugmented => "AA",
        }
    }

    /// Semitones relative to the major or perfect interval of the same number, or `None` if the
    /// quality does not apply to that kind of number.
    fn offset(self, perfect_kind: bool) -> Option<i32> {
        match (self, perfect_kind) {
            (Quality::Perfect, true) | (Quality::Major, false) => Some(0),
            (Quality::Minor, false) => Some(-1),
            (Quality::Perfect | Quality::Minor, _) | (Quality::Major, true) => None,
            (Quality::Augmented, _) => Some(1),
            (Quality::DoublyAugmented, _) => Some(2),
            (Quality::Diminished, true) => Some(-1),
            (Quality::Diminished, false) => Some(-2),
            (Quality::DoublyDiminished, true) => Some(-2),
            (Quality::DoublyDiminished, false) => Some(-3),
        }
    }

    fn from_offset(offset: i32, perfect_kind: bool) -> Option<Quality> {
        match (perfect_kind, offset) {
            (true, -2) | (false, -3) => Some(Quality::DoublyDiminished),
            (true, -1) | (false, -2) => Some(Quality::Diminished),
            (false, -1) => Some(Quality::Minor),
            (true, 0) => Some(Quality::Perfect),
            (false, 0) => Some(Quality::Major),
            (_, 1) => Some(Quality::Augmented),
            (_, 2) => Some(Quality::DoublyAugmented),
            _ => None,
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.abbreviation())
    }
}

/// A signed interval: diatonic steps (letters moved) and semitones. `steps: 2, semitones: 4` is
/// a major third up; `steps: -1, semitones: -1` a minor second down.
///
/// Any combination is a value; [`transpose_by_interval`] fails if it cannot spell the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Letters moved: 0 for a unison, 2 for a third, 7 for an octave; negative downwards.
    pub steps: i32,
    /// Semitones moved; negative downwards.
    pub semitones: i32,
}

/// Semitones of the major or perfect interval for each number within an octave (unison to
/// seventh).
const MAJOR_OR_PERFECT: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];

fn is_perfect_kind(simple_steps: i32) -> bool {
    matches!(simple_steps, 0 | 3 | 4)
}

impl Interval {
    /// The perfect unison.
    pub const UNISON: Interval = Interval::new(0, 0);
    /// Minor second up.
    pub const MINOR_SECOND: Interval = Interval::new(1, 1);
    /// Major second up.
    pub const MAJOR_SECOND: Interval = Interval::new(1, 2);
    /// Minor third up.
    pub const MINOR_THIRD: Interval = Interval::new(2, 3);
    /// Major third up.
    pub const MAJOR_THIRD: Interval = Interval::new(2, 4);
    /// Perfect fourth up.
    pub const PERFECT_FOURTH: Interval = Interval::new(3, 5);
    /// Augmented fourth up.
    pub const AUGMENTED_FOURTH: Interval = Interval::new(3, 6);
    /// Diminished fifth up.
    pub const DIMINISHED_FIFTH: Interval = Interval::new(4, 6);
    /// Perfect fifth up.
    pub const PERFECT_FIFTH: Interval = Interval::new(4, 7);
    /// Minor sixth up.
    pub const MINOR_SIXTH: Interval = Interval::new(5, 8);
    /// Major sixth up.
    pub const MAJOR_SIXTH: Interval = Interval::new(5, 9);
    /// Minor seventh up.
    pub const MINOR_SEVENTH: Interval = Interval::new(6, 10);
    /// Major seventh up.
    pub const MAJOR_SEVENTH: Interval = Interval::new(6, 11);
    /// Perfect octave up.
    pub const OCTAVE: Interval = Interval::new(7, 12);

    /// The interval of `steps` letters and `semitones` semitones.
    pub const fn new(steps: i32, semitones: i32) -> Interval {
        Interval { steps, semitones }
    }

    /// The ascending interval of `quality` and `number` (1 = unison, 3 = third, 8 = octave, 9 =
    /// ninth, up to 99): `from_quality(Quality::Major, 3)` is a major third. Fails if the
    /// quality does not fit the number (a perfect third, a major fifth, a diminished unison).
    pub fn from_quality(quality: Quality, number: u32) -> Result<Interval, PitchError> {
        Interval::build(quality, number).map_err(|reason| {
            parse_error(TextKind::Interval, &format!("{quality}{number}"), reason)
        })
    }

    fn build(quality: Quality, number: u32) -> Result<Interval, String> {
        if !(1..=MAX_INTERVAL_NUMBER).contains(&number) {
            return Err(PitchError::IntervalNumber(number).to_string());
        }
        let steps = number as i32 - 1;
        let simple = steps % 7;
        let perfect_kind = is_perfect_kind(simple);
        let offset = quality.offset(perfect_kind).ok_or_else(|| {
            let kind = if perfect_kind {
                "perfect, diminished or augmented"
            } else {
                "major, minor, diminished or augmented"
            };
            format!(
                "{} is {kind}, not {}",
                number_name(number),
                quality_word(quality)
            )
        })?;
        if steps == 0 && offset < 0 {
            return Err("a unison cannot be diminished (write -A1 for a semitone down)".to_owned());
        }
        let semitones = 12 * (steps / 7) + MAJOR_OR_PERFECT[simple as usize] + offset;
        Ok(Interval { steps, semitones })
    }

    /// Parses an interval name: optional `-` (down) or `+`, a quality (`P M m A d AA dd`) and a
    /// number (`1..=99`): `M3`, `P5`, `m2`, `A4`, `d5`, `-P8`, `M9`.
    pub fn parse(text: &str) -> Result<Interval, PitchError> {
        let fail = |reason: String| parse_error(TextKind::Interval, text, reason);
        let (down, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let digits = body
            .find(|c: char| c.is_ascii_digit())
            .ok_or_else(|| fail("missing the interval number".to_owned()))?;
        let quality = match &body[..digits] {
            "dd" => Quality::DoublyDiminished,
            "d" => Quality::Diminished,
            "m" => Quality::Minor,
            "P" => Quality::Perfect,
            "M" => Quality::Major,
            "A" => Quality::Augmented,
            "AA" => Quality::DoublyAugmented,
            "" => {
                return Err(fail(
                    "missing the quality (P, M, m, A, d, AA, dd)".to_owned(),
                ));
            }
            other => {
                return Err(fail(format!(
                    "unknown quality \"{other}\" (expected P, M, m, A, d, AA or dd)"
                )));
            }
        };
        let number_text = &body[digits..];
        if !number_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(format!(
                "unexpected text in the number \"{number_text}\""
            )));
        }
        let number = number_text
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_INTERVAL_NUMBER)
            .ok_or_else(|| {
                fail(format!(
                    "interval number {number_text} is outside 1..={MAX_INTERVAL_NUMBER}"
                ))
            })?;
        let up = Interval::build(quality, number).map_err(fail)?;
        Ok(if down { -up } else { up })
    }

    /// The interval from `from` to `to` (cents ignored):
    /// `transpose_by_interval(from, Interval::between(from, to))` spells `to`.
    pub fn between(from: Note, to: Note) -> Interval {
        Interval {
            steps: to.diatonic_index() - from.diatonic_index(),
            semitones: to.midi() - from.midi(),
        }
    }

    /// Whether the interval goes down: negative steps, or a unison with negative semitones.
    pub const fn is_descending(self) -> bool {
        self.steps < 0 || (self.steps == 0 && self.semitones < 0)
    }

    /// The quality and number (`1` = unison) of the interval's size, ignoring direction, or
    /// `None` if it has no name within doubly diminished ..= doubly augmented (or its number
    /// exceeds 99).
    pub fn quality_and_number(self) -> Option<(Quality, u32)> {
        let sign = if self.is_descending() { -1i64 } else { 1 };
        let steps = i64::from(self.steps) * sign;
        let semitones = i64::from(self.semitones) * sign;
        let number = u32::try_from(steps + 1)
            .ok()
            .filter(|n| *n <= MAX_INTERVAL_NUMBER)?;
        let simple = (steps % 7) as i32;
        let base = 12 * (steps / 7) + i64::from(MAJOR_OR_PERFECT[simple as usize]);
        let offset = i32::try_from(semitones - base).ok()?;
        let quality = Quality::from_offset(offset, is_perfect_kind(simple))?;
        Some((quality, number))
    }
}

fn number_name(number: u32) -> String {
    match number {
        1 => "a unison".to_owned(),
        8 => "an octave".to_owned(),
        _ => {
            let suffix = match (number % 10, number % 100) {
                (_, 11..=13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            let article = if matches!(number, 11 | 18) || number / 10 == 8 {
                "an"
            } else {
                "a"
            };
            format!("{article} {number}{suffix}")
        }
    }
}

fn quality_word(quality: Quality) -> &'static str {
    match quality {
        Quality::DoublyDiminished => "doubly diminished",
        Quality::Diminished => "diminished",
        Quality::Minor => "minor",
        Quality::Perfect => "perfect",
        Quality::Major => "major",
        Quality::Augmented => "augmented",
        Quality::DoublyAugmented => "doubly augmented",
    }
}

impl Neg for Interval {
    type Output = Interval;

    /// The same interval in the other direction.
    fn neg(self) -> Interval {
        Interval {
            steps: -self.steps,
            semitones: -self.semitones,
        }
    }
}

impl fmt::Display for Interval {
    /// The name (`M3`, `-P5`, `-A1`) when it has one, otherwise
    /// `<steps> steps/<semitones> semitones`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.quality_and_number() {
            Some((quality, number)) => {
                let sign = if self.is_descending() { "-" } else { "" };
                write!(f, "{sign}{quality}{number}")
            }
            None => write!(f, "{} steps/{} semitones", self.steps, self.semitones),
        }
    }
}

impl FromStr for Interval {
    type Err = PitchError;

    fn from_str(text: &str) -> Result<Interval, PitchError> {
        Interval::parse(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Transposition

/// Splits a diatonic index into step and octave.
fn step_and_octave(diatonic_index: i64) -> (Step, i64) {
    (Step::wrapping(diatonic_index), diatonic_index.div_euclid(7))
}

/// `note` moved by `interval`, spelled exactly: the letter moves by `interval.steps` and the
/// accidental makes up the semitones (`F#4 + M3 = A#4`, `B3 + m2 = C4`). Cents are kept.
///
/// Fails with [`PitchError::Unspellable`] if the result needs more than a double sharp or flat,
/// and with [`PitchError::Octave`] if it leaves octaves `-1..=9`.
pub fn transpose_by_interval(note: &Note, interval: Interval) -> Result<Note, PitchError> {
    let note = *note;
    let index = i64::from(note.diatonic_index()) + i64::from(interval.steps);
    let (step, octave) = step_and_octave(index);
    let midi = note.midi_i64() + i64::from(interval.semitones);
    let alter = midi - (octave + 1) * 12 - step.semis();
    if alter.abs() > i64::from(MAX_ALTER) {
        return Err(PitchError::Unspellable {
            note,
            interval,
            step,
            alter,
        });
    }
    Note::checked(step, alter, octave, i64::from(note.cents))
}

/// `note` moved by `semitones`, spelled by the rules in the module docs: the key's own spelling
/// for diatonic pitches, the minor leading tone, otherwise the spelling closer to the key on the
/// line of fifths; without a key, naturals, else sharps going up and flats going down. Moving by
/// zero returns `note` unchanged. Cents are kept.
///
/// Fails with [`PitchError::Octave`] if the result leaves octaves `-1..=9`.
pub fn transpose_chromatic(
    note: &Note,
    semitones: i32,
    key: Option<&KeySignature>,
) -> Result<Note, PitchError> {
    let note = *note;
    if semitones == 0 {
        return Ok(note);
    }
    let midi = note.midi_i64() + i64::from(semitones);
    let pitch_class = midi.rem_euclid(12);
    let up = semitones > 0;
    let name = match key {
        Some(key) => spell_in_key(pitch_class, *key, up),
        None => spell_without_key(pitch_class, up),
    };
    Note::at_midi(name.step, i64::from(name.alter), midi, note.cents)
}

fn spell_without_key(pitch_class: i64, up: bool) -> NoteName {
    let natural = |pc: i64| {
        Step::ALL
            .into_iter()
            .find(|step| step.semis() == pc.rem_euclid(12))
    };
    if let Some(step) = natural(pitch_class) {
        NoteName::natural(step)
    } else if up {
        let step = natural(pitch_class - 1).expect("a black key has a natural below");
        NoteName { step, alter: 1 }
    } else {
        let step = natural(pitch_class + 1).expect("a black key has a natural above");
        NoteName { step, alter: -1 }
    }
}

fn spell_in_key(pitch_class: i64, key: KeySignature, up: bool) -> NoteName {
    let name_at = |fifths: i64| {
        NoteName::from_fifths(fifths as i32).expect("keys within 7 fifths spell within 2")
    };
    let k = i64::from(key.fifths());
    // The spelling of this pitch class in the window k-1 ..= k+10 (fifths position q has pitch
    // class 7q mod 12, and 7 is its own inverse mod 12).
    let sharp_side = k - 1 + (7 * pitch_class - (k - 1)).rem_euclid(12);
    if sharp_side <= k + 5 {
        return name_at(sharp_side); // diatonic
    }
    let flat_side = sharp_side - 12;
    if key.mode == Mode::Aeolian && sharp_side == k + 8 {
        return name_at(sharp_side); // the raised seventh of a minor key
    }
    let sharp_distance = sharp_side - (k + 5);
    let flat_distance = (k - 1) - flat_side;
    let prefer_sharp = match sharp_distance.cmp(&flat_distance) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => match k.cmp(&0) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => up,
        },
    };
    let (chosen, other) = if prefer_sharp {
        (name_at(sharp_side), name_at(flat_side))
    } else {
        (name_at(flat_side), name_at(sharp_side))
    };
    if chosen.alter.abs() == 2 {
        other
    } else {
        chosen
    }
}

/// `note` moved by `steps` degrees of `key`'s scale, keeping its deviation from the key (see the
/// module docs): `F#4` up 1 in G major is `G4`, `B4` up 1 is `C5`, `C#4` up 1 in C major is
/// `D#4`. A result that would need a triple accidental is respelled on the nearest letter.
/// Cents are kept.
///
/// Fails with [`PitchError::Octave`] if the result leaves octaves `-1..=9`.
pub fn transpose_diatonic(note: &Note, steps: i32, key: &KeySignature) -> Result<Note, PitchError> {
    let note = *note;
    let deviation = i64::from(note.alter) - key.alter_i64(note.step);
    let mut index = i64::from(note.diatonic_index()) + i64::from(steps);
    let (step, octave) = step_and_octave(index);
    let alter = key.alter_i64(step) + deviation;
    let midi = (octave + 1) * 12 + step.semis() + alter;
    // Respell on a neighbouring letter, towards the pitch, until the alteration fits.
    let mut step = step;
    let mut alter = alter;
    while alter.abs() > i64::from(MAX_ALTER) {
        index += alter.signum();
        let (next, next_octave) = step_and_octave(index);
        step = next;
        alter = midi - (next_octave + 1) * 12 - next.semis();
    }
    Note::at_midi(step, alter, midi, note.cents)
}

#[cfg(test)]
mod tests {
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
                let expected = (MAJOR_OR_PERFECT[(rotation + i) % 7] - MAJOR_OR_PERFECT[rotation])
                    .rem_euclid(12);
                let actual = (i32::from(scale[i].pitch_class())
                    - i32::from(scale[0].pitch_class()))
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
            "P1", "A1", "m2", "M2", "A2", "d3", "m3", "M3", "d4", "P4", "A4", "d5", "P5", "A5",
            "m6", "M6", "m7", "M7", "d7", "P8", "M9", "P12", "M14", "P15",
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
}
