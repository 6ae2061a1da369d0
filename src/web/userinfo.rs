//! `GET|POST /oauth/userinfo`: the token's user, filtered by its scopes; also Omniport's
//! `/open_auth/get_user_data/`. The token may come by any of RFC 6750's three methods.

use poem::web::{Data, RequestBody};
use poem::{Body, Request, Response, handler};

use super::State;
use super::error::{bearer_error, no_store_json, oauth_error, omniport_unauthorized};
use crate::core::error::{ErrorCode, OAuthError};
use crate::guard;

/// The user document, or the RFC 6750 error and whether a token had been presented. The token
/// is found and validated exactly as a guarded handler's is (and shares its cache).
async fn lookup(
    state: &State,
    req: &Request,
    body: Body,
) -> Result<serde_json::Value, (OAuthError, bool)> {
    let mut body = RequestBody::new(body);
    let presented = guard::presented_token(req, &mut body).await.map_err(|e| {
        let presented = !e.is_missing_token();
        (e.error, presented)
    })?;
    let caller = guard::validate(state, &presented)
        .await
        .map_err(|e| (e.error, true))?;
    let user = caller.user.as_ref().ok_or_else(|| {
        (
            OAuthError::new(
                ErrorCode::InvalidToken,
                "this access token was issued to a client, not for a user",
            ),
            true,
        )
    })?;
    crate::core::userinfo::document(state.user_info.as_ref(), user, &caller.scopes)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the user-info provider failed");
            (OAuthError::server_error(), true)
        })
}

/// `GET|POST /oauth/userinfo`: RFC 6750 errors (`WWW-Authenticate: Bearer`).
#[handler]
pub async fn userinfo(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    match lookup(state, req, body).await {
        Ok(doc) => no_store_json(&doc),
        Err((e, _)) if e.code == ErrorCode::ServerError => oauth_error(&e),
        Err((e, presented)) => bearer_error(&e, None, presented),
    }
}

/// Omniport's `GET /open_auth/get_user_data/`: a bad token gets Django REST framework's 401.
#[handler]
pub async fn omniport_user_data(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    match lookup(state, req, body).await {
        Ok(doc) => no_store_json(&doc),
        Err((e, _)) if e.code == ErrorCode::ServerError => oauth_error(&e),
        Err(_) => omniport_unauthorized(),
    }
}
