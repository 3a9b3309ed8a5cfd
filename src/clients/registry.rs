//! The client registry and the subscription index.
//!
//! Clients live in a two-level concurrent map: tenant -> (client id -> [`Client`]). Lookup is two
//! hash probes (O(1)); counting or iterating a tenant's clients touches only that tenant. A
//! tenant's inner map is created on its first registration and kept (tenants are few; removing
//! an empty inner map would race with a concurrent registration into it).
//!
//! Every registration gets a generation number, unique in the registry, so removal on stream
//! loss ([`ClientRegistry::remove_if_generation`]) never removes a newer registration that
//! reuses the id. An explicit [`ClientRegistry::disconnect`] removes the entry only if it belongs
//! to the calling principal (same tenant and same user).
//!
//! Subscriptions are kept twice: piece -> subscribers (a concurrent map, so routing a piece's
//! events costs its subscriber count, not the client count) and, per client, client -> pieces
//! (so a disconnect unsubscribes everywhere without scanning every piece). Each piece's entry
//! records the tenant of its subscribers, and a subscriber from another tenant is refused: the
//! caller must already have checked that the client's principal can see the piece (which implies
//! the same tenant), and the index enforces it again.
//!
//! Lock order (no cycles): a client's subscription lock, then a shard of the piece index. The
//! router takes only a piece-index shard (briefly, to copy the subscribers) and then queue locks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use dashmap::DashMap;

use super::totals::EventTotals;
use crate::events::EventQueue;
use crate::identity::ClientId;
use crate::identity::{Caller, Principal, TenantId, UserId};
use crate::model::PieceId;
use crate::value::Instant;

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The id is already registered in this tenant (gRPC `ALREADY_EXISTS`).
    #[error("client id {id} is already registered")]
    AlreadyExists { id: ClientId },
}

/// Why a subscription was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The client has been disconnected.
    #[error("the client is no longer registered")]
    ClientGone,
    /// The piece already has subscribers of another tenant (the caller skipped its visibility
    /// check; to the client this must look like a missing piece).
    #[error("piece not found")]
    OtherTenant,
}

/// What [`ClientRegistry::disconnect`] did.
#[derive(Clone, Debug)]
pub enum DisconnectOutcome {
    /// The entry was removed now (by this call): the client is unsubscribed everywhere and its
    /// queue refuses new events (its stream stays open until the client closes it).
    Removed(Arc<Client>),
    /// No such client in the principal's tenant (never registered, or already removed).
    NotRegistered,
    /// The id is registered by another user of the tenant; it was left untouched.
    NotOwner,
}

impl DisconnectOutcome {
    /// True when this call removed the entry.
    pub fn removed(&self) -> bool {
        matches!(self, DisconnectOutcome::Removed(_))
    }
}

/// Per-client counters (relaxed atomics; statistics never affect behaviour). A subset of
/// Ooloi's per-client statistics (reference section 5.6) that this server can measure:
///
/// - `api_calls_total`, `api_calls_failure`: `ExecuteMethod` calls naming this client, and those
///   that failed (success = total - failure);
/// - `events_queued`: events accepted into the queue (Ooloi's `queue-offer-successes`), split by
///   category into `server_events_received`, `piece_events_received`, `connect_events_received`
///   and `disconnect_events_received`;
/// - `events_refused`: pushes refused because the client was leaving (its queue closed or
///   refusing new events);
/// - `events_sent`, `bytes_events`: deliveries written to the stream, recorded by the stream
///   layer with [`ClientStats::record_sent`];
/// - `subscription_adds`, `subscription_removes`: subscriptions that actually changed the set;
/// - events dropped by overflow are counted by the queue itself
///   ([`EventQueue::dropped_total`]) and reported in [`ClientStatsSnapshot`].
///
/// Deliveries are also added to the registry's server-wide [`EventTotals`], which outlive the
/// client.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// The registry's counters (shared), so that what this client was sent is still counted
    /// server-wide after it has gone.
    pub(super) registry: Arc<RegistryStats>,
    pub(super) api_calls_total: AtomicU64,
    pub(super) api_calls_failure: AtomicU64,
    pub(super) events_queued: AtomicU64,
    pub(super) events_refused: AtomicU64,
    pub(super) server_events_received: AtomicU64,
    pub(super) piece_events_received: AtomicU64,
    pub(super) connect_events_received: AtomicU64,
    pub(super) disconnect_events_received: AtomicU64,
    pub(super) events_sent: AtomicU64,
    pub(super) bytes_events: AtomicU64,
    pub(super) subscription_adds: AtomicU64,
    pub(super) subscription_removes: AtomicU64,
}

impl ClientStats {
    /// Records one API call and whether it succeeded.
    pub fn record_api_call(&self, ok: bool) {
        self.api_calls_total.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.api_calls_failure.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one delivery written to the client's stream, of `bytes` bytes.
    pub fn record_sent(&self, bytes: u64) {
        self.events_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_events.fetch_add(bytes, Ordering::Relaxed);
        self.registry.events.record_sent(bytes);
    }
}

/// A point-in-time copy of a client's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStatsSnapshot {
    pub api_calls_total: u64,
    pub api_calls_failure: u64,
    pub events_queued: u64,
    pub events_refused: u64,
    pub events_dropped: u64,
    pub server_events_received: u64,
    pub piece_events_received: u64,
    pub connect_events_received: u64,
    pub disconnect_events_received: u64,
    pub events_sent: u64,
    pub bytes_events: u64,
    pub subscription_adds: u64,
    pub subscription_removes: u64,
    /// Events waiting in the queue now (a gauge).
    pub queue_len: u64,
}

#[derive(Debug, Default)]
struct Subscriptions {
    /// Set once the client has been removed; later subscriptions are refused.
    closed: bool,
    pieces: HashSet<PieceId>,
}

/// One registered client.
#[derive(Debug)]
pub struct Client {
    id: ClientId,
    tenant: TenantId,
    user: UserId,
    display_name: Option<String>,
    generation: u64,
    connected_at: i64,
    queue: EventQueue,
    subscriptions: Mutex<Subscriptions>,
    stats: ClientStats,
    /// When the session's credentials expire, seconds since the Unix epoch; 0 for never.
    session_expires_at: AtomicU64,
    /// Why the server ended the client's stream, if it did (its tenant was suspended): the
    /// stream ends with this error after its queued events.
    ended_by: OnceLock<crate::error::Error>,
    /// Registered by a tenant admin (who reads every piece of the tenant).
    tenant_admin: AtomicBool,
}

impl Client {
    /// When the client's session ends (its credentials' expiry, seconds since the Unix epoch),
    /// if it ever does: its event stream ends then unless the session is renewed.
    pub fn session_expires_at(&self) -> Option<u64> {
        match self.session_expires_at.load(Ordering::Acquire) {
            0 => None,
            at => Some(at),
        }
    }

    /// Records whether the principal that registered it is a tenant admin.
    pub fn set_tenant_admin(&self, admin: bool) {
        self.tenant_admin.store(admin, Ordering::Release);
    }

    /// True when a piece's events as of `access` may reach this client: its principal is a
    /// tenant admin, or has a role on the piece.
    pub fn may_read(&self, access: &crate::api::access::PieceAccess) -> bool {
        self.tenant_admin.load(Ordering::Acquire) || access.role_of_user(&self.user).is_some()
    }

    /// Ends the client's stream with `error` once its queued events are delivered.
    pub fn end_with(&self, error: crate::error::Error) {
        let _ = self.ended_by.set(error);
        self.queue.close();
    }

    /// Why the server ended the stream, if it did.
    pub fn ended_by(&self) -> Option<&crate::error::Error> {
        self.ended_by.get()
    }

    /// Sets when the session ends (`None`: never): at registration, and on renewal with the
    /// principal's fresh credentials.
    pub fn set_session_expires_at(&self, at: Option<u64>) {
        self.session_expires_at
            .store(at.unwrap_or(0), Ordering::Release);
    }

    /// The client id (unique within the tenant).
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// The tenant of the principal that registered it.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The user of the principal that registered it.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The display name the client gave, if any.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// This registration's generation (unique in its registry, increasing).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When it registered, microseconds since the Unix epoch.
    pub fn connected_at(&self) -> i64 {
        self.connected_at
    }

    /// Its event queue (the stream drains it).
    pub fn queue(&self) -> &EventQueue {
        &self.queue
    }

    /// Its counters.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// True when `principal` is the one that registered this client.
    pub fn is_owned_by(&self, principal: &Principal) -> bool {
        self.tenant == principal.tenant && self.user == principal.user
    }

    /// True when `piece` is among its subscriptions.
    pub fn is_subscribed(&self, piece: PieceId) -> bool {
        self.lock_subs().pieces.contains(&piece)
    }

    /// Its subscriptions now (unordered).
    pub fn subscriptions(&self) -> Vec<PieceId> {
        self.lock_subs().pieces.iter().copied().collect()
    }

    /// True once the client has been removed from the registry.
    pub fn is_closed(&self) -> bool {
        self.lock_subs().closed
    }

    /// A copy of its statistics.
    pub fn stats_snapshot(&self) -> ClientStatsSnapshot {
        let s = &self.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStatsSnapshot {
            api_calls_total: get(&s.api_calls_total),
            api_calls_failure: get(&s.api_calls_failure),
            events_queued: get(&s.events_queued),
            events_refused: get(&s.events_refused),
            events_dropped: self.queue.dropped_total(),
            server_events_received: get(&s.server_events_received),
            piece_events_received: get(&s.piece_events_received),
            connect_events_received: get(&s.connect_events_received),
            disconnect_events_received: get(&s.disconnect_events_received),
            events_sent: get(&s.events_sent),
            bytes_events: get(&s.bytes_events),
            subscription_adds: get(&s.subscription_adds),
            subscription_removes: get(&s.subscription_removes),
            queue_len: self.queue.len() as u64,
        }
    }

    fn lock_subs(&self) -> MutexGuard<'_, Subscriptions> {
        // Nothing panics while holding this lock; a poisoned one still guards consistent data.
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One piece's subscribers: all of one tenant, keyed by registration generation.
#[derive(Debug)]
struct PieceSubscribers {
    tenant: TenantId,
    clients: HashMap<u64, Arc<Client>>,
}

/// Registry-wide counters (relaxed atomics). They survive client churn: a client's own counters
/// go with it, these stay for the life of the process.
#[derive(Debug, Default)]
pub struct RegistryStats {
    /// Successful registrations.
    pub clients_connected_total: AtomicU64,
    /// Removals (explicit or by stream loss).
    pub clients_disconnected_total: AtomicU64,
    /// Removals because the client's event stream ended while its registration still existed
    /// (no `Disconnect` first) and the server was not shutting down: the network dropped, the
    /// process died, or the client closed its channels. A subset of
    /// `clients_disconnected_total`.
    pub clients_disconnected_involuntary: AtomicU64,
    /// The registered time of every removed client, added up, in microseconds.
    pub connection_duration_micros_total: AtomicU64,
    /// Registrations refused as duplicates.
    pub client_registrations_rejected: AtomicU64,
    /// Subscriptions added.
    pub subscription_adds_total: AtomicU64,
    /// Subscriptions removed (explicitly or by disconnect).
    pub subscription_removes_total: AtomicU64,
    /// Events offered to, queued in, dropped from and sent by every client's queue.
    pub events: EventTotals,
}

/// What the event queues hold at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Events waiting, over every client.
    pub total: u64,
    /// Events waiting in the fullest client queue.
    pub max: u64,
}

type TenantClients = Arc<DashMap<ClientId, Arc<Client>>>;

/// The connected clients and their piece subscriptions.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    tenants: DashMap<TenantId, TenantClients>,
    pieces: DashMap<PieceId, PieceSubscribers>,
    next_generation: AtomicU64,
    stats: Arc<RegistryStats>,
    /// Set when the server starts shutting down: streams that end from then on were ended by
    /// the server, so their removals are not involuntary.
    stopping: AtomicBool,
}

impl ClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registry-wide counters.
    pub fn stats(&self) -> &RegistryStats {
        &self.stats
    }

    /// Notes that the server is shutting down: from now on a lost stream is the server's doing
    /// and is not counted as an involuntary disconnect.
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// True once [`ClientRegistry::begin_shutdown`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn tenant_map(&self, tenant: &str) -> Option<TenantClients> {
        self.tenants.get(tenant).map(|m| Arc::clone(m.value()))
    }

    /// Registers `id` for `principal` with a queue of `queue_capacity` events (at least 1).
    /// Refuses an id already registered in the principal's tenant; the same id in another
    /// tenant is a different client.
    pub fn register(
        &self,
        principal: &Principal,
        id: ClientId,
        display_name: Option<String>,
        queue_capacity: usize,
    ) -> Result<Arc<Client>, RegistryError> {
        self.register_with(principal, id, display_name, queue_capacity, |_| {})
    }

    /// Like [`ClientRegistry::register`], running `before_visible` on the new client before
    /// any other thread can find it, so what it queues (the registration confirmation) comes
    /// before any broadcast another registration sends. It runs while the tenant's map has the
    /// id reserved: it must not look up clients.
    pub fn register_with(
        &self,
        principal: &Principal,
        id: ClientId,
        display_name: Option<String>,
        queue_capacity: usize,
        before_visible: impl FnOnce(&Arc<Client>),
    ) -> Result<Arc<Client>, RegistryError> {
        let map = match self.tenant_map(&principal.tenant) {
            Some(m) => m,
            None => Arc::clone(
                self.tenants
                    .entry(principal.tenant.clone())
                    .or_default()
                    .value(),
            ),
        };
        match map.entry(id) {
            dashmap::Entry::Occupied(e) => {
                self.stats
                    .client_registrations_rejected
                    .fetch_add(1, Ordering::Relaxed);
                Err(RegistryError::AlreadyExists {
                    id: e.key().clone(),
                })
            }
            dashmap::Entry::Vacant(e) => {
                let client = Arc::new(Client {
                    id: e.key().clone(),
                    tenant: principal.tenant.clone(),
                    user: principal.user.clone(),
                    display_name,
                    generation: self.next_generation.fetch_add(1, Ordering::Relaxed) + 1,
                    connected_at: Instant::now().epoch_micros(),
                    queue: EventQueue::new(queue_capacity),
                    subscriptions: Mutex::new(Subscriptions::default()),
                    stats: ClientStats {
                        registry: Arc::clone(&self.stats),
                        ..ClientStats::default()
                    },
                    session_expires_at: AtomicU64::new(0),
                    ended_by: OnceLock::new(),
                    tenant_admin: AtomicBool::new(false),
                });
                before_visible(&client);
                e.insert(Arc::clone(&client));
                self.stats
                    .clients_connected_total
                    .fetch_add(1, Ordering::Relaxed);
                Ok(client)
            }
        }
    }

    /// The client registered as `id` in `tenant`.
    pub fn get(&self, tenant: &str, id: &ClientId) -> Option<Arc<Client>> {
        self.tenant_map(tenant)?
            .get(id)
            .map(|c| Arc::clone(c.value()))
    }

    /// The client registered as `id` in the principal's tenant, if the principal registered it
    /// (`None` both when it is missing and when it belongs to another user).
    pub fn get_owned(&self, principal: &Principal, id: &ClientId) -> Option<Arc<Client>> {
        self.get(&principal.tenant, id)
            .filter(|c| c.is_owned_by(principal))
    }

    /// The registered client a caller calls from: the one its `client` names, if its principal
    /// registered it (`None` when the caller names none, or one that is missing or another
    /// user's).
    pub fn client_of(&self, caller: &Caller) -> Option<Arc<Client>> {
        self.get_owned(&caller.principal, caller.client.as_ref()?)
    }

    /// How many clients `tenant` has now.
    pub fn count(&self, tenant: &str) -> usize {
        self.tenant_map(tenant).map_or(0, |m| m.len())
    }

    /// How many clients all tenants have now.
    pub fn total(&self) -> usize {
        self.tenants.iter().map(|m| m.value().len()).sum()
    }

    /// A snapshot of the tenant's clients (unordered).
    pub fn clients_of(&self, tenant: &str) -> Vec<Arc<Client>> {
        self.tenant_map(tenant).map_or_else(Vec::new, |m| {
            m.iter().map(|c| Arc::clone(c.value())).collect()
        })
    }

    /// The tenants that have had clients, sorted.
    pub fn tenants(&self) -> Vec<TenantId> {
        let mut all: Vec<TenantId> = self.tenants.iter().map(|m| m.key().clone()).collect();
        all.sort();
        all
    }

    /// A snapshot of every client of every tenant (unordered).
    pub fn all_clients(&self) -> Vec<Arc<Client>> {
        let maps: Vec<TenantClients> = self.tenants.iter().map(|m| Arc::clone(m.value())).collect();
        maps.iter()
            .flat_map(|m| m.iter().map(|c| Arc::clone(c.value())).collect::<Vec<_>>())
            .collect()
    }

    /// What the event queues hold now, over every client.
    pub fn queue_depths(&self) -> QueueDepths {
        self.all_clients()
            .iter()
            .map(|c| c.queue().len() as u64)
            .fold(QueueDepths::default(), |d, len| QueueDepths {
                total: d.total + len,
                max: d.max.max(len),
            })
    }

    /// Subscriptions now: added minus removed (both counted under the same locks that change
    /// the subscription sets, so the difference is never negative for long; it is clamped at
    /// 0).
    pub fn subscriptions_current(&self) -> u64 {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        load(&self.stats.subscription_adds_total)
            .saturating_sub(load(&self.stats.subscription_removes_total))
    }

    /// Removes the principal's client `id`, exactly once: the call that removes it gets
    /// [`DisconnectOutcome::Removed`], every later one [`DisconnectOutcome::NotRegistered`]. An
    /// id registered by another user of the tenant is refused ([`DisconnectOutcome::NotOwner`])
    /// and left untouched; an id of another tenant is simply not there.
    pub fn disconnect(&self, principal: &Principal, id: &ClientId) -> DisconnectOutcome {
        let Some(map) = self.tenant_map(&principal.tenant) else {
            return DisconnectOutcome::NotRegistered;
        };
        match map.remove_if(id, |_, c| c.is_owned_by(principal)) {
            Some((_, client)) => {
                self.retire(&client);
                DisconnectOutcome::Removed(client)
            }
            None => match map.get(id) {
                Some(c) if !c.is_owned_by(principal) => DisconnectOutcome::NotOwner,
                _ => DisconnectOutcome::NotRegistered,
            },
        }
    }

    /// Removes `id` in `tenant` only if its current registration is `generation` (the stream of
    /// that registration was lost); a newer registration under the same id is left alone.
    /// Returns the removed client.
    pub fn remove_if_generation(
        &self,
        tenant: &str,
        id: &ClientId,
        generation: u64,
    ) -> Option<Arc<Client>> {
        let (_, client) = self
            .tenant_map(tenant)?
            .remove_if(id, |_, c| c.generation == generation)?;
        if !self.is_stopping() {
            self.stats
                .clients_disconnected_involuntary
                .fetch_add(1, Ordering::Relaxed);
        }
        self.retire(&client);
        Some(client)
    }

    /// After removal from the map: refuse further subscriptions, unsubscribe everywhere, and
    /// make the queue refuse new events (what is queued can still be drained; the stream is
    /// not ended here).
    fn retire(&self, client: &Arc<Client>) {
        self.stats
            .clients_disconnected_total
            .fetch_add(1, Ordering::Relaxed);
        let registered_for = Instant::now().epoch_micros() - client.connected_at;
        self.stats.connection_duration_micros_total.fetch_add(
            u64::try_from(registered_for).unwrap_or(0),
            Ordering::Relaxed,
        );
        let pieces = {
            let mut subs = client.lock_subs();
            subs.closed = true;
            std::mem::take(&mut subs.pieces)
        };
        for piece in pieces {
            self.unsubscribed(piece, client);
        }
        // The queue refuses new events (also from a router that copied the subscribers just
        // before this removal) but is not closed: a client that disconnected keeps its stream
        // until it closes it, since ending it here would race the client's in-flight calls.
        client.queue.refuse_new_events();
    }

    /// Takes `client` out of `piece`'s subscribers and counts the removal.
    fn unsubscribed(&self, piece: PieceId, client: &Client) {
        self.unindex(piece, client);
        self.stats
            .subscription_removes_total
            .fetch_add(1, Ordering::Relaxed);
        client
            .stats
            .subscription_removes
            .fetch_add(1, Ordering::Relaxed);
    }

    fn unindex(&self, piece: PieceId, client: &Client) {
        if let Some(mut entry) = self.pieces.get_mut(&piece) {
            entry.clients.remove(&client.generation);
        }
        self.pieces.remove_if(&piece, |_, e| e.clients.is_empty());
    }

    /// Subscribes `client` to `piece`'s events. Idempotent: `Ok(true)` when added now,
    /// `Ok(false)` when it already was. The caller must have checked that the client's principal
    /// can see the piece (so the piece is of the client's tenant); the index refuses a client of
    /// another tenant than the piece's current subscribers all the same.
    pub fn subscribe(&self, client: &Arc<Client>, piece: PieceId) -> Result<bool, SubscribeError> {
        let mut subs = client.lock_subs();
        if subs.closed {
            return Err(SubscribeError::ClientGone);
        }
        if subs.pieces.contains(&piece) {
            return Ok(false);
        }
        {
            let mut entry = self
                .pieces
                .entry(piece)
                .or_insert_with(|| PieceSubscribers {
                    tenant: client.tenant.clone(),
                    clients: HashMap::new(),
                });
            if entry.tenant != client.tenant {
                return Err(SubscribeError::OtherTenant);
            }
            entry.clients.insert(client.generation, Arc::clone(client));
        }
        subs.pieces.insert(piece);
        self.stats
            .subscription_adds_total
            .fetch_add(1, Ordering::Relaxed);
        client
            .stats
            .subscription_adds
            .fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Unsubscribes `client` from `piece`; no further event of the piece is queued for it once
    /// this returns. Idempotent: `true` when it was subscribed.
    pub fn unsubscribe(&self, client: &Client, piece: PieceId) -> bool {
        let mut subs = client.lock_subs();
        if !subs.pieces.remove(&piece) {
            return false;
        }
        self.unsubscribed(piece, client);
        drop(subs);
        true
    }

    /// Unsubscribes every client from `piece` (it was deleted, or access was revoked for all).
    /// Returns how many were subscribed.
    pub fn unsubscribe_all(&self, piece: PieceId) -> usize {
        let clients: Vec<Arc<Client>> = self
            .pieces
            .get(&piece)
            .map(|e| e.clients.values().cloned().collect())
            .unwrap_or_default();
        clients
            .iter()
            .filter(|c| self.unsubscribe(c, piece))
            .count()
    }

    /// The current subscribers of `piece` (all of one tenant), copied out of the index.
    pub fn subscribers(&self, piece: PieceId) -> Vec<Arc<Client>> {
        self.pieces
            .get(&piece)
            .map(|e| e.clients.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many clients are subscribed to `piece`.
    pub fn subscriber_count(&self, piece: PieceId) -> usize {
        self.pieces.get(&piece).map_or(0, |e| e.clients.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }

    #[test]
    fn generations_are_unique_and_increasing() {
        let r = ClientRegistry::new();
        let p = Principal::new("t", "u");
        let a = r.register(&p, id("aaa"), None, 4).unwrap();
        let b = r.register(&p, id("bbb"), None, 4).unwrap();
        assert!(b.generation() > a.generation());
    }

    #[test]
    fn a_piece_entry_disappears_with_its_last_subscriber() {
        let r = ClientRegistry::new();
        let p = Principal::new("t", "u");
        let c = r.register(&p, id("aaa"), None, 4).unwrap();
        let piece = PieceId::mint();
        assert_eq!(r.subscribe(&c, piece), Ok(true));
        assert_eq!(r.subscribe(&c, piece), Ok(false));
        assert_eq!(r.subscriber_count(piece), 1);
        assert!(r.unsubscribe(&c, piece));
        assert!(!r.unsubscribe(&c, piece));
        assert!(r.pieces.is_empty());
    }

    #[test]
    fn only_a_stream_lost_outside_shutdown_is_involuntary() {
        let r = ClientRegistry::new();
        let p = Principal::new("t", "u");
        let a = r.register(&p, id("aaa"), None, 4).unwrap();
        let b = r.register(&p, id("bbb"), None, 4).unwrap();
        let c = r.register(&p, id("ccc"), None, 4).unwrap();
        let involuntary = || {
            r.stats()
                .clients_disconnected_involuntary
                .load(Ordering::Relaxed)
        };
        assert!(r.disconnect(&p, a.id()).removed());
        assert_eq!(involuntary(), 0, "an explicit disconnect is voluntary");
        assert!(
            r.remove_if_generation("t", b.id(), b.generation())
                .is_some()
        );
        assert_eq!(involuntary(), 1);
        r.begin_shutdown();
        assert!(
            r.remove_if_generation("t", c.id(), c.generation())
                .is_some()
        );
        assert_eq!(involuntary(), 1, "the server ended that stream");
        assert_eq!(
            r.stats().clients_disconnected_total.load(Ordering::Relaxed),
            3
        );
    }

    #[test]
    fn what_a_client_was_sent_is_still_counted_after_it_left() {
        let r = ClientRegistry::new();
        let p = Principal::new("t", "u");
        let a = r.register(&p, id("aaa"), None, 4).unwrap();
        a.stats().record_sent(10);
        a.stats().record_sent(5);
        assert!(r.disconnect(&p, a.id()).removed());
        drop(a);
        assert_eq!(r.stats().events.sent(), 2);
        assert_eq!(r.stats().events.bytes_sent(), 15);
    }

    #[test]
    fn a_removed_client_cannot_subscribe() {
        let r = ClientRegistry::new();
        let p = Principal::new("t", "u");
        let c = r.register(&p, id("aaa"), None, 4).unwrap();
        assert!(r.disconnect(&p, c.id()).removed());
        assert_eq!(
            r.subscribe(&c, PieceId::mint()),
            Err(SubscribeError::ClientGone)
        );
        assert!(r.pieces.is_empty());
    }
}
