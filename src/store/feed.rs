//! The sending half of the change feed lives in the database (triggers, migration 000014); this
//! is the receiving half. Two paths feed [`Feed::apply`]:
//!
//! - **After every store operation** ([`Hub::catch_up`], called by `DbStore::run`): the
//!   connection that just ran reads what it can see, so this instance honours its own writes on
//!   its very next request. SQLite reads the `changes` table; on PostgreSQL every pooled
//!   connection LISTENs and the writer's own NOTIFY arrives with its COMMIT, so draining the
//!   connection needs no round trip.
//! - **A listener thread** for other instances' writes, on a connection of its own: PostgreSQL
//!   drains NOTIFY every 5 ms and proves the connection every 200 ms; SQLite polls the table
//!   every 20 ms. Each success renews the feed's 2 s lease; on any failure the feed is down (no
//!   cache answers) until the listener has reconnected and flushed every cache.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::schema::changes;
use super::{AnyConnection, Backend, Live, Manager, one_line};
use crate::core::feed::{Change, ChangeKind, Feed};

/// The PostgreSQL channel the triggers announce on.
pub(super) const CHANNEL: &str = "scopegate_changes";
/// How long one proof of the listener's health keeps the caches on. A failed connection turns
/// them off at once; the lease bounds only a listener that hangs without failing (a dead
/// network). It spans several proofs, because on a CPU-saturated machine a sleeping thread can
/// wait hundreds of milliseconds to run, and a lapse sends every request to the database, which
/// is slowest exactly then.
const LEASE_PG: Duration = Duration::from_secs(2);
const LEASE_SQLITE: Duration = Duration::from_secs(2);
const DRAIN_EVERY: Duration = Duration::from_millis(5);
const PING_EVERY: Duration = Duration::from_millis(200);
const POLL_EVERY: Duration = Duration::from_millis(20);
/// SQLite: rows older than this are deleted (every instance has long applied them).
const KEEP_ROWS: Duration = Duration::from_secs(600);
/// More unread rows than this in one read: flush instead of applying them one by one.
const MAX_BATCH: i64 = 10_000;

/// A store's end of the feed: the feed itself, started on first use.
pub(super) struct Hub {
    feed: Arc<Feed>,
    /// SQLite: the highest `changes.seq` applied.
    last_seq: Arc<AtomicI64>,
    listener: OnceLock<Listener>,
}

impl Hub {
    pub(super) fn new() -> Self {
        Self {
            feed: Arc::new(Feed::new()),
            last_seq: Arc::new(AtomicI64::new(0)),
            listener: OnceLock::new(),
        }
    }

    /// The feed, with its listener started (once) on a connection of its own.
    pub(super) fn start(&self, manager: &Manager) -> Arc<Feed> {
        self.listener.get_or_init(|| {
            Listener::spawn(manager.clone(), self.feed.clone(), self.last_seq.clone())
        });
        self.feed.clone()
    }

    /// Applies what `conn` can see now; a no-op until the feed is started (one-shot commands
    /// cache nothing). A failure flushes every cache: a change may have been missed.
    pub(super) fn catch_up(&self, conn: &mut AnyConnection) {
        if self.listener.get().is_none() {
            return;
        }
        if let Err(e) = read_changes(conn, &self.feed, &self.last_seq) {
            tracing::warn!(error = %e, "reading the change feed failed; caches flushed");
            self.feed.flush();
        }
    }
}

/// Applies the changes `conn` can see: SQLite's unread rows, PostgreSQL's queued NOTIFYs.
fn read_changes(
    conn: &mut AnyConnection,
    feed: &Feed,
    last_seq: &AtomicI64,
) -> Result<(), diesel::result::Error> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            let notes = pg.notifications_iter().collect::<Result<Vec<_>, _>>()?;
            apply_announced(feed, notes.iter().map(|n| Change::parse(&n.payload)));
        }
        AnyConnection::Sqlite(_) => {
            let last = last_seq.load(Ordering::Acquire);
            let rows: Vec<(i64, String, i64)> = changes::table
                .filter(changes::seq.gt(last))
                .order(changes::seq)
                .select((changes::seq, changes::kind, changes::ref_id))
                .limit(MAX_BATCH)
                .load(conn)?;
            let Some(&(top, _, _)) = rows.last() else {
                return Ok(());
            };
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= MAX_BATCH {
                feed.flush();
            } else {
                let announced = rows
                    .into_iter()
                    .map(|(_, kind, id)| ChangeKind::parse(&kind).map(|kind| Change { kind, id }));
                apply_announced(feed, announced);
            }
            last_seq.fetch_max(top, Ordering::AcqRel);
        }
    }
    Ok(())
}

/// Applies announcements; one this build cannot read (a kind it does not know) empties every
/// cache instead, since nothing cached can be trusted then.
fn apply_announced(feed: &Feed, announced: impl IntoIterator<Item = Option<Change>>) {
    let mut batch = Vec::new();
    for change in announced {
        match change {
            Some(change) => batch.push(change),
            None => feed.flush(),
        }
    }
    feed.apply(batch);
}

/// The listener thread; dropping the last store stops it.
struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Listener {
    fn spawn(manager: Manager, feed: Arc<Feed>, last_seq: Arc<AtomicI64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("scopegate-feed".into())
            .spawn(move || listen(&manager, &feed, &last_seq, &stopping));
        if let Err(e) = spawned {
            // Without a listener the feed never goes live: every answer comes from the database.
            tracing::error!(error = %e, "could not start the change-feed listener");
        }
        Self { stop }
    }
}

/// Connects, listens until the connection fails, and reconnects with backoff, until `stop`.
fn listen(manager: &Manager, feed: &Feed, last_seq: &AtomicI64, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(50);
    while !stop.load(Ordering::Acquire) {
        // Counted, so the process waits for this connection to close before it exits.
        let live = Live::new();
        let error = match manager.establish() {
            Ok(mut conn) => {
                backoff = Duration::from_millis(50);
                let e = serve_feed(manager.backend, &mut conn, feed, last_seq, stop);
                drop(conn);
                e
            }
            Err(e) => Some(e.to_string()),
        };
        drop(live);
        feed.down();
        if !stop.load(Ordering::Acquire) {
            crate::core::metrics::feed_reconnect();
        }
        // A store being dropped often takes its database with it: no warning for that.
        if let Some(error) = error.filter(|_| !stop.load(Ordering::Acquire)) {
            tracing::warn!(error = %one_line(&error),
                "change-feed listener lost its connection; caches are off until it is back");
            sleep_unless_stopped(backoff, stop);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

/// Runs one connection's listening loop: `None` when stopped, else what failed.
fn serve_feed(
    backend: Backend,
    conn: &mut AnyConnection,
    feed: &Feed,
    last_seq: &AtomicI64,
    stop: &AtomicBool,
) -> Option<String> {
    let fail = |e: diesel::result::Error| Some(e.to_string());
    let (lease, every) = match backend {
        Backend::Postgres => {
            if let Err(e) = diesel::sql_query("SET application_name = 'scopegate-feed'")
                .execute(conn)
                .and_then(|_| diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(conn))
            {
                return fail(e);
            }
            (LEASE_PG, DRAIN_EVERY)
        }
        Backend::Sqlite => {
            // Start from the newest row: nothing is cached from before it.
            match changes::table
                .select(diesel::dsl::max(changes::seq))
                .first::<Option<i64>>(conn)
            {
                Ok(top) => last_seq.fetch_max(top.unwrap_or(0), Ordering::AcqRel),
                Err(e) => return fail(e),
            };
            (LEASE_SQLITE, POLL_EVERY)
        }
    };
    // Anything announced while no one listened is unknown: start every cache afresh.
    feed.flush();
    feed.vouch(lease);
    let mut proven = Instant::now();
    let mut pruned = Instant::now();
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(every);
        if let Err(e) = read_changes(conn, feed, last_seq) {
            return fail(e);
        }
        match backend {
            Backend::Postgres => {
                // Draining reads only what arrived; a round trip proves the link is alive.
                if proven.elapsed() >= PING_EVERY {
                    if let Err(e) = diesel::sql_query("SELECT 1").execute(conn) {
                        return fail(e);
                    }
                    proven = Instant::now();
                    feed.vouch(lease);
                }
            }
            Backend::Sqlite => {
                feed.vouch(lease);
                if pruned.elapsed() >= Duration::from_secs(10) {
                    pruned = Instant::now();
                    let cutoff =
                        crate::core::now() - i64::try_from(KEEP_ROWS.as_secs()).unwrap_or(i64::MAX);
                    // Best effort: a busy database is pruned next time.
                    let _ = diesel::delete(changes::table.filter(changes::created_at.lt(cutoff)))
                        .execute(conn);
                }
            }
        }
    }
    None
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Acquire) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
}
