//! Instants: microseconds since the Unix epoch (UTC), the server's one wire time format, limited
//! to years 0000-9999 so that every instant has an RFC 3339 text form. Conversion between days
//! and civil dates uses Howard Hinnant's `days_from_civil` algorithm.

use super::ValueErrorKind;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z.
const MIN_MICROS: i64 = -62_167_219_200 * MICROS_PER_SECOND;
/// 9999-12-31T23:59:59.999999Z.
const MAX_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// An instant in years 0000-9999, with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instant(i64);

impl Instant {
    /// The instant `micros` microseconds after the Unix epoch, if within years 0000-9999.
    pub fn from_epoch_micros(micros: i64) -> Result<Instant, ValueErrorKind> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Instant(micros))
        } else {
            Err(ValueErrorKind::InstantOutOfRange(micros))
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn epoch_micros(self) -> i64 {
        self.0
    }

    /// The current time.
    pub fn now() -> Instant {
        let micros = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(MAX_MICROS),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(-MIN_MICROS),
        };
        Instant(micros.clamp(MIN_MICROS, MAX_MICROS))
    }

    /// RFC 3339 in UTC with six fraction digits: `2026-11-27T04:17:09.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let days = self.0.div_euclid(SECONDS_PER_DAY * MICROS_PER_SECOND);
        let in_day = self.0.rem_euclid(SECONDS_PER_DAY * MICROS_PER_SECOND);
        let (y, m, d) = civil_from_days(days);
        let secs = in_day / MICROS_PER_SECOND;
        let micros = in_day % MICROS_PER_SECOND;
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// Parses `YYYY-MM-DD`, optionally followed by `THH:MM:SS`, a fraction of up to microsecond
    /// precision (up to 9 digits; digits past the sixth must be zero), and `Z` or `±HH:MM`.
    pub fn parse_rfc3339(text: &str) -> Result<Instant, String> {
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
            let part = b
                .get(range)
                .ok_or_else(|| format!("instant {text:?} is too short"))?;
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(format!(
                    "instant {text:?} has a non-digit where a digit belongs"
                ));
            }
            Ok(part.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        let expect = |at: usize, what: u8| -> Result<(), String> {
            match b.get(at) {
                Some(&c) if c == what => Ok(()),
                _ => Err(format!(
                    "instant {text:?}: expected {:?} at offset {at}",
                    what as char
                )),
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        expect(4, b'-')?;
        expect(7, b'-')?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(format!("instant {text:?} is not a calendar date"));
        }
        let mut micros = days_from_civil(year, month, day) * SECONDS_PER_DAY * MICROS_PER_SECOND;
        let mut at = 10;
        if at < b.len() {
            if !matches!(b[at], b'T' | b't') {
                return Err(format!("instant {text:?}: expected 'T' after the date"));
            }
            let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
            expect(13, b':')?;
            expect(16, b':')?;
            if h > 23 || mi > 59 || s > 59 {
                return Err(format!("instant {text:?} has an invalid time of day"));
            }
            micros += ((h * 60 + mi) * 60 + s) * MICROS_PER_SECOND;
            at = 19;
            if b.get(at) == Some(&b'.') {
                let start = at + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                let digits = &text[start..end];
                if digits.is_empty() || digits.len() > 9 {
                    return Err(format!("instant {text:?} needs 1-9 fraction digits"));
                }
                let (sub, beyond) = digits.split_at(digits.len().min(6));
                if beyond.bytes().any(|d| d != b'0') {
                    return Err(format!(
                        "instant {text:?} is more precise than microseconds"
                    ));
                }
                let scale = 10_i64.pow(6 - sub.len() as u32);
                micros += sub.parse::<i64>().map_err(|e| e.to_string())? * scale;
                at = end;
            }
            match b.get(at) {
                Some(b'Z' | b'z') if at + 1 == b.len() => {}
                Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() => {
                    let (oh, om) = (num(at + 1..at + 3)?, num(at + 4..at + 6)?);
                    expect(at + 3, b':')?;
                    if oh > 23 || om > 59 {
                        return Err(format!("instant {text:?} has an invalid offset"));
                    }
                    let offset = (oh * 60 + om) * 60 * MICROS_PER_SECOND;
                    micros += if sign == b'+' { -offset } else { offset };
                }
                _ => return Err(format!("instant {text:?} must end with 'Z' or an offset")),
            }
        }
        Instant::from_epoch_micros(micros).map_err(|e| e.to_string())
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        let epoch = Instant::from_epoch_micros(0).unwrap();
        assert_eq!(epoch.to_rfc3339(), "1970-01-01T00:00:00.000000Z");
        let t = Instant::from_epoch_micros(1_795_753_029_123_456).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T04:17:09.123456Z");
        assert_eq!(Instant::parse_rfc3339("2026-11-27T04:17:09.123456Z"), Ok(t));
        assert_eq!(
            Instant::parse_rfc3339("2026-11-27T05:17:09.123456+01:00"),
            Ok(t)
        );
        assert_eq!(
            Instant::parse_rfc3339("1985-04-12T23:20:50.52Z")
                .unwrap()
                .to_rfc3339(),
            "1985-04-12T23:20:50.520000Z"
        );
        assert_eq!(
            Instant::parse_rfc3339("1970-01-02"),
            Instant::from_epoch_micros(86_400_000_000).map_err(|e| e.to_string())
        );
    }

    #[test]
    fn range_ends_round_trip_and_beyond_is_refused() {
        for micros in [MIN_MICROS, MAX_MICROS, -1, 951_782_400_000_000] {
            let i = Instant::from_epoch_micros(micros).unwrap();
            assert_eq!(Instant::parse_rfc3339(&i.to_rfc3339()), Ok(i), "{micros}");
        }
        assert_eq!(
            Instant(MIN_MICROS).to_rfc3339(),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Instant(MAX_MICROS).to_rfc3339(),
            "9999-12-31T23:59:59.999999Z"
        );
        assert!(Instant::from_epoch_micros(MIN_MICROS - 1).is_err());
        assert!(Instant::from_epoch_micros(MAX_MICROS + 1).is_err());
    }

    #[test]
    fn refuses_malformed_text() {
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2026-11-27T24:00:00Z",
            "2026-11-27T04:17:09",
            "2026-11-27T04:17:09.1234567Z",
            "2026-11-27 04:17:09Z",
            "26-11-27",
            "",
        ] {
            assert!(Instant::parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert!(Instant::parse_rfc3339("2026-11-27T04:17:09.123456000Z").is_ok());
    }
}
