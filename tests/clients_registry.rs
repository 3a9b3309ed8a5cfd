//! Client registry: id uniqueness per tenant under contention, ownership of disconnects,
//! idempotent removal, generation-guarded removal on stream loss, and cleanup of subscriptions.

use std::sync::{Arc, Barrier};

use ooloi_server::clients::{
    ClientRegistry, DisconnectOutcome, EventRouter, RegistryError, SubscribeError,
};
use ooloi_server::identity::{ClientId, Principal};
use ooloi_server::model::PieceId;

fn id(s: &str) -> ClientId {
    ClientId::new(s).unwrap()
}

#[test]
fn sixty_four_threads_registering_one_id_one_wins() {
    let registry = Arc::new(ClientRegistry::new());
    let barrier = Arc::new(Barrier::new(64));
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|n| {
                let registry = Arc::clone(&registry);
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    let p = Principal::new("acme", &format!("user{n}"));
                    barrier.wait();
                    registry.register(&p, id("contested"), None, 16)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let exists = results
        .iter()
        .filter(|r| matches!(r, Err(RegistryError::AlreadyExists { .. })))
        .count();
    assert_eq!((ok, exists), (1, 63));
    assert_eq!(registry.count("acme"), 1);
    assert_eq!(
        registry
            .stats()
            .client_registrations_rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        63
    );
}

#[test]
fn the_same_id_in_another_tenant_is_another_client() {
    let r = ClientRegistry::new();
    let a = r
        .register(&Principal::new("a", "u"), id("shared"), None, 4)
        .unwrap();
    let b = r
        .register(&Principal::new("b", "u"), id("shared"), None, 4)
        .unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!((r.count("a"), r.count("b"), r.total()), (1, 1, 2));
    assert!(Arc::ptr_eq(&r.get("a", &id("shared")).unwrap(), &a));
    assert!(matches!(
        r.register(&Principal::new("a", "other"), id("shared"), None, 4),
        Err(RegistryError::AlreadyExists { .. })
    ));
}

#[test]
fn disconnect_is_idempotent() {
    let r = ClientRegistry::new();
    let p = Principal::new("t", "u");
    let c = r.register(&p, id("client-1"), None, 4).unwrap();
    match r.disconnect(&p, c.id()) {
        DisconnectOutcome::Removed(removed) => assert!(Arc::ptr_eq(&removed, &c)),
        other => panic!("expected removal, got {other:?}"),
    }
    assert!(matches!(
        r.disconnect(&p, c.id()),
        DisconnectOutcome::NotRegistered
    ));
    assert!(r.get("t", c.id()).is_none());
    assert!(c.is_closed(), "no longer accepts subscriptions");
    // The event stream is not ended by a disconnect (the client closes it; ending it here
    // would race the client's in-flight calls): the queue stays open, it just gets no events.
    assert!(!c.queue().is_closed());
    assert!(
        !c.queue().push(Arc::new(ooloi_server::events::Event::new(
            "x",
            None,
            0,
            &ooloi_server::value::Value::Nil
        ))),
        "but refuses new events"
    );
}

#[test]
fn concurrent_disconnects_remove_exactly_once() {
    let r = Arc::new(ClientRegistry::new());
    let p = Principal::new("t", "u");
    r.register(&p, id("once-only"), None, 4).unwrap();
    let barrier = Barrier::new(16);
    let removed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    r.disconnect(&p, &id("once-only")).removed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&removed| removed)
            .count()
    });
    assert_eq!(removed, 1);
}

#[test]
fn a_disconnect_by_another_principal_is_refused_and_leaves_the_client_untouched() {
    let r = ClientRegistry::new();
    let owner = Principal::new("t", "alice");
    let c = r.register(&owner, id("alices-app"), None, 4).unwrap();
    let piece = PieceId::mint();
    r.subscribe(&c, piece).unwrap();

    assert!(matches!(
        r.disconnect(&Principal::new("t", "mallory"), c.id()),
        DisconnectOutcome::NotOwner
    ));
    // Another tenant cannot even see it.
    assert!(matches!(
        r.disconnect(&Principal::new("other", "alice"), c.id()),
        DisconnectOutcome::NotRegistered
    ));
    assert!(Arc::ptr_eq(&r.get("t", c.id()).unwrap(), &c));
    assert!(!c.is_closed());
    assert!(c.is_subscribed(piece));
    assert_eq!(r.subscriber_count(piece), 1);
    assert!(
        r.get_owned(&Principal::new("t", "mallory"), c.id())
            .is_none()
    );
    assert!(r.get_owned(&owner, c.id()).is_some());
}

#[test]
fn a_stale_generation_does_not_remove_a_newer_registration() {
    let r = ClientRegistry::new();
    let p = Principal::new("t", "u");
    let old = r.register(&p, id("phone"), None, 4).unwrap();
    assert!(r.disconnect(&p, old.id()).removed());
    let new = r.register(&p, id("phone"), None, 4).unwrap();
    assert_ne!(old.generation(), new.generation());

    // The old stream's loss is noticed late: it must not take the new registration with it.
    assert!(
        r.remove_if_generation("t", &id("phone"), old.generation())
            .is_none()
    );
    assert!(Arc::ptr_eq(&r.get("t", &id("phone")).unwrap(), &new));
    assert!(!new.is_closed());

    let removed = r
        .remove_if_generation("t", &id("phone"), new.generation())
        .unwrap();
    assert!(Arc::ptr_eq(&removed, &new));
    assert!(new.is_closed());
    assert_eq!(r.count("t"), 0);
}

#[test]
fn removal_unsubscribes_everywhere() {
    let r = ClientRegistry::new();
    let p = Principal::new("t", "u");
    let c = r.register(&p, id("leaver"), None, 4).unwrap();
    let stays = r.register(&p, id("stayer"), None, 4).unwrap();
    let pieces: Vec<PieceId> = (0..5).map(|_| PieceId::mint()).collect();
    for &piece in &pieces {
        r.subscribe(&c, piece).unwrap();
    }
    r.subscribe(&stays, pieces[0]).unwrap();
    assert!(r.disconnect(&p, c.id()).removed());
    assert!(c.subscriptions().is_empty());
    assert_eq!(r.subscriber_count(pieces[0]), 1);
    for &piece in &pieces[1..] {
        assert_eq!(r.subscriber_count(piece), 0);
    }
    assert_eq!(r.subscribe(&c, pieces[1]), Err(SubscribeError::ClientGone));
    let stats = c.stats_snapshot();
    assert_eq!(
        (stats.subscription_adds, stats.subscription_removes),
        (5, 5)
    );
}

#[test]
fn a_piece_with_subscribers_refuses_a_subscriber_of_another_tenant() {
    let r = ClientRegistry::new();
    let a = r
        .register(&Principal::new("a", "u"), id("client-a"), None, 4)
        .unwrap();
    let b = r
        .register(&Principal::new("b", "u"), id("client-b"), None, 4)
        .unwrap();
    let piece = PieceId::mint();
    assert_eq!(r.subscribe(&a, piece), Ok(true));
    assert_eq!(r.subscribe(&b, piece), Err(SubscribeError::OtherTenant));
    assert!(!b.is_subscribed(piece));
    assert_eq!(r.subscriber_count(piece), 1);
}

#[test]
fn iteration_covers_exactly_the_tenants_clients() {
    let r = ClientRegistry::new();
    for n in 0..10 {
        r.register(&Principal::new("a", "u"), id(&format!("a-{n}")), None, 4)
            .unwrap();
    }
    r.register(&Principal::new("b", "u"), id("b-0"), None, 4)
        .unwrap();
    let mut ids: Vec<String> = r
        .clients_of("a")
        .iter()
        .map(|c| c.id().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, (0..10).map(|n| format!("a-{n}")).collect::<Vec<_>>());
    assert_eq!(r.count("nobody"), 0);
    assert!(r.clients_of("nobody").is_empty());
    assert_eq!(r.all_clients().len(), 11);
}

#[test]
fn the_router_wrappers_register_and_disconnect_through_the_registry() {
    let router = EventRouter::new(Arc::new(ClientRegistry::new()));
    let p = Principal::new("t", "u");
    let c = router.register(&p, id("wrapped"), None, 4).unwrap();
    assert!(router.registry().get("t", c.id()).is_some());
    assert!(
        router
            .stream_lost("t", c.id(), c.generation() + 1)
            .is_none()
    );
    assert!(router.disconnect(&p, c.id()).removed());
    assert!(!router.disconnect(&p, c.id()).removed());
    assert!(router.stream_lost("t", c.id(), c.generation()).is_none());
}
