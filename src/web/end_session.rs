//! `/oauth/logout`: OpenID Connect RP-initiated logout (the `end_session_endpoint`). A client
//! sends the browser here, by `GET` or a form `POST` (RP-Initiated Logout 1.0 §2); the user
//! confirms on a CSRF-checked form, since a sign-out started by another site must not happen
//! unseen; then the session ends and the browser goes to the client's registered
//! `post_logout_redirect_uri` with its `state`. Every decision is core's
//! ([`crate::core::oidc::logout`]); a refused request gets an error page, never a redirect.

use poem::http::Method;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tera::Context;

use super::error::PageError;
use super::reply::{found, with_cookie};
use super::request::query_and_form;
use super::session;
use super::state::State;
use crate::core::oidc::logout::{self, LogoutError};

/// `GET,POST /oauth/logout`.
#[handler]
pub async fn end_session(
    req: &Request,
    body: Body,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let refused = |e: &crate::core::error::OAuthError| PageError::protocol("Sign-out refused", e);
    let params = query_and_form(req, body).await.map_err(|e| refused(&e))?;
    let now = crate::core::now();
    let keys = super::metadata::hint_keys(state, &params, now).await;
    let request = logout::end_session(state.store.as_ref(), &params, keys.as_deref())
        .await
        .map_err(|e| match e {
            LogoutError::Invalid(e) => refused(&e),
            LogoutError::Store(e) => PageError::from(e),
        })?;
    let destination = request.destination().unwrap_or_else(|| "/login".to_owned());
    let Some(s) = session::load(state, req)
        .await?
        .filter(|s| s.user.is_some())
    else {
        // Nobody is signed in here: nothing to end, so straight on.
        return Ok(found(&destination));
    };
    if req.method() == Method::POST && s.csrf_ok(params.get("csrf_token")) {
        session::destroy(state, req).await?;
        tracing::info!(client = ?request.client_id, "signed out (RP-initiated)");
        let expired = session::set_cookie("", 0, state.settings.debug);
        return Ok(with_cookie(found(&destination), Some(expired)));
    }
    let fields: Vec<serde_json::Value> = request
        .params()
        .into_iter()
        .map(|(name, value)| serde_json::json!({ "name": name, "value": value }))
        .collect();
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &s.session.csrf_token);
    ctx.insert("user", &s.user.as_ref().map(|u| &u.username));
    ctx.insert("action", "/oauth/logout");
    ctx.insert("fields", &fields);
    ctx.insert("client_name", &request.client_name);
    Ok(state.render(poem::http::StatusCode::OK, "logout.html", &ctx))
}
