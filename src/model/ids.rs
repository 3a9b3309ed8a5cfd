//! Identifiers the server mints: piece ids (UUIDs, carried on the wire as strings, as Ooloi
//! does) and the ids of structural entities (musicians, instruments, staves, layouts), also
//! UUIDs, carried as strings. Clients never choose ids: constructors and copies mint fresh ones.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The id of a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PieceId(pub Uuid);

/// The id of a structural entity (musician, instrument, staff, layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub Uuid);

impl PieceId {
    /// A fresh random id.
    pub fn mint() -> Self {
        PieceId(Uuid::new_v4())
    }
}

impl EntityId {
    /// A fresh random id.
    pub fn mint() -> Self {
        EntityId(Uuid::new_v4())
    }
}

impl fmt::Display for PieceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for PieceId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(PieceId)
    }
}

impl FromStr for EntityId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(EntityId)
    }
}
