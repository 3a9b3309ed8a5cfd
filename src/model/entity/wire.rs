//! The record plumbing every entity's conversion shares: building a record of an entity's
//! type from its fields and attributes, and [`Fields`], which takes the known fields out of an
//! incoming record or map and keeps the rest as attributes. Kept in one place so that every
//! entity reads ids, children and durations alike and words its errors the same way.

use super::ModelError;
use crate::model::attrs::AttrSpec;
use crate::model::cowvec::CowVec;
use crate::model::ids::EntityId;
use crate::value::{Keyword, Ratio, Record, Value, ValueMap};

fn kw(name: &'static str) -> Value {
    Value::Keyword(Keyword::from_static(name))
}

pub(super) fn record(
    type_name: &'static str,
    attrs: &ValueMap,
    fields: Vec<(&'static str, Value)>,
) -> Value {
    let mut entries: Vec<(Value, Value)> = Vec::with_capacity(attrs.len() + fields.len());
    entries.extend(attrs.iter().cloned());
    entries.extend(fields.into_iter().map(|(k, v)| (kw(k), v)));
    Value::Record(Record::from_static(
        type_name,
        entries.into_iter().collect(),
    ))
}

pub(super) fn seq<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    f: impl Fn(&T) -> Value,
) -> Value {
    Value::vector(items.into_iter().map(f))
}

/// The fields of an entity value being read: known fields are taken out, the rest stay as
/// attributes.
pub(super) struct Fields {
    what: &'static str,
    entries: Vec<(Value, Value)>,
}

impl Fields {
    /// Accepts a record of `type_name` or a plain map.
    pub(super) fn of(
        value: &Value,
        type_name: &str,
        what: &'static str,
    ) -> Result<Fields, ModelError> {
        let map = match value {
            Value::Map(m) => m,
            Value::Record(r) if r.type_name() == type_name => r.fields(),
            Value::Record(r) => {
                return Err(ModelError::invalid(format!(
                    "expected a {what}, got a record of type {}",
                    r.type_name()
                )));
            }
            other => {
                return Err(ModelError::invalid(format!(
                    "expected a {what} (record or map), got a {}",
                    other.kind()
                )));
            }
        };
        Ok(Fields {
            what,
            entries: map.iter().cloned().collect(),
        })
    }

    pub(super) fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| {
            matches!(k, Value::Keyword(kw) if kw.namespace().is_none() && kw.name() == name)
        })?;
        Some(self.entries.remove(at).1)
    }

    pub(super) fn rest(self) -> ValueMap {
        self.entries.into_iter().collect()
    }

    pub(super) fn id(&mut self) -> Result<EntityId, ModelError> {
        match self.take("id") {
            None | Some(Value::Nil) => Ok(EntityId::mint()),
            Some(Value::String(s)) => s.parse().map_err(|_| {
                ModelError::invalid(format!("{} :id {s:?} is not a UUID string", self.what))
            }),
            Some(other) => Err(ModelError::invalid(format!(
                "{} :id must be a UUID string, got {other}",
                self.what
            ))),
        }
    }

    pub(super) fn children<T, C>(
        &mut self,
        name: &str,
        f: impl Fn(&Value) -> Result<T, ModelError>,
    ) -> Result<C, ModelError>
    where
        C: FromIterator<T>,
    {
        match self.take(name) {
            None | Some(Value::Nil) => Ok(std::iter::empty().collect()),
            Some(Value::Vector(items)) | Some(Value::List(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| f(v).map_err(|e| e.within(format!("{} :{name} [{i}]", self.what))))
                .collect(),
            Some(other) => Err(ModelError::invalid(format!(
                "{} :{name} must be a vector, got a {}",
                self.what,
                other.kind()
            ))),
        }
    }

    pub(super) fn duration(&mut self) -> Result<Ratio, ModelError> {
        let d = match self.take("duration") {
            Some(Value::Ratio(r)) => r,
            Some(Value::Int(i)) => {
                Ratio::canonical(i, 1).map_err(|e| ModelError::invalid(e.to_string()))?
            }
            Some(other) => {
                return Err(ModelError::invalid(format!(
                    "{} :duration must be a ratio such as 1/4, got {other}",
                    self.what
                )));
            }
            None => {
                return Err(ModelError::invalid(format!(
                    "{} needs a :duration",
                    self.what
                )));
            }
        };
        if d.numerator() <= 0 {
            return Err(ModelError::validation(format!(
                "{} :duration must be positive, got {d}",
                self.what
            )));
        }
        Ok(d)
    }

    pub(super) fn attachments(&mut self) -> Result<CowVec<Value>, ModelError> {
        self.children("attachments", |v| Ok(v.clone()))
    }
}

pub(super) fn map_field(fields: &mut Fields, name: &str) -> Result<ValueMap, ModelError> {
    match fields.take(name) {
        None | Some(Value::Nil) => Ok(ValueMap::new()),
        Some(Value::Map(m)) => Ok(m),
        Some(other) => Err(ModelError::invalid(format!(
            ":{name} must be a map, got {}",
            other.kind()
        ))),
    }
}

pub(super) fn check_attrs(
    attrs: &ValueMap,
    specs: &'static [AttrSpec],
    what: &str,
) -> Result<(), ModelError> {
    for spec in specs {
        if let Some(v) = attrs.get_keyword(spec.name) {
            crate::model::attrs::check(spec, v)
                .map_err(|e| ModelError::validation(format!("{what}: {e}")))?;
        }
    }
    Ok(())
}
