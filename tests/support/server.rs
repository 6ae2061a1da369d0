//! A scopegate server on a real socket (in this process, or another instance as a child
//! process), and the accounts, scopes and clients a test sets up on it.

use std::sync::Arc;

use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use scopegate::core::client_rules::{ClientDraft, ClientRules, ValidClient};
use scopegate::core::model::{
    Approval, Client, ClientPermissions, ClientType, GrantType, NewUser, TokenOptions, User,
};
use scopegate::core::secret::{generate_id, hash_password};
use scopegate::core::store::prelude::*;
use scopegate::settings::Settings;
use scopegate::web::State;

use super::db::{Backend, TestDb};

/// Settings for a test server: debug on (plain HTTP), the given database.
pub fn test_settings(db: &TestDb) -> Settings {
    Settings {
        database_url: db.url.clone(),
        debug: true,
        pool_size: 8,
        ..Settings::default()
    }
}

/// Sends the servers' warnings to the test harness's capture, so a failing test shows its own
/// log lines and a passing one prints nothing (an in-process `serve` would otherwise log to
/// stderr for the whole test binary and bury the failures).
fn quiet_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
}

/// A running scopegate server. Dropping it stops the server and removes the database.
pub struct TestServer {
    pub base: String,
    pub state: State,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub db: TestDb,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}, Route::new()).await
    }

    /// Starts a server after `tweak` adjusts its settings, with extra host routes.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        host: Route,
    ) -> TestServer {
        Self::launch(backend, tweak, scopegate::web::build_state, host).await
    }

    /// `start_with`, but the state is built by `build` from the test settings (a host's
    /// user-info provider, for instance).
    pub async fn start_custom(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        build: impl FnOnce(Settings) -> Result<State, String> + Send + 'static,
    ) -> TestServer {
        Self::launch(backend, tweak, build, Route::new()).await
    }

    /// Starts a server and its database; `build` makes the state (e.g. with a host's
    /// user-info provider), `host` adds the host's routes.
    pub async fn launch(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        build: impl FnOnce(Settings) -> Result<State, String> + Send + 'static,
        host: Route,
    ) -> TestServer {
        quiet_logs();
        let db = TestDb::new(backend);
        let mut settings = test_settings(&db);
        tweak(&mut settings);
        let state = tokio::task::spawn_blocking(move || build(settings))
            .await
            .unwrap()
            .expect("state");
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("tcp address");
        let timeouts = scopegate::web::server::Timeouts::from_settings(&state.settings);
        let app = scopegate::web::app(state.clone(), host);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = scopegate::web::server::serve(acceptor, app, timeouts, async move {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer {
            base: format!("http://{addr}"),
            state,
            stop: Some(stop),
            task: Some(task),
            db,
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server and waits for it, so the database can be dropped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub async fn user(&self, username: &str, password: &str) -> User {
        self.account(username, password, false).await
    }

    /// An account with `username@example.com`; a superuser when `superuser`.
    pub async fn account(&self, username: &str, password: &str, superuser: bool) -> User {
        let hash = hash_password(password).unwrap();
        self.store()
            .create_user(NewUser {
                username: username.into(),
                email: format!("{username}@example.com"),
                password_hash: hash,
                is_superuser: superuser,
            })
            .await
            .unwrap()
    }

    /// A superuser account.
    pub async fn superuser(&self, username: &str, password: &str) -> User {
        self.account(username, password, true).await
    }

    /// Registers (or re-describes) a scope.
    pub async fn scope(&self, name: &str, description: &str) {
        self.store().save_scope(name, description).await.unwrap();
    }

    /// Registers a client as `spec` describes it.
    pub async fn client(&self, spec: ClientSpec) -> TestClient {
        let (new, secret) = valid(spec.draft()).into_new_client(spec.approval.clone(), None);
        let client = self.store().create_client(new).await.unwrap();
        TestClient {
            client_id: client.client_id.clone(),
            client,
            secret,
            redirect_uri: spec.redirect_uris.first().cloned().unwrap_or_default(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a test client should look like; the default is an approved confidential client with the
/// code and refresh_token grants, one redirect URI, the scopes `polls:vote polls:stats` and no
/// extra permissions.
#[derive(Clone)]
pub struct ClientSpec {
    pub name: String,
    pub client_type: ClientType,
    pub grants: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub tokens: TokenOptions,
    pub scopes: String,
    pub approval: Approval,
    pub code_lifetime: Option<i64>,
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub permissions: ClientPermissions,
}

impl Default for ClientSpec {
    fn default() -> Self {
        ClientSpec {
            name: "Test App".into(),
            client_type: ClientType::Confidential,
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: Vec::new(),
            tokens: TokenOptions::default(),
            scopes: "polls:vote polls:stats".into(),
            approval: Approval::Approved,
            code_lifetime: None,
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            permissions: ClientPermissions::default(),
        }
    }
}

impl ClientSpec {
    pub fn public() -> Self {
        ClientSpec {
            client_type: ClientType::Public,
            ..Self::default()
        }
    }
}

/// A registered client and its plain credentials.
#[derive(Clone)]
pub struct TestClient {
    pub client: Client,
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl ClientSpec {
    /// The spec as a draft of the client rules.
    pub fn draft(&self) -> ClientDraft {
        let text = |v: Option<i64>| v.map(|n| n.to_string());
        ClientDraft {
            client_id: Some(generate_id(24)),
            name: self.name.clone(),
            client_type: self.client_type.as_str().into(),
            grant_types: self.grants.iter().map(|g| g.as_str().into()).collect(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            id_token_alg: self.tokens.alg.as_str().into(),
            subject_type: self.tokens.subject_type.as_str().into(),
            access_token_format: self.tokens.access.as_str().into(),
            scopes: self.scopes.split_whitespace().map(Into::into).collect(),
            code_lifetime: text(self.code_lifetime),
            access_token_lifetime: text(self.access_token_lifetime),
            refresh_token_lifetime: text(self.refresh_token_lifetime),
            permissions: self.permissions,
        }
    }
}

/// A client the store accepts: `draft` checked by the client rules as the pages check it on a
/// debug server, but with any scope.
pub fn valid(draft: ClientDraft) -> ValidClient {
    draft
        .validate(&ClientRules {
            debug: true,
            registered_scopes: None,
            signs_jwts: true,
        })
        .unwrap_or_else(|e| panic!("a test client breaks the client rules: {e}"))
}

/// `client`'s settings with `change` made, checked as an edit is.
pub fn edited(client: &Client, change: impl FnOnce(&mut ClientDraft)) -> ValidClient {
    let mut draft = ClientDraft::of(client);
    change(&mut draft);
    valid(draft)
}

/// A plain HTTP client without cookies or redirects (API calls).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A TCP port free on loopback now, for a server process to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Another instance: `scopegate serve` in a process of its own on `database_url`, stopped (by
/// its PID) when dropped.
pub struct Instance {
    pub base: String,
    child: std::process::Child,
}

impl Instance {
    /// Starts it and waits until `/health/ready` says ready with its change feed live.
    pub async fn start(database_url: &str) -> Instance {
        Self::start_with(database_url, &[]).await
    }

    /// [`Instance::start`] with extra environment variables (settings).
    pub async fn start_with(database_url: &str, env: &[(&str, &str)]) -> Instance {
        Self::start_on(free_port(), database_url, env).await
    }

    /// [`Instance::start_with`] on a given port (a restart where the last one listened).
    pub async fn start_on(port: u16, database_url: &str, env: &[(&str, &str)]) -> Instance {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_scopegate"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("SCOPEGATE_DEBUG", "true")
            .env("SCOPEGATE_LOG", "warn")
            .env_remove("SCOPEGATE_CONFIG")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start scopegate serve");
        let instance = Instance {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        instance.wait_for_feed("live").await;
        instance
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// What `/health/ready` says of the change feed (`live`, `down`), if it answers.
    pub async fn feed(&self) -> Option<String> {
        let resp = http().get(self.url("/health/ready")).send().await.ok()?;
        let body: serde_json::Value = resp.json().await.ok()?;
        body["change_feed"].as_str().map(str::to_owned)
    }

    /// Waits (at most 30 s) until the change feed is in `state`.
    pub async fn wait_for_feed(&self, state: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.feed().await.as_deref() != Some(state) {
            assert!(
                std::time::Instant::now() < deadline,
                "the instance's change feed never became {state}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scopegate rotate-keys --signs-in 60` on `database_url` with `kek`; what it printed.
pub fn rotate_keys(database_url: &str, kek: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scopegate"))
        .args(["rotate-keys", "--signs-in", "60"])
        .env("DATABASE_URL", database_url)
        .env("SCOPEGATE_KEY_ENCRYPTION_KEY", kek)
        .env_remove("SCOPEGATE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GETs `url` and parses its JSON body.
pub async fn get_json(url: &str) -> serde_json::Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}
