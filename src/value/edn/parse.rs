//! A recursive-descent EDN reader. It enforces [`ValueLimits`] like the protobuf decoder (depth
//! before each descent, counts and lengths as it reads) and reports errors with the line and
//! column where the offending text starts.

use std::sync::Arc;

use base64::Engine;
use num_bigint::BigInt;

use crate::value::map::{Duplicate, sort_unique_entries, sort_unique_values};
use crate::value::{
    Instant, Keyword, Limit, Ratio, Record, Seq, Symbol, Value, ValueLimits, ValueMap, ValueSet,
    edn::print_truncated,
};

/// Why EDN text could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct EdnError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// Byte offset of the offending text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// The limit exceeded, if that is the error.
    pub limit: Option<Limit>,
}

/// Reads one EDN value with the default limits.
pub fn parse(text: &str) -> Result<Value, EdnError> {
    parse_with_limits(text, &ValueLimits::default())
}

/// Reads one EDN value (surrounded by optional whitespace and comments), enforcing `limits`.
pub fn parse_with_limits(text: &str, limits: &ValueLimits) -> Result<Value, EdnError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        limits,
        nodes: 0,
    };
    if text.len() > limits.max_message_bytes {
        return Err(p.limit_error(0, Limit::MessageBytes));
    }
    p.skip_ws(1)?;
    if p.eof() {
        return Err(p.error(p.pos, "expected a value, found the end of the input"));
    }
    let value = p.form(1)?;
    p.skip_ws(1)?;
    if !p.eof() {
        return Err(p.error(p.pos, "unexpected text after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    limits: &'a ValueLimits,
    nodes: usize,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Parser<'a> {
    fn eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> EdnError {
        let before = &self.src[..offset.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        EdnError {
            line,
            column,
            offset,
            message: message.into(),
            limit: None,
        }
    }

    fn limit_error(&self, offset: usize, limit: Limit) -> EdnError {
        let message = format!(
            "exceeds the limit {} = {}",
            limit.name(),
            self.limits.get(limit)
        );
        EdnError {
            limit: Some(limit),
            ..self.error(offset, message)
        }
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_ws(&mut self, depth: usize) -> Result<(), EdnError> {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b',' {
                self.pos += 1;
            } else if b == b';' {
                self.pos = self.src[self.pos..]
                    .find('\n')
                    .map_or(self.src.len(), |i| self.pos + i);
            } else if b == b'#' && self.peek_at(1) == Some(b'_') {
                let at = self.pos;
                self.pos += 2;
                self.skip_ws(depth)?;
                if self.eof() {
                    return Err(self.error(at, "#_ must be followed by a value to discard"));
                }
                self.form(depth)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.pos += 1;
        }
        // Delimiters are ASCII, so `pos` always lands on a character boundary.
        &self.src[start..self.pos]
    }

    fn form(&mut self, depth: usize) -> Result<Value, EdnError> {
        let start = self.pos;
        if depth > self.limits.max_depth {
            return Err(self.limit_error(start, Limit::Depth));
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_total_nodes {
            return Err(self.limit_error(start, Limit::TotalNodes));
        }
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                Ok(Value::List(Seq(self.elements(b')', depth, 1)?.0.into())))
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Value::Vector(Seq(self.elements(b']', depth, 1)?.0.into())))
            }
            Some(b'{') => {
                self.pos += 1;
                Ok(Value::Map(self.map(depth)?))
            }
            Some(b'"') => Ok(Value::String(Arc::from(
                self.string(self.limits.max_string_bytes)?,
            ))),
            Some(b':') => {
                self.pos += 1;
                let text = self.token();
                self.check_name_len(start, text)?;
                Keyword::parse(text)
                    .map(Value::Keyword)
                    .map_err(|e| self.error(start, format!("invalid keyword :{text}: {e}")))
            }
            Some(b'#') => self.dispatch(depth),
            Some(b'\\') => Err(self.error(start, "characters (\\c) have no value kind here")),
            Some(c @ (b')' | b']' | b'}')) => {
                Err(self.error(start, format!("unexpected '{}'", c as char)))
            }
            Some(_) => self.atom(),
            None => Err(self.error(start, "expected a value, found the end of the input")),
        }
    }

    /// Reads forms up to `close`; returns them with their start offsets. `forms_per_element` is 2
    /// for maps, so that the collection limit counts entries.
    fn elements(
        &mut self,
        close: u8,
        depth: usize,
        forms_per_element: usize,
    ) -> Result<(Vec<Value>, Vec<usize>), EdnError> {
        let open = self.pos - 1;
        let (mut items, mut offsets) = (Vec::new(), Vec::new());
        loop {
            self.skip_ws(depth + 1)?;
            match self.peek() {
                None => {
                    let msg = format!("unterminated collection: expected '{}'", close as char);
                    return Err(self.error(open, msg));
                }
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok((items, offsets));
                }
                Some(_) => {
                    let max = self.limits.max_collection_elements;
                    if items.len() == max.saturating_mul(forms_per_element) {
                        return Err(self.limit_error(self.pos, Limit::CollectionElements));
                    }
                    offsets.push(self.pos);
                    items.push(self.form(depth + 1)?);
                }
            }
        }
    }

    fn map(&mut self, depth: usize) -> Result<ValueMap, EdnError> {
        let open = self.pos - 1;
        // A map of n entries has 2n forms: the limit counts entries.
        let (forms, offsets) = self.elements(b'}', depth, 2)?;
        if !forms.len().is_multiple_of(2) {
            return Err(self.error(
                open,
                "a map needs an even number of forms (key value pairs)",
            ));
        }
        let mut entries = Vec::with_capacity(forms.len() / 2);
        let mut forms = forms.into_iter();
        while let (Some(k), Some(v)) = (forms.next(), forms.next()) {
            entries.push((k, v));
        }
        match sort_unique_entries(&mut entries) {
            Ok(()) => Ok(ValueMap(entries.into())),
            Err(Duplicate { second, .. }) => {
                let key = print_truncated(&entries[second].0, 200);
                Err(self.error(offsets[2 * second], format!("duplicate map key {key}")))
            }
        }
    }

    fn set(&mut self, depth: usize) -> Result<ValueSet, EdnError> {
        let (mut items, offsets) = self.elements(b'}', depth, 1)?;
        match sort_unique_values(&mut items) {
            Ok(()) => Ok(ValueSet(items.into())),
            Err(Duplicate { second, .. }) => {
                let item = print_truncated(&items[second], 200);
                Err(self.error(offsets[second], format!("duplicate set element {item}")))
            }
        }
    }

    /// Names obey the string limit part by part, as on the wire (namespace and name).
    fn check_name_len(&self, start: usize, text: &str) -> Result<(), EdnError> {
        let (ns, name) = text.split_once('/').unwrap_or(("", text));
        if ns.len().max(name.len()) > self.limits.max_string_bytes {
            return Err(self.limit_error(start, Limit::StringBytes));
        }
        Ok(())
    }

    /// Reads a string literal of at most `max_len` bytes.
    fn string(&mut self, max_len: usize) -> Result<String, EdnError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(i) = rest.find(['"', '\\']) else {
                return Err(self.error(open, "unterminated string"));
            };
            out.push_str(&rest[..i]);
            self.pos += i;
            if out.len() > max_len {
                return Err(self.limit_error(open, Limit::StringBytes));
            }
            if self.peek() == Some(b'"') {
                self.pos += 1;
                return Ok(out);
            }
            let escape_at = self.pos;
            self.pos += 1;
            let c = match self.peek() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'n') => '\n',
                Some(b't') => '\t',
                Some(b'r') => '\r',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'u') => {
                    self.pos += 1;
                    let hi = self.hex4(escape_at)?;
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        if !self.src[self.pos..].starts_with("\\u") {
                            return Err(self.error(escape_at, "unpaired surrogate in \\u escape"));
                        }
                        self.pos += 2;
                        let lo = self.hex4(escape_at)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(self.error(escape_at, "unpaired surrogate in \\u escape"));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        hi
                    };
                    let c = char::from_u32(code)
                        .ok_or_else(|| self.error(escape_at, "invalid \\u escape"))?;
                    out.push(c);
                    continue;
                }
                _ => return Err(self.error(escape_at, "unknown escape in string")),
            };
            self.pos += 1;
            out.push(c);
        }
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, EdnError> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let digits = digits.ok_or_else(|| self.error(escape_at, "\\u needs four hex digits"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|e| self.error(escape_at, e.to_string()))
    }

    fn tagged_string(
        &mut self,
        tag: &str,
        depth: usize,
        max_len: usize,
    ) -> Result<(usize, String), EdnError> {
        self.skip_ws(depth)?;
        if self.peek() != Some(b'"') {
            return Err(self.error(self.pos, format!("#{tag} must be followed by a string")));
        }
        let at = self.pos;
        Ok((at, self.string(max_len)?))
    }

    fn dispatch(&mut self, depth: usize) -> Result<Value, EdnError> {
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'{') => {
                self.pos += 2;
                return Ok(Value::Set(self.set(depth)?));
            }
            Some(b'#') => {
                self.pos += 2;
                return match self.token() {
                    "Inf" => Ok(Value::Double(f64::INFINITY)),
                    "-Inf" => Ok(Value::Double(f64::NEG_INFINITY)),
                    "NaN" => Ok(Value::Double(f64::NAN)),
                    other => Err(self.error(start, format!("unknown symbolic value ##{other}"))),
                };
            }
            _ => {}
        }
        self.pos += 1;
        let tag = self.token();
        match tag {
            "uuid" => {
                let (at, text) = self.tagged_string(tag, depth, 64)?;
                uuid::Uuid::parse_str(&text)
                    .map(Value::Uuid)
                    .map_err(|e| self.error(at, format!("invalid #uuid: {e}")))
            }
            "inst" => {
                let (at, text) = self.tagged_string(tag, depth, 64)?;
                Instant::parse_rfc3339(&text)
                    .map(Value::Instant)
                    .map_err(|e| self.error(at, e))
            }
            "bytes" => {
                // Base64 takes 4 characters per 3 bytes.
                let max_text = self.limits.max_string_bytes.div_ceil(3).saturating_mul(4);
                let (at, text) = self.tagged_string(tag, depth, max_text)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| self.error(at, format!("invalid #bytes base64: {e}")))?;
                if bytes.len() > self.limits.max_string_bytes {
                    return Err(self.limit_error(at, Limit::StringBytes));
                }
                Ok(Value::Bytes(bytes.into()))
            }
            "" => Err(self.error(start, "unexpected '#'")),
            type_name => {
                self.skip_ws(depth)?;
                if self.peek() != Some(b'{') {
                    let msg = format!("record literal #{type_name} must be followed by a map");
                    return Err(self.error(start, msg));
                }
                self.pos += 1;
                let fields = self.map(depth)?;
                Record::new(type_name, fields)
                    .map(Value::Record)
                    .map_err(|e| {
                        self.error(start, format!("invalid record type name {type_name}: {e}"))
                    })
            }
        }
    }

    fn atom(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        let token = self.token();
        let bytes = token.as_bytes();
        let numeric = bytes.first().is_some_and(u8::is_ascii_digit)
            || (matches!(bytes.first(), Some(b'+' | b'-'))
                && bytes.get(1).is_some_and(u8::is_ascii_digit));
        if numeric {
            return self.number(start, token);
        }
        match token {
            "nil" => Ok(Value::Nil),
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => self.check_name_len(start, token).and_then(|()| {
                Symbol::parse(token)
                    .map(Value::Symbol)
                    .map_err(|e| self.error(start, format!("invalid symbol {token}: {e}")))
            }),
        }
    }

    fn number(&self, start: usize, token: &str) -> Result<Value, EdnError> {
        let invalid = || self.error(start, format!("invalid number {token}"));
        let unsigned = token.trim_start_matches(['+', '-']);
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let Some((n, d)) = token.split_once('/') {
            if !digits_only(n.trim_start_matches(['+', '-'])) || !digits_only(d) {
                return Err(invalid());
            }
            let part = |s: &str| {
                s.parse::<i64>().map_err(|_| {
                    self.error(start, format!("ratio {token} has a part beyond 64 bits"))
                })
            };
            let (n, d) = (part(n)?, part(d)?);
            return Ratio::canonical(n, d)
                .map(Value::Ratio)
                .map_err(|e| self.error(start, format!("invalid ratio {token}: {e}")));
        }
        if let Some(int) = token.strip_suffix('N') {
            if !digits_only(int.trim_start_matches(['+', '-'])) {
                return Err(invalid());
            }
            let digits = int.strip_prefix('+').unwrap_or(int);
            if digits.len() > self.limits.max_string_bytes {
                return Err(self.limit_error(start, Limit::StringBytes));
            }
            return digits
                .parse::<BigInt>()
                .map(Value::from)
                .map_err(|_| invalid());
        }
        if token.ends_with('M') {
            return Err(self.error(
                start,
                format!("big decimals ({token}) have no value kind here"),
            ));
        }
        if token.contains(['.', 'e', 'E']) {
            return token
                .parse::<f64>()
                .map(Value::Double)
                .map_err(|_| invalid());
        }
        if !digits_only(unsigned) {
            return Err(invalid());
        }
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return Err(self.error(start, format!("integer {token} has a leading zero")));
        }
        match token.parse::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) if unsigned.len() <= self.limits.max_string_bytes => {
                // Like Clojure's reader: an integer beyond 64 bits reads as a big integer.
                let digits = token.strip_prefix('+').unwrap_or(token);
                digits
                    .parse::<BigInt>()
                    .map(Value::from)
                    .map_err(|_| invalid())
            }
            Err(_) => Err(self.limit_error(start, Limit::StringBytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ratio;

    #[test]
    fn reads_each_kind() {
        let v = parse(
            "[nil true -3 12345678901234567890 7N 1.5 ##NaN -6/8 \"a\\\"\\u00e9\\ud83c\\udfb5\" \
             :ooloi.pitch/C4 tenuto (1) #{1 2} {:a 1, :b 2} #uuid \"8c3b5b52-7f1c-4f39-9d8e-0e6f2b1d2a10\" \
             #inst \"2026-11-27T04:17:09Z\" #bytes \"AP8=\" #my.plugin.Custom {:x 1} ; comment\n #_ignored]",
        )
        .unwrap();
        let items = v.as_seq().unwrap();
        assert_eq!(items.len(), 18);
        assert_eq!(
            items[3],
            Value::from("12345678901234567890".parse::<BigInt>().unwrap())
        );
        assert_eq!(items[4], Value::from(BigInt::from(7)));
        assert_eq!(items[7], Value::Ratio(ratio(-3, 4)));
        assert_eq!(items[8], Value::string("a\"é🎵"));
        assert_eq!(items[16], Value::Bytes(vec![0, 255].into()));
        match &items[17] {
            Value::Record(r) => {
                assert_eq!(r.type_name(), "my.plugin.Custom");
                assert_eq!(r.fields().get_keyword("x"), Some(&Value::Int(1)));
            }
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("[1\n  2 {:a 1 :a 2}]").unwrap_err();
        assert_eq!((e.line, e.column), (2, 11));
        assert!(e.message.contains("duplicate map key :a"), "{e}");
        let e = parse("[1 2").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        let e = parse("#{1 1}").unwrap_err();
        assert!(e.message.contains("duplicate set element 1"), "{e}");
        for bad in [
            "",
            "\\a",
            "1.5M",
            "1/0",
            "012",
            "{:a}",
            "(",
            ")",
            "\"x",
            "#foo 1",
            "::a",
            "#uuid 1",
            "#inst \"x\"",
            "1 2",
            "a/b/c",
            "\"\\q\"",
            "99999999999999999999/2",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
