//! `cleartokens` deletes expired codes and tokens in batches and says how many;
//! `register-client` takes per-client lifetimes.

use std::process::Command;

use scopegate::core::model::{GrantType, NewToken, TokenKind};
use scopegate::core::now;
use scopegate::core::secret::{generate_token, hash_secret};

use crate::both_backends;
use crate::support::{ClientSpec, TestServer};

fn cli(url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scopegate"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn token(client: i64, expires_at: i64) -> (String, NewToken) {
    let value = generate_token();
    (
        value.clone(),
        NewToken {
            token_hash: hash_secret(&value),
            kind: TokenKind::Access,
            client_id: client,
            user_id: None,
            scope: "polls:vote".parse().unwrap(),
            grant_id: generate_token(),
            created_at: now() - 100,
            expires_at,
            auth_time: None,
            resource: None,
        },
    )
}

/// The audit log's actions, sorted.
async fn actions(server: &TestServer) -> Vec<String> {
    let q = scopegate::core::portal::ListQuery {
        limit: 100,
        ..Default::default()
    };
    let mut actions: Vec<String> = server
        .store()
        .list_audit(&q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|l| l.action)
        .collect();
    actions.sort();
    actions
}

both_backends! {
    async fn token_events_past_their_retention_are_cleared_and_peoples_actions_stay(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec { grants: vec![GrantType::ClientCredentials], ..ClientSpec::default() }).await;
        let store = server.store();
        for _ in 0..3 {
            store.issue_tokens(token(app.client.id, now() + 3600).1, None, GrantType::ClientCredentials).await.unwrap();
        }
        let person = scopegate::core::portal::NewAuditEntry {
            actor_id: None,
            actor: "root".into(),
            action: "client.approve".into(),
            target: app.client_id.clone(),
            detail: String::new(),
        };
        store.audit(person, 0).await.unwrap();
        // Every line so far is 31 days old; one more token event is fresh.
        server.db.exec_sql(&format!("UPDATE audit_log SET created_at = {}", now() - 31 * 24 * 3600));
        store.issue_tokens(token(app.client.id, now() + 3600).1, None, GrantType::ClientCredentials).await.unwrap();
        assert_eq!(actions(&server).await, ["client.approve", "token.issued", "token.issued", "token.issued", "token.issued"]);
        let (ok, out) = cli(&server.db.url, &["cleartokens", "--batch-size", "2"]);
        assert!(ok, "{out}");
        assert!(out.contains(", 3 token-lifecycle audit lines past their retention"), "{out}");
        assert_eq!(actions(&server).await, ["client.approve", "token.issued"], "the admin's line and the fresh event stay");
        server.stop().await;
    }

    async fn spent_nonces_are_cleared_once_their_id_tokens_have_expired(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec::public()).await;
        let store = server.store();
        for n in 0..3 {
            assert!(store.claim_nonce(app.client.id, &format!("old-{n}"), now() - 10).await.unwrap());
        }
        assert!(store.claim_nonce(app.client.id, "live", now() + 3600).await.unwrap());
        assert!(!store.claim_nonce(app.client.id, "live", now() + 3600).await.unwrap(), "a replay");
        let (ok, out) = cli(&server.db.url, &["cleartokens", "--batch-size", "2"]);
        assert!(ok, "{out}");
        assert!(out.contains("and 3 spent sign-in nonces"), "{out}");
        assert!(!store.claim_nonce(app.client.id, "live", now() + 3600).await.unwrap(), "a live one stays spent");
        assert!(store.claim_nonce(app.client.id, "old-0", now() + 3600).await.unwrap(), "an expired one is gone");
        server.stop().await;
    }

    async fn expired_tokens_are_cleared_in_batches(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec { grants: vec![GrantType::ClientCredentials], ..ClientSpec::default() }).await;
        let store = server.store();
        for _ in 0..5 {
            store.issue_tokens(token(app.client.id, now() - 10).1, None, GrantType::ClientCredentials).await.unwrap();
        }
        let (live, row) = token(app.client.id, now() + 3600);
        store.issue_tokens(row, None, GrantType::ClientCredentials).await.unwrap();
        let (ok, out) = cli(&server.db.url, &["cleartokens", "--batch-size", "2"]);
        assert!(ok, "{out}");
        assert!(out.contains("0 expired authorization codes, 5 expired tokens"), "{out}");
        assert!(store.token_by_hash(&hash_secret(&live)).await.unwrap().is_some());
        let (_, out) = cli(&server.db.url, &["cleartokens"]);
        assert!(out.contains("0 expired tokens"), "{out}");
        server.stop().await;
    }

    async fn expired_sessions_and_consent_requests_are_cleared(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec::default()).await;
        let user = server.user("alice", "correct horse").await;
        let store = server.store();
        // Anonymous sessions are made by every visit to /login: they must not pile up.
        store.create_session("old-1", None, "csrf", now() - 5).await.unwrap();
        store.create_session("old-2", None, "csrf", now() - 5).await.unwrap();
        let live = store.create_session("live", Some(user.id), "csrf", now() + 3600).await.unwrap();
        store
            .create_pending("stale", live.id, scopegate::core::model::PendingAuthorization {
                client_id: app.client.id,
                user_id: user.id,
                redirect_uri: app.redirect_uri.clone(),
                redirect_uri_given: false,
                scope: "polls:vote".parse().unwrap(),
                state: None,
                pkce: None,
                response_type: scopegate::core::model::ResponseType::Code,
                nonce: None,
                expires_at: now() - 1,
                resource: None,
            })
            .await
            .unwrap();
        let (ok, out) = cli(&server.db.url, &["cleartokens", "--batch-size", "1"]);
        assert!(ok, "{out}");
        assert!(out.contains("3 expired browser sessions and consent requests"), "{out}");
        assert!(store.session_by_hash("live", now()).await.unwrap().is_some(), "live sessions stay");
        let (_, out) = cli(&server.db.url, &["cleartokens"]);
        assert!(out.contains("0 expired browser sessions"), "{out}");
        server.stop().await;
    }

    async fn register_client_takes_lifetimes(db: Backend) {
        let server = TestServer::start(db).await;
        let (ok, out) = cli(&server.db.url, &[
            "register-client", "--name", "Realm", "--grant-type", "password",
            "--client-type", "confidential", "--scope", "read", "--approved", "--json",
            "--access-token-lifetime", "43200", "--refresh-token-lifetime", "90",
        ]);
        assert!(ok, "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let client = server.store().client_by_client_id(v["client_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(client.access_token_lifetime, Some(43200));
        assert_eq!(client.refresh_token_lifetime, Some(90));
        assert_eq!(client.code_lifetime, None);
        server.stop().await;
    }
}
