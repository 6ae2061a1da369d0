//! Throughput of the same trivial handler, unguarded and behind `#[oauth_required]`, measured
//! with `wrk -t1 -c16` in one run.
//!
//! Run it with `scripts/bench-guard` (release build). It serves on 127.0.0.1 only, over a
//! throwaway SQLite database, and stops its own server when done.

use std::process::{Command, ExitCode};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, get, handler};
use scopegate::core::client_rules::{ClientDraft, ClientRules};
use scopegate::core::model::{Approval, GrantType, NewToken, NewUser, TokenKind};
use scopegate::core::secret::{generate_token, hash_secret};
use scopegate::oauth_required;

#[handler]
fn plain() -> &'static str {
    "ok"
}

/// Run the benchmark.
#[oauth_required(scope = "bench:run")]
#[handler]
fn guarded() -> &'static str {
    "ok"
}

/// Requests per second that `wrk` reports for `url`.
fn wrk(url: &str, token: &str, seconds: u32) -> Result<f64, String> {
    let out = Command::new("wrk")
        .args(["-t1", "-c16", &format!("-d{seconds}s")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install -y wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("{url} answered errors:\n{text}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))
}

async fn run(seconds: u32) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("scopegate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let settings = scopegate::settings::Settings {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        debug: true,
        log: "warn".into(),
        ..Default::default()
    };
    let state = tokio::task::spawn_blocking(move || scopegate::web::build_state(settings))
        .await
        .map_err(|e| e.to_string())??;
    let store = state.store.clone();
    let user = store
        .create_user(NewUser {
            username: "bench".into(),
            email: "bench@example.com".into(),
            password_hash: "-".into(),
            is_superuser: false,
        })
        .await
        .map_err(|e| e.to_string())?;
    let draft = ClientDraft {
        name: "bench".into(),
        client_type: "public".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        scopes: vec!["bench:run".into()],
        ..ClientDraft::default()
    };
    let rules = ClientRules {
        debug: true,
        registered_scopes: None,
    };
    let (new, _) = draft
        .validate(&rules)
        .map_err(|e| e.to_string())?
        .into_new_client(Approval::Approved, None);
    let client = store.create_client(new).await.map_err(|e| e.to_string())?;
    let token = generate_token();
    let now = scopegate::core::now();
    store
        .issue_tokens(
            NewToken {
                token_hash: hash_secret(&token),
                kind: TokenKind::Access,
                client_id: client.id,
                user_id: Some(user.id),
                scope: "bench:run".parse().map_err(|_| "scope")?,
                grant_id: generate_token(),
                created_at: now,
                expires_at: now + 3600,
                auth_time: None,
            },
            None,
            GrantType::Password,
        )
        .await
        .map_err(|e| e.to_string())?;

    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .map_err(|e| e.to_string())?;
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .ok_or("no TCP address")?;
    let routes = Route::new()
        .at("/plain", get(plain))
        .at("/guarded", get(guarded));
    let app = scopegate::web::app(state, routes);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                None,
            )
            .await;
    });

    let base = format!("http://{addr}");
    let (plain_url, guarded_url) = (format!("{base}/plain"), format!("{base}/guarded"));
    let measured = tokio::task::spawn_blocking(move || {
        // A short warm-up of each, then the measured runs.
        wrk(&plain_url, &token, 1)?;
        wrk(&guarded_url, &token, 1)?;
        Ok::<_, String>((
            wrk(&plain_url, &token, seconds)?,
            wrk(&guarded_url, &token, seconds)?,
        ))
    })
    .await
    .map_err(|e| e.to_string())?;
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    let (plain_rps, guarded_rps) = measured?;
    println!("unguarded: {plain_rps:.0} req/s");
    println!("guarded:   {guarded_rps:.0} req/s");
    println!("ratio:     {:.1}%", 100.0 * guarded_rps / plain_rps);
    Ok(())
}

fn main() -> ExitCode {
    let seconds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(seconds)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
