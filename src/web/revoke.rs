//! `POST /oauth/revoke` (RFC 7009), and the revocation spellings of Omniport and onesait.

use poem::web::Data;
use poem::{Response, handler};
use serde_json::json;

use super::error::no_store_json;
use super::extract::{OAuthRequest, QueryAndForm};
use super::state::State;
use crate::core::error::OAuthError;
use crate::core::grant::revoke::revoke as revoke_token;

async fn run(state: &State, oauth: &OAuthRequest, hint_required: bool) -> Result<(), OAuthError> {
    let client = oauth.authenticate(state).await?;
    revoke_token(
        state.store.as_ref(),
        &client,
        &oauth.params,
        hint_required,
        crate::core::now(),
    )
    .await
}

/// RFC 7009 §2.2: 200 with an empty body, whether or not the token was known.
fn revoked() -> Response {
    Response::builder()
        .header("cache-control", "no-store")
        .body("")
}

/// `POST /oauth/revoke`: `token`, optional `token_type_hint`, client authentication by Basic or
/// `client_id`/`client_secret` in the body.
#[handler]
pub async fn revoke(
    oauth: OAuthRequest,
    Data(state): Data<&State>,
) -> Result<Response, OAuthError> {
    run(state, &oauth, false).await?;
    Ok(revoked())
}

/// Omniport's `POST /open_auth/revoke_token/`: as RFC 7009, but `token_type_hint` is required.
#[handler]
pub async fn omniport_revoke(
    oauth: OAuthRequest,
    Data(state): Data<&State>,
) -> Result<Response, OAuthError> {
    run(state, &oauth, true).await?;
    Ok(revoked())
}

/// onesait's `/oauth-server/openplatform-oauth/revoke_token?token=...` with Basic auth. It
/// answers with a JSON body saying the token is no longer valid.
#[handler]
pub async fn onesait_revoke(
    QueryAndForm(oauth): QueryAndForm,
    Data(state): Data<&State>,
) -> Result<Response, OAuthError> {
    run(state, &oauth, false).await?;
    Ok(no_store_json(&json!({ "revoked": true, "active": false })))
}
