//! The diesel implementation of [`crate::core::store::Store`] for SQLite and PostgreSQL.
//!
//! One code base serves both backends through diesel's `MultiConnection`; the few statements
//! that differ (connection set-up) branch on the connection variant. Every query runs on tokio's
//! blocking pool, so database work never stalls the async worker threads.
//!
//! Each aggregate's trait is implemented in its own file (`accounts`, `clients`, `scopes`,
//! `grants` with `revocation`, `sessions`, `consents`, `portal`); every method goes through
//! [`DbStore::run`].

mod accounts;
mod clients;
mod consents;
mod feed;
mod grants;
mod keys;
mod models;
mod portal;
mod revocation;
pub(crate) mod schema;
mod scopes;
mod search;
mod sessions;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::core::store::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

mod conn {
    // The derive generates undocumented public items; the type stays private to the crate.
    #![allow(missing_docs)]
    use diesel::{PgConnection, SqliteConnection};

    /// A connection to either backend.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        /// PostgreSQL (bundled libpq).
        Postgresql(PgConnection),
        /// SQLite (bundled libsqlite3).
        Sqlite(SqliteConnection),
    }
}
pub(crate) use conn::AnyConnection;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` or `sqlite::memory:`-free file paths.
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

/// Splits a `DATABASE_URL` into its backend and the string the driver wants.
///
/// ```
/// use scopegate::store::{parse_database_url, Backend};
/// assert_eq!(parse_database_url("sqlite://polls.db").unwrap(), (Backend::Sqlite, "polls.db".into()));
/// assert_eq!(parse_database_url("sqlite:///var/db/a.db").unwrap(), (Backend::Sqlite, "/var/db/a.db".into()));
/// assert_eq!(parse_database_url("postgres://u@h/db").unwrap().0, Backend::Postgres);
/// assert!(parse_database_url("mysql://x").is_err());
/// ```
pub fn parse_database_url(url: &str) -> Result<(Backend, String), String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_owned()))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            Err("sqlite:// needs a file path, e.g. sqlite://scopegate.db".into())
        } else if path == ":memory:" {
            Err("an in-memory SQLite database is not shared between connections; use a file".into())
        } else {
            Ok((Backend::Sqlite, path.to_owned()))
        }
    } else {
        Err(format!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
        ))
    }
}

/// Connections open or being opened, in every pool of the process. The pool opens and closes
/// connections on its own threads; the process must not exit while one does (OpenSSL's exit-time
/// cleanup then races libpq on that thread and crashes), so [`wait_until_closed`] waits for 0.
static LIVE_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// Counts itself in [`LIVE_CONNECTIONS`] from creation until dropped.
struct Live;

impl Live {
    fn new() -> Self {
        LIVE_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE_CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A pooled connection, counted while it exists.
pub(crate) struct Counted {
    conn: AnyConnection,
    // Declared after `conn`, so it is dropped (uncounted) only once the connection is closed.
    _live: Live,
}

impl std::ops::Deref for Counted {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Counted {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// Waits (at most `limit`) until every pool of the process has closed its connections, including
/// those its background threads were still opening. Call it after the last store is dropped and
/// before the process exits; `false` when connections are still open at the limit.
pub fn wait_until_closed(limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while LIVE_CONNECTIONS.load(Ordering::SeqCst) > 0 {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

#[derive(Clone)]
struct Manager {
    backend: Backend,
    url: String,
}

impl ManageConnection for Manager {
    type Connection = Counted;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Counted, Self::Error> {
        // Counted before the attempt: a connection half made on a pool thread counts too.
        let live = Live::new();
        let conn = self.establish()?;
        Ok(Counted { conn, _live: live })
    }

    fn is_valid(&self, conn: &mut Counted) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Counted) -> bool {
        conn.is_broken()
    }
}

impl Manager {
    fn establish(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // Every connection hears the change feed, so the writer's own announcement
                // arrives with its COMMIT and is applied before the store call returns.
                conn.batch_execute(&format!("LISTEN {}", feed::CHANNEL))
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; busy_timeout makes writers queue
                // instead of failing with "database is locked".
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// The database behind scopegate: a connection pool and the backend it speaks.
#[derive(Clone)]
pub struct DbStore {
    pool: Pool<Manager>,
    backend: Backend,
    manager: Manager,
    hub: Arc<feed::Hub>,
}

impl DbStore {
    /// Opens a pool on `database_url` (`sqlite://PATH` or `postgres://...`), waiting up to 10 s
    /// for the database.
    pub fn open(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::with_pool(database_url, |builder, manager| {
            builder
                .max_size(max_connections.max(1))
                .build(manager)
                .map_err(unavailable)
        })
    }

    /// Opens a pool without waiting for the database: connections are made in the background
    /// (a failed attempt is one warning line, retried with backoff), and each query waits up to
    /// 10 s for one. `serve` starts this way, so an orchestrator may start it before the database.
    pub fn open_lazily(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::with_pool(database_url, |builder, manager| {
            Ok(builder
                .max_size(max_connections.max(1))
                .error_handler(Box::new(OneLineErrors))
                .build_unchecked(manager))
        })
    }

    /// Opens a pool for a one-shot command: it retries quietly (no log line per failed attempt)
    /// and gives up after `wait`, so an unreachable database is one line of error, soon.
    pub fn open_quietly(
        database_url: &str,
        max_connections: u32,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        Self::with_pool(database_url, |builder, manager| {
            builder
                .max_size(max_connections.max(1))
                .connection_timeout(wait)
                .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
                .build(manager)
                .map_err(unavailable)
        })
    }

    /// The one place a pool is made: the URL picks the backend, the defaults (one idle
    /// connection, 10 s to get one) are set, and `build` adds what the caller differs in.
    fn with_pool(
        database_url: &str,
        build: impl FnOnce(diesel::r2d2::Builder<Manager>, Manager) -> Result<Pool<Manager>, StoreError>,
    ) -> Result<Self, StoreError> {
        let (backend, url) = parse_database_url(database_url).map_err(StoreError::Unavailable)?;
        let builder = Pool::builder()
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10));
        let manager = Manager { backend, url };
        let pool = build(builder, manager.clone())?;
        Ok(Self {
            pool,
            backend,
            manager,
            hub: Arc::new(feed::Hub::new()),
        })
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.migrate_within(Duration::from_secs(10))
    }

    /// [`Self::migrate`], waiting at most `wait` for a connection.
    pub fn migrate_within(&self, wait: Duration) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.get_timeout(wait).map_err(unavailable)?;
        conn.run_pending_migrations(self.migrations())
            .map(|applied| applied.iter().map(ToString::to_string).collect())
            .map_err(|e| StoreError::Database(e.to_string()))
    }

    /// The migrations of this build the database has not applied yet.
    pub(crate) fn count_pending(&self, conn: &mut AnyConnection) -> Result<usize, StoreError> {
        conn.pending_migrations(self.migrations())
            .map(|pending| pending.len())
            .map_err(|e| StoreError::Database(e.to_string()))
    }

    fn migrations(&self) -> EmbeddedMigrations {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// Wraps the store for sharing across tasks.
    pub fn shared(self) -> Arc<dyn crate::core::store::Store> {
        Arc::new(self)
    }

    /// The change feed, its listener started on first use (`serve` starts it; one-shot
    /// commands never do).
    pub fn change_feed(&self) -> Arc<crate::core::feed::Feed> {
        self.hub.start(&self.manager)
    }

    /// Runs `f` with a pooled connection on the blocking pool, then applies the changes that
    /// connection can see: every store call publishes its own writes to this instance's caches
    /// before it returns, whichever method it is.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let hub = self.hub.clone();
        tokio::task::spawn_blocking(move || {
            let asked = std::time::Instant::now();
            let mut conn = pool.get().map_err(unavailable)?;
            if crate::core::metrics::enabled() {
                let state = pool.state();
                let waited = asked.elapsed().as_secs_f64();
                crate::core::metrics::pool(waited, state.connections, state.idle_connections);
            }
            let out = f(&mut conn);
            hub.catch_up(&mut conn);
            out
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl crate::core::store::Store for DbStore {
    async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let store = self.clone();
        self.run(move |conn| store.count_pending(conn)).await
    }
}

/// A row count as the `u64` the store answers with.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Logs a failed background connection attempt as one warning line (r2d2's default handler
/// writes libpq's multi-line message at error level on every retry).
#[derive(Debug)]
struct OneLineErrors;

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for OneLineErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        let StoreError::Unavailable(line) = unavailable(error) else {
            return;
        };
        tracing::warn!(error = %line, "database connection failed; retrying");
    }
}

/// A pool failure as one line.
fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(one_line(&e.to_string()))
}

/// A database message as one line: libpq's span several lines and tabs.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(info.message().to_owned())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}
