//! The change feed, between real instances: instance A is a server in this process, instance B
//! is `scopegate serve` in a process of its own on the same database (one PostgreSQL database,
//! or one SQLite file). For every kind of change that can make a cached answer wrong, B's cache
//! is warmed, the change is made on A, and then A must refuse on its very next request and B
//! soon after (the cache's backstop age is 60 s, so a feed that does not reach B fails here).

use std::future::Future;
use std::time::{Duration, Instant};

use scopegate::core::feed::ChangeKind;
use scopegate::core::model::Approval;
use scopegate::core::secret::{generate_token, hash_password, hash_secret};
use serde_json::Value;

use crate::both_backends;
use crate::lifecycle::{password_client, password_tokens};
use crate::support::{Backend, Instance, TestClient, TestServer, edited, http};

/// How soon B must refuse. The benchmark measures the real figure (milliseconds); this bound
/// leaves room for a loaded CI machine and is still far below the cache's 60 s backstop.
const LIMIT: Duration = Duration::from_secs(3);

/// A pair of instances on one database, a user `alice` and a password-grant client.
struct Pair {
    a: TestServer,
    b: Instance,
    app: TestClient,
    alice: scopegate::core::model::User,
}

impl Pair {
    /// Stops B, then A and its database (B first, so it never sees its database vanish).
    async fn stop(self) {
        drop(self.b);
        self.a.stop().await;
    }
}

async fn pair(db: Backend) -> Pair {
    let a = TestServer::start(db).await;
    let b = Instance::start(&a.db.url).await;
    let alice = a.user("alice", "pw-alice-1").await;
    let app = a.client(password_client()).await;
    Pair { a, b, app, alice }
}

/// `GET /oauth/userinfo` with `token` at `base`: did it accept the token?
async fn userinfo_accepts(base: String, token: String) -> bool {
    let resp = http()
        .get(format!("{base}/oauth/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("userinfo answered {other}"),
    }
}

/// Introspects `token` at `base` with these credentials: `Some(active)`, or `None` when the
/// client's authentication is refused.
async fn introspection(base: &str, id: &str, secret: &str, token: &str) -> Option<bool> {
    let resp = http()
        .post(format!("{base}/oauth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => resp.json::<Value>().await.unwrap()["active"].as_bool(),
        401 => None,
        other => panic!("introspection answered {other}"),
    }
}

/// Runs the password grant at `base`: did it issue tokens?
async fn password_grant(base: String, app: TestClient, username: &str, password: &str) -> bool {
    match crate::throttle::password_grant_at(&base, &app, username, password)
        .await
        .0
    {
        200 => true,
        400 | 401 => false,
        other => panic!("the token endpoint answered {other}"),
    }
}

/// The heart of every case: `accepted(base)` holds on both instances (B asked three times, so
/// its cache is warm); after `change` runs on A, A refuses on its very next request, and B
/// within [`LIMIT`].
async fn refused_everywhere<P, F>(pair: &Pair, accepted: P, change: impl Future<Output = ()>)
where
    P: Fn(String) -> F,
    F: Future<Output = bool>,
{
    for _ in 0..3 {
        assert!(
            accepted(pair.b.base.clone()).await,
            "B accepts before the change"
        );
    }
    assert!(
        accepted(pair.a.base.clone()).await,
        "A accepts before the change"
    );
    change.await;
    assert!(
        !accepted(pair.a.base.clone()).await,
        "A must refuse on its very next request"
    );
    let started = Instant::now();
    while accepted(pair.b.base.clone()).await {
        assert!(
            started.elapsed() < LIMIT,
            "B still accepts {LIMIT:?} after the change"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where the first Revoke button of `browser`'s `/account/apps` posts.
async fn first_revoke(browser: &crate::support::Browser) -> String {
    let (_, page) = browser.page("/account/apps").await;
    crate::account::revoke_action(&page)
}

async fn alice_token(pair: &Pair) -> Value {
    password_tokens(&pair.a, &pair.app, "alice", "pw-alice-1").await
}

fn field(tokens: &Value, name: &str) -> String {
    tokens[name].as_str().unwrap().to_owned()
}

both_backends! {
    async fn a_revoked_token_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let access = field(&alice_token(&pair).await, "access_token");
        let revoke = async {
            let resp = http()
                .post(pair.a.url("/oauth/revoke"))
                .basic_auth(&pair.app.client_id, pair.app.secret.as_deref())
                .form(&[("token", access.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), revoke).await;
        pair.stop().await;
    }

    async fn a_rotated_token_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let tokens = alice_token(&pair).await;
        let (access, refresh) = (field(&tokens, "access_token"), field(&tokens, "refresh_token"));
        let rotate = async {
            let resp = http()
                .post(pair.a.url("/oauth/token"))
                .basic_auth(&pair.app.client_id, pair.app.secret.as_deref())
                .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), rotate).await;
        pair.stop().await;
    }

    async fn a_revoked_family_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let old_refresh = field(&alice_token(&pair).await, "refresh_token");
        let spend = |refresh: String| {
            let (base, app) = (pair.a.base.clone(), pair.app.clone());
            async move {
                http()
                    .post(format!("{base}/oauth/token"))
                    .basic_auth(&app.client_id, app.secret.as_deref())
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let rotated: Value = spend(old_refresh.clone()).await.json().await.unwrap();
        let access = field(&rotated, "access_token");
        // Replaying the spent refresh token revokes the whole family (RFC 9700 §4.14.2).
        let replay = async {
            assert_eq!(spend(old_refresh.clone()).await.status(), 400);
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), replay).await;
        pair.stop().await;
    }

    async fn a_regenerated_secret_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let own = field(&alice_token(&pair).await, "access_token");
        let (id, secret) = (pair.app.client_id.clone(), pair.app.secret.clone().unwrap());
        let regenerate = async {
            pair.a
                .store()
                .set_client_secret(pair.app.client.id, Some(hash_secret(&generate_token())))
                .await
                .unwrap();
        };
        let old_secret_works = |base: String| {
            let (id, secret, own) = (id.clone(), secret.clone(), own.clone());
            async move { introspection(&base, &id, &secret, &own).await.is_some() }
        };
        refused_everywhere(&pair, old_secret_works, regenerate).await;
        pair.stop().await;
    }

    async fn failed_client_authentications_throttle_everywhere(db: Backend) {
        let pair = pair(db).await;
        let own = field(&alice_token(&pair).await, "access_token");
        let (id, secret) = (pair.app.client_id.clone(), pair.app.secret.clone().unwrap());
        // Guessing at the secret on A, up to `client_auth_failures_per_client` (10).
        let guess = async {
            for _ in 0..10 {
                assert_eq!(introspection(&pair.a.base, &id, "a-wrong-guess", &own).await, None);
            }
        };
        let right_secret_works = |base: String| {
            let (id, secret, own) = (id.clone(), secret.clone(), own.clone());
            async move {
                let resp = http()
                    .post(format!("{base}/oauth/introspect"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", own.as_str())])
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    200 => true,
                    429 => false,
                    other => panic!("introspection answered {other}"),
                }
            }
        };
        refused_everywhere(&pair, right_secret_works, guess).await;
        pair.stop().await;
    }

    async fn a_rejected_client_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let access = field(&alice_token(&pair).await, "access_token");
        let reject = async {
            pair.a
                .store()
                .set_approval(pair.app.client.id, &Approval::Rejected("spam".into()))
                .await
                .unwrap();
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), reject).await;
        pair.stop().await;
    }

    async fn an_edited_client_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        // Taking the password grant away from the client.
        let edit = async {
            let client = &pair.app.client;
            let changed = edited(client, |d| d.grant_types = vec!["refresh_token".into()]);
            pair.a.store().update_client(client.id, &changed).await.unwrap();
        };
        let app = pair.app.clone();
        refused_everywhere(
            &pair,
            |base| password_grant(base, app.clone(), "alice", "pw-alice-1"),
            edit,
        )
        .await;
        pair.stop().await;
    }

    async fn a_deleted_client_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let access = field(&alice_token(&pair).await, "access_token");
        let delete = async {
            pair.a.store().delete_client(pair.app.client.id).await.unwrap();
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), delete).await;
        pair.stop().await;
    }

    async fn a_deactivated_user_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let access = field(&alice_token(&pair).await, "access_token");
        let deactivate = async {
            pair.a.store().set_user_flags(pair.alice.id, false, false).await.unwrap();
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), deactivate).await;
        pair.stop().await;
    }

    async fn a_changed_password_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let change = async {
            let hash = hash_password("pw-alice-2").unwrap();
            pair.a.store().set_user_password(pair.alice.id, &hash).await.unwrap();
        };
        let app = pair.app.clone();
        refused_everywhere(
            &pair,
            |base| password_grant(base, app.clone(), "alice", "pw-alice-1"),
            change,
        )
        .await;
        pair.stop().await;
    }

    async fn a_withdrawn_consent_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let store = pair.a.store();
        let scope = "polls:vote".parse().unwrap();
        let now = scopegate::core::now();
        store.record_consent(pair.alice.id, pair.app.client.id, &scope, now).await.unwrap();
        let access = field(&alice_token(&pair).await, "access_token");
        let all = scopegate::core::portal::ListQuery { limit: 10, ..Default::default() };
        let consents = store.list_consents(&all).await.unwrap();
        let consent = consents.items.first().expect("the consent").id;
        let withdraw = async {
            store.withdraw_consent(consent, scopegate::core::now()).await.unwrap();
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), withdraw).await;
        pair.stop().await;
    }

    async fn an_app_revoked_on_account_apps_is_refused_everywhere(db: Backend) {
        let pair = pair(db).await;
        let scope = "polls:vote".parse().unwrap();
        let now = scopegate::core::now();
        pair.a.store().record_consent(pair.alice.id, pair.app.client.id, &scope, now).await.unwrap();
        let access = field(&alice_token(&pair).await, "access_token");
        // Alice revokes the app herself, on A, with the form of her account page.
        let browser = crate::support::Browser::new(&pair.a);
        browser.login("alice", "pw-alice-1").await;
        let revoke = async {
            let (status, _, _) = browser.submit("/account/apps", &first_revoke(&browser).await, &[]).await;
            assert_eq!(status, 303, "revoked");
        };
        refused_everywhere(&pair, |base| userinfo_accepts(base, access.clone()), revoke).await;
        pair.stop().await;
    }

    // A new kind of change cannot be forgotten: every kind the code knows must be announced by
    // the database for a write to its table, whoever makes the write (here a bare SQL
    // statement, as an operator's hand-typed UPDATE would be).
    async fn the_database_announces_every_kind_of_change(db: Backend) {
        let pair = pair(db).await;
        let access = field(&alice_token(&pair).await, "access_token");
        pair.a.scope("polls:vote", "Vote").await;
        pair.a
            .store()
            .record_consent(pair.alice.id, pair.app.client.id, &"polls:vote".parse().unwrap(), 1)
            .await
            .unwrap();
        for kind in ChangeKind::ALL {
            // Adding a kind without a trigger fails to compile here, then fails below.
            let sql = match kind {
                ChangeKind::Token => "UPDATE tokens SET scope = scope",
                ChangeKind::Client => "UPDATE clients SET name = name",
                ChangeKind::User => "UPDATE users SET email = email",
                ChangeKind::Consent => "UPDATE consents SET scope = scope",
                ChangeKind::Scope => "UPDATE scopes SET description = description",
                ChangeKind::ClientAuthFailure => {
                    "INSERT INTO login_attempts (username, client_ip, created_at, kind) \
                     VALUES ('nobody', '192.0.2.1', 1, 'client_secret')"
                }
            };
            // A's cache holds the token; a write to any row it was read from must evict it
            // before A answers again (kinds the token does not depend on are still announced:
            // `announced` checks the database itself).
            assert!(userinfo_accepts(pair.a.base.clone(), access.clone()).await);
            assert!(
                announced(&pair.a.db.url, sql, kind).await,
                "no announcement of a {} change",
                kind.as_str()
            );
        }
        pair.stop().await;
    }
}

/// Runs `sql` on a connection of its own and tells whether the database announced a change of
/// `kind` for it: a row in SQLite's `changes`, a NOTIFY on PostgreSQL.
async fn announced(url: &str, sql: &'static str, kind: ChangeKind) -> bool {
    use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Some(path) = url.strip_prefix("sqlite://") {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let mut c = SqliteConnection::establish(path).unwrap();
            let count = |c: &mut SqliteConnection| {
                diesel::sql_query("SELECT count(*) AS n FROM changes WHERE kind = ?")
                    .bind::<diesel::sql_types::Text, _>(kind.as_str())
                    .get_result::<Count>(c)
                    .unwrap()
                    .n
            };
            let before = count(&mut c);
            diesel::sql_query(sql).execute(&mut c).unwrap();
            count(&mut c) > before
        } else {
            let mut c = PgConnection::establish(&url).unwrap();
            diesel::sql_query("LISTEN scopegate_changes")
                .execute(&mut c)
                .unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
            let prefix = format!("{}:", kind.as_str());
            c.notifications_iter()
                .any(|n| n.unwrap().payload.starts_with(&prefix))
        }
    })
    .await
    .unwrap()
}

/// While an instance's listener is cut off, it serves no cached answer: a revocation written
/// straight to the database (no instance hears of it) is refused by B on its next request, and
/// B's feed comes back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_serves_nothing_stale_and_comes_back() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let pair = pair(Backend::Postgres).await;
    let access = field(&alice_token(&pair).await, "access_token");
    for _ in 0..3 {
        assert!(userinfo_accepts(pair.b.base.clone(), access.clone()).await);
    }
    let url = pair.a.db.url.clone();
    let hash = hash_secret(&access);
    tokio::task::spawn_blocking(move || {
        let mut c = PgConnection::establish(&url).unwrap();
        // One transaction: the listeners die before its NOTIFY is sent, so no listener ever
        // hears of this revocation.
        c.transaction::<_, diesel::result::Error, _>(|c| {
            let killed = diesel::sql_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'scopegate-feed' AND datname = current_database()",
            )
            .execute(c)?;
            assert!(
                killed >= 2,
                "both instances' listeners were found ({killed})"
            );
            diesel::sql_query("UPDATE tokens SET revoked_at = 1 WHERE token_hash = $1")
                .bind::<diesel::sql_types::Text, _>(hash)
                .execute(c)?;
            Ok(())
        })
        .unwrap();
    })
    .await
    .unwrap();
    // While the listener is down (it reconnects with backoff), and after it is back: refused.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !userinfo_accepts(pair.b.base.clone(), access.clone()).await,
        "B served a stale answer while its listener was down"
    );
    pair.b.wait_for_feed("live").await;
    assert!(
        !userinfo_accepts(pair.b.base.clone(), access.clone()).await,
        "B served a stale answer after its listener came back"
    );
    assert!(!userinfo_accepts(pair.a.base.clone(), access.clone()).await);
    pair.b.wait_for_feed("live").await;
    pair.stop().await;
}
