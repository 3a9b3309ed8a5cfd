//! Maps and sets stored as arrays sorted by the total order of values (see `order`).
//!
//! Sorting once on construction buys a lot: equality and hashing are element-wise and
//! order-independent, lookups are binary searches, printing is canonical, and encoding is
//! deterministic. Values are immutable, so the array never has to be re-sorted. Input that is
//! already sorted (what this server encodes) is checked in one pass and not sorted again.

use std::cmp::Ordering;
use std::sync::Arc;

use super::Value;

/// An immutable map with keys unique by value.
#[derive(Clone, Debug)]
pub struct ValueMap(pub(crate) Arc<[(Value, Value)]>);

/// An immutable set with elements unique by value.
#[derive(Clone, Debug)]
pub struct ValueSet(pub(crate) Arc<[Value]>);

/// Where a duplicate was found: the positions (in input order) of its two occurrences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The earlier occurrence.
    pub first: usize,
    /// The later occurrence.
    pub second: usize,
}

/// Sorts `items` by `key` and reports the first duplicate by input position, without sorting
/// when the input is already strictly increasing.
fn sort_unique<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &Value) -> Result<(), Duplicate> {
    if items.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return Ok(());
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| key(&items[a]).cmp(key(&items[b])).then(a.cmp(&b)));
    if let Some(w) = order
        .windows(2)
        .find(|w| key(&items[w[0]]) == key(&items[w[1]]))
    {
        return Err(Duplicate {
            first: w[0],
            second: w[1],
        });
    }
    let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| slots[i].take()));
    Ok(())
}

/// Sorts map entries by key, refusing a repeated key.
pub(crate) fn sort_unique_entries(entries: &mut Vec<(Value, Value)>) -> Result<(), Duplicate> {
    sort_unique(entries, |(k, _)| k)
}

/// Sorts set elements, refusing a repeated element.
pub(crate) fn sort_unique_values(items: &mut Vec<Value>) -> Result<(), Duplicate> {
    sort_unique(items, |v| v)
}

/// Sorts by `key` and keeps the last of each run of equal keys.
fn sort_last_wins<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &Value) {
    if items.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return;
    }
    // A stable sort keeps equal keys in input order; reverse so the last occurrence comes
    // first in its run, then keep the first of each run.
    items.reverse();
    items.sort_by(|a, b| key(a).cmp(key(b)));
    items.dedup_by(|later, earlier| key(later) == key(earlier));
}

thread_local! {
    /// One empty map per thread: entities of a score mostly have no extra attributes, and an
    /// empty `Arc<[T]>` still allocates its counts.
    static EMPTY_MAP: Arc<[(Value, Value)]> = Arc::from(Vec::new());
}

impl ValueMap {
    /// The empty map (shared storage; no allocation).
    pub fn new() -> Self {
        ValueMap(EMPTY_MAP.with(Arc::clone))
    }

    /// Builds a map, refusing a key that occurs twice.
    pub fn try_from_entries(mut entries: Vec<(Value, Value)>) -> Result<Self, Duplicate> {
        sort_unique_entries(&mut entries)?;
        Ok(ValueMap(entries.into()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// The value under the keyword `:name` (no namespace), without building a key.
    pub fn get_keyword(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| super::order::cmp_to_simple_keyword(k, name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// The entries in canonical (key) order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Value, Value)> {
        self.0.iter()
    }

    /// The entries as a slice in canonical order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.0
    }

    /// A new map with `key` set to `value` (replacing any previous value).
    pub fn insert(&self, key: Value, value: Value) -> Self {
        let mut entries = self.0.to_vec();
        match entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => entries[i].1 = value,
            Err(i) => entries.insert(i, (key, value)),
        }
        ValueMap(entries.into())
    }
}

impl Default for ValueMap {
    fn default() -> Self {
        Self::new()
    }
}

impl FromIterator<(Value, Value)> for ValueMap {
    /// Collects entries; a repeated key keeps its last value.
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(iter: I) -> Self {
        let mut entries: Vec<_> = iter.into_iter().collect();
        if entries.is_empty() {
            return ValueMap::new();
        }
        sort_last_wins(&mut entries, |(k, _)| k);
        ValueMap(entries.into())
    }
}

impl ValueSet {
    /// The empty set.
    pub fn new() -> Self {
        ValueSet(Arc::from(Vec::new()))
    }

    /// Builds a set, refusing an element that occurs twice.
    pub fn try_from_vec(mut items: Vec<Value>) -> Result<Self, Duplicate> {
        sort_unique_values(&mut items)?;
        Ok(ValueSet(items.into()))
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `item` is an element.
    pub fn contains(&self, item: &Value) -> bool {
        self.0.binary_search(item).is_ok()
    }

    /// The elements in canonical order.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.0.iter()
    }

    /// The elements as a slice in canonical order.
    pub fn as_slice(&self) -> &[Value] {
        &self.0
    }
}

impl Default for ValueSet {
    fn default() -> Self {
        Self::new()
    }
}

impl FromIterator<Value> for ValueSet {
    /// Collects elements; duplicates collapse.
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        let mut items: Vec<_> = iter.into_iter().collect();
        items.sort();
        items.dedup();
        ValueSet(items.into())
    }
}

impl PartialEq for ValueMap {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ValueMap {}
impl PartialOrd for ValueMap {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ValueMap {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.iter().cmp(other.0.iter())
    }
}

impl PartialEq for ValueSet {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ValueSet {}
impl PartialOrd for ValueSet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ValueSet {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.iter().cmp(other.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(s: &str) -> Value {
        Value::keyword(s)
    }

    #[test]
    fn order_of_entries_does_not_matter() {
        let a = ValueMap::try_from_entries(vec![(kw("a"), 1.into()), (kw("b"), 2.into())]);
        let b = ValueMap::try_from_entries(vec![(kw("b"), 2.into()), (kw("a"), 1.into())]);
        assert_eq!(a, b);
        let a = a.unwrap();
        assert_eq!(a.get(&kw("b")), Some(&Value::Int(2)));
        assert_eq!(a.get_keyword("a"), Some(&Value::Int(1)));
        assert_eq!(a.get_keyword("c"), None);
    }

    #[test]
    fn duplicates_are_reported_by_input_position() {
        let dup = ValueMap::try_from_entries(vec![
            (kw("z"), Value::Nil),
            (kw("a"), Value::Nil),
            (kw("m"), Value::Nil),
            (kw("a"), 1.into()),
        ]);
        assert_eq!(
            dup.unwrap_err(),
            Duplicate {
                first: 1,
                second: 3
            }
        );
        let dup = ValueSet::try_from_vec(vec![1.into(), 2.into(), 1.into()]);
        assert_eq!(
            dup.unwrap_err(),
            Duplicate {
                first: 0,
                second: 2
            }
        );
    }

    #[test]
    fn collecting_keeps_the_last_value_of_a_repeated_key() {
        let m: ValueMap = [
            (kw("a"), 1.into()),
            (kw("b"), 2.into()),
            (kw("a"), 3.into()),
        ]
        .into_iter()
        .collect();
        assert_eq!(m.len(), 2);
        assert_eq!(m.get_keyword("a"), Some(&Value::Int(3)));
        assert_eq!(
            m.insert(kw("c"), 4.into()).get_keyword("c"),
            Some(&Value::Int(4))
        );
    }
}
