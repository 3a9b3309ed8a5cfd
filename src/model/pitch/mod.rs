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
//!
//! # Where the code is
//!
//! This file holds the limits and [`PitchError`]; the private submodules hold the rest by
//! responsibility (`note`: steps, note names and notes; `key`: modes and key signatures;
//! `interval`: qualities and intervals; `transpose`: the three transpositions and their
//! spelling), and everything public is re-exported here, so every path is `pitch::Name`.

mod interval;
mod key;
mod note;
#[cfg(test)]
mod tests;
mod transpose;

use std::fmt;

pub use interval::{Interval, Quality};
pub use key::{KeySignature, Mode};
pub use note::{Note, NoteName, Step};
pub use transpose::{transpose_by_interval, transpose_chromatic, transpose_diatonic};

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
