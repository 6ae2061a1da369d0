//! The refresh-token grant (RFC 6749 §6) with one-use rotation: a rotated refresh token that
//! comes back is treated as stolen and its whole family is revoked, unless it comes back within
//! the configured grace window ([`ReuseGrace`]).

use crate::core::error::OAuthError;
use crate::core::grant::{Grant, Issued, Owner, mint, signed_id_token, store_failed};
use crate::core::lifecycle::Reused;
use crate::core::model::{Client, GrantType, Lifetimes, Token, TokenKind};
use crate::core::oidc::{Authentication, IdTokens, OPENID};
use crate::core::params::Params;
use crate::core::scope::ScopeSet;
use crate::core::secret::hash_secret;
use crate::core::store::Redeemed;
use crate::core::store::prelude::*;

/// Graceful rotation: within `window` seconds of being spent, the immediately previous refresh
/// token of a client may be spent again, at most `max_reuses` times, and gets a sibling pair.
/// A lost response or two tabs refreshing at once then keep the session; past the window or the
/// cap, reuse is treated as theft and revokes the family (RFC 9700 §4.14.2). A window of 0 is
/// strict one-time use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReuseGrace {
    /// Seconds after the first spend during which a re-spend is forgiven; 0 forgives none.
    pub window: i64,
    /// How many re-spends one token is forgiven.
    pub max_reuses: i64,
}

/// Rotates a refresh token into a new access and refresh token. A grant that signed a user in
/// for `openid` also gets a new ID token, with the original `auth_time` (Core §12.2).
pub async fn refresh<S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    grace: ReuseGrace,
    id_tokens: IdTokens<'_>,
    now: i64,
) -> Result<Issued, OAuthError> {
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
    let resource = super::continued_resource(old.resource.as_deref(), params)?;
    // Each pair joins the family with the old token's scope for its refresh token (§6), and is
    // signed for before it is stored, so a signing failure spends nothing.
    let pair = || {
        let mut minted = mint(
            Grant {
                client,
                user_id: old.user_id,
                scope: scope.clone(),
                refresh_scope: Some(old.scope.clone()),
                grant_id: old.grant_id.clone(),
                auth_time: old.auth_time,
                resource: resource.clone(),
            },
            client.lifetimes(defaults),
            id_tokens,
            now,
        )?;
        if let (true, Some(user_id), Some(auth_time)) =
            (scope.contains(OPENID), old.user_id, old.auth_time)
        {
            // No nonce: Core §12.2 says a refreshed ID token SHOULD NOT carry one.
            let auth = Authentication {
                user_id,
                client,
                auth_time,
                nonce: None,
                access_token: Some(&minted.response.access_token),
                code: None,
            };
            minted.response.id_token = Some(signed_id_token(id_tokens, &auth, now)?);
        }
        match minted.refresh {
            Some(refresh) => Ok((minted.response, minted.access, refresh)),
            None => Err(OAuthError::server_error()),
        }
    };
    let (mut response, access, new_refresh) = pair()?;
    let mut outcome = if old.used_at.is_none() {
        store
            .rotate_refresh(old.id, now, access, new_refresh)
            .await
            .map_err(store_failed)?
    } else {
        Redeemed::AlreadyUsed
    };
    // A lost race is a re-spend too: the winner spent the token a moment ago.
    if outcome == Redeemed::AlreadyUsed && grace.window > 0 {
        let (sibling, access, refresh) = pair()?;
        let since = now.saturating_sub(grace.window);
        outcome = store
            .respend_refresh(old.id, since, grace.max_reuses, access, refresh)
            .await
            .map_err(store_failed)?;
        if outcome == Redeemed::Won {
            tracing::info!(client = ?client.client_id, "refresh token re-spent within the grace window");
        }
        response = sibling;
    }
    match outcome {
        Redeemed::Won => Ok(Issued {
            tokens: response,
            owner: old.user_id.map_or(Owner::Client, Owner::UserId),
        }),
        Redeemed::AlreadyUsed => Err(reuse_detected(store, client, &old, now).await),
    }
}

async fn reuse_detected<S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    old: &Token,
    now: i64,
) -> OAuthError {
    match store
        .revoke_grant(&old.grant_id, now, Reused::refresh(old))
        .await
    {
        Ok(revoked) => {
            tracing::warn!(client = ?client.client_id, revoked, "rotated refresh token reused; its family is revoked");
            OAuthError::invalid_grant(
                "this refresh token was already used; every token of its grant is now revoked",
            )
        }
        Err(e) => store_failed(e),
    }
}
