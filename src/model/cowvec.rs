//! `CowVec<T>`: the persistent vector of a score's child collections. Cloning is O(1) (a
//! snapshot of a piece is one reference count), and a write to a clone leaves the original
//! alone. It has two representations, switched by length:
//!
//! - up to [`SMALL_MAX`] elements, an `Arc<Vec<T>>` copied on write. Most collections in a score
//!   are short (a voice holds a handful of items, a pitch one or two attachments), and
//!   `imbl::Vector` stores elements in chunks of 64: a voice of 8 items would carry room for 64,
//!   measured at about 2 KB per item for Ooloi's benchmark piece. A copy of a short vector also
//!   costs less than walking a tree.
//! - past that, an `imbl::Vector` (an RRB tree): a write to a shared vector copies only the
//!   path to the element, O(log n), where copying the whole vector would be O(n). A batch of n
//!   writes to one long voice, each made on a copy still shared with the committed version, was
//!   O(n²) before (BENCHMARKS.md, Stage 4c).
//!
//! A vector that grows past [`SMALL_MAX`] becomes a tree; one that shrinks below half of it
//! becomes flat again (the gap keeps a vector near the threshold from switching on every
//! write). Equality compares elements, whatever the representation.

use std::sync::Arc;

/// The longest vector kept flat (copied on write); longer ones are trees.
pub const SMALL_MAX: usize = 64;

#[derive(Clone, Debug)]
enum Repr<T: Clone> {
    Flat(Arc<Vec<T>>),
    Tree(imbl::Vector<T>),
}

/// A persistent vector; cloning is O(1).
#[derive(Clone, Debug)]
pub struct CowVec<T: Clone>(Repr<T>);

impl<T: Clone> Default for CowVec<T> {
    fn default() -> Self {
        CowVec(Repr::Flat(Arc::new(Vec::new())))
    }
}

impl<T: Clone + PartialEq> PartialEq for CowVec<T> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Flat(a), Repr::Flat(b)) => Arc::ptr_eq(a, b) || a == b,
            (Repr::Tree(a), Repr::Tree(b)) => a == b,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}

impl<T: Clone + Eq> Eq for CowVec<T> {}

impl<T: Clone> CowVec<T> {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// A vector of one element.
    pub fn unit(value: T) -> Self {
        CowVec(Repr::Flat(Arc::new(vec![value])))
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Flat(v) => v.len(),
            Repr::Tree(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the vector is a tree (for tests and benchmarks of the representation).
    pub fn is_tree(&self) -> bool {
        matches!(self.0, Repr::Tree(_))
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        match &self.0 {
            Repr::Flat(v) => v.get(i),
            Repr::Tree(v) => v.get(i),
        }
    }

    /// Element `i` for change (copies the vector, or the path to the element, first if it is
    /// shared).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        match &mut self.0 {
            Repr::Flat(v) => {
                if i >= v.len() {
                    return None;
                }
                Arc::make_mut(v).get_mut(i)
            }
            Repr::Tree(v) => v.get_mut(i),
        }
    }

    /// Inserts at `i`.
    pub fn insert(&mut self, i: usize, value: T) {
        match &mut self.0 {
            Repr::Flat(v) if v.len() < SMALL_MAX => Arc::make_mut(v).insert(i, value),
            Repr::Flat(v) => {
                let mut tree: imbl::Vector<T> = v.iter().cloned().collect();
                tree.insert(i, value);
                self.0 = Repr::Tree(tree);
            }
            Repr::Tree(v) => v.insert(i, value),
        }
    }

    /// Removes element `i`.
    pub fn remove(&mut self, i: usize) -> T {
        match &mut self.0 {
            Repr::Flat(v) => Arc::make_mut(v).remove(i),
            Repr::Tree(v) => {
                let removed = v.remove(i);
                if v.len() < SMALL_MAX / 2 {
                    self.0 = Repr::Flat(Arc::new(v.iter().cloned().collect()));
                }
                removed
            }
        }
    }

    /// Appends.
    pub fn push_back(&mut self, value: T) {
        let end = self.len();
        self.insert(end, value);
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> Iter<'_, T> {
        match &self.0 {
            Repr::Flat(v) => Iter::Flat(v.iter()),
            Repr::Tree(v) => Iter::Tree(v.iter()),
        }
    }
}

/// An iterator over a [`CowVec`]'s elements.
pub enum Iter<'a, T: Clone> {
    /// Over a flat vector.
    Flat(std::slice::Iter<'a, T>),
    /// Over a tree.
    Tree(imbl::vector::Iter<'a, T, imbl::shared_ptr::DefaultSharedPtr>),
}

impl<T: Clone> std::fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").field("left", &self.len()).finish()
    }
}

impl<'a, T: Clone> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        match self {
            Iter::Flat(i) => i.next(),
            Iter::Tree(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Flat(i) => i.size_hint(),
            Iter::Tree(i) => i.size_hint(),
        }
    }
}

impl<T: Clone> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Flat(i) => i.next_back(),
            Iter::Tree(i) => i.next_back(),
        }
    }
}

impl<T: Clone> ExactSizeIterator for Iter<'_, T> {}

impl<T: Clone> FromIterator<T> for CowVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let flat: Vec<T> = iter.into_iter().collect();
        if flat.len() > SMALL_MAX {
            CowVec(Repr::Tree(flat.into_iter().collect()))
        } else {
            CowVec(Repr::Flat(Arc::new(flat)))
        }
    }
}

impl<'a, T: Clone> IntoIterator for &'a CowVec<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(v: &CowVec<usize>) -> Vec<usize> {
        v.iter().copied().collect()
    }

    #[test]
    fn a_write_to_a_clone_leaves_the_original_alone() {
        let a: CowVec<i32> = [1, 2, 3].into_iter().collect();
        let mut b = a.clone();
        *b.get_mut(1).unwrap() = 20;
        b.push_back(4);
        b.remove(0);
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), [20, 3, 4]);
        assert!(b.get_mut(5).is_none());
    }

    #[test]
    fn long_vectors_become_trees_and_short_ones_flat_again_keeping_their_elements() {
        let mut v = CowVec::new();
        let mut model = Vec::new();
        for i in 0..=SMALL_MAX {
            assert!(!v.is_tree(), "flat up to {SMALL_MAX}");
            v.insert(i / 2, i);
            model.insert(i / 2, i);
        }
        assert!(v.is_tree(), "a tree past {SMALL_MAX}");
        assert_eq!(elements(&v), model);
        let snapshot = v.clone();
        while v.len() > SMALL_MAX / 2 {
            let i = v.len() / 3;
            assert_eq!(v.remove(i), model.remove(i));
            assert!(v.is_tree(), "no switch back above half");
        }
        v.remove(0);
        model.remove(0);
        assert!(!v.is_tree(), "flat again below half");
        assert_eq!(elements(&v), model);
        assert_eq!(snapshot.len(), SMALL_MAX + 1, "the snapshot is untouched");
        assert_eq!(elements(&snapshot).len(), SMALL_MAX + 1);
    }

    #[test]
    fn equality_ignores_the_representation() {
        let long: Vec<usize> = (0..SMALL_MAX + 10).collect();
        let tree: CowVec<usize> = long.iter().copied().collect();
        assert!(tree.is_tree());
        let mut grown = CowVec::new();
        for &x in &long {
            grown.push_back(x);
        }
        assert_eq!(tree, grown);
        let mut flat_again = tree.clone();
        while flat_again.len() > 10 {
            flat_again.remove(flat_again.len() - 1);
        }
        let flat: CowVec<usize> = (0..10).collect();
        assert!(!flat.is_tree() && !flat_again.is_tree());
        assert_eq!(flat, flat_again);
        assert_ne!(flat, tree);
        assert_eq!(tree.iter().next_back(), Some(&(SMALL_MAX + 9)));
    }
}
