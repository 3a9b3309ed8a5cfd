//! Navigation of the piece tree by [`Vpd`], and type-erased access to child collections, so that
//! one implementation of each verb (`get-X`, `set-X`, `add-X`, ...) serves every collection.
//! Walking down for a write uses `imbl`'s copy-on-write `get_mut`, which copies only the nodes
//! on the path.

use imbl::Vector;

use super::cowvec::CowVec;

use super::entity::*;
use super::vpd::{Coll, Step, Vpd};
use super::{FromValue, ModelError, ToValue};
use crate::value::{Value, ValueMap};

/// A node of the tree, borrowed.
#[derive(Clone, Copy, Debug)]
pub enum NodeRef<'a> {
    Piece(&'a Piece),
    Musician(&'a Musician),
    Instrument(&'a Instrument),
    Staff(&'a Staff),
    Measure(&'a Measure),
    Voice(&'a Voice),
    Item(&'a Item),
    Layout(&'a Layout),
    PageView(&'a PageView),
    SystemView(&'a SystemView),
    StaffView(&'a StaffView),
    MeasureView(&'a MeasureView),
}

/// A node of the tree, borrowed for change.
#[derive(Debug)]
pub enum NodeMut<'a> {
    Piece(&'a mut Piece),
    Musician(&'a mut Musician),
    Instrument(&'a mut Instrument),
    Staff(&'a mut Staff),
    Measure(&'a mut Measure),
    Voice(&'a mut Voice),
    Item(&'a mut Item),
    Layout(&'a mut Layout),
    PageView(&'a mut PageView),
    SystemView(&'a mut SystemView),
    StaffView(&'a mut StaffView),
    MeasureView(&'a mut MeasureView),
}

/// Operations on one child collection, whatever its element type. Values in and out are wire
/// values; elements are checked on the way in.
pub trait DynColl {
    /// Number of elements.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i` as a value.
    fn get(&self, i: usize) -> Option<Value>;
    /// Replaces element `i`; false if the new element equals the old one.
    fn set(&mut self, i: usize, value: &Value) -> Result<bool, ModelError>;
    /// Inserts at `i` (`i == len` appends).
    fn insert(&mut self, i: usize, value: &Value) -> Result<(), ModelError>;
    /// Removes element `i`.
    fn remove(&mut self, i: usize);
    /// Moves element `from` to position `to` (in the vector after removal).
    fn move_to(&mut self, from: usize, to: usize);
    /// Replaces every element; false if nothing changed.
    fn set_all(&mut self, values: &[Value]) -> Result<bool, ModelError>;
}

/// The operations both vector kinds provide, so one `DynColl` implementation serves both.
trait Elements<T>: PartialEq + FromIterator<T> {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> Option<&T>;
    fn at_mut(&mut self, i: usize) -> Option<&mut T>;
    fn put(&mut self, i: usize, value: T);
    fn take_out(&mut self, i: usize) -> T;
}

impl<T: Clone + PartialEq> Elements<T> for Vector<T> {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> Option<&T> {
        self.get(i)
    }
    fn at_mut(&mut self, i: usize) -> Option<&mut T> {
        self.get_mut(i)
    }
    fn put(&mut self, i: usize, value: T) {
        self.insert(i, value)
    }
    fn take_out(&mut self, i: usize) -> T {
        self.remove(i)
    }
}

impl<T: Clone + PartialEq> Elements<T> for CowVec<T> {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> Option<&T> {
        self.get(i)
    }
    fn at_mut(&mut self, i: usize) -> Option<&mut T> {
        self.get_mut(i)
    }
    fn put(&mut self, i: usize, value: T) {
        self.insert(i, value)
    }
    fn take_out(&mut self, i: usize) -> T {
        self.remove(i)
    }
}

macro_rules! dyn_coll {
    ($vec:ident) => {
        impl<T: Clone + PartialEq + ToValue + FromValue> DynColl for $vec<T> {
            fn len(&self) -> usize {
                self.count()
            }
            fn get(&self, i: usize) -> Option<Value> {
                self.at(i).map(ToValue::to_value)
            }
            fn set(&mut self, i: usize, value: &Value) -> Result<bool, ModelError> {
                let new = T::from_value(value)?;
                let slot = self
                    .at_mut(i)
                    .ok_or_else(|| ModelError::invalid(format!("no element {i}")))?;
                if *slot == new {
                    return Ok(false);
                }
                *slot = new;
                Ok(true)
            }
            fn insert(&mut self, i: usize, value: &Value) -> Result<(), ModelError> {
                let new = T::from_value(value)?;
                self.put(i, new);
                Ok(())
            }
            fn remove(&mut self, i: usize) {
                self.take_out(i);
            }
            fn move_to(&mut self, from: usize, to: usize) {
                let element = self.take_out(from);
                self.put(to, element);
            }
            fn set_all(&mut self, values: &[Value]) -> Result<bool, ModelError> {
                let new: $vec<T> = values.iter().map(T::from_value).collect::<Result<_, _>>()?;
                if *self == new {
                    return Ok(false);
                }
                *self = new;
                Ok(true)
            }
        }
    };
}

dyn_coll!(Vector);
dyn_coll!(CowVec);

fn missing(vpd: &Vpd, depth: usize, coll: Coll, index: usize, len: usize) -> ModelError {
    let at = Vpd(vpd.0[..depth].to_vec());
    ModelError::VpdNotFound {
        vpd: vpd.to_string(),
        message: format!(
            "{} {} has no {} {index} (it has {len})",
            if depth == 0 {
                "the piece".to_string()
            } else {
                "node".to_string()
            },
            if depth == 0 {
                String::new()
            } else {
                at.to_string()
            },
            coll.singular()
        )
        .replace("  ", " "),
    }
}

fn wrong_level(vpd: &Vpd, depth: usize, coll: Coll) -> ModelError {
    ModelError::VpdNotFound {
        vpd: vpd.to_string(),
        message: format!(
            "step {depth} (:{}) does not apply to the node it follows",
            coll.plural()
        ),
    }
}

impl<'a> NodeRef<'a> {
    /// The child collection `coll` of this node, if it has one.
    pub fn collection(self, coll: Coll) -> Option<&'a dyn DynColl> {
        Some(match (self, coll) {
            (NodeRef::Piece(p), Coll::Musicians) => &p.musicians,
            (NodeRef::Piece(p), Coll::Layouts) => &p.layouts,
            (NodeRef::Musician(m), Coll::Instruments) => &m.instruments,
            (NodeRef::Instrument(i), Coll::Staves) => &i.staves,
            (NodeRef::Staff(s), Coll::Measures) => &s.measures,
            (NodeRef::Measure(m), Coll::Voices) => &m.voices,
            (NodeRef::Voice(v), Coll::Items) => &v.items,
            (NodeRef::Item(Item::Tuplet(t)), Coll::Items) => &t.items,
            (NodeRef::Layout(l), Coll::PageViews) => &l.page_views,
            (NodeRef::PageView(p), Coll::SystemViews) => &p.system_views,
            (NodeRef::SystemView(s), Coll::StaffViews) => &s.staff_views,
            (NodeRef::StaffView(s), Coll::MeasureViews) => &s.measure_views,
            _ => return None,
        })
    }

    fn child(self, step: Step) -> Result<NodeRef<'a>, Option<usize>> {
        let i = step.index;
        let found = match (self, step.coll) {
            (NodeRef::Piece(p), Coll::Musicians) => p.musicians.get(i).map(NodeRef::Musician),
            (NodeRef::Piece(p), Coll::Layouts) => p.layouts.get(i).map(NodeRef::Layout),
            (NodeRef::Musician(m), Coll::Instruments) => {
                m.instruments.get(i).map(NodeRef::Instrument)
            }
            (NodeRef::Instrument(x), Coll::Staves) => x.staves.get(i).map(NodeRef::Staff),
            (NodeRef::Staff(s), Coll::Measures) => s.measures.get(i).map(NodeRef::Measure),
            (NodeRef::Measure(m), Coll::Voices) => m.voices.get(i).map(NodeRef::Voice),
            (NodeRef::Voice(v), Coll::Items) => v.items.get(i).map(NodeRef::Item),
            (NodeRef::Item(Item::Tuplet(t)), Coll::Items) => t.items.get(i).map(NodeRef::Item),
            (NodeRef::Layout(l), Coll::PageViews) => l.page_views.get(i).map(NodeRef::PageView),
            (NodeRef::PageView(p), Coll::SystemViews) => {
                p.system_views.get(i).map(NodeRef::SystemView)
            }
            (NodeRef::SystemView(s), Coll::StaffViews) => {
                s.staff_views.get(i).map(NodeRef::StaffView)
            }
            (NodeRef::StaffView(s), Coll::MeasureViews) => {
                s.measure_views.get(i).map(NodeRef::MeasureView)
            }
            _ => return Err(None),
        };
        found.ok_or_else(|| Some(self.collection(step.coll).map_or(0, |c| c.len())))
    }

    /// The node as its wire value.
    pub fn to_value(self) -> Value {
        match self {
            NodeRef::Piece(x) => x.to_value(),
            NodeRef::Musician(x) => x.to_value(),
            NodeRef::Instrument(x) => x.to_value(),
            NodeRef::Staff(x) => x.to_value(),
            NodeRef::Measure(x) => x.to_value(),
            NodeRef::Voice(x) => x.to_value(),
            NodeRef::Item(x) => x.to_value(),
            NodeRef::Layout(x) => x.to_value(),
            NodeRef::PageView(x) => x.to_value(),
            NodeRef::SystemView(x) => x.to_value(),
            NodeRef::StaffView(x) => x.to_value(),
            NodeRef::MeasureView(x) => x.to_value(),
        }
    }

    /// The attribute map of the node (items other than custom records have one too).
    pub fn attrs(self) -> Option<&'a ValueMap> {
        Some(match self {
            NodeRef::Piece(x) => &x.attrs,
            NodeRef::Musician(x) => &x.attrs,
            NodeRef::Instrument(x) => &x.attrs,
            NodeRef::Staff(x) => &x.attrs,
            NodeRef::Measure(x) => &x.attrs,
            NodeRef::Voice(x) => &x.attrs,
            NodeRef::Item(Item::Pitch(x)) => &x.attrs,
            NodeRef::Item(Item::Chord(x)) => &x.attrs,
            NodeRef::Item(Item::Rest(x)) => &x.attrs,
            NodeRef::Item(Item::Tuplet(x)) => &x.attrs,
            NodeRef::Item(Item::Custom(_)) => return None,
            NodeRef::Layout(x) => &x.attrs,
            NodeRef::PageView(x) => &x.attrs,
            NodeRef::SystemView(x) => &x.attrs,
            NodeRef::StaffView(x) => &x.attrs,
            NodeRef::MeasureView(x) => &x.attrs,
        })
    }

    /// The declared attributes of this node's kind.
    pub fn attr_specs(self) -> &'static [super::attrs::AttrSpec] {
        match self {
            NodeRef::Musician(_) => super::attrs::MUSICIAN,
            NodeRef::Instrument(_) => super::attrs::INSTRUMENT,
            NodeRef::Staff(_) => super::attrs::STAFF,
            NodeRef::Layout(_) => super::attrs::LAYOUT,
            _ => &[],
        }
    }

    /// The kind of node, for messages.
    pub fn kind_name(self) -> &'static str {
        match self {
            NodeRef::Piece(_) => "piece",
            NodeRef::Musician(_) => "musician",
            NodeRef::Instrument(_) => "instrument",
            NodeRef::Staff(_) => "staff",
            NodeRef::Measure(_) => "measure",
            NodeRef::Voice(_) => "voice",
            NodeRef::Item(_) => "item",
            NodeRef::Layout(_) => "layout",
            NodeRef::PageView(_) => "page view",
            NodeRef::SystemView(_) => "system view",
            NodeRef::StaffView(_) => "staff view",
            NodeRef::MeasureView(_) => "measure view",
        }
    }
}

impl<'a> NodeMut<'a> {
    /// The child collection `coll` of this node, for change.
    pub fn collection(self, coll: Coll) -> Option<&'a mut dyn DynColl> {
        Some(match (self, coll) {
            (NodeMut::Piece(p), Coll::Musicians) => &mut p.musicians,
            (NodeMut::Piece(p), Coll::Layouts) => &mut p.layouts,
            (NodeMut::Musician(m), Coll::Instruments) => &mut m.instruments,
            (NodeMut::Instrument(i), Coll::Staves) => &mut i.staves,
            (NodeMut::Staff(s), Coll::Measures) => &mut s.measures,
            (NodeMut::Measure(m), Coll::Voices) => &mut m.voices,
            (NodeMut::Voice(v), Coll::Items) => &mut v.items,
            (NodeMut::Item(Item::Tuplet(t)), Coll::Items) => &mut t.items,
            (NodeMut::Layout(l), Coll::PageViews) => &mut l.page_views,
            (NodeMut::PageView(p), Coll::SystemViews) => &mut p.system_views,
            (NodeMut::SystemView(s), Coll::StaffViews) => &mut s.staff_views,
            (NodeMut::StaffView(s), Coll::MeasureViews) => &mut s.measure_views,
            _ => return None,
        })
    }

    fn child(self, step: Step) -> Option<NodeMut<'a>> {
        let i = step.index;
        match (self, step.coll) {
            (NodeMut::Piece(p), Coll::Musicians) => p.musicians.get_mut(i).map(NodeMut::Musician),
            (NodeMut::Piece(p), Coll::Layouts) => p.layouts.get_mut(i).map(NodeMut::Layout),
            (NodeMut::Musician(m), Coll::Instruments) => {
                m.instruments.get_mut(i).map(NodeMut::Instrument)
            }
            (NodeMut::Instrument(x), Coll::Staves) => x.staves.get_mut(i).map(NodeMut::Staff),
            (NodeMut::Staff(s), Coll::Measures) => s.measures.get_mut(i).map(NodeMut::Measure),
            (NodeMut::Measure(m), Coll::Voices) => m.voices.get_mut(i).map(NodeMut::Voice),
            (NodeMut::Voice(v), Coll::Items) => v.items.get_mut(i).map(NodeMut::Item),
            (NodeMut::Item(Item::Tuplet(t)), Coll::Items) => t.items.get_mut(i).map(NodeMut::Item),
            (NodeMut::Layout(l), Coll::PageViews) => l.page_views.get_mut(i).map(NodeMut::PageView),
            (NodeMut::PageView(p), Coll::SystemViews) => {
                p.system_views.get_mut(i).map(NodeMut::SystemView)
            }
            (NodeMut::SystemView(s), Coll::StaffViews) => {
                s.staff_views.get_mut(i).map(NodeMut::StaffView)
            }
            (NodeMut::StaffView(s), Coll::MeasureViews) => {
                s.measure_views.get_mut(i).map(NodeMut::MeasureView)
            }
            _ => None,
        }
    }

    /// The attribute map of the node, for change.
    pub fn attrs(self) -> Option<&'a mut ValueMap> {
        Some(match self {
            NodeMut::Piece(x) => &mut x.attrs,
            NodeMut::Musician(x) => &mut x.attrs,
            NodeMut::Instrument(x) => &mut x.attrs,
            NodeMut::Staff(x) => &mut x.attrs,
            NodeMut::Measure(x) => &mut x.attrs,
            NodeMut::Voice(x) => &mut x.attrs,
            NodeMut::Item(Item::Pitch(x)) => &mut x.attrs,
            NodeMut::Item(Item::Chord(x)) => &mut x.attrs,
            NodeMut::Item(Item::Rest(x)) => &mut x.attrs,
            NodeMut::Item(Item::Tuplet(x)) => &mut x.attrs,
            NodeMut::Item(Item::Custom(_)) => return None,
            NodeMut::Layout(x) => &mut x.attrs,
            NodeMut::PageView(x) => &mut x.attrs,
            NodeMut::SystemView(x) => &mut x.attrs,
            NodeMut::StaffView(x) => &mut x.attrs,
            NodeMut::MeasureView(x) => &mut x.attrs,
        })
    }
}

impl Piece {
    /// The node at `vpd`.
    pub fn node(&self, vpd: &Vpd) -> Result<NodeRef<'_>, ModelError> {
        let mut node = NodeRef::Piece(self);
        for (depth, step) in vpd.0.iter().enumerate() {
            node = node.child(*step).map_err(|len| match len {
                Some(len) => missing(vpd, depth, step.coll, step.index, len),
                None => wrong_level(vpd, depth, step.coll),
            })?;
        }
        Ok(node)
    }

    /// The node at `vpd`, for change (copies the path on write).
    pub fn node_mut(&mut self, vpd: &Vpd) -> Result<NodeMut<'_>, ModelError> {
        // Resolve read-only first, so a failure names the step and nothing is copied.
        self.node(vpd)?;
        let mut node = NodeMut::Piece(self);
        for step in &vpd.0 {
            node = match node.child(*step) {
                Some(n) => n,
                None => unreachable!("the path resolved above"),
            };
        }
        Ok(node)
    }
}
