//! Equality, total order and hashing of values, all consistent with each other.
//!
//! Values of different kinds are never equal and order by kind (nil < booleans < integers < big
//! integers < doubles < ratios < strings < keywords < symbols < bytes < uuids < instants < lists
//! < vectors < sets < maps < records). Within a kind the order is the natural one; keywords and
//! symbols order by (namespace, name) with no namespace first. Doubles compare by IEEE total order
//! after folding every NaN into one, so NaN equals NaN and `-0.0` differs from `0.0`: a value must
//! equal itself to be a map key. `1` and `1N` and `1.0` are three different values, as the wire
//! keeps them. Recursion over collections is bounded by the value's depth.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use super::{Kind, Value};

fn canonical_double(d: f64) -> f64 {
    if d.is_nan() { f64::NAN } else { d }
}

fn split_named(text: &str) -> (Option<&str>, &str) {
    match text.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, text),
    }
}

fn cmp_named(a: &str, b: &str) -> Ordering {
    // Most names have no namespace: compare the bytes and look for '/' only when needed.
    if !a.as_bytes().contains(&b'/') && !b.as_bytes().contains(&b'/') {
        return a.cmp(b);
    }
    split_named(a).cmp(&split_named(b))
}

/// Compares `value` with the keyword `:name` (no namespace) in the total order.
pub(crate) fn cmp_to_simple_keyword(value: &Value, name: &str) -> Ordering {
    match value {
        Value::Keyword(k) => (k.namespace(), k.name()).cmp(&(None, name)),
        other => other.kind().cmp(&Kind::Keyword),
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (BigInt(a), BigInt(b)) => a.cmp(b),
            (Double(a), Double(b)) => canonical_double(*a).total_cmp(&canonical_double(*b)),
            (Ratio(a), Ratio(b)) => a.cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Keyword(a), Keyword(b)) if a.ptr_eq(b) => Ordering::Equal,
            (Keyword(a), Keyword(b)) => cmp_named(a.as_str(), b.as_str()),
            (Symbol(a), Symbol(b)) => cmp_named(a.as_str(), b.as_str()),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Instant(a), Instant(b)) => a.cmp(b),
            (List(a), List(b)) | (Vector(a), Vector(b)) => {
                if std::sync::Arc::ptr_eq(&a.0, &b.0) {
                    Ordering::Equal
                } else {
                    a.iter().cmp(b.iter())
                }
            }
            (Set(a), Set(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Record(a), Record(b)) => a
                .type_name()
                .cmp(b.type_name())
                .then_with(|| a.fields().cmp(b.fields())),
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::BigInt(b) => b.hash(state),
            Value::Double(d) => canonical_double(*d).to_bits().hash(state),
            Value::Ratio(r) => r.hash(state),
            Value::String(s) => s.hash(state),
            Value::Keyword(k) => k.hash(state),
            Value::Symbol(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Instant(i) => i.hash(state),
            Value::List(s) | Value::Vector(s) => s.as_slice().hash(state),
            Value::Set(s) => s.as_slice().hash(state),
            Value::Map(m) => m.entries().hash(state),
            Value::Record(r) => {
                r.type_name().hash(state);
                r.fields().entries().hash(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ratio;

    #[test]
    fn kinds_never_compare_equal() {
        let one = [Value::Int(1), Value::Double(1.0), Value::Ratio(ratio(1, 1))];
        for (i, a) in one.iter().enumerate() {
            for (j, b) in one.iter().enumerate() {
                assert_eq!(a == b, i == j);
            }
        }
        assert_ne!(Value::vector([1.into()]), Value::list([1.into()]));
        assert_ne!(Value::keyword("a"), Value::symbol("a"));
        assert_ne!(Value::keyword("a"), Value::string("a"));
    }

    #[test]
    fn doubles_are_reflexive_and_signed_zero_is_kept() {
        assert_eq!(Value::Double(f64::NAN), Value::Double(-f64::NAN));
        assert_ne!(Value::Double(0.0), Value::Double(-0.0));
    }

    #[test]
    fn keywords_order_by_namespace_then_name() {
        let mut ks = vec![
            Value::keyword("b/a"),
            Value::keyword("z"),
            Value::keyword("a/z"),
        ];
        ks.sort();
        assert_eq!(
            ks,
            vec![
                Value::keyword("z"),
                Value::keyword("a/z"),
                Value::keyword("b/a")
            ]
        );
        assert_eq!(
            cmp_to_simple_keyword(&Value::keyword("z"), "z"),
            Ordering::Equal
        );
        assert_eq!(
            cmp_to_simple_keyword(&Value::keyword("a/a"), "z"),
            Ordering::Greater
        );
        assert_eq!(cmp_to_simple_keyword(&Value::Int(3), "z"), Ordering::Less);
    }
}
