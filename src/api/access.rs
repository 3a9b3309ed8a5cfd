//! Who may do what to a piece (DESIGN section 9). Every piece has a [`PieceAccess`] in its own
//! STM ref beside the piece: its owner (the creator), how its tenant shares it by default, and
//! grants to named users. A caller's [`PieceRole`] on a piece decides what it may do: `viewer`
//! reads, `editor` writes, `owner` shares and deletes. A tenant admin acts as owner of every
//! piece of the tenant; a caller of another tenant has no role at all, and a piece it has no
//! role on is, to it, a piece that does not exist.
//!
//! Method categories map to the role a call needs on every piece its arguments name
//! ([`required_role`]), checked before the handler runs, so a method registered at run time
//! gets the same authorization as the core ones; the reads and writes inside `Call` check again.

use crate::identity::{Caller, UserId};
use crate::tenants::DefaultAccess;

use super::Category;

/// The most grants one piece may carry.
pub const MAX_GRANTS_PER_PIECE: usize = 1000;

/// A caller's role on a piece, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PieceRole {
    /// Reads the piece and subscribes to its events.
    Viewer,
    /// Also changes it.
    Editor,
    /// Also shares and deletes it.
    Owner,
}

impl PieceRole {
    /// The role's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            PieceRole::Viewer => "viewer",
            PieceRole::Editor => "editor",
            PieceRole::Owner => "owner",
        }
    }

    /// The role named `name`.
    pub fn from_name(name: &str) -> Option<PieceRole> {
        [PieceRole::Viewer, PieceRole::Editor, PieceRole::Owner]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// The role a method of `category` needs on each piece its arguments name; `None` for admin
/// methods, which need the platform operator instead.
pub const fn required_role(category: Category) -> Option<PieceRole> {
    match category {
        Category::Read | Category::Lifecycle => Some(PieceRole::Viewer),
        Category::Write => Some(PieceRole::Editor),
        Category::Share => Some(PieceRole::Owner),
        Category::Admin => None,
    }
}

/// Who may use one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PieceAccess {
    /// The creator.
    pub owner: UserId,
    /// What every member of the tenant may do.
    pub default: DefaultAccess,
    /// Roles granted to named users of the tenant.
    pub grants: imbl::OrdMap<UserId, PieceRole>,
}

impl PieceAccess {
    /// A new piece's access: `owner`, with its tenant's `default`.
    pub fn new(owner: UserId, default: DefaultAccess) -> PieceAccess {
        PieceAccess {
            owner,
            default,
            grants: imbl::OrdMap::new(),
        }
    }

    /// What a member `user` of the piece's tenant may do, not counting tenant roles.
    pub fn role_of_user(&self, user: &UserId) -> Option<PieceRole> {
        if *user == self.owner {
            return Some(PieceRole::Owner);
        }
        let by_default = match self.default {
            DefaultAccess::Private => None,
            DefaultAccess::TenantRead => Some(PieceRole::Viewer),
            DefaultAccess::TenantWrite => Some(PieceRole::Editor),
        };
        self.grants.get(user).copied().max(by_default)
    }

    /// What `caller`, a member of the piece's tenant, may do.
    pub fn role_of(&self, caller: &Caller) -> Option<PieceRole> {
        if caller.roles.tenant_admin {
            return Some(PieceRole::Owner);
        }
        self.role_of_user(&caller.principal.user)
    }
}
