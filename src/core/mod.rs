//! The OAuth 2 protocol, independent of the web framework and the database: grant handlers,
//! PKCE, scope sets, credential minting and hashing, and the RFC 6749/6750 error values.
//! Everything here works over the [`store::Store`] trait and the per-aggregate traits it joins.

pub mod account;
pub mod cache;
pub mod client_rules;
pub mod error;
pub mod feed;
pub mod grant;
pub mod lifecycle;
#[cfg(test)]
mod mem_store;
pub mod metrics;
pub mod model;
pub mod oidc;
pub mod params;
pub mod pkce;
pub mod portal;
pub mod scope;
pub mod secret;
pub mod store;
pub mod throttle;
pub mod token;
pub mod userinfo;

/// Seconds since the Unix epoch; every stored time uses it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
