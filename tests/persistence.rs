//! Persistence through a whole server: what was acknowledged survives a restart on SQLite and
//! PostgreSQL (pieces, list-pieces, access grants, tenants and suspensions); a store that fails
//! turns writes away with UNAVAILABLE `STORE_UNAVAILABLE` and readiness false, emits no event
//! for what did not become durable, and recovers by itself; a damaged snapshot is detected and
//! the piece rebuilt from the older one and the log, or refused, and never written back.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ooloi_server::error::Error;
use ooloi_server::identity::{Caller, ClientId, Principal, Roles};
use ooloi_server::model::PieceId;
use ooloi_server::server::Server;
use ooloi_server::store::memory::MemoryStore;
use ooloi_server::store::{LogEntry, PieceMeta, Store, StoreError, Stored, StoredPiece};
use ooloi_server::value::{Value, edn};
use support::grpc::config;
use support::stores::fresh_url;

fn caller(user: &str) -> Caller {
    Caller::of(Principal::new("school", user))
}

fn operator() -> Caller {
    let mut c = Caller::of(Principal::new("platform", "root"));
    c.roles = Roles {
        platform_admin: true,
        ..Roles::MEMBER
    };
    c
}

/// Calls `method` (loading the pieces it needs) and waits until it is durable.
async fn call(server: &Server, who: &Caller, method: &str, params: &str) -> Result<Value, Error> {
    let params = edn::parse(params).expect("test EDN");
    server.execute(who, method, &params).await
}

async fn opened(url: &str, extra: &[(&str, &str)]) -> Server {
    let mut pairs = vec![("OOLOI__STORE__URL", url)];
    pairs.extend_from_slice(extra);
    Server::opened(config(&pairs))
        .await
        .expect("the server opens on the test store")
}

fn text(v: &Value) -> String {
    edn::print(v)
}

/// Everything a user can see that must survive a restart.
async fn observe(server: &Server, piece: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for user in ["ann", "bob", "eve"] {
        let who = caller(user);
        seen.push(text(
            &call(server, &who, "list-pieces", "[]").await.unwrap(),
        ));
    }
    let ann = caller("ann");
    for (method, params) in [
        ("list-piece-access", format!("[\"{piece}\"]")),
        ("get-musicians", format!("[[] \"{piece}\"]")),
    ] {
        seen.push(text(&call(server, &ann, method, &params).await.unwrap()));
    }
    seen.push(text(
        &call(server, &operator(), "list-tenants", "[]")
            .await
            .unwrap(),
    ));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_acknowledged_survives_a_restart() {
    for backend in ["sqlite", "postgres"] {
        let Some((url, _scratch)) = fresh_url(backend).await else {
            continue;
        };
        // Snapshots every 3 records, so the restart loads a snapshot and replays the log.
        let extra = [("OOLOI__STORE__SNAPSHOT_EVERY", "3")];
        let server = opened(&url, &extra).await;
        let ann = caller("ann");
        let piece = call(&server, &ann, "new-piece", r#"[{:title "Etude"}]"#)
            .await
            .unwrap();
        let piece = piece.as_str().unwrap().to_owned();
        for name in ["Violin", "Viola", "Cello", "Bass"] {
            call(
                &server,
                &ann,
                "add-musician",
                &format!("[[] \"{piece}\" {{:name \"{name}\"}}]"),
            )
            .await
            .unwrap();
        }
        call(
            &server,
            &ann,
            "set-title",
            &format!("[[] \"{piece}\" \"Quartet\"]"),
        )
        .await
        .unwrap();
        call(
            &server,
            &ann,
            "share-piece",
            &format!("[\"{piece}\" \"bob\" :editor]"),
        )
        .await
        .unwrap();
        let gone = call(&server, &ann, "new-piece", r#"[{:title "Draft"}]"#)
            .await
            .unwrap();
        call(
            &server,
            &ann,
            "delete-piece",
            &format!("[\"{}\"]", gone.as_str().unwrap()),
        )
        .await
        .unwrap();
        call(
            &server,
            &operator(),
            "create-tenant",
            r#"[{:id "conservatory" :name "The Conservatory" :default-access :tenant-read}]"#,
        )
        .await
        .unwrap();
        call(
            &server,
            &operator(),
            "suspend-tenant",
            r#"["conservatory"]"#,
        )
        .await
        .unwrap();
        let before = observe(&server, &piece).await;
        assert!(before[0].contains("Quartet"), "{backend}: {}", before[0]);
        assert!(before[1].contains("Quartet"), "bob sees the shared piece");
        assert!(
            before[3].contains("bob"),
            "the grant is listed: {}",
            before[3]
        );
        server.close_store().await;
        drop(server);

        let started = Instant::now();
        let again = opened(&url, &extra).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        let after = observe(&again, &piece).await;
        assert_eq!(
            before, after,
            "{backend}: the restarted server sees the same"
        );
        assert!(after[5].contains(":suspended"), "{}", after[5]);
        // Versions continue where they stopped.
        let v = call(
            &again,
            &caller("bob"),
            "set-title",
            &format!("[[] \"{piece}\" \"Quartet in D\"]"),
        )
        .await
        .unwrap();
        assert!(text(&v).contains(":version 7"), "{backend}: {}", text(&v));
        again.close_store().await;
    }
}

/// A store that fails on demand: the next append, and pings while it is down.
#[derive(Debug, Default)]
struct FaultyStore {
    inner: MemoryStore,
    down: AtomicBool,
}

impl FaultyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("injected fault".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Store for FaultyStore {
    fn backend(&self) -> &'static str {
        "faulty"
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }
    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        self.inner.pending_migrations().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
    async fn append(&self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append(entries).await
    }
    async fn catalogue(&self) -> Result<Vec<PieceMeta>, StoreError> {
        self.check()?;
        self.inner.catalogue().await
    }
    async fn load(&self, piece: PieceId) -> Result<StoredPiece, StoreError> {
        self.check()?;
        self.inner.load(piece).await
    }
    async fn put_snapshot(&self, piece: PieceId, snapshot: Stored) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_snapshot(piece, snapshot).await
    }
    async fn put_tenant(
        &self,
        tenant: &ooloi_server::identity::TenantId,
        body: &[u8],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_tenant(tenant, body).await
    }
    async fn delete_tenant(
        &self,
        tenant: &ooloi_server::identity::TenantId,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete_tenant(tenant).await
    }
    async fn tenants(
        &self,
    ) -> Result<Vec<(ooloi_server::identity::TenantId, Vec<u8>)>, StoreError> {
        self.check()?;
        self.inner.tenants().await
    }
    async fn close(&self) {}
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_refuses_writes_emits_nothing_and_recovers_by_itself() {
    let store = Arc::new(FaultyStore::default());
    let server = Server::new(config(&[]));
    server
        .open_with_store(store.clone())
        .await
        .expect("opens on the faulty store");
    let ann = caller("ann");
    let piece = call(&server, &ann, "new-piece", r#"[{:title "Kept"}]"#)
        .await
        .unwrap();
    let piece = piece.as_str().unwrap().to_owned();
    let other = call(&server, &ann, "new-piece", r#"[{:title "Other"}]"#)
        .await
        .unwrap();
    let other = other.as_str().unwrap().to_owned();
    // A subscriber of the piece: it must see no event of what does not become durable.
    let client = server
        .router()
        .register(
            &Principal::new("school", "ann"),
            ClientId::new("watcher").unwrap(),
            None,
            100,
        )
        .unwrap();
    server
        .router()
        .registry()
        .subscribe(&client, piece.parse().unwrap())
        .unwrap();
    while client.queue().try_next().is_some() {}
    assert!(server.readiness().is_ready());

    store.down.store(true, Ordering::SeqCst);
    let title = |t: &str| format!("[[] \"{piece}\" \"{t}\"]");
    let e = call(&server, &ann, "set-title", &title("Lost"))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "STORE_UNAVAILABLE", "{e}");
    assert!(!server.readiness().is_ready(), "readiness turns false");
    let e = call(&server, &ann, "set-title", &title("Refused"))
        .await
        .unwrap_err();
    assert_eq!(
        e.reason(),
        "STORE_UNAVAILABLE",
        "later writes are refused: {e}"
    );
    let e = call(&server, &ann, "new-piece", "[]").await.unwrap_err();
    assert_eq!(e.reason(), "STORE_UNAVAILABLE");
    // Reads of a piece whose state is durable go on.
    let read = call(&server, &ann, "get-title", &format!("[[] \"{other}\"]"))
        .await
        .unwrap();
    assert_eq!(read, Value::string("Other"));
    assert!(
        client.queue().try_next().is_none(),
        "no event for a commit that did not become durable"
    );

    store.down.store(false, Ordering::SeqCst);
    until("readiness after the store came back", || {
        server.readiness().is_ready()
    })
    .await;
    // The failed change is gone; the piece continues from its durable version.
    let read = call(&server, &ann, "get-title", &format!("[[] \"{piece}\"]"))
        .await
        .unwrap();
    assert_eq!(read, Value::string("Kept"));
    call(&server, &ann, "set-title", &title("Again"))
        .await
        .expect("writes succeed again without a restart");
    let stored = store.inner.load(piece.parse().unwrap()).await.unwrap();
    assert_eq!(
        stored.records.iter().map(|r| r.version).collect::<Vec<_>>(),
        [0, 1],
        "only durable versions, without a gap"
    );
    until("the event of the durable commit", || {
        client.queue().try_next().is_some()
    })
    .await;
}

/// The stored snapshots, records and metadata of `piece`, to compare byte for byte.
async fn rows(pool: &sqlx::SqlitePool, piece: &str) -> Vec<(String, i64, Vec<u8>)> {
    let mut all = Vec::new();
    for (table, body) in [
        ("snapshots", "body"),
        ("redo_log", "body"),
        ("pieces", "title || owner || updated_us"),
    ] {
        let found: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!(
            "SELECT version, CAST({body} AS BLOB) FROM {table} WHERE piece_id = $1 ORDER BY version"
        ))
        .bind(piece)
        .fetch_all(pool)
        .await
        .unwrap();
        all.extend(found.into_iter().map(|(v, b)| (table.to_owned(), v, b)));
    }
    all
}

/// Flips one byte in the middle of the snapshot at `version`.
async fn flip(pool: &sqlx::SqlitePool, version: i64) {
    let (mut body,): (Vec<u8>,) = sqlx::query_as("SELECT body FROM snapshots WHERE version = $1")
        .bind(version)
        .fetch_one(pool)
        .await
        .unwrap();
    let middle = body.len() / 2;
    body[middle] ^= 0x04;
    sqlx::query("UPDATE snapshots SET body = $1 WHERE version = $2")
        .bind(body)
        .bind(version)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_snapshot_is_detected_and_the_piece_never_written_back() {
    let (url, _scratch) = support::stores::sqlite_url();
    let extra = [("OOLOI__STORE__SNAPSHOT_EVERY", "3")];
    let server = opened(&url, &extra).await;
    let ann = caller("ann");
    let piece = call(&server, &ann, "new-piece", r#"[{:title "t0"}]"#)
        .await
        .unwrap();
    let piece = piece.as_str().unwrap().to_owned();
    let snapshots = |server: &Server| {
        server
            .durability()
            .stats()
            .snapshots
            .load(Ordering::Relaxed)
    };
    // Records 1..=8 after the creation; a snapshot after every third record (versions 2, 5
    // and 8), each waited for so that it is taken at the version just made durable.
    for v in 1..=8 {
        call(
            &server,
            &ann,
            "set-title",
            &format!("[[] \"{piece}\" \"t{v}\"]"),
        )
        .await
        .unwrap();
        if v % 3 == 2 {
            let want = (v as u64 + 1) / 3;
            until("the snapshot", || snapshots(&server) >= want).await;
        }
    }
    server.close_store().await;
    drop(server);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let kept: Vec<(i64,)> = sqlx::query_as("SELECT version FROM snapshots ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kept, [(5,), (8,)], "the two newest snapshots are kept");

    // The newest is damaged: the piece comes back from the older one and the log.
    flip(&pool, 8).await;
    let server = opened(&url, &extra).await;
    let title = call(&server, &ann, "get-title", &format!("[[] \"{piece}\"]"))
        .await
        .unwrap();
    assert_eq!(title, Value::string("t8"));
    server.close_store().await;
    drop(server);

    // Both damaged, and the log trimmed behind the older: refused, and never written back.
    flip(&pool, 5).await;
    let before = rows(&pool, &piece).await;
    let server = opened(&url, &extra).await;
    for (method, params) in [
        ("get-title", format!("[[] \"{piece}\"]")),
        ("set-title", format!("[[] \"{piece}\" \"overwrite\"]")),
        ("delete-piece", format!("[\"{piece}\"]")),
    ] {
        let e = call(&server, &ann, method, &params).await.unwrap_err();
        assert_eq!(e.reason(), "PIECE_DATA_LOSS", "{method}: {e}");
    }
    let other = call(&server, &ann, "new-piece", r#"[{:title "fine"}]"#).await;
    assert!(other.is_ok(), "the rest of the store serves");
    server.close_store().await;
    drop(server);
    assert_eq!(
        rows(&pool, &piece).await,
        before,
        "the refused piece's stored data is untouched"
    );
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_load_on_first_use_and_idle_ones_leave_memory() {
    let (url, _scratch) = support::stores::sqlite_url();
    let extra = [("OOLOI__STORE__EVICT_IDLE_SECONDS", "1")];
    let server = opened(&url, &extra).await;
    let ann = caller("ann");
    let mut ids = Vec::new();
    for title in ["a", "b", "c"] {
        let id = call(
            &server,
            &ann,
            "new-piece",
            &format!("[{{:title \"{title}\"}}]"),
        )
        .await
        .unwrap();
        ids.push(id.as_str().unwrap().to_owned());
    }
    server.close_store().await;
    drop(server);

    let server = opened(&url, &extra).await;
    assert!(
        server.api().loaded_pieces().is_empty(),
        "nothing loads at start-up"
    );
    let listed = text(&call(&server, &ann, "list-pieces", "[]").await.unwrap());
    for title in ["\"a\"", "\"b\"", "\"c\""] {
        assert!(listed.contains(title), "{listed}");
    }
    assert!(
        server.api().loaded_pieces().is_empty(),
        "list-pieces reads metadata, not pieces"
    );
    let (a, b) = (&ids[0], &ids[1]);
    let title = call(&server, &ann, "get-title", &format!("[[] \"{a}\"]"))
        .await
        .unwrap();
    assert_eq!(title, Value::string("a"), "the first use loads the piece");
    assert_eq!(server.api().loaded_pieces().len(), 1);
    // A subscriber keeps b in memory.
    let principal = Principal::new("school", "ann");
    server
        .router()
        .register(&principal, ClientId::new("keeper").unwrap(), None, 100)
        .unwrap();
    let keeper = Caller::new(principal, Some(ClientId::new("keeper").unwrap()));
    call(
        &server,
        &keeper,
        "subscribe-to-piece-events",
        &format!("[\"{b}\"]"),
    )
    .await
    .unwrap();
    assert_eq!(server.api().loaded_pieces().len(), 2);
    let loaded = |server: &Server| -> Vec<String> {
        server
            .api()
            .loaded_pieces()
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect()
    };
    until("a leaves memory", || loaded(&server) == vec![b.to_owned()]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        loaded(&server),
        vec![b.to_owned()],
        "the subscribed piece stays"
    );
    // Used again, it loads again, and its versions go on.
    let v = call(&server, &ann, "set-title", &format!("[[] \"{a}\" \"a2\"]"))
        .await
        .unwrap();
    assert!(text(&v).contains(":version 1"), "{}", text(&v));
    assert_eq!(server.api().loaded_pieces().len(), 2);
    server.close_store().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_change_is_acknowledged_only_once_it_is_stored() {
    let store = Arc::new(FaultyStore::default());
    let server = Server::new(config(&[]));
    server.open_with_store(store.clone()).await.unwrap();
    call(&server, &operator(), "create-tenant", r#"[{:id "kept"}]"#)
        .await
        .unwrap();
    let stored = store.inner.tenants().await.unwrap();
    assert!(
        stored.iter().any(|(t, _)| t.as_str() == "kept"),
        "stored before the call returned"
    );
    store.down.store(true, Ordering::SeqCst);
    let e = call(
        &server,
        &operator(),
        "create-tenant",
        r#"[{:id "unstored"}]"#,
    )
    .await
    .unwrap_err();
    assert_eq!(e.reason(), "STORE_UNAVAILABLE", "{e}");
    assert!(!server.readiness().is_ready());
    store.down.store(false, Ordering::SeqCst);
    until("recovery", || server.readiness().is_ready()).await;
    call(&server, &operator(), "suspend-tenant", r#"["kept"]"#)
        .await
        .unwrap();
    let stored = store.inner.tenants().await.unwrap();
    assert!(
        stored
            .iter()
            .any(|(t, body)| t.as_str() == "kept"
                && String::from_utf8_lossy(body).contains("suspended")),
        "the suspension is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_deletes_its_stored_pieces_that_are_not_loaded() {
    let (url, _scratch) = support::stores::sqlite_url();
    let server = opened(&url, &[]).await;
    let member = Caller::of(Principal::new("gone", "gina"));
    for title in ["one", "two"] {
        call(
            &server,
            &member,
            "new-piece",
            &format!("[{{:title \"{title}\"}}]"),
        )
        .await
        .unwrap();
    }
    server.close_store().await;
    drop(server);

    let server = opened(&url, &[]).await;
    assert!(server.api().loaded_pieces().is_empty());
    let answer = call(&server, &operator(), "delete-tenant", r#"["gone" "gone"]"#)
        .await
        .unwrap();
    assert!(
        text(&answer).contains(":pieces-deleted 2"),
        "{}",
        text(&answer)
    );
    assert_eq!(
        call(&server, &member, "list-pieces", "[]").await.unwrap(),
        Value::vector([]),
        "nothing is left for a later tenant of the same id"
    );
    server.close_store().await;
    drop(server);
    let store = ooloi_server::store::open(&url).await.unwrap();
    assert!(
        store.catalogue().await.unwrap().is_empty(),
        "nor in the store"
    );
    store.close().await;
}
