//! Clients and event routing, the domain half of DESIGN sections 7-8 (no gRPC, no async runtime).
//!
//! - [`ClientId`]: a validated client id (`^[a-zA-Z0-9_-]{3,64}$`, ASCII only).
//! - [`ClientRegistry`]: the connected clients, keyed by (tenant, client id), plus the
//!   piece -> subscribers index. A client id is unique within its tenant and bound to the
//!   principal (tenant and user) that registered it.
//! - [`Client`]: one registered client: identity, its [`EventQueue`](crate::events::EventQueue),
//!   its subscriptions and its statistics ([`ClientStats`]).
//! - [`EventRouter`]: the [`EventSink`](crate::api::EventSink) that turns each committed
//!   transaction's piece events into [`Event`](crate::events::Event)s, encoded once and shared by
//!   every subscriber, and the sender of the client and server events (registration confirmed,
//!   client connected / disconnected, server shutdown).
//!
//! Nothing here blocks on a client: pushing to a queue is a short critical section that drops
//! the oldest event when the queue is full.

pub mod methods;
mod registry;
mod router;
mod totals;

pub use registry::{
    Client, ClientRegistry, ClientStats, ClientStatsSnapshot, DisconnectOutcome, RegistryError,
    RegistryStats, SubscribeError,
};
pub use router::{EventCategory, EventRouter, event_types};
pub use totals::EventTotals;

use std::fmt;
use std::sync::Arc;

/// The shortest allowed client id, in characters.
pub const CLIENT_ID_MIN_LEN: usize = 3;
/// The longest allowed client id, in characters.
pub const CLIENT_ID_MAX_LEN: usize = 64;

/// A client id that matches `^[a-zA-Z0-9_-]{3,64}$`. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(Arc<str>);

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
        Ok(ClientId(Arc::from(text)))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", &*self.0)
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

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
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
}
