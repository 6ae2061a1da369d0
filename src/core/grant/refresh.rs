//! The refresh-token grant (RFC 6749 §6) with one-use rotation: a rotated refresh token that
//! comes back is treated as stolen and its whole family is revoked.

use crate::core::error::OAuthError;
use crate::core::grant::{Grant, TokenResponse, mint, store_failed};
use crate::core::model::{Client, GrantType, Lifetimes, TokenKind};
use crate::core::params::Params;
use crate::core::scope::ScopeSet;
use crate::core::secret::hash_secret;
use crate::core::store::{Redeemed, Store};

/// Rotates a refresh token into a new access and refresh token.
pub async fn refresh(
    store: &dyn Store,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the refresh_token grant",
        ));
    }
    let presented = params.require("refresh_token")?;
    let old = store
        .token_by_hash(&hash_secret(presented))
        .await
        .map_err(store_failed)?
        .filter(|t| t.kind == TokenKind::Refresh)
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    if old.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "this refresh token was issued to another client",
        ));
    }
    if old.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    if old.used_at.is_some() {
        return Err(reuse_detected(store, client, &old.grant_id, now).await);
    }
    if old.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token expired"));
    }
    let scope = match params.get("scope") {
        Some(raw) => {
            let asked: ScopeSet = raw
                .parse()
                .map_err(|e| OAuthError::invalid_scope(format!("malformed scope: {e}")))?;
            if !asked.is_subset(&old.scope) {
                return Err(OAuthError::invalid_scope(
                    "a refresh may narrow the scope, never widen it",
                ));
            }
            asked
        }
        None => old.scope.clone(),
    };
    let minted = mint(
        Grant {
            client,
            user_id: old.user_id,
            scope,
            refresh_scope: Some(old.scope.clone()),
            grant_id: old.grant_id.clone(),
        },
        client.lifetimes(defaults),
        now,
    );
    let Some(new_refresh) = minted.refresh else {
        return Err(OAuthError::server_error());
    };
    match store
        .rotate_refresh(old.id, now, minted.access, new_refresh)
        .await
        .map_err(store_failed)?
    {
        Redeemed::Won => Ok(minted.response),
        Redeemed::AlreadyUsed => Err(reuse_detected(store, client, &old.grant_id, now).await),
    }
}

async fn reuse_detected(
    store: &dyn Store,
    client: &Client,
    grant_id: &str,
    now: i64,
) -> OAuthError {
    match store.revoke_grant(grant_id, now).await {
        Ok(revoked) => {
            tracing::warn!(client = %client.client_id, revoked, "rotated refresh token reused; its family is revoked");
            OAuthError::invalid_grant(
                "this refresh token was already used; every token of its grant is now revoked",
            )
        }
        Err(e) => store_failed(e),
    }
}
