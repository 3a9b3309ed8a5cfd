//! The piece tree as typed structs over persistent vectors (`imbl`): cloning any node is O(1),
//! and an update copies only the path from the root to what it changes, so every STM version of
//! a piece shares all untouched structure with the previous one.
//!
//! Entities keep typed fields for what the server relies on (ids, children, notes, durations)
//! and an `attrs` map for everything else: declared attributes (see `attrs`) and any unknown
//! field a client or plugin sent, which is kept and returned as it came.
//!
//! On the wire every entity is a record whose type name is Ooloi's class name (so Ooloi clients
//! read them as their own records); plain maps are accepted too (items then need `:type`).
//!
//! This file holds the record type names and the conversion traits; the private submodules hold
//! the entities by part of the tree (`piece`: piece down to voices; `item`: what voices hold;
//! `layout`: layouts and their views) and the record plumbing they share (`wire`). Every entity
//! is re-exported here, so every path is `entity::Name`.

mod item;
mod layout;
mod piece;
mod wire;

pub use item::{Chord, Item, Pitch, Rest, Tuplet};
pub use layout::{Layout, MeasureView, PageView, StaffView, SystemView};
pub use piece::{Instrument, Measure, Musician, Piece, Staff, Voice};

use super::ModelError;
use crate::value::Value;

/// Record type names, as Ooloi's Clojure records are named on the wire.
pub mod type_names {
    pub const PIECE: &str = "ooloi.shared.models.musical.piece.Piece";
    pub const MUSICIAN: &str = "ooloi.shared.models.musical.musician.Musician";
    pub const INSTRUMENT: &str = "ooloi.shared.models.musical.instrument.Instrument";
    pub const STAFF: &str = "ooloi.shared.models.musical.staff.Staff";
    pub const MEASURE: &str = "ooloi.shared.models.musical.measure.Measure";
    pub const VOICE: &str = "ooloi.shared.models.musical.voice.Voice";
    pub const PITCH: &str = "ooloi.shared.models.musical.pitch.Pitch";
    pub const CHORD: &str = "ooloi.shared.models.musical.chord.Chord";
    pub const REST: &str = "ooloi.shared.models.musical.rest.Rest";
    pub const TUPLET: &str = "ooloi.shared.models.musical.tuplet.Tuplet";
    pub const LAYOUT: &str = "ooloi.shared.models.visual.layout.Layout";
    pub const PAGE_VIEW: &str = "ooloi.shared.models.visual.page_view.PageView";
    pub const SYSTEM_VIEW: &str = "ooloi.shared.models.visual.system_view.SystemView";
    pub const STAFF_VIEW: &str = "ooloi.shared.models.visual.staff_view.StaffView";
    pub const MEASURE_VIEW: &str = "ooloi.shared.models.visual.measure_view.MeasureView";
}

/// Conversion of an entity to its wire form.
pub trait ToValue {
    /// The entity as a record.
    fn to_value(&self) -> Value;
}

/// Conversion of an entity from its wire form (a record of its type or a plain map).
pub trait FromValue: Sized {
    /// Reads the entity, minting ids that are absent.
    fn from_value(value: &Value) -> Result<Self, ModelError>;
}
