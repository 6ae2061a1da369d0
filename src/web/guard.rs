//! The runtime behind `#[oauth_required]`: finds the bearer token (RFC 6750 §2.1–2.3),
//! validates it, checks scopes, and hands the handler a [`Caller`].
//!
//! A token is validated one of two ways, by what the app is mounted with ([`caller_from`]):
//! - inside the authorization server (`scopegate::web::app`), through the state's token cache
//!   ([`crate::core::cache`]), which lives on the change feed: a revocation, a client's or a
//!   user's change on any instance is honoured by this one on its very next request when made
//!   here, and within milliseconds when made elsewhere (docs/caching.md);
//! - in any other service, through its [`ResourceServer`] (JWT or introspection against the
//!   issuer, docs/resource-servers.md).

use std::marker::PhantomData;
use std::sync::Arc;

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::web::RequestBody;
use poem::{Body, FromRequest, Request};

use super::error::{Audience, status_of};
use super::request::is_form;
#[cfg(feature = "server")]
use super::state::State;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::scope::ScopeSet;
use crate::core::token::ActiveToken;
use crate::registry::GuardEntry;
use crate::resource_server::{RemoteToken, ResourceServer};

/// The largest form body read for an `access_token` field.
const MAX_FORM: usize = 64 * 1024;

/// Seconds a resource server asks its callers to wait when the issuer cannot be reached.
const ISSUER_RETRY_AFTER: i64 = 5;

/// Who is calling a guarded handler: the token's scopes, its client, and its user (none for
/// client credentials). Cheap to clone: it shares the validating cache's entry.
#[derive(Debug, Clone)]
pub struct Caller(Principal);

#[derive(Debug, Clone)]
enum Principal {
    /// Validated against this server's own store: the full record.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Local(Arc<ActiveToken>),
    /// Validated by a resource server: what the issuer said of it.
    Remote(Arc<RemoteToken>),
}

impl Caller {
    /// The scopes the token grants.
    pub fn scopes(&self) -> &ScopeSet {
        match &self.0 {
            Principal::Local(t) => &t.token.scope,
            Principal::Remote(t) => &t.scope,
        }
    }

    /// When the token expires (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        match &self.0 {
            Principal::Local(t) => t.token.expires_at,
            Principal::Remote(t) => t.expires_at,
        }
    }

    /// The `client_id` of the client the token was issued to.
    pub fn client_id(&self) -> &str {
        match &self.0 {
            Principal::Local(t) => &t.client.client_id,
            Principal::Remote(t) => &t.client_id,
        }
    }

    /// The username of the user the token acts for, when known: always inside the
    /// authorization server, from introspection in a resource server (left out for clients
    /// with pairwise subjects), never from a JWT.
    pub fn username(&self) -> Option<&str> {
        match &self.0 {
            Principal::Local(t) => t.user.as_ref().map(|u| u.username.as_str()),
            Principal::Remote(t) => t.username.as_deref(),
        }
    }

    /// The token's `sub` as the issuer stated it to a resource server (RFC 9068 §2.2: the user
    /// as the client sees them, or the client itself for a client's own token); `None` inside
    /// the authorization server, where [`Caller::local`] has the user.
    pub fn subject(&self) -> Option<&str> {
        match &self.0 {
            Principal::Local(_) => None,
            Principal::Remote(t) => Some(&t.subject),
        }
    }

    /// The stored token with its client and user, for a token validated inside the
    /// authorization server.
    pub fn local(&self) -> Option<&ActiveToken> {
        match &self.0 {
            Principal::Local(t) => Some(t),
            Principal::Remote(_) => None,
        }
    }

    /// A caller a resource server validated.
    pub(crate) fn remote(token: Arc<RemoteToken>) -> Self {
        Self(Principal::Remote(token))
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
    /// The token was made for another resource (its `aud`, RFC 8707), or by another issuer.
    WrongAudience,
    /// The token lacks a scope the resource needs.
    InsufficientScope,
    /// The issuer, which a resource server asks about tokens, cannot be reached now.
    IssuerUnavailable,
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
            | Self::WrongAudience
            | Self::NoUser => ErrorCode::InvalidToken,
            Self::InsufficientScope => ErrorCode::InsufficientScope,
            Self::IssuerUnavailable => ErrorCode::TemporarilyUnavailable,
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
            Self::WrongAudience => "the access token is not for this resource",
            Self::IssuerUnavailable => "the authorization server cannot be reached; retry later",
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
    /// The resource's RFC 9728 metadata URL, named in the challenge.
    pub resource_metadata: Option<Arc<str>>,
}

impl GuardError {
    /// True when the request carried no token at all (RFC 6750 §3.1 then asks for a bare
    /// challenge).
    pub fn is_missing_token(&self) -> bool {
        self.reason == Refusal::NoToken
    }

    /// A refusal without a scope.
    pub fn new(reason: Refusal) -> Self {
        let error = OAuthError::new(reason.code(), reason.description());
        Self {
            reason,
            error: match reason {
                Refusal::IssuerUnavailable => error.with_retry_after(ISSUER_RETRY_AFTER),
                _ => error,
            },
            scope: None,
            resource_metadata: None,
        }
    }

    /// The same refusal, naming the resource's metadata URL in its challenge.
    pub fn with_metadata(mut self, url: Arc<str>) -> Self {
        self.resource_metadata = Some(url);
        self
    }

    /// The answer, decided here for every guarded resource (and `/oauth/userinfo`): a server
    /// error is a plain JSON 500 (RFC 6750 has no challenge for it); no token at all gets the
    /// bare challenge `Bearer realm="scopegate"`; every other refusal names its error, and
    /// `insufficient_scope` the scope needed (RFC 6750 §3, §3.1).
    pub fn response(&self) -> poem::Response {
        if matches!(
            self.error.code,
            ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
        ) {
            return super::error::oauth_error(&self.error);
        }
        super::error::bearer_error(
            &self.error,
            self.scope.as_ref(),
            self.resource_metadata.as_deref(),
            !self.is_missing_token(),
        )
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

/// Validates a presented token through the state's token cache: the stored token, active now.
#[cfg(feature = "server")]
pub async fn validate(state: &State, token: &str) -> Result<Arc<ActiveToken>, GuardError> {
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
    Ok(active)
}

#[cfg(feature = "server")]
/// True when a token made for `resource` (RFC 8707) may be used at this authorization server,
/// known as `issuer`: one made for the issuer, or for a URL under it (one made for no resource
/// in particular is, too). A token for another service is refused here, as there.
fn for_this_server(resource: &str, issuer: &str) -> bool {
    resource.trim_end_matches('/') == issuer
        || resource
            .strip_prefix(issuer)
            .is_some_and(|rest| rest.starts_with('/'))
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

/// Finds and validates the token of a request (no scope check): the one place that picks how,
/// by what the app is mounted with. Every refusal names the resource's metadata (RFC 9728 §5.1).
pub async fn caller_from(req: &Request, body: &mut RequestBody) -> Result<Caller, GuardError> {
    #[cfg(feature = "server")]
    if let Some(state) = req.data::<State>() {
        // The issuer is worked out only when a token names a resource, or for a refusal: most
        // requests pass without either.
        let issuer = || super::metadata::issuer(state, req);
        let validated = async {
            let token = presented_token(req, body).await?;
            let active = validate(state, &token).await?;
            if let Some(resource) = active.token.resource.as_deref()
                && !for_this_server(resource, &issuer())
            {
                return Err(GuardError::new(Refusal::WrongAudience));
            }
            Ok(Caller(Principal::Local(active)))
        };
        return validated.await.map_err(|e| {
            e.with_metadata(super::metadata::protected_resource_url(&issuer()).into())
        });
    }
    if let Some(server) = req.data::<ResourceServer>() {
        let validated = async {
            let token = presented_token(req, body).await?;
            server.validate(&token).await
        };
        return validated
            .await
            .map_err(|e| e.with_metadata(server.metadata_url()));
    }
    tracing::error!(
        "a guarded handler is mounted outside scopegate::web::app and without a ResourceServer"
    );
    Err(GuardError::new(Refusal::NotMounted))
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
