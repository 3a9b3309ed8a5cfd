//! A writer for the Prometheus text exposition format 0.0.4: each metric family once, with its
//! `# HELP` and `# TYPE` lines, then its samples. Hand-written rather than a metrics crate
//! because the server's numbers already live in its own atomics (read at scrape time), so all a
//! crate would add is a second registry to copy them into; this writer is the format's few
//! rules (escaping, `+Inf`, histogram series) in one place. `tests/http_sidecar.rs` checks the
//! structure of a real scrape; `promtool check metrics` accepts it (see ARCHITECTURE.md).

use std::fmt::Write;

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value: integers print exactly, floats in Rust's shortest round-trip form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::Uint(v)
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::Int(v)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number::Float(v)
    }
}

/// The text being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Samples of this family follow.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, kind: Kind, value: impl Into<Number>) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Number>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                for ch in val.chars() {
                    match ch {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Number::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            Number::Uint(v) => {
                let _ = write!(self.out, "{v}");
            }
            Number::Float(v) => self.out.push_str(&float(v)),
        }
        self.out.push('\n');
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A float as the format spells it (`+Inf`, `-Inf`, `NaN`, else decimal).
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_and_type_and_labels_are_escaped() {
        let mut e = Exposition::new();
        e.family("x_total", "Things.\nMore \\ text.", Kind::Counter);
        e.sample("x_total", &[("a", "q\"\\\nz"), ("b", "c")], 3u64);
        e.single("y", "A gauge.", Kind::Gauge, -2i64);
        e.single("z", "A float.", Kind::Gauge, 0.25f64);
        assert_eq!(
            e.finish(),
            "# HELP x_total Things.\\nMore \\\\ text.\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"\\\\\\nz\",b=\"c\"} 3\n\
             # HELP y A gauge.\n# TYPE y gauge\ny -2\n\
             # HELP z A float.\n# TYPE z gauge\nz 0.25\n"
        );
    }

    #[test]
    fn special_floats_are_spelled_as_the_format_wants() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(0.0005), "0.0005");
        assert_eq!(float(10.0), "10");
    }
}
