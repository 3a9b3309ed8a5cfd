//! Letters ([`Step`]), spelled pitch classes ([`NoteName`]) and spelled pitches ([`Note`]), with
//! the pitch text they are parsed from and printed as (the format is in the [module docs](super)).
//! The letter and note arithmetic the other submodules build on (semitones, line-of-fifths
//! positions, range checks) is here too, shared with them as `pub(super)`, so that it has one home.

use std::fmt;
use std::str::FromStr;

use super::{MAX_ALTER, MAX_CENTS, MAX_OCTAVE, MIN_OCTAVE, PitchError, TextKind, parse_error};

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

    pub(super) fn wrapping(index: i64) -> Step {
        Step::ALL[index.rem_euclid(7) as usize]
    }

    pub(super) fn semis(self) -> i64 {
        NATURAL_SEMITONES[self as usize]
    }

    pub(super) fn fifths(self) -> i64 {
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
    pub(super) step: Step,
    pub(super) alter: i8,
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
    pub(super) step: Step,
    pub(super) alter: i8,
    pub(super) octave: i8,
    pub(super) cents: i16,
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

    pub(super) fn checked(
        step: Step,
        alter: i64,
        octave: i64,
        cents: i64,
    ) -> Result<Note, PitchError> {
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
    pub(super) fn at_midi(
        step: Step,
        alter: i64,
        midi: i64,
        cents: i16,
    ) -> Result<Note, PitchError> {
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

    pub(super) fn midi_i64(self) -> i64 {
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
