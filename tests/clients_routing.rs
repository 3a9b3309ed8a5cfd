//! Event routing: piece events reach exactly the piece's subscribers, once, encoded once and
//! shared; never another tenant; a stalled subscriber gets the overflow marker and then the
//! newest events; unsubscribing stops delivery at once; client and server events go to the
//! right audience and never carry another client's id.

use std::sync::Arc;

use ooloi_server::api::{EventSink, PieceCommit};
use ooloi_server::clients::{Client, ClientRegistry, EventRouter, event_types};
use ooloi_server::events::{Delivery, Event};
use ooloi_server::identity::{ClientId, Principal};
use ooloi_server::model::PieceId;
use ooloi_server::model::classify::{EventKind, PieceEvent};
use ooloi_server::value::{Value, ValueLimits, wire};

fn id(s: &str) -> ClientId {
    ClientId::new(s).unwrap()
}

fn commit(piece: PieceId, version: u64, kinds: &[EventKind]) -> PieceCommit {
    PieceCommit {
        events: kinds
            .iter()
            .map(|&kind| PieceEvent {
                kind,
                piece_id: piece,
                version,
                data: Vec::new(),
            })
            .collect(),
        ..PieceCommit::new("t".into(), "u".into(), piece, version)
    }
}

fn drain(client: &Client) -> Vec<Delivery> {
    std::iter::from_fn(|| client.queue().try_next()).collect()
}

fn events(client: &Client) -> Vec<Arc<Event>> {
    drain(client)
        .into_iter()
        .map(|d| match d {
            Delivery::Event { event, .. } => event,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn data(event: &Event) -> Value {
    wire::decode(&event.data, &ValueLimits::default()).unwrap()
}

fn field(event: &Event, key: &str) -> Option<Value> {
    data(event).as_map().unwrap().get_keyword(key).cloned()
}

struct Setup {
    router: EventRouter,
}

impl Setup {
    fn new() -> Self {
        Setup {
            router: EventRouter::new(Arc::new(ClientRegistry::new())),
        }
    }

    /// Registers through the registry (no connect events), so queues start empty.
    fn client(&self, tenant: &str, name: &str, capacity: usize) -> Arc<Client> {
        self.router
            .registry()
            .register(&Principal::new(tenant, "u"), id(name), None, capacity)
            .unwrap()
    }
}

#[test]
fn a_piece_event_reaches_exactly_its_subscribers_once_encoded_once() {
    let s = Setup::new();
    let registry = s.router.registry();
    let piece = PieceId::mint();
    let other_piece = PieceId::mint();
    let subs: Vec<_> = (0..3)
        .map(|n| s.client("a", &format!("sub-{n}"), 16))
        .collect();
    let bystander = s.client("a", "bystander", 16);
    let elsewhere = s.client("a", "elsewhere", 16);
    let other_tenant = s.client("b", "sub-0", 16);
    for c in &subs {
        registry.subscribe(c, piece).unwrap();
        registry.subscribe(c, piece).unwrap(); // idempotent: still one delivery
    }
    registry.subscribe(&elsewhere, other_piece).unwrap();
    registry.subscribe(&other_tenant, PieceId::mint()).unwrap();

    let sink: &dyn EventSink = &s.router;
    sink.piece_committed(commit(
        piece,
        7,
        &[
            EventKind::PieceStructureChanged,
            EventKind::PieceMeasuresInvalidated,
        ],
    ));

    let received: Vec<Vec<Arc<Event>>> = subs.iter().map(|c| events(c)).collect();
    for r in &received {
        assert_eq!(r.len(), 2, "each event once");
        assert_eq!(r[0].event_type, "piece-structure-changed");
        assert_eq!(r[1].event_type, "piece-measures-invalidated");
        assert_eq!(r[0].piece_id, Some(piece));
        assert!(Arc::ptr_eq(&r[0], &received[0][0]), "encoded once, shared");
        assert!(Arc::ptr_eq(&r[1], &received[0][1]), "encoded once, shared");
    }
    let d = data(&received[0][0]);
    let m = d.as_map().unwrap();
    assert_eq!(
        m.get_keyword("type"),
        Some(&Value::keyword("piece-structure-changed"))
    );
    assert_eq!(
        m.get_keyword("piece-id"),
        Some(&Value::string(piece.to_string()))
    );
    assert_eq!(m.get_keyword("version"), Some(&Value::Int(7)));
    assert!(bystander.queue().is_empty());
    assert!(elsewhere.queue().is_empty());
    assert!(other_tenant.queue().is_empty(), "never another tenant");
    assert_eq!(subs[0].stats_snapshot().piece_events_received, 2);
}

#[test]
fn another_tenant_never_receives_a_piece_it_cannot_subscribe_to() {
    let s = Setup::new();
    let registry = s.router.registry();
    let piece = PieceId::mint();
    let owner = s.client("a", "same-name", 16);
    let intruder = s.client("b", "same-name", 16);
    registry.subscribe(&owner, piece).unwrap();
    assert!(registry.subscribe(&intruder, piece).is_err());
    s.router
        .route(&commit(piece, 1, &[EventKind::PieceDeleted]));
    assert_eq!(events(&owner).len(), 1);
    assert!(intruder.queue().is_empty());
}

#[test]
fn a_commit_without_subscribers_or_events_delivers_nothing() {
    let s = Setup::new();
    let c = s.client("a", "lonely", 16);
    let piece = PieceId::mint();
    assert_eq!(
        s.router
            .route(&commit(piece, 1, &[EventKind::PieceStructureChanged])),
        0
    );
    s.router.registry().subscribe(&c, piece).unwrap();
    assert_eq!(s.router.route(&commit(piece, 2, &[])), 0);
    assert!(c.queue().is_empty());
}

#[test]
fn a_stalled_subscriber_gets_the_marker_then_the_newest_thousand_in_order() {
    let s = Setup::new();
    let piece = PieceId::mint();
    let stalled = s.client("a", "stalled", 1000);
    s.router.registry().subscribe(&stalled, piece).unwrap();
    for version in 1..=1500 {
        s.router.route(&commit(
            piece,
            version,
            &[EventKind::PieceMeasuresInvalidated],
        ));
    }
    let all = drain(&stalled);
    assert_eq!(all.len(), 1001);
    match &all[0] {
        Delivery::Dropped {
            sequence,
            count,
            pieces,
        } => {
            assert_eq!((*sequence, *count), (1, 500));
            assert_eq!(pieces.iter().copied().collect::<Vec<_>>(), vec![piece]);
        }
        other => panic!("expected the marker first, got {other:?}"),
    }
    let versions: Vec<i64> = all[1..]
        .iter()
        .map(|d| match d {
            Delivery::Event { event, .. } => match field(event, "version") {
                Some(Value::Int(v)) => v,
                other => panic!("no version: {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(versions, (501..=1500).collect::<Vec<i64>>());
    let sequences: Vec<u64> = all.iter().map(Delivery::sequence).collect();
    assert_eq!(sequences, (1..=1001).collect::<Vec<u64>>());
    let stats = stalled.stats_snapshot();
    assert_eq!((stats.events_queued, stats.events_dropped), (1500, 500));
}

#[test]
fn a_stalled_subscriber_does_not_affect_the_others() {
    let s = Setup::new();
    let piece = PieceId::mint();
    let slow = s.client("a", "slow", 2);
    let fast = s.client("a", "fast", 1000);
    s.router.registry().subscribe(&slow, piece).unwrap();
    s.router.registry().subscribe(&fast, piece).unwrap();
    for version in 1..=10 {
        s.router
            .route(&commit(piece, version, &[EventKind::PieceStaffInvalidated]));
    }
    assert_eq!(events(&fast).len(), 10);
    assert!(matches!(
        drain(&slow)[0],
        Delivery::Dropped { count: 8, .. }
    ));
}

#[test]
fn unsubscribe_stops_delivery_at_once() {
    let s = Setup::new();
    let registry = s.router.registry();
    let piece = PieceId::mint();
    let c = s.client("a", "quitter", 16);
    let stays = s.client("a", "stayer", 16);
    registry.subscribe(&c, piece).unwrap();
    registry.subscribe(&stays, piece).unwrap();
    s.router
        .route(&commit(piece, 1, &[EventKind::PieceLayoutInvalidated]));
    assert!(registry.unsubscribe(&c, piece));
    assert!(!registry.unsubscribe(&c, piece), "idempotent");
    s.router
        .route(&commit(piece, 2, &[EventKind::PieceLayoutInvalidated]));
    assert_eq!(events(&c).len(), 1, "only the event before unsubscribing");
    assert_eq!(events(&stays).len(), 2);
}

#[test]
fn registration_confirms_to_the_new_client_and_tells_only_the_others_of_its_tenant() {
    let router = EventRouter::new(Arc::new(ClientRegistry::new()));
    let first = router
        .register(&Principal::new("a", "u1"), id("first-client"), None, 16)
        .unwrap();
    let other_tenant = router
        .register(&Principal::new("b", "u1"), id("b-client"), None, 16)
        .unwrap();
    drain(&first);
    drain(&other_tenant);

    let new = router
        .register(
            &Principal::new("a", "u2"),
            id("secret-id-123"),
            Some("Score Editor".into()),
            16,
        )
        .unwrap();

    let confirmation = events(&new);
    assert_eq!(confirmation.len(), 1, "the confirmation only");
    let c = &confirmation[0];
    assert_eq!(c.event_type, event_types::CLIENT_REGISTRATION_CONFIRMED);
    assert_eq!(field(c, "client-id"), Some(Value::string("secret-id-123")));
    assert_eq!(
        field(c, "message"),
        Some(Value::string("Registration successful"))
    );
    assert_eq!(field(c, "server-timestamp"), Some(Value::Int(c.timestamp)));

    let told = events(&first);
    assert_eq!(told.len(), 1);
    let e = &told[0];
    assert_eq!(e.event_type, event_types::SERVER_CLIENT_CONNECTED);
    assert_eq!(field(e, "client-count"), Some(Value::Int(2)));
    assert_eq!(
        field(e, "display-name"),
        Some(Value::string("Score Editor"))
    );
    assert_eq!(field(e, "client-id"), None);
    assert!(
        !e.data.windows(13).any(|w| w == b"secret-id-123"),
        "the id never appears in another client's event"
    );
    assert!(
        other_tenant.queue().is_empty(),
        "other tenants hear nothing"
    );

    // Disconnect: the remaining clients of the tenant hear it, the leaver does not.
    assert!(
        router
            .disconnect(&Principal::new("a", "u2"), new.id())
            .removed()
    );
    let told = events(&first);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].event_type, event_types::SERVER_CLIENT_DISCONNECTED);
    assert_eq!(field(&told[0], "client-count"), Some(Value::Int(1)));
    assert!(!told[0].data.windows(13).any(|w| w == b"secret-id-123"));
    assert!(new.queue().is_empty());
    assert!(other_tenant.queue().is_empty());

    // A refused or repeated disconnect tells no one.
    assert!(
        !router
            .disconnect(&Principal::new("a", "u2"), new.id())
            .removed()
    );
    assert!(first.queue().is_empty());
}

#[test]
fn stream_loss_announces_once() {
    let router = EventRouter::new(Arc::new(ClientRegistry::new()));
    let watcher = router
        .register(&Principal::new("a", "u"), id("watcher"), None, 16)
        .unwrap();
    let lost = router
        .register(&Principal::new("a", "u"), id("lost-one"), None, 16)
        .unwrap();
    drain(&watcher);
    assert!(
        router
            .stream_lost("a", lost.id(), lost.generation())
            .is_some()
    );
    assert!(
        router
            .stream_lost("a", lost.id(), lost.generation())
            .is_none()
    );
    let told = events(&watcher);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].event_type, event_types::SERVER_CLIENT_DISCONNECTED);
}

#[test]
fn shutdown_reaches_everyone_with_one_shared_event() {
    let s = Setup::new();
    let clients = [
        s.client("a", "one", 4),
        s.client("a", "two", 4),
        s.client("b", "three", 4),
    ];
    assert_eq!(s.router.shutdown("bye"), 3);
    let got: Vec<Arc<Event>> = clients.iter().flat_map(|c| events(c)).collect();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|e| Arc::ptr_eq(e, &got[0])));
    assert_eq!(got[0].event_type, event_types::SERVER_SHUTDOWN);
    assert_eq!(field(&got[0], "message"), Some(Value::string("bye")));
    assert_eq!(clients[2].stats_snapshot().server_events_received, 1);
}

#[test]
fn concurrent_commits_and_churn_never_reach_a_removed_client() {
    let s = Setup::new();
    let registry = s.router.registry();
    let piece = PieceId::mint();
    let keeper = s.client("a", "keeper", 100_000);
    registry.subscribe(&keeper, piece).unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for v in 1..=2000 {
                s.router
                    .route(&commit(piece, v, &[EventKind::PieceSystemInvalidated]));
            }
        });
        scope.spawn(|| {
            for n in 0..200 {
                let c = s.client("a", &format!("churn-{n}"), 10_000);
                registry.subscribe(&c, piece).unwrap();
                assert!(
                    registry
                        .disconnect(&Principal::new("a", "u"), c.id())
                        .removed()
                );
                assert!(!c.is_subscribed(piece));
                let before = c.stats_snapshot().events_queued;
                // Removed: closed queue and out of the index, so nothing more is queued.
                s.router
                    .route(&commit(piece, 0, &[EventKind::PieceSystemInvalidated]));
                assert_eq!(c.stats_snapshot().events_queued, before);
            }
        });
    });
    assert_eq!(registry.subscriber_count(piece), 1);
    assert_eq!(keeper.stats_snapshot().events_queued, 2000 + 200);
}

/// A piece's events go only to subscribers who could read it as of the commit: a subscription
/// that raced a revocation receives nothing committed after it; a tenant admin reads every
/// piece of the tenant.
#[test]
fn events_reach_only_subscribers_who_could_read_the_piece_at_that_commit() {
    use ooloi_server::api::access::{PieceAccess, PieceRole};
    use ooloi_server::identity::UserId;
    use ooloi_server::tenants::DefaultAccess;

    let router = EventRouter::new(Arc::new(ClientRegistry::new()));
    let register = |user: &str, name: &str| {
        router
            .registry()
            .register(&Principal::new("a", user), id(name), None, 16)
            .unwrap()
    };
    let owner = register("owner", "owner-client");
    let bob = register("bob", "bob-client");
    let admin = register("root", "admin-client");
    admin.set_tenant_admin(true);
    let piece = PieceId::mint();
    for c in [&owner, &bob, &admin] {
        router.registry().subscribe(c, piece).unwrap();
    }
    let mut access = PieceAccess::new(UserId::from("owner"), DefaultAccess::Private);
    let at = |version: u64, access: &PieceAccess| PieceCommit {
        access: Some(Arc::new(access.clone())),
        ..commit(piece, version, &[EventKind::PieceStructureChanged])
    };
    // Bob has no role (as after a revocation his subscription raced): nothing reaches him.
    router.piece_committed(at(1, &access));
    assert_eq!(events(&owner).len(), 1);
    assert_eq!(events(&admin).len(), 1);
    assert!(events(&bob).is_empty());
    // Granted, he receives the next commit.
    access.grants.insert(UserId::from("bob"), PieceRole::Viewer);
    router.piece_committed(at(2, &access));
    assert_eq!(events(&bob).len(), 1);
}

/// A deleted piece's subscriptions go with it, after its `piece-deleted`.
#[test]
fn a_deleted_pieces_subscriptions_are_removed() {
    let s = Setup::new();
    let c = s.client("a", "watcher", 16);
    let piece = PieceId::mint();
    s.router.registry().subscribe(&c, piece).unwrap();
    s.router
        .piece_committed(commit(piece, 3, &[EventKind::PieceDeleted]));
    assert_eq!(events(&c).len(), 1);
    assert!(c.subscriptions().is_empty());
    assert_eq!(s.router.registry().subscriber_count(piece), 0);
}
