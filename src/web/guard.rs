//! The runtime behind `#[oauth_required]`: finds the bearer token (RFC 6750 §2.1–2.3),
//! validates it through the state's token cache, checks scopes, and hands the handler a
//! [`Caller`].
//!
//! The cache ([`crate::core::cache`]) lives on the change feed: a revocation, a client's
//! or a user's change on any instance is honoured by this one on its very next request when
//! made here, and within milliseconds when made elsewhere (docs/caching.md).

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::web::RequestBody;
use poem::{Body, FromRequest, Request};

use super::error::{Audience, status_of};
use super::request::is_form;
use super::state::State;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::scope::ScopeSet;
use crate::core::token::ActiveToken;
use crate::registry::GuardEntry;

/// The largest form body read for an `access_token` field.
const MAX_FORM: usize = 64 * 1024;

/// Who is calling a guarded handler: the active token with its client and its user (none for
/// client credentials), as `caller.user`, `caller.client` and `caller.token`. Cheap to clone:
/// it shares the token cache's entry.
#[derive(Debug, Clone)]
pub struct Caller(Arc<ActiveToken>);

impl Caller {
    /// The scopes the token grants.
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.token.scope
    }

    /// When the token expires (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.0.token.expires_at
    }
}

impl Deref for Caller {
    type Target = ActiveToken;
    fn deref(&self) -> &ActiveToken {
        &self.0
    }
}

impl AsRef<Caller> for Caller {
    fn as_ref(&self) -> &Caller {
        self
    }
}

/// Why a guard refused a request: a value, so behaviour never depends on wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No token at all: RFC 6750 §3.1 asks for a bare challenge, without an error code.
    NoToken,
    /// A token parameter or header was present but empty.
    EmptyToken,
    /// More than one `Authorization` header.
    RepeatedAuthorization,
    /// The token came in more than one of RFC 6750's three ways.
    PresentedTwice,
    /// The form body that may carry the token could not be read.
    UnreadableBody,
    /// The token is unknown, expired or revoked.
    UnknownToken,
    /// A refresh token was presented where an access token is needed.
    NotAnAccessToken,
    /// The token was issued to a client alone, and the resource needs a user.
    NoUser,
    /// The token lacks a scope the resource needs.
    InsufficientScope,
    /// The token store, or the host's user-info provider, failed.
    StoreFailed,
    /// The guard runs outside `scopegate::web::app` (a host set-up error).
    NotMounted,
}

impl Refusal {
    /// The RFC 6749 / 6750 error code this refusal answers with.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::RepeatedAuthorization | Self::PresentedTwice | Self::UnreadableBody => {
                ErrorCode::InvalidRequest
            }
            Self::NoToken
            | Self::EmptyToken
            | Self::UnknownToken
            | Self::NotAnAccessToken
            | Self::NoUser => ErrorCode::InvalidToken,
            Self::InsufficientScope => ErrorCode::InsufficientScope,
            Self::StoreFailed | Self::NotMounted => ErrorCode::ServerError,
        }
    }

    /// The `error_description` sent with it.
    pub fn description(self) -> &'static str {
        match self {
            Self::NoToken => "no access token was presented",
            Self::EmptyToken => "the access token is empty",
            Self::RepeatedAuthorization => "more than one Authorization header",
            Self::PresentedTwice => "the access token was presented in more than one way",
            Self::UnreadableBody => "the body is unreadable or too large",
            Self::UnknownToken => "the access token is unknown, expired or revoked",
            Self::NotAnAccessToken => "a refresh token is not an access token",
            Self::NoUser => "this access token was issued to a client, not for a user",
            Self::InsufficientScope => "the access token lacks a scope this resource needs",
            Self::StoreFailed | Self::NotMounted => "the server met an unexpected condition",
        }
    }
}

/// A guard failure, carried as the RFC 6750 response [`GuardError::response`] builds.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct GuardError {
    /// Why the request was refused.
    pub reason: Refusal,
    /// `invalid_request`, `invalid_token`, `insufficient_scope` or `server_error`, with the
    /// description of `reason`.
    pub error: OAuthError,
    /// For `insufficient_scope`: the scope the resource needs.
    pub scope: Option<ScopeSet>,
}

impl GuardError {
    /// True when the request carried no token at all (RFC 6750 §3.1 then asks for a bare
    /// challenge).
    pub fn is_missing_token(&self) -> bool {
        self.reason == Refusal::NoToken
    }

    /// A refusal without a scope.
    pub fn new(reason: Refusal) -> Self {
        Self {
            reason,
            error: OAuthError::new(reason.code(), reason.description()),
            scope: None,
        }
    }

    /// The answer, decided here for every guarded resource (and `/oauth/userinfo`): a server
    /// error is a plain JSON 500 (RFC 6750 has no challenge for it); no token at all gets the
    /// bare challenge `Bearer realm="scopegate"`; every other refusal names its error, and
    /// `insufficient_scope` the scope needed (RFC 6750 §3, §3.1).
    pub fn response(&self) -> poem::Response {
        if self.error.code == ErrorCode::ServerError {
            return super::error::oauth_error(&self.error);
        }
        super::error::bearer_error(&self.error, self.scope.as_ref(), !self.is_missing_token())
    }
}

impl ResponseError for GuardError {
    fn status(&self) -> StatusCode {
        status_of(self.error.code, Audience::Client)
    }

    fn as_response(&self) -> poem::Response {
        self.response()
    }
}

/// The `access_token` values of a form-encoded string; a malformed string has none.
fn access_tokens_in(form: &[u8]) -> Vec<String> {
    form_urlencoded_pairs(form)
        .into_iter()
        .filter(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
        .collect()
}

fn form_urlencoded_pairs(form: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(form).unwrap_or_default()
}

/// Finds the token in exactly one of the three places RFC 6750 §2 allows. A form body is read
/// and put back, so the handler can still read it.
pub async fn presented_token(req: &Request, body: &mut RequestBody) -> Result<String, GuardError> {
    let mut found: Vec<String> = Vec::new();
    let mut headers = req
        .headers()
        .get_all(poem::http::header::AUTHORIZATION)
        .iter();
    if let Some(value) = headers.next() {
        if headers.next().is_some() {
            return Err(GuardError::new(Refusal::RepeatedAuthorization));
        }
        // `Bearer` with nothing after it (the parser trims the space) was still presented.
        let value = value.to_str().unwrap_or("").trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            found.push(token.trim().to_owned());
        }
    }
    found.extend(access_tokens_in(req.uri().query().unwrap_or("").as_bytes()));
    if is_form(req) && body.is_some() {
        let bytes = match body.take() {
            Ok(b) => super::request::read_bounded(b, MAX_FORM)
                .await
                .ok_or_else(|| GuardError::new(Refusal::UnreadableBody))?,
            Err(_) => Default::default(),
        };
        found.extend(access_tokens_in(&bytes));
        *body = RequestBody::new(Body::from(bytes));
    }
    match found.len() {
        0 => Err(GuardError::new(Refusal::NoToken)),
        1 => found
            .pop()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GuardError::new(Refusal::EmptyToken)),
        _ => Err(GuardError::new(Refusal::PresentedTwice)),
    }
}

/// Validates a presented token through the state's token cache.
pub async fn validate(state: &State, token: &str) -> Result<Caller, GuardError> {
    let active = state
        .caches
        .find_active(state.store.as_ref(), token, crate::core::now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            GuardError::new(Refusal::StoreFailed)
        })?
        .ok_or_else(|| GuardError::new(Refusal::UnknownToken))?;
    if active.token.kind != crate::core::model::TokenKind::Access {
        return Err(GuardError::new(Refusal::NotAnAccessToken));
    }
    Ok(Caller(active))
}

/// Fails with `insufficient_scope` unless `caller` holds every scope of `required`.
pub fn check_scopes(caller: &Caller, required: &ScopeSet) -> Result<(), GuardError> {
    if required.is_subset(caller.scopes()) {
        Ok(())
    } else {
        Err(GuardError {
            scope: Some(required.clone()),
            ..GuardError::new(Refusal::InsufficientScope)
        })
    }
}

/// Finds and validates the token of a request (no scope check).
pub async fn caller_from(req: &Request, body: &mut RequestBody) -> Result<Caller, GuardError> {
    let Some(state) = req.data::<State>() else {
        tracing::error!("a guarded handler is mounted outside scopegate::web::app");
        return Err(GuardError::new(Refusal::NotMounted));
    };
    let token = presented_token(req, body).await?;
    validate(state, &token).await
}

impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(caller_from(req, body).await?)
    }
}

/// Links a guard to its registry entry; the macro implements it on a marker type.
pub trait GuardSpec: Send + Sync + 'static {
    /// The guarded handler's registry entry.
    fn entry() -> &'static GuardEntry;
}

/// Authenticates the request and checks the scopes of `S`: the one decision behind both
/// [`Guard`] (plain handlers) and `web::openapi::ApiGuard` (poem-openapi operations).
pub async fn admit<S: GuardSpec>(
    req: &Request,
    body: &mut RequestBody,
) -> Result<Caller, GuardError> {
    let entry = S::entry();
    let decided = match caller_from(req, body).await {
        Ok(caller) => check_scopes(&caller, entry.scopes()).map(|()| caller),
        Err(e) => Err(e),
    };
    let outcome = decided
        .as_ref()
        .map_or_else(|e| e.error.code.as_str(), |_| "allowed");
    crate::core::metrics::guard(entry.scopes_text(), outcome);
    decided
}

/// The extractor `#[oauth_required]` adds in front of a poem handler's parameters: it rejects
/// the request before any other extractor runs unless the token holds the scopes of `S`.
pub struct Guard<S: GuardSpec>(pub Caller, PhantomData<S>);

impl<'a, S: GuardSpec> FromRequest<'a> for Guard<S> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Guard(admit::<S>(req, body).await?, PhantomData))
    }
}
