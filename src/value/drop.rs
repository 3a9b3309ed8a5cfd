//! Dropping a value never recurses, however deep it is.
//!
//! The default drop of nested `Arc`s recurses once per level, so a value nested a million levels
//! deep (built by code; decoders refuse such depth) would overflow the stack. Each compound payload
//! therefore empties itself on drop: when it holds the last reference, it moves its compound
//! children onto a heap worklist, and each child taken off the list is emptied the same way before
//! it is dropped. Shared children only lose a reference count.

use std::sync::Arc;

use super::{Seq, Value, ValueMap, ValueSet};

fn has_children(v: &Value) -> bool {
    match v {
        Value::List(s) | Value::Vector(s) => !s.0.is_empty(),
        Value::Set(s) => !s.0.is_empty(),
        Value::Map(m) => !m.0.is_empty(),
        Value::Record(_) => true,
        _ => false,
    }
}

fn push_compound(stack: &mut Vec<Value>, v: &mut Value) {
    if has_children(v) {
        stack.push(std::mem::take(v));
    }
}

/// Moves the compound children of `v` (when `v` holds the last reference to them) onto `stack`.
fn take_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(s) | Value::Vector(s) => take_from_values(&mut s.0, stack),
        Value::Set(s) => take_from_values(&mut s.0, stack),
        Value::Map(m) => take_from_entries(&mut m.0, stack),
        Value::Record(r) => {
            if let Some(data) = Arc::get_mut(&mut r.0) {
                take_from_entries(&mut data.fields.0, stack);
            }
        }
        _ => {}
    }
}

fn take_from_values(items: &mut Arc<[Value]>, stack: &mut Vec<Value>) {
    if let Some(items) = Arc::get_mut(items) {
        for item in items.iter_mut() {
            push_compound(stack, item);
        }
    }
}

fn take_from_entries(entries: &mut Arc<[(Value, Value)]>, stack: &mut Vec<Value>) {
    if let Some(entries) = Arc::get_mut(entries) {
        for (k, v) in entries.iter_mut() {
            push_compound(stack, k);
            push_compound(stack, v);
        }
    }
}

fn drain(mut stack: Vec<Value>) {
    while let Some(mut v) = stack.pop() {
        take_children(&mut v, &mut stack);
        // `v` now has no compound children of its own to drop: dropping it is shallow.
    }
}

impl Drop for Seq {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_from_values(&mut self.0, &mut stack);
        drain(stack);
    }
}

impl Drop for ValueSet {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_from_values(&mut self.0, &mut stack);
        drain(stack);
    }
}

impl Drop for ValueMap {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_from_entries(&mut self.0, &mut stack);
        drain(stack);
    }
}

// Records need no impl: their only compound part is a `ValueMap`, which empties itself.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_million_levels_does_not_overflow_a_small_stack() {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let mut v = Value::Nil;
                for i in 0..1_000_000 {
                    v = match i % 4 {
                        0 => Value::vector([v]),
                        1 => Value::map([(Value::Int(1), v)]),
                        2 => Value::set([v]),
                        _ => Value::list([v]),
                    };
                }
                drop(v);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn shared_children_survive_the_drop_of_a_parent() {
        let child = Value::vector([Value::vector([1.into()])]);
        let parent = Value::vector([child.clone(), child.clone()]);
        drop(parent);
        assert_eq!(child, Value::vector([Value::vector([1.into()])]));
    }
}
