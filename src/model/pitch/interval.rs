//! Interval qualities and signed intervals (diatonic steps plus semitones): building one from a
//! quality and number, parsing and printing names such as `M3`, `-P5` or `AA4`, and the interval
//! between two notes.

use std::fmt;
use std::ops::Neg;
use std::str::FromStr;

use super::{MAX_INTERVAL_NUMBER, Note, PitchError, TextKind, parse_error};

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
/// Any combination is a value; [`transpose_by_interval`](super::transpose_by_interval) fails if it cannot spell the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Letters moved: 0 for a unison, 2 for a third, 7 for an octave; negative downwards.
    pub steps: i32,
    /// Semitones moved; negative downwards.
    pub semitones: i32,
}

/// Semitones of the major or perfect interval for each number within an octave (unison to
/// seventh).
pub(super) const MAJOR_OR_PERFECT: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];

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
