//! The EDN text form of values, for the command-line client, logs and tests.
//!
//! [`print`] writes canonical EDN (maps and sets in the total order of values) and [`parse`]
//! reads it back: printing then parsing gives an equal value, for every value. Beyond standard
//! EDN it reads and writes `3/4` ratios, `1N` big integers, `#uuid "..."`, `#inst "..."`,
//! `#bytes "base64"` and records as `#type.Name{...}`. Characters (`\a`), big decimals (`1.5M`)
//! and other tags have no value kind and are refused with the position of the offending text.

mod parse;
mod print;

pub use parse::{EdnError, parse, parse_with_limits};
pub use print::{print, print_truncated};
