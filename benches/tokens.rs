//! Tokens issued per second by the code exchange and by refresh, on SQLite and PostgreSQL.
//!
//! `cargo bench --bench tokens` (PostgreSQL on 127.0.0.1:5432, or `SCOPEGATE_TEST_PG`).
//! Knobs: `BENCH_N` requests per case (default 3000), `BENCH_CONCURRENCY` (default 16).
//! The server and the load run in one process on loopback, so on a 2-core machine the numbers
//! are a floor; compare runs on the same machine, not across machines.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use diesel::{Connection, PgConnection, RunQueryDsl};
use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use scopegate::core::client_rules::{ClientDraft, ClientRules};
use scopegate::core::model::{Approval, GrantType, NewCode, NewToken, NewUser, TokenKind};
use scopegate::core::now;
use scopegate::core::secret::{generate_token, hash_secret};
use scopegate::core::store::prelude::*;
use scopegate::settings::Settings;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Target {
    base: String,
    store: Arc<dyn Store>,
    client_pk: i64,
    user_pk: i64,
    client_id: String,
    secret: String,
}

async fn start(database_url: String) -> (Target, tokio::sync::oneshot::Sender<()>) {
    let settings = Settings {
        database_url,
        debug: true,
        log: "warn".into(),
        ..Settings::default()
    };
    let state = tokio::task::spawn_blocking(move || scopegate::web::build_state(settings))
        .await
        .unwrap()
        .unwrap();
    let store = state.store.clone();
    let user = store
        .create_user(NewUser {
            username: "bench".into(),
            email: String::new(),
            password_hash: "x".into(),
            is_superuser: false,
        })
        .await
        .unwrap();
    let draft = ClientDraft {
        client_id: Some("bench-client".into()),
        name: "Bench".into(),
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        scopes: vec!["polls:vote".into()],
        code_lifetime: Some("3600".into()),
        ..ClientDraft::default()
    };
    let rules = ClientRules {
        debug: true,
        registered_scopes: None,
        signs_jwts: false,
    };
    let (new, secret) = draft
        .validate(&rules)
        .unwrap()
        .into_new_client(Approval::Approved, None);
    let secret = secret.unwrap();
    let client = store.create_client(new).await.unwrap();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let app = scopegate::web::app(state, Route::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                None,
            )
            .await
    });
    (
        Target {
            base: format!("http://{addr}"),
            store,
            client_pk: client.id,
            user_pk: user.id,
            client_id: client.client_id,
            secret,
        },
        stop,
    )
}

/// Sends one token request per form, `concurrency` at a time; returns requests per second.
async fn drive(t: &Target, forms: Vec<Vec<(&'static str, String)>>, concurrency: usize) -> f64 {
    let http = reqwest::Client::new();
    let queue = Arc::new(tokio::sync::Mutex::new(forms));
    let total = queue.lock().await.len();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let queue = queue.clone();
        let http = http.clone();
        let url = format!("{}/oauth/token", t.base);
        let (id, secret) = (t.client_id.clone(), t.secret.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(form) = queue.lock().await.pop() else {
                    break;
                };
                let resp = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    resp.status(),
                    200,
                    "{}",
                    resp.text().await.unwrap_or_default()
                );
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn bench(label: &str, database_url: String, n: usize, concurrency: usize) {
    let (t, stop) = start(database_url).await;
    let mut forms = Vec::with_capacity(n);
    for _ in 0..n {
        let code = generate_token();
        t.store
            .create_code(NewCode {
                code_hash: hash_secret(&code),
                client_id: t.client_pk,
                user_id: t.user_pk,
                redirect_uri: "http://127.0.0.1:9/cb".into(),
                redirect_uri_given: false,
                scope: "polls:vote".parse().unwrap(),
                pkce: None,
                grant_id: generate_token(),
                expires_at: now() + 3600,
                nonce: None,
                auth_time: now(),
                resource: None,
            })
            .await
            .unwrap();
        forms.push(vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
        ]);
    }
    let exchange = drive(&t, forms, concurrency).await;

    let mut forms = Vec::with_capacity(n);
    for _ in 0..n {
        let (access, refresh) = (generate_token(), generate_token());
        let row = |value: &str, kind| NewToken {
            token_hash: hash_secret(value),
            kind,
            client_id: t.client_pk,
            user_id: Some(t.user_pk),
            scope: "polls:vote".parse().unwrap(),
            grant_id: generate_token(),
            created_at: now(),
            expires_at: now() + 3600,
            auth_time: None,
            resource: None,
        };
        let mut refresh_row = row(&refresh, TokenKind::Refresh);
        let mut access_row = row(&access, TokenKind::Access);
        access_row.grant_id = refresh_row.grant_id.clone();
        refresh_row.created_at = now();
        t.store
            .issue_tokens(access_row, Some(refresh_row), GrantType::Password)
            .await
            .unwrap();
        forms.push(vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh),
        ]);
    }
    let refresh = drive(&t, forms, concurrency).await;
    println!(
        "{label:<10}  code exchange {exchange:>8.0} tokens/s   refresh {refresh:>8.0} tokens/s"
    );
    let _ = stop.send(());
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_N", 3000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 16);
    println!(
        "scopegate token issuance: {n} requests per case, {concurrency} concurrent, loopback HTTP"
    );

    let dir = tempfile::tempdir().unwrap();
    bench(
        "sqlite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
        n,
        concurrency,
    )
    .await;

    let base = std::env::var("SCOPEGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("scopegate_bench_{}", std::process::id());
    let mut admin =
        PgConnection::establish(&format!("{base}/postgres")).expect("PostgreSQL for the benchmark");
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    bench("postgres", format!("{base}/{name}"), n, concurrency).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin);
}
