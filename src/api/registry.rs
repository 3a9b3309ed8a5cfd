//! The method registry: every callable method by name, with its category, parameters and
//! one-line doc. Resolved by name at run time; a method registered while the server runs is
//! callable on the next call, with the same transaction, validation and events as a core one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::call::Call;
use crate::error::Error;
use crate::model::{PieceId, Vpd};
use crate::value::{Value, ValueMap};

/// What a method does, which decides authorization and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Reads a piece or the server; changes nothing.
    Read,
    /// Changes a piece.
    Write,
    /// Creates, clones or deletes pieces.
    Lifecycle,
    /// Shares a piece or reads who it is shared with (needs owner).
    Share,
    /// Server administration (needs the platform operator).
    Admin,
}

impl Category {
    /// The category's keyword name.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Read => "read",
            Category::Write => "write",
            Category::Lifecycle => "lifecycle",
            Category::Share => "share",
            Category::Admin => "admin",
        }
    }
}

/// The type of one positional parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A VPD vector.
    Vpd,
    /// A piece id string.
    PieceId,
    /// An integer.
    Int,
    /// A map.
    Map,
    /// A vector.
    Vector,
    /// A string.
    String,
    /// Any value.
    Any,
}

impl ParamKind {
    /// The expected type, for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            ParamKind::Vpd => "a VPD vector such as [:m 0 0]",
            ParamKind::PieceId => "a piece id string",
            ParamKind::Int => "an integer",
            ParamKind::Map => "a map",
            ParamKind::Vector => "a vector",
            ParamKind::String => "a string",
            ParamKind::Any => "a value",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            ParamKind::Vpd | ParamKind::Vector => matches!(v, Value::Vector(_)),
            ParamKind::PieceId | ParamKind::String => matches!(v, Value::String(_)),
            ParamKind::Int => matches!(v, Value::Int(_)),
            ParamKind::Map => matches!(v, Value::Map(_)),
            ParamKind::Any => true,
        }
    }
}

/// One positional parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its name, for docs and messages.
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// May be left out (only trailing parameters).
    pub optional: bool,
}

/// Shorthand for a required parameter.
pub const fn param(name: &'static str, kind: ParamKind) -> Param {
    Param {
        name,
        kind,
        optional: false,
    }
}

/// Shorthand for an optional parameter.
pub const fn optional(name: &'static str, kind: ParamKind) -> Param {
    Param {
        name,
        kind,
        optional: true,
    }
}

/// A method's implementation.
pub type Handler = Arc<dyn Fn(&mut Call<'_, '_>, &Args<'_>) -> Result<Value, Error> + Send + Sync>;

/// A registered method.
#[derive(Clone)]
pub struct Method {
    /// Its name (`add-musician`).
    pub name: Arc<str>,
    /// Its category.
    pub category: Category,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// One line saying what it does.
    pub doc: Arc<str>,
    /// What runs.
    pub handler: Handler,
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Method")
            .field("name", &self.name)
            .field("category", &self.category)
            .finish()
    }
}

impl Method {
    /// A method from its parts.
    pub fn new(
        name: &str,
        category: Category,
        params: &[Param],
        doc: &str,
        handler: impl Fn(&mut Call<'_, '_>, &Args<'_>) -> Result<Value, Error> + Send + Sync + 'static,
    ) -> Self {
        Method {
            name: Arc::from(name),
            category,
            params: params.to_vec(),
            doc: Arc::from(doc),
            handler: Arc::new(handler),
        }
    }

    /// Checks the argument count and types against the parameter list.
    pub fn check_args(&self, args: &[Value]) -> Result<(), Error> {
        let required = self.params.iter().filter(|p| !p.optional).count();
        if args.len() < required || args.len() > self.params.len() {
            let expected = if required == self.params.len() {
                format!("{required}")
            } else {
                format!("{required} to {}", self.params.len())
            };
            return Err(Error::params(
                &self.name,
                None,
                format!(
                    "expected {expected} arguments [{}], got {}",
                    self.signature(),
                    args.len()
                ),
            ));
        }
        for (i, (p, v)) in self.params.iter().zip(args).enumerate() {
            if !(p.kind.accepts(v) || p.optional && v.is_nil()) {
                return Err(Error::params(
                    &self.name,
                    Some(i),
                    format!("{} must be {}, got {}", p.name, p.kind.describe(), v.kind()),
                ));
            }
        }
        Ok(())
    }

    /// The parameter names, space-separated.
    pub fn signature(&self) -> String {
        self.params
            .iter()
            .map(|p| {
                if p.optional {
                    format!("{}?", p.name)
                } else {
                    p.name.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The method's description as a map (for `list-methods`).
    pub fn describe(&self) -> Value {
        let kw = Value::keyword;
        Value::map([
            (kw("name"), Value::string(&*self.name)),
            (kw("category"), kw(self.category.name())),
            (
                kw("params"),
                Value::vector(self.params.iter().map(|p| {
                    Value::map([
                        (kw("name"), kw(p.name)),
                        (kw("type"), Value::string(p.kind.describe())),
                        (kw("optional"), Value::Bool(p.optional)),
                    ])
                })),
            ),
            (kw("doc"), Value::string(&*self.doc)),
        ])
    }
}

/// The arguments of one call, checked against the method's parameters.
#[derive(Debug)]
pub struct Args<'a> {
    method: &'a str,
    values: &'a [Value],
}

impl<'a> Args<'a> {
    pub(crate) fn new(method: &'a str, values: &'a [Value]) -> Self {
        Args { method, values }
    }

    fn error(&self, index: usize, message: impl Into<String>) -> Error {
        Error::params(self.method, Some(index), message)
    }

    /// Argument `i`, if given.
    pub fn get(&self, i: usize) -> Option<&'a Value> {
        self.values.get(i).filter(|v| !v.is_nil())
    }

    /// Argument `i` (required).
    pub fn value(&self, i: usize) -> Result<&'a Value, Error> {
        self.values.get(i).ok_or_else(|| self.error(i, "missing"))
    }

    /// Argument `i` as a VPD.
    pub fn vpd(&self, i: usize) -> Result<Vpd, Error> {
        Vpd::parse(self.value(i)?).map_err(|e| self.error(i, e.to_string()))
    }

    /// Argument `i` as a piece id.
    pub fn piece_id(&self, i: usize) -> Result<PieceId, Error> {
        match self.value(i)? {
            Value::String(s) => s
                .parse()
                .map_err(|_| self.error(i, format!("{s:?} is not a piece id (a UUID string)"))),
            other => Err(self.error(
                i,
                format!("expected a piece id string, got {}", other.kind()),
            )),
        }
    }

    /// Argument `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, Error> {
        match self.value(i)? {
            Value::Int(n) => Ok(*n),
            other => Err(self.error(i, format!("expected an integer, got {}", other.kind()))),
        }
    }

    /// Argument `i` as a non-negative index.
    pub fn index(&self, i: usize) -> Result<usize, Error> {
        let n = self.int(i)?;
        usize::try_from(n).map_err(|_| self.error(i, format!("expected an index >= 0, got {n}")))
    }

    /// Argument `i` as a map (absent: empty).
    pub fn map(&self, i: usize) -> Result<ValueMap, Error> {
        match self.values.get(i) {
            None | Some(Value::Nil) => Ok(ValueMap::new()),
            Some(Value::Map(m)) => Ok(m.clone()),
            Some(other) => Err(self.error(i, format!("expected a map, got {}", other.kind()))),
        }
    }

    /// Argument `i` as a vector's elements.
    pub fn elements(&self, i: usize) -> Result<&'a [Value], Error> {
        match self.value(i)? {
            Value::Vector(v) => Ok(v.as_slice()),
            other => Err(self.error(i, format!("expected a vector, got {}", other.kind()))),
        }
    }

    /// The method being called.
    pub fn method(&self) -> &'a str {
        self.method
    }
}

/// Every method, by name.
#[derive(Default)]
pub struct MethodRegistry {
    methods: RwLock<HashMap<Arc<str>, Arc<Method>>>,
}

impl std::fmt::Debug for MethodRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MethodRegistry({} methods)", self.len())
    }
}

impl MethodRegistry {
    /// Adds or replaces a method; callable from the next call on.
    pub fn register(&self, method: Method) {
        let mut methods = self.methods.write().unwrap_or_else(|p| p.into_inner());
        methods.insert(method.name.clone(), Arc::new(method));
    }

    /// The method called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Method>> {
        self.methods
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every method, sorted by name.
    pub fn all(&self) -> Vec<Arc<Method>> {
        let mut all: Vec<_> = self
            .methods
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// How many methods there are.
    pub fn len(&self) -> usize {
        self.methods.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no method is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
