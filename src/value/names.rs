//! Naming rules for keywords, symbols and record type names.
//!
//! The rules are EDN's symbol rules, slightly narrowed so that every accepted name prints as EDN
//! text that reads back as the same value: letters and digits (any script) and `* + ! - _ ' ? < >
//! = . $ % & #`, never `/` or `:`, never starting with `#`; symbols and namespaces may not start
//! with a digit (or with `+`, `-`, `.` followed by a digit), so they cannot be read as numbers.

/// Why a name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name contains a character outside the allowed set.
    #[error("{0:?} is not allowed in a name")]
    InvalidChar(char),
    /// The name starts in a way that would read as a number or another literal.
    #[error("name {0:?} would read back as a different value")]
    Ambiguous(String),
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || "*+!-_'?<>=.$%&#".contains(c)
}

fn check_chars(name: &str) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameError::InvalidChar(bad));
    }
    if first == '#' {
        return Err(NameError::InvalidChar('#'));
    }
    Ok(())
}

/// A name that must not look like a number: no leading digit, and no `+`, `-` or `.` followed
/// by a digit.
fn check_not_numeric(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first = chars.next().ok_or(NameError::Empty)?;
    let second = chars.next();
    let numeric = first.is_ascii_digit()
        || (matches!(first, '+' | '-' | '.') && second.is_some_and(|c| c.is_ascii_digit()));
    if numeric {
        Err(NameError::Ambiguous(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Keyword names may start with a digit (`:1`), as Clojure reads them.
pub(crate) fn check_keyword_name(name: &str) -> Result<(), NameError> {
    check_chars(name)
}

/// Symbol names: no leading digit, and not `nil`, `true` or `false`.
pub(crate) fn check_symbol_name(name: &str) -> Result<(), NameError> {
    check_chars(name)?;
    check_not_numeric(name)?;
    if matches!(name, "nil" | "true" | "false") {
        return Err(NameError::Ambiguous(name.to_owned()));
    }
    Ok(())
}

/// Namespaces of keywords and symbols.
pub(crate) fn check_namespace(ns: &str) -> Result<(), NameError> {
    check_chars(ns)?;
    check_not_numeric(ns)
}

/// Record type names print as `#type.Name{...}`: a symbol that is not one of the built-in tags
/// (`uuid`, `inst`, `bytes`) and does not start with `_` (which would read as `#_`, discard).
pub(crate) fn check_record_type_name(name: &str) -> Result<(), NameError> {
    check_symbol_name(name)?;
    if name.starts_with('_') || matches!(name, "uuid" | "inst" | "bytes") {
        return Err(NameError::Ambiguous(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_clojure_style_names() {
        for ok in [
            "foo",
            "piece-id",
            "french-ties?",
            "C4",
            "a.b.c",
            "->x",
            "x'",
            "foo#",
            "ñandú",
        ] {
            assert_eq!(check_keyword_name(ok), Ok(()), "{ok}");
            assert_eq!(check_symbol_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_keyword_name("1"), Ok(()));
        assert_eq!(
            check_record_type_name("ooloi.shared.models.musical.pitch.Pitch"),
            Ok(())
        );
    }

    #[test]
    fn refuses_names_that_would_not_read_back() {
        assert_eq!(check_keyword_name(""), Err(NameError::Empty));
        assert_eq!(check_keyword_name("a b"), Err(NameError::InvalidChar(' ')));
        assert_eq!(check_keyword_name("a/b"), Err(NameError::InvalidChar('/')));
        assert_eq!(check_keyword_name("a:b"), Err(NameError::InvalidChar(':')));
        assert_eq!(check_keyword_name("#a"), Err(NameError::InvalidChar('#')));
        assert!(check_symbol_name("1a").is_err());
        assert!(check_symbol_name("-1").is_err());
        assert!(check_symbol_name("nil").is_err());
        assert!(check_namespace("9ns").is_err());
        assert!(check_record_type_name("_x").is_err());
        assert!(check_record_type_name("uuid").is_err());
        assert_eq!(check_symbol_name("-"), Ok(()));
        assert_eq!(check_symbol_name("+"), Ok(()));
    }
}
