//! The protobuf encoding of `OoloiValue`, read and written directly to and from [`Value`].
//!
//! Decoding is the validation boundary for everything that arrives over gRPC. It reads the wire
//! format itself instead of going through prost's generated structs, for two reasons: it enforces
//! [`ValueLimits`] while reading (the depth is checked before each descent, counts and lengths
//! before anything is allocated), and it skips the intermediate tree of generated structs, so
//! validation costs no more than prost's own decoding. The bytes are exactly those of
//! `proto/ooloi.proto`: what this module writes, prost reads, and vice versa. Unknown fields are
//! skipped (forward compatibility); a value with two value fields set is refused rather than
//! resolved by "last one wins", since no correct encoder produces one.
//!
//! Encoding measures the value once, storing the length of every nested message in pre-order,
//! then writes it in one pass: linear in the size of the value, where the textbook approach of
//! asking each nested message for its length is quadratic in the depth.

use std::sync::Arc;

use num_bigint::BigInt;

use super::map::{Duplicate, sort_unique_entries, sort_unique_values};
use super::names::check_record_type_name;
use super::{
    Instant, Keyword, Limit, Ratio, Record, RecordData, Seq, Symbol, Value, ValueError,
    ValueErrorKind, ValueLimits, ValueMap, ValueSet, edn,
};

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// `OoloiValue` field numbers (see `proto/ooloi.proto`).
mod field {
    pub const STRING: u32 = 1;
    pub const INT: u32 = 2;
    pub const DOUBLE: u32 = 3;
    pub const BOOL: u32 = 4;
    pub const RATIO: u32 = 5;
    pub const KEYWORD: u32 = 6;
    pub const SYMBOL: u32 = 7;
    pub const MAP: u32 = 8;
    pub const VECTOR: u32 = 9;
    pub const SET: u32 = 10;
    pub const LIST: u32 = 11;
    pub const RECORD: u32 = 12;
    pub const NIL: u32 = 13;
    pub const BIG_INTEGER: u32 = 14;
    pub const BYTES: u32 = 15;
    pub const UUID: u32 = 16;
    pub const INSTANT: u32 = 17;
}

/// Decodes the bytes of one `OoloiValue` message, enforcing `limits`.
pub fn decode(bytes: &[u8], limits: &ValueLimits) -> Result<Value, ValueError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(ValueError::limit(
            Limit::MessageBytes,
            limits.max_message_bytes,
        ));
    }
    Decoder {
        limits,
        nodes: 0,
        names: NameCache::default(),
    }
    .value(bytes, 1)
}

/// Encodes `value` as the bytes of one `OoloiValue` message.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_to(value, &mut out);
    out
}

/// Appends the encoding of `value` to `out`; returns the number of bytes written.
pub fn encode_to(value: &Value, out: &mut Vec<u8>) -> usize {
    let mut sizes = Vec::new();
    let len = measure(value, &mut sizes);
    out.reserve(len);
    let start = out.len();
    let mut cursor = 0;
    write_value(value, &sizes, &mut cursor, out);
    debug_assert_eq!(out.len() - start, len);
    len
}

/// The length in bytes of the encoding of `value`.
pub fn encoded_len(value: &Value) -> usize {
    measure(value, &mut Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Reading

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn varint(&mut self) -> Result<u64, ValueErrorKind> {
        let mut value: u64 = 0;
        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                return Err(ValueErrorKind::Malformed("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(if self.buf.len() < 10 {
            ValueErrorKind::Malformed("truncated varint")
        } else {
            ValueErrorKind::Malformed("varint longer than 10 bytes")
        })
    }

    fn key(&mut self) -> Result<(u32, u8), ValueErrorKind> {
        let key = self.varint()?;
        let field = u32::try_from(key >> 3)
            .map_err(|_| ValueErrorKind::Malformed("field number out of range"))?;
        if field == 0 {
            return Err(ValueErrorKind::Malformed("field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ValueErrorKind> {
        if n > self.buf.len() {
            return Err(ValueErrorKind::Malformed("truncated message"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn fixed64(&mut self) -> Result<u64, ValueErrorKind> {
        let bytes = self.take(8)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(le))
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], ValueErrorKind> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| ValueErrorKind::Malformed("length overflow"))?;
        self.take(len)
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), ValueErrorKind> {
        match wire_type {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            I32 => self.take(4).map(drop),
            3 | 4 => Err(ValueErrorKind::Malformed("groups are not supported")),
            _ => Err(ValueErrorKind::Malformed("invalid wire type")),
        }
    }
}

fn expect(field: u32, wire_type: u8, expected: u8) -> Result<(), ValueErrorKind> {
    if wire_type == expected {
        Ok(())
    } else {
        Err(ValueErrorKind::WrongWireType {
            field,
            wire_type,
            expected,
        })
    }
}

/// Reports a duplicate map key or set element at the later occurrence.
pub(crate) fn duplicate_error(
    kind: &'static str,
    dup: Duplicate,
    item: &Value,
    in_entries: bool,
) -> ValueError {
    let printed = edn::print_truncated(item, 200);
    let kind = if kind == "key" {
        ValueErrorKind::DuplicateKey { key: printed }
    } else {
        ValueErrorKind::DuplicateElement { element: printed }
    };
    let err = ValueError::new(kind);
    if in_entries {
        err.at_field("key").at_index(dup.second).at_field("entries")
    } else {
        err.at_index(dup.second)
    }
}

/// Names seen earlier in the same message, keyed by their encoded bytes. Real payloads repeat a
/// handful of keywords and record types thousands of times (every pitch has `:duration`); the
/// cache turns each repeat into a comparison of a few bytes and a reference-count increment,
/// instead of UTF-8 and naming-rule checks and an allocation. A short list beats a hash map at
/// this size; once full, further names are decoded without caching.
#[derive(Default)]
struct NameCache<'a> {
    keywords: Vec<(&'a [u8], Keyword)>,
    record_types: Vec<(&'a [u8], Arc<str>)>,
}

const NAME_CACHE_CAPACITY: usize = 32;

fn cached<T: Clone>(cache: &[(&[u8], T)], key: &[u8]) -> Option<T> {
    cache
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
}

fn remember<'a, T>(cache: &mut Vec<(&'a [u8], T)>, key: &'a [u8], value: T) {
    if cache.len() < NAME_CACHE_CAPACITY {
        cache.push((key, value));
    }
}

struct Decoder<'l, 'a> {
    limits: &'l ValueLimits,
    nodes: usize,
    names: NameCache<'a>,
}

impl<'a> Decoder<'_, 'a> {
    fn value(&mut self, body: &'a [u8], depth: usize) -> Result<Value, ValueError> {
        if depth > self.limits.max_depth {
            return Err(ValueError::limit(Limit::Depth, self.limits.max_depth));
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_total_nodes {
            return Err(ValueError::limit(
                Limit::TotalNodes,
                self.limits.max_total_nodes,
            ));
        }
        let mut r = Reader { buf: body };
        let mut out = None;
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            let v = match f {
                field::MAP | field::VECTOR | field::SET | field::LIST | field::RECORD => {
                    expect(f, wt, LEN)?;
                    self.compound(f, r.len_delimited()?, depth)?
                }
                field::STRING..=field::INSTANT => self.scalar(f, wt, &mut r)?,
                _ => {
                    r.skip(wt)?;
                    continue;
                }
            };
            if out.replace(v).is_some() {
                return Err(ValueErrorKind::MultipleValues.into());
            }
        }
        out.ok_or_else(|| ValueErrorKind::MissingValue.into())
    }

    /// Decodes a compound value's body. Kept apart from [`Self::scalar`] so that the recursive
    /// path (value, compound, entry, value, ...) carries small stack frames.
    fn compound(&mut self, f: u32, body: &'a [u8], depth: usize) -> Result<Value, ValueError> {
        Ok(match f {
            field::MAP => Value::Map(self.map(body, depth)?),
            field::RECORD => Value::Record(self.record(body, depth)?),
            _ => {
                let items = self.elements(body, depth)?;
                match f {
                    field::VECTOR => Value::Vector(Seq(items.into())),
                    field::LIST => Value::List(Seq(items.into())),
                    _ => Value::Set(set(items)?),
                }
            }
        })
    }

    /// Decodes a value field without compound parts.
    #[inline(never)]
    fn scalar(&mut self, f: u32, wt: u8, r: &mut Reader<'a>) -> Result<Value, ValueError> {
        Ok(match f {
            field::STRING => {
                expect(f, wt, LEN)?;
                Value::String(self.string(r.len_delimited()?)?)
            }
            field::INT => {
                expect(f, wt, VARINT)?;
                Value::Int(r.varint()? as i64)
            }
            field::DOUBLE => {
                expect(f, wt, I64)?;
                Value::Double(f64::from_bits(r.fixed64()?))
            }
            field::BOOL => {
                expect(f, wt, VARINT)?;
                Value::Bool(r.varint()? != 0)
            }
            field::RATIO => {
                expect(f, wt, LEN)?;
                Value::Ratio(ratio(r.len_delimited()?)?)
            }
            field::KEYWORD => {
                expect(f, wt, LEN)?;
                let body = r.len_delimited()?;
                if let Some(k) = cached(&self.names.keywords, body) {
                    return Ok(Value::Keyword(k));
                }
                let (ns, name) = self.named(body)?;
                let k =
                    Keyword::new(Some(ns), name).map_err(|source| ValueErrorKind::InvalidName {
                        what: "keyword",
                        source,
                    })?;
                remember(&mut self.names.keywords, body, k.clone());
                Value::Keyword(k)
            }
            field::SYMBOL => {
                expect(f, wt, LEN)?;
                let (ns, name) = self.named(r.len_delimited()?)?;
                Value::Symbol(Symbol::new(Some(ns), name).map_err(|source| {
                    ValueErrorKind::InvalidName {
                        what: "symbol",
                        source,
                    }
                })?)
            }
            field::NIL => {
                expect(f, wt, VARINT)?;
                r.varint()?;
                Value::Nil
            }
            field::BIG_INTEGER => {
                expect(f, wt, LEN)?;
                let bytes = self.bytes(r.len_delimited()?)?;
                Value::BigInt(Arc::new(BigInt::from_signed_bytes_be(bytes)))
            }
            field::BYTES => {
                expect(f, wt, LEN)?;
                Value::Bytes(Arc::from(self.bytes(r.len_delimited()?)?))
            }
            field::UUID => {
                expect(f, wt, LEN)?;
                let bytes = r.len_delimited()?;
                let uuid = uuid::Uuid::from_slice(bytes)
                    .map_err(|_| ValueErrorKind::InvalidUuidLength(bytes.len()))?;
                Value::Uuid(uuid)
            }
            field::INSTANT => {
                expect(f, wt, VARINT)?;
                Value::Instant(Instant::from_epoch_micros(r.varint()? as i64)?)
            }
            _ => unreachable!("compound fields are decoded by `compound`"),
        })
    }

    fn bytes<'b>(&self, bytes: &'b [u8]) -> Result<&'b [u8], ValueError> {
        if bytes.len() > self.limits.max_string_bytes {
            return Err(ValueError::limit(
                Limit::StringBytes,
                self.limits.max_string_bytes,
            ));
        }
        Ok(bytes)
    }

    fn str<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, ValueError> {
        std::str::from_utf8(self.bytes(bytes)?).map_err(|_| ValueErrorKind::InvalidUtf8.into())
    }

    fn string(&self, bytes: &[u8]) -> Result<Arc<str>, ValueError> {
        self.str(bytes).map(Arc::from)
    }

    /// Reads an `OoloiKeyword`/`OoloiSymbol` body: (namespace, name).
    fn named<'b>(&self, body: &'b [u8]) -> Result<(&'b str, &'b str), ValueError> {
        let (mut ns, mut name) = ("", "");
        let mut r = Reader { buf: body };
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            match f {
                1 | 2 => {
                    expect(f, wt, LEN)?;
                    let s = self.str(r.len_delimited()?)?;
                    if f == 1 { ns = s } else { name = s }
                }
                _ => r.skip(wt)?,
            }
        }
        Ok((ns, name))
    }

    /// Reads the repeated `elements` (field 1) of a vector, set or list body.
    fn elements(&mut self, body: &'a [u8], depth: usize) -> Result<Vec<Value>, ValueError> {
        let mut items = Vec::new();
        let mut r = Reader { buf: body };
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            if f != 1 {
                r.skip(wt)?;
                continue;
            }
            expect(f, wt, LEN)?;
            if items.len() == self.limits.max_collection_elements {
                return Err(ValueError::limit(
                    Limit::CollectionElements,
                    self.limits.max_collection_elements,
                ));
            }
            let child = r.len_delimited()?;
            let index = items.len();
            items.push(
                self.value(child, depth + 1)
                    .map_err(|e| e.at_index(index))?,
            );
        }
        Ok(items)
    }

    /// Reads an `OoloiMap` body.
    fn map(&mut self, body: &'a [u8], depth: usize) -> Result<ValueMap, ValueError> {
        let mut entries = Vec::new();
        let mut r = Reader { buf: body };
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            if f != 1 {
                r.skip(wt)?;
                continue;
            }
            expect(f, wt, LEN)?;
            if entries.len() == self.limits.max_collection_elements {
                return Err(ValueError::limit(
                    Limit::CollectionElements,
                    self.limits.max_collection_elements,
                ));
            }
            let index = entries.len();
            let entry = r
                .len_delimited()
                .map_err(ValueError::from)
                .and_then(|body| {
                    self.entry(body, depth + 1)
                        .map_err(|e| e.at_index(index).at_field("entries"))
                })?;
            entries.push(entry);
        }
        map(entries)
    }

    /// Reads an `OoloiMapEntry` body; its key and value sit at `depth`.
    fn entry(&mut self, body: &'a [u8], depth: usize) -> Result<(Value, Value), ValueError> {
        let (mut key, mut value) = (None, None);
        let mut r = Reader { buf: body };
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            let (slot, name) = match f {
                1 => (&mut key, "key"),
                2 => (&mut value, "value"),
                _ => {
                    r.skip(wt)?;
                    continue;
                }
            };
            expect(f, wt, LEN).map_err(|e| ValueError::from(e).at_field(name))?;
            if slot.is_some() {
                return Err(ValueError::new(ValueErrorKind::MultipleValues).at_field(name));
            }
            let child = r.len_delimited()?;
            let decoded = self.value(child, depth).map_err(|e| e.at_field(name))?;
            match f {
                1 => key = Some(decoded),
                _ => value = Some(decoded),
            }
        }
        let missing = |name| ValueError::new(ValueErrorKind::MissingValue).at_field(name);
        Ok((
            key.ok_or_else(|| missing("key"))?,
            value.ok_or_else(|| missing("value"))?,
        ))
    }

    /// Reads an `OoloiDefrecord` body.
    fn record(&mut self, body: &'a [u8], depth: usize) -> Result<Record, ValueError> {
        let mut type_name = None;
        let mut fields = None;
        let mut r = Reader { buf: body };
        while !r.is_empty() {
            let (f, wt) = r.key()?;
            match f {
                1 => {
                    expect(f, wt, LEN)?;
                    let name = r.len_delimited()?;
                    type_name = Some(
                        self.record_type(name)
                            .map_err(|e| e.at_field("type_name"))?,
                    );
                }
                2 => {
                    expect(f, wt, LEN)?;
                    if fields.is_some() {
                        let e = ValueError::new(ValueErrorKind::MultipleValues);
                        return Err(e.at_field("fields"));
                    }
                    let body = r.len_delimited()?;
                    fields = Some(self.map(body, depth).map_err(|e| e.at_field("fields"))?);
                }
                _ => r.skip(wt)?,
            }
        }
        let type_name = match type_name {
            Some(name) => name,
            None => self.record_type(&[]).map_err(|e| e.at_field("type_name"))?,
        };
        Ok(Record(Arc::new(RecordData {
            type_name,
            fields: fields.unwrap_or_default(),
        })))
    }

    /// A checked record type name, from the cache when seen before in this message.
    fn record_type(&mut self, bytes: &'a [u8]) -> Result<Arc<str>, ValueError> {
        if let Some(name) = cached(&self.names.record_types, bytes) {
            return Ok(name);
        }
        let name = self.str(bytes)?;
        check_record_type_name(name).map_err(|source| {
            ValueError::new(ValueErrorKind::InvalidName {
                what: "record type name",
                source,
            })
        })?;
        let name: Arc<str> = Arc::from(name);
        remember(&mut self.names.record_types, bytes, name.clone());
        Ok(name)
    }
}

fn ratio(body: &[u8]) -> Result<Ratio, ValueError> {
    let (mut n, mut d) = (0i64, 0i64);
    let mut r = Reader { buf: body };
    while !r.is_empty() {
        let (f, wt) = r.key()?;
        match f {
            1 | 2 => {
                expect(f, wt, VARINT)?;
                let v = r.varint()? as i64;
                if f == 1 { n = v } else { d = v }
            }
            _ => r.skip(wt)?,
        }
    }
    Ok(Ratio::canonical(n, d)?)
}

pub(crate) fn map(mut entries: Vec<(Value, Value)>) -> Result<ValueMap, ValueError> {
    match sort_unique_entries(&mut entries) {
        Ok(()) => Ok(ValueMap(entries.into())),
        Err(dup) => Err(duplicate_error("key", dup, &entries[dup.second].0, true)),
    }
}

pub(crate) fn set(mut items: Vec<Value>) -> Result<ValueSet, ValueError> {
    match sort_unique_values(&mut items) {
        Ok(()) => Ok(ValueSet(items.into())),
        Err(dup) => Err(duplicate_error("element", dup, &items[dup.second], false)),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field) << 3)
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Length of a length-delimited field with a payload of `len` bytes (key 1 byte).
fn nested(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn named_inner(text: &str) -> usize {
    match text.split_once('/') {
        Some((ns, name)) => nested(ns.len()) + nested(name.len()),
        None => nested(text.len()),
    }
}

fn ratio_inner(r: &Ratio) -> usize {
    let n = r.numerator();
    let num = if n == 0 { 0 } else { 1 + varint_len(n as u64) };
    num + 1 + varint_len(r.denominator() as u64)
}

/// The body length of a value without compound parts; `None` for compound values.
fn scalar_len(value: &Value) -> Option<usize> {
    Some(match value {
        Value::Nil | Value::Bool(_) => 2,
        Value::Int(i) => 1 + varint_len(*i as u64),
        Value::Double(_) => 9,
        Value::Ratio(r) => nested(ratio_inner(r)),
        Value::String(s) => nested(s.len()),
        Value::Keyword(k) => nested(named_inner(k.as_str())),
        Value::Symbol(s) => nested(named_inner(s.as_str())),
        Value::BigInt(b) => nested(b.to_signed_bytes_be().len()),
        Value::Bytes(b) => key_len(field::BYTES) + varint_len(b.len() as u64) + b.len(),
        Value::Uuid(_) => key_len(field::UUID) + 1 + 16,
        Value::Instant(i) => key_len(field::INSTANT) + varint_len(i.epoch_micros() as u64),
        Value::List(_) | Value::Vector(_) | Value::Set(_) | Value::Map(_) | Value::Record(_) => {
            return None;
        }
    })
}

fn record_inner(type_name: &str, fields_inner: usize) -> usize {
    nested(type_name.len()) + nested(fields_inner)
}

/// The body length of `value`, whose stored inner size (if compound) is `sizes[at]`.
fn body_len(value: &Value, sizes: &[usize], at: usize) -> usize {
    scalar_len(value).unwrap_or_else(|| match value {
        Value::Record(r) => nested(record_inner(r.type_name(), sizes[at])),
        _ => nested(sizes[at]),
    })
}

fn measure_entries(entries: &[(Value, Value)], sizes: &mut Vec<usize>) -> usize {
    let mut inner = 0;
    for (k, v) in entries {
        let at = sizes.len();
        sizes.push(0);
        let entry = nested(measure(k, sizes)) + nested(measure(v, sizes));
        sizes[at] = entry;
        inner += nested(entry);
    }
    inner
}

/// Returns the body length of `value`, pushing the inner length of each compound part in
/// pre-order (and of each map entry).
fn measure(value: &Value, sizes: &mut Vec<usize>) -> usize {
    if let Some(len) = scalar_len(value) {
        return len;
    }
    let at = sizes.len();
    sizes.push(0);
    let inner = match value {
        Value::List(s) | Value::Vector(s) => s.iter().map(|c| nested(measure(c, sizes))).sum(),
        Value::Set(s) => s.iter().map(|c| nested(measure(c, sizes))).sum(),
        Value::Map(m) => measure_entries(m.entries(), sizes),
        Value::Record(r) => measure_entries(r.fields().entries(), sizes),
        _ => unreachable!("scalars return above"),
    };
    sizes[at] = inner;
    match value {
        Value::Record(r) => nested(record_inner(r.type_name(), inner)),
        _ => nested(inner),
    }
}

fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_named(out: &mut Vec<u8>, field: u32, text: &str) {
    put_key(out, field, LEN);
    put_varint(out, named_inner(text) as u64);
    match text.split_once('/') {
        Some((ns, name)) => {
            put_bytes_field(out, 1, ns.as_bytes());
            put_bytes_field(out, 2, name.as_bytes());
        }
        None => put_bytes_field(out, 2, text.as_bytes()),
    }
}

fn write_child(out: &mut Vec<u8>, field: u32, value: &Value, sizes: &[usize], cursor: &mut usize) {
    put_key(out, field, LEN);
    put_varint(out, body_len(value, sizes, *cursor) as u64);
    write_value(value, sizes, cursor, out);
}

fn write_entries(
    out: &mut Vec<u8>,
    entries: &[(Value, Value)],
    sizes: &[usize],
    cursor: &mut usize,
) {
    for (k, v) in entries {
        let entry = sizes[*cursor];
        *cursor += 1;
        put_key(out, 1, LEN);
        put_varint(out, entry as u64);
        write_child(out, 1, k, sizes, cursor);
        write_child(out, 2, v, sizes, cursor);
    }
}

fn write_value(value: &Value, sizes: &[usize], cursor: &mut usize, out: &mut Vec<u8>) {
    match value {
        Value::Nil => {
            put_key(out, field::NIL, VARINT);
            out.push(1);
        }
        Value::Bool(b) => {
            put_key(out, field::BOOL, VARINT);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            put_key(out, field::INT, VARINT);
            put_varint(out, *i as u64);
        }
        Value::Double(d) => {
            put_key(out, field::DOUBLE, I64);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::Ratio(r) => {
            put_key(out, field::RATIO, LEN);
            put_varint(out, ratio_inner(r) as u64);
            if r.numerator() != 0 {
                put_key(out, 1, VARINT);
                put_varint(out, r.numerator() as u64);
            }
            put_key(out, 2, VARINT);
            put_varint(out, r.denominator() as u64);
        }
        Value::String(s) => put_bytes_field(out, field::STRING, s.as_bytes()),
        Value::Keyword(k) => put_named(out, field::KEYWORD, k.as_str()),
        Value::Symbol(s) => put_named(out, field::SYMBOL, s.as_str()),
        Value::BigInt(b) => put_bytes_field(out, field::BIG_INTEGER, &b.to_signed_bytes_be()),
        Value::Bytes(b) => put_bytes_field(out, field::BYTES, b),
        Value::Uuid(u) => put_bytes_field(out, field::UUID, u.as_bytes()),
        Value::Instant(i) => {
            put_key(out, field::INSTANT, VARINT);
            put_varint(out, i.epoch_micros() as u64);
        }
        Value::List(_) | Value::Vector(_) | Value::Set(_) => {
            let inner = sizes[*cursor];
            *cursor += 1;
            let (f, items) = match value {
                Value::List(s) => (field::LIST, s.as_slice()),
                Value::Vector(s) => (field::VECTOR, s.as_slice()),
                Value::Set(s) => (field::SET, s.as_slice()),
                _ => unreachable!("matched above"),
            };
            put_key(out, f, LEN);
            put_varint(out, inner as u64);
            for item in items {
                write_child(out, 1, item, sizes, cursor);
            }
        }
        Value::Map(m) => {
            let inner = sizes[*cursor];
            *cursor += 1;
            put_key(out, field::MAP, LEN);
            put_varint(out, inner as u64);
            write_entries(out, m.entries(), sizes, cursor);
        }
        Value::Record(r) => {
            let fields_inner = sizes[*cursor];
            *cursor += 1;
            put_key(out, field::RECORD, LEN);
            put_varint(out, record_inner(r.type_name(), fields_inner) as u64);
            put_bytes_field(out, 1, r.type_name().as_bytes());
            put_key(out, 2, LEN);
            put_varint(out, fields_inner as u64);
            write_entries(out, r.fields().entries(), sizes, cursor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_len_matches_the_encoder() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX >> 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(Reader { buf: &out }.varint(), Ok(v));
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_malformed() {
        let overlong = [0xff; 11];
        assert!(Reader { buf: &overlong }.varint().is_err());
        assert!(Reader { buf: &[0x80, 0x80] }.varint().is_err());
        let mut tenth_too_big = vec![0xff; 9];
        tenth_too_big.push(0x02);
        assert!(
            Reader {
                buf: &tenth_too_big
            }
            .varint()
            .is_err()
        );
    }
}
