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

/// An RFC 6750 §3 refusal at a protected resource: `WWW-Authenticate: Bearer` with the error
/// code unless the request carried no token at all (§3.1), and the same as a JSON body.
pub fn bearer_error(err: &OAuthError, token_presented: bool) -> Response {
    let challenge = if token_presented {
        format!(
            "Bearer realm=\"scopegate\", error=\"{}\", error_description=\"{}\"",
            err.code.as_str(),
            err.description.replace(['"', '\\'], "'")
        )
    } else {
        "Bearer realm=\"scopegate\"".to_owned()
    };
    let mut resp = oauth_error(err);
    if let Ok(value) = challenge.parse() {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
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

/// `oauth_error`, plus `Retry-After` for a throttled caller (RFC 6585 §4 with 429).
pub fn token_error(err: &OAuthError, retry_after: i64) -> Response {
    let mut resp = oauth_error(err);
    if err.code == ErrorCode::SlowDown
        && let Ok(value) = retry_after.to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}
