//! `/oauth/authorize`: the authorization endpoint (RFC 6749 §4.1.1–4.1.2, §4.2.1–4.2.2).
//!
//! `GET` has core validate the request, sends an anonymous visitor through `/login`, and shows
//! the consent page. The page's form carries only a CSRF token and a single-use nonce naming the
//! held request, so `POST` can neither be forged, altered nor replayed; it resumes the request
//! and sends core's answer. Every decision is core's ([`crate::core::grant::authorize`]).

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use tera::Context;

use super::error::{LoginRequired, PageError};
use super::extract::{PageForm, Visitor};
use super::reply::found;
use super::request::query_params;
use super::session;
use super::state::State;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::authorize::{
    self, AuthorizeError, Redirect, ResumeError, SIGN_IN_PARAMS, SignedIn, Step, ValidateOptions,
    validate,
};
use crate::core::oidc::IdTokens;
use crate::core::params::Params;

/// Sends the browser to the client with core's answer.
fn send(state: &State, req: &Request, redirect: &Redirect) -> Result<Response, PageError> {
    let issuer = super::metadata::issuer(state, req);
    let location = redirect.location(&issuer).ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's registered redirect URI is not a valid URL.",
        )
    })?;
    Ok(found(&location))
}

/// A refused request shown to the person, never redirected (RFC 6749 §4.1.2.1).
fn refused(err: &OAuthError) -> PageError {
    let title = match err.code {
        ErrorCode::UnauthorizedClient => "This application cannot be authorized",
        ErrorCode::ServerError => "Temporarily unavailable",
        _ => "Invalid authorization request",
    };
    PageError::protocol(title, err)
}

/// `GET /oauth/authorize`.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&State>) -> poem::Result<Response> {
    let params = query_params(req).map_err(|e| refused(&e))?;
    show_params(req, state, &params, true).await
}

/// The consent page for already-read parameters; compatibility routes adapt their spellings
/// and then call this. `public_clients_need_pkce` is the route's choice
/// ([`ValidateOptions::public_clients_need_pkce`]).
pub(crate) async fn show_params(
    req: &Request,
    state: &State,
    params: &Params,
    public_clients_need_pkce: bool,
) -> poem::Result<Response> {
    let now = crate::core::now();
    let hint_keys = super::metadata::hint_keys(state, params, now).await;
    let options = ValidateOptions {
        implicit_enabled: state.settings.implicit_grant,
        public_clients_need_pkce,
        openid_enabled: state.keyring.enabled(),
        id_token_keys: hint_keys.as_deref(),
        subjects: state.keyring.subjects(),
    };
    let pending = match validate(state.store.as_ref(), params, options).await {
        Ok(p) => p,
        Err(AuthorizeError::Page(e)) => return Err(refused(&e).into()),
        Err(AuthorizeError::Redirect(denied)) => return Ok(send(state, req, &denied)?),
    };
    let visitor = Visitor::current(state, req).await?;
    let store = state.store.as_ref();
    let granted = match &visitor {
        Some(v) => store
            .granted_scope(v.user.id, pending.client_id())
            .await
            .map_err(PageError::from)?,
        None => None,
    };
    let signed_in = visitor.as_ref().map(|v| SignedIn {
        user_id: v.user.id,
        at: v.session.session.created_at,
    });
    // Only a visitor who is signed in can be asked to consent, or approved for.
    let visitor_of = |v: Option<Visitor>| v.ok_or_else(|| LoginRequired::back_to(req));
    match pending.next_step(signed_in, granted.as_ref(), now) {
        Step::Approve(pending) => {
            let v = visitor_of(visitor)?;
            let answer = approve(
                state,
                req,
                pending,
                v.user.id,
                v.session.session.created_at,
                now,
            )
            .await
            .map_err(PageError::from)?;
            Ok(send(state, req, &answer)?)
        }
        Step::Consent(pending) => Ok(consent_page(state, &visitor_of(visitor)?, pending).await?),
        Step::Refuse(answer) => Ok(send(state, req, &answer)?),
        // Signing in comes back to the very URL asked for, so a compatibility route keeps its
        // own defaults; only the parameters that asked for this sign-in are left out.
        Step::SignIn {
            login_hint,
            back_with,
        } => Err(LoginRequired::back_without(req, &SIGN_IN_PARAMS, back_with)
            .with_hint(login_hint.as_deref())
            .into()),
    }
}

/// Holds the validated request for the visitor's answer and shows what it asks for.
async fn consent_page(
    state: &State,
    v: &Visitor,
    pending: authorize::Pending,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let held = pending
        .hold(store, v.session.session.id, v.user.id, crate::core::now())
        .await?;
    let known = store.list_scopes().await?;
    let described = |names: &[String]| -> Vec<serde_json::Value> {
        names
            .iter()
            .map(|name| {
                let description = known
                    .iter()
                    .find(|k| &k.name == name)
                    .map(|k| k.description.as_str())
                    .unwrap_or("");
                serde_json::json!({ "name": name, "description": description })
            })
            .collect()
    };
    let scopes = described(&held.asked);
    let kept = described(&held.kept);
    let redirect_host = url::Url::parse(&held.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| held.redirect_uri.clone());
    // The developer's branding, when the app has a portal profile.
    let profile = store.client_profile(held.client.id).await?;
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
    ctx.insert("kept", &kept);
    ctx.insert("redirect_host", &redirect_host);
    ctx.insert("csrf_token", &v.session.session.csrf_token);
    ctx.insert("nonce", &held.nonce);
    ctx.insert("user", &v.user.username);
    Ok(state.render(StatusCode::OK, "consent.html", &ctx))
}

/// `POST /oauth/authorize`: the user's answer on the consent page.
#[handler]
pub async fn decide(
    req: &Request,
    PageForm(form): PageForm,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let s = session::load(state, req)
        .await?
        .filter(|s| s.csrf_ok(form.get("csrf_token")));
    let Some((session_id, user_id, auth_time)) = s.and_then(|s| {
        s.user
            .as_ref()
            .map(|u| (s.session.id, u.id, s.session.created_at))
    }) else {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not valid for your browser session. Start again from the application.",
        ));
    };
    let now = crate::core::now();
    let nonce = form.get("nonce").unwrap_or("");
    let store = state.store.as_ref();
    let pending = authorize::resume(store, nonce, session_id, user_id, now)
        .await
        .map_err(|e| match e {
            ResumeError::Gone => PageError::new(
                StatusCode::BAD_REQUEST,
                "Request expired",
                "This authorization request was already answered or has expired. Start again from the application.",
            ),
            ResumeError::ClientNotApproved => PageError::new(
                StatusCode::FORBIDDEN,
                "This application cannot be authorized",
                "The application is no longer approved.",
            ),
            e => PageError::unavailable(&e),
        })?;
    let answer = if form.get("decision") == Some("approve") {
        approve(state, req, pending, user_id, auth_time, now).await?
    } else {
        pending.deny()
    };
    send(state, req, &answer)
}

/// Approves for `user_id`, signed in at `auth_time`, with the server's lifetimes, its
/// implicit-grant switch and its keys as they are now: the consent page's answer, or a
/// remembered consent.
async fn approve(
    state: &State,
    req: &Request,
    pending: authorize::Pending,
    user_id: i64,
    auth_time: i64,
    now: i64,
) -> Result<Redirect, crate::core::store::StoreError> {
    // The keys are read only for a response that carries an ID token or a JWT access token.
    let keys = match pending.signs() {
        true => super::metadata::signing_keys(state, now).await,
        false => None,
    };
    let issuer = super::metadata::issuer(state, req);
    let server = authorize::Answering {
        defaults: state.settings.lifetimes(),
        implicit_enabled: state.settings.implicit_grant,
        id_tokens: IdTokens {
            issuer: &issuer,
            keys: keys.as_deref(),
            subjects: state.keyring.subjects(),
        },
    };
    pending
        .approve(state.store.as_ref(), user_id, auth_time, server, now)
        .await
}
