//! The client_credentials and password grants (RFC 6749 §4.3, §4.4), per-client lifetimes and
//! password throttling, over real HTTP on SQLite and PostgreSQL.

use poem::Route;
use scopegate::core::model::GrantType;
use serde_json::Value;

use crate::both_backends;
use crate::support::{ClientSpec, TestClient, TestServer, http, introspect};

fn confidential(grants: Vec<GrantType>) -> ClientSpec {
    ClientSpec {
        grants,
        ..ClientSpec::default()
    }
}

async fn post_token(
    server: &TestServer,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

both_backends! {
    async fn client_credentials_issues_an_access_token_only(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(confidential(vec![GrantType::ClientCredentials])).await;
        let (status, body) = post_token(&server, &app, &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 36000);
        assert_eq!(body["scope"], "polls:stats polls:vote");
        // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
        assert!(body.get("refresh_token").is_none(), "{body}");
        let info = introspect(&server, &app, body["access_token"].as_str().unwrap()).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["client_id"], app.client_id.as_str());
        assert!(info.get("username").is_none());

        let (status, body) = post_token(&server, &app, &[("grant_type", "client_credentials"), ("scope", "polls:vote")]).await;
        assert_eq!(status, 200);
        assert_eq!(body["scope"], "polls:vote");
        let (status, body) = post_token(&server, &app, &[("grant_type", "client_credentials"), ("scope", "polls:admin")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
        server.stop().await;
    }

    async fn client_credentials_needs_the_grant_and_the_secret(db: Backend) {
        let server = TestServer::start(db).await;
        let code_only = server.client(confidential(vec![GrantType::AuthorizationCode])).await;
        let (status, body) = post_token(&server, &code_only, &[("grant_type", "client_credentials")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
        let app = server.client(confidential(vec![GrantType::ClientCredentials])).await;
        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&app.client_id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        server.stop().await;
    }

    async fn per_client_lifetimes_are_what_the_server_enforces(db: Backend) {
        let server = TestServer::start_with(db, |s| s.access_token_lifetime = 500, Route::new()).await;
        let app = server.client(ClientSpec {
            access_token_lifetime: Some(120),
            ..confidential(vec![GrantType::ClientCredentials])
        }).await;
        let (_, body) = post_token(&server, &app, &[("grant_type", "client_credentials")]).await;
        assert_eq!(body["expires_in"], 120);
        let info = introspect(&server, &app, body["access_token"].as_str().unwrap()).await;
        assert_eq!(info["exp"].as_i64().unwrap() - info["iat"].as_i64().unwrap(), 120);
        let other = server.client(confidential(vec![GrantType::ClientCredentials])).await;
        let (_, body) = post_token(&server, &other, &[("grant_type", "client_credentials")]).await;
        assert_eq!(body["expires_in"], 500);
        server.stop().await;
    }

    async fn password_grant_as_onesait_describes_it(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "correct horse").await;
        let app = server.client(confidential(vec![GrantType::Password, GrantType::RefreshToken])).await;
        let (status, body) = post_token(&server, &app, &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse"),
            ("scope", "polls:vote"),
        ]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "polls:vote");
        assert!(body["refresh_token"].is_string());
        let info = introspect(&server, &app, body["access_token"].as_str().unwrap()).await;
        assert_eq!(info["username"], "alice");

        let (status, body) = post_token(&server, &app, &[
            ("grant_type", "password"), ("username", "alice"), ("password", "wrong"),
        ]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        let (status, body) = post_token(&server, &app, &[
            ("grant_type", "password"), ("username", "nobody"), ("password", "wrong"),
        ]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        let (status, body) = post_token(&server, &app, &[("grant_type", "password"), ("username", "alice")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));

        let code_only = server.client(confidential(vec![GrantType::AuthorizationCode])).await;
        let (status, body) = post_token(&server, &code_only, &[
            ("grant_type", "password"), ("username", "alice"), ("password", "correct horse"),
        ]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
        server.stop().await;
    }

    async fn password_guessing_is_throttled_per_user(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.password_attempts_per_user = 3;
            s.password_attempts_per_ip = 100;
            // This test is about the throttle: let every checked guess have a hashing permit.
            s.password_hash_concurrency = 64;
        }, Route::new()).await;
        server.user("bob", "right").await;
        let app = server.client(confidential(vec![GrantType::Password])).await;
        // Twelve guesses at once: only the configured three may reach the password check.
        let guesses = (0..12).map(|i| {
            let server_url = server.url("/oauth/token");
            let app = app.clone();
            tokio::spawn(async move {
                let resp = http()
                    .post(server_url)
                    .basic_auth(&app.client_id, app.secret.as_deref())
                    .form(&[("grant_type", "password"), ("username", "bob"), ("password", &format!("guess{i}"))])
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap();
                (status, body["error"].as_str().unwrap_or("").to_owned())
            })
        });
        let mut checked = 0;
        let mut throttled = 0;
        for g in guesses {
            match g.await.unwrap() {
                (400, e) if e == "invalid_grant" => checked += 1,
                (429, e) if e == "slow_down" => throttled += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(checked <= 3, "{checked} guesses were checked");
        assert_eq!(checked + throttled, 12);
        // While throttled, even the right password is refused with a clear error.
        let (status, body) = post_token(&server, &app, &[
            ("grant_type", "password"), ("username", "bob"), ("password", "right"),
        ]).await;
        assert_eq!(status, 429, "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("too many"));
        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("grant_type", "password"), ("username", "bob"), ("password", "right")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["retry-after"], "60");
        server.stop().await;
    }

    async fn password_guessing_is_throttled_per_address(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.password_attempts_per_user = 100;
            s.password_attempts_per_ip = 4;
        }, Route::new()).await;
        let app = server.client(confidential(vec![GrantType::Password])).await;
        let mut statuses = Vec::new();
        for i in 0..6 {
            let user = format!("user{i}");
            let (status, _) = post_token(&server, &app, &[
                ("grant_type", "password"), ("username", &user), ("password", "x"),
            ]).await;
            statuses.push(status);
        }
        assert_eq!(statuses, vec![400, 400, 400, 400, 429, 429]);
        server.stop().await;
    }

    async fn successful_logins_do_not_count_against_the_limit(db: Backend) {
        let server = TestServer::start_with(db, |s| s.password_attempts_per_user = 2, Route::new()).await;
        server.user("carol", "pw").await;
        let app = server.client(confidential(vec![GrantType::Password])).await;
        for _ in 0..5 {
            let (status, body) = post_token(&server, &app, &[
                ("grant_type", "password"), ("username", "carol"), ("password", "pw"),
            ]).await;
            assert_eq!(status, 200, "{body}");
        }
        server.stop().await;
    }
}
