//! Per-client permissions and the rules that follow from a client's registration:
//! - who may introspect and revoke which token (RFC 7662 §4, RFC 7009 §2.1), on the standard
//!   endpoints and the compatibility routes;
//! - refresh tokens only for clients holding the `refresh_token` grant;
//! - PKCE opt-out for legacy public clients on oauthost's `/auth/` only;
//! - lifetimes bounded at every input, and an out-of-bounds stored value never overflows.

use scopegate::core::model::{Approval, ClientPermissions, GrantType};
use serde_json::Value;

use crate::both_backends;
use crate::support::{
    Browser, ClientSpec, TestClient, TestServer, edited, exchange_code, http, is_active, query_of,
};

/// A confidential client allowed the password grant (and refresh tokens), in the given state.
fn app(approval: Approval, permissions: ClientPermissions) -> ClientSpec {
    ClientSpec {
        grants: vec![GrantType::Password, GrantType::RefreshToken],
        approval,
        permissions,
        ..ClientSpec::default()
    }
}

fn resource_server() -> ClientPermissions {
    ClientPermissions {
        resource_server: true,
        ..ClientPermissions::default()
    }
}

/// Alice's access and refresh token, issued to `owner` by the password grant.
async fn alices_tokens(server: &TestServer, owner: &TestClient) -> (String, String) {
    let body: Value = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&owner.client_id, owner.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Status, `WWW-Authenticate` and JSON body of a form POST with the client's Basic credentials.
async fn post_as(
    server: &TestServer,
    path: &str,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let resp = http()
        .post(server.url(path))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    (
        status,
        challenge,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// onesait's check_token, with the token in the query as its documentation shows.
async fn check_token(server: &TestServer, client: &TestClient, token: &str) -> (u16, Value) {
    let resp = http()
        .post(server.url("/oauth-server/oauth/check_token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .query(&[("token", token)])
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

both_backends! {
    async fn introspection_is_for_approved_clients_and_their_own_tokens(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let owner = server.client(app(Approval::Approved, ClientPermissions::default())).await;
        let pending = server.client(app(Approval::Pending, ClientPermissions::default())).await;
        let rejected = server.client(app(Approval::Rejected("no".into()), ClientPermissions::default())).await;
        let other = server.client(app(Approval::Approved, ClientPermissions::default())).await;
        let rs = server.client(app(Approval::Approved, resource_server())).await;
        let pending_rs = server.client(app(Approval::Pending, resource_server())).await;
        let (access, refresh) = alices_tokens(&server, &owner).await;

        // An unapproved client learns nothing, whatever it asks about: 401 invalid_client.
        for asker in [&pending, &rejected, &pending_rs] {
            for token in [access.as_str(), "no-such-token"] {
                let (status, challenge, body) = post_as(&server, "/oauth/introspect", asker, &[("token", token)]).await;
                assert_eq!(status, 401, "{body}");
                assert_eq!(body["error"], "invalid_client");
                assert!(body.get("username").is_none() && body.get("active").is_none(), "{body}");
                assert!(challenge.is_some_and(|c| c.starts_with("Basic")));
            }
        }
        // An approved client that is not a resource server sees only its own tokens.
        for token in [&access, &refresh] {
            let (status, _, body) = post_as(&server, "/oauth/introspect", &other, &[("token", token)]).await;
            assert_eq!((status, body), (200, serde_json::json!({"active": false})));
        }
        // A resource server sees any token.
        let (status, _, body) = post_as(&server, "/oauth/introspect", &rs, &[("token", &access)]).await;
        assert_eq!(status, 200);
        assert_eq!(body["active"], true);
        assert_eq!(body["username"], "alice");
        assert_eq!(body["client_id"], owner.client_id.as_str());
        // And the token's own client sees it.
        let (status, _, body) = post_as(&server, "/oauth/introspect", &owner, &[("token", &access)]).await;
        assert_eq!((status, body["active"].as_bool()), (200, Some(true)));
        assert_eq!(body["username"], "alice");

        // onesait's check_token keeps the same rule, in Spring's shapes.
        let (status, body) = check_token(&server, &pending, &access).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
        let (status, body) = check_token(&server, &other, &access).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_token")), "{body}");
        assert!(body.get("user_name").is_none());
        let (status, body) = check_token(&server, &rs, &access).await;
        assert_eq!((status, body["user_name"].as_str()), (200, Some("alice")), "{body}");
        let (status, body) = check_token(&server, &owner, &access).await;
        assert_eq!((status, body["active"].as_bool()), (200, Some(true)), "{body}");
        server.stop().await;
    }

    async fn revocation_follows_the_introspection_rule(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let owner = server.client(app(Approval::Approved, ClientPermissions::default())).await;
        let pending = server.client(app(Approval::Pending, ClientPermissions::default())).await;
        let pending_rs = server.client(app(Approval::Pending, resource_server())).await;
        let other = server.client(app(Approval::Approved, ClientPermissions::default())).await;
        let rs = server.client(app(Approval::Approved, resource_server())).await;
        let secret = owner.secret.clone().unwrap();
        let still_active = |token: String| {
            let (server, owner, secret) = (&server, &owner, secret.clone());
            async move { is_active(server, &owner.client_id, &secret, &token).await }
        };
        let (access, refresh) = alices_tokens(&server, &owner).await;

        // Unapproved: 401 on every revocation route, and the token stays active.
        for asker in [&pending, &pending_rs] {
            for path in ["/oauth/revoke", "/open_auth/revoke_token/", "/oauth-server/openplatform-oauth/revoke_token"] {
                let (status, _, body) = post_as(&server, path, asker, &[("token", &access), ("token_type_hint", "access_token")]).await;
                assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{path}: {body}");
            }
        }
        assert!(still_active(access.clone()).await);
        // Another approved client: 200 as for an unknown token (RFC 7009 §2.2), and nothing changes.
        for path in ["/oauth/revoke", "/open_auth/revoke_token/", "/oauth-server/openplatform-oauth/revoke_token"] {
            for (token, hint) in [(&access, "access_token"), (&refresh, "refresh_token")] {
                let (status, _, body) = post_as(&server, path, &other, &[("token", token), ("token_type_hint", hint)]).await;
                assert_eq!(status, 200, "{path}: {body}");
            }
        }
        assert!(still_active(access.clone()).await, "another client must not revoke it");
        assert!(still_active(refresh.clone()).await, "another client must not revoke it");
        // A resource server may revoke it.
        let (status, _, _) = post_as(&server, "/oauth/revoke", &rs, &[("token", &access)]).await;
        assert_eq!(status, 200);
        assert!(!still_active(access.clone()).await, "the resource server revoked it");
        // And the owner its own (the refresh token takes its family).
        let (status, _, _) = post_as(&server, "/oauth/revoke", &owner, &[("token", &refresh)]).await;
        assert_eq!(status, 200);
        assert!(!still_active(refresh.clone()).await);

        // A public client is only named, never proven: it cannot act as a resource server
        // even when the flag got into its row (no path writes one: it is made here by hand).
        let public_rs = server.client(ClientSpec { permissions: resource_server(), ..ClientSpec::default() }).await;
        server.db.exec_sql(&format!(
            "UPDATE clients SET client_type = 'public', secret_hash = NULL WHERE id = {}",
            public_rs.client.id
        ));
        let (access, _) = alices_tokens(&server, &owner).await;
        let resp = http().post(server.url("/oauth/revoke"))
            .form(&[("token", access.as_str()), ("client_id", public_rs.client_id.as_str())])
            .send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(still_active(access.clone()).await, "a public client revoked another client's token");
        server.stop().await;
    }

    async fn refresh_tokens_only_for_clients_with_the_refresh_grant(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let password_only = server.client(ClientSpec { grants: vec![GrantType::Password], ..ClientSpec::default() }).await;
        let (status, _, body) = post_as(&server, "/oauth/token", &password_only,
            &[("grant_type", "password"), ("username", "alice"), ("password", "pw")]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none(), "no refresh token without the grant: {body}");
        // The onesait spelling of the same grant.
        let (status, _, body) = post_as(&server, "/oauth-server/oauth/token", &password_only,
            &[("grant_type", "password"), ("username", "alice"), ("password", "pw")]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");

        // The code grant, without and with refresh_token.
        let browser = Browser::new(&server);
        browser.login("alice", "pw").await;
        for (grants, refresh_expected) in [
            (vec![GrantType::AuthorizationCode], false),
            (vec![GrantType::AuthorizationCode, GrantType::RefreshToken], true),
        ] {
            let c = server.client(ClientSpec { grants, ..ClientSpec::default() }).await;
            let location = browser.authorize(&format!("/oauth/authorize?response_type=code&client_id={}", c.client_id), "approve").await;
            let body = exchange_code(&server, &c.client_id, c.secret.as_deref().unwrap(), &c.redirect_uri, &query_of(&location)["code"]).await;
            assert_eq!(body.get("refresh_token").is_some(), refresh_expected, "{body}");
        }

        // A client that loses the grant can no longer spend the refresh tokens it holds.
        let app = server.client(ClientSpec { grants: vec![GrantType::Password, GrantType::RefreshToken], ..ClientSpec::default() }).await;
        let (_, refresh) = alices_tokens(&server, &app).await;
        let changed = edited(&app.client, |d| d.grant_types = vec!["password".into()]);
        server.store().update_client(app.client.id, &changed).await.unwrap();
        for path in ["/oauth/token", "/oauth-server/oauth/token", "/open_auth/token/"] {
            let (status, _, body) = post_as(&server, path, &app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{path}: {body}");
        }
        // Refused before the token was looked at: it is not spent, and works once the grant is back.
        server.store().update_client(app.client.id, &edited(&app.client, |_| {})).await.unwrap();
        let (status, _, body) = post_as(&server, "/oauth/token", &app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["refresh_token"].is_string());
        server.stop().await;
    }

    async fn public_clients_skip_pkce_only_when_allowed_and_only_on_auth(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let browser = Browser::new(&server);
        browser.login("alice", "pw").await;
        let strict = server.client(ClientSpec::public()).await;
        let legacy = server.client(ClientSpec {
            permissions: ClientPermissions { allow_public_without_pkce: true, ..ClientPermissions::default() },
            ..ClientSpec::public()
        }).await;
        let error_of = |resp: reqwest::Response| {
            assert_eq!(resp.status(), 302);
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            query_of(&location).get("error").cloned()
        };
        // Without the permission, /auth/ needs PKCE like /oauth/authorize.
        for path in ["/auth/", "/oauth/authorize"] {
            let resp = browser.get(&format!("{path}?client_id={}&response_type=code", strict.client_id)).await;
            assert_eq!(error_of(resp).as_deref(), Some("invalid_request"), "{path}");
        }
        // With it, /auth/ shows the consent page and the code is redeemed without a verifier...
        let location = browser.authorize(&format!("/auth/?client_id={}&response_type=code", legacy.client_id), "approve").await;
        let resp = http().post(server.url("/token/")).form(&[
            ("grant_type", "authorization_code"),
            ("code", query_of(&location)["code"].as_str()),
            ("client_id", legacy.client_id.as_str()),
        ]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // ...but the standard route still requires PKCE from it.
        let resp = browser.get(&format!("/oauth/authorize?client_id={}&response_type=code", legacy.client_id)).await;
        assert_eq!(error_of(resp).as_deref(), Some("invalid_request"));
        // A PKCE request from either works on both routes.
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        for c in [&strict, &legacy] {
            for path in ["/auth/", "/oauth/authorize"] {
                let resp = browser.get(&format!("{path}?client_id={}&response_type=code&code_challenge={challenge}&code_challenge_method=S256", c.client_id)).await;
                assert_eq!(resp.status(), 200, "{path}");
            }
        }
        server.stop().await;
    }

    async fn a_stored_lifetime_out_of_bounds_never_overflows(db: Backend) {
        // Rows written before lifetimes were bounded (or by hand) are clamped when used.
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let c = server.client(ClientSpec::default()).await;
        server.db.exec_sql(&format!(
            "UPDATE clients SET code_lifetime = {max}, access_token_lifetime = {max}, \
             refresh_token_lifetime = {max} WHERE id = {}",
            c.client.id,
            max = i64::MAX
        ));
        let browser = Browser::new(&server);
        browser.login("alice", "pw").await;
        let location = browser.authorize(&format!("/oauth/authorize?response_type=code&client_id={}", c.client_id), "approve").await;
        let code = query_of(&location)["code"].clone();
        let stored = server.store().code_by_hash(&scopegate::core::secret::hash_secret(&code)).await.unwrap().unwrap();
        assert!(stored.expires_at - scopegate::core::now() <= 3600, "the code lives at most an hour");
        let body = exchange_code(&server, &c.client_id, c.secret.as_deref().unwrap(), &c.redirect_uri, &code).await;
        assert_eq!(body["expires_in"], 365 * 24 * 3600, "{body}");
        server.stop().await;
    }
}
