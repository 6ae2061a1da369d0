//! The resource-owner password grant (RFC 6749 §4.3), throttled per username and per client
//! address in the database so that every instance enforces the same limits.

use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::{Grant, TokenResponse, mint, new_grant_id};
use crate::core::model::{Client, GrantType, Lifetimes, User};
use crate::core::params::Params;
use crate::core::secret::verify_user_password;
use crate::core::store::Store;

/// How many password attempts are allowed, and over which sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts per username per window.
    pub per_user: i64,
    /// Attempts per client address per window.
    pub per_ip: i64,
    /// Window length in seconds.
    pub window: i64,
}

fn store_failed(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "storage failed during the password grant");
    OAuthError::server_error()
}

/// Checks the user's password and issues an access and a refresh token. Returns the user too,
/// so a compatibility route can describe them (onesait's `authorities`).
pub async fn grant(
    store: &dyn Store,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    throttle: Throttle,
    client_ip: &str,
    now: i64,
) -> Result<(TokenResponse, User), OAuthError> {
    super::client_credentials::check_usable(client, GrantType::Password)?;
    let username = params.require("username")?;
    let password = params.require("password")?.to_owned();
    let scope = super::client_credentials::requested_scope(client, params)?;

    let attempt = store
        .begin_login_attempt(username, client_ip, now, now - throttle.window)
        .await
        .map_err(store_failed)?;
    if attempt.by_user > throttle.per_user || attempt.by_ip > throttle.per_ip {
        // A refused attempt is forgotten, so the window is not extended by the flood itself:
        // an attacker gets exactly `per_user` guesses per window, no more and no fewer.
        store
            .end_login_attempt(attempt.id)
            .await
            .map_err(store_failed)?;
        tracing::warn!(username, client_ip, "password grant throttled");
        return Err(OAuthError::new(
            ErrorCode::SlowDown,
            format!(
                "too many failed sign-in attempts for this user or from this address; try again in {} seconds",
                throttle.window
            ),
        ));
    }
    let found = store
        .user_by_username(username)
        .await
        .map_err(store_failed)?;
    let Some(user) = verify_user_password(found, password).await else {
        return Err(OAuthError::invalid_grant("wrong username or password"));
    };
    store
        .end_login_attempt(attempt.id)
        .await
        .map_err(store_failed)?;
    let minted = mint(
        Grant {
            client,
            user_id: Some(user.id),
            scope: scope.clone(),
            refresh_scope: Some(scope),
            grant_id: new_grant_id(),
        },
        client.lifetimes(defaults),
        now,
    );
    store
        .issue_tokens(minted.access, minted.refresh)
        .await
        .map_err(store_failed)?;
    Ok((minted.response, user))
}
