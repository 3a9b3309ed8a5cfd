//! The SQL [`Store`] on SQLite (the embedded default: one file, WAL, `synchronous=FULL`) and
//! PostgreSQL, through sqlx with runtime-checked queries (no database is needed to build).
//!
//! Both dialects take `$n` placeholders, upserts and `WITH ... UPDATE ... FROM`, so one set of
//! statements serves both; only the migrations differ (`BLOB` and `BYTEA`). Each method's body
//! is written once and compiled for each pool by `on_pool!`. A group of log entries is one
//! transaction: one multi-row insert into the log, one multi-row update of the changed pieces'
//! metadata, an insert per created piece and deletes per deleted one, so a group of 64 edits
//! costs a handful of round trips and one fsync.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    EntryKind, LogEntry, PieceMeta, SNAPSHOTS_KEPT, Store, StoreError, Stored, StoredPiece,
};
use crate::identity::TenantId;
use crate::model::PieceId;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Rows in one multi-row insert (5 parameters each, far below either database's limit).
const ROWS_PER_INSERT: usize = 200;

/// How long a call waits for a connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A store on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool,
}

/// Runs `$body` with `$p` bound to the pool, whichever backend it is.
macro_rules! on_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(match e {
        // sqlx's own messages name the failure, not the URL or credentials.
        sqlx::Error::Database(db) => format!("the database refused: {}", db.message()),
        other => other.to_string(),
    })
}

fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn piece_id_of(text: &str) -> Result<PieceId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Unavailable(format!("a stored piece id {text:?} is not valid")))
}

impl SqlStore {
    /// Connects to `url` (`sqlite:...`, `postgres://...`). Does not migrate.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let config = |e: sqlx::Error| StoreError::Config(format!("store.url: {e}"));
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(config)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Every acknowledged commit is on disk: WAL with FULL syncs at each commit.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(ACQUIRE_TIMEOUT);
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(unavailable)?,
            )
        } else {
            let options = PgConnectOptions::from_str(url).map_err(config)?;
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(unavailable)?,
            )
        };
        Ok(SqlStore { pool })
    }

    fn migrator(&self) -> &'static Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }
}

/// `($1, $2, ...), (...)` for `rows` rows of `columns` parameters.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The net effect of a group of entries on each piece's metadata, in first-seen order.
#[derive(Debug)]
struct MetaChange<'a> {
    piece: String,
    entry: &'a LogEntry,
    /// Title, owner and time of a creation in the group.
    created: Option<(&'a str, &'a str, i64)>,
    title: Option<&'a str>,
    access: Option<&'a [u8]>,
    version: i64,
    updated_us: i64,
    deleted: bool,
}

fn net_changes(entries: &[LogEntry]) -> Vec<MetaChange<'_>> {
    let mut out: Vec<MetaChange<'_>> = Vec::new();
    let mut index: std::collections::HashMap<PieceId, usize> = std::collections::HashMap::new();
    for e in entries {
        let i = *index.entry(e.piece_id).or_insert_with(|| {
            out.push(MetaChange {
                piece: e.piece_id.to_string(),
                entry: e,
                created: None,
                title: None,
                access: None,
                version: 0,
                updated_us: 0,
                deleted: false,
            });
            out.len() - 1
        });
        let m = &mut out[i];
        match &e.kind {
            EntryKind::Created { title, owner } => {
                m.created = Some((title, owner, e.at_us));
                m.deleted = false;
            }
            EntryKind::Changed { title } => {
                if let Some(t) = title {
                    m.title = Some(t);
                }
            }
            EntryKind::Deleted => m.deleted = true,
        }
        if let Some(a) = &e.access {
            m.access = Some(a);
        }
        m.version = e.version as i64;
        m.updated_us = e.at_us;
    }
    out
}

#[async_trait::async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.migrator();
        on_pool!(self, p => migrator.run(p).await).map_err(|e| StoreError::Migration(e.to_string()))
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let migrator = self.migrator();
        let applied = on_pool!(self, p => {
            let mut conn = p.acquire().await.map_err(unavailable)?;
            // No migrations table yet: nothing applied (checking must not create it).
            conn.list_applied_migrations().await.unwrap_or_default()
        });
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .map(|m| format!("{}_{}", m.version, m.description))
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
            .map_err(unavailable)
    }

    async fn append(&self, entries: &[LogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let changes = net_changes(entries);
        let deleted: Vec<&str> = changes
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.piece.as_str())
            .collect();
        let deleted_ids: std::collections::HashSet<PieceId> = changes
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.entry.piece_id)
            .collect();
        // A piece deleted in this group keeps nothing, not even the records before it.
        let logged: Vec<&LogEntry> = entries
            .iter()
            .filter(|e| !deleted_ids.contains(&e.piece_id))
            .collect();
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(unavailable)?;
            for chunk in logged.chunks(ROWS_PER_INSERT) {
                let sql = format!(
                    "INSERT INTO redo_log (piece_id, version, body, checksum) VALUES {}",
                    placeholders(chunk.len(), 4)
                );
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(e.piece_id.to_string())
                        .bind(e.version as i64)
                        .bind(e.body.as_slice())
                        .bind(e.checksum.as_slice());
                }
                q.execute(&mut *tx).await.map_err(unavailable)?;
            }
            for m in changes.iter().filter(|m| !m.deleted) {
                let Some((title, owner, created_us)) = m.created else {
                    continue;
                };
                sqlx::query(
                    "INSERT INTO pieces (piece_id, tenant, title, owner, created_us, \
                     updated_us, version, access) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&m.piece)
                .bind(m.entry.tenant.as_str())
                .bind(m.title.unwrap_or(title))
                .bind(owner)
                .bind(created_us)
                .bind(m.updated_us)
                .bind(m.version)
                .bind(m.access.unwrap_or_default())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            }
            // Every changed piece's metadata in one statement per chunk.
            let updated: Vec<&MetaChange<'_>> = changes
                .iter()
                .filter(|m| !m.deleted && m.created.is_none())
                .collect();
            for chunk in updated.chunks(ROWS_PER_INSERT) {
                let sql = format!(
                    "WITH v (piece_id, version, updated_us, title, access) AS (VALUES {}) \
                     UPDATE pieces SET version = v.version, updated_us = v.updated_us, \
                     title = COALESCE(v.title, pieces.title), \
                     access = COALESCE(v.access, pieces.access) \
                     FROM v WHERE pieces.piece_id = v.piece_id",
                    placeholders(chunk.len(), 5)
                );
                let mut q = sqlx::query(&sql);
                for m in chunk {
                    q = q
                        .bind(&m.piece)
                        .bind(m.version)
                        .bind(m.updated_us)
                        .bind(m.title)
                        .bind(m.access);
                }
                q.execute(&mut *tx).await.map_err(unavailable)?;
            }
            for piece in &deleted {
                // The piece's row first (the row a snapshot also locks first).
                for table in ["pieces", "redo_log", "snapshots"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE piece_id = $1"))
                        .bind(*piece)
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                }
            }
            tx.commit().await.map_err(unavailable)
        })
    }

    async fn catalogue(&self) -> Result<Vec<PieceMeta>, StoreError> {
        let rows = on_pool!(self, p => {
            sqlx::query(
                "SELECT piece_id, tenant, title, owner, created_us, updated_us, version, access \
                 FROM pieces ORDER BY tenant, piece_id",
            )
            .fetch_all(p)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.try_get::<String, _>(0)?,
                    r.try_get::<String, _>(1)?,
                    r.try_get::<String, _>(2)?,
                    r.try_get::<String, _>(3)?,
                    r.try_get::<i64, _>(4)?,
                    r.try_get::<i64, _>(5)?,
                    r.try_get::<i64, _>(6)?,
                    r.try_get::<Vec<u8>, _>(7)?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?
        });
        rows.into_iter()
            .map(
                |(id, tenant, title, owner, created_us, updated_us, version, access)| {
                    Ok(PieceMeta {
                        piece_id: piece_id_of(&id)?,
                        tenant: TenantId::from(tenant.as_str()),
                        title,
                        owner,
                        created_us,
                        updated_us,
                        version: version_of(version),
                        access,
                    })
                },
            )
            .collect()
    }

    async fn load(&self, piece: PieceId) -> Result<StoredPiece, StoreError> {
        let id = piece.to_string();
        let read = |table: &str, order: &str| {
            format!(
                "SELECT version, body, checksum FROM {table} WHERE piece_id = $1 ORDER BY version {order}"
            )
        };
        let postgres = matches!(self.pool, Pool::Postgres(_));
        let (snapshots, records) = on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(unavailable)?;
            if postgres {
                // Both reads from one snapshot of the database: a snapshot and the log trimmed
                // behind it between two reads would look like a gap.
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
            }
            let mut both = Vec::new();
            for (table, order) in [("snapshots", "DESC"), ("redo_log", "ASC")] {
                let rows = sqlx::query(&read(table, order))
                    .bind(&id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                let stored = rows
                    .into_iter()
                    .map(|r| {
                        Ok::<_, sqlx::Error>(Stored {
                            version: version_of(r.try_get::<i64, _>(0)?),
                            body: r.try_get::<Vec<u8>, _>(1)?,
                            checksum: r.try_get::<Vec<u8>, _>(2)?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                both.push(stored);
            }
            tx.commit().await.map_err(unavailable)?;
            let records = both.pop().unwrap_or_default();
            (both.pop().unwrap_or_default(), records)
        });
        Ok(StoredPiece { snapshots, records })
    }

    async fn put_snapshot(&self, piece: PieceId, snapshot: Stored) -> Result<(), StoreError> {
        let id = piece.to_string();
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(unavailable)?;
            // A write first: SQLite takes its write lock now rather than failing to upgrade a
            // read later, and PostgreSQL locks the piece's row, the row a deletion of the piece
            // also locks first, so the two never wait for each other in opposite orders.
            let exists = sqlx::query("UPDATE pieces SET version = version WHERE piece_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected()
                > 0;
            if !exists {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO snapshots (piece_id, version, body, checksum) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (piece_id, version) DO NOTHING",
            )
            .bind(&id)
            .bind(snapshot.version as i64)
            .bind(snapshot.body.as_slice())
            .bind(snapshot.checksum.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
            let kept: Vec<i64> = sqlx::query(
                "SELECT version FROM snapshots WHERE piece_id = $1 ORDER BY version DESC",
            )
            .bind(&id)
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()
            .map_err(unavailable)?;
            if kept.len() >= SNAPSHOTS_KEPT {
                let oldest_kept = kept[SNAPSHOTS_KEPT - 1];
                sqlx::query("DELETE FROM snapshots WHERE piece_id = $1 AND version < $2")
                    .bind(&id)
                    .bind(oldest_kept)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                sqlx::query("DELETE FROM redo_log WHERE piece_id = $1 AND version <= $2")
                    .bind(&id)
                    .bind(oldest_kept)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
            }
            tx.commit().await.map_err(unavailable)
        })
    }

    async fn put_tenant(&self, tenant: &TenantId, body: &[u8]) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO tenants (tenant, body) VALUES ($1, $2) \
                 ON CONFLICT (tenant) DO UPDATE SET body = excluded.body",
            )
            .bind(tenant.as_str())
            .bind(body)
            .execute(p)
            .await
            .map(|_| ())
        })
        .map_err(unavailable)
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query("DELETE FROM tenants WHERE tenant = $1")
                .bind(tenant.as_str())
                .execute(p)
                .await
                .map(|_| ())
        })
        .map_err(unavailable)
    }

    async fn tenants(&self) -> Result<Vec<(TenantId, Vec<u8>)>, StoreError> {
        on_pool!(self, p => {
            sqlx::query("SELECT tenant, body FROM tenants ORDER BY tenant")
                .fetch_all(p)
                .await
                .map_err(unavailable)?
                .into_iter()
                .map(|r| {
                    Ok((
                        TenantId::from(r.try_get::<String, _>(0)?.as_str()),
                        r.try_get::<Vec<u8>, _>(1)?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(unavailable)
        })
    }

    async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_and_columns() {
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
