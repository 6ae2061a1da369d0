//! RFC 6749 §5.2 / §4.1.2.1 and RFC 6750 §3 errors as values.
//!
//! The protocol code only says *which* error happened; `web::error` is the one place that turns it
//! into a status code, headers and a JSON body.

use std::fmt;

/// The error codes of RFC 6749 and RFC 6750.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, bad secret, no credentials).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, used, or issued to another client.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The response type is not supported by this server.
    UnsupportedResponseType,
    /// The requested scope is invalid, unknown, or wider than allowed.
    InvalidScope,
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// The access token is missing, unknown, expired or revoked (RFC 6750).
    InvalidToken,
    /// The access token lacks a scope the resource needs (RFC 6750).
    InsufficientScope,
    /// The server met an unexpected condition (never caused by bad input).
    ServerError,
    /// The server is overloaded or throttling this caller.
    TemporarilyUnavailable,
    /// Too many failed password attempts for this username or address: wait and retry
    /// (`slow_down`, from the IANA OAuth extensions error registry).
    SlowDown,
    /// The revocation endpoint does not know the `token_type_hint` given (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// `prompt=none`, but the user is not signed in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, but the user would have to consent first (Core §3.1.2.6).
    ConsentRequired,
    /// `prompt=none`, but the user must see a page though nothing is missing: a public
    /// client's request is always shown to the user, even with their consent on record (Core
    /// §3.1.2.6).
    InteractionRequired,
    /// The request sent a request object (`request`), which this server does not take (Core
    /// §3.1.2.6, §6).
    RequestNotSupported,
    /// The request sent `request_uri`, which this server does not take (Core §3.1.2.6, §6).
    RequestUriNotSupported,
    /// The `resource` is not an absolute URI without a fragment, or not one this grant may
    /// target (RFC 8707 §2).
    InvalidTarget,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::SlowDown => "slow_down",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidTarget => "invalid_target",
        }
    }
}

/// A protocol error: a code and a human-readable description for the developer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// Which error.
    pub code: ErrorCode,
    /// `error_description`: says what was wrong, never echoes a secret.
    pub description: String,
    /// Seconds the caller should wait before retrying (`Retry-After`), for a throttled or busy
    /// answer.
    pub retry_after: Option<i64>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }
    /// The same error, telling the caller to wait `seconds` before retrying.
    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    /// `slow_down` (429 with `Retry-After`): too many failed attempts at a credential.
    pub fn throttled(description: impl Into<String>, retry_after: i64) -> Self {
        Self::new(ErrorCode::SlowDown, description).with_retry_after(retry_after)
    }
    /// `temporarily_unavailable` (503 with `Retry-After`): the server is too busy right now.
    pub fn busy(description: impl Into<String>, retry_after: i64) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, description).with_retry_after(retry_after)
    }
    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }
    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
    /// `unauthorized_client`.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }
    /// `server_error`, for storage failures; the detail goes to the log, not the client.
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}
