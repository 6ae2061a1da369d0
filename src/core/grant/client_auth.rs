//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3),
//! throttled per client_id and per address (RFC 6749 §2.3.1, RFC 7662 §4). Every endpoint that
//! authenticates a client comes through [`authenticate`], so none can skip the throttle.

use std::sync::Arc;

use crate::core::cache::Caches;
use crate::core::error::OAuthError;
use crate::core::model::{Client, ClientType};
use crate::core::secret::{constant_time_eq, hash_secret};
use crate::core::store::prelude::*;
use crate::core::throttle::{Throttle, client_failed};

/// The credentials a request presented, as the web layer extracted them.
#[derive(Debug, Clone, Default)]
pub struct PresentedCredentials {
    /// From HTTP Basic (`client_secret_basic`), already form-decoded.
    pub basic: Option<(String, String)>,
    /// `client_id` from the body.
    pub body_client_id: Option<String>,
    /// `client_secret` from the body (`client_secret_post`).
    pub body_client_secret: Option<String>,
}

/// Where a client authentication comes from, for its throttle, and the caches it may use.
#[derive(Debug, Clone, Copy)]
pub struct AuthContext<'a> {
    /// The server's caches (the client row, the throttle's clean bills).
    pub caches: &'a Caches,
    /// The limits on failed authentication.
    pub throttle: Throttle,
    /// The caller's address.
    pub client_ip: &'a str,
    /// The current time, unix seconds.
    pub now: i64,
}

/// Authenticates the client. A confidential client must prove its secret by exactly one method;
/// a public client names itself with `client_id` and proves nothing here (PKCE protects it).
///
/// Failed authentications are recorded per client_id and per address; once either is over its
/// limit, a presented secret is not even compared (so a right guess is refused too) and the
/// answer is `slow_down` (429) with `Retry-After`, the error the password grant's throttle uses.
pub async fn authenticate(
    store: &dyn Store,
    presented: &PresentedCredentials,
    ctx: AuthContext<'_>,
) -> Result<Arc<Client>, OAuthError> {
    let (client_id, secret) = match (&presented.basic, &presented.body_client_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both Basic and client_secret",
            ));
        }
        (Some((id, secret)), None) => {
            if presented
                .body_client_id
                .as_deref()
                .is_some_and(|body_id| body_id != id)
            {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            // An empty password is no secret (RFC 6749 §3.1): some libraries send public
            // clients as `Basic base64(client_id:)`.
            (id.as_str(), Some(secret.as_str()).filter(|s| !s.is_empty()))
        }
        (None, secret) => match &presented.body_client_id {
            Some(id) => (id.as_str(), secret.as_deref()),
            None => return Err(OAuthError::invalid_client("client authentication required")),
        },
    };
    // Only a presented secret can be a guess; a public client naming itself has nothing to
    // throttle (and a confidential one without its secret fails below either way).
    if secret.is_some()
        && let Some(t) = ctx
            .caches
            .client_throttled(store, ctx.throttle, client_id, ctx.client_ip, ctx.now)
            .await
            .map_err(super::store_failed)?
    {
        tracing::warn!(
            client = ?client_id,
            client_ip = ?ctx.client_ip,
            "client authentication throttled"
        );
        return Err(OAuthError::throttled(
            format!(
                "too many failed client authentications for this client or from this address; try again in {} seconds",
                t.retry_after
            ),
            t.retry_after,
        ));
    }
    let result = check(ctx.caches, store, client_id, secret).await;
    if let Err(e) = &result
        && e.code == crate::core::error::ErrorCode::InvalidClient
    {
        client_failed(store, client_id, ctx.client_ip, ctx.now)
            .await
            .map_err(super::store_failed)?;
    }
    result
}

/// The credential check itself, without the throttle.
async fn check(
    caches: &Caches,
    store: &dyn Store,
    client_id: &str,
    secret: Option<&str>,
) -> Result<Arc<Client>, OAuthError> {
    let client = caches
        .client(store, client_id)
        .await
        .map_err(super::store_failed)?
        .ok_or_else(|| OAuthError::invalid_client("unknown client or bad secret"))?;
    match (client.client_type, &client.secret_hash, secret) {
        (ClientType::Confidential, Some(stored), Some(secret)) => {
            if constant_time_eq(stored.as_bytes(), hash_secret(secret).as_bytes()) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("unknown client or bad secret"))
            }
        }
        (ClientType::Confidential, _, _) => Err(OAuthError::invalid_client(
            "this client is confidential and must authenticate with its secret",
        )),
        (ClientType::Public, _, None) => Ok(client),
        (ClientType::Public, _, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret",
        )),
    }
}
