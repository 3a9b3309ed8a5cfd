//! Transposition by an exact interval, by semitones and by degrees of a key, each choosing the
//! spelling of its result by the rules in the [module docs](super). Cents ride along unchanged;
//! only the letter, accidental and octave are computed here.

use super::{Interval, KeySignature, MAX_ALTER, Mode, Note, NoteName, PitchError, Step};

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

/// `note` moved by `semitones`, spelled by the rules in the [module docs](super): the key's own spelling
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
    if key.mode() == Mode::Aeolian && sharp_side == k + 8 {
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
/// [module docs](super)): `F#4` up 1 in G major is `G4`, `B4` up 1 is `C5`, `C#4` up 1 in C major is
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
