//! Diatonic modes and key signatures: a key is a tonic and a mode with at most seven sharps or
//! flats, and answers which alteration it gives each letter, what its scale is and whether a
//! spelling is diatonic in it. Transposition reads keys through these answers.

use std::fmt;
use std::str::FromStr;

use super::{MAX_KEY_ACCIDENTALS, NoteName, PitchError, Step, TextKind, parse_error};

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

    pub(super) fn alter_i64(self, step: Step) -> i64 {
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
