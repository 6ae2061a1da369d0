//! `POST /oauth/token` (RFC 6749 §3.2) and `POST /oauth/introspect` (RFC 7662).

use std::sync::Arc;

use poem::web::Data;
use poem::{Request, Response, handler};

use super::error::no_store_json;
use super::extract::OAuthRequest;
use super::state::State;
use crate::core::error::OAuthError;
use crate::core::grant::inspect::TokenAsker;
use crate::core::grant::{self, Issued, TokenEndpoint};
use crate::core::model::{Client, GrantType};
use crate::core::oidc::IdTokens;
use crate::core::token::{ActiveToken, Introspection};

/// Runs the token endpoint on a read request: client authentication, then core's grant
/// dispatch. Compatibility routes call it after adapting their spellings.
pub(crate) async fn issue(state: &State, oauth: &OAuthRequest) -> Result<Issued, OAuthError> {
    let params = &oauth.params;
    // A label fixed by the code, whatever the request sent.
    let grant_label = GrantType::parse(params.get("grant_type").unwrap_or(""))
        .map_or("unsupported", GrantType::as_str);
    let client = oauth.authenticate(state).await.inspect_err(|e| {
        tracing::info!(
            error = e.code.as_str(),
            "token request refused before the grant"
        );
        crate::core::metrics::grant(grant_label, e.code.as_str());
    })?;
    let now = crate::core::now();
    let keys = super::metadata::signing_keys(state, now).await;
    let endpoint = TokenEndpoint {
        lifetimes: state.settings.lifetimes(),
        reuse_grace: state.settings.reuse_grace(),
        password_throttle: state.settings.password_throttle(),
        password_gate: &state.password_gate,
        client_ip: &oauth.client_ip,
        id_tokens: IdTokens {
            issuer: &oauth.issuer,
            keys: keys.as_deref(),
            subjects: state.keyring.subjects(),
        },
        now,
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
pub async fn token(oauth: OAuthRequest, Data(state): Data<&State>) -> Result<Response, OAuthError> {
    let issued = issue(state, &oauth).await?;
    Ok(no_store_json(&issued.tokens))
}

/// The introspection of an OAuth request: the authenticated client, an approved confidential
/// one, and the active token named by `token` if it may see it ([`TokenAsker`]). Shared with
/// onesait's `check_token`.
pub(crate) async fn inspect(
    state: &State,
    oauth: &OAuthRequest,
) -> Result<(Arc<Client>, Option<Arc<ActiveToken>>), OAuthError> {
    let client = oauth.authenticate(state).await?;
    let asker = TokenAsker::introspecting(&client)?;
    let presented = oauth.params.require("token")?;
    let found = asker
        .active_token(
            &state.caches,
            state.store.as_ref(),
            presented,
            crate::core::now(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "introspection lookup failed");
            OAuthError::server_error()
        })?;
    Ok((client, found))
}

/// `POST /oauth/introspect`: tells an authenticated, approved confidential client whether a
/// token it may see is active. Unknown, expired, revoked and rotated tokens, and tokens the
/// client may not see, are all just `{"active": false}`.
#[handler]
pub async fn introspect(
    req: &Request,
    oauth: OAuthRequest,
    Data(state): Data<&State>,
) -> Result<Response, OAuthError> {
    let body = match inspect(state, &oauth).await?.1 {
        None => Introspection::default(),
        // The issuer is the connection's when no `issuer` is set: a fact of this request.
        Some(active) => {
            let subjects = state.keyring.subjects();
            Introspection::of(&active, super::metadata::issuer(state, req), subjects)
        }
    };
    Ok(no_store_json(&body))
}
