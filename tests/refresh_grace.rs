//! Graceful refresh rotation (`refresh_reuse_grace`): two tabs or a retry spending the same
//! refresh token at once keep the session within the window; outside it, past the cap, or for a
//! token that is not the immediately previous one, reuse revokes the family as before.

use poem::Route;
use serde_json::Value;

use crate::both_backends;
use crate::lifecycle::{active, password_client, password_tokens};
use crate::support::{TestClient, TestServer, http};

async fn spend(base: String, app: TestClient, token: String) -> (u16, Value) {
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Spends `token` `n` times at once; returns every answer.
async fn race(server: &TestServer, app: &TestClient, token: &str, n: usize) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(spend(server.base.clone(), app.clone(), token.to_owned())))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn start(
    db: crate::support::Backend,
    grace: i64,
    max: i64,
) -> (TestServer, TestClient, Value) {
    let server = TestServer::start_with(
        db,
        |s| {
            s.refresh_reuse_grace = grace;
            s.refresh_reuse_max = max;
        },
        Route::new(),
    )
    .await;
    server.user("alice", "pw").await;
    let app = server.client(password_client()).await;
    let t = password_tokens(&server, &app, "alice", "pw").await;
    (server, app, t)
}

fn field(v: &Value, name: &str) -> String {
    v[name].as_str().unwrap().to_owned()
}

both_backends! {
    async fn strict_rotation_revokes_the_family_when_a_race_loses(db: Backend) {
        let (server, app, t) = start(db, 0, 10).await;
        let answers = race(&server, &app, &field(&t, "refresh_token"), 20).await;
        let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(winners.len(), 1, "exactly one winner: {answers:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!((*status, body["error"].as_str()), (400, Some("invalid_grant")));
        }
        // The losers' reuse revoked the family, the winner's new pair included (default 0).
        assert!(!active(&server, &app, &field(winners[0], "access_token")).await);
        let (status, _) = spend(server.base.clone(), app.clone(), field(winners[0], "refresh_token")).await;
        assert_eq!(status, 400);
        server.stop().await;
    }

    async fn concurrent_refreshes_within_the_grace_window_all_keep_the_session(db: Backend) {
        let (server, app, t) = start(db, 30, 100).await;
        let answers = race(&server, &app, &field(&t, "refresh_token"), 30).await;
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{body}");
        }
        // Every pair handed out is live, and each refresh token rotates on.
        for (_, body) in &answers {
            assert!(active(&server, &app, &field(body, "access_token")).await);
        }
        let (status, next) = spend(server.base.clone(), app.clone(), field(&answers[0].1, "refresh_token")).await;
        assert_eq!(status, 200, "{next}");
        assert!(active(&server, &app, &field(&next, "access_token")).await);
        server.stop().await;
    }

    async fn reuse_past_the_cap_revokes_the_family(db: Backend) {
        let (server, app, t) = start(db, 30, 2).await;
        let r0 = field(&t, "refresh_token");
        let (status, first) = spend(server.base.clone(), app.clone(), r0.clone()).await;
        assert_eq!(status, 200);
        for _ in 0..2 {
            let (status, body) = spend(server.base.clone(), app.clone(), r0.clone()).await;
            assert_eq!(status, 200, "within the cap: {body}");
        }
        let (status, body) = spend(server.base.clone(), app.clone(), r0.clone()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        assert!(!active(&server, &app, &field(&first, "access_token")).await, "the family is revoked");
        server.stop().await;
    }

    async fn reuse_after_the_window_revokes_the_family(db: Backend) {
        let (server, app, t) = start(db, 1, 10).await;
        let r0 = field(&t, "refresh_token");
        let (status, first) = spend(server.base.clone(), app.clone(), r0.clone()).await;
        assert_eq!(status, 200);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (status, _) = spend(server.base.clone(), app.clone(), r0).await;
        assert_eq!(status, 400);
        assert!(!active(&server, &app, &field(&first, "access_token")).await);
        server.stop().await;
    }

    async fn only_the_immediately_previous_token_is_forgiven(db: Backend) {
        let (server, app, t) = start(db, 30, 10).await;
        let r0 = field(&t, "refresh_token");
        let (_, first) = spend(server.base.clone(), app.clone(), r0.clone()).await;
        let (status, second) = spend(server.base.clone(), app.clone(), field(&first, "refresh_token")).await;
        assert_eq!(status, 200);
        // r0 is two rotations back: theft, not a retry.
        let (status, _) = spend(server.base.clone(), app.clone(), r0).await;
        assert_eq!(status, 400);
        assert!(!active(&server, &app, &field(&second, "access_token")).await);
        server.stop().await;
    }
}
