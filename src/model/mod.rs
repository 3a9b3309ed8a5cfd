//! The musical domain: the piece tree, VPD paths, the path-level changes every edit is made of,
//! piece settings, pitch spelling and transposition, and the classification of changes into the
//! events clients receive. Pure data and functions: no STM, no I/O (the `api` module runs these
//! inside transactions).

pub mod attrs;
pub mod change;
pub mod classify;
pub mod cowvec;
pub mod entity;
pub mod ids;
pub mod pitch;
pub mod settings;
pub mod tree;
pub mod vpd;

pub use change::{Change, ChangeOp, ChangeSetKind};
pub use entity::{FromValue, Item, Piece, ToValue};
pub use ids::{EntityId, PieceId};
pub use vpd::{Coll, Step, Vpd, VpdError};

/// Why a model operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A VPD does not resolve in the piece.
    #[error("{vpd} does not resolve: {message}")]
    VpdNotFound {
        /// The VPD, printed.
        vpd: String,
        /// Which step failed and why.
        message: String,
    },
    /// A value has the wrong shape for what it should be.
    #[error("{0}")]
    Invalid(String),
    /// A value has the right shape but breaks a rule of the model.
    #[error("{0}")]
    Validation(String),
}

impl ModelError {
    /// A shape error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ModelError::Invalid(message.into())
    }

    /// A rule error.
    pub fn validation(message: impl Into<String>) -> Self {
        ModelError::Validation(message.into())
    }

    /// Adds where the error occurred to its message.
    pub fn within(self, context: String) -> Self {
        match self {
            ModelError::Invalid(m) => ModelError::Invalid(format!("{context}: {m}")),
            ModelError::Validation(m) => ModelError::Validation(format!("{context}: {m}")),
            other => other,
        }
    }
}

/// The rules every committed piece keeps: structural ids are unique, and layouts only list
/// musicians the piece has. Installed as the validator of every piece ref.
pub fn validate(piece: &Piece) -> Result<(), String> {
    // Sorting a short list beats hashing here: this runs on every commit of a piece.
    let mut ids: Vec<(EntityId, &'static str)> =
        Vec::with_capacity(piece.musicians.len() * 3 + piece.layouts.len());
    for m in piece.musicians.iter() {
        ids.push((m.id, "musician"));
        for i in m.instruments.iter() {
            ids.push((i.id, "instrument"));
            ids.extend(i.staves.iter().map(|s| (s.id, "staff")));
        }
    }
    ids.extend(piece.layouts.iter().map(|l| (l.id, "layout")));
    ids.sort_unstable_by_key(|(id, _)| *id);
    if let Some(w) = ids.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("duplicate {} id {}", w[1].1, w[1].0));
    }
    for l in piece.layouts.iter() {
        let mut listed: Vec<EntityId> = l.musician_ids.iter().copied().collect();
        listed.sort_unstable();
        if let Some(w) = listed.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("layout {} lists musician {} twice", l.id, w[0]));
        }
        if let Some(missing) = l
            .musician_ids
            .iter()
            .find(|id| !piece.musicians.iter().any(|m| m.id == **id))
        {
            return Err(format!(
                "layout {} lists musician {missing}, which the piece does not have",
                l.id
            ));
        }
    }
    Ok(())
}
