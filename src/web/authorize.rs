//! `/oauth/authorize`: the authorization endpoint (RFC 6749 §4.1.1–4.1.2, §4.2.1–4.2.2).
//!
//! `GET` has core validate the request, sends an anonymous visitor through `/login`, and shows
//! the consent page. The page's form carries only a CSRF token and a single-use nonce naming the
//! held request, so `POST` can neither be forged, altered nor replayed; it resumes the request
//! and sends core's answer. Every decision is core's ([`crate::core::grant::authorize`]).

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tera::Context;

use super::pages::found;
use super::request::{form_params, query_params};
use super::session;
use super::state::State;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::authorize::{
    self, AuthorizeError, Redirect, ResumeError, ValidateOptions, validate,
};
use crate::core::params::Params;

/// Sends the browser to the client with core's answer.
fn send(state: &State, redirect: &Redirect) -> Response {
    match redirect.location() {
        Some(location) => found(&location).finish(),
        None => state.error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's registered redirect URI is not a valid URL.",
        ),
    }
}

fn page_for(state: &State, err: &OAuthError) -> Response {
    let (status, title) = match err.code {
        ErrorCode::UnauthorizedClient => (
            StatusCode::FORBIDDEN,
            "This application cannot be authorized",
        ),
        ErrorCode::ServerError => (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable"),
        _ => (StatusCode::BAD_REQUEST, "Invalid authorization request"),
    };
    state.error_page(status, title, &err.description)
}

/// `GET /oauth/authorize`.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>) -> Response {
    let params = match query_params(req) {
        Ok(p) => p,
        Err(e) => return page_for(state, &e),
    };
    let options = ValidateOptions {
        implicit_enabled: state.settings.implicit_grant,
        public_clients_need_pkce: true,
    };
    show_params(req, state, &params, options).await
}

/// The consent page for already-read parameters; compatibility routes adapt their spellings
/// and then call this.
pub(crate) async fn show_params(
    req: &Request,
    state: &State,
    params: &Params,
    options: ValidateOptions,
) -> Response {
    let pending = match validate(state.store.as_ref(), params, options).await {
        Ok(p) => p,
        Err(AuthorizeError::Page(e)) => return page_for(state, &e),
        Err(AuthorizeError::Redirect(refused)) => return send(state, &refused),
    };
    let s = match session::load(state, req).await {
        Ok(s) => s,
        Err(e) => return state.unavailable_page(&e),
    };
    let Some((s, user)) = s.and_then(|s| s.user.clone().map(|u| (s, u))) else {
        // Back to the very URL asked for, so a compatibility route keeps its own defaults.
        let here = format!("{}?{}", req.uri().path(), req.uri().query().unwrap_or(""));
        let login = format!(
            "/login?{}",
            serde_urlencoded::to_string([("next", here)]).unwrap_or_default()
        );
        return found(&login).finish();
    };
    let held = match pending
        .hold(
            state.store.as_ref(),
            s.session.id,
            user.id,
            crate::core::now(),
        )
        .await
    {
        Ok(held) => held,
        Err(e) => return state.unavailable_page(&e),
    };
    let known = match state.store.list_scopes().await {
        Ok(k) => k,
        Err(e) => return state.unavailable_page(&e),
    };
    let scopes: Vec<serde_json::Value> = held
        .scope
        .iter()
        .map(|name| {
            let description = known
                .iter()
                .find(|k| k.name == name)
                .map(|k| k.description.as_str())
                .unwrap_or("");
            serde_json::json!({ "name": name, "description": description })
        })
        .collect();
    let redirect_host = url::Url::parse(&held.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| held.redirect_uri.clone());
    // The developer's branding, when the app has a portal profile.
    let profile = match state.store.client_profile(held.client.id).await {
        Ok(p) => p,
        Err(e) => return state.unavailable_page(&e),
    };
    let mut ctx = Context::new();
    ctx.insert(
        "branding",
        &profile.map(|p| {
            serde_json::json!({ "logo_url": p.logo_url, "homepage_url": p.homepage_url,
                                "privacy_url": p.privacy_url })
        }),
    );
    ctx.insert("client_name", &held.client.name);
    ctx.insert("scopes", &scopes);
    ctx.insert("redirect_host", &redirect_host);
    ctx.insert("csrf_token", &s.session.csrf_token);
    ctx.insert("nonce", &held.nonce);
    ctx.insert("user", &user.username);
    state.render(StatusCode::OK, "consent.html", &ctx)
}

/// `POST /oauth/authorize`: the user's answer on the consent page.
#[handler]
pub async fn decide(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let Ok(form) = form_params(req, body).await else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        );
    };
    let s = match session::load(state, req).await {
        Ok(s) => s.filter(|s| s.csrf_ok(form.get("csrf_token"))),
        Err(e) => return state.unavailable_page(&e),
    };
    let Some((session_id, user_id)) = s.and_then(|s| s.user.as_ref().map(|u| (s.session.id, u.id)))
    else {
        return state.error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not valid for your browser session. Start again from the application.",
        );
    };
    let now = crate::core::now();
    let nonce = form.get("nonce").unwrap_or("");
    let store = state.store.as_ref();
    let pending = match authorize::resume(store, nonce, session_id, user_id, now).await {
        Ok(p) => p,
        Err(ResumeError::Gone) => {
            return state.error_page(
                StatusCode::BAD_REQUEST,
                "Request expired",
                "This authorization request was already answered or has expired. Start again from the application.",
            );
        }
        Err(ResumeError::ClientNotApproved) => {
            return state.error_page(
                StatusCode::FORBIDDEN,
                "This application cannot be authorized",
                "The application is no longer approved.",
            );
        }
        Err(e) => return state.unavailable_page(&e),
    };
    let answer = if form.get("decision") == Some("approve") {
        let lifetimes = state.settings.lifetimes();
        let implicit_enabled = state.settings.implicit_grant;
        match pending
            .approve(store, user_id, lifetimes, implicit_enabled, now)
            .await
        {
            Ok(answer) => answer,
            Err(e) => return state.unavailable_page(&e),
        }
    } else {
        pending.deny()
    };
    send(state, &answer)
}
