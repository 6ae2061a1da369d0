//! The metrics scopegate records: every name and label set in one place, so none is spelled
//! twice and no call site can put request text in a label. They go through the `metrics` facade;
//! until a recorder is installed (`/metrics` is off by default, see docs/operations.md) each call
//! is a no-op. Labels hold only values fixed by the code: route templates, grant types, error
//! codes, scope names, cache names. Never a token, secret, username or address.
//!
//! The admin dashboard's figures (grants, refusals, throttle events, feed reconnects) come from
//! the same calls: each of [`grant`], [`throttled`] and [`feed_reconnect`] also counts into a
//! small process-wide tally that is kept whether or not a recorder is installed, and
//! [`figures`] reads it. One call per event feeds both, so the two cannot disagree.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

/// Set once a recorder is installed. Until then every function here returns at once, so metrics
/// that are off cost one atomic load, not the facade's key building.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// True once [`enable`] ran: a recorder takes what is recorded.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Requests served, by route template, method and status.
pub const HTTP_REQUESTS: &str = "scopegate_http_requests_total";
/// Time to answer a request, by route template.
pub const HTTP_DURATION: &str = "scopegate_http_request_duration_seconds";
/// Token-endpoint requests, by grant type and outcome (`issued` or the RFC 6749 error code).
pub const GRANTS: &str = "scopegate_grants_total";
/// Guard decisions, by the scopes the guarded handler needs and outcome (`allowed` or the
/// RFC 6750 error code).
pub const GUARD: &str = "scopegate_guard_decisions_total";
/// Cache lookups, by cache and result (`hit` or `miss`).
pub const CACHE: &str = "scopegate_cache_lookups_total";
/// Database connections in the pool, by state (`idle` or `in_use`).
pub const POOL_CONNECTIONS: &str = "scopegate_db_pool_connections";
/// Time a database call waited for a pooled connection.
pub const POOL_WAIT: &str = "scopegate_db_pool_wait_seconds";
/// 1 while the change feed's listener vouches for the caches, else 0.
pub const FEED_LIVE: &str = "scopegate_change_feed_live";
/// Seconds since the change feed's listener last heard from the database.
pub const FEED_LAG: &str = "scopegate_change_feed_lag_seconds";
/// Times the change feed's listener lost its connection.
pub const FEED_RECONNECTS: &str = "scopegate_change_feed_reconnects_total";
/// Credential attempts the throttle refused, by kind (`password` or `client_secret`).
pub const THROTTLED: &str = "scopegate_throttled_total";
/// Live tokens in the database, by kind (`access` or `refresh`), read when metrics are scraped.
pub const ACTIVE_TOKENS: &str = "scopegate_active_tokens";
/// Signed-in browser sessions in the database, read when metrics are scraped.
pub const ACTIVE_SESSIONS: &str = "scopegate_active_sessions";

/// Buckets of the latency histograms, in seconds: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// Starts recording, into the recorder the caller installed, and registers each metric's help
/// text with it.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    describe_counter!(
        HTTP_REQUESTS,
        "Requests served, by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer a request, by route template."
    );
    describe_counter!(
        GRANTS,
        "Token-endpoint requests, by grant type and outcome (issued, or the error code)."
    );
    describe_counter!(
        GUARD,
        "Guard decisions, by the scopes required and outcome (allowed, or the error code)."
    );
    describe_counter!(CACHE, "Cache lookups, by cache and result (hit or miss).");
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections in the pool, by state (idle or in_use)."
    );
    describe_histogram!(
        POOL_WAIT,
        Unit::Seconds,
        "Time a database call waited for a pooled connection."
    );
    describe_gauge!(
        FEED_LIVE,
        "1 while the change feed vouches for the caches, else 0."
    );
    describe_gauge!(
        FEED_LAG,
        Unit::Seconds,
        "Seconds since the change feed last heard from the database."
    );
    describe_counter!(
        FEED_RECONNECTS,
        "Times the change feed's listener lost its connection."
    );
    describe_counter!(
        THROTTLED,
        "Credential attempts the throttle refused, by kind."
    );
    describe_gauge!(
        ACTIVE_TOKENS,
        "Live tokens in the database (all instances), by kind."
    );
    describe_gauge!(
        ACTIVE_SESSIONS,
        "Signed-in browser sessions in the database (all instances)."
    );
}

/// A request answered: `route` is the template the router matched (`/polls/:id/`), or
/// `unmatched`; never the path itself.
pub fn http_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    if !enabled() {
        return;
    }
    counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route.to_owned()).record(seconds);
}

/// A token request's end: `outcome` is `issued` or the error code.
pub fn grant(grant_type: &'static str, outcome: &'static str) {
    tally(|t, minute| {
        t.grants
            .entry((grant_type, outcome))
            .or_default()
            .add(minute);
    });
    if !enabled() {
        return;
    }
    counter!(GRANTS, "grant_type" => grant_type, "outcome" => outcome).increment(1);
}

/// A guard's decision for a handler that needs `scopes`.
pub fn guard(scopes: &'static str, outcome: &'static str) {
    if !enabled() {
        return;
    }
    counter!(GUARD, "scopes" => scopes, "outcome" => outcome).increment(1);
}

/// A lookup in the cache named `cache`.
pub fn cache(cache: &'static str, hit: bool) {
    if !enabled() {
        return;
    }
    let result = if hit { "hit" } else { "miss" };
    counter!(CACHE, "cache" => cache, "result" => result).increment(1);
}

/// A database call got its connection after `waited` seconds, leaving the pool so.
pub fn pool(waited: f64, connections: u32, idle: u32) {
    if !enabled() {
        return;
    }
    histogram!(POOL_WAIT).record(waited);
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(connections.saturating_sub(idle)));
}

/// The change feed's state, read when metrics are scraped.
pub fn feed(live: bool, lag_seconds: f64) {
    if !enabled() {
        return;
    }
    gauge!(FEED_LIVE).set(if live { 1.0 } else { 0.0 });
    gauge!(FEED_LAG).set(lag_seconds);
}

/// What is live in the database, read when metrics are scraped.
pub fn live(counts: super::portal::LiveCounts) {
    if !enabled() {
        return;
    }
    // Counts far below 2^52 are exact as f64.
    let as_gauge = |n: i64| n as f64;
    gauge!(ACTIVE_TOKENS, "kind" => "access").set(as_gauge(counts.access_tokens));
    gauge!(ACTIVE_TOKENS, "kind" => "refresh").set(as_gauge(counts.refresh_tokens));
    gauge!(ACTIVE_SESSIONS).set(as_gauge(counts.sessions));
}

/// The change feed's listener lost its connection.
pub fn feed_reconnect() {
    tally(|t, _| t.feed_reconnects += 1);
    if !enabled() {
        return;
    }
    counter!(FEED_RECONNECTS).increment(1);
}

/// The throttle refused an attempt of `kind`.
pub fn throttled(kind: &'static str) {
    tally(|t, minute| t.throttled.entry(kind).or_default().add(minute));
    if !enabled() {
        return;
    }
    counter!(THROTTLED, "kind" => kind).increment(1);
}

/// The dashboard's tally: what [`grant`], [`throttled`] and [`feed_reconnect`] counted in this
/// process.
static TALLY: Mutex<Tally> = Mutex::new(Tally {
    grants: BTreeMap::new(),
    throttled: BTreeMap::new(),
    feed_reconnects: 0,
});

struct Tally {
    /// By grant type and outcome.
    grants: BTreeMap<(&'static str, &'static str), Rate>,
    /// By kind.
    throttled: BTreeMap<&'static str, Rate>,
    feed_reconnects: u64,
}

/// Counts into the tally, with the current minute (unix minutes).
fn tally(count: impl FnOnce(&mut Tally, i64)) {
    let minute = super::now() / 60;
    // A panic elsewhere while holding the lock leaves counts that are still counts.
    let mut t = TALLY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    count(&mut t, minute);
}

/// How often something happened in this process: in all, in the minute before this one, and
/// so far in this minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Since the process started.
    pub total: u64,
    /// In the last whole minute (the one before [`Rate::minute`]).
    pub previous_minute: u64,
    /// So far in the current minute.
    pub this_minute: u64,
    /// The minute the two per-minute counts are about (unix seconds / 60).
    pub minute: i64,
}

impl Rate {
    fn add(&mut self, minute: i64) {
        *self = self.at(minute);
        self.total += 1;
        self.this_minute += 1;
    }

    /// The same counts seen from `minute` (no later than any event counted): minutes without
    /// events count 0.
    fn at(self, minute: i64) -> Rate {
        let (previous_minute, this_minute) = match minute - self.minute {
            0 => (self.previous_minute, self.this_minute),
            1 => (self.this_minute, 0),
            _ => (0, 0),
        };
        Rate {
            total: self.total,
            previous_minute,
            this_minute,
            minute,
        }
    }

    fn sum(self, other: Rate) -> Rate {
        Rate {
            total: self.total + other.total,
            previous_minute: self.previous_minute + other.previous_minute,
            this_minute: self.this_minute + other.this_minute,
            minute: self.minute,
        }
    }
}

/// One grant type's token requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFigures {
    /// The grant type (`unsupported` for an unknown `grant_type`).
    pub grant_type: &'static str,
    /// Requests that issued tokens.
    pub issued: Rate,
    /// Requests refused, whatever the error.
    pub refused: Rate,
}

/// The admin dashboard's figures for this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Token requests by grant type, in name order.
    pub grants: Vec<GrantFigures>,
    /// Refused token requests by error code, in name order.
    pub refused: Vec<(&'static str, Rate)>,
    /// Credential attempts the throttle refused, by kind, in name order.
    pub throttled: Vec<(&'static str, Rate)>,
    /// Times the change feed's listener lost its connection.
    pub feed_reconnects: u64,
}

/// What this process counted so far (the same events as `/metrics`' `scopegate_grants_total`,
/// `scopegate_throttled_total` and `scopegate_change_feed_reconnects_total`).
pub fn figures() -> Figures {
    let minute = super::now() / 60;
    let t = TALLY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut grants: BTreeMap<&'static str, GrantFigures> = BTreeMap::new();
    let mut refused: BTreeMap<&'static str, Rate> = BTreeMap::new();
    for (&(grant_type, outcome), rate) in &t.grants {
        let rate = rate.at(minute);
        let row = grants.entry(grant_type).or_insert(GrantFigures {
            grant_type,
            issued: Rate::default().at(minute),
            refused: Rate::default().at(minute),
        });
        if outcome == "issued" {
            row.issued = row.issued.sum(rate);
        } else {
            row.refused = row.refused.sum(rate);
            let by_code = refused.entry(outcome).or_insert(Rate::default().at(minute));
            *by_code = by_code.sum(rate);
        }
    }
    Figures {
        grants: grants.into_values().collect(),
        refused: refused.into_iter().collect(),
        throttled: t
            .throttled
            .iter()
            .map(|(&kind, rate)| (kind, rate.at(minute)))
            .collect(),
        feed_reconnects: t.feed_reconnects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_moves_its_minutes_along() {
        let mut r = Rate::default().at(100);
        r.add(100);
        r.add(100);
        assert_eq!((r.total, r.previous_minute, r.this_minute), (2, 0, 2));
        r.add(101);
        assert_eq!((r.total, r.previous_minute, r.this_minute), (3, 2, 1));
        let later = r.at(102);
        assert_eq!(
            (later.total, later.previous_minute, later.this_minute),
            (3, 1, 0)
        );
        let much_later = r.at(200);
        assert_eq!((much_later.previous_minute, much_later.this_minute), (0, 0));
    }
}
