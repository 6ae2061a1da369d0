//! The one place an error becomes an HTTP answer. Each kind of error implements poem's
//! [`ResponseError`], so handlers return it with `?`:
//! - [`OAuthError`]: RFC 6749 JSON for protocol endpoints;
//! - `web::guard::GuardError`: RFC 6750 answers for protected resources;
//! - [`PageError`]: the friendly error page for people, rendered by the middleware (which holds
//!   the templates);
//! - [`LoginRequired`]: the way to the login page and back;
//! - [`CompatError`], [`OmniportUnauthorized`]: the shapes the replaced providers answered with.
//!
//! [`status_of`] is the one table from a protocol error to an HTTP status.

use std::borrow::Cow;
use std::fmt;

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::{Request, Response};
use serde_json::json;

use super::reply::found;
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::store::StoreError;

/// Who an error is answered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A client program, in JSON (RFC 6749 §5.2, RFC 6750 §3.1).
    Client,
    /// A person, on a page (the authorization endpoint's refusals that are never redirected).
    Person,
}

/// The status each protocol error answers with. A person differs from a client in three
/// places: they have no client credentials to retry with (`invalid_client` is no 401), an
/// application that may not be authorized is a refusal (403), and a failure of the server is
/// "try again in a moment" (503), as every page answers a storage failure.
pub fn status_of(code: ErrorCode, to: Audience) -> StatusCode {
    match (code, to) {
        (ErrorCode::InvalidClient, Audience::Person) => StatusCode::BAD_REQUEST,
        (ErrorCode::InvalidClient | ErrorCode::InvalidToken, _) => StatusCode::UNAUTHORIZED,
        (ErrorCode::InsufficientScope, _) => StatusCode::FORBIDDEN,
        (ErrorCode::UnauthorizedClient, Audience::Person) => StatusCode::FORBIDDEN,
        (ErrorCode::ServerError, Audience::Client) => StatusCode::INTERNAL_SERVER_ERROR,
        (ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable, _) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        (ErrorCode::SlowDown, _) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl ResponseError for OAuthError {
    fn status(&self) -> StatusCode {
        status_of(self.code, Audience::Client)
    }

    fn as_response(&self) -> Response {
        oauth_error(self)
    }
}

/// A JSON error response (`error`, `error_description`), never cached. `invalid_client` carries
/// `WWW-Authenticate: Basic` as RFC 6749 §5.2 asks.
pub fn oauth_error(err: &OAuthError) -> Response {
    let mut builder = Response::builder()
        .status(status_of(err.code, Audience::Client))
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache");
    if err.code == ErrorCode::InvalidClient {
        builder = builder.header(header::WWW_AUTHENTICATE, "Basic realm=\"scopegate\"");
    }
    // RFC 6585 §4 (429) and RFC 9110 §10.2.3 (503): a throttled or busy caller is told when.
    if let Some(seconds) = err.retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds.max(1).to_string());
    }
    builder.body(
        json!({ "error": err.code.as_str(), "error_description": err.description }).to_string(),
    )
}

/// A JSON success response, never cached (RFC 6749 §5.1).
pub fn no_store_json(body: &impl serde::Serialize) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => Response::builder()
            .content_type("application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::PRAGMA, "no-cache")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            oauth_error(&OAuthError::server_error())
        }
    }
}

/// An RFC 6750 §3 response for a protected resource: the status of the error, a
/// `WWW-Authenticate: Bearer` challenge with `error`, `error_description` and, for
/// `insufficient_scope`, the `scope` the resource needs; the same fields in a JSON body.
/// With `error_code` false the challenge is bare (`Bearer realm="scopegate"`), as RFC 6750
/// §3.1 asks when a request carried no token at all.
pub fn bearer_error(
    err: &OAuthError,
    scope: Option<&crate::core::scope::ScopeSet>,
    resource_metadata: Option<&str>,
    error_code: bool,
) -> Response {
    // Descriptions are ours, but quote-escape anyway: a quoted-string may not hold `"` or `\`.
    let clean = |s: &str| s.replace(['"', '\\'], "'");
    let mut challenge = if error_code {
        format!(
            "Bearer realm=\"scopegate\", error=\"{}\", error_description=\"{}\"",
            err.code.as_str(),
            clean(&err.description)
        )
    } else {
        "Bearer realm=\"scopegate\"".to_owned()
    };
    if let Some(url) = resource_metadata {
        challenge.push_str(&format!(", resource_metadata=\"{}\"", clean(url)));
    }
    let mut body = json!({ "error": err.code.as_str(), "error_description": err.description });
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
        body["scope"] = json!(scope.to_string());
    }
    Response::builder()
        .status(status_of(err.code, Audience::Client))
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache")
        .header(header::WWW_AUTHENTICATE, challenge)
        .body(body.to_string())
}

/// An error in the shape of [`oauth_error`] but with another status, for compatibility routes
/// whose provider answered differently (Spring's `check_token` answers 400 to a bad token).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CompatError {
    /// The error.
    pub error: OAuthError,
    /// The status the provider answered it with.
    pub status: StatusCode,
}

impl ResponseError for CompatError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let mut resp = oauth_error(&self.error);
        resp.set_status(self.status);
        resp
    }
}

/// Omniport's (Django REST framework's) answer to a request without valid credentials.
#[derive(Debug, thiserror::Error)]
#[error("Authentication credentials were not provided.")]
pub struct OmniportUnauthorized;

impl ResponseError for OmniportUnauthorized {
    fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn as_response(&self) -> Response {
        Response::builder()
            .status(self.status())
            .content_type("application/json")
            .header(header::WWW_AUTHENTICATE, "Bearer realm=\"api\"")
            .body(json!({ "detail": self.to_string() }).to_string())
    }
}

/// A request a browser page cannot serve, answered with the error page (`error.html`): a
/// status, a title and a sentence for the person. The middleware renders it, since it holds
/// the templates; outside `web::app` it is plain text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{title}: {message}")]
pub struct PageError {
    /// The status.
    pub status: StatusCode,
    /// The page's heading.
    pub title: Cow<'static, str>,
    /// What went wrong, for the person.
    pub message: Cow<'static, str>,
}

impl PageError {
    /// A page with this status, title and message.
    pub fn new(
        status: StatusCode,
        title: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            title: title.into(),
            message: message.into(),
        }
    }

    /// The storage failed under a page request (logged here): "try again in a moment".
    pub fn unavailable(err: &dyn fmt::Display) -> Self {
        tracing::error!(error = %err, "storage failed under a page request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The server could not reach its database. Please try again in a moment.",
        )
    }

    /// A form body that could not be read.
    pub fn bad_form() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        )
    }

    /// A missing record, or a malformed id in the path.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing at this address. It may have been deleted.",
        )
    }

    /// A protocol error shown to a person, with the status [`status_of`] gives it.
    pub fn protocol(title: &'static str, err: &OAuthError) -> Self {
        Self::new(
            status_of(err.code, Audience::Person),
            title,
            err.description.clone(),
        )
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::unavailable(&e)
    }
}

impl ResponseError for PageError {
    fn status(&self) -> StatusCode {
        self.status
    }
}

/// A page for signed-in users, asked for by an anonymous visitor: a redirect to the login page,
/// which comes back to the address asked for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sign in first")]
pub struct LoginRequired {
    /// The path and query to come back to.
    pub next: String,
    /// The username to pre-fill the sign-in form with (OpenID Connect's `login_hint`).
    pub login_hint: Option<String>,
}

impl LoginRequired {
    /// Comes back to `req`'s own address.
    pub fn back_to(req: &Request) -> Self {
        // The original URI: a nested route (`/admin`, `/account`) sees its path with the
        // prefix stripped.
        let next = req
            .original_uri()
            .path_and_query()
            .map_or("/", |p| p.as_str());
        Self {
            next: next.to_owned(),
            login_hint: None,
        }
    }

    /// Comes back to `req`'s address without the query parameters `dropped`, and with `added`.
    pub fn back_without(req: &Request, dropped: &[&str], added: Option<(&str, &str)>) -> Self {
        let uri = req.original_uri();
        let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
        if added.is_none()
            && !pairs
                .clone()
                .any(|(name, _)| dropped.contains(&name.as_ref()))
        {
            return Self::back_to(req);
        }
        let added = added.map(|(n, v)| (n.to_owned(), v.to_owned()));
        let kept: Vec<(String, String)> = pairs
            .filter(|(name, _)| !dropped.contains(&name.as_ref()))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .chain(added)
            .collect();
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        Self {
            next: format!("{}?{query}", uri.path()),
            login_hint: None,
        }
    }

    /// Pre-fills the sign-in form with `hint`.
    pub fn with_hint(self, hint: Option<&str>) -> Self {
        Self {
            login_hint: hint.map(str::to_owned),
            ..self
        }
    }
}

impl ResponseError for LoginRequired {
    fn status(&self) -> StatusCode {
        StatusCode::FOUND
    }

    fn as_response(&self) -> Response {
        let mut pairs = vec![("next", self.next.as_str())];
        pairs.extend(self.login_hint.as_deref().map(|h| ("login_hint", h)));
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        found(&format!("/login?{query}"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Audience, status_of};
    use crate::core::error::ErrorCode;

    #[test]
    fn people_and_clients_differ_where_the_table_says() {
        let both = |code| {
            (
                status_of(code, Audience::Client).as_u16(),
                status_of(code, Audience::Person).as_u16(),
            )
        };
        assert_eq!(both(ErrorCode::InvalidRequest), (400, 400));
        assert_eq!(both(ErrorCode::InvalidClient), (401, 400));
        assert_eq!(both(ErrorCode::UnauthorizedClient), (400, 403));
        assert_eq!(both(ErrorCode::InvalidToken), (401, 401));
        assert_eq!(both(ErrorCode::InsufficientScope), (403, 403));
        assert_eq!(both(ErrorCode::ServerError), (500, 503));
        assert_eq!(both(ErrorCode::TemporarilyUnavailable), (503, 503));
        assert_eq!(both(ErrorCode::SlowDown), (429, 429));
    }
}
