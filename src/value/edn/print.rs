//! Canonical EDN printing. Recursion follows the value's nesting, which every decoder bounds.

use std::fmt::Write;

use base64::Engine;

use crate::value::Value;

/// Prints `value` as EDN.
pub fn print(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Prints `value` as EDN, cut to at most `max_chars` characters (ending in `...` when cut), for
/// error messages and logs.
pub fn print_truncated(value: &Value, max_chars: usize) -> String {
    let full = print(value);
    match full.char_indices().nth(max_chars) {
        None => full,
        Some((cut, _)) => format!("{}...", &full[..cut]),
    }
}

fn write_str_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_double(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("##NaN");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "##Inf" } else { "##-Inf" });
    } else {
        // Debug is the shortest text that reads back to the same bits, and always contains
        // a '.' or an exponent, so it never reads back as an integer.
        let _ = write!(out, "{d:?}");
    }
}

fn write_seq<'a>(
    out: &mut String,
    open: &str,
    close: char,
    items: impl Iterator<Item = &'a Value>,
) {
    out.push_str(open);
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(out, item);
    }
    out.push(close);
}

fn write_entries(out: &mut String, entries: &[(Value, Value)]) {
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, k);
        out.push(' ');
        write_value(out, v);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(b) => {
            let _ = write!(out, "{b}N");
        }
        Value::Double(d) => write_double(out, *d),
        Value::Ratio(r) => {
            let _ = write!(out, "{}/{}", r.numerator(), r.denominator());
        }
        Value::String(s) => write_str_literal(out, s),
        Value::Keyword(k) => {
            out.push(':');
            out.push_str(k.as_str());
        }
        Value::Symbol(s) => out.push_str(s.as_str()),
        Value::Bytes(b) => {
            out.push_str("#bytes ");
            write_str_literal(out, &base64::engine::general_purpose::STANDARD.encode(b));
        }
        Value::Uuid(u) => {
            let _ = write!(out, "#uuid \"{u}\"");
        }
        Value::Instant(i) => {
            let _ = write!(out, "#inst \"{}\"", i.to_rfc3339());
        }
        Value::List(s) => write_seq(out, "(", ')', s.iter()),
        Value::Vector(s) => write_seq(out, "[", ']', s.iter()),
        Value::Set(s) => write_seq(out, "#{", '}', s.iter()),
        Value::Map(m) => write_entries(out, m.entries()),
        Value::Record(r) => {
            out.push('#');
            out.push_str(r.type_name());
            write_entries(out, r.fields().entries());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Record, ValueMap, ratio};

    #[test]
    fn prints_each_kind() {
        let v = Value::vector([
            Value::Nil,
            true.into(),
            (-3).into(),
            num_bigint::BigInt::from(10).pow(20).into(),
            1.5.into(),
            1e300.into(),
            f64::NEG_INFINITY.into(),
            ratio(-6, 8).into(),
            "a\"b\\c\n\u{1}é".into(),
            Value::keyword("ooloi.pitch/C4"),
            Value::symbol("tenuto"),
            Value::list([1.into()]),
            Value::set([2.into(), 1.into()]),
            Value::map([
                (Value::keyword("b"), 2.into()),
                (Value::keyword("a"), 1.into()),
            ]),
        ]);
        assert_eq!(
            print(&v),
            "[nil true -3 100000000000000000000N 1.5 1e300 ##-Inf -3/4 \"a\\\"b\\\\c\\n\\u0001é\" \
             :ooloi.pitch/C4 tenuto (1) #{1 2} {:a 1, :b 2}]"
        );
        let rec = Record::new("my.plugin.Custom", ValueMap::new()).unwrap();
        assert_eq!(print(&Value::Record(rec)), "#my.plugin.Custom{}");
        assert_eq!(print(&Value::Bytes(vec![0, 255].into())), "#bytes \"AP8=\"");
    }

    #[test]
    fn truncation_cuts_on_a_character_boundary() {
        let v = Value::string("ééééé");
        assert_eq!(print_truncated(&v, 3), "\"éé...");
        assert_eq!(print_truncated(&v, 100), "\"ééééé\"");
    }
}
