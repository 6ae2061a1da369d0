//! The dashboard's live figures (issue 11): what is live in the database (tokens, sessions),
//! and this instance's token requests by grant type, refusals by error code, throttle events
//! and change-feed state. The counts are `core::metrics`' tally, fed by the same calls as
//! `/metrics`, and kept whether or not `/metrics` is on; the live counts are the query
//! `/metrics` reads at each scrape.

use serde_json::{Value, json};

use crate::core::metrics::{self, Rate};
use crate::core::store::StoreError;
use crate::web::State;

fn rate(r: Rate) -> Value {
    json!({ "total": r.total, "previous_minute": r.previous_minute, "this_minute": r.this_minute })
}

/// The figures, as the dashboard template reads them (`figures.*`).
pub(super) async fn context(state: &State) -> Result<Value, StoreError> {
    let live = state.store.live_counts(crate::core::now()).await?;
    let counted = metrics::figures();
    let feed = state.caches.feed();
    let refused_total: u64 = counted.refused.iter().map(|(_, r)| r.total).sum();
    Ok(json!({
        "active_access_tokens": live.access_tokens,
        "active_refresh_tokens": live.refresh_tokens,
        "active_sessions": live.sessions,
        "grants": counted.grants.iter().map(|g| json!({
            "grant_type": g.grant_type, "issued": rate(g.issued), "refused": rate(g.refused),
        })).collect::<Vec<_>>(),
        "refused": counted.refused.iter().map(|(code, r)| json!({
            "code": code, "rate": rate(*r),
        })).collect::<Vec<_>>(),
        "refused_total": refused_total,
        "throttled": counted.throttled.iter().map(|(kind, r)| json!({
            "kind": kind, "rate": rate(*r),
        })).collect::<Vec<_>>(),
        "feed_live": feed.is_live(),
        "feed_silent_seconds": feed.silent_for().as_secs(),
        "feed_reconnects": counted.feed_reconnects,
    }))
}
