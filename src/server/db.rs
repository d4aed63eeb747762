//! Database access: one code path for SQLite and PostgreSQL through `sqlx::Any`.
//!
//! SQLite gets a single writer connection and a pool of readers (WAL lets them run beside the
//! writer); PostgreSQL uses one pool for both.

use std::{
    str::FromStr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Connection, Executor,
};

use super::error::{AppError, AppResult};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    /// Reads.
    pub read: AnyPool,
    /// Writes and transactions (one connection on SQLite).
    pub write: AnyPool,
    /// The token deltas of streaming replies (`chat::BatchTx`). On PostgreSQL
    /// a connection of its own whose commits do not wait for the WAL flush
    /// (`synchronous_commit = off`): a crash of the database itself may lose the last fraction of
    /// a second of a reply's text while it streams, never a message or a finished reply (their
    /// commits flush everything before them). On SQLite the write pool.
    pub deltas: AnyPool,
    pub backend: Backend,
    /// Committed changes to chats (for benchmarks and tests of write amplification).
    writes: Arc<AtomicU64>,
    /// SQLite's checkpointer, stopped with the last clone.
    _checkpoints: Option<Arc<Background>>,
    /// SQLite's turn of writes that may wait (see [`Db::patient_turn`]); none on PostgreSQL.
    patient: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Every SQLite connection's settings.
macro_rules! sqlite_pragmas {
    () => {
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    };
}
const READER_PRAGMAS: &str = sqlite_pragmas!();
/// The writer's: as the readers', and it never checkpoints (see [`checkpoints`]).
const WRITER_PRAGMAS: &str = concat!(sqlite_pragmas!(), " PRAGMA wal_autocheckpoint = 0;");

/// How often SQLite's write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies SQLite's write-ahead log into the database file, from a reader's connection, every
/// [`CHECKPOINT_EVERY`]. SQLite would do it in the commit that grows the log past 1,000 pages,
/// on the one writer connection: that commit then waits for the copy and its disk flush (several
/// milliseconds), and every change queued behind it waits too, a customer's message among them.
/// A checkpoint from another connection runs beside the writer (PASSIVE: it copies what no
/// reader still needs, and the log starts over once all of it is copied).
async fn checkpoints(read: AnyPool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&read).await {
            tracing::warn!(%error, "copying the write-ahead log into the database failed");
        }
    }
}

/// A task that ends when dropped.
#[derive(Debug)]
struct Background(tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Db {
    /// Connects, creating the SQLite file and its folder when missing. `connections` sizes the
    /// PostgreSQL pool, opened in full at once.
    pub async fn connect(url: &str, connections: u32) -> AppResult<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let url = prepare_sqlite_url(url)?;
            let options = AnyConnectOptions::from_str(&url)?;
            let pool = |max: u32, pragmas: &'static str| {
                pool_options(max)
                    .min_connections(1)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(pragmas).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options.clone())
            };
            let write = pool(1, WRITER_PRAGMAS).await?;
            let read = pool(8, READER_PRAGMAS).await?;
            let checkpoints = Some(Arc::new(Background(tokio::spawn(checkpoints(read.clone())))));
            Ok(Db {
                read,
                deltas: write.clone(),
                write,
                backend: Backend::Sqlite,
                writes: Arc::default(),
                _checkpoints: checkpoints,
                patient: Some(Arc::default()),
            })
        } else {
            let pool = pool_options(connections).min_connections(connections).connect(url).await?;
            // One writer task uses it (the streaming engine's group commit): one connection. A
            // batch's statements differ by its size (one to a few hundred rows): a cache large
            // enough for every size saves re-preparing them (a round trip each).
            let deltas_url = if url.contains("statement-cache-capacity") {
                url.to_string()
            } else {
                format!("{url}{}statement-cache-capacity=1024", if url.contains('?') { '&' } else { '?' })
            };
            let deltas = pool_options(1)
                .min_connections(1)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET synchronous_commit = off").await?;
                        Ok(())
                    })
                })
                .connect(&deltas_url)
                .await?;
            Ok(Db {
                read: pool.clone(),
                write: pool,
                deltas,
                backend: Backend::Postgres,
                writes: Arc::default(),
                _checkpoints: None,
                patient: None,
            })
        }
    }

    /// Applies the migrations of this backend; fails loudly.
    pub async fn migrate(&self) -> AppResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await.map_err(|e| AppError::Internal(format!("migration failed: {e}")))
    }

    /// On SQLite, whose one writer connection serves everybody in turn: the turn of a write that
    /// can wait (a new visitor, a new chat), held until it commits. Such writes take the writer
    /// one at a time, so a burst of them (many visitors opening the window at once) never stands
    /// in the writer's queue ahead of a customer's message more than one deep; the message goes
    /// next and the burst behind it. `None` on PostgreSQL, whose connections write side by side.
    pub async fn patient_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.patient {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        }
    }

    /// Counts one committed change (see [`Db::write_count`]).
    pub fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Committed changes to chats since start.
    pub fn write_count(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Runs `sql` (a DELETE of at most `$2` rows older than `$1`) until it deletes fewer than
    /// `batch`: no statement holds the database for long. How many rows went.
    pub async fn delete_in_batches(&self, sql: &str, cutoff: i64, batch: i64) -> AppResult<u64> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql).bind(cutoff).bind(batch).execute(&self.write).await?.rows_affected();
            total += done;
            if done < batch as u64 {
                return Ok(total);
            }
        }
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }
}

/// A pool of at most `max` connections; waiting for one fails after 10 s. A connection that sat
/// idle for more than [`CHECK_IDLE_AFTER`] is checked (a round trip) before it is handed out, one
/// in steady use is not: sqlx's default checks every one, a round trip before every statement or
/// transaction on the hot path (three of them between a customer's message and the first words
/// of its reply).
fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// How long a pooled connection may sit idle and still be handed out unchecked.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// `sqlite://data/x.db` → `sqlite://data/x.db?mode=rwc`, creating `data/`.
fn prepare_sqlite_url(url: &str) -> AppResult<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.starts_with("file:") || path == ":memory:" || query.contains("mode=memory") {
        return Ok(url.to_string());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                AppError::Internal(format!("cannot create the database folder {}: {e}", parent.display()))
            })?;
        }
    }
    Ok(if query.is_empty() { format!("{url}?mode=rwc") } else { url.to_string() })
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Unix milliseconds as RFC 3339 (`2026-11-21T20:25:32.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_gets_create_mode_and_keeps_explicit_queries() {
        let dir = std::env::temp_dir().join(format!("fd-url-{}", now_ms()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.exists());
        let mem = "sqlite:file:t?mode=memory&cache=shared";
        assert_eq!(prepare_sqlite_url(mem).unwrap(), mem);
    }

    #[tokio::test]
    async fn sqlites_log_reaches_the_database_file_without_the_writer_copying_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.db");
        let db = Db::connect(&format!("sqlite://{}", file.display()), 1).await.unwrap();
        let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
        let before = size();
        sqlx::query("CREATE TABLE blobs (b TEXT)").execute(&db.write).await.unwrap();
        // About 2 MB, under the 1,000 pages (4 MB) at which a writer would copy it itself.
        sqlx::query(
            "INSERT INTO blobs SELECT hex(randomblob(1000)) FROM \
             (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) SELECT x FROM n)",
        )
        .execute(&db.write)
        .await
        .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while size() < before + 2_000_000 {
            assert!(tokio::time::Instant::now() < deadline, "the log was never copied: {} bytes", size());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn on_sqlite_writes_that_can_wait_take_the_writer_one_at_a_time() {
        let db = Db::connect("sqlite:file:patient?mode=memory&cache=shared", 1).await.unwrap();
        let first = db.patient_turn().await;
        assert!(first.is_some());
        let second = tokio::spawn({
            let db = db.clone();
            async move { db.patient_turn().await.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second waits for the first");
        drop(first);
        assert!(second.await.unwrap());
    }

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }
}
