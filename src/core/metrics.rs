//! The metrics scopegate records: every name and label set in one place, so none is spelled
//! twice and no call site can put request text in a label. They go through the `metrics` facade;
//! until a recorder is installed (`/metrics` is off by default, see docs/operations.md) each call
//! is a no-op. Labels hold only values fixed by the code: route templates, grant types, error
//! codes, scope names, cache names. Never a token, secret, username or address.

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

/// The change feed's listener lost its connection.
pub fn feed_reconnect() {
    if !enabled() {
        return;
    }
    counter!(FEED_RECONNECTS).increment(1);
}

/// The throttle refused an attempt of `kind`.
pub fn throttled(kind: &'static str) {
    if !enabled() {
        return;
    }
    counter!(THROTTLED, "kind" => kind).increment(1);
}
