//! The OpenAPI description of scopegate's own public endpoints: authorization, token,
//! revocation, introspection, user info and metadata, and the compatibility routes.
//!
//! These operations only describe: the endpoints themselves are the poem handlers in
//! `web::{authorize, token, revoke, userinfo, metadata, compat}` (they predate the document and
//! share code with each other). These impls are fed to poem-openapi for their schemas and never
//! routed. [`COMPAT_FAMILIES`] says which paths each compatibility setting switches off, so the
//! served document lists only the routes that are on.

#![allow(missing_docs)]

use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Html, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme};

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
    /// Too many failed attempts for this client, user or address: retry after the delay.
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthErrorBody>,
        #[oai(header = "Retry-After")] Option<String>,
    ),
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
    /// Too many failed attempts for this client, user or address: retry after the delay.
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthErrorBody>,
        #[oai(header = "Retry-After")] Option<String>,
    ),
}

/// Documentation-only operations (see the module docs).
pub struct OAuthDocs;

/// Documentation-only operations of scopegate's own endpoints; [`OAuthDocs`] holds the rest.
pub struct OAuthDocsMore;

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

/// RFC 7009 revocation request.
#[derive(Object, Debug, serde::Deserialize)]
pub struct RevocationRequest {
    /// The token to revoke.
    pub token: String,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<String>,
    /// The client id (public clients, or client_secret_post; else use HTTP Basic).
    pub client_id: Option<String>,
    /// The client secret (client_secret_post; else use HTTP Basic).
    pub client_secret: Option<String>,
}

/// The consent page's form.
#[derive(Object, Debug, serde::Deserialize)]
pub struct ConsentDecision {
    /// The page's CSRF token.
    pub csrf_token: String,
    /// The pending request the page shows.
    pub nonce: String,
    /// `approve` or `deny`.
    pub decision: String,
}

/// An RFC 6750 Bearer token, for the user-info endpoints.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct BearerToken(pub poem_openapi::auth::Bearer);

#[derive(ApiResponse)]
pub enum RevocationAnswer {
    /// The token is revoked, or was not valid (RFC 7009 §2.2 answers 200 either way).
    #[oai(status = 200)]
    Ok,
    /// The request is malformed (`invalid_request`, `unsupported_token_type`).
    #[oai(status = 400)]
    BadRequest(Json<OAuthErrorBody>),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthErrorBody>),
    /// Too many failed attempts for this client, user or address: retry after the delay.
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthErrorBody>,
        #[oai(header = "Retry-After")] Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum UserInfoAnswer {
    /// The user's data, filtered by the token's scopes.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// The token was sent in more than one way (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthErrorBody>,
        #[oai(header = "WWW-Authenticate")] Option<String>,
    ),
    /// No token (a bare `Bearer` challenge), or an unknown, expired or revoked one
    /// (`invalid_token`).
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthErrorBody>,
        #[oai(header = "WWW-Authenticate")] Option<String>,
    ),
}

#[derive(ApiResponse)]
pub enum AuthorizeAnswer {
    /// The sign-in or consent page, or an error page (a bad `client_id` or `redirect_uri` is
    /// never redirected to).
    #[oai(status = 200)]
    Page(Html<String>),
    /// Sent to the client's redirect URI with `code` (or `error`), `state` and `iss`, or to
    /// the sign-in page.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
    /// As 302.
    #[oai(status = 303)]
    SeeOther(#[oai(header = "Location")] String),
    /// An error page for a request that cannot be redirected (the compatibility routes answer
    /// a malformed query, such as a repeated parameter, with RFC 6749 JSON instead).
    #[oai(status = 400)]
    BadRequest(Html<String>),
    /// The consent form was not this session's (a missing or wrong CSRF token).
    #[oai(status = 403)]
    Forbidden(Html<String>),
}

/// onesait's `check_token` answer: the token's data, or a 400 for a bad token.
#[derive(ApiResponse)]
pub enum CheckTokenAnswer {
    /// The token's data (Spring's shape: `active`, `client_id`, `scope`, `exp`, ...).
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// The token is unknown, expired or revoked (Spring answers 400 here).
    #[oai(status = 400)]
    BadRequest(Json<OAuthErrorBody>),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthErrorBody>),
}

/// onesait's revocation answer.
#[derive(ApiResponse)]
pub enum OnesaitRevokeAnswer {
    /// `{"revoked": true, "active": false}`.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// The request is malformed.
    #[oai(status = 400)]
    BadRequest(Json<OAuthErrorBody>),
    /// Client authentication failed (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthErrorBody>),
}

/// Omniport's user-data answer: Django REST framework's 401 for a bad token.
#[derive(ApiResponse)]
pub enum OmniportUserAnswer {
    /// The user's data, filtered by the token's scopes.
    #[oai(status = 200)]
    Ok(Json<serde_json::Value>),
    /// No valid token: `{"detail": "Authentication credentials were not provided."}`.
    #[oai(status = 401)]
    Unauthorized(Json<serde_json::Value>),
}

fn authorize_page() -> AuthorizeAnswer {
    AuthorizeAnswer::BadRequest(Html(String::new()))
}

#[allow(clippy::too_many_arguments)]
#[OpenApi]
impl OAuthDocsMore {
    /// Authorization endpoint (RFC 6749 §3.1), for a browser.
    ///
    /// Shows the sign-in and consent pages, then redirects to the client's registered
    /// `redirect_uri` with `code` (or `access_token` in the fragment, for `token`), `state` and
    /// `iss` (RFC 9207). Public clients must send a PKCE `code_challenge` (RFC 7636). With the
    /// `openid` scope and a `nonce`, the OpenID Connect response types carry an `id_token` in the
    /// fragment too (`id_token`, `id_token token`, `code id_token`, `code token`,
    /// `code id_token token`).
    #[oai(path = "/oauth/authorize", method = "get", tag = "DocTag::OAuth")]
    async fn authorize(
        &self,
        /// `code`; when the implicit grant is on, also `token` and the OpenID Connect implicit
        /// and hybrid types.
        response_type: Query<String>,
        /// The client's id.
        client_id: Query<String>,
        /// One of the client's registered redirect URIs (optional when it has one).
        redirect_uri: Query<Option<String>>,
        /// The requested scope, space-separated.
        scope: Query<Option<String>>,
        /// Echoed back to the client.
        state: Query<Option<String>>,
        /// PKCE challenge (RFC 7636 §4.2).
        code_challenge: Query<Option<String>>,
        /// `S256` or `plain`.
        code_challenge_method: Query<Option<String>>,
    ) -> AuthorizeAnswer {
        let _ = (
            response_type,
            client_id,
            redirect_uri,
            scope,
            state,
            code_challenge,
            code_challenge_method,
        );
        authorize_page()
    }

    /// The consent form's answer, posted by the consent page (not by clients).
    ///
    /// Carries the page's CSRF token and the user's decision; answers with the redirect to the
    /// client, or an error page.
    #[oai(path = "/oauth/authorize", method = "post", tag = "DocTag::OAuth")]
    async fn decide(&self, _body: Form<ConsentDecision>) -> AuthorizeAnswer {
        authorize_page()
    }

    /// Token revocation (RFC 7009).
    #[oai(path = "/oauth/revoke", method = "post", tag = "DocTag::OAuth")]
    async fn revoke(&self, _body: Form<RevocationRequest>) -> RevocationAnswer {
        RevocationAnswer::BadRequest(Json(undocumented()))
    }

    /// User info: the token's user, filtered by its scopes.
    ///
    /// The access token may come as `Authorization: Bearer`, form field or query parameter
    /// `access_token` (RFC 6750 §2).
    #[oai(path = "/oauth/userinfo", method = "get", tag = "DocTag::OAuth")]
    async fn userinfo(&self, _token: BearerToken) -> UserInfoAnswer {
        UserInfoAnswer::Unauthorized(Json(undocumented()), None)
    }

    /// User info, by POST (the token may ride in the form body).
    #[oai(path = "/oauth/userinfo", method = "post", tag = "DocTag::OAuth")]
    async fn userinfo_post(&self, _token: BearerToken) -> UserInfoAnswer {
        UserInfoAnswer::Unauthorized(Json(undocumented()), None)
    }
}

/// Documentation-only operations of the compatibility routes (see the module docs).
pub struct CompatDocs;

#[OpenApi]
impl CompatDocs {
    /// oauthost's authorization endpoint (as `/oauth/authorize`).
    #[oai(path = "/auth/", method = "get", tag = "DocTag::Compatibility")]
    async fn oauthost_authorize(
        &self,
        /// `code`, or `token` when the implicit grant is on.
        response_type: Query<String>,
        /// The client's id.
        client_id: Query<String>,
        /// One of the client's registered redirect URIs.
        redirect_uri: Query<Option<String>>,
        /// The requested scope, space-separated.
        scope: Query<Option<String>>,
        /// Echoed back to the client.
        state: Query<Option<String>>,
    ) -> AuthorizeAnswer {
        let _ = (response_type, client_id, redirect_uri, scope, state);
        authorize_page()
    }

    /// oauthost's token endpoint (as `/oauth/token`).
    #[oai(path = "/token/", method = "post", tag = "DocTag::Compatibility")]
    async fn oauthost_token(&self, _body: Form<TokenRequest>) -> TokenAnswer {
        TokenAnswer::BadRequest(Json(undocumented()))
    }

    /// Omniport's authorization endpoint (`response_type` defaults to `code`).
    #[oai(
        path = "/oauth/authorise/",
        method = "get",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_authorise(
        &self,
        /// The client's id.
        client_id: Query<String>,
        /// One of the client's registered redirect URIs.
        redirect_uri: Query<Option<String>>,
        /// The requested scope, space-separated.
        scope: Query<Option<String>>,
        /// Echoed back to the client.
        state: Query<Option<String>>,
    ) -> AuthorizeAnswer {
        let _ = (client_id, redirect_uri, scope, state);
        authorize_page()
    }

    /// Omniport's token endpoint (as `/oauth/token`).
    #[oai(
        path = "/open_auth/token/",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_token(&self, _body: Form<TokenRequest>) -> TokenAnswer {
        TokenAnswer::BadRequest(Json(undocumented()))
    }

    /// Omniport's revocation endpoint (RFC 7009, with `token_type_hint` required).
    #[oai(
        path = "/open_auth/revoke_token/",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_revoke(&self, _body: Form<RevocationRequest>) -> RevocationAnswer {
        RevocationAnswer::BadRequest(Json(undocumented()))
    }

    /// Omniport's user data.
    #[oai(
        path = "/open_auth/get_user_data/",
        method = "get",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_user_data(&self, _token: BearerToken) -> OmniportUserAnswer {
        OmniportUserAnswer::Unauthorized(Json(serde_json::Value::Null))
    }

    /// Omniport's user data, by POST.
    #[oai(
        path = "/open_auth/get_user_data/",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_user_data_post(&self, _token: BearerToken) -> OmniportUserAnswer {
        OmniportUserAnswer::Unauthorized(Json(serde_json::Value::Null))
    }

    /// The consent form's answer on oauthost's route (as `POST /oauth/authorize`).
    #[oai(path = "/auth/", method = "post", tag = "DocTag::Compatibility")]
    async fn oauthost_decide(&self, _body: Form<ConsentDecision>) -> AuthorizeAnswer {
        authorize_page()
    }

    /// The consent form's answer on Omniport's route (as `POST /oauth/authorize`).
    #[oai(
        path = "/oauth/authorise/",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn omniport_decide(&self, _body: Form<ConsentDecision>) -> AuthorizeAnswer {
        authorize_page()
    }

    /// onesait's token endpoint (as `/oauth/token`).
    #[oai(
        path = "/oauth-server/oauth/token",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn onesait_token(&self, _body: Form<TokenRequest>) -> TokenAnswer {
        TokenAnswer::BadRequest(Json(undocumented()))
    }

    /// onesait's (Spring's) `check_token`.
    #[oai(
        path = "/oauth-server/oauth/check_token",
        method = "get",
        tag = "DocTag::Compatibility"
    )]
    async fn onesait_check_token(
        &self,
        /// The token to check.
        token: Query<String>,
    ) -> CheckTokenAnswer {
        let _ = token;
        CheckTokenAnswer::BadRequest(Json(undocumented()))
    }

    /// onesait's (Spring's) `check_token`, by POST.
    #[oai(
        path = "/oauth-server/oauth/check_token",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn onesait_check_token_post(
        &self,
        /// The token to check.
        token: Query<String>,
    ) -> CheckTokenAnswer {
        let _ = token;
        CheckTokenAnswer::BadRequest(Json(undocumented()))
    }

    /// onesait's revocation endpoint (`?token=...` with HTTP Basic).
    #[oai(
        path = "/oauth-server/openplatform-oauth/revoke_token",
        method = "post",
        tag = "DocTag::Compatibility"
    )]
    async fn onesait_revoke(
        &self,
        /// The token to revoke.
        token: Query<String>,
    ) -> OnesaitRevokeAnswer {
        let _ = token;
        OnesaitRevokeAnswer::BadRequest(Json(undocumented()))
    }
}

/// A compatibility setting.
pub type CompatSwitch = fn(&crate::settings::Settings) -> bool;

/// Which paths of the document each compatibility setting serves.
pub const COMPAT_FAMILIES: &[(CompatSwitch, &[&str])] = &[
    (|s| s.compat_oauthost, &["/auth/", "/token/"]),
    (
        |s| s.compat_omniport,
        &[
            "/oauth/authorise/",
            "/open_auth/token/",
            "/open_auth/revoke_token/",
            "/open_auth/get_user_data/",
        ],
    ),
    (
        |s| s.compat_onesait,
        &[
            "/oauth-server/oauth/token",
            "/oauth-server/oauth/check_token",
            "/oauth-server/openplatform-oauth/revoke_token",
        ],
    ),
];

/// Tags of the documented operations./// Tags of the documented operations.
#[derive(poem_openapi::Tags)]
pub enum DocTag {
    /// scopegate's OAuth 2 endpoints.
    OAuth,
    /// The routes of the providers scopegate replaces (oauthost, Omniport, onesait), each
    /// family switched by a setting; see docs/compatibility.md.
    Compatibility,
}
