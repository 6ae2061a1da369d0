//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use crate::core::model::{ResponseType, SubjectType};
use crate::core::oidc::keys::Algorithm;
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

/// Where this server's own RFC 9728 metadata is served (`issuer` is its resource identifier).
pub fn protected_resource_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/oauth-protected-resource")
}

/// `GET /.well-known/oauth-protected-resource` (RFC 9728): the host's guarded handlers here,
/// as a resource this server is the authorization server of.
#[handler]
pub fn protected_resource(req: &Request, Data(state): Data<&State>) -> Response {
    let base = issuer(state, req);
    Json(crate::resource_server::metadata_document(&base, &base)).into_response()
}

/// `GET /.well-known/oauth-authorization-server`: every endpoint, grant, auth method, scope
/// and PKCE method served.
#[handler]
pub async fn metadata(req: &Request, Data(state): Data<&State>) -> Response {
    Json(document(state, req).await).into_response()
}

/// The RFC 8414 document, which the OpenID Connect one extends, so the two always agree.
async fn document(state: &State, req: &Request) -> serde_json::Value {
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
    let mut doc = json!({
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
        "authorization_response_iss_parameter_supported": true,
    });
    if let (true, Some(map)) = (state.keyring.enabled(), doc.as_object_mut()) {
        map.insert(
            "jwks_uri".into(),
            json!(format!("{base}/.well-known/jwks.json")),
        );
    }
    doc
}

/// The signing keys of the moment, or `None` when OpenID Connect is off or the keys cannot be
/// read (logged; an `openid` code exchange then answers `server_error`, other grants go on).
pub async fn signing_keys(
    state: &State,
    now: i64,
) -> Option<std::sync::Arc<crate::core::oidc::keys::KeySet>> {
    if !state.keyring.enabled() {
        return None;
    }
    match state.keyring.keys(state.store.as_ref(), now).await {
        Ok(keys) => Some(keys),
        Err(e) => {
            tracing::error!(error = %e, "signing keys unavailable");
            None
        }
    }
}

/// The keys to check the `id_token_hint` of `params` with, loaded only when it has one.
pub async fn hint_keys(
    state: &State,
    params: &crate::core::params::Params,
    now: i64,
) -> Option<std::sync::Arc<crate::core::oidc::keys::KeySet>> {
    match params.get("id_token_hint") {
        Some(_) => signing_keys(state, now).await,
        None => None,
    }
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4): the RFC 8414
/// document plus what OpenID Connect adds. 404 when OpenID Connect is off (no
/// `key_encryption_key`).
#[handler]
pub async fn openid_configuration(req: &Request, Data(state): Data<&State>) -> Response {
    if !state.keyring.enabled() {
        return poem::http::StatusCode::NOT_FOUND.into_response();
    }
    let mut doc = document(state, req).await;
    if let Some(map) = doc.as_object_mut() {
        // Discovery §3: these three are required. The implicit and hybrid response types come
        // with the implicit-grant switch, as `token` does in the RFC 8414 document.
        let response_types: Vec<&str> = ResponseType::ALL
            .iter()
            .filter(|t| state.settings.implicit_grant || **t == ResponseType::Code)
            .map(|t| t.as_str())
            .collect();
        map.insert("response_types_supported".into(), json!(response_types));
        map.insert(
            "subject_types_supported".into(),
            json!([SubjectType::Public.as_str(), SubjectType::Pairwise.as_str()]),
        );
        // Discovery §3: `request_uri_parameter_supported` defaults to true, so both are said.
        map.insert("request_parameter_supported".into(), json!(false));
        map.insert("request_uri_parameter_supported".into(), json!(false));
        // RP-Initiated Logout 1.0 §2.1.
        let base = issuer(state, req);
        map.insert(
            "end_session_endpoint".into(),
            json!(format!("{base}/oauth/logout")),
        );
        // The key set holds a key of each, and each client picks one.
        let algs: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        map.insert("id_token_signing_alg_values_supported".into(), json!(algs));
        map.insert(
            "claims_supported".into(),
            json!([
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "c_hash"
            ]),
        );
    }
    Json(doc).into_response()
}

/// `GET /.well-known/jwks.json`: the published signing keys (RFC 7517 §5), the same on every
/// instance. Cacheable for less than a rotation's lead, so relying parties see a new key before
/// it signs.
#[handler]
pub async fn jwks(Data(state): Data<&State>) -> Response {
    if !state.keyring.enabled() {
        return poem::http::StatusCode::NOT_FOUND.into_response();
    }
    match signing_keys(state, crate::core::now()).await {
        Some(keys) => Json(keys.jwks().clone())
            .with_header("cache-control", "public, max-age=300")
            .into_response(),
        None => super::error::oauth_error(&crate::core::error::OAuthError::busy(
            "the signing keys cannot be read; try again shortly",
            5,
        )),
    }
}
