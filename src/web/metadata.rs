//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use poem::web::{Data, Json};
use poem::{IntoResponse, Request, Response, handler};
use serde_json::json;

use super::State;
use crate::core::model::GrantType;

/// The issuer: the `issuer` setting, else the request's own scheme and host.
pub fn issuer(state: &State, req: &Request) -> String {
    if let Some(issuer) = &state.settings.issuer {
        return issuer.trim_end_matches('/').to_owned();
    }
    let scheme = if super::middleware::is_secure(req, &state.settings) {
        "https"
    } else {
        "http"
    };
    let host = req.header("host").unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The metadata document: every endpoint, grant, auth method, scope and PKCE method served.
#[handler]
pub async fn metadata(req: &Request, Data(state): Data<&State>) -> Response {
    let base = issuer(state, req);
    let scopes: Vec<String> = match state.store.list_scopes().await {
        Ok(s) => s.into_iter().map(|s| s.name).collect(),
        Err(e) => {
            tracing::error!(error = %e, "scope listing failed");
            Vec::new()
        }
    };
    let grants: Vec<&str> = [GrantType::AuthorizationCode, GrantType::RefreshToken]
        .iter()
        .map(|g| g.as_str())
        .collect();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256", "plain"],
    }))
    .into_response()
}
