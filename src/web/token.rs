//! `POST /oauth/token` (RFC 6749 §3.2) and `POST /oauth/introspect` (RFC 7662).

use std::sync::Arc;

use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::error::{no_store_json, oauth_error, token_error};
use super::request::{client_ip, form_params, presented_credentials};
use super::state::State;
use crate::core::error::OAuthError;
use crate::core::grant::inspect::TokenAsker;
use crate::core::grant::{self, Issued, TokenEndpoint, client_auth};
use crate::core::model::{Client, GrantType};
use crate::core::params::Params;
use crate::core::token::Introspection;

async fn authenticated(
    state: &State,
    req: &Request,
    body: Body,
) -> Result<(Params, Arc<Client>), OAuthError> {
    let params = form_params(req, body).await?;
    let client = authenticate_params(state, req, &params).await?;
    Ok((params, client))
}

/// Authenticates the client of a request whose parameters are already read, throttling failures
/// per client_id and per address.
pub(crate) async fn authenticate_params(
    state: &State,
    req: &Request,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let creds = presented_credentials(req, params)?;
    let ip = client_ip(req, &state.settings);
    let ctx = client_auth::AuthContext {
        caches: &state.caches,
        throttle: state.settings.client_auth_throttle(),
        client_ip: &ip,
        now: crate::core::now(),
    };
    client_auth::authenticate(state.store.as_ref(), &creds, ctx).await
}

/// Runs the token endpoint on already-read parameters: client authentication, then core's
/// grant dispatch. Compatibility routes call it after adapting their spellings.
pub(crate) async fn issue(
    state: &State,
    req: &Request,
    params: &Params,
) -> Result<Issued, OAuthError> {
    // A label fixed by the code, whatever the request sent.
    let grant_label = GrantType::parse(params.get("grant_type").unwrap_or(""))
        .map_or("unsupported", GrantType::as_str);
    let client = match authenticate_params(state, req, params).await {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(
                error = e.code.as_str(),
                "token request refused before the grant"
            );
            crate::core::metrics::grant(grant_label, e.code.as_str());
            return Err(e);
        }
    };
    let ip = client_ip(req, &state.settings);
    let endpoint = TokenEndpoint {
        lifetimes: state.settings.lifetimes(),
        reuse_grace: state.settings.reuse_grace(),
        password_throttle: state.settings.password_throttle(),
        password_gate: &state.password_gate,
        client_ip: &ip,
        now: crate::core::now(),
    };
    let result = grant::issue(state.store.as_ref(), endpoint, &client, params).await;
    let outcome = result
        .as_ref()
        .map_or_else(|e| e.code.as_str(), |_| "issued");
    crate::core::metrics::grant(grant_label, outcome);
    result
}

/// `POST /oauth/token`: dispatches on `grant_type`.
#[handler]
pub async fn token(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let params = match form_params(req, body).await {
        Ok(p) => p,
        Err(e) => return oauth_error(&e),
    };
    match issue(state, req, &params).await {
        Ok(issued) => no_store_json(&issued.tokens),
        Err(e) => token_error(&e, state.settings.password_attempt_window),
    }
}

/// `POST /oauth/introspect`: tells an authenticated, approved confidential client whether a
/// token it may see ([`TokenAsker`]) is active. Unknown, expired, revoked and rotated tokens,
/// and tokens the client may not see, are all just `{"active": false}`.
#[handler]
pub async fn introspect(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let (params, client) = match authenticated(state, req, body).await {
        Ok(v) => v,
        Err(e) => return oauth_error(&e),
    };
    let asker = match TokenAsker::introspecting(&client) {
        Ok(a) => a,
        Err(e) => return oauth_error(&e),
    };
    let presented = match params.require("token") {
        Ok(t) => t,
        Err(e) => return oauth_error(&e),
    };
    let found = match asker
        .active_token(
            &state.caches,
            state.store.as_ref(),
            presented,
            crate::core::now(),
        )
        .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "introspection lookup failed");
            return oauth_error(&OAuthError::server_error());
        }
    };
    let body = match found {
        None => Introspection::default(),
        Some(active) => Introspection::of(&active, super::metadata::issuer(state, req)),
    };
    no_store_json(&body)
}
