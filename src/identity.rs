//! Who is calling. Every operation of the domain takes a [`Caller`]: the [`Principal`] the
//! transport authenticated (a user of a tenant) and, when the call came from a registered
//! connection, that connection's [`ClientId`]. The transport builds the caller once per
//! request and nothing below it ever reads credentials, headers or tokens; what a caller may
//! do is decided by the domain from these values alone.
//!
//! The ids are cheap to clone (`Arc<str>` inside) and compare as text. A [`ClientId`] is
//! validated here because clients choose it (`^[a-zA-Z0-9_-]{3,64}$`); tenant and user ids come
//! from the server's own configuration or from a verified token.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The text of an id: shared (`Arc<str>`), or static for the server's own ids such as the local
/// principal's, which every request clones and which must not make every request touch one
/// shared reference count. Compares, hashes and orders as its text.
#[derive(Clone)]
enum Text {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Static(s) => s,
            Text::Shared(s) => s,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Defines a text id: a newtype over [`Text`] that derefs to `str`, so maps keyed by it can be
/// looked up with a `&str`.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Text);

        impl $name {
            /// The id's text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// An id of static text (cloning it touches no shared counter).
            pub const fn from_static(text: &'static str) -> Self {
                $name(Text::Static(text))
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }
    };
}

text_id!(
    /// A tenant (an institution). Everything a tenant owns is invisible to every other tenant.
    TenantId
);

text_id!(
    /// A user within a tenant.
    UserId
);

text_id!(
    /// A client id that matches `^[a-zA-Z0-9_-]{3,64}$`: the name a connection registered under,
    /// unique within its tenant.
    ClientId
);

impl From<&str> for TenantId {
    fn from(text: &str) -> Self {
        TenantId(Text::Shared(Arc::from(text)))
    }
}

impl From<&str> for UserId {
    fn from(text: &str) -> Self {
        UserId(Text::Shared(Arc::from(text)))
    }
}

/// The shortest allowed client id, in characters.
pub const CLIENT_ID_MIN_LEN: usize = 3;
/// The longest allowed client id, in characters.
pub const CLIENT_ID_MAX_LEN: usize = 64;

/// Why a text is not a valid client id. Never echoes the text itself (it may be huge, and a
/// client id is a credential when authentication is off).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    /// Fewer than 3 characters (`len` characters; 0 for empty).
    #[error(
        "client id is too short: {len} characters, at least {CLIENT_ID_MIN_LEN} are required \
         (allowed: ASCII letters, digits, '-' and '_', 3 to 64 characters)"
    )]
    TooShort { len: usize },
    /// More than 64 characters.
    #[error(
        "client id is too long: {len} characters, at most {CLIENT_ID_MAX_LEN} are allowed \
         (allowed: ASCII letters, digits, '-' and '_', 3 to 64 characters)"
    )]
    TooLong { len: usize },
    /// A character outside `[a-zA-Z0-9_-]`, at `position` (in characters, from 0).
    #[error(
        "client id contains a character that is not allowed: {} (U+{:04X}) at position \
         {position}; only ASCII letters, digits, '-' and '_' are allowed",
        .ch.escape_debug(), *.ch as u32
    )]
    InvalidChar { ch: char, position: usize },
}

impl ClientId {
    /// Validates `text` as a client id.
    ///
    /// Length is checked first (in characters), then the characters: the error names the first
    /// character that is not allowed and where it is.
    pub fn new(text: &str) -> Result<ClientId, ClientIdError> {
        // Bounded work for huge inputs: stop counting once past the limit.
        let len = text.chars().take(CLIENT_ID_MAX_LEN + 1).count();
        if len > CLIENT_ID_MAX_LEN {
            return Err(ClientIdError::TooLong {
                len: text.chars().count(),
            });
        }
        if len < CLIENT_ID_MIN_LEN {
            return Err(ClientIdError::TooShort { len });
        }
        if let Some((position, ch)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(ClientIdError::InvalidChar { ch, position });
        }
        Ok(ClientId(Text::Shared(Arc::from(text))))
    }
}

impl TryFrom<&str> for ClientId {
    type Error = ClientIdError;
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        ClientId::new(text)
    }
}

impl std::str::FromStr for ClientId {
    type Err = ClientIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ClientId::new(text)
    }
}

/// An authenticated user of a tenant: whose pieces a call sees and who owns what it registers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The tenant (institution).
    pub tenant: TenantId,
    /// The user within the tenant.
    pub user: UserId,
}

impl Principal {
    /// The tenant and user named.
    pub fn new(tenant: &str, user: &str) -> Self {
        Principal {
            tenant: TenantId::from(tenant),
            user: UserId::from(user),
        }
    }

    /// The one implicit principal of a server without authentication: user `local` of tenant
    /// `local`.
    pub fn local() -> Self {
        Principal {
            tenant: TenantId::from_static("local"),
            user: UserId::from_static("local"),
        }
    }
}

/// What a caller may do beyond being a member of its tenant: the roles its token carried (the
/// `roles` claim), checked by the domain. Piece roles (owner, editor, viewer) are not here:
/// they are grants on pieces, not properties of a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles {
    /// `admin`: a tenant administrator, who acts as owner of every piece of the tenant and
    /// sees the tenant's clients.
    pub tenant_admin: bool,
    /// `platform-admin` in the platform tenant: the platform operator, who manages tenants.
    pub platform_admin: bool,
}

impl Roles {
    /// A plain member of the tenant.
    pub const MEMBER: Roles = Roles {
        tenant_admin: false,
        platform_admin: false,
    };

    /// Every role: the local principal of a server without authentication.
    pub const ALL: Roles = Roles {
        tenant_admin: true,
        platform_admin: true,
    };

    /// The roles named by a token's roles claim, for a principal of `tenant`; `platform-admin`
    /// counts only in `platform_tenant`. Unknown role names are ignored (an identity provider
    /// may carry roles meant for other services).
    pub fn from_claim<'a>(
        names: impl IntoIterator<Item = &'a str>,
        tenant: &str,
        platform_tenant: &str,
    ) -> Roles {
        let mut roles = Roles::MEMBER;
        for name in names {
            match name {
                "admin" => roles.tenant_admin = true,
                "platform-admin" if tenant == platform_tenant => roles.platform_admin = true,
                _ => {}
            }
        }
        roles
    }
}

/// Who makes one call: the principal, its roles, when its credentials expire, and the
/// registered client the call came from, if it named one. Built by the transport once per
/// request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// The client the call names (`x-ooloi-client-id` on gRPC), not yet checked against the
    /// registry: whoever acts for a client checks that it is registered to this principal.
    pub client: Option<ClientId>,
    /// The principal's roles.
    pub roles: Roles,
    /// When the credentials of this call expire (the token's `exp`, seconds since the Unix
    /// epoch); `None` without authentication. A client registered with them keeps its event
    /// stream until then, or until it renews its session.
    pub expires_at: Option<u64>,
}

impl Caller {
    /// `principal` with every role and credentials that never expire (authentication off),
    /// calling from `client` if given.
    pub fn new(principal: Principal, client: Option<ClientId>) -> Self {
        Caller {
            principal,
            client,
            roles: Roles::ALL,
            expires_at: None,
        }
    }

    /// `principal` with `roles`, authenticated until `expires_at`, calling from `client`.
    pub fn authenticated(
        principal: Principal,
        roles: Roles,
        expires_at: u64,
        client: Option<ClientId>,
    ) -> Self {
        Caller {
            principal,
            client,
            roles,
            expires_at: Some(expires_at),
        }
    }

    /// `principal` with every role, calling from no registered client (a tool, a test, the
    /// embedding code).
    pub fn of(principal: Principal) -> Self {
        Caller::new(principal, None)
    }

    /// The local principal calling from no client: what code in the server's own process acts
    /// as when authentication is off.
    pub fn local() -> Self {
        Caller::of(Principal::local())
    }

    /// The caller's tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_at_and_around_the_bounds() {
        assert_eq!(ClientId::new(""), Err(ClientIdError::TooShort { len: 0 }));
        assert_eq!(ClientId::new("ab"), Err(ClientIdError::TooShort { len: 2 }));
        assert_eq!(ClientId::new("abc").unwrap().as_str(), "abc");
        let max = "a".repeat(64);
        assert_eq!(ClientId::new(&max).unwrap().as_str(), max);
        assert_eq!(
            ClientId::new(&"a".repeat(65)),
            Err(ClientIdError::TooLong { len: 65 })
        );
        let huge = "x".repeat(10 * 1024);
        let err = ClientId::new(&huge).unwrap_err();
        assert_eq!(err, ClientIdError::TooLong { len: 10 * 1024 });
        assert!(
            err.to_string().len() < 300,
            "the message never echoes the input"
        );
    }

    #[test]
    fn every_allowed_character_class_is_accepted() {
        assert!(ClientId::new("Az09-_").is_ok());
        assert!(ClientId::new("---").is_ok());
        assert!(ClientId::new("___").is_ok());
    }

    #[test]
    fn disallowed_characters_are_named_with_their_position() {
        assert_eq!(
            ClientId::new("abc\n"),
            Err(ClientIdError::InvalidChar {
                ch: '\n',
                position: 3
            })
        );
        assert_eq!(
            ClientId::new("ab\0cd"),
            Err(ClientIdError::InvalidChar {
                ch: '\0',
                position: 2
            })
        );
        // Cyrillic small a (U+0430) looks like Latin a.
        let err = ClientId::new("cli\u{0430}nt").unwrap_err();
        assert_eq!(
            err,
            ClientIdError::InvalidChar {
                ch: '\u{0430}',
                position: 3
            }
        );
        assert!(err.to_string().contains("U+0430"), "{err}");
        assert!(
            ClientId::new("ab\n")
                .unwrap_err()
                .to_string()
                .contains("\\n")
        );
        assert!(ClientId::new("has space").is_err());
        assert!(ClientId::new("a.b.c").is_err());
        assert!(ClientId::new("a/b/c").is_err());
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert!(
            ClientId::new("ab")
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
        assert!(
            ClientId::new(&"a".repeat(65))
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn ids_look_up_by_their_text() {
        let mut map = std::collections::HashMap::new();
        map.insert(TenantId::from("acme"), 1);
        assert_eq!(map.get("acme"), Some(&1));
        assert_eq!(Principal::local().tenant, *"local");
        assert_eq!(Caller::local().tenant().as_str(), "local");
        assert_eq!(
            format!("{:?}", ClientId::new("abc").unwrap()),
            "ClientId(\"abc\")"
        );
        // Static and shared text are the same id.
        assert_eq!(TenantId::from_static("local"), TenantId::from("local"));
        assert_eq!(Principal::local(), Principal::new("local", "local"));
        let mut map = std::collections::HashMap::new();
        map.insert(TenantId::from("local"), 2);
        assert_eq!(map.get(&TenantId::from_static("local")), Some(&2));
    }
}
