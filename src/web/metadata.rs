//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use poem::web::{Data, Json};
use poem::{IntoResponse, Request, Response, handler};
use serde_json::json;

use super::state::State;
use crate::core::model::GrantType;

/// The issuer: the `issuer` setting, else (development only: `serve` refuses to start without
/// it unless `debug`) the address this connection was accepted on. Never a request header:
/// whoever sends `Host` would otherwise choose the endpoints this server publishes.
pub fn issuer(state: &State, req: &Request) -> String {
    if let Some(issuer) = &state.settings.issuer {
        return issuer.trim_end_matches('/').to_owned();
    }
    local_base(req).unwrap_or_else(|| "http://localhost".to_owned())
}

/// `scheme://address` of the socket this request arrived on: a fact of the connection, which no
/// header can change.
pub fn local_base(req: &Request) -> Option<String> {
    let addr = req.local_addr().as_socket_addr().copied()?;
    let scheme = if req.scheme() == &poem::http::uri::Scheme::HTTPS {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{addr}"))
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
    let implicit = state.settings.implicit_grant;
    let grants: Vec<&str> = GrantType::ALL
        .iter()
        .filter(|g| implicit || **g != GrantType::Implicit)
        .map(|g| g.as_str())
        .collect();
    let (response_types, response_modes) = if implicit {
        (vec!["code", "token"], vec!["query", "fragment"])
    } else {
        (vec!["code"], vec!["query"])
    };
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "scopes_supported": scopes,
        "response_types_supported": response_types,
        "response_modes_supported": response_modes,
        "grant_types_supported": grants,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256", "plain"],
    }))
    .into_response()
}
