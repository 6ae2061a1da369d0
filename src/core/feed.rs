//! What a cache needs to know about changes made anywhere: the receiving end of the change feed.
//!
//! The database announces every write that can make a cached answer wrong (a trigger per table,
//! see `docs/caching.md`); the storage layer hands each announcement to [`Feed::apply`]. A cache
//! entry records the feed's epoch when its lookup began and the rows it was built from; it may
//! be served only while [`Feed::is_current`] says none of those rows changed since, and while
//! the feed is live: when the listener is down, nothing is served from a cache at all.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A kind of row whose change can make a cached answer wrong. The database names it in each
/// announcement; an announcement of a kind this build does not know empties every cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// An access or refresh token: revoked, rotated, or deleted while still valid.
    Token,
    /// A client: any edit (secret, approval, grants, scopes, redirect URIs, lifetimes) or removal.
    Client,
    /// A user: deactivated, a new password, any other edit, or removal.
    User,
    /// A consent: withdrawn or changed.
    Consent,
    /// A scope: added, described anew, or removed (`syncscopes`).
    Scope,
    /// A failed client authentication was recorded (always announced with id 0): the throttle's
    /// cached clean bills no longer hold.
    ClientAuthFailure,
}

impl ChangeKind {
    /// Every kind; the database triggers announce exactly these names.
    pub const ALL: [ChangeKind; 6] = [
        Self::Token,
        Self::Client,
        Self::User,
        Self::Consent,
        Self::Scope,
        Self::ClientAuthFailure,
    ];

    /// The name the database uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Client => "client",
            Self::User => "user",
            Self::Consent => "consent",
            Self::Scope => "scope",
            Self::ClientAuthFailure => "client_auth_failure",
        }
    }

    /// The kind a database name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One announced change: a row of some kind, by its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change {
    /// What kind of row.
    pub kind: ChangeKind,
    /// Its primary key.
    pub id: i64,
}

impl Change {
    /// Parses an announcement `kind:id`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.split_once(':')?;
        Some(Self {
            kind: ChangeKind::parse(kind)?,
            id: id.parse().ok()?,
        })
    }
}

/// Past this many remembered changes, the feed empties every cache instead of growing.
const MAX_MARKS: usize = 100_000;

/// How long a change is remembered: longer than any cache entry may live
/// (`token_cache_max_age` is at most this).
pub const RETENTION: Duration = Duration::from_secs(600);

/// When a row last changed, in the feed's epochs.
#[derive(Debug, Clone, Copy)]
struct Mark {
    epoch: u64,
    at: Instant,
}

/// The receiving end of the change feed, shared by a store and the caches built on it.
#[derive(Debug)]
pub struct Feed {
    /// Bumped for every batch of changes applied: a lookup started at epoch `e` saw every
    /// change applied at or before `e`.
    epoch: AtomicU64,
    /// Entries made before this epoch are stale (after a flush).
    flushed: AtomicU64,
    /// Until when (ms since `start`) the listener vouches that it is connected and current;
    /// 0 when it is down.
    live_until_ms: AtomicU64,
    /// When (ms since `start`) the listener last vouched.
    heard_ms: AtomicU64,
    start: Instant,
    /// The epoch at which each changed row was last announced, for as long as an entry made
    /// before it could still be alive ([`RETENTION`]).
    marks: RwLock<HashMap<Change, Mark>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

impl Feed {
    /// A feed that is down until its listener first reports in.
    pub fn new() -> Self {
        Self {
            epoch: AtomicU64::new(1),
            flushed: AtomicU64::new(0),
            live_until_ms: AtomicU64::new(0),
            heard_ms: AtomicU64::new(0),
            start: Instant::now(),
            marks: RwLock::new(HashMap::new()),
        }
    }

    /// The epoch to record in an entry: read it *before* the lookup the entry will hold.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Records changes announced by the database. Called by the listener, and by the store
    /// right after its own writes, so this instance honours them on its very next request.
    pub fn apply(&self, changes: impl IntoIterator<Item = Change>) {
        let mut changes = changes.into_iter().peekable();
        if changes.peek().is_none() {
            return;
        }
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let at = Instant::now();
        let Ok(mut marks) = self.marks.write() else {
            self.flush();
            return;
        };
        for change in changes {
            marks.insert(change, Mark { epoch, at });
        }
        if marks.len() > MAX_MARKS {
            marks.retain(|_, m| at.duration_since(m.at) < RETENTION);
            if marks.len() > MAX_MARKS {
                // A mass revocation: forget the rows, and with them every cached entry.
                marks.clear();
                drop(marks);
                self.flush();
            }
        }
    }

    /// Makes every cached entry stale: after an announcement this build cannot read, and when
    /// the listener reconnects (it may have missed announcements while down).
    pub fn flush(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.flushed.fetch_max(epoch, Ordering::AcqRel);
    }

    /// The listener's word that it is connected and has applied everything announced so far;
    /// it holds for `lease`, so a listener that hangs stops vouching by itself.
    pub fn vouch(&self, lease: Duration) {
        let now = self.start.elapsed();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.heard_ms.store(ms(now), Ordering::Release);
        self.live_until_ms.store(ms(now + lease), Ordering::Release);
    }

    /// How long since the listener last vouched (since the feed was made, if it never has).
    pub fn silent_for(&self) -> Duration {
        let heard = Duration::from_millis(self.heard_ms.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(heard)
    }

    /// The listener lost its connection: no cache may answer until it is back.
    pub fn down(&self) {
        self.live_until_ms.store(0, Ordering::Release);
    }

    /// True while the listener vouches for the feed.
    pub fn is_live(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        now < self.live_until_ms.load(Ordering::Acquire)
    }

    /// May an entry made at epoch `made` from the rows `deps` be served? Only while the feed is
    /// live, with no flush since the entry was made and none of its rows announced as changed
    /// since. (The entry's age is the cache's to bound, within [`RETENTION`].)
    pub fn is_current(&self, made: u64, deps: &[Change]) -> bool {
        if !self.is_live() || made < self.flushed.load(Ordering::Acquire) {
            return false;
        }
        let Ok(marks) = self.marks.read() else {
            return false;
        };
        deps.iter()
            .all(|dep| marks.get(dep).is_none_or(|m| m.epoch <= made))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);

    fn live() -> Feed {
        let feed = Feed::new();
        feed.vouch(LEASE);
        feed
    }

    fn token(id: i64) -> Change {
        Change {
            kind: ChangeKind::Token,
            id,
        }
    }

    #[test]
    fn a_change_after_the_lookup_began_makes_the_entry_stale() {
        let feed = live();
        let made = feed.epoch();
        assert!(feed.is_current(made, &[token(1), token(2)]));
        feed.apply([token(2)]);
        assert!(!feed.is_current(made, &[token(1), token(2)]));
        assert!(feed.is_current(made, &[token(1)]), "other rows stay");
        // A lookup that began after the change saw it.
        assert!(feed.is_current(feed.epoch(), &[token(2)]));
    }

    #[test]
    fn nothing_is_current_while_the_listener_is_down_or_after_a_flush() {
        let feed = Feed::new();
        let made = feed.epoch();
        assert!(!feed.is_current(made, &[]), "down until vouched for");
        feed.vouch(LEASE);
        assert!(feed.is_current(made, &[]));
        feed.down();
        assert!(!feed.is_current(made, &[]));
        feed.vouch(LEASE);
        feed.flush();
        assert!(!feed.is_current(made, &[]));
        feed.vouch(Duration::ZERO);
        assert!(!feed.is_current(feed.epoch(), &[]), "a lapsed lease");
    }

    #[test]
    fn announcements_parse_and_every_kind_round_trips() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Change::parse("token:42"), Some(token(42)));
        assert_eq!(Change::parse("token:x"), None);
        assert_eq!(Change::parse("grant:1"), None);
        assert_eq!(Change::parse("token"), None);
    }
}
