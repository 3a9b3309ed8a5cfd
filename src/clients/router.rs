//! `EventRouter`: the [`EventSink`] that delivers piece events to subscribers, and the sender of
//! client and server events.
//!
//! Piece events: for each [`PieceCommit`], each [`PieceEvent`] is encoded once as an [`Event`]
//! (`event_type` = the kind's name, data = [`PieceEvent::to_value`], the piece id) and the same
//! `Arc<Event>` is pushed to the queue of every subscriber of the piece. A commit does not carry
//! its tenant; it needs none, because a piece's subscribers are only ever of the piece's tenant:
//! subscribing requires that the client's principal can see the piece (checked by the caller,
//! and a piece is visible only within its tenant), and the subscription index refuses a
//! subscriber of another tenant than the piece's current ones (see
//! [`ClientRegistry::subscribe`]). Routing cost is the piece's subscriber count; a commit with
//! no subscribers encodes nothing.
//!
//! Client and server events:
//! - `client-registration-confirmed` to the new client only:
//!   `{:type :client-registration-confirmed :client-id "..." :message "Registration successful"
//!   :server-timestamp µs}`;
//! - `server-client-connected` / `server-client-disconnected` to the *other* clients of the same
//!   tenant only: `{:type ... :client-count n :display-name s-or-nil}`; never the client's id
//!   (with authentication off it is the credential);
//! - `server-shutdown` to every client: `{:type :server-shutdown :message "..."}`.
//!
//! Pushing never blocks: a full queue drops its oldest event (see [`EventQueue`]). A commit's
//! fan-out queues every event first and wakes the waiting streams afterwards, all at once,
//! through the router's [`WakeDispatch`]: commits run on executor threads, and the transport
//! can wake a thousand streams far more cheaply from one of its own threads than one by one
//! from outside.
//!
//! [`EventQueue`]: crate::events::EventQueue

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Waker;

use super::registry::{Client, ClientRegistry, DisconnectOutcome, RegistryError};
use super::totals::OfferTally;
use crate::api::{EventSink, PieceCommit};
use crate::events::{Event, Offer};
use crate::identity::ClientId;
use crate::identity::Principal;
use crate::model::classify::PieceEvent;
use crate::value::{Instant, Value};

/// The names of the client and server events.
pub mod event_types {
    /// To the new client only, after it registered.
    pub const CLIENT_REGISTRATION_CONFIRMED: &str = "client-registration-confirmed";
    /// To the other clients of the tenant, after a client registered.
    pub const SERVER_CLIENT_CONNECTED: &str = "server-client-connected";
    /// To the remaining clients of the tenant, after a client was removed.
    pub const SERVER_CLIENT_DISCONNECTED: &str = "server-client-disconnected";
    /// To everyone, when the server is shutting down.
    pub const SERVER_SHUTDOWN: &str = "server-shutdown";
}

/// Which per-client counter an event counts under (Ooloi's buckets, reference section 5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventCategory {
    /// Piece events.
    Piece,
    /// Server events (shutdown, maintenance, ...).
    Server,
    /// `client-registration-confirmed` and `server-client-connected`.
    Connect,
    /// `server-client-disconnected`.
    Disconnect,
}

impl EventCategory {
    /// Every category, in [`EventCategory::index`] order.
    pub const ALL: [EventCategory; 4] = [
        EventCategory::Piece,
        EventCategory::Server,
        EventCategory::Connect,
        EventCategory::Disconnect,
    ];

    /// Its position in [`EventCategory::ALL`] (for counter arrays).
    pub fn index(self) -> usize {
        match self {
            EventCategory::Piece => 0,
            EventCategory::Server => 1,
            EventCategory::Connect => 2,
            EventCategory::Disconnect => 3,
        }
    }

    /// Its lower-case name, as statistics and metric labels spell it.
    pub fn name(self) -> &'static str {
        match self {
            EventCategory::Piece => "piece",
            EventCategory::Server => "server",
            EventCategory::Connect => "connect",
            EventCategory::Disconnect => "disconnect",
        }
    }

    /// The category of an already encoded event (used for a dropped event, whose sender is
    /// long gone): events about a piece are piece events; the connect and disconnect events by
    /// their type; anything else is a server event.
    pub fn of(event: &Event) -> EventCategory {
        if event.piece_id.is_some() {
            return EventCategory::Piece;
        }
        match event.event_type.as_str() {
            event_types::CLIENT_REGISTRATION_CONFIRMED | event_types::SERVER_CLIENT_CONNECTED => {
                EventCategory::Connect
            }
            event_types::SERVER_CLIENT_DISCONNECTED => EventCategory::Disconnect,
            _ => EventCategory::Server,
        }
    }
}

/// The `client-registration-confirmed` event of client `id`.
fn confirmation(id: &ClientId) -> Arc<Event> {
    let now = Instant::now().epoch_micros();
    let data = Value::map([
        (
            Value::keyword("type"),
            Value::keyword(event_types::CLIENT_REGISTRATION_CONFIRMED),
        ),
        (Value::keyword("client-id"), Value::string(id.as_str())),
        (
            Value::keyword("message"),
            Value::string("Registration successful"),
        ),
        (Value::keyword("server-timestamp"), Value::Int(now)),
    ]);
    Arc::new(Event::new(
        event_types::CLIENT_REGISTRATION_CONFIRMED,
        None,
        now,
        &data,
    ))
}

/// Where an event goes in a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Behind what is queued (every event but one).
    Back,
    /// First, never dropped (the registration confirmation).
    First,
}

/// Pushes `event` to each of `clients`' queues and counts it, per client and (once, for the
/// whole fan-out) server-wide. Never blocks. Returns how many queues accepted it.
/// Wakes the consumers of the queues a fan-out has just filled.
pub trait WakeDispatch: Send + Sync + std::fmt::Debug {
    /// Wakes every one of `wakers`.
    fn wake_all(&self, wakers: Vec<Waker>);
}

/// Wakes each waker where the fan-out ran: the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct WakeInline;

impl WakeDispatch for WakeInline {
    fn wake_all(&self, wakers: Vec<Waker>) {
        wakers.into_iter().for_each(Waker::wake);
    }
}

fn deliver<'c>(
    registry: &ClientRegistry,
    clients: impl IntoIterator<Item = &'c Arc<Client>>,
    event: &Arc<Event>,
    category: EventCategory,
) -> usize {
    let mut wakers = Vec::new();
    let queued = deliver_at(registry, clients, event, category, Place::Back, &mut wakers);
    WakeInline.wake_all(wakers);
    queued
}

/// Queues `event` for `clients`; the wakers of consumers that were waiting go to `wakers`
/// (the first place wakes its consumer at once: it is only ever one client).
fn deliver_at<'c>(
    registry: &ClientRegistry,
    clients: impl IntoIterator<Item = &'c Arc<Client>>,
    event: &Arc<Event>,
    category: EventCategory,
    place: Place,
    wakers: &mut Vec<Waker>,
) -> usize {
    let mut tally = OfferTally::default();
    for client in clients {
        let offer = match place {
            Place::Back => client.queue().offer_deferred(Arc::clone(event), wakers),
            Place::First => client.queue().offer_first(Arc::clone(event)),
        };
        tally.count(&offer);
        let stats = client.stats();
        if offer == Offer::Refused {
            stats.events_refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        stats.events_queued.fetch_add(1, Ordering::Relaxed);
        let counter = match category {
            EventCategory::Piece => &stats.piece_events_received,
            EventCategory::Server => &stats.server_events_received,
            EventCategory::Connect => &stats.connect_events_received,
            EventCategory::Disconnect => &stats.disconnect_events_received,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    registry.stats().events.record_offers(category, &tally);
    tally.queued() as usize
}

/// Routes events to clients' queues. Cheap to share (`Arc<EventRouter>` as the API's sink).
#[derive(Debug, Clone)]
pub struct EventRouter {
    registry: Arc<ClientRegistry>,
    wakes: Arc<dyn WakeDispatch>,
}

impl EventRouter {
    /// A router over `registry` that wakes streams where the fan-out runs.
    pub fn new(registry: Arc<ClientRegistry>) -> Self {
        EventRouter::with_wakes(registry, Arc::new(WakeInline))
    }

    /// A router over `registry` whose piece-event fan-outs wake their streams through `wakes`.
    pub fn with_wakes(registry: Arc<ClientRegistry>, wakes: Arc<dyn WakeDispatch>) -> Self {
        EventRouter { registry, wakes }
    }

    /// The registry it routes to.
    pub fn registry(&self) -> &Arc<ClientRegistry> {
        &self.registry
    }

    /// Registers a client ([`ClientRegistry::register`]), queues its
    /// `client-registration-confirmed` and tells the tenant's other clients
    /// (`server-client-connected`).
    pub fn register(
        &self,
        principal: &Principal,
        id: ClientId,
        display_name: Option<String>,
        queue_capacity: usize,
    ) -> Result<Arc<Client>, RegistryError> {
        let confirmation = confirmation(&id);
        // The confirmation is put first in the new client's queue before anyone else can find
        // the client, so it is always the first event of the stream, however many
        // registrations race with it and however many of their broadcasts arrive before the
        // client reads.
        let client =
            self.registry
                .register_with(principal, id, display_name, queue_capacity, |client| {
                    deliver_at(
                        &self.registry,
                        [client],
                        &confirmation,
                        EventCategory::Connect,
                        Place::First,
                        &mut Vec::new(),
                    );
                })?;
        self.tell_tenant(
            &client,
            event_types::SERVER_CLIENT_CONNECTED,
            EventCategory::Connect,
        );
        Ok(client)
    }

    /// Disconnects a client ([`ClientRegistry::disconnect`]) and, if this call removed it, tells
    /// the tenant's remaining clients (`server-client-disconnected`).
    pub fn disconnect(&self, principal: &Principal, id: &ClientId) -> DisconnectOutcome {
        let outcome = self.registry.disconnect(principal, id);
        if let DisconnectOutcome::Removed(client) = &outcome {
            self.client_removed(client);
        }
        outcome
    }

    /// Removes a client whose stream was lost ([`ClientRegistry::remove_if_generation`]) and, if
    /// removed, tells the tenant's remaining clients.
    pub fn stream_lost(&self, tenant: &str, id: &ClientId, generation: u64) -> Option<Arc<Client>> {
        let client = self.registry.remove_if_generation(tenant, id, generation)?;
        self.client_removed(&client);
        Some(client)
    }

    /// Sends the confirmation to `client` and `server-client-connected` to the other clients of
    /// its tenant. [`EventRouter::register`] calls this; call it directly only after registering
    /// through the registry itself.
    pub fn client_registered(&self, client: &Arc<Client>) {
        let event = confirmation(client.id());
        deliver(&self.registry, [client], &event, EventCategory::Connect);
        self.tell_tenant(
            client,
            event_types::SERVER_CLIENT_CONNECTED,
            EventCategory::Connect,
        );
    }

    /// Sends `server-client-disconnected` to the remaining clients of `client`'s tenant.
    /// [`EventRouter::disconnect`] and [`EventRouter::stream_lost`] call this.
    pub fn client_removed(&self, client: &Arc<Client>) {
        self.tell_tenant(
            client,
            event_types::SERVER_CLIENT_DISCONNECTED,
            EventCategory::Disconnect,
        );
    }

    /// `{:type t :client-count n :display-name s}` to every client of `about`'s tenant except
    /// `about` itself. Encoded once.
    fn tell_tenant(&self, about: &Client, event_type: &str, category: EventCategory) {
        let others: Vec<Arc<Client>> = self
            .registry
            .clients_of(about.tenant())
            .into_iter()
            .filter(|c| c.generation() != about.generation())
            .collect();
        if others.is_empty() {
            return;
        }
        let count = self.registry.count(about.tenant());
        let data = Value::map([
            (Value::keyword("type"), Value::keyword(event_type)),
            (Value::keyword("client-count"), Value::Int(count as i64)),
            (
                Value::keyword("display-name"),
                about.display_name().map_or(Value::Nil, Value::string),
            ),
        ]);
        let event = Arc::new(Event::new(event_type, None, 0, &data));
        deliver(&self.registry, &others, &event, category);
    }

    /// Sends `server-shutdown` with `message` to every client of every tenant. Returns how many
    /// queues accepted it.
    pub fn shutdown(&self, message: &str) -> usize {
        // Streams that end from here on are ended by the server, not lost.
        self.registry.begin_shutdown();
        let data = Value::map([
            (
                Value::keyword("type"),
                Value::keyword(event_types::SERVER_SHUTDOWN),
            ),
            (Value::keyword("message"), Value::string(message)),
        ]);
        let event = Arc::new(Event::new(event_types::SERVER_SHUTDOWN, None, 0, &data));
        deliver(
            &self.registry,
            &self.registry.all_clients(),
            &event,
            EventCategory::Server,
        )
    }

    /// Encodes a piece event once (what every subscriber receives).
    pub fn encode(event: &PieceEvent) -> Arc<Event> {
        Arc::new(Event::new(
            event.kind.name(),
            Some(event.piece_id),
            0,
            &event.to_value(),
        ))
    }

    /// Delivers `commit`'s events to the piece's subscribers; returns how many deliveries were
    /// queued (events x accepting subscribers).
    pub fn route(&self, commit: &PieceCommit) -> usize {
        if !commit.revoked.is_empty() {
            // In the piece's commit order: nothing committed after the revocation reaches them.
            for client in self.registry.subscribers(commit.piece_id) {
                if commit.revoked.iter().any(|user| user == client.user()) {
                    self.registry.unsubscribe(&client, commit.piece_id);
                }
            }
        }
        if commit.events.is_empty() {
            return 0;
        }
        // Copy the subscribers out so no index lock is held while encoding or pushing.
        let mut subscribers = self.registry.subscribers(commit.piece_id);
        if let Some(access) = &commit.access {
            // Only those who could read the piece at this commit (a subscription that raced
            // a revocation gets nothing committed after it).
            subscribers.retain(|client| client.may_read(access));
        }
        let deleted = commit
            .events
            .iter()
            .any(|e| e.kind == crate::model::classify::EventKind::PieceDeleted);
        if deleted {
            // The piece is gone: its subscriptions go with it, after this last event.
            let delivered = self.deliver_piece_events(commit, &subscribers);
            self.registry.unsubscribe_all(commit.piece_id);
            return delivered;
        }
        if subscribers.is_empty() {
            return 0;
        }
        self.deliver_piece_events(commit, &subscribers)
    }

    fn deliver_piece_events(&self, commit: &PieceCommit, subscribers: &[Arc<Client>]) -> usize {
        let mut delivered = 0;
        let mut wakers = Vec::new();
        for piece_event in &commit.events {
            let event = Self::encode(piece_event);
            delivered += deliver_at(
                &self.registry,
                subscribers,
                &event,
                EventCategory::Piece,
                Place::Back,
                &mut wakers,
            );
        }
        self.wakes.wake_all(wakers);
        delivered
    }
}

impl EventSink for EventRouter {
    /// The event stage: behind the durability stage the commit arrives already settled; used
    /// directly (tests, tools) it settles the commit, as nothing makes it durable.
    fn piece_committed(&self, mut commit: PieceCommit) {
        commit.ack.settle(Ok(()));
        self.route(&commit);
    }
}
