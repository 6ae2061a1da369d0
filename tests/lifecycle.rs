//! Revocation (RFC 7009), introspection (RFC 7662) and their behaviour under concurrency.

use std::collections::HashSet;

use poem::Route;
use scopegate::core::model::GrantType;
use serde_json::Value;

use crate::both_backends;
use crate::support::{ClientSpec, TestClient, TestServer, http, introspect};

pub async fn password_tokens(server: &TestServer, app: &TestClient, user: &str, pw: &str) -> Value {
    let resp = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

pub fn password_client() -> ClientSpec {
    ClientSpec {
        grants: vec![GrantType::Password, GrantType::RefreshToken],
        ..ClientSpec::default()
    }
}

async fn revoke(server: &TestServer, app: &TestClient, form: &[(&str, &str)]) -> (u16, String) {
    let resp = http()
        .post(server.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub async fn active(server: &TestServer, app: &TestClient, token: &str) -> bool {
    introspect(server, app, token).await["active"]
        .as_bool()
        .unwrap()
}

async fn refresh(base: String, app: TestClient, token: String) -> Option<Value> {
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => Some(resp.json().await.unwrap()),
        400 => None,
        other => panic!("refresh answered {other}"),
    }
}

both_backends! {
    async fn revoking_an_access_token_leaves_the_refresh_token(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let access = t["access_token"].as_str().unwrap();
        let refresh_token = t["refresh_token"].as_str().unwrap();
        let (status, body) = revoke(&server, &app, &[("token", access), ("token_type_hint", "access_token")]).await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert!(!active(&server, &app, access).await);
        assert!(active(&server, &app, refresh_token).await);
        // Revoking again, or revoking nonsense, is still 200 (RFC 7009 §2.2).
        assert_eq!(revoke(&server, &app, &[("token", access)]).await.0, 200);
        assert_eq!(revoke(&server, &app, &[("token", "no-such-token")]).await.0, 200);
        server.stop().await;
    }

    async fn revoking_a_refresh_token_revokes_its_access_tokens(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let access = t["access_token"].as_str().unwrap();
        let refresh_token = t["refresh_token"].as_str().unwrap();
        let (status, _) = revoke(&server, &app, &[("token", refresh_token), ("token_type_hint", "refresh_token")]).await;
        assert_eq!(status, 200);
        assert!(!active(&server, &app, refresh_token).await);
        assert!(!active(&server, &app, access).await);
        assert!(refresh(server.base.clone(), app.clone(), refresh_token.to_owned()).await.is_none());
        server.stop().await;
    }

    async fn revocation_errors(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let other = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let access = t["access_token"].as_str().unwrap();
        let (status, body) = revoke(&server, &app, &[("token", access), ("token_type_hint", "id_token")]).await;
        assert_eq!(status, 400);
        assert!(body.contains("unsupported_token_type"), "{body}");
        // Another client's token: answered as an unknown one (200, RFC 7009 §2.2), left alone.
        let (status, body) = revoke(&server, &other, &[("token", access)]).await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert!(active(&server, &app, access).await, "another client must not revoke it");
        let (status, _) = revoke(&server, &app, &[("token_type_hint", "access_token")]).await;
        assert_eq!(status, 400);
        let resp = http().post(server.url("/oauth/revoke")).form(&[("token", access)]).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        server.stop().await;
    }

    async fn introspection_is_complete(db: Backend) {
        let server = TestServer::start_with(db, |s| s.issuer = Some("https://auth.example".into()), Route::new()).await;
        let alice = server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let body: Value = http()
            .post(server.url("/oauth/introspect"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("token", t["access_token"].as_str().unwrap())])
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(body["active"], true);
        assert_eq!(body["scope"], "polls:stats polls:vote");
        assert_eq!(body["client_id"], app.client_id.as_str());
        assert_eq!(body["username"], "alice");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["sub"], alice.id.to_string());
        assert_eq!(body["aud"], app.client_id.as_str());
        assert_eq!(body["iss"], "https://auth.example");
        assert_eq!(body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(), 36000);
        let body: Value = http()
            .post(server.url("/oauth/introspect"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("token", "unknown")])
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(body, serde_json::json!({"active": false}));
        server.stop().await;
    }

    async fn concurrent_refreshes_have_exactly_one_winner(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let r0 = t["refresh_token"].as_str().unwrap().to_owned();
        let tasks: Vec<_> = (0..12)
            .map(|_| tokio::spawn(refresh(server.base.clone(), app.clone(), r0.clone())))
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(t) = task.await.unwrap() {
                winners.push(t);
            }
        }
        assert_eq!(winners.len(), 1, "exactly one refresh may win");
        server.stop().await;
    }

    async fn concurrent_revocations_all_succeed(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let r0 = t["refresh_token"].as_str().unwrap().to_owned();
        let tasks: Vec<_> = (0..12).map(|_| {
            let (base, app, r0) = (server.base.clone(), app.clone(), r0.clone());
            tokio::spawn(async move {
                http().post(format!("{base}/oauth/revoke"))
                    .basic_auth(&app.client_id, app.secret.as_deref())
                    .form(&[("token", r0.as_str())])
                    .send().await.unwrap().status().as_u16()
            })
        }).collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        assert!(!active(&server, &app, &r0).await);
        assert!(!active(&server, &app, t["access_token"].as_str().unwrap()).await);
        server.stop().await;
    }

    async fn no_token_outlives_a_revocation_racing_rotations(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(password_client()).await;
        let t = password_tokens(&server, &app, "alice", "pw").await;
        let r0 = t["refresh_token"].as_str().unwrap().to_owned();
        // Two refreshers rotate the grant as fast as they can, while the original (long rotated)
        // refresh token is revoked: the revocation must take every descendant with it.
        let refresher = |first: String| {
            let (base, app) = (server.base.clone(), app.clone());
            tokio::spawn(async move {
                let mut issued = Vec::new();
                let mut current = first;
                for _ in 0..40 {
                    match refresh(base.clone(), app.clone(), current.clone()).await {
                        Some(t) => {
                            current = t["refresh_token"].as_str().unwrap().to_owned();
                            issued.push(t["access_token"].as_str().unwrap().to_owned());
                            issued.push(current.clone());
                        }
                        None => break,
                    }
                }
                issued
            })
        };
        let first = refresh(server.base.clone(), app.clone(), r0.clone()).await.unwrap();
        let chain = refresher(first["refresh_token"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let (status, _) = revoke(&server, &app, &[("token", r0.as_str()), ("token_type_hint", "refresh_token")]).await;
        assert_eq!(status, 200);
        let issued = chain.await.unwrap();
        let mut all: HashSet<String> = issued.into_iter().collect();
        all.insert(first["access_token"].as_str().unwrap().to_owned());
        all.insert(t["access_token"].as_str().unwrap().to_owned());
        for token in &all {
            assert!(!active(&server, &app, token).await, "a token outlived its revocation");
        }
        server.stop().await;
    }
}

both_backends! {
    async fn metadata_lists_every_endpoint_grant_and_method(db: Backend) {
        let server = TestServer::start(db).await;
        let meta: Value = http()
            .get(server.url("/.well-known/oauth-authorization-server"))
            .send().await.unwrap().json().await.unwrap();
        let base = &server.base;
        for (field, path) in [
            ("authorization_endpoint", "/oauth/authorize"),
            ("token_endpoint", "/oauth/token"),
            ("revocation_endpoint", "/oauth/revoke"),
            ("introspection_endpoint", "/oauth/introspect"),
            ("userinfo_endpoint", "/oauth/userinfo"),
        ] {
            assert_eq!(meta[field], format!("{base}{path}"), "{field}");
        }
        assert_eq!(meta["grant_types_supported"], serde_json::json!([
            "authorization_code", "implicit", "password", "client_credentials", "refresh_token"
        ]));
        assert_eq!(meta["response_types_supported"], serde_json::json!(["code", "token"]));
        for field in ["token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"] {
            let methods = meta[field].as_array().unwrap();
            assert!(methods.contains(&Value::from("client_secret_basic")) && methods.contains(&Value::from("client_secret_post")), "{field}");
        }
        server.stop().await;
    }
}
