//! The deadline of a call: the client's `grpc-timeout`, capped by `limits.max_call_seconds`.
//! gRPC sends the timeout as at most 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`); a header
//! that does not parse is ignored (the server's own maximum still applies), as the gRPC
//! specification leaves it to the server.

use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;

/// The header carrying the client's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The timeout a `grpc-timeout` value states, if it is well formed.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// When a call that started at `start` with `metadata` must stop: the client's timeout or
/// `max`, whichever is sooner.
pub fn deadline(metadata: &MetadataMap, start: Instant, max: Duration) -> Instant {
    let asked = metadata
        .get(GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_timeout);
    start + asked.map_or(max, |t| t.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses_and_malformed_values_are_ignored() {
        assert_eq!(parse_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_timeout("5n"), Some(Duration::from_nanos(5)));
        for bad in ["", "S", "123456789S", "10s", "1.5S", "-1S", "10", "１S"] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_server_maximum_caps_the_client_timeout() {
        let start = Instant::now();
        let max = Duration::from_secs(30);
        let mut m = MetadataMap::new();
        assert_eq!(
            deadline(&m, start, max),
            start + max,
            "no timeout: the maximum"
        );
        m.insert(GRPC_TIMEOUT, "100m".parse().unwrap());
        assert_eq!(deadline(&m, start, max), start + Duration::from_millis(100));
        m.insert(GRPC_TIMEOUT, "2H".parse().unwrap());
        assert_eq!(deadline(&m, start, max), start + max);
        m.insert(GRPC_TIMEOUT, "nonsense".parse().unwrap());
        assert_eq!(deadline(&m, start, max), start + max);
    }
}
