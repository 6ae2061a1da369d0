//! Throughput of the token endpoint and of introspection, over real HTTP on both backends.
//!
//! Run: `cargo bench --bench throughput` (PostgreSQL on 127.0.0.1:5432 as for the tests;
//! `SCOPEGATE_BENCH_SECS` sets the seconds per case, default 3; `SCOPEGATE_BENCH_TASKS` the
//! concurrent clients, default 8). Prints tokens per second for client_credentials and password,
//! and introspections per second.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use poem::Route;
use scopegate::core::model::GrantType;
use support::{Backend, ClientSpec, TestClient, TestServer, http};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `tasks` loops of `form` against `path` for `secs` seconds; returns successes per second.
async fn measure(
    server: &TestServer,
    app: &TestClient,
    path: &str,
    form: Vec<(&'static str, String)>,
    tasks: u64,
    secs: u64,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (url, app, form) = (server.url(path), app.clone(), form.clone());
            tokio::spawn(async move {
                let client = http();
                let mut ok = 0u64;
                while Instant::now() < deadline {
                    let resp = client
                        .post(&url)
                        .basic_auth(&app.client_id, app.secret.as_deref())
                        .form(&form)
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success(), "{}", resp.status());
                    let _ = resp.bytes().await;
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn bench(backend: Backend, tasks: u64, secs: u64) {
    let server = TestServer::start_with(
        backend,
        |s| {
            s.password_attempts_per_user = 1_000_000;
            s.password_attempts_per_ip = 1_000_000;
            // One permit per client: the password case measures hashing throughput, not the
            // gate's fast 503 for the excess (tests/throttle.rs checks that bound).
            s.password_hash_concurrency = usize::try_from(tasks).unwrap_or(usize::MAX);
            s.log = "warn".into();
        },
        Route::new(),
    )
    .await;
    server.user("bench", "bench-password").await;
    let app = server
        .client(ClientSpec {
            grants: vec![GrantType::ClientCredentials, GrantType::Password],
            ..ClientSpec::default()
        })
        .await;
    let cc = vec![("grant_type", "client_credentials".to_owned())];
    let pw = vec![
        ("grant_type", "password".to_owned()),
        ("username", "bench".to_owned()),
        ("password", "bench-password".to_owned()),
    ];
    let rate_cc = measure(&server, &app, "/oauth/token", cc, tasks, secs).await;
    let rate_pw = measure(&server, &app, "/oauth/token", pw, tasks, secs).await;
    let token: serde_json::Value = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intro = vec![("token", token["access_token"].as_str().unwrap().to_owned())];
    let rate_in = measure(&server, &app, "/oauth/introspect", intro, tasks, secs).await;
    println!(
        "{backend:?}: client_credentials {rate_cc:.0} tokens/s, password {rate_pw:.1} tokens/s, introspection {rate_in:.0} /s"
    );
    server.stop().await;
}

fn main() {
    let tasks = env_num("SCOPEGATE_BENCH_TASKS", 8);
    let secs = env_num("SCOPEGATE_BENCH_SECS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{tasks} concurrent clients, {secs} s per case, server and clients on one machine");
    runtime.block_on(async {
        bench(Backend::Sqlite, tasks, secs).await;
        bench(Backend::Postgres, tasks, secs).await;
    });
}
