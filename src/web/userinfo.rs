//! `GET|POST /oauth/userinfo`: the token's user, filtered by its scopes; also Omniport's
//! `/open_auth/get_user_data/`. The token may come by any of RFC 6750's three methods.

use poem::web::{Data, RequestBody};
use poem::{Body, Request, Response, handler};

use super::error::{OmniportUnauthorized, no_store_json};
use super::guard::{self, GuardError, Refusal};
use super::state::State;
use crate::core::error::ErrorCode;

/// The user document, or the guard's refusal. The token is found and validated exactly as a
/// guarded handler's is (and shares its cache); the refusal is answered as a guard answers.
/// `openid` adds the OpenID Connect claims; Omniport's route keeps its own shape.
async fn lookup(
    state: &State,
    req: &Request,
    body: Body,
    openid: bool,
) -> Result<serde_json::Value, GuardError> {
    let mut body = RequestBody::new(body);
    let presented = guard::presented_token(req, &mut body).await?;
    let caller = guard::validate(state, &presented).await?;
    let caller = caller.as_ref();
    let user = caller
        .user
        .as_ref()
        .ok_or_else(|| GuardError::new(Refusal::NoUser))?;
    let provider = state.user_info.as_ref();
    let doc = if openid {
        let subjects = state.keyring.subjects();
        crate::core::userinfo::openid_document(
            provider,
            user,
            &caller.client,
            subjects,
            &caller.token.scope,
        )
        .await
    } else {
        crate::core::userinfo::document(provider, user, &caller.client, &caller.token.scope).await
    };
    doc.map_err(|e| {
        tracing::error!(error = %e, "the user-info provider failed");
        GuardError::new(Refusal::StoreFailed)
    })
}

/// `GET|POST /oauth/userinfo`: RFC 6750 errors (`WWW-Authenticate: Bearer`).
#[handler]
pub async fn userinfo(
    req: &Request,
    body: Body,
    Data(state): Data<&State>,
) -> Result<Response, GuardError> {
    match lookup(state, req, body, true).await {
        Ok(doc) => Ok(no_store_json(&doc)),
        Err(e) => {
            let issuer = super::metadata::issuer(state, req);
            Err(e.with_metadata(super::metadata::protected_resource_url(&issuer).into()))
        }
    }
}

/// Omniport's `GET /open_auth/get_user_data/`: a bad token gets Django REST framework's 401.
#[handler]
pub async fn omniport_user_data(
    req: &Request,
    body: Body,
    Data(state): Data<&State>,
) -> poem::Result<Response> {
    match lookup(state, req, body, false).await {
        Ok(doc) => Ok(no_store_json(&doc)),
        Err(e) if e.error.code == ErrorCode::ServerError => Err(e.into()),
        Err(_) => Err(OmniportUnauthorized.into()),
    }
}
