//! Throughput of the same trivial handler, unguarded and behind `#[oauth_required]`, measured
//! with `wrk -t1 -c16` in one run.
//!
//! Run it with `scripts/bench-guard [SECONDS] [local|jwt|introspect]` (release build):
//! - `local` (default): the handler inside the authorization server, its token in the store;
//! - `jwt`: the handler in a resource server (`scopegate::resource_server`) that verifies an
//!   RFC 9068 JWT from the authorization server, which serves beside it;
//! - `introspect`: the same resource server asking the authorization server's introspection
//!   endpoint, its answer cached (the cache is warm after the warm-up).
//!
//! It serves on 127.0.0.1 only, over a throwaway SQLite database, and stops its servers when
//! done.

use std::process::{Command, ExitCode};

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, Route, get, handler};
use scopegate::core::client_rules::{ClientDraft, ClientRules};
use scopegate::core::model::{Approval, ClientPermissions, NewUser};
use scopegate::oauth_required;
use scopegate::resource_server::{Config, ResourceServer, Validation};

/// A `key_encryption_key` for the benchmark's throwaway keys (32 bytes, base64).
const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

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

fn routes() -> Route {
    Route::new()
        .at("/plain", get(plain))
        .at("/guarded", get(guarded))
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

/// A server on a free loopback port, stopped when `stop` is sent or dropped.
struct Served {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// A listener on a free loopback port, and its base URL.
async fn bind() -> Result<(TcpAcceptor, String), String> {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .map_err(|e| e.to_string())?;
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .ok_or("no TCP address")?;
    Ok((acceptor, format!("http://{addr}")))
}

fn spawn(acceptor: TcpAcceptor, base: String, app: impl Endpoint + 'static) -> Served {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
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
    Served { base, stop, task }
}

impl Served {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Registers an approved client as `draft` says; returns its id and secret.
async fn client(
    store: &dyn scopegate::core::store::Store,
    draft: ClientDraft,
) -> Result<(String, String), String> {
    let rules = ClientRules {
        debug: true,
        registered_scopes: None,
        signs_jwts: true,
    };
    let (new, secret) = draft
        .validate(&rules)
        .map_err(|e| e.to_string())?
        .into_new_client(Approval::Approved, None);
    let made = store.create_client(new).await.map_err(|e| e.to_string())?;
    Ok((made.client_id, secret.unwrap_or_default()))
}

/// A client_credentials token for `bench:run`, for `resource` when given.
async fn token(
    issuer: &str,
    (id, secret): &(String, String),
    resource: Option<&str>,
) -> Result<String, String> {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", "bench:run")];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token: {answer}"))
}

fn draft(name: &str, access_token_format: &str) -> ClientDraft {
    ClientDraft {
        name: name.into(),
        client_type: "confidential".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: vec!["bench:run".into()],
        access_token_format: access_token_format.into(),
        ..ClientDraft::default()
    }
}

async fn run(seconds: u32, mode: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("scopegate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let settings = scopegate::settings::Settings {
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        debug: true,
        log: "warn".into(),
        key_encryption_key: Some(KEK.into()),
        ..Default::default()
    };
    let state = tokio::task::spawn_blocking(move || scopegate::web::build_state(settings))
        .await
        .map_err(|e| e.to_string())??;
    let store = state.store.clone();
    store
        .create_user(NewUser {
            username: "bench".into(),
            email: "bench@example.com".into(),
            password_hash: "-".into(),
            is_superuser: false,
        })
        .await
        .map_err(|e| e.to_string())?;
    let (acceptor, base) = bind().await?;
    let issuer = spawn(acceptor, base, scopegate::web::app(state, routes()));

    // The service measured: the authorization server itself, or a resource server beside it.
    let (service, token) = match mode {
        "local" => {
            let app = client(store.as_ref(), draft("bench", "opaque")).await?;
            (None, token(&issuer.base, &app, None).await?)
        }
        "jwt" | "introspect" => {
            let (acceptor, resource) = bind().await?;
            let validation = if mode == "jwt" {
                Validation::Jwt
            } else {
                let (client_id, client_secret) = client(
                    store.as_ref(),
                    ClientDraft {
                        permissions: ClientPermissions {
                            resource_server: true,
                            ..ClientPermissions::default()
                        },
                        ..draft("bench api", "opaque")
                    },
                )
                .await?;
                Validation::Introspect {
                    client_id,
                    client_secret,
                }
            };
            let format = if mode == "jwt" { "jwt" } else { "opaque" };
            let app = client(store.as_ref(), draft("bench", format)).await?;
            let token = token(&issuer.base, &app, Some(&resource)).await?;
            let server = ResourceServer::new(Config::new(&issuer.base, &resource, validation))?;
            (Some(spawn(acceptor, resource, server.app(routes()))), token)
        }
        other => {
            return Err(format!(
                "unknown mode {other:?}: use local, jwt or introspect"
            ));
        }
    };
    let base = service
        .as_ref()
        .map_or(issuer.base.clone(), |s| s.base.clone());
    let (plain_url, guarded_url) = (format!("{base}/plain"), format!("{base}/guarded"));
    let measured = tokio::task::spawn_blocking(move || {
        // A short warm-up of each (it fills the resource server's caches), then the runs.
        wrk(&plain_url, &token, 1)?;
        wrk(&guarded_url, &token, 1)?;
        Ok::<_, String>((
            wrk(&plain_url, &token, seconds)?,
            wrk(&guarded_url, &token, seconds)?,
        ))
    })
    .await
    .map_err(|e| e.to_string())?;
    if let Some(service) = service {
        service.stop().await;
    }
    issuer.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let (plain_rps, guarded_rps) = measured?;
    println!("mode:      {mode}");
    println!("unguarded: {plain_rps:.0} req/s");
    println!("guarded:   {guarded_rps:.0} req/s");
    println!("ratio:     {:.1}%", 100.0 * guarded_rps / plain_rps);
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mode = args.next().unwrap_or_else(|| "local".into());
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(seconds, &mode)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
