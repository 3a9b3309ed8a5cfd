//! Piece settings: declared names, defaults and allowed values. Only non-default values are
//! stored (setting the default removes the entry), reads fall back to the default, and an
//! invalid value is refused with the list of what is allowed.

use crate::value::{Value, edn};

/// What a setting accepts.
#[derive(Clone, Copy, Debug)]
pub enum Allowed {
    /// One of the listed keywords.
    OneOf(&'static [&'static str]),
    /// An integer of at least 1.
    PositiveInt,
    /// true or false.
    Bool,
}

/// A declared piece setting.
#[derive(Clone, Copy, Debug)]
pub struct SettingSpec {
    /// Its keyword's name.
    pub name: &'static str,
    /// The default, as EDN.
    pub default: &'static str,
    /// What it accepts.
    pub allowed: Allowed,
    /// One-line description.
    pub doc: &'static str,
}

/// Every declared piece setting.
pub const PIECE_SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        name: "keyless-accidentals",
        default: ":standard",
        allowed: Allowed::OneOf(&["standard", "all-except-repeated", "all"]),
        doc: "how accidentals are shown in pieces without key signatures",
    },
    SettingSpec {
        name: "max-lookahead-measures",
        default: "50",
        allowed: Allowed::PositiveInt,
        doc: "how far ahead layout looks for the end of a tie or slur, in measures",
    },
    SettingSpec {
        name: "french-ties?",
        default: "false",
        allowed: Allowed::Bool,
        doc: "French-style ties",
    },
    SettingSpec {
        name: "numbering-form",
        default: ":arabic",
        allowed: Allowed::OneOf(&["arabic", "roman"]),
        doc: "numerals used to number instruments",
    },
    SettingSpec {
        name: "numbering-placement",
        default: ":follow",
        allowed: Allowed::OneOf(&["precede", "follow"]),
        doc: "whether an instrument's number precedes or follows its name",
    },
    SettingSpec {
        name: "numbering-includes-full-stop?",
        default: "true",
        allowed: Allowed::Bool,
        doc: "whether instrument numbers end with a full stop",
    },
];

/// The declared setting called `name`.
pub fn find(name: &str) -> Option<&'static SettingSpec> {
    PIECE_SETTINGS.iter().find(|s| s.name == name)
}

impl SettingSpec {
    /// The default value.
    pub fn default_value(&self) -> Value {
        edn::parse(self.default).unwrap_or(Value::Nil)
    }

    /// Checks a value; the error lists what is allowed.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let ok = match self.allowed {
            Allowed::OneOf(names) => {
                matches!(value, Value::Keyword(k) if k.namespace().is_none() && names.contains(&k.name()))
            }
            Allowed::PositiveInt => matches!(value, Value::Int(i) if *i >= 1),
            Allowed::Bool => matches!(value, Value::Bool(_)),
        };
        if ok {
            return Ok(());
        }
        let allowed = match self.allowed {
            Allowed::OneOf(names) => super::attrs::one_of(names),
            Allowed::PositiveInt => "a positive integer".into(),
            Allowed::Bool => "true or false".into(),
        };
        Err(format!(
            "invalid value for setting :{}: {value}. Must be {allowed}",
            self.name
        ))
    }
}
