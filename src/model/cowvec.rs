//! `CowVec<T>`: a small persistent vector, an `Arc<Vec<T>>` copied on write.
//!
//! Most collections in a score are short (a voice holds a handful of items, a pitch one or two
//! attachments). `imbl::Vector` stores elements in fixed chunks of 64, so a voice of 8 items
//! would carry room for 64: measured at about 2 KB per item for Ooloi's benchmark piece. A copy
//! on write of a short vector costs less than walking a tree, and a clone is one reference count.
//! Long collections (a staff's measures) stay in `imbl::Vector`.

use std::sync::Arc;

/// A copy-on-write vector; cloning is O(1).
#[derive(Clone, Debug, Eq)]
pub struct CowVec<T>(Arc<Vec<T>>);

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        CowVec(Arc::new(Vec::new()))
    }
}

impl<T: PartialEq> PartialEq for CowVec<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl<T: Clone> CowVec<T> {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// A vector of one element.
    pub fn unit(value: T) -> Self {
        CowVec(Arc::new(vec![value]))
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.0.get(i)
    }

    /// Element `i` for change (copies the vector first if it is shared).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.0.len() {
            return None;
        }
        Arc::make_mut(&mut self.0).get_mut(i)
    }

    /// Inserts at `i`.
    pub fn insert(&mut self, i: usize, value: T) {
        Arc::make_mut(&mut self.0).insert(i, value);
    }

    /// Removes element `i`.
    pub fn remove(&mut self, i: usize) -> T {
        Arc::make_mut(&mut self.0).remove(i)
    }

    /// Appends.
    pub fn push_back(&mut self, value: T) {
        Arc::make_mut(&mut self.0).push(value);
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: Clone> FromIterator<T> for CowVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        CowVec(Arc::new(iter.into_iter().collect()))
    }
}

impl<'a, T> IntoIterator for &'a CowVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_to_a_clone_leaves_the_original_alone() {
        let a: CowVec<i32> = [1, 2, 3].into_iter().collect();
        let mut b = a.clone();
        *b.get_mut(1).unwrap() = 20;
        b.push_back(4);
        b.remove(0);
        assert_eq!(a.as_slice(), &[1, 2, 3]);
        assert_eq!(b.as_slice(), &[20, 3, 4]);
        assert!(b.get_mut(5).is_none());
    }
}
