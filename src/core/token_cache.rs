//! Token validity, cached on the change feed: the one lookup behind the guard, introspection
//! and user info. An entry is served only while [`Feed::is_current`] vouches for the token, its
//! client and its user; the feed, not the age, is what invalidates it (`max_age` is a backstop).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::feed::{Change, ChangeKind, Feed};
use super::grant::{ActiveToken, find_active};
use super::store::{Store, StoreError};

struct Entry {
    active: Arc<ActiveToken>,
    /// The rows the answer was read from: token, client, and user (the token again when there
    /// is no user).
    deps: [Change; 3],
    made: u64,
    fetched: Instant,
}

/// Hashes a key cheaply: the key is a SHA-256 digest, uniformly spread and not choosable by a
/// caller, so its first bytes make a good table hash (SipHash would only add work on the hot
/// path).
#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut head = [0u8; 8];
            head[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(head);
        }
    }
}

type Entries = HashMap<[u8; 32], Entry, std::hash::BuildHasherDefault<DigestHasher>>;

/// A bounded cache of active tokens, keyed by the SHA-256 of the token (never the token).
pub struct TokenCache {
    feed: Arc<Feed>,
    entries: RwLock<Entries>,
    capacity: usize,
    max_age: Duration,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0: no caching), each kept at most `max_age`
    /// (capped at the feed's [`super::feed::RETENTION`]).
    pub fn new(feed: Arc<Feed>, capacity: usize, max_age: Duration) -> Self {
        Self {
            feed,
            entries: RwLock::new(Entries::default()),
            capacity,
            max_age: max_age.min(super::feed::RETENTION),
        }
    }

    /// The feed this cache listens to.
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// How many tokens are cached now.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The active token behind `presented` ([`find_active`]), from the cache when the feed
    /// vouches for the entry, else from `store` (and then cached). Unknown and inactive tokens
    /// are never cached: each asks the store.
    pub async fn find_active(
        &self,
        store: &dyn Store,
        presented: &str,
        now: i64,
    ) -> Result<Option<Arc<ActiveToken>>, StoreError> {
        let key: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if let Some(hit) = self.get(&key, now) {
            return Ok(Some(hit));
        }
        // Read before the lookup: a change announced during it makes the entry stale.
        let made = self.feed.epoch();
        let fetched = Instant::now();
        let Some(active) = find_active(store, presented, now).await? else {
            return Ok(None);
        };
        let active = Arc::new(active);
        self.put(key, &active, made, fetched);
        Ok(Some(active))
    }

    fn get(&self, key: &[u8; 32], now: i64) -> Option<Arc<ActiveToken>> {
        let entries = self.entries.read().ok()?;
        let hit = entries.get(key)?;
        (hit.active.token.expires_at > now
            && hit.fetched.elapsed() < self.max_age
            && self.feed.is_current(hit.made, &hit.deps))
        .then(|| hit.active.clone())
    }

    fn put(&self, key: [u8; 32], active: &Arc<ActiveToken>, made: u64, fetched: Instant) {
        if self.capacity == 0 || !self.feed.is_live() {
            return;
        }
        let token = Change {
            kind: ChangeKind::Token,
            id: active.token.id,
        };
        let deps = [
            token,
            Change {
                kind: ChangeKind::Client,
                id: active.client.id,
            },
            active.user.as_ref().map_or(token, |u| Change {
                kind: ChangeKind::User,
                id: u.id,
            }),
        ];
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            let max_age = self.max_age;
            entries.retain(|_, e| e.fetched.elapsed() < max_age);
            if entries.len() >= self.capacity {
                // Full of live entries: start over rather than grow past the bound.
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                active: active.clone(),
                deps,
                made,
                fetched,
            },
        );
    }
}
