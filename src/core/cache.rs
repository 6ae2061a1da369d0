//! The caches on the change feed: active tokens (the one lookup behind the guard, introspection
//! and user info), clients (for client authentication), and the throttle's clean bills (a
//! client_id and address with no failed authentication on record). One mechanism serves all
//! three: an entry records the feed's epoch when its lookup began and the rows it was read from,
//! and is served only while [`Feed::is_current`] vouches for those rows. The feed, not the age,
//! is what invalidates entries; `max_age` is a backstop.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::feed::{Change, ChangeKind, Feed};
use super::model::{Client, User};
use super::store::StoreError;
use super::store::prelude::*;
use super::throttle::{Throttle, Throttled, client_throttled};
use super::token::{ActiveToken, find_active};

/// The rows an entry was read from; a shorter list repeats its first row.
type Deps = [Change; 3];

struct Entry<V> {
    value: Arc<V>,
    deps: Deps,
    made: u64,
    fetched: Instant,
}

/// A bounded map whose entries are judged against the feed.
struct FeedCache<K, V, S> {
    /// Its name in the metrics.
    name: &'static str,
    entries: RwLock<HashMap<K, Entry<V>, S>>,
    capacity: usize,
    max_age: Duration,
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> FeedCache<K, V, S> {
    fn new(name: &'static str, capacity: usize, max_age: Duration) -> Self {
        Self {
            name,
            entries: RwLock::new(HashMap::default()),
            capacity,
            max_age: max_age.min(super::feed::RETENTION),
        }
    }

    fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }

    fn get<Q>(&self, feed: &Feed, key: &Q, usable: impl Fn(&V) -> bool) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.entries.read().ok().and_then(|entries| {
            let hit = entries.get(key)?;
            (hit.fetched.elapsed() < self.max_age
                && usable(&hit.value)
                && feed.is_current(hit.made, &hit.deps))
            .then(|| hit.value.clone())
        });
        super::metrics::cache(self.name, found.is_some());
        found
    }

    /// Stores what a lookup begun at epoch `made` found. Nothing is stored while the feed is
    /// down: no one would hear of a change to it.
    fn put(&self, feed: &Feed, key: K, value: Arc<V>, deps: Deps, made: u64, fetched: Instant) {
        if self.capacity == 0 || !feed.is_live() {
            return;
        }
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
                value,
                deps,
                made,
                fetched,
            },
        );
    }
}

/// Hashes a token key cheaply: the key is a SHA-256 digest, uniformly spread and not choosable
/// by a caller, so its bytes make a good table hash (SipHash would only add work on the hot
/// path). Keys a caller chooses (client ids, addresses) use the standard, seeded hasher.
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

type DigestState = std::hash::BuildHasherDefault<DigestHasher>;
type Seeded = std::collections::hash_map::RandomState;

fn change(kind: ChangeKind, id: i64) -> Change {
    Change { kind, id }
}

/// Every cache of a server, on one feed. Each holds at most `capacity` entries kept at most
/// `max_age` (capped at [`super::feed::RETENTION`]); a capacity of 0 caches nothing.
pub struct Caches {
    feed: Arc<Feed>,
    /// By the SHA-256 of the token (never the token).
    tokens: FeedCache<[u8; 32], ActiveToken, DigestState>,
    /// By `client_id`.
    clients: FeedCache<String, Client, Seeded>,
    /// By id: the users of cached tokens, shared between their entries.
    users: FeedCache<i64, User, Seeded>,
    /// `(client_id, address)` pairs the throttle found clean: no failed client authentication
    /// on record anywhere since.
    clean: FeedCache<(String, String), (), Seeded>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("tokens", &self.tokens.len())
            .field("clients", &self.clients.len())
            .field("users", &self.users.len())
            .field("clean", &self.clean.len())
            .finish_non_exhaustive()
    }
}

impl Caches {
    /// Caches on `feed`.
    pub fn new(feed: Arc<Feed>, capacity: usize, max_age: Duration) -> Self {
        Self {
            feed,
            tokens: FeedCache::new("tokens", capacity, max_age),
            clients: FeedCache::new("clients", capacity, max_age),
            users: FeedCache::new("users", capacity, max_age),
            clean: FeedCache::new("throttle_clean", capacity, max_age),
        }
    }

    /// The feed these caches listen to.
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// The active token behind `presented` ([`find_active`]), from the cache when the feed
    /// vouches for its token, client and user, else from `store` (and then cached). Unknown and
    /// inactive tokens are never cached: each asks the store.
    pub async fn find_active(
        &self,
        store: &dyn Store,
        presented: &str,
        now: i64,
    ) -> Result<Option<Arc<ActiveToken>>, StoreError> {
        let key: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if let Some(hit) = self
            .tokens
            .get(&self.feed, &key, |a| a.token.expires_at > now)
        {
            return Ok(Some(hit));
        }
        // Read before the lookup: a change announced during it makes the entry stale.
        let (made, fetched) = (self.feed.epoch(), Instant::now());
        let Some(mut active) = find_active(store, presented, now).await? else {
            return Ok(None);
        };
        // One copy of a client (and of a user) for all its cached tokens, not one each.
        active.client = self.shared_client(active.client, made, fetched);
        active.user = active.user.map(|u| self.shared_user(u, made, fetched));
        let active = Arc::new(active);
        let token = change(ChangeKind::Token, active.token.id);
        let deps = [
            token,
            change(ChangeKind::Client, active.client.id),
            active
                .user
                .as_ref()
                .map_or(token, |u| change(ChangeKind::User, u.id)),
        ];
        self.tokens
            .put(&self.feed, key, active.clone(), deps, made, fetched);
        Ok(Some(active))
    }

    /// The cached copy of `fresh` when the feed vouches for it (then it equals `fresh`, or a
    /// change to it is on its way and voids the entries that share it); else `fresh`, cached.
    fn shared_client(&self, fresh: Arc<Client>, made: u64, fetched: Instant) -> Arc<Client> {
        if let Some(known) = self
            .clients
            .get(&self.feed, fresh.client_id.as_str(), |c| c.id == fresh.id)
        {
            return known;
        }
        let row = change(ChangeKind::Client, fresh.id);
        let key = fresh.client_id.clone();
        self.clients
            .put(&self.feed, key, fresh.clone(), [row; 3], made, fetched);
        fresh
    }

    /// [`Self::shared_client`] for users.
    fn shared_user(&self, fresh: Arc<User>, made: u64, fetched: Instant) -> Arc<User> {
        if let Some(known) = self.users.get(&self.feed, &fresh.id, |_| true) {
            return known;
        }
        let row = change(ChangeKind::User, fresh.id);
        self.users
            .put(&self.feed, fresh.id, fresh.clone(), [row; 3], made, fetched);
        fresh
    }

    /// The client registered as `client_id`, from the cache while the feed vouches for its row.
    /// Unknown client ids are never cached.
    pub async fn client(
        &self,
        store: &dyn Store,
        client_id: &str,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(hit) = self.clients.get(&self.feed, client_id, |_| true) {
            return Ok(Some(hit));
        }
        let (made, fetched) = (self.feed.epoch(), Instant::now());
        let Some(client) = store.client_by_client_id(client_id).await? else {
            return Ok(None);
        };
        Ok(Some(self.shared_client(Arc::new(client), made, fetched)))
    }

    /// [`client_throttled`], skipping the database while the feed vouches that no failed client
    /// authentication was recorded anywhere since this client_id and address were last found
    /// clean. (Counts only fall as the window slides; only a new failure can raise them, and
    /// every failure is announced.)
    pub async fn client_throttled(
        &self,
        store: &dyn Store,
        throttle: Throttle,
        client_id: &str,
        client_ip: &str,
        now: i64,
    ) -> Result<Option<Throttled>, StoreError> {
        let key = (client_id.to_owned(), client_ip.to_owned());
        if self.clean.get(&self.feed, &key, |()| true).is_some() {
            return Ok(None);
        }
        let (made, fetched) = (self.feed.epoch(), Instant::now());
        let verdict = client_throttled(store, throttle, client_id, client_ip, now).await?;
        if verdict.is_none() {
            let failures = change(ChangeKind::ClientAuthFailure, 0);
            self.clean
                .put(&self.feed, key, Arc::new(()), [failures; 3], made, fetched);
        }
        Ok(verdict)
    }
}
