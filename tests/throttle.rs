//! Guessing credentials, from outside: the `/login` page and the password grant share one
//! throttle (per user and per address, in the database, so every instance enforces it), the
//! argon2 hashes in flight are bounded, and failed client authentication is throttled at every
//! endpoint that authenticates a client. Real HTTP, on SQLite and PostgreSQL.

use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use scopegate::core::model::GrantType;
use scopegate::settings::Settings;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestClient, TestServer, hidden_field, http, slashes};

const THROTTLE_MESSAGE: &str = "Too many failed sign-in attempts";

fn password_client() -> ClientSpec {
    ClientSpec {
        grants: vec![GrantType::Password, GrantType::ClientCredentials],
        ..ClientSpec::default()
    }
}

/// A second scopegate instance on the first one's database: what a load balancer would put
/// beside it. Only the database is shared.
async fn second_instance(server: &TestServer, tweak: impl FnOnce(&mut Settings)) -> String {
    let mut settings = server.state.settings.clone();
    tweak(&mut settings);
    let state = tokio::task::spawn_blocking(move || scopegate::web::build_state(settings))
        .await
        .unwrap()
        .expect("second instance state");
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let addr = *acceptor.local_addr()[0].as_socket_addr().expect("tcp");
    let app = scopegate::web::app(state, Route::new());
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
    });
    format!("http://{addr}")
}

/// The login page's answer: status, `Retry-After`, whether it signed in (a redirect), body.
struct LoginAnswer {
    status: u16,
    retry_after: Option<String>,
    signed_in: bool,
    body: String,
}

async fn login_at(base: &str, username: &str, password: &str) -> LoginAnswer {
    let browser = Browser::at(base);
    let resp = browser.login(username, password).await;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let signed_in = status == 302;
    LoginAnswer {
        status,
        retry_after,
        signed_in,
        body: slashes(resp.text().await.unwrap()),
    }
}

pub async fn password_grant_at(
    base: &str,
    app: &TestClient,
    username: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        retry_after,
        resp.json().await.unwrap_or(Value::Null),
    )
}

both_backends! {
    async fn ten_wrong_passwords_at_login_then_the_right_one_is_refused(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "right-password").await;
        let mut statuses = Vec::new();
        for i in 0..10 {
            let answer = login_at(&server.base, "alice", &format!("wrong{i}")).await;
            assert!(!answer.signed_in);
            statuses.push(answer.status);
        }
        // The default allows five failures per user per window; the rest are refused unchecked.
        assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
        let answer = login_at(&server.base, "alice", "right-password").await;
        assert!(!answer.signed_in, "a throttled user must not sign in, even with the right password");
        assert_eq!(answer.status, 429);
        assert_eq!(answer.retry_after.as_deref(), Some("60"));
        assert!(answer.body.contains(THROTTLE_MESSAGE), "{}", answer.body);
        // The page is still the sign-in form (a friendly page, not an error body).
        assert!(hidden_field(&answer.body, "csrf_token").is_some());
        // Another user is not affected.
        server.user("bob", "bobs-password").await;
        assert!(login_at(&server.base, "bob", "bobs-password").await.signed_in);
        server.stop().await;
    }

    async fn a_user_throttled_at_the_password_grant_is_refused_at_login(db: Backend) {
        let server = TestServer::start_with(db, |s| s.password_attempts_per_user = 3, Route::new()).await;
        server.user("alice", "right-password").await;
        let app = server.client(password_client()).await;
        for i in 0..3 {
            let (status, _, body) = password_grant_at(&server.base, &app, "alice", &format!("wrong{i}")).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        }
        let (status, retry, body) = password_grant_at(&server.base, &app, "alice", "right-password").await;
        assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
        assert_eq!(retry.as_deref(), Some("60"));
        let answer = login_at(&server.base, "alice", "right-password").await;
        assert!(!answer.signed_in);
        assert_eq!((answer.status, answer.retry_after.as_deref()), (429, Some("60")));
        assert!(answer.body.contains(THROTTLE_MESSAGE));
        server.stop().await;
    }

    async fn a_user_throttled_at_login_is_refused_at_the_password_grant(db: Backend) {
        let server = TestServer::start_with(db, |s| s.password_attempts_per_user = 3, Route::new()).await;
        server.user("alice", "right-password").await;
        let app = server.client(password_client()).await;
        for i in 0..3 {
            let answer = login_at(&server.base, "alice", &format!("wrong{i}")).await;
            assert_eq!(answer.status, 200);
            assert!(answer.body.contains("Wrong username or password."));
        }
        let (status, retry, body) = password_grant_at(&server.base, &app, "alice", "right-password").await;
        assert_eq!((status, body["error"].as_str()), (429, Some("slow_down")), "{body}");
        assert_eq!(retry.as_deref(), Some("60"));
        assert!(body.get("access_token").is_none());
        server.stop().await;
    }

    async fn login_is_throttled_per_address(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.password_attempts_per_user = 100;
            s.password_attempts_per_ip = 4;
        }, Route::new()).await;
        server.user("zed", "zeds-password").await;
        let mut statuses = Vec::new();
        for i in 0..4 {
            statuses.push(login_at(&server.base, &format!("nobody{i}"), "x").await.status);
        }
        assert_eq!(statuses, vec![200, 200, 200, 200]);
        // A fifth username from the same address, with its right password: refused.
        let answer = login_at(&server.base, "zed", "zeds-password").await;
        assert_eq!((answer.status, answer.signed_in), (429, false));
        server.stop().await;
    }

    async fn the_password_throttle_holds_across_instances(db: Backend) {
        let server = TestServer::start_with(db, |s| s.password_attempts_per_user = 3, Route::new()).await;
        server.user("alice", "right-password").await;
        let app = server.client(password_client()).await;
        let other = second_instance(&server, |_| {}).await;
        for i in 0..3 {
            assert_eq!(login_at(&server.base, "alice", &format!("wrong{i}")).await.status, 200);
        }
        let answer = login_at(&other, "alice", "right-password").await;
        assert_eq!((answer.status, answer.signed_in), (429, false));
        let (status, _, _) = password_grant_at(&other, &app, "alice", "right-password").await;
        assert_eq!(status, 429);
        server.stop().await;
    }

    async fn password_hashes_in_flight_are_bounded(db: Backend) {
        // One permit: of many simultaneous wrong logins, those that find it taken are answered
        // at once with 503 and Retry-After, instead of queueing for the hash.
        let server = TestServer::start_with(db, |s| {
            s.password_hash_concurrency = 1;
            s.password_attempts_per_user = 1000;
            s.password_attempts_per_ip = 1000;
        }, Route::new()).await;
        server.user("alice", "right-password").await;
        let app = server.client(password_client()).await;
        // Browsers with their sign-in forms ready, so the posts can leave together.
        let mut forms = Vec::new();
        for _ in 0..16 {
            let browser = Browser::new(&server);
            let page = browser.get("/login").await.text().await.unwrap();
            let csrf = hidden_field(&page, "csrf_token").unwrap();
            forms.push((browser, csrf));
        }
        let mut tasks = Vec::new();
        for (i, (browser, csrf)) in forms.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let user = format!("user{i}");
                let resp = browser
                    .post_form("/login", &[("csrf_token", &csrf), ("username", &user), ("password", "wrong"), ("next", "/")])
                    .await;
                let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                (resp.status().as_u16(), retry)
            }));
        }
        for i in 0..16 {
            let (base, app) = (server.base.clone(), app.clone());
            tasks.push(tokio::spawn(async move {
                let (status, retry, body) = password_grant_at(&base, &app, &format!("grant{i}"), "wrong").await;
                if status == 503 {
                    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                }
                (status, retry)
            }));
        }
        let (mut checked, mut busy) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (200 | 400, None) => checked += 1,
                (503, Some(retry)) => {
                    assert!(retry.parse::<u64>().unwrap() >= 1);
                    busy += 1;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert!(checked >= 1, "at least one password was checked");
        assert!(busy >= 1, "with one permit, simultaneous checks beyond it must be refused at once ({checked} checked)");
        // The permit is given back: a lone sign-in works afterwards.
        assert!(login_at(&server.base, "alice", "right-password").await.signed_in);
        server.stop().await;
    }
}

/// Client authentication as each endpoint takes it; returns status, `Retry-After` and `error`.
async fn authenticate_at(
    base: &str,
    endpoint: &str,
    client_id: &str,
    secret: &str,
) -> (u16, Option<String>, String) {
    let form: &[(&str, &str)] = match endpoint {
        "/oauth/token" | "/token/" | "/open_auth/token/" | "/oauth-server/oauth/token" => {
            &[("grant_type", "client_credentials")]
        }
        "/open_auth/revoke_token/" => &[("token", "nothing"), ("token_type_hint", "access_token")],
        _ => &[("token", "nothing")],
    };
    let resp = http()
        .post(format!("{base}{endpoint}"))
        .basic_auth(client_id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        retry_after,
        body["error"].as_str().unwrap_or("").to_owned(),
    )
}

/// Every endpoint that authenticates a client, standard and compatibility spellings.
const CLIENT_AUTH_ENDPOINTS: &[&str] = &[
    "/oauth/token",
    "/oauth/introspect",
    "/oauth/revoke",
    "/token/",
    "/open_auth/token/",
    "/open_auth/revoke_token/",
    "/oauth-server/oauth/token",
    "/oauth-server/oauth/check_token",
    "/oauth-server/openplatform-oauth/revoke_token",
];

both_backends! {
    async fn bad_client_secrets_are_throttled_at_every_endpoint(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.client_auth_failures_per_client = 3;
            s.client_auth_failures_per_ip = 1000;
        }, Route::new()).await;
        for endpoint in CLIENT_AUTH_ENDPOINTS {
            let app = server.client(password_client()).await;
            let secret = app.secret.clone().unwrap();
            // Before any failure, the right secret is accepted.
            let (status, _, error) = authenticate_at(&server.base, endpoint, &app.client_id, &secret).await;
            assert!(status == 200 || (status == 400 && endpoint.contains("check_token")), "{endpoint}: {status} {error}");
            for i in 0..3 {
                let (status, retry, error) = authenticate_at(&server.base, endpoint, &app.client_id, &format!("bad{i}")).await;
                assert_eq!((status, error.as_str(), retry), (401, "invalid_client", None), "{endpoint}");
            }
            // Over the limit: even the right secret is refused, with a time to wait.
            let (status, retry, error) = authenticate_at(&server.base, endpoint, &app.client_id, &secret).await;
            assert_eq!((status, error.as_str()), (429, "slow_down"), "{endpoint}");
            assert_eq!(retry.as_deref(), Some("60"), "{endpoint}");
        }
        server.stop().await;
    }

    async fn one_client_throttle_across_endpoints_and_instances(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.client_auth_failures_per_client = 4;
            s.client_auth_failures_per_ip = 1000;
        }, Route::new()).await;
        let other = second_instance(&server, |_| {}).await;
        let app = server.client(password_client()).await;
        let secret = app.secret.clone().unwrap();
        // Four failures spread over endpoints and instances count as one client's four.
        for (base, endpoint) in [(&server.base, "/oauth/token"), (&other, "/oauth/introspect"), (&server.base, "/oauth/revoke"), (&other, "/oauth-server/oauth/check_token")] {
            assert_eq!(authenticate_at(base, endpoint, &app.client_id, "bad").await.0, 401);
        }
        for base in [&server.base, &other] {
            for endpoint in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
                let (status, retry, _) = authenticate_at(base, endpoint, &app.client_id, &secret).await;
                assert_eq!((status, retry.as_deref()), (429, Some("60")), "{base}{endpoint}");
            }
        }
        // Another client is not affected.
        let fine = server.client(password_client()).await;
        assert_eq!(authenticate_at(&other, "/oauth/token", &fine.client_id, fine.secret.as_deref().unwrap()).await.0, 200);
        server.stop().await;
    }

    async fn client_authentication_is_throttled_per_address(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.client_auth_failures_per_client = 1000;
            s.client_auth_failures_per_ip = 4;
        }, Route::new()).await;
        // Guessing across client ids (known or not) from one address.
        for i in 0..4 {
            let (status, _, _) = authenticate_at(&server.base, "/oauth/token", &format!("guess{i}"), "bad").await;
            assert_eq!(status, 401);
        }
        let app = server.client(password_client()).await;
        let (status, retry, error) = authenticate_at(&server.base, "/oauth/introspect", &app.client_id, app.secret.as_deref().unwrap()).await;
        assert_eq!((status, error.as_str(), retry.as_deref()), (429, "slow_down", Some("60")));
        server.stop().await;
    }

    async fn successful_client_authentication_is_never_throttled(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.client_auth_failures_per_client = 2;
            s.client_auth_failures_per_ip = 2;
        }, Route::new()).await;
        let app = server.client(password_client()).await;
        let secret = app.secret.clone().unwrap();
        // Many at once: in-flight successes must not count as failures.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (base, id, secret) = (server.base.clone(), app.client_id.clone(), secret.clone());
                tokio::spawn(async move { authenticate_at(&base, "/oauth/token", &id, &secret).await.0 })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        // One failure stays under the limit of two.
        assert_eq!(authenticate_at(&server.base, "/oauth/token", &app.client_id, "bad").await.0, 401);
        assert_eq!(authenticate_at(&server.base, "/oauth/token", &app.client_id, &secret).await.0, 200);
        server.stop().await;
    }
}

both_backends! {
    async fn attempt_kinds_are_counted_apart_in_the_store(db: Backend) {
        use scopegate::core::throttle::AttemptKind::{ClientSecret, Password};
        let server = TestServer::start(db).await;
        let store = server.store();
        let now = scopegate::core::now();
        let since = now - 60;
        let first = store.begin_attempt(Password, "alice", "10.0.0.1", now, since).await.unwrap();
        assert_eq!((first.by_user, first.by_ip), (1, 1));
        // A client id spelled like a username, from the same address: its own count.
        let client = store.begin_attempt(ClientSecret, "alice", "10.0.0.1", now, since).await.unwrap();
        assert_eq!((client.by_user, client.by_ip), (1, 1));
        let second = store.begin_attempt(Password, "bob", "10.0.0.1", now, since).await.unwrap();
        assert_eq!((second.by_user, second.by_ip), (1, 2));
        let counts = store.count_attempts(Password, "alice", "10.0.0.2", since).await.unwrap();
        assert_eq!((counts.by_user, counts.by_ip), (1, 0));
        // Attempts older than the window do not count; forgotten ones neither.
        store.begin_attempt(Password, "alice", "10.0.0.1", now - 120, since).await.unwrap();
        store.end_attempt(first.id).await.unwrap();
        let counts = store.count_attempts(Password, "alice", "10.0.0.1", since).await.unwrap();
        assert_eq!((counts.by_user, counts.by_ip), (0, 1));
        let counts = store.count_attempts(ClientSecret, "alice", "10.0.0.1", since).await.unwrap();
        assert_eq!((counts.by_user, counts.by_ip), (1, 1));
        server.stop().await;
    }
}
