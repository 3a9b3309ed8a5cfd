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

/// Runs `command` (`fmt`, `encode` or `decode`) on `arg` and returns what to print.
pub fn run(command: &str, arg: &str) -> Result<String, Failure> {
    let input = read_arg(arg)?;
    let limits = ValueLimits::default();
    let fail = |e: String| Failure::Other(format!("ooloi: {e}"));
    match command {
        "fmt" => Ok(edn::print(
            &edn::parse_with_limits(&input, &limits).map_err(|e| fail(e.to_string()))?,
        )),
        "encode" => {
            let value = edn::parse_with_limits(&input, &limits).map_err(|e| fail(e.to_string()))?;
            Ok(wire::encode(&value)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect())
        }
        _ => {
            let bytes = from_hex(&input).map_err(fail)?;
            Ok(edn::print(
                &wire::decode(&bytes, &limits).map_err(|e| fail(e.to_string()))?,
            ))
        }
    }
}
