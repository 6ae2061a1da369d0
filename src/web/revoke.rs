//! `POST /oauth/revoke` (RFC 7009), and the revocation spellings of Omniport and onesait.

use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde_json::json;

use super::error::{no_store_json, oauth_error};
use super::request::{form_params, query_and_form};
use super::state::State;
use super::token::authenticate_params;
use crate::core::grant::revoke::revoke as revoke_token;
use crate::core::params::Params;

async fn run(state: &State, req: &Request, params: &Params, hint_required: bool) -> Response {
    let client = match authenticate_params(state, req, params).await {
        Ok(c) => c,
        Err(e) => return oauth_error(&e),
    };
    match revoke_token(
        state.store.as_ref(),
        &client,
        params,
        hint_required,
        crate::core::now(),
    )
    .await
    {
        // §2.2: 200 with an empty body, whether or not the token was known.
        Ok(()) => Response::builder()
            .header("cache-control", "no-store")
            .body(""),
        Err(e) => oauth_error(&e),
    }
}

/// `POST /oauth/revoke`: `token`, optional `token_type_hint`, client authentication by Basic or
/// `client_id`/`client_secret` in the body.
#[handler]
pub async fn revoke(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    match form_params(req, body).await {
        Ok(params) => run(state, req, &params, false).await,
        Err(e) => oauth_error(&e),
    }
}

/// Omniport's `POST /open_auth/revoke_token/`: as RFC 7009, but `token_type_hint` is required.
#[handler]
pub async fn omniport_revoke(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    match form_params(req, body).await {
        Ok(params) => run(state, req, &params, true).await,
        Err(e) => oauth_error(&e),
    }
}

/// onesait's `/oauth-server/openplatform-oauth/revoke_token?token=...` with Basic auth. It
/// answers with a JSON body saying the token is no longer valid.
#[handler]
pub async fn onesait_revoke(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let params = match query_and_form(req, body).await {
        Ok(p) => p,
        Err(e) => return oauth_error(&e),
    };
    let resp = run(state, req, &params, false).await;
    if resp.status().is_success() {
        no_store_json(&json!({ "revoked": true, "active": false }))
    } else {
        resp
    }
}
