//! The resource-owner password grant (RFC 6749 §4.3), throttled per username and per client
//! address in the database so that every instance enforces the same limits.

use crate::core::account::{PasswordRefused, check_password};
use crate::core::error::OAuthError;
use crate::core::grant::{Grant, Issued, Owner, mint, new_grant_id};
use crate::core::model::{Client, GrantType, Lifetimes};
use crate::core::oidc::IdTokens;
use crate::core::params::Params;
use crate::core::secret::PasswordGate;
use crate::core::store::prelude::*;

pub use crate::core::throttle::Throttle;

fn store_failed(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "storage failed during the password grant");
    OAuthError::server_error()
}

/// The RFC 6749 answer to a refused password check.
pub fn refusal_error(refused: PasswordRefused) -> OAuthError {
    match refused {
        PasswordRefused::Wrong => OAuthError::invalid_grant("wrong username or password"),
        PasswordRefused::Throttled(t) => OAuthError::throttled(
            format!(
                "too many failed sign-in attempts for this user or from this address; try again in {} seconds",
                t.retry_after
            ),
            t.retry_after,
        ),
        PasswordRefused::Busy(b) => OAuthError::busy(
            "the server is busy checking passwords; try again in a moment",
            b.retry_after,
        ),
        PasswordRefused::Store(e) => store_failed(e),
    }
}

/// Checks the user's password (through the shared throttle and hashing gate, the same path as
/// the `/login` page) and issues an access and a refresh token, owned by the user it checked.
#[allow(clippy::too_many_arguments)]
pub async fn grant<S: AccountStore + GrantStore + ?Sized>(
    store: &S,
    gate: &PasswordGate,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    throttle: Throttle,
    client_ip: &str,
    signer: IdTokens<'_>,
    now: i64,
) -> Result<Issued, OAuthError> {
    super::client_credentials::check_usable(client, GrantType::Password)?;
    let username = params.require("username")?;
    let password = params.require("password")?.to_owned();
    let scope = super::client_credentials::requested_scope(client, params)?;
    let resource = super::requested_resource(params)?;

    let user = check_password(store, gate, throttle, username, password, client_ip, now)
        .await
        .map_err(refusal_error)?;
    let minted = mint(
        Grant {
            client,
            user_id: Some(user.id),
            scope: scope.clone(),
            refresh_scope: Some(scope),
            grant_id: new_grant_id(),
            auth_time: None,
            resource,
        },
        client.lifetimes(defaults),
        signer,
        now,
    )?;
    store
        .issue_tokens(minted.access, minted.refresh, GrantType::Password)
        .await
        .map_err(store_failed)?;
    Ok(Issued {
        tokens: minted.response,
        owner: Owner::User(user),
    })
}
