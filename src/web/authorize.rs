//! `/oauth/authorize`: the authorization endpoint (RFC 6749 §4.1.1–4.1.2, §4.2.1–4.2.2).
//!
//! `GET` validates the request, sends an anonymous visitor through `/login`, and shows the
//! consent page. The page's form carries only a CSRF token and a single-use nonce naming the
//! stored request, so `POST` can neither be forged, altered nor replayed.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tera::Context;

use super::State;
use super::pages::found;
use super::request::{form_params, query_params};
use super::session;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::authorize::{AuthorizeError, ValidateOptions, validate_with};
use crate::core::grant::{Grant, mint, new_grant_id};
use crate::core::model::{Approval, Client, Lifetimes, NewCode, PendingAuthorization};
use crate::core::params::Params;
use crate::core::secret::{generate_token, hash_secret};

/// How long a consent page stays answerable.
const CONSENT_TTL: i64 = 600;

/// Appends the response parameters to the redirect URI's query (RFC 6749 §4.1.2: keeping any
/// query the registered URI already has).
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)], fragment: bool) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    if fragment {
        // RFC 6749 §4.2.2: the implicit grant answers in the fragment, which the browser keeps
        // to itself (never sent to the client's server or logged by proxies).
        let encoded = serde_urlencoded::to_string(params).ok()?;
        url.set_fragment(Some(&encoded));
    } else {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Some(url.into())
}

fn redirect_response(state: &State, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    redirect_response_in(state, redirect_uri, params, false)
}

fn redirect_response_in(
    state: &State,
    redirect_uri: &str,
    params: &[(&str, &str)],
    fragment: bool,
) -> Response {
    match redirect_with(redirect_uri, params, fragment) {
        Some(location) => found(&location).finish(),
        None => state.error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's registered redirect URI is not a valid URL.",
        ),
    }
}

fn error_params<'a>(err: &'a OAuthError, state: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("error", err.code.as_str()),
        ("error_description", err.description.as_str()),
    ];
    if let Some(s) = state {
        p.push(("state", s));
    }
    p
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
    let request = match validate_with(state.store.as_ref(), params, options).await {
        Ok(r) => r,
        Err(AuthorizeError::Page(e)) => return page_for(state, &e),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state: client_state,
        }) => {
            tracing::info!(error = error.code.as_str(), "authorization request refused");
            return redirect_response_in(
                state,
                &redirect_uri,
                &error_params(&error, client_state.as_deref()),
                params.get("response_type") == Some("token"),
            );
        }
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
    let nonce = generate_token();
    let pending = PendingAuthorization {
        client_id: request.client.id,
        user_id: user.id,
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_given: request.redirect_uri_given,
        scope: request.scope.clone(),
        state: request.state.clone(),
        pkce: request.pkce.clone(),
        response_type: request.response_type.clone(),
        expires_at: crate::core::now() + CONSENT_TTL,
    };
    if let Err(e) = state
        .store
        .create_pending(&hash_secret(&nonce), s.session.id, pending)
        .await
    {
        return state.unavailable_page(&e);
    }
    let known = match state.store.list_scopes().await {
        Ok(k) => k,
        Err(e) => return state.unavailable_page(&e),
    };
    let scopes: Vec<serde_json::Value> = request
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
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| request.redirect_uri.clone());
    // Issue 5: the developer's branding, when the app has a portal profile.
    let profile = match state.store.client_profile(request.client.id).await {
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
    ctx.insert("client_name", &request.client.name);
    ctx.insert("scopes", &scopes);
    ctx.insert("redirect_host", &redirect_host);
    ctx.insert("csrf_token", &s.session.csrf_token);
    ctx.insert("nonce", &nonce);
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
        Ok(Some(s)) if s.csrf_ok(form.get("csrf_token")) && s.user.is_some() => s,
        Ok(_) => {
            return state.error_page(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form was not valid for your browser session. Start again from the application.",
            );
        }
        Err(e) => return state.unavailable_page(&e),
    };
    let now = crate::core::now();
    let nonce = form.get("nonce").unwrap_or("");
    let pending = match state
        .store
        .take_pending(&hash_secret(nonce), s.session.id, now)
        .await
    {
        Ok(Some(p)) if Some(p.user_id) == s.user.as_ref().map(|u| u.id) => p,
        Ok(_) => {
            return state.error_page(
                StatusCode::BAD_REQUEST,
                "Request expired",
                "This authorization request was already answered or has expired. Start again from the application.",
            );
        }
        Err(e) => return state.unavailable_page(&e),
    };
    let client = match state.store.client_by_id(pending.client_id).await {
        Ok(Some(c)) if c.approval == Approval::Approved => c,
        Ok(_) => {
            return state.error_page(
                StatusCode::FORBIDDEN,
                "This application cannot be authorized",
                "The application is no longer approved.",
            );
        }
        Err(e) => return state.unavailable_page(&e),
    };
    let client_state = pending.state.as_deref();
    let implicit = pending.response_type == "token";
    if form.get("decision") != Some("approve") {
        tracing::info!(client = ?client.client_id, decision = "deny", "authorization decision");
        let err = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        return redirect_response_in(
            state,
            &pending.redirect_uri,
            &error_params(&err, client_state),
            implicit,
        );
    }
    let user_id = pending.user_id;
    if let Err(e) = state
        .store
        .record_consent(user_id, client.id, &pending.scope, now)
        .await
    {
        return state.unavailable_page(&e);
    }
    let lifetimes = client.lifetimes(state.settings.lifetimes());
    if implicit {
        return implicit_redirect(state, &client, &pending, lifetimes, now).await;
    }
    let code = generate_token();
    let stored = state
        .store
        .create_code(NewCode {
            code_hash: hash_secret(&code),
            client_id: client.id,
            user_id,
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_given: pending.redirect_uri_given,
            scope: pending.scope.clone(),
            pkce: pending.pkce.clone(),
            grant_id: new_grant_id(),
            expires_at: now.saturating_add(lifetimes.code),
        })
        .await;
    if let Err(e) = stored {
        return state.unavailable_page(&e);
    }
    tracing::info!(client = ?client.client_id, user_id, scope = %pending.scope, decision = "approve", "authorization decision");
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = client_state {
        params.push(("state", st));
    }
    redirect_response(state, &pending.redirect_uri, &params)
}

/// RFC 6749 §4.2.2: the access token in the redirect's fragment, and no refresh token.
async fn implicit_redirect(
    state: &State,
    client: &Client,
    pending: &PendingAuthorization,
    lifetimes: Lifetimes,
    now: i64,
) -> Response {
    if !state.settings.implicit_grant {
        // Switched off between the consent page and the answer.
        let err = OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "the implicit grant is switched off",
        );
        return redirect_response_in(
            state,
            &pending.redirect_uri,
            &error_params(&err, pending.state.as_deref()),
            true,
        );
    }
    let minted = mint(
        Grant {
            client,
            user_id: Some(pending.user_id),
            scope: pending.scope.clone(),
            refresh_scope: None,
            grant_id: new_grant_id(),
        },
        lifetimes,
        now,
    );
    if let Err(e) = state.store.issue_tokens(minted.access, None).await {
        return state.unavailable_page(&e);
    }
    tracing::info!(client = ?client.client_id, user_id = pending.user_id, scope = %pending.scope, decision = "approve", grant = "implicit", "authorization decision");
    let expires_in = minted.response.expires_in.to_string();
    let mut params = vec![
        ("access_token", minted.response.access_token.as_str()),
        ("token_type", "Bearer"),
        ("expires_in", expires_in.as_str()),
        ("scope", minted.response.scope.as_str()),
    ];
    if let Some(st) = pending.state.as_deref() {
        params.push(("state", st));
    }
    redirect_response_in(state, &pending.redirect_uri, &params, true)
}
