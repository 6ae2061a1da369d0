//! The OpenAPI description of scopegate's own token, introspection and metadata endpoints.
//!
//! These operations only describe: the endpoints themselves are the poem handlers in
//! `web::token` and `web::metadata` (they predate the document and share code with the
//! compatibility routes). This impl is fed to poem-openapi for its schemas and never routed.

#![allow(missing_docs)]

use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};

/// RFC 6749 §4.1.3 / §6 / §4.4 token request; which fields apply depends on `grant_type`.
#[derive(Object, Debug, serde::Deserialize)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `password` or `client_credentials`.
    pub grant_type: String,
    /// The authorization code (authorization_code).
    pub code: Option<String>,
    /// The redirect URI used at the authorization endpoint (authorization_code).
    pub redirect_uri: Option<String>,
    /// The PKCE code verifier (authorization_code with PKCE).
    pub code_verifier: Option<String>,
    /// The refresh token (refresh_token).
    pub refresh_token: Option<String>,
    /// The requested scope, space-separated.
    pub scope: Option<String>,
    /// The client id (public clients, or client_secret_post).
    pub client_id: Option<String>,
    /// The client secret (client_secret_post; else use HTTP Basic).
    pub client_secret: Option<String>,
}

/// RFC 6749 §5.1 successful token response.
#[derive(Object, Debug)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: String,
    /// The granted scope, space-separated.
    pub scope: String,
    /// A refresh token, for grants that have one.
    pub refresh_token: Option<String>,
}

/// RFC 6749 §5.2 / RFC 6750 §3 error body.
#[derive(Object, Debug)]
pub struct OAuthErrorBody {
    /// The error code, e.g. `invalid_grant`.
    pub error: String,
    /// What was wrong, for the developer.
    pub error_description: Option<String>,
    /// For `insufficient_scope`: the scope the resource needs.
    pub scope: Option<String>,
}

/// RFC 7662 introspection request.
#[derive(Object, Debug, serde::Deserialize)]
pub struct IntrospectionRequest {
    /// The token to inspect.
    pub token: String,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<String>,
    /// The client id (client_secret_post; else use HTTP Basic).
    pub client_id: Option<String>,
    /// The client secret (client_secret_post; else use HTTP Basic).
    pub client_secret: Option<String>,
}

/// RFC 7662 introspection response; an inactive token is just `{"active": false}`.
#[derive(Object, Debug)]
pub struct IntrospectionResponse {
    /// Whether the token is active.
    pub active: bool,
    /// The token's scope.
    pub scope: Option<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// The resource owner's username.
    pub username: Option<String>,
    /// `Bearer` or `refresh_token`.
    pub token_type: Option<String>,
    /// Expiry, Unix seconds.
    pub exp: Option<i64>,
    /// Issue time, Unix seconds.
    pub iat: Option<i64>,
}

/// RFC 8414 authorization server metadata.
#[derive(Object, Debug)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub introspection_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Option<Vec<String>>,
    pub grant_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub code_challenge_methods_supported: Vec<String>,
}

#[derive(ApiResponse)]
pub enum TokenAnswer {
    /// Tokens issued.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
    /// The request or grant is invalid (`invalid_request`, `invalid_grant`, ...).
    #[oai(status = 400)]
    BadRequest(Json<OAuthErrorBody>),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthErrorBody>),
}

#[derive(ApiResponse)]
pub enum IntrospectionAnswer {
    /// The token's state.
    #[oai(status = 200)]
    Ok(Json<IntrospectionResponse>),
    /// The request is malformed.
    #[oai(status = 400)]
    BadRequest(Json<OAuthErrorBody>),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthErrorBody>),
}

/// Documentation-only operations (see the module docs).
pub struct OAuthDocs;

fn undocumented() -> OAuthErrorBody {
    OAuthErrorBody {
        error: "server_error".into(),
        error_description: Some("documentation-only operation".into()),
        scope: None,
    }
}

#[OpenApi]
impl OAuthDocs {
    /// Token endpoint (RFC 6749 §3.2).
    ///
    /// Client authentication by HTTP Basic or `client_secret_post`; public clients send
    /// `client_id` and a PKCE `code_verifier`.
    #[oai(path = "/oauth/token", method = "post", tag = "DocTag::OAuth")]
    async fn token(&self, _body: Form<TokenRequest>) -> TokenAnswer {
        TokenAnswer::BadRequest(Json(undocumented()))
    }

    /// Token introspection (RFC 7662), for confidential clients.
    #[oai(path = "/oauth/introspect", method = "post", tag = "DocTag::OAuth")]
    async fn introspect(&self, _body: Form<IntrospectionRequest>) -> IntrospectionAnswer {
        IntrospectionAnswer::BadRequest(Json(undocumented()))
    }

    /// Authorization server metadata (RFC 8414).
    #[oai(
        path = "/.well-known/oauth-authorization-server",
        method = "get",
        tag = "DocTag::OAuth"
    )]
    async fn metadata(&self) -> Json<ServerMetadata> {
        Json(ServerMetadata {
            issuer: String::new(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            introspection_endpoint: None,
            scopes_supported: Vec::new(),
            response_types_supported: Vec::new(),
            response_modes_supported: None,
            grant_types_supported: Vec::new(),
            token_endpoint_auth_methods_supported: Vec::new(),
            introspection_endpoint_auth_methods_supported: None,
            code_challenge_methods_supported: Vec::new(),
        })
    }
}

/// Tags of the documented operations.
#[derive(poem_openapi::Tags)]
pub enum DocTag {
    /// scopegate's OAuth 2 endpoints.
    OAuth,
}
