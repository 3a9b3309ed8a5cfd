//! The durability benchmarks (BENCHMARKS.md, Stage 6), through the method API with the real
//! durability stage and store, no transport:
//! - the machine's own cost of one durable write, measured first as the bound: a 4 KiB write and
//!   `fdatasync` on the data directory's file system, and on PostgreSQL a one-row committed
//!   transaction;
//! - durable commits per second with 1 and 64 concurrent writers (each on its own piece, one
//!   `set-title` per call, each awaited until durable), on SQLite and PostgreSQL, with
//!   `durability = sync` and `async`;
//! - acknowledgement latency (call to durable) p50/p99 at a paced 1,000 edits/s on SQLite;
//! - a snapshot and a cold load of Ooloi's benchmark piece (1000 x 20 x 8 items) on SQLite, and
//!   the snapshot's bytes per item.
//!
//! Run: `cargo bench --bench store` (PostgreSQL rows need `OOLOI_TEST_POSTGRES_URL`, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`; a fresh schema is used and dropped). Add
//! `-- --quick` for a short smoke run.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ooloi_server::api::Api;
use ooloi_server::config::Config;
use ooloi_server::identity::{Caller, Principal};
use ooloi_server::server::Server;
use ooloi_server::store::record::{PieceState, checksum};
use ooloi_server::store::{self, Stored};
use ooloi_server::value::{Value, edn};

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ooloi-bench-store-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Median of `runs` 4 KiB write + fdatasync on a file in `dir`.
fn fsync_cost(dir: &std::path::Path, runs: usize) -> Duration {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![7u8; 4096];
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).unwrap();
            file.sync_data().unwrap();
            start.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(path);
    common::median(samples)
}

/// Median of `runs` one-row committed transactions on PostgreSQL.
async fn postgres_commit_cost(url: &str, runs: usize) -> Duration {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("CREATE TEMP TABLE probe (n BIGINT)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut samples = Vec::new();
    for n in 0..runs {
        let start = Instant::now();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO probe VALUES ($1)")
            .bind(n as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        samples.push(start.elapsed());
    }
    common::median(samples)
}

async fn open_server(url: &str, durability: &str) -> Server {
    let env = [
        ("OOLOI__STORE__URL".to_string(), url.to_string()),
        (
            "OOLOI__STORE__DURABILITY".to_string(),
            durability.to_string(),
        ),
    ];
    let config = Config::load(None, &env, &[]).expect("bench config");
    Server::opened(config).await.expect("the server opens")
}

fn caller() -> Caller {
    Caller::of(Principal::new("bench", "writer"))
}

async fn edit(api: &Api, params: &Value) -> Duration {
    let start = Instant::now();
    let (_, durable) = api
        .execute_durably(&caller(), "set-title", params, None)
        .expect("the edit commits");
    durable.await.expect("the edit is durable");
    start.elapsed()
}

fn title_params(piece: &str, n: u64) -> Value {
    edn::parse(&format!("[[] \"{piece}\" \"take {n}\"]")).unwrap()
}

async fn new_piece(api: &Api) -> String {
    let (id, durable) = api
        .execute_durably(&caller(), "new-piece", &edn::parse("[]").unwrap(), None)
        .unwrap();
    durable.await.unwrap();
    id.as_str().unwrap().to_owned()
}

/// Durable commits per second with `writers` concurrent writers for `duration`.
async fn commit_rate(server: &Server, writers: usize, duration: Duration) -> f64 {
    let mut pieces = Vec::new();
    for _ in 0..writers {
        pieces.push(new_piece(server.api()).await);
    }
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let tasks: Vec<_> = pieces
        .into_iter()
        .map(|piece| {
            let api = server.api().clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    edit(&api, &title_params(&piece, n)).await;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Ack latencies of edits paced at `per_second` for `duration` (each its own task).
async fn paced_latencies(server: &Server, per_second: u64, duration: Duration) -> Vec<Duration> {
    let pieces: Vec<String> = {
        let mut p = Vec::new();
        for _ in 0..16 {
            p.push(new_piece(server.api()).await);
        }
        p
    };
    let interval = Duration::from_secs(1) / per_second as u32;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let count = (duration.as_secs_f64() * per_second as f64) as u64;
    let mut tasks = Vec::new();
    for n in 0..count {
        ticker.tick().await;
        let api = server.api().clone();
        let params = title_params(&pieces[(n % 16) as usize], n);
        tasks.push(tokio::spawn(async move { edit(&api, &params).await }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    latencies
}

/// A fresh store URL for `backend`, and what to drop afterwards.
async fn fresh(backend: &str, dir: &std::path::Path, n: usize) -> Option<String> {
    match backend {
        "sqlite" => Some(format!("sqlite://{}/rate-{n}.db", dir.display())),
        _ => {
            let base = std::env::var("OOLOI_TEST_POSTGRES_URL").ok()?;
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
            let schema = format!("bench_{}_{n}", std::process::id());
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .ok()?;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .ok()?;
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
        }
    }
}

async fn drop_schemas(n: usize) {
    let Ok(base) = std::env::var("OOLOI_TEST_POSTGRES_URL") else {
        return;
    };
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
        for i in 0..n {
            let schema = format!("bench_{}_{i}", std::process::id());
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await;
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let duration = Duration::from_secs(if quick { 1 } else { 3 });
    let dir = scratch_dir();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("machine: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
        let fsync = fsync_cost(&dir, if quick { 50 } else { 300 });
        println!(
            "| bound: 4 KiB write + fdatasync ({}) | median {:.0} µs | at most {:.0} serial syncs/s |",
            dir.display(),
            fsync.as_secs_f64() * 1e6,
            1.0 / fsync.as_secs_f64()
        );
        if let Ok(url) = std::env::var("OOLOI_TEST_POSTGRES_URL") {
            let commit = postgres_commit_cost(&url, if quick { 50 } else { 300 }).await;
            println!(
                "| bound: PostgreSQL one-row committed transaction | median {:.0} µs | at most {:.0} serial commits/s |",
                commit.as_secs_f64() * 1e6,
                1.0 / commit.as_secs_f64()
            );
        }
        println!();
        println!("| backend | durability | writers | durable commits/s | records per store transaction | mean append |");
        println!("|---|---|---:|---:|---:|---:|");
        let mut n = 0;
        for backend in ["sqlite", "postgres"] {
            for durability in ["sync", "async"] {
                for writers in [1, 64] {
                    n += 1;
                    // `OOLOI_BENCH_ONLY=sqlite/sync/64` runs one row (for a profiler);
                    // `OOLOI_BENCH_ONLY=latency` only the paced latencies.
                    if let Ok(only) = std::env::var("OOLOI_BENCH_ONLY")
                        && only != format!("{backend}/{durability}/{writers}")
                    {
                        continue;
                    }
                    let Some(url) = fresh(backend, &dir, n).await else {
                        continue;
                    };
                    let server = open_server(&url, durability).await;
                    let rate = commit_rate(&server, writers, duration).await;
                    let stats = server.durability().stats();
                    let groups = stats.groups.load(std::sync::atomic::Ordering::Relaxed).max(1);
                    let records = stats.records.load(std::sync::atomic::Ordering::Relaxed);
                    let append_us = stats.append_us.load(std::sync::atomic::Ordering::Relaxed);
                    println!(
                        "| {backend} | {durability} | {writers} | {rate:.0} | {:.1} | {:.0} µs |",
                        records as f64 / groups as f64,
                        append_us as f64 / groups as f64
                    );
                    server.close_store().await;
                }
            }
        }
        drop_schemas(n + 1).await;

        let only = std::env::var("OOLOI_BENCH_ONLY").ok();
        if only.as_deref().is_some_and(|o| o != "latency") {
            return;
        }
        let url = format!("sqlite://{}/latency.db", dir.display());
        let server = open_server(&url, "sync").await;
        let latencies = paced_latencies(&server, 1000, duration * 2).await;
        println!();
        println!(
            "| SQLite, sync, paced 1,000 edits/s ({} edits) | ack p50 {:.2} ms | p99 {:.2} ms | max {:.2} ms |",
            latencies.len(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3
        );
        server.close_store().await;
        if only.is_some() {
            return;
        }

        // Ooloi's benchmark piece: a snapshot (encode, checksum, store) and a cold load (read,
        // verify, decode) on SQLite.
        let url = format!("sqlite://{}/piece.db", dir.display());
        let store = store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        let piece = common::generate();
        let id = piece.id;
        let access = ooloi_server::api::access::PieceAccess::new(
            "writer".into(),
            ooloi_server::tenants::DefaultAccess::Private,
        );
        // The piece's creation record, so that the snapshot has a piece to belong to.
        let creation = ooloi_server::api::PieceCommit {
            created: Some(Arc::new(piece.clone())),
            access: Some(Arc::new(access.clone())),
            access_changed: true,
            ..ooloi_server::api::PieceCommit::new("bench".into(), "writer".into(), id, 0)
        };
        store
            .append(&[ooloi_server::store::pipeline::entry_of(&creation)])
            .await
            .unwrap();
        let state = PieceState { piece, access };
        let runs = if quick { 3 } else { 7 };
        let mut snapshot_times = Vec::new();
        let mut bytes = 0;
        for version in 1..=runs as u64 {
            let start = Instant::now();
            let body = state.encode();
            let sum = checksum(&body);
            bytes = body.len();
            store
                .put_snapshot(
                    id,
                    Stored {
                        version,
                        body,
                        checksum: sum.to_vec(),
                    },
                )
                .await
                .unwrap();
            snapshot_times.push(start.elapsed());
        }
        let mut load_times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let (loaded, _) = ooloi_server::store::recovery::load_state(&*store, id)
                .await
                .unwrap();
            load_times.push(start.elapsed());
            assert_eq!(loaded.piece.musicians.len(), common::INSTRUMENTS);
        }
        let items = common::MEASURES * common::INSTRUMENTS * common::ITEMS;
        println!();
        println!("| Ooloi's benchmark piece ({items} items), SQLite | median |");
        println!("|---|---:|");
        // Baseline in the same run: the same piece as one value in the wire codec (the form
        // records use), each way.
        use ooloi_server::model::entity::{FromValue, ToValue};
        let unlimited = ooloi_server::store::record::stored_limits();
        let as_value = ooloi_server::value::wire::encode(&state.piece.to_value());
        let value_encode = common::time(runs, || {
            ooloi_server::value::wire::encode(&state.piece.to_value())
        });
        let value_decode = common::time(runs, || {
            let v = ooloi_server::value::wire::decode(&as_value, &unlimited).unwrap();
            ooloi_server::model::Piece::from_value(&v).unwrap()
        });
        println!(
            "| baseline: as one value (wire codec), encode | {:.1} ms |",
            value_encode.as_secs_f64() * 1e3
        );
        println!(
            "| baseline: as one value (wire codec), decode | {:.1} ms |",
            value_decode.as_secs_f64() * 1e3
        );
        println!(
            "| baseline: as one value, size | {} bytes, {:.1} bytes per item |",
            as_value.len(),
            as_value.len() as f64 / items as f64
        );
        println!(
            "| snapshot (encode + SHA-256 + store) | {:.1} ms |",
            common::median(snapshot_times).as_secs_f64() * 1e3
        );
        println!(
            "| cold load (read + verify + decode) | {:.1} ms |",
            common::median(load_times).as_secs_f64() * 1e3
        );
        println!(
            "| snapshot size | {bytes} bytes, {:.1} bytes per item |",
            bytes as f64 / items as f64
        );
        store.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
