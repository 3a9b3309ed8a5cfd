//! Latency samples and the report: [`Samples`] keeps every latency in nanoseconds and answers
//! percentiles by sorting (a run holds at most a few million samples); [`Row`] is one line of
//! the summary table, printed aligned on standard output and optionally written as JSON.

use std::fmt::Write as _;
use std::time::Duration;

/// Latencies in nanoseconds.
#[derive(Debug, Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    pub fn push(&mut self, latency: Duration) {
        self.0
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn push_nanos(&mut self, nanos: u64) {
        self.0.push(nanos);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The p50, p95 and p99 latencies, or `None` without samples.
    pub fn percentiles(&mut self) -> Option<[Duration; 3]> {
        if self.0.is_empty() {
            return None;
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let rank = ((self.0.len() as f64) * q).ceil() as usize;
            Duration::from_nanos(self.0[rank.clamp(1, self.0.len()) - 1])
        };
        Some([at(0.50), at(0.95), at(0.99)])
    }
}

/// One row of the summary.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    /// Operations per second and their unit (`calls/s`, `deliveries/s`); none for memory.
    pub throughput: Option<(f64, &'static str)>,
    pub latency: Option<[Duration; 3]>,
    /// Further numbers for the JSON output, e.g. `("rss_above_idle_bytes", 1.2e7)`.
    pub extra: Vec<(&'static str, f64)>,
    pub note: String,
}

impl Row {
    pub fn new(scenario: impl Into<String>) -> Self {
        Row {
            scenario: scenario.into(),
            throughput: None,
            latency: None,
            extra: Vec::new(),
            note: String::new(),
        }
    }
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn grouped(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The summary table.
pub fn table(rows: &[Row]) -> String {
    let header = ["scenario", "throughput", "p50", "p95", "p99", "note"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let lat = |i: usize| r.latency.map_or_else(|| "-".to_owned(), |l| micros(l[i]));
            [
                r.scenario.clone(),
                r.throughput.map_or_else(
                    || "-".to_owned(),
                    |(v, unit)| format!("{} {unit}", grouped(v)),
                ),
                lat(0),
                lat(1),
                lat(2),
                r.note.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut text = String::new();
        for (i, (col, w)) in cols.iter().zip(widths).enumerate() {
            let pad = w - col.chars().count();
            if i == 0 || i == 5 {
                text.push_str(col);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str(&" ".repeat(pad));
                text.push_str(col);
            }
            text.push_str("  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned));
    for row in &cells {
        line(row);
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".to_owned()
    }
}

/// The rows as a JSON array; latencies in microseconds.
pub fn json(rows: &[Row]) -> String {
    let mut out = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let mut fields = vec![format!("\"scenario\": {}", json_string(&r.scenario))];
        if let Some((v, unit)) = r.throughput {
            fields.push(format!("\"throughput\": {}", json_number(v)));
            fields.push(format!("\"unit\": {}", json_string(unit)));
        }
        if let Some(l) = r.latency {
            for (name, d) in ["p50_us", "p95_us", "p99_us"].iter().zip(l) {
                fields.push(format!(
                    "\"{name}\": {}",
                    json_number(d.as_secs_f64() * 1e6)
                ));
            }
        }
        for (k, v) in &r.extra {
            fields.push(format!("{}: {}", json_string(k), json_number(*v)));
        }
        fields.push(format!("\"note\": {}", json_string(&r.note)));
        let _ = write!(out, "  {{{}}}", fields.join(", "));
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut s = Samples::default();
        for n in 1..=100 {
            s.push_nanos(n * 1000);
        }
        let [p50, p95, p99] = s.percentiles().unwrap();
        assert_eq!(
            (p50.as_micros(), p95.as_micros(), p99.as_micros()),
            (50, 95, 99)
        );
        assert!(Samples::default().percentiles().is_none());
    }

    #[test]
    fn the_table_and_json_carry_every_row() {
        let mut row = Row::new("unary c=1");
        row.throughput = Some((12345.6, "calls/s"));
        row.latency = Some([Duration::from_micros(80); 3]);
        row.note = "a \"note\"".into();
        let memory = Row::new("memory");
        let text = table(&[row.clone(), memory.clone()]);
        assert!(
            text.contains("12,346 calls/s") && text.contains("80 µs"),
            "{text}"
        );
        assert!(text.lines().nth(2).unwrap().starts_with("memory"), "{text}");
        let json = json(&[row, memory]);
        assert!(
            json.contains("\"p99_us\": 80") && json.contains("a \\\"note\\\""),
            "{json}"
        );
    }
}
