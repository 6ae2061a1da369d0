//! Every admin revocation wins its race with rotation: while refresh chains rotate as fast as
//! they can, "revoke all" of a user or of a client, rejecting the client, and withdrawing a
//! consent each answer 303, and afterwards no token those chains ever received is active.
//! (On PostgreSQL a single UPDATE misses the rows a concurrent rotation inserts.)

use std::collections::HashSet;

use scopegate::core::model::GrantType;
use scopegate::core::portal::ListQuery;
use scopegate::core::token::find_active;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestClient, TestServer, exchange_code, http, query_of};

const CHAINS: usize = 3;
const TRIALS: usize = 6;

/// One code flow as `user` (which records a consent, remembered from then on); returns the
/// token response.
async fn code_tokens(server: &TestServer, c: &TestClient, user: &str) -> Value {
    let b = Browser::new(server);
    b.login(user, "pw-user-123").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=polls:vote",
        c.client_id
    );
    let location = b.approve(&url).await;
    let code = query_of(&location)["code"].clone();
    exchange_code(
        server,
        &c.client_id,
        c.secret.as_deref().unwrap(),
        &c.redirect_uri,
        &code,
    )
    .await
}

/// Rotates `first` until the server refuses; returns every token it received.
fn rotate(
    server: &TestServer,
    c: &TestClient,
    first: String,
) -> tokio::task::JoinHandle<Vec<String>> {
    let (base, c) = (server.base.clone(), c.clone());
    tokio::spawn(async move {
        let mut issued = Vec::new();
        let mut current = first;
        for _ in 0..60 {
            let resp = http()
                .post(format!("{base}/oauth/token"))
                .basic_auth(&c.client_id, c.secret.as_deref())
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ])
                .send()
                .await
                .unwrap();
            if resp.status() != 200 {
                break;
            }
            let t: Value = resp.json().await.unwrap();
            current = t["refresh_token"].as_str().unwrap().to_owned();
            issued.push(t["access_token"].as_str().unwrap().to_owned());
            issued.push(current.clone());
        }
        issued
    })
}

#[derive(Clone, Copy, Debug)]
enum Action {
    RevokeUser,
    RevokeClient,
    Reject,
    Withdraw,
}

async fn trial(server: &TestServer, admin: &Browser, action: Action, n: usize) {
    let user = format!("user{n}");
    server.user(&user, "pw-user-123").await;
    let c = server
        .client(ClientSpec {
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            ..ClientSpec::default()
        })
        .await;
    let mut all: HashSet<String> = HashSet::new();
    let mut chains = Vec::new();
    for _ in 0..CHAINS {
        let t = code_tokens(server, &c, &user).await;
        all.insert(t["access_token"].as_str().unwrap().to_owned());
        all.insert(t["refresh_token"].as_str().unwrap().to_owned());
        chains.push(rotate(
            server,
            &c,
            t["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let user_id = server
        .store()
        .user_by_username(&user)
        .await
        .unwrap()
        .unwrap()
        .id;
    let (page, path, fields): (String, String, Vec<(&str, &str)>) = match action {
        Action::RevokeUser => (
            "/admin/tokens".into(),
            format!("/admin/users/{user_id}/revoke"),
            vec![],
        ),
        Action::RevokeClient => (
            "/admin/tokens".into(),
            format!("/admin/clients/{}/revoke", c.client.id),
            vec![],
        ),
        Action::Reject => (
            format!("/admin/clients/{}", c.client.id),
            format!("/admin/clients/{}/reject", c.client.id),
            vec![("reason", "Revoked in a race")],
        ),
        Action::Withdraw => {
            let consents = server
                .store()
                .list_consents(&ListQuery {
                    search: user.clone(),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(consents.total, 1, "one consent for {user}");
            (
                "/admin/consents".into(),
                format!("/admin/consents/{}/withdraw", consents.items[0].id),
                vec![],
            )
        }
    };
    let (status, _, body) = admin.submit(&page, &path, &fields).await;
    assert_eq!(status, 303, "{action:?}: {body}");
    for chain in chains {
        all.extend(chain.await.unwrap());
    }
    let store = server.store();
    let now = scopegate::core::now();
    for token in &all {
        let alive = find_active(store.as_ref(), token, now).await.unwrap();
        assert!(
            alive.is_none(),
            "{action:?} trial {n}: a token outlived the revocation"
        );
    }
}

async fn race(db: crate::support::Backend, action: Action) {
    let server = TestServer::start(db).await;
    server.superuser("root", "pw-root-123").await;
    let admin = Browser::new(&server);
    admin.login("root", "pw-root-123").await;
    for n in 0..TRIALS {
        trial(&server, &admin, action, n).await;
    }
    server.stop().await;
}

both_backends! {
    async fn revoking_all_of_a_user_wins_against_rotation(db: Backend) {
        race(db, Action::RevokeUser).await;
    }

    async fn revoking_all_of_a_client_wins_against_rotation(db: Backend) {
        race(db, Action::RevokeClient).await;
    }

    async fn rejecting_a_client_wins_against_rotation(db: Backend) {
        race(db, Action::Reject).await;
    }

    async fn withdrawing_a_consent_wins_against_rotation(db: Backend) {
        race(db, Action::Withdraw).await;
    }
}

both_backends! {
    async fn withdrawing_a_consent_ends_the_codes_it_issued(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-123").await;
        server.user("alice", "pw-user-123").await;
        let c = server.client(ClientSpec::default()).await;
        let b = Browser::new(&server);
        b.login("alice", "pw-user-123").await;
        let url = format!("/oauth/authorize?response_type=code&client_id={}&scope=polls:vote", c.client_id);
        let code = query_of(&b.authorize(&url, "approve").await)["code"].clone();
        let consents = server
            .store()
            .list_consents(&ListQuery { search: "alice".into(), limit: 10, ..Default::default() })
            .await
            .unwrap();
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let (status, _, _) = admin
            .submit("/admin/consents", &format!("/admin/consents/{}/withdraw", consents.items[0].id), &[])
            .await;
        assert_eq!(status, 303);
        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&c.client_id, c.secret.as_deref())
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", c.redirect_uri.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{body}");
        server.stop().await;
    }
}
