//! The authorization-code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6).

use crate::core::error::OAuthError;
use crate::core::grant::{Grant, Issued, Owner, mint, signed_id_token, store_failed};
use crate::core::lifecycle::Reused;
use crate::core::model::{Client, GrantType, Lifetimes};
use crate::core::oidc::{Authentication, IdTokens, OPENID};
use crate::core::params::Params;
use crate::core::pkce;
use crate::core::secret::hash_secret;
use crate::core::store::Redeemed;
use crate::core::store::prelude::*;

/// Exchanges a code for tokens. A code used twice revokes every token it issued.
pub async fn exchange<S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    id_tokens: IdTokens<'_>,
    now: i64,
) -> Result<Issued, OAuthError> {
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the authorization_code grant",
        ));
    }
    let presented = params.require("code")?;
    let code = store
        .code_by_hash(&hash_secret(presented))
        .await
        .map_err(store_failed)?
        .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
    if code.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "this code was issued to another client",
        ));
    }
    if code.used_at.is_some() {
        let revoked = store
            .revoke_grant(&code.grant_id, now, Reused::code(&code))
            .await
            .map_err(store_failed)?;
        tracing::warn!(client = ?client.client_id, revoked, "authorization code replayed; its tokens are revoked");
        return Err(OAuthError::invalid_grant(
            "this code was already used; every token it issued is now revoked",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the authorization code expired"));
    }
    match params.get("redirect_uri") {
        Some(uri) if uri != code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        None if code.redirect_uri_given => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required: the authorization request carried one",
            ));
        }
        _ => {}
    }
    match (&code.pkce, params.get("code_verifier")) {
        (Some((challenge, method)), Some(verifier)) => {
            if !pkce::verify(*method, challenge, verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is required: the authorization request used PKCE",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier given but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }

    let mut minted = mint(
        Grant {
            client,
            user_id: Some(code.user_id),
            scope: code.scope.clone(),
            refresh_scope: Some(code.scope.clone()),
            grant_id: code.grant_id.clone(),
            auth_time: code.auth_time,
            resource: super::continued_resource(code.resource.as_deref(), params)?,
        },
        client.lifetimes(defaults),
        id_tokens,
        now,
    )?;
    // Signed before the code is spent, so a signing failure leaves the code redeemable.
    if code.scope.contains(OPENID) {
        let auth = Authentication {
            user_id: code.user_id,
            client,
            auth_time: code.auth_time.unwrap_or(now),
            nonce: code.nonce.as_deref(),
            access_token: Some(&minted.response.access_token),
            code: None,
        };
        minted.response.id_token = Some(signed_id_token(id_tokens, &auth, now)?);
    }
    match store
        .redeem_code(code.id, now, minted.access, minted.refresh)
        .await
        .map_err(store_failed)?
    {
        Redeemed::Won => Ok(Issued {
            tokens: minted.response,
            owner: Owner::UserId(code.user_id),
        }),
        Redeemed::AlreadyUsed => {
            // Lost a race with another redemption of the same code: that is a replay too.
            store
                .revoke_grant(&code.grant_id, now, Reused::code(&code))
                .await
                .map_err(store_failed)?;
            Err(OAuthError::invalid_grant(
                "this code was already used; every token it issued is now revoked",
            ))
        }
    }
}
