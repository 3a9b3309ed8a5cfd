//! Declared attributes of each entity kind: name, what values are allowed, the default, and
//! whether changing it is a structural change. Attributes live in an entity's `attrs` map, which
//! also keeps any field the server does not know (clients and plugins may add their own), so the
//! declarations validate known attributes and leave unknown ones alone.

use crate::value::{Kind, Value};

/// What values an attribute accepts.
#[derive(Clone, Copy, Debug)]
pub enum AttrKind {
    /// Any string.
    String,
    /// An integer or nil.
    OptionalInt,
    /// An integer in a range.
    IntRange(i64, i64),
    /// One of the listed keywords.
    OneOf(&'static [&'static str]),
    /// Any value.
    Any,
}

/// One declared attribute.
#[derive(Clone, Copy, Debug)]
pub struct AttrSpec {
    /// The attribute keyword's name (`name` for `:name`).
    pub name: &'static str,
    /// Allowed values.
    pub kind: AttrKind,
    /// The value when none is stored (EDN).
    pub default: &'static str,
    /// True when changing it changes the piece's structure (names).
    pub structural: bool,
}

/// Staff clefs.
pub const CLEFS: &[&str] = &[
    "treble",
    "treble-8vb",
    "treble-8va",
    "bass",
    "bass-8vb",
    "tenor",
    "alto",
    "soprano",
    "mezzo-soprano",
    "baritone",
    "percussion",
    "tab",
];

/// Instrument families.
pub const FAMILIES: &[&str] = &[
    "woodwind",
    "brass",
    "strings",
    "percussion",
    "keyboard",
    "plucked",
    "voice",
    "other",
];

const fn attr(
    name: &'static str,
    kind: AttrKind,
    default: &'static str,
    structural: bool,
) -> AttrSpec {
    AttrSpec {
        name,
        kind,
        default,
        structural,
    }
}

/// Musician attributes.
pub const MUSICIAN: &[AttrSpec] = &[
    attr("name", AttrKind::String, "\"\"", true),
    attr("short-name", AttrKind::String, "\"\"", true),
    attr("number", AttrKind::OptionalInt, "nil", true),
];

/// Instrument attributes.
pub const INSTRUMENT: &[AttrSpec] = &[
    attr("name", AttrKind::String, "\"Unnamed Instrument\"", true),
    attr("short-name", AttrKind::String, "\"\"", true),
    attr("number", AttrKind::OptionalInt, "nil", true),
    attr("family", AttrKind::OneOf(FAMILIES), ":other", false),
    attr("transposition", AttrKind::Any, "nil", false),
    attr("range", AttrKind::Any, "nil", false),
];

/// Staff attributes.
pub const STAFF: &[AttrSpec] = &[
    attr("name", AttrKind::String, "\"\"", true),
    attr("short-name", AttrKind::String, "\"\"", true),
    attr("clef", AttrKind::OneOf(CLEFS), ":treble", false),
    attr("lines", AttrKind::IntRange(1, 10), "5", false),
];

/// Layout attributes.
pub const LAYOUT: &[AttrSpec] = &[attr("name", AttrKind::String, "\"\"", true)];

/// Checks `value` against the spec; the error says what is allowed.
pub fn check(spec: &AttrSpec, value: &Value) -> Result<(), String> {
    let ok = match spec.kind {
        AttrKind::String => matches!(value, Value::String(_)),
        AttrKind::OptionalInt => matches!(value, Value::Int(_) | Value::Nil),
        AttrKind::IntRange(lo, hi) => matches!(value, Value::Int(i) if (lo..=hi).contains(i)),
        AttrKind::OneOf(names) => {
            matches!(value, Value::Keyword(k) if k.namespace().is_none() && names.contains(&k.name()))
        }
        AttrKind::Any => true,
    };
    if ok {
        return Ok(());
    }
    let allowed = match spec.kind {
        AttrKind::String => Kind::String.name().to_string(),
        AttrKind::OptionalInt => "an integer or nil".to_string(),
        AttrKind::IntRange(lo, hi) => format!("an integer from {lo} to {hi}"),
        AttrKind::OneOf(names) => one_of(names),
        AttrKind::Any => unreachable!("any value is accepted"),
    };
    Err(format!(
        "invalid value {value} for :{}; must be {allowed}",
        spec.name
    ))
}

/// "one of #{:a :b}", for messages listing allowed keywords.
pub fn one_of(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!(":{n}")).collect();
    format!("one of #{{{}}}", names.join(" "))
}

/// The spec of `name` among `specs`.
pub fn find(specs: &'static [AttrSpec], name: &str) -> Option<&'static AttrSpec> {
    specs.iter().find(|s| s.name == name)
}

/// The default of a spec as a value.
pub fn default_of(spec: &AttrSpec) -> Value {
    crate::value::edn::parse(spec.default).unwrap_or(Value::Nil)
}
