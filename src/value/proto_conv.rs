//! Conversion between [`Value`] and prost's generated [`OoloiValue`], for code that already holds
//! generated messages (clients, tests, tools). It enforces the same [`ValueLimits`] and reports the
//! same errors and paths as the direct decoder in [`super::wire`], which the server uses on its hot
//! path. The message-size limit does not apply here: the message is already decoded.

use std::sync::Arc;

use num_bigint::BigInt;

use crate::proto::{
    OoloiDefrecord, OoloiKeyword, OoloiList, OoloiMap, OoloiMapEntry, OoloiRatio, OoloiSet,
    OoloiSymbol, OoloiValue, OoloiVector, ooloi_value::ValueType,
};

use super::wire::{map, set};
use super::{
    Instant, Keyword, Limit, Ratio, Record, Seq, Symbol, Value, ValueError, ValueErrorKind,
    ValueLimits, ValueMap,
};

impl Value {
    /// Converts a generated message into a value, enforcing `limits` (except the message size).
    pub fn from_proto(message: OoloiValue, limits: &ValueLimits) -> Result<Value, ValueError> {
        Converter { limits, nodes: 0 }.value(message, 1)
    }

    /// Converts this value into a generated message.
    pub fn to_proto(&self) -> OoloiValue {
        OoloiValue::from(self)
    }
}

struct Converter<'l> {
    limits: &'l ValueLimits,
    nodes: usize,
}

impl Converter<'_> {
    fn value(&mut self, message: OoloiValue, depth: usize) -> Result<Value, ValueError> {
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
        let kind = message.value_type.ok_or(ValueErrorKind::MissingValue)?;
        Ok(match kind {
            ValueType::StringVal(s) => Value::String(Arc::from(self.check_len(s)?)),
            ValueType::IntVal(i) => Value::Int(i),
            ValueType::DoubleVal(d) => Value::Double(d),
            ValueType::BoolVal(b) => Value::Bool(b),
            ValueType::RatioVal(r) => Value::Ratio(Ratio::canonical(r.numerator, r.denominator)?),
            ValueType::KeywordVal(k) => {
                let (ns, name) = (self.check_len(k.namespace)?, self.check_len(k.name)?);
                Value::Keyword(Keyword::new(Some(&ns), &name).map_err(|source| {
                    ValueErrorKind::InvalidName {
                        what: "keyword",
                        source,
                    }
                })?)
            }
            ValueType::SymbolVal(s) => {
                let (ns, name) = (self.check_len(s.namespace)?, self.check_len(s.name)?);
                Value::Symbol(Symbol::new(Some(&ns), &name).map_err(|source| {
                    ValueErrorKind::InvalidName {
                        what: "symbol",
                        source,
                    }
                })?)
            }
            ValueType::MapVal(m) => Value::Map(self.map(m, depth)?),
            ValueType::VectorVal(v) => Value::Vector(Seq(self.elements(v.elements, depth)?.into())),
            ValueType::ListVal(l) => Value::List(Seq(self.elements(l.elements, depth)?.into())),
            ValueType::SetVal(s) => Value::Set(set(self.elements(s.elements, depth)?)?),
            ValueType::DefrecordVal(r) => {
                let type_name = self
                    .check_len(r.type_name)
                    .map_err(|e| e.at_field("type_name"))?;
                let fields = match r.fields {
                    Some(m) => self.map(m, depth).map_err(|e| e.at_field("fields"))?,
                    None => ValueMap::new(),
                };
                Value::Record(Record::new(&type_name, fields).map_err(|source| {
                    ValueError::new(ValueErrorKind::InvalidName {
                        what: "record type name",
                        source,
                    })
                    .at_field("type_name")
                })?)
            }
            ValueType::NilVal(_) => Value::Nil,
            ValueType::BigIntegerVal(b) => {
                Value::BigInt(Arc::new(BigInt::from_signed_bytes_be(&self.check_len(b)?)))
            }
            ValueType::BytesVal(b) => Value::Bytes(Arc::from(self.check_len(b)?)),
            ValueType::UuidVal(b) => Value::Uuid(
                uuid::Uuid::from_slice(&b)
                    .map_err(|_| ValueErrorKind::InvalidUuidLength(b.len()))?,
            ),
            ValueType::InstantVal(micros) => Value::Instant(Instant::from_epoch_micros(micros)?),
        })
    }

    fn check_len<T: AsRef<[u8]>>(&self, data: T) -> Result<T, ValueError> {
        if data.as_ref().len() > self.limits.max_string_bytes {
            return Err(ValueError::limit(
                Limit::StringBytes,
                self.limits.max_string_bytes,
            ));
        }
        Ok(data)
    }

    fn check_count(&self, count: usize) -> Result<(), ValueError> {
        if count > self.limits.max_collection_elements {
            return Err(ValueError::limit(
                Limit::CollectionElements,
                self.limits.max_collection_elements,
            ));
        }
        Ok(())
    }

    fn elements(&mut self, items: Vec<OoloiValue>, depth: usize) -> Result<Vec<Value>, ValueError> {
        self.check_count(items.len())?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            out.push(self.value(item, depth + 1).map_err(|e| e.at_index(i))?);
        }
        Ok(out)
    }

    fn map(&mut self, m: OoloiMap, depth: usize) -> Result<ValueMap, ValueError> {
        self.check_count(m.entries.len())?;
        let mut entries = Vec::with_capacity(m.entries.len());
        for (i, entry) in m.entries.into_iter().enumerate() {
            let at = |e: ValueError, part| e.at_field(part).at_index(i).at_field("entries");
            let missing = || ValueError::new(ValueErrorKind::MissingValue);
            let k = entry.key.ok_or_else(missing).map_err(|e| at(e, "key"))?;
            let k = self.value(k, depth + 1).map_err(|e| at(e, "key"))?;
            let v = entry
                .value
                .ok_or_else(missing)
                .map_err(|e| at(e, "value"))?;
            let v = self.value(v, depth + 1).map_err(|e| at(e, "value"))?;
            entries.push((k, v));
        }
        map(entries)
    }
}

fn proto_entries(entries: &[(Value, Value)]) -> OoloiMap {
    OoloiMap {
        entries: entries
            .iter()
            .map(|(k, v)| OoloiMapEntry {
                key: Some(k.into()),
                value: Some(v.into()),
            })
            .collect(),
    }
}

fn proto_elements(items: &[Value]) -> Vec<OoloiValue> {
    items.iter().map(OoloiValue::from).collect()
}

impl From<&Value> for OoloiValue {
    fn from(value: &Value) -> Self {
        let kind = match value {
            Value::Nil => ValueType::NilVal(true),
            Value::Bool(b) => ValueType::BoolVal(*b),
            Value::Int(i) => ValueType::IntVal(*i),
            Value::BigInt(b) => ValueType::BigIntegerVal(b.to_signed_bytes_be()),
            Value::Double(d) => ValueType::DoubleVal(*d),
            Value::Ratio(r) => ValueType::RatioVal(OoloiRatio {
                numerator: r.numerator(),
                denominator: r.denominator(),
            }),
            Value::String(s) => ValueType::StringVal(s.to_string()),
            Value::Keyword(k) => ValueType::KeywordVal(OoloiKeyword {
                namespace: k.namespace().unwrap_or("").to_owned(),
                name: k.name().to_owned(),
            }),
            Value::Symbol(s) => ValueType::SymbolVal(OoloiSymbol {
                namespace: s.namespace().unwrap_or("").to_owned(),
                name: s.name().to_owned(),
            }),
            Value::Bytes(b) => ValueType::BytesVal(b.to_vec()),
            Value::Uuid(u) => ValueType::UuidVal(u.as_bytes().to_vec()),
            Value::Instant(i) => ValueType::InstantVal(i.epoch_micros()),
            Value::List(s) => ValueType::ListVal(OoloiList {
                elements: proto_elements(s),
            }),
            Value::Vector(s) => ValueType::VectorVal(OoloiVector {
                elements: proto_elements(s),
            }),
            Value::Set(s) => ValueType::SetVal(OoloiSet {
                elements: proto_elements(s.as_slice()),
            }),
            Value::Map(m) => ValueType::MapVal(proto_entries(m.entries())),
            Value::Record(r) => ValueType::DefrecordVal(OoloiDefrecord {
                type_name: r.type_name().to_owned(),
                fields: Some(proto_entries(r.fields().entries())),
            }),
        };
        OoloiValue {
            value_type: Some(kind),
        }
    }
}

impl From<Value> for OoloiValue {
    fn from(value: Value) -> Self {
        OoloiValue::from(&value)
    }
}
