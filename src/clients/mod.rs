//! Clients and event routing, the domain half of DESIGN sections 7-8 (no gRPC, no async runtime).
//!
//! - [`ClientRegistry`]: the connected clients, keyed by (tenant, [`ClientId`](crate::identity::ClientId)), plus the
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
    Client, ClientRegistry, ClientStats, ClientStatsSnapshot, DisconnectOutcome, QueueDepths,
    RegistryError, RegistryStats, SubscribeError,
};
pub use router::{EventCategory, EventRouter, WakeDispatch, WakeInline, event_types};
pub use totals::EventTotals;
