//! `ooloi`, the command-line client. For now it converts values: `ooloi fmt EDN` prints the
//! canonical EDN form, `ooloi encode EDN` prints the protobuf bytes of the `OoloiValue` as hex,
//! `ooloi decode HEX` prints the value as EDN. `-` reads the argument from standard input.
//! The server commands (`call`, `watch`, `bench`) arrive with the server in Stage 4.
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use ooloi_server::value::{ValueLimits, edn, wire};

const USAGE: &str = "usage: ooloi fmt EDN | ooloi encode EDN | ooloi decode HEX   (- reads stdin)";

fn read_arg(arg: &str) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading stdin: {e}"))?;
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

fn run(command: &str, arg: &str) -> Result<String, String> {
    let input = read_arg(arg)?;
    let limits = ValueLimits::default();
    match command {
        "fmt" => Ok(edn::print(
            &edn::parse_with_limits(&input, &limits).map_err(|e| e.to_string())?,
        )),
        "encode" => {
            let value = edn::parse_with_limits(&input, &limits).map_err(|e| e.to_string())?;
            Ok(wire::encode(&value)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect())
        }
        "decode" => {
            let bytes = from_hex(&input)?;
            Ok(edn::print(
                &wire::decode(&bytes, &limits).map_err(|e| e.to_string())?,
            ))
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, arg] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(command, arg) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ooloi: {e}");
            ExitCode::FAILURE
        }
    }
}
