//! `GET|POST /oauth/userinfo`: the token's user, filtered by its scopes; also Omniport's
//! `/open_auth/get_user_data/`. The token may come by any of RFC 6750's three methods.

use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::State;
use super::error::{bearer_error, no_store_json, oauth_error, omniport_unauthorized};
use super::request::{BearerToken, bearer_token, query_and_form};
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::find_active;
use crate::core::model::TokenKind;

/// The user document, or the RFC 6750 error and whether a token had been presented.
async fn lookup(
    state: &State,
    req: &Request,
    body: Body,
) -> Result<serde_json::Value, (OAuthError, bool)> {
    let params = query_and_form(req, body).await.map_err(|e| (e, true))?;
    let presented = match bearer_token(req, &params) {
        BearerToken::Found(t) => t,
        BearerToken::Missing => {
            return Err((
                OAuthError::new(ErrorCode::InvalidToken, "an access token is required"),
                false,
            ));
        }
        BearerToken::Malformed(why) => return Err((OAuthError::invalid_request(why), true)),
    };
    let invalid = |why: &str| (OAuthError::new(ErrorCode::InvalidToken, why), true);
    let found = find_active(state.store.as_ref(), &presented, crate::core::now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "userinfo lookup failed");
            (OAuthError::server_error(), true)
        })?
        .filter(|a| a.token.kind == TokenKind::Access)
        .ok_or_else(|| invalid("the access token is unknown, expired or revoked"))?;
    let user = found
        .user
        .ok_or_else(|| invalid("this access token was issued to a client, not for a user"))?;
    crate::core::userinfo::document(state.user_info.as_ref(), &user, &found.token.scope)
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
