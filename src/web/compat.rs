//! Compatibility routes: the paths, parameter spellings and response shapes of the providers
//! scopegate replaces (oauthost, Omniport, onesait Platform), so their documented clients work
//! unchanged. Each family can be switched off in the settings. `docs/compatibility.md` lists
//! every difference from the standard endpoints.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, Route, handler};
use serde_json::{Value, json};

use super::error::{CompatError, no_store_json};
use super::extract::{OAuthRequest, QueryAndForm};
use super::methods::{get, post};
use super::request::query_params;
use super::state::State;
use super::{authorize, revoke, token, userinfo};
use crate::core::error::{ErrorCode, OAuthError};
use crate::core::model::{TokenKind, User};
use crate::settings::Settings;

/// Adds the compatibility routes the settings switch on.
pub fn routes(mut route: Route, settings: &Settings) -> Route {
    if settings.compat_oauthost {
        route = route
            .at("/auth/", get(oauthost_authorize).post(authorize::decide))
            .at("/token/", post(token::token));
    }
    if settings.compat_omniport {
        route = route
            .at(
                "/oauth/authorise/",
                get(omniport_authorise).post(authorize::decide),
            )
            .at(
                "/oauth/authorise",
                get(omniport_authorise).post(authorize::decide),
            )
            .at("/open_auth/token/", post(token::token))
            .at("/open_auth/revoke_token/", post(revoke::omniport_revoke))
            .at(
                "/open_auth/get_user_data/",
                get(userinfo::omniport_user_data).post(userinfo::omniport_user_data),
            );
    }
    if settings.compat_onesait {
        route = route
            .at("/oauth-server/oauth/token", post(onesait_token))
            .at(
                "/oauth-server/oauth/check_token",
                get(onesait_check_token).post(onesait_check_token),
            )
            .at(
                "/oauth-server/openplatform-oauth/revoke_token",
                post(revoke::onesait_revoke),
            );
    }
    route
}

/// oauthost's `GET /auth/`: the standard authorization request, except that a public client an
/// administrator registered with `allow_public_without_pkce` may leave out PKCE, which oauthost
/// never had (its quick start, section 4.1.1, names the client by `client_id` alone). Every
/// other public client needs PKCE here too.
#[handler]
pub async fn oauthost_authorize(
    req: &Request,
    Data(state): Data<&State>,
) -> poem::Result<Response> {
    let params = query_params(req)?;
    authorize::show_params(req, state, &params, false).await
}

/// Omniport's `GET /oauth/authorise/`: its documented URL carries no `response_type`, which
/// therefore defaults to `code`.
#[handler]
pub async fn omniport_authorise(
    req: &Request,
    Data(state): Data<&State>,
) -> poem::Result<Response> {
    let params = query_params(req)?.with_default("response_type", "code");
    authorize::show_params(req, state, &params, true).await
}

/// Spring Security's role names for a user: `ROLE_USER`, plus `ROLE_ADMIN` for superusers; a
/// client's own token has `ROLE_CLIENT`.
pub fn authorities(user: Option<&User>) -> Vec<&'static str> {
    match user {
        Some(u) if u.is_superuser => vec!["ROLE_ADMIN", "ROLE_USER"],
        Some(_) => vec!["ROLE_USER"],
        None => vec!["ROLE_CLIENT"],
    }
}

/// onesait's `POST /oauth-server/oauth/token`: the standard token endpoint, reading `clientId`
/// as `client_id`, with the user's `authorities` added to the response.
#[handler]
pub async fn onesait_token(
    oauth: OAuthRequest,
    Data(state): Data<&State>,
) -> Result<Response, OAuthError> {
    let oauth = oauth.with_alias("clientId", "client_id")?;
    let issued = token::issue(state, &oauth).await?;
    let user = issued.user(state.store.as_ref()).await.map_err(|e| {
        tracing::error!(error = %e, "user lookup failed after issuing");
        OAuthError::server_error()
    })?;
    let mut body = serde_json::to_value(&issued.tokens).map_err(|_| OAuthError::server_error())?;
    if let Value::Object(map) = &mut body {
        map.insert("authorities".into(), json!(authorities(user.as_ref())));
    }
    Ok(no_store_json(&body))
}

/// onesait's `/oauth-server/oauth/check_token` (Spring's `CheckTokenEndpoint`): `token` in the
/// query or the form, Basic auth of an approved confidential client, which sees the tokens
/// introspection lets it see. Any other token gets Spring's 400 `invalid_token`.
#[handler]
pub async fn onesait_check_token(
    QueryAndForm(oauth): QueryAndForm,
    Data(state): Data<&State>,
) -> poem::Result<Response> {
    let (client, found) = token::inspect(state, &oauth).await?;
    let Some(active) = found.filter(|a| a.token.kind == TokenKind::Access) else {
        tracing::info!(client = ?client.client_id, "check_token: token not active");
        return Err(CompatError {
            error: OAuthError::new(ErrorCode::InvalidToken, "Token was not recognised"),
            status: StatusCode::BAD_REQUEST,
        }
        .into());
    };
    let scope: Vec<&str> = active.token.scope.iter().collect();
    let mut body = json!({
        "active": true,
        "exp": active.token.expires_at,
        "client_id": active.client.client_id,
        "scope": scope,
        "aud": [active.client.client_id],
        "authorities": authorities(active.user.as_deref()),
    });
    if let (Some(user), Value::Object(map)) = (&active.user, &mut body)
        && !active.client.pairwise()
    {
        map.insert("user_name".into(), json!(user.username));
    }
    Ok(no_store_json(&body))
}
