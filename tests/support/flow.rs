//! Protocol steps a test takes without a browser: exchanging a code, issuing a token straight
//! into the store, introspecting.

use scopegate::core::model::{GrantType, User};
use scopegate::core::scope::ScopeSet;
use scopegate::core::secret::{generate_token, hash_secret};

use super::server::{TestClient, TestServer, http};

/// Exchanges an authorization code with client_secret_post; returns the token response JSON.
pub async fn exchange_code(
    server: &TestServer,
    client_id: &str,
    secret: &str,
    redirect_uri: &str,
    code: &str,
) -> serde_json::Value {
    let resp = http()
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "token exchange should succeed");
    resp.json().await.unwrap()
}

/// Asks `/oauth/introspect` whether `token` is active.
pub async fn is_active(server: &TestServer, client_id: &str, secret: &str, token: &str) -> bool {
    introspect_as(server, client_id, Some(secret), token).await["active"]
        .as_bool()
        .unwrap()
}

/// An access token issued straight into the store (no HTTP flow), valid for `lifetime` seconds
/// (negative: already expired). Returns the plain token and its grant id.
pub async fn issue_access_token(
    server: &TestServer,
    client: &TestClient,
    user: Option<&User>,
    scope: &str,
    lifetime: i64,
) -> (String, String) {
    use scopegate::core::model::{NewToken, TokenKind};
    let token = generate_token();
    let grant_id = generate_token();
    let now = scopegate::core::now();
    server
        .store()
        .issue_tokens(
            NewToken {
                token_hash: hash_secret(&token),
                kind: TokenKind::Access,
                client_id: client.client.id,
                user_id: user.map(|u| u.id),
                scope: scope.parse::<ScopeSet>().unwrap(),
                grant_id: grant_id.clone(),
                created_at: now,
                expires_at: now + lifetime,
                auth_time: None,
                resource: None,
            },
            None,
            if user.is_some() {
                GrantType::Password
            } else {
                GrantType::ClientCredentials
            },
        )
        .await
        .unwrap();
    (token, grant_id)
}

/// Introspects `token` as the client (Basic auth); the JSON answer.
pub async fn introspect(
    server: &TestServer,
    client: &TestClient,
    token: &str,
) -> serde_json::Value {
    introspect_as(server, &client.client_id, client.secret.as_deref(), token).await
}

/// Introspects `token` with these client credentials (Basic auth); the JSON answer.
pub async fn introspect_as(
    server: &TestServer,
    client_id: &str,
    secret: Option<&str>,
    token: &str,
) -> serde_json::Value {
    let resp = http()
        .post(server.url("/oauth/introspect"))
        .basic_auth(client_id, secret)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "introspection should answer");
    resp.json().await.unwrap()
}
