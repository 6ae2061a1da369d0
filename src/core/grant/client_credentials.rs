//! The client-credentials grant (RFC 6749 §4.4): the client acts for itself, so there is no
//! user and no refresh token (§4.4.3).

use crate::core::error::OAuthError;
use crate::core::grant::{Grant, Issued, Owner, mint, new_grant_id};
use crate::core::model::{Approval, Client, ClientType, GrantType, Lifetimes};
use crate::core::oidc::IdTokens;
use crate::core::params::Params;
use crate::core::scope::ScopeSet;
use crate::core::store::prelude::*;

/// Refuses a client that may not use `grant` here: not allowed it, not approved, or public
/// (grants without a redirect must be bound to a secret).
pub fn check_usable(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
    if !client.allows(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {} grant",
            grant.as_str()
        )));
    }
    if client.client_type != ClientType::Confidential {
        return Err(OAuthError::unauthorized_client(format!(
            "the {} grant is for confidential clients",
            grant.as_str()
        )));
    }
    if client.approval != Approval::Approved {
        return Err(OAuthError::unauthorized_client(
            "this client has not been approved by the administrators",
        ));
    }
    Ok(())
}

/// The `scope` parameter, which must lie within the client's scopes; absent, all of them
/// (RFC 6749 §3.3 lets the server pick a documented default).
pub fn requested_scope(client: &Client, params: &Params) -> Result<ScopeSet, OAuthError> {
    let scope = match params.get("scope") {
        Some(raw) => raw
            .parse::<ScopeSet>()
            .map_err(|e| OAuthError::invalid_scope(format!("malformed scope: {e}")))?,
        None => client.scopes.clone(),
    };
    if !scope.is_subset(&client.scopes) {
        let extra: Vec<&str> = scope.missing_from(&client.scopes).collect();
        return Err(OAuthError::invalid_scope(format!(
            "this client may not ask for: {}",
            extra.join(" ")
        )));
    }
    Ok(scope)
}

/// Issues an access token to the client itself.
pub async fn grant<S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    params: &Params,
    defaults: Lifetimes,
    signer: IdTokens<'_>,
    now: i64,
) -> Result<Issued, OAuthError> {
    check_usable(client, GrantType::ClientCredentials)?;
    let scope = requested_scope(client, params)?;
    let minted = mint(
        Grant {
            client,
            user_id: None,
            scope,
            refresh_scope: None,
            grant_id: new_grant_id(),
            auth_time: None,
            resource: super::requested_resource(params)?,
        },
        client.lifetimes(defaults),
        signer,
        now,
    )?;
    store
        .issue_tokens(minted.access, minted.refresh, GrantType::ClientCredentials)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storage failed during the client_credentials grant");
            OAuthError::server_error()
        })?;
    Ok(Issued {
        tokens: minted.response,
        owner: Owner::Client,
    })
}
