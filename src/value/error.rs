//! Why a value was refused, and where: every decoder reports a [`ValueError`] with the path to the
//! offending part (`params[2].entries[5].value`) and the rule or limit it broke.

use std::fmt;

use super::NameError;

/// A configurable limit of [`super::ValueLimits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `max_depth`
    Depth,
    /// `max_collection_elements`
    CollectionElements,
    /// `max_total_nodes`
    TotalNodes,
    /// `max_string_bytes`
    StringBytes,
    /// `max_message_bytes`
    MessageBytes,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 5] = [
        Limit::Depth,
        Limit::CollectionElements,
        Limit::TotalNodes,
        Limit::StringBytes,
        Limit::MessageBytes,
    ];

    /// The limit's configuration name (`max_depth`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Limit::Depth => "max_depth",
            Limit::CollectionElements => "max_collection_elements",
            Limit::TotalNodes => "max_total_nodes",
            Limit::StringBytes => "max_string_bytes",
            Limit::MessageBytes => "max_message_bytes",
        }
    }
}

/// What is wrong with a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueErrorKind {
    /// A limit was exceeded.
    #[error("exceeds the limit {} = {max}", limit.name())]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// Its configured value.
        max: usize,
    },
    /// A ratio with a zero denominator.
    #[error("ratio has a zero denominator")]
    ZeroDenominator,
    /// A ratio whose canonical form does not fit 64-bit parts.
    #[error("ratio {numerator}/{denominator} cannot be represented with 64-bit parts")]
    RatioOutOfRange {
        /// As sent.
        numerator: i64,
        /// As sent.
        denominator: i64,
    },
    /// An `OoloiValue` (or map entry part) with no value set.
    #[error("no value is set")]
    MissingValue,
    /// An `OoloiValue` with more than one value field, or a field given twice.
    #[error("more than one value is set")]
    MultipleValues,
    /// A map key that occurs twice (by value).
    #[error("duplicate map key {key}")]
    DuplicateKey {
        /// The key, printed as EDN.
        key: String,
    },
    /// A set element that occurs twice (by value).
    #[error("duplicate set element {element}")]
    DuplicateElement {
        /// The element, printed as EDN.
        element: String,
    },
    /// A string that is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A keyword, symbol or record type name that breaks the naming rules.
    #[error("invalid {what}: {source}")]
    InvalidName {
        /// "keyword", "symbol" or "record type name".
        what: &'static str,
        /// The rule broken.
        source: NameError,
    },
    /// A UUID that is not 16 bytes.
    #[error("uuid must be 16 bytes, got {0}")]
    InvalidUuidLength(usize),
    /// An instant outside years 0000-9999.
    #[error("instant {0} µs is outside years 0000-9999")]
    InstantOutOfRange(i64),
    /// Bytes that are not a valid protobuf encoding.
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    /// A field with the wrong protobuf wire type.
    #[error("field {field} has wire type {wire_type}, expected {expected}")]
    WrongWireType {
        /// The field number.
        field: u32,
        /// The wire type found.
        wire_type: u8,
        /// The wire type expected.
        expected: u8,
    },
}

/// One step of a path into a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// An element of a vector, list or set (`[3]`).
    Index(usize),
    /// A named part (`.entries`, `.key`, `.value`, `.fields`, `.type_name`, ...).
    Field(&'static str),
}

/// A refused value: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    root: &'static str,
    /// Innermost segment first (segments are added while unwinding).
    segments_rev: Vec<PathSegment>,
    kind: ValueErrorKind,
}

impl ValueError {
    /// An error at the root of the value.
    pub fn new(kind: ValueErrorKind) -> Self {
        ValueError {
            root: "value",
            segments_rev: Vec::new(),
            kind,
        }
    }

    /// An exceeded limit.
    pub fn limit(limit: Limit, max: usize) -> Self {
        Self::new(ValueErrorKind::LimitExceeded { limit, max })
    }

    /// Prefixes the path with an index (called while unwinding, innermost first).
    pub fn at_index(mut self, index: usize) -> Self {
        self.segments_rev.push(PathSegment::Index(index));
        self
    }

    /// Prefixes the path with a field (called while unwinding, innermost first).
    pub fn at_field(mut self, field: &'static str) -> Self {
        self.segments_rev.push(PathSegment::Field(field));
        self
    }

    /// Names the root of the path (`params`, `client_info`, ...).
    pub fn with_root(mut self, root: &'static str) -> Self {
        self.root = root;
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &ValueErrorKind {
        &self.kind
    }

    /// The limit exceeded, if that is the error.
    pub fn exceeded_limit(&self) -> Option<Limit> {
        match self.kind {
            ValueErrorKind::LimitExceeded { limit, .. } => Some(limit),
            _ => None,
        }
    }

    /// The path to the offending part, e.g. `params[2].entries[5].value`.
    pub fn path(&self) -> String {
        let mut out = String::from(self.root);
        for segment in self.segments_rev.iter().rev() {
            match segment {
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
                PathSegment::Field(f) => {
                    out.push('.');
                    out.push_str(f);
                }
            }
        }
        out
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path(), self.kind)
    }
}

impl std::error::Error for ValueError {}

impl From<ValueErrorKind> for ValueError {
    fn from(kind: ValueErrorKind) -> Self {
        ValueError::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_reads_outermost_first() {
        let e = ValueError::new(ValueErrorKind::ZeroDenominator)
            .at_field("value")
            .at_index(5)
            .at_field("entries")
            .at_index(2)
            .with_root("params");
        assert_eq!(e.path(), "params[2].entries[5].value");
        assert_eq!(
            e.to_string(),
            "params[2].entries[5].value: ratio has a zero denominator"
        );
    }

    #[test]
    fn limit_errors_name_the_limit() {
        let e = ValueError::limit(Limit::Depth, 64);
        assert_eq!(e.exceeded_limit(), Some(Limit::Depth));
        assert_eq!(e.to_string(), "value: exceeds the limit max_depth = 64");
    }
}
