//! Vector path descriptors (VPDs): positional addresses of nodes in a piece.
//!
//! Compact form: `[]` is the piece; `[:m i0 i1 i2 i3 i4]` musician, instrument, staff, measure,
//! voice (any prefix addresses the shallower node); after a full voice path, `:items k` steps
//! into items and again into tuplets (`[:m 0 0 0 3 0 :items 5 :items 1]`); `[:l j0 j1 j2 j3 j4]`
//! layout, page view, system view, staff view, measure view. The navigator form spells every
//! step (`[:musicians 0 :instruments 1 :staves 0 :measures 3 :voices 0 :items 2]`) and may be
//! mixed with compact steps after a compact prefix. Both parse to one [`Vpd`]: a list of
//! (collection, index) steps. Indices are positional; a VPD that no longer resolves is an error
//! naming the first step that fails.

use std::fmt;

use crate::value::{Keyword, Value};

/// A child collection of some node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Coll {
    Musicians,
    Instruments,
    Staves,
    Measures,
    Voices,
    Items,
    Layouts,
    PageViews,
    SystemViews,
    StaffViews,
    MeasureViews,
}

impl Coll {
    /// Every collection.
    pub const ALL: [Coll; 11] = [
        Coll::Musicians,
        Coll::Instruments,
        Coll::Staves,
        Coll::Measures,
        Coll::Voices,
        Coll::Items,
        Coll::Layouts,
        Coll::PageViews,
        Coll::SystemViews,
        Coll::StaffViews,
        Coll::MeasureViews,
    ];

    /// The plural name, as in `get-musicians` and navigator VPDs (`:musicians`).
    pub const fn plural(self) -> &'static str {
        match self {
            Coll::Musicians => "musicians",
            Coll::Instruments => "instruments",
            Coll::Staves => "staves",
            Coll::Measures => "measures",
            Coll::Voices => "voices",
            Coll::Items => "items",
            Coll::Layouts => "layouts",
            Coll::PageViews => "page-views",
            Coll::SystemViews => "system-views",
            Coll::StaffViews => "staff-views",
            Coll::MeasureViews => "measure-views",
        }
    }

    /// The singular name, as in `get-musician`.
    pub const fn singular(self) -> &'static str {
        match self {
            Coll::Musicians => "musician",
            Coll::Instruments => "instrument",
            Coll::Staves => "staff",
            Coll::Measures => "measure",
            Coll::Voices => "voice",
            Coll::Items => "item",
            Coll::Layouts => "layout",
            Coll::PageViews => "page-view",
            Coll::SystemViews => "system-view",
            Coll::StaffViews => "staff-view",
            Coll::MeasureViews => "measure-view",
        }
    }

    /// The collection with this plural name (`"page-views"`), if any.
    pub fn from_plural(name: &str) -> Option<Coll> {
        Coll::ALL.into_iter().find(|c| c.plural() == name)
    }

    /// True for collections of structural entities (their elements carry ids; copies get
    /// fresh ones; changes are structural).
    pub const fn is_structural(self) -> bool {
        matches!(
            self,
            Coll::Musicians | Coll::Instruments | Coll::Staves | Coll::Layouts
        )
    }
}

const MUSICAL: [Coll; 5] = [
    Coll::Musicians,
    Coll::Instruments,
    Coll::Staves,
    Coll::Measures,
    Coll::Voices,
];
const VISUAL: [Coll; 5] = [
    Coll::Layouts,
    Coll::PageViews,
    Coll::SystemViews,
    Coll::StaffViews,
    Coll::MeasureViews,
];

/// One step of a path: an index into a child collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Step {
    /// The collection.
    pub coll: Coll,
    /// The index in it.
    pub index: usize,
}

/// A parsed VPD: the steps from the piece to a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vpd(pub Vec<Step>);

/// Why a value is not a VPD.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid VPD {text}: {reason}")]
pub struct VpdError {
    /// The VPD as given, printed.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl Vpd {
    /// The piece itself.
    pub fn root() -> Self {
        Vpd(Vec::new())
    }

    /// Parses a VPD value, compact or navigator form.
    pub fn parse(value: &Value) -> Result<Vpd, VpdError> {
        let fail = |reason: String| VpdError {
            text: value.to_string(),
            reason,
        };
        let Value::Vector(parts) = value else {
            return Err(fail(format!("a VPD is a vector, not a {}", value.kind())));
        };
        let mut steps = Vec::new();
        let mut i = 0;
        let index_at = |i: usize| -> Result<usize, VpdError> {
            match parts.get(i) {
                Some(Value::Int(n)) if *n >= 0 => Ok(*n as usize),
                Some(other) => Err(fail(format!(
                    "element {i} must be a non-negative integer, got {other}"
                ))),
                None => Err(fail(format!("element {i} (an index) is missing"))),
            }
        };
        while i < parts.len() {
            let Value::Keyword(k) = &parts[i] else {
                return Err(fail(format!(
                    "element {i} must be a keyword, got {}",
                    parts[i]
                )));
            };
            let name = keyword_name(k).ok_or_else(|| fail(format!("unknown step {k}")))?;
            match name {
                "m" | "l" => {
                    if !steps.is_empty() {
                        return Err(fail(format!(":{name} may only start a VPD")));
                    }
                    let levels = if name == "m" { MUSICAL } else { VISUAL };
                    i += 1;
                    let mut depth = 0;
                    while matches!(parts.get(i), Some(Value::Int(_))) {
                        if depth == levels.len() {
                            return Err(fail(format!(
                                "at most {} indices follow :{name}",
                                levels.len()
                            )));
                        }
                        steps.push(Step {
                            coll: levels[depth],
                            index: index_at(i)?,
                        });
                        depth += 1;
                        i += 1;
                    }
                    if depth == 0 {
                        return Err(fail(format!(":{name} needs at least one index")));
                    }
                }
                plural => {
                    let coll = Coll::from_plural(plural)
                        .ok_or_else(|| fail(format!("unknown step :{plural}")))?;
                    let expected = expected_next(&steps);
                    if !expected.contains(&coll) {
                        return Err(fail(format!(
                            ":{plural} cannot follow {}",
                            steps.last().map_or("the piece".to_string(), |s| format!(
                                ":{}",
                                s.coll.plural()
                            ))
                        )));
                    }
                    steps.push(Step {
                        coll,
                        index: index_at(i + 1)?,
                    });
                    i += 2;
                }
            }
        }
        Ok(Vpd(steps))
    }

    /// The compact form (`[:m 0 1 0 3 0 :items 2]`).
    pub fn to_compact(&self) -> Value {
        let mut out = Vec::new();
        let mut items = false;
        for (i, step) in self.0.iter().enumerate() {
            match step.coll {
                Coll::Musicians if i == 0 => out.push(Value::keyword("m")),
                Coll::Layouts if i == 0 => out.push(Value::keyword("l")),
                Coll::Items => {
                    items = true;
                    out.push(Value::keyword("items"));
                }
                _ if items => out.push(Value::keyword(step.coll.plural())),
                _ => {}
            }
            out.push(Value::Int(step.index as i64));
        }
        Value::vector(out)
    }

    /// The navigator form (`[:musicians 0 :instruments 1 ...]`).
    pub fn to_navigator(&self) -> Value {
        Value::vector(
            self.0
                .iter()
                .flat_map(|s| [Value::keyword(s.coll.plural()), Value::Int(s.index as i64)]),
        )
    }

    /// This path extended by one step.
    pub fn child(&self, coll: Coll, index: usize) -> Vpd {
        let mut steps = self.0.clone();
        steps.push(Step { coll, index });
        Vpd(steps)
    }

    /// The path without its last step (`None` for the piece).
    pub fn parent(&self) -> Option<Vpd> {
        let mut steps = self.0.clone();
        steps.pop().map(|_| Vpd(steps))
    }

    /// The last step, if any.
    pub fn last(&self) -> Option<Step> {
        self.0.last().copied()
    }

    /// True when this path starts with `prefix`.
    pub fn starts_with(&self, prefix: &Vpd) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

fn keyword_name(k: &Keyword) -> Option<&str> {
    if k.namespace().is_some() {
        None
    } else {
        Some(k.name())
    }
}

/// The collections that may follow the given steps.
pub(crate) fn expected_next(steps: &[Step]) -> &'static [Coll] {
    match steps.last().map(|s| s.coll) {
        None => &[Coll::Musicians, Coll::Layouts],
        Some(Coll::Musicians) => &[Coll::Instruments],
        Some(Coll::Instruments) => &[Coll::Staves],
        Some(Coll::Staves) => &[Coll::Measures],
        Some(Coll::Measures) => &[Coll::Voices],
        Some(Coll::Voices) | Some(Coll::Items) => &[Coll::Items],
        Some(Coll::Layouts) => &[Coll::PageViews],
        Some(Coll::PageViews) => &[Coll::SystemViews],
        Some(Coll::SystemViews) => &[Coll::StaffViews],
        Some(Coll::StaffViews) => &[Coll::MeasureViews],
        Some(Coll::MeasureViews) => &[],
    }
}

impl fmt::Display for Vpd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_compact().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::edn;

    fn vpd(text: &str) -> Result<Vpd, VpdError> {
        Vpd::parse(&edn::parse(text).unwrap())
    }

    #[test]
    fn compact_and_navigator_forms_address_the_same_node() {
        let compact = vpd("[:m 0 1 0 3 0]").unwrap();
        let navigator =
            vpd("[:musicians 0 :instruments 1 :staves 0 :measures 3 :voices 0]").unwrap();
        assert_eq!(compact, navigator);
        assert_eq!(compact.to_compact(), edn::parse("[:m 0 1 0 3 0]").unwrap());
        assert_eq!(Vpd::parse(&compact.to_navigator()).unwrap(), compact);
    }

    #[test]
    fn items_nest_into_tuplets_and_layout_paths_parse() {
        let nested = vpd("[:m 0 0 0 0 0 :items 2 :items 1]").unwrap();
        assert_eq!(nested.0.len(), 7);
        assert_eq!(
            nested.to_compact().to_string(),
            "[:m 0 0 0 0 0 :items 2 :items 1]"
        );
        assert_eq!(vpd("[]").unwrap(), Vpd::root());
        let layout = vpd("[:l 0 2 1]").unwrap();
        assert_eq!(
            layout.0[2],
            Step {
                coll: Coll::SystemViews,
                index: 1
            }
        );
        assert_eq!(
            layout.to_navigator().to_string(),
            "[:layouts 0 :page-views 2 :system-views 1]"
        );
    }

    #[test]
    fn malformed_vpds_are_refused_with_a_reason() {
        for bad in [
            "[:m]",
            "[:m -1]",
            "[:m 0 0 0 0 0 0]",
            "[:x 0]",
            "[:m 0 :layouts 1]",
            "[:items 0]",
            "{:m 0}",
            "[:m 0 :instruments]",
            "[:m 0 \"1\"]",
            "[:l 0 :m 1]",
        ] {
            assert!(vpd(bad).is_err(), "{bad}");
        }
        assert!(
            vpd("[:m 0 :items 1]")
                .unwrap_err()
                .reason
                .contains("cannot follow")
        );
    }
}
