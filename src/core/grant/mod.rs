//! Grant handlers: each takes validated inputs and a store, and returns tokens or an error.

pub mod authorize;
pub mod client_auth;
pub mod client_credentials;
pub mod code;
pub mod inspect;
pub mod password;
pub mod refresh;
pub mod revoke;

use std::sync::Arc;

use serde::Serialize;

use super::model::{Client, GrantType, Lifetimes, NewToken, Token, TokenKind, User};
use super::scope::ScopeSet;
use super::secret::{generate_token, hash_secret};
use super::store::StoreError;
use super::store::prelude::*;

/// The successful token response of RFC 6749 §5.1, in the field order the seeds show.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until the access token expires, exactly as enforced.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The granted scope, space-separated.
    pub scope: String,
    /// A refresh token, for grants that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Freshly minted tokens: the response for the client and the rows for the store.
#[derive(Debug)]
pub struct Minted {
    /// What the client receives.
    pub response: TokenResponse,
    /// The access token row.
    pub access: NewToken,
    /// The refresh token row, when one is issued.
    pub refresh: Option<NewToken>,
}

/// What a token grants, as handed to `mint`.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The client the tokens are for.
    pub client: &'a Client,
    /// The resource owner, if any.
    pub user_id: Option<i64>,
    /// Scope of the access token.
    pub scope: ScopeSet,
    /// Scope of the refresh token (RFC 6749 §6: unchanged on refresh). Ignored, and no refresh
    /// token minted, when the client does not hold the `refresh_token` grant.
    pub refresh_scope: Option<ScopeSet>,
    /// The family the tokens join.
    pub grant_id: String,
}

/// Mints an access token, and a refresh token when `grant.refresh_scope` is set and the client
/// holds the `refresh_token` grant: every grant mints here, so no client without that grant is
/// ever issued a refresh token.
pub fn mint(grant: Grant<'_>, lifetimes: Lifetimes, now: i64) -> Minted {
    let refresh_scope = grant
        .refresh_scope
        .filter(|_| grant.client.allows(GrantType::RefreshToken));
    let access_token = generate_token();
    let access = NewToken {
        token_hash: hash_secret(&access_token),
        kind: TokenKind::Access,
        client_id: grant.client.id,
        user_id: grant.user_id,
        scope: grant.scope.clone(),
        grant_id: grant.grant_id.clone(),
        created_at: now,
        expires_at: now.saturating_add(lifetimes.access),
    };
    let (refresh_token, refresh) = match refresh_scope {
        Some(scope) => {
            let token = generate_token();
            let row = NewToken {
                token_hash: hash_secret(&token),
                kind: TokenKind::Refresh,
                client_id: grant.client.id,
                user_id: grant.user_id,
                scope,
                grant_id: grant.grant_id,
                created_at: now,
                expires_at: now.saturating_add(lifetimes.refresh),
            };
            (Some(token), Some(row))
        }
        None => (None, None),
    };
    Minted {
        response: TokenResponse {
            access_token,
            expires_in: lifetimes.access,
            token_type: "Bearer",
            scope: grant.scope.to_string(),
            refresh_token,
        },
        access,
        refresh,
    }
}

/// Logs a storage failure and turns it into `server_error`: the client learns nothing about the
/// database, the operator reads the detail in the log.
pub fn store_failed(e: impl std::fmt::Display) -> super::error::OAuthError {
    tracing::error!(error = %e, "storage failed during a grant");
    super::error::OAuthError::server_error()
}

/// A new random family id.
pub fn new_grant_id() -> String {
    generate_token()
}

/// A token that is valid now, with the client and user it belongs to.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// The stored token.
    pub token: Token,
    /// Its client (shared with the client cache and other tokens of the client).
    pub client: Arc<Client>,
    /// Its user, for user-bound grants (shared with other tokens of the user).
    pub user: Option<Arc<User>>,
}

/// Finds the token behind a presented value if it is active now: known, unexpired, unrevoked,
/// not rotated away, its client approved, and its user still active.
pub async fn find_active(
    store: &dyn Store,
    presented: &str,
    now: i64,
) -> Result<Option<ActiveToken>, StoreError> {
    let Some(token) = store.token_by_hash(&hash_secret(presented)).await? else {
        return Ok(None);
    };
    if !token.is_active(now) {
        return Ok(None);
    }
    // A client that is not (or no longer) approved has no valid tokens, whichever path
    // rejected it.
    let Some(client) = store
        .client_by_id(token.client_id)
        .await?
        .filter(|c| c.approval == super::model::Approval::Approved)
    else {
        return Ok(None);
    };
    let user = match token.user_id {
        Some(id) => match store.user_by_id(id).await? {
            Some(user) if user.is_active => Some(Arc::new(user)),
            _ => return Ok(None),
        },
        None => None,
    };
    Ok(Some(ActiveToken {
        token,
        client: Arc::new(client),
        user,
    }))
}
