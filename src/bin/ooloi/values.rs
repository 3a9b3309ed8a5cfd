//! The offline value commands: `fmt` (EDN to canonical EDN), `encode` (EDN to the hex of the
//! `OoloiValue` protobuf bytes) and `decode` (hex to EDN), with the server's value limits. An
//! argument of `-` is read from standard input.

use std::io::Read;

use ooloi_server::value::{ValueLimits, edn, wire};

use crate::failure::Failure;

fn read_arg(arg: &str) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::Other(format!("ooloi: reading stdin: {e}")))?;
    Ok(text)
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("hex input has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            u8::from_str_radix(pair, 16).map_err(|_| format!("invalid hex digits {pair:?}"))
        })
        .collect()
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::Other(format!("ooloi: {e}"))
}

/// `ooloi fmt`: the canonical EDN of `arg`.
pub fn fmt(arg: &str) -> Result<String, Failure> {
    let value = edn::parse_with_limits(&read_arg(arg)?, &ValueLimits::default()).map_err(fail)?;
    Ok(edn::print(&value))
}

/// `ooloi encode`: the hex of the protobuf bytes of `arg`'s value.
pub fn encode(arg: &str) -> Result<String, Failure> {
    let value = edn::parse_with_limits(&read_arg(arg)?, &ValueLimits::default()).map_err(fail)?;
    Ok(wire::encode(&value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `ooloi decode`: the EDN of the value in `arg`'s hex bytes.
pub fn decode(arg: &str) -> Result<String, Failure> {
    let bytes = from_hex(&read_arg(arg)?).map_err(fail)?;
    let value = wire::decode(&bytes, &ValueLimits::default()).map_err(fail)?;
    Ok(edn::print(&value))
}
