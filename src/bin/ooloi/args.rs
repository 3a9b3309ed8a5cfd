//! Command-line parsing for the server commands: positional arguments and `--flag VALUE` /
//! `--flag=VALUE` options, each command declaring which flags take a value and which are
//! switches. Unknown flags and missing values are usage errors.

use std::collections::HashMap;

use crate::failure::Failure;

/// The default server address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:10700";

/// Parsed arguments: positionals in order, flags by name (without the dashes).
#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    flags: HashMap<String, String>,
}

impl Args {
    /// Parses `args`; `valued` names the flags that take a value, `switches` those that do not.
    pub fn parse(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Args, Failure> {
        let mut parsed = Args::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                parsed.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (flag, None),
            };
            if switches.contains(&name) && inline.is_none() {
                parsed.flags.insert(name.to_owned(), String::new());
            } else if valued.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| Failure::Usage(format!("--{name} needs a value")))?,
                };
                parsed.flags.insert(name.to_owned(), value);
            } else {
                return Err(Failure::Usage(format!("unknown option --{name}")));
            }
        }
        Ok(parsed)
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    /// Whether the switch `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// The server URL (`--server`, else the default).
    pub fn server(&self) -> String {
        self.get("server").unwrap_or(DEFAULT_SERVER).to_owned()
    }

    /// `--name` parsed as a `T`, else `default`.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Failure> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| Failure::Usage(format!("--{name}: cannot use {text:?}"))),
        }
    }
}
