//! Validation of authorization requests (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636 §4.3).
//!
//! Errors split in two: while the client or its redirect URI is in doubt the user must see an
//! error page and is never redirected (§4.1.2.1); once both are known good, errors go back to
//! the client's redirect URI.

use crate::core::error::{ErrorCode, OAuthError};
use crate::core::model::{Approval, Client, ClientType, GrantType};
use crate::core::params::Params;
use crate::core::pkce;
use crate::core::scope::ScopeSet;
use crate::core::store::prelude::*;

/// An authorization request that passed every check, waiting for the user.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Client,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// True when the request named the redirect URI itself.
    pub redirect_uri_given: bool,
    /// The scope the user is asked to grant.
    pub scope: ScopeSet,
    /// The client's state, echoed back verbatim.
    pub state: Option<String>,
    /// PKCE challenge and method.
    pub pkce: Option<(String, pkce::Method)>,
    /// `code` (or `token`, for the implicit grant).
    pub response_type: String,
}

/// Why an authorization request failed.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Page(OAuthError),
    /// Send the error to the client's redirect URI.
    Redirect {
        /// The verified redirect URI.
        redirect_uri: String,
        /// The error.
        error: OAuthError,
        /// The client's state.
        state: Option<String>,
    },
}

/// Checks an authorization request. `implicit_enabled` is the server-wide switch for
/// `response_type=token`.
pub async fn validate(
    store: &dyn Store,
    params: &Params,
    implicit_enabled: bool,
) -> Result<AuthorizationRequest, AuthorizeError> {
    validate_with(
        store,
        params,
        ValidateOptions {
            implicit_enabled,
            public_clients_need_pkce: true,
        },
    )
    .await
}

/// Server and route choices that change what an authorization request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateOptions {
    /// The server-wide switch for `response_type=token`.
    pub implicit_enabled: bool,
    /// Public clients must send a PKCE challenge with `response_type=code`. Only oauthost's
    /// compatibility route turns this off, and then only for the clients an administrator
    /// registered with [`allow_public_without_pkce`](crate::core::model::ClientPermissions):
    /// oauthost predates PKCE and its documented clients (section 4.1.1) cannot send one.
    pub public_clients_need_pkce: bool,
}

/// [`validate`] with explicit options.
pub async fn validate_with(
    store: &dyn Store,
    params: &Params,
    options: ValidateOptions,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let implicit_enabled = options.implicit_enabled;
    let client_id = params.require("client_id").map_err(AuthorizeError::Page)?;
    let client = store
        .client_by_client_id(client_id)
        .await
        .map_err(|e| AuthorizeError::Page(super::store_failed(e)))?
        .ok_or_else(|| {
            AuthorizeError::Page(OAuthError::invalid_client(
                "no application is registered with this client_id",
            ))
        })?;
    match &client.approval {
        Approval::Approved => {}
        Approval::Pending => {
            return Err(AuthorizeError::Page(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "“{}” has not been approved by the administrators yet, so it cannot be authorized",
                    client.name
                ),
            )));
        }
        Approval::Rejected(_) => {
            return Err(AuthorizeError::Page(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "“{}” was not approved by the administrators, so it cannot be authorized",
                    client.name
                ),
            )));
        }
    }
    let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
        Some(uri) => {
            if !client.redirect_uris.iter().any(|r| r == uri) {
                return Err(AuthorizeError::Page(OAuthError::invalid_request(
                    "redirect_uri does not match any URI registered for this application",
                )));
            }
            (uri.to_owned(), true)
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(AuthorizeError::Page(OAuthError::invalid_request(
                    "redirect_uri is required: this application registered several",
                )));
            }
        },
    };
    let state = params.get("state").map(str::to_owned);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        state: state.clone(),
    };

    let response_type = params.require("response_type").map_err(redirect)?;
    let grant = match response_type {
        "code" => GrantType::AuthorizationCode,
        "token" if implicit_enabled => GrantType::Implicit,
        other => {
            return Err(redirect(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported"),
            )));
        }
    };
    if !client.allows(grant) {
        return Err(redirect(OAuthError::unauthorized_client(format!(
            "this application may not use response_type `{response_type}`"
        ))));
    }
    if grant == GrantType::Implicit && client.client_type != ClientType::Public {
        return Err(redirect(OAuthError::unauthorized_client(
            "the implicit grant is for public clients only",
        )));
    }

    let scope = match params.get("scope") {
        Some(raw) => raw
            .parse::<ScopeSet>()
            .map_err(|e| redirect(OAuthError::invalid_scope(format!("malformed scope: {e}"))))?,
        None => client.scopes.clone(),
    };
    if !scope.is_subset(&client.scopes) {
        let extra: Vec<&str> = scope.missing_from(&client.scopes).collect();
        return Err(redirect(OAuthError::invalid_scope(format!(
            "this application may not ask for: {}",
            extra.join(" ")
        ))));
    }

    let pkce = match params.get("code_challenge") {
        Some(challenge) => {
            let method =
                pkce::Method::parse(params.get("code_challenge_method")).ok_or_else(|| {
                    redirect(OAuthError::invalid_request(
                        "code_challenge_method must be S256 or plain",
                    ))
                })?;
            if !pkce::is_well_formed(challenge) {
                return Err(redirect(OAuthError::invalid_request(
                    "code_challenge must be 43 to 128 unreserved characters (RFC 7636 §4.2)",
                )));
            }
            Some((challenge.to_owned(), method))
        }
        None if params.get("code_challenge_method").is_some() => {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge_method given without code_challenge",
            )));
        }
        None => None,
    };
    let pkce_optional =
        !options.public_clients_need_pkce && client.permissions.allow_public_without_pkce;
    if grant == GrantType::AuthorizationCode
        && client.client_type == ClientType::Public
        && !pkce_optional
        && pkce.is_none()
    {
        return Err(redirect(OAuthError::invalid_request(
            "public clients must use PKCE (code_challenge)",
        )));
    }

    Ok(AuthorizationRequest {
        client,
        redirect_uri,
        redirect_uri_given,
        scope,
        state,
        pkce,
        response_type: response_type.to_owned(),
    })
}
