//! Stores for the persistence tests: every backend the conformance suite runs against. SQLite
//! gets a fresh file under the system temp directory; PostgreSQL a fresh schema in the
//! database `OOLOI_TEST_POSTGRES_URL` names (`scripts/test.sh` creates one and always sets it).
//! Without that variable the PostgreSQL cases say loudly that they did not run, and under
//! `CI=true` they fail instead.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use ooloi_server::store::{self, Store};

/// The backends every conformance case runs on.
pub const BACKENDS: [&str; 3] = ["memory", "sqlite", "postgres"];

/// The PostgreSQL database the tests may use, if configured.
pub fn postgres_url() -> Option<String> {
    match std::env::var("OOLOI_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "OOLOI_TEST_POSTGRES_URL is not set under CI: the PostgreSQL cases would not run"
            );
            eprintln!(
                "NOT RUN: the PostgreSQL cases need OOLOI_TEST_POSTGRES_URL (scripts/test.sh sets it)"
            );
            None
        }
    }
}

/// A unique name for a test's file or schema.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A fresh SQLite file's URL (the directory is removed when the [`Scratch`] drops).
pub fn sqlite_url() -> (String, Scratch) {
    let dir = std::env::temp_dir().join(unique("ooloi-store"));
    std::fs::create_dir_all(&dir).unwrap();
    (
        format!("sqlite://{}/ooloi.db", dir.display()),
        Scratch::Dir(dir),
    )
}

/// A fresh schema in the test database, as a URL whose connections use it.
pub async fn postgres_schema_url(base: &str) -> (String, Scratch) {
    use sqlx::Connection;
    let schema = unique("t");
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("the test PostgreSQL database answers");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        Scratch::Schema {
            base: base.to_owned(),
            schema,
        },
    )
}

/// What a test store leaves behind, removed on drop.
#[derive(Debug)]
pub enum Scratch {
    None,
    Dir(PathBuf),
    Schema { base: String, schema: String },
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::None => {}
            Scratch::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::Schema { base, schema } => {
                // Dropped from a plain thread: no runtime may be current here.
                let (base, schema) = (base.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        use sqlx::Connection;
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                            let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A URL for a fresh, empty store of `backend` (`None` if PostgreSQL is not configured).
pub async fn fresh_url(backend: &str) -> Option<(String, Scratch)> {
    match backend {
        "memory" => Some(("memory:".to_owned(), Scratch::None)),
        "sqlite" => Some(sqlite_url()),
        "postgres" => Some(postgres_schema_url(&postgres_url()?).await),
        other => panic!("no backend {other}"),
    }
}

/// A fresh, migrated store of `backend`.
pub async fn fresh(backend: &str) -> Option<(Arc<dyn Store>, String, Scratch)> {
    let (url, scratch) = fresh_url(backend).await?;
    let store = store::open(&url).await.expect("the test store opens");
    store.migrate().await.expect("migrations apply");
    Some((store, url, scratch))
}
