//! The unified value: the EDN-like datum that every request, result and event is made of.
//!
//! [`Value`] keeps every distinction a Clojure client can see: ratios stay exact and canonical,
//! keywords and symbols keep their namespace, vectors, lists and sets stay distinct, nil survives
//! inside collections, and records keep their type name even when the type is unknown here.
//! Cloning is O(1): compound values share immutable storage behind `Arc`, so one value can sit in
//! many STM versions and event queues at once. Maps and sets are stored sorted by the total order
//! of [`order`], which makes equality and hashing order-independent, printing canonical and
//! encoding deterministic. Values that enter from outside pass through a decoder that enforces
//! [`ValueLimits`]; dropping a value never recurses, however deep it is.
//!
//! ```
//! use ooloi_server::value::{Value, ValueLimits, edn, wire};
//!
//! let v = edn::parse(r#"{:note "C#4" :duration 6/8}"#).unwrap();
//! assert_eq!(edn::print(&v), r#"{:duration 3/4, :note "C#4"}"#);
//! let bytes = wire::encode(&v);
//! assert_eq!(wire::decode(&bytes, &ValueLimits::default()).unwrap(), v);
//! ```

mod drop;
pub mod edn;
mod error;
mod instant;
mod limits;
mod map;
mod names;
mod order;
mod proto_conv;
mod ratio;
pub mod wire;

use std::sync::Arc;

use num_bigint::BigInt;

pub use error::{Limit, PathSegment, ValueError, ValueErrorKind};
pub use instant::Instant;
pub use limits::{MAX_CONFIGURABLE_DEPTH, ValueLimits};
pub use map::{ValueMap, ValueSet};
pub use names::NameError;
pub use ratio::{Ratio, ratio};

/// A value of the unified data model. See the module documentation.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`.
    #[default]
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// An arbitrary-precision integer (Clojure `BigInt`, EDN `1N`). Kept distinct from [`Value::Int`].
    BigInt(Arc<BigInt>),
    /// A 64-bit float. Equality is by bits after folding every NaN into one (so NaN equals NaN and
    /// `-0.0` differs from `0.0`), which makes it usable as a map key.
    Double(f64),
    /// An exact ratio, always canonical (reduced, denominator > 0).
    Ratio(Ratio),
    /// A UTF-8 string.
    String(Arc<str>),
    /// A keyword such as `:foo` or `:ooloi.pitch/C4`.
    Keyword(Keyword),
    /// A symbol such as `tenuto`.
    Symbol(Symbol),
    /// Raw bytes.
    Bytes(Arc<[u8]>),
    /// A UUID.
    Uuid(uuid::Uuid),
    /// An instant, microseconds since the Unix epoch.
    Instant(Instant),
    /// A list `(a b c)`.
    List(Seq),
    /// A vector `[a b c]`.
    Vector(Seq),
    /// A set `#{a b c}`; elements unique by value.
    Set(ValueSet),
    /// A map `{k v}`; keys unique by value.
    Map(ValueMap),
    /// A record `#type.Name{...}`.
    Record(Record),
}

/// The kind of a [`Value`], for messages and dispatch without borrowing the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Nil,
    Bool,
    Int,
    BigInt,
    Double,
    Ratio,
    String,
    Keyword,
    Symbol,
    Bytes,
    Uuid,
    Instant,
    List,
    Vector,
    Set,
    Map,
    Record,
}

impl Kind {
    /// The kind's name as used in error messages (`"ratio"`, `"vector"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::BigInt => "big integer",
            Kind::Double => "double",
            Kind::Ratio => "ratio",
            Kind::String => "string",
            Kind::Keyword => "keyword",
            Kind::Symbol => "symbol",
            Kind::Bytes => "bytes",
            Kind::Uuid => "uuid",
            Kind::Instant => "instant",
            Kind::List => "list",
            Kind::Vector => "vector",
            Kind::Set => "set",
            Kind::Map => "map",
            Kind::Record => "record",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An immutable, shared sequence of values: the payload of lists and vectors.
#[derive(Clone, Debug)]
pub struct Seq(pub(crate) Arc<[Value]>);

impl Seq {
    /// The elements in order.
    pub fn as_slice(&self) -> &[Value] {
        &self.0
    }
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The element at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.0.get(index)
    }
    /// Iterates over the elements.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.0.iter()
    }
}

impl From<Vec<Value>> for Seq {
    fn from(items: Vec<Value>) -> Self {
        Seq(items.into())
    }
}

impl FromIterator<Value> for Seq {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Seq(iter.into_iter().collect())
    }
}

impl std::ops::Deref for Seq {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.0
    }
}

/// A keyword: an optional namespace and a name, `:name` or `:namespace/name`.
///
/// Stored as one shared string (`"ns/name"`); neither part may contain `/`, so the split is
/// unambiguous. Both parts follow EDN symbol rules (see [`NameError`]), so every keyword prints
/// as EDN that reads back as itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Keyword(Arc<str>);

/// A symbol: an optional namespace and a name, `name` or `namespace/name`. Same storage and rules
/// as [`Keyword`], except that a name may not start with a digit or be `nil`, `true` or `false`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Symbol(Arc<str>);

macro_rules! named_impl {
    ($ty:ident, $check:path, $sigil:literal) => {
        impl $ty {
            /// Builds one from an optional namespace (`None` or `Some("")` mean none) and a name,
            /// checking both against the naming rules.
            pub fn new(namespace: Option<&str>, name: &str) -> Result<Self, NameError> {
                $check(name)?;
                match namespace {
                    None | Some("") => Ok(Self(Arc::from(name))),
                    Some(ns) => {
                        names::check_namespace(ns)?;
                        let mut text = String::with_capacity(ns.len() + 1 + name.len());
                        text.push_str(ns);
                        text.push('/');
                        text.push_str(name);
                        Ok(Self(Arc::from(text)))
                    }
                }
            }

            /// Parses the textual form without the sigil: `"name"` or `"ns/name"`.
            pub fn parse(text: &str) -> Result<Self, NameError> {
                match text.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() => Self::new(Some(ns), name),
                    _ => Self::new(None, text),
                }
            }

            /// The namespace, if any.
            pub fn namespace(&self) -> Option<&str> {
                self.0.split_once('/').map(|(ns, _)| ns)
            }

            /// The name.
            pub fn name(&self) -> &str {
                match self.0.split_once('/') {
                    Some((_, name)) => name,
                    None => &self.0,
                }
            }

            /// True when both share storage (then they are certainly equal).
            pub fn ptr_eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0)
            }

            /// The full text without the sigil: `name` or `ns/name`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", $sigil, self.0)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", $sigil, self.0)
            }
        }
    };
}

named_impl!(Keyword, names::check_keyword_name, ":");
named_impl!(Symbol, names::check_symbol_name, "");

/// A record: a type name (for Clojure clients, the munged class name such as
/// `ooloi.shared.models.musical.pitch.Pitch`) and its fields. Unknown types stay records.
#[derive(Clone, Debug)]
pub struct Record(pub(crate) Arc<RecordData>);

#[derive(Debug)]
pub(crate) struct RecordData {
    pub(crate) type_name: Arc<str>,
    pub(crate) fields: ValueMap,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.type_name() == other.type_name() && self.fields() == other.fields())
    }
}

impl Eq for Record {}

thread_local! {
    /// Keywords and record type names named by `&'static str` in code, checked and allocated
    /// once per thread: building a value for every pitch of a score would otherwise allocate
    /// `:duration` and `ooloi...Pitch` once per pitch.
    static STATIC_KEYWORDS: std::cell::RefCell<std::collections::HashMap<&'static str, Keyword>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static STATIC_TYPE_NAMES: std::cell::RefCell<std::collections::HashMap<&'static str, Arc<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

impl Keyword {
    /// The keyword `text` (no colon), for names fixed in code; shared storage per thread.
    ///
    /// # Panics
    /// When the text breaks the naming rules (a bug in the calling code).
    pub fn from_static(text: &'static str) -> Keyword {
        STATIC_KEYWORDS.with(|cache| {
            cache
                .borrow_mut()
                .entry(text)
                .or_insert_with(|| match Keyword::parse(text) {
                    Ok(k) => k,
                    Err(e) => panic!("invalid keyword literal {text:?}: {e}"),
                })
                .clone()
        })
    }
}

impl Record {
    /// Builds a record whose type name is fixed in code; the name is checked and allocated
    /// once per thread.
    ///
    /// # Panics
    /// When the type name breaks the naming rules (a bug in the calling code).
    pub fn from_static(type_name: &'static str, fields: ValueMap) -> Record {
        let type_name = STATIC_TYPE_NAMES.with(|cache| {
            cache
                .borrow_mut()
                .entry(type_name)
                .or_insert_with(|| match names::check_record_type_name(type_name) {
                    Ok(()) => Arc::from(type_name),
                    Err(e) => panic!("invalid record type name {type_name:?}: {e}"),
                })
                .clone()
        });
        Record(Arc::new(RecordData { type_name, fields }))
    }

    /// Builds a record, checking the type name (see [`NameError`]).
    pub fn new(type_name: &str, fields: ValueMap) -> Result<Self, NameError> {
        names::check_record_type_name(type_name)?;
        Ok(Record(Arc::new(RecordData {
            type_name: Arc::from(type_name),
            fields,
        })))
    }
    /// The type name.
    pub fn type_name(&self) -> &str {
        &self.0.type_name
    }
    /// The fields.
    pub fn fields(&self) -> &ValueMap {
        &self.0.fields
    }
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Nil,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::BigInt(_) => Kind::BigInt,
            Value::Double(_) => Kind::Double,
            Value::Ratio(_) => Kind::Ratio,
            Value::String(_) => Kind::String,
            Value::Keyword(_) => Kind::Keyword,
            Value::Symbol(_) => Kind::Symbol,
            Value::Bytes(_) => Kind::Bytes,
            Value::Uuid(_) => Kind::Uuid,
            Value::Instant(_) => Kind::Instant,
            Value::List(_) => Kind::List,
            Value::Vector(_) => Kind::Vector,
            Value::Set(_) => Kind::Set,
            Value::Map(_) => Kind::Map,
            Value::Record(_) => Kind::Record,
        }
    }

    /// A string value.
    pub fn string(s: impl AsRef<str>) -> Value {
        Value::String(Arc::from(s.as_ref()))
    }

    /// A keyword value from its text without the colon (`"foo"`, `"ooloi.pitch/C4"`).
    ///
    /// # Panics
    /// When the text breaks the naming rules; use [`Keyword::parse`] for untrusted text.
    pub fn keyword(text: &str) -> Value {
        match Keyword::parse(text) {
            Ok(k) => Value::Keyword(k),
            Err(e) => panic!("invalid keyword literal {text:?}: {e}"),
        }
    }

    /// A symbol value from its text (`"tenuto"`, `"my.ns/sym"`).
    ///
    /// # Panics
    /// When the text breaks the naming rules; use [`Symbol::parse`] for untrusted text.
    pub fn symbol(text: &str) -> Value {
        match Symbol::parse(text) {
            Ok(s) => Value::Symbol(s),
            Err(e) => panic!("invalid symbol literal {text:?}: {e}"),
        }
    }

    /// A vector of the given elements.
    pub fn vector(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Vector(items.into_iter().collect())
    }

    /// A list of the given elements.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    /// A set of the given elements; duplicates collapse (use [`ValueSet::try_from_vec`] to
    /// refuse them).
    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(items.into_iter().collect())
    }

    /// A map of the given entries; a repeated key keeps its last value, as Clojure's `hash-map`
    /// does (use [`ValueMap::try_from_entries`] to refuse duplicates).
    pub fn map(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
        Value::Map(entries.into_iter().collect())
    }

    /// An exact ratio, canonicalised; `None` when the denominator is zero or the reduced ratio
    /// does not fit in 64-bit parts.
    pub fn ratio(numerator: i64, denominator: i64) -> Option<Value> {
        Ratio::canonical(numerator, denominator)
            .ok()
            .map(Value::Ratio)
    }

    /// True for `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string payload, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer payload, if this is an [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The map payload, if this is a map.
    pub fn as_map(&self) -> Option<&ValueMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The elements, if this is a vector or a list.
    pub fn as_seq(&self) -> Option<&Seq> {
        match self {
            Value::Vector(s) | Value::List(s) => Some(s),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Arc::from(s))
    }
}
impl From<Keyword> for Value {
    fn from(k: Keyword) -> Self {
        Value::Keyword(k)
    }
}
impl From<Ratio> for Value {
    fn from(r: Ratio) -> Self {
        Value::Ratio(r)
    }
}
impl From<uuid::Uuid> for Value {
    fn from(u: uuid::Uuid) -> Self {
        Value::Uuid(u)
    }
}
impl From<BigInt> for Value {
    fn from(b: BigInt) -> Self {
        Value::BigInt(Arc::new(b))
    }
}

impl std::fmt::Display for Value {
    /// Prints the value as EDN text (see [`edn`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&edn::print(self))
    }
}
