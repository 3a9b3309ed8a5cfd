//! The store conformance suite: every case runs against every backend (in memory, SQLite,
//! PostgreSQL), so that the server behaves the same whichever store it is given. Cases cover
//! migrations, group appends (all or nothing), metadata, loading, snapshots with trimming,
//! deletion, tenants, and a restart of a whole server on the same store.

mod support;

use std::sync::Arc;

use ooloi_server::identity::TenantId;
use ooloi_server::model::PieceId;
use ooloi_server::store::record::checksum;
use ooloi_server::store::{EntryKind, LogEntry, Store, Stored};
use support::stores::{BACKENDS, fresh, fresh_url};

fn entry(piece: PieceId, version: u64, kind: EntryKind, body: &[u8]) -> LogEntry {
    LogEntry {
        piece_id: piece,
        tenant: TenantId::from("school"),
        version,
        kind,
        access: (version == 0).then(|| b"access".to_vec()),
        body: body.to_vec(),
        checksum: checksum(body),
        at_us: 1_000 + version as i64,
    }
}

fn created(piece: PieceId, title: &str) -> LogEntry {
    entry(
        piece,
        0,
        EntryKind::Created {
            title: title.into(),
            owner: "ann".into(),
        },
        b"created",
    )
}

fn changed(piece: PieceId, version: u64, title: Option<&str>) -> LogEntry {
    entry(
        piece,
        version,
        EntryKind::Changed {
            title: title.map(str::to_owned),
        },
        format!("v{version}").as_bytes(),
    )
}

fn snapshot(version: u64) -> Stored {
    let body = format!("snapshot {version}").into_bytes();
    Stored {
        version,
        checksum: checksum(&body).to_vec(),
        body,
    }
}

async fn each_backend<F, Fut>(case: F)
where
    F: Fn(Arc<dyn Store>, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in BACKENDS {
        let Some((store, url, _scratch)) = fresh(backend).await else {
            continue;
        };
        eprintln!("case on {backend}");
        case(store.clone(), url).await;
        store.close().await;
    }
}

#[tokio::test]
async fn migrations_apply_once_and_check_reports_what_is_pending() {
    for backend in BACKENDS {
        let Some((url, _scratch)) = fresh_url(backend).await else {
            continue;
        };
        let store = ooloi_server::store::open(&url).await.unwrap();
        if backend != "memory" {
            assert!(
                !store.pending_migrations().await.unwrap().is_empty(),
                "{backend}: a fresh database has pending migrations"
            );
        }
        store.migrate().await.unwrap();
        store.migrate().await.expect("migrating again is a no-op");
        assert_eq!(
            store.pending_migrations().await.unwrap(),
            Vec::<String>::new()
        );
        store.ping().await.unwrap();
        store.close().await;
    }
}

#[tokio::test]
async fn an_appended_group_is_loaded_in_version_order_with_its_metadata() {
    each_backend(|store, _| async move {
        let (a, b) = (PieceId::mint(), PieceId::mint());
        store
            .append(&[
                created(a, "Etude"),
                created(b, "Nocturne"),
                changed(a, 1, None),
            ])
            .await
            .unwrap();
        store
            .append(&[changed(a, 2, Some("Prelude")), changed(b, 1, None)])
            .await
            .unwrap();
        let loaded = store.load(a).await.unwrap();
        assert!(loaded.snapshots.is_empty());
        let versions: Vec<u64> = loaded.records.iter().map(|r| r.version).collect();
        assert_eq!(versions, [0, 1, 2]);
        assert_eq!(loaded.records[2].body, b"v2");
        assert_eq!(loaded.records[2].checksum, checksum(b"v2").to_vec());
        let catalogue = store.catalogue().await.unwrap();
        assert_eq!(catalogue.len(), 2);
        let meta = catalogue.iter().find(|m| m.piece_id == a).unwrap();
        assert_eq!(meta.title, "Prelude", "the title follows the change");
        assert_eq!(meta.owner, "ann");
        assert_eq!(meta.version, 2);
        assert_eq!(meta.created_us, 1_000);
        assert_eq!(meta.updated_us, 1_002);
        assert_eq!(meta.tenant, TenantId::from("school"));
        assert_eq!(
            meta.access, b"access",
            "the access as of the latest record that set it"
        );
        assert_eq!(
            store.load(PieceId::mint()).await.unwrap(),
            Default::default(),
            "an unknown piece has nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn a_group_is_all_or_nothing() {
    each_backend(|store, _| async move {
        let a = PieceId::mint();
        store.append(&[created(a, "x")]).await.unwrap();
        // The second entry repeats version 0: the whole group is refused, the first entry too.
        let other = PieceId::mint();
        let refused = store
            .append(&[
                created(other, "y"),
                changed(a, 1, None),
                created(a, "again"),
            ])
            .await;
        assert!(refused.is_err());
        assert_eq!(store.load(other).await.unwrap(), Default::default());
        assert_eq!(store.load(a).await.unwrap().records.len(), 1);
        assert_eq!(store.catalogue().await.unwrap().len(), 1);
        // And the store still takes the next group.
        store.append(&[changed(a, 1, None)]).await.unwrap();
        assert_eq!(store.load(a).await.unwrap().records.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn snapshots_keep_the_two_newest_and_trim_the_log_behind_the_older() {
    each_backend(|store, _| async move {
        let a = PieceId::mint();
        let mut group = vec![created(a, "x")];
        group.extend((1..=6).map(|v| changed(a, v, None)));
        store.append(&group).await.unwrap();
        store.put_snapshot(a, snapshot(2)).await.unwrap();
        let one = store.load(a).await.unwrap();
        assert_eq!(one.snapshots, [snapshot(2)]);
        assert_eq!(one.records.len(), 7, "one snapshot: the log is kept whole");
        store.put_snapshot(a, snapshot(4)).await.unwrap();
        store.put_snapshot(a, snapshot(6)).await.unwrap();
        let loaded = store.load(a).await.unwrap();
        assert_eq!(loaded.snapshots, [snapshot(6), snapshot(4)], "newest first");
        let versions: Vec<u64> = loaded.records.iter().map(|r| r.version).collect();
        assert_eq!(versions, [5, 6], "trimmed up to the older snapshot");
        // A snapshot of a piece that is gone is dropped.
        let gone = PieceId::mint();
        store.put_snapshot(gone, snapshot(1)).await.unwrap();
        assert_eq!(store.load(gone).await.unwrap(), Default::default());
    })
    .await;
}

#[tokio::test]
async fn a_deletion_removes_the_metadata_the_log_and_the_snapshots() {
    each_backend(|store, _| async move {
        let (a, b) = (PieceId::mint(), PieceId::mint());
        store
            .append(&[created(a, "x"), created(b, "y"), changed(a, 1, None)])
            .await
            .unwrap();
        store.put_snapshot(a, snapshot(1)).await.unwrap();
        store
            .append(&[entry(a, 1, EntryKind::Deleted, b"deleted")])
            .await
            .unwrap();
        assert_eq!(store.load(a).await.unwrap(), Default::default());
        let ids: Vec<PieceId> = store
            .catalogue()
            .await
            .unwrap()
            .iter()
            .map(|m| m.piece_id)
            .collect();
        assert_eq!(ids, [b]);
        // Created and deleted in one group: nothing is left.
        let c = PieceId::mint();
        store
            .append(&[created(c, "z"), entry(c, 0, EntryKind::Deleted, b"d")])
            .await
            .unwrap();
        assert_eq!(store.load(c).await.unwrap(), Default::default());
        assert_eq!(store.catalogue().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn tenant_records_are_stored_replaced_and_removed() {
    each_backend(|store, _| async move {
        let (a, b) = (TenantId::from("a-school"), TenantId::from("b-school"));
        store.put_tenant(&b, b"b1").await.unwrap();
        store.put_tenant(&a, b"a1").await.unwrap();
        store.put_tenant(&a, b"a2").await.unwrap();
        assert_eq!(
            store.tenants().await.unwrap(),
            [(a.clone(), b"a2".to_vec()), (b.clone(), b"b1".to_vec())]
        );
        store.delete_tenant(&a).await.unwrap();
        assert_eq!(store.tenants().await.unwrap(), [(b, b"b1".to_vec())]);
    })
    .await;
}
