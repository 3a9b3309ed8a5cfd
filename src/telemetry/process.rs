//! Facts about the running process the health endpoints report: resident memory and thread
//! count, read from `/proc/self/status` (Linux). Elsewhere, or if the file cannot be read, they
//! are unknown (`None`): JSON then says `null` and the metric is left out, never a made-up 0.

/// What the process looks like now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessSample {
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Threads of the process.
    pub threads: Option<u64>,
}

impl ProcessSample {
    /// Reads the current values.
    pub fn now() -> ProcessSample {
        std::fs::read_to_string("/proc/self/status")
            .map(|status| parse_status(&status))
            .unwrap_or_default()
    }
}

/// The values in the text of a `/proc/<pid>/status` file (`VmRSS:  1234 kB`, `Threads:  9`).
fn parse_status(status: &str) -> ProcessSample {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    ProcessSample {
        resident_bytes: field("VmRSS").map(|kib| kib.saturating_mul(1024)),
        threads: field("Threads"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_and_missing_ones_are_unknown() {
        let sample = parse_status("Name:\tx\nVmRSS:\t    2048 kB\nThreads:\t7\n");
        assert_eq!(sample.resident_bytes, Some(2048 * 1024));
        assert_eq!(sample.threads, Some(7));
        assert_eq!(parse_status("Name:\tx\n"), ProcessSample::default());
        assert_eq!(parse_status("VmRSSX: 5 kB\n").resident_bytes, None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_memory_and_threads() {
        let sample = ProcessSample::now();
        assert!(sample.resident_bytes.unwrap() > 0);
        assert!(sample.threads.unwrap() >= 1);
    }
}
