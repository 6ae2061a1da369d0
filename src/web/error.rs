//! The one place a protocol error becomes an HTTP status, headers and body.

use poem::Response;
use poem::http::{StatusCode, header};
use serde_json::json;

use crate::core::error::{ErrorCode, OAuthError};

/// The status RFC 6749 §5.2 and RFC 6750 §3.1 give each error.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A JSON error response (`error`, `error_description`), never cached. `invalid_client` carries
/// `WWW-Authenticate: Basic` as RFC 6749 §5.2 asks.
pub fn oauth_error(err: &OAuthError) -> Response {
    let mut builder = Response::builder()
        .status(status_of(err.code))
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

/// An error in the shape of `oauth_error` but with another status, for compatibility routes
/// whose provider answered differently (Spring's `check_token` answers 400 to a bad token).
pub fn oauth_error_with_status(err: &OAuthError, status: StatusCode) -> Response {
    let mut resp = oauth_error(err);
    resp.set_status(status);
    resp
}

/// Omniport's (Django REST framework's) answer to a request without valid credentials.
pub fn omniport_unauthorized() -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .content_type("application/json")
        .header(header::WWW_AUTHENTICATE, "Bearer realm=\"api\"")
        .body(json!({ "detail": "Authentication credentials were not provided." }).to_string())
}

/// `oauth_error`, with `retry_after` as `Retry-After` for a throttled caller (RFC 6585 §4 with
/// 429) whose error did not say how long to wait itself.
pub fn token_error(err: &OAuthError, retry_after: i64) -> Response {
    let mut resp = oauth_error(err);
    if err.code == ErrorCode::SlowDown
        && err.retry_after.is_none()
        && let Ok(value) = retry_after.to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

/// An RFC 6750 §3 response for a protected resource: the status of the error, a
/// `WWW-Authenticate: Bearer` challenge with `error`, `error_description` and, for
/// `insufficient_scope`, the `scope` the resource needs; the same fields in a JSON body.
/// With `error_code` false the challenge is bare (`Bearer realm="scopegate"`), as RFC 6750
/// §3.1 asks when a request carried no token at all.
pub fn bearer_error(
    err: &OAuthError,
    scope: Option<&crate::core::scope::ScopeSet>,
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
    let mut body = json!({ "error": err.code.as_str(), "error_description": err.description });
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
        body["scope"] = json!(scope.to_string());
    }
    Response::builder()
        .status(status_of(err.code))
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache")
        .header(header::WWW_AUTHENTICATE, challenge)
        .body(body.to_string())
}
