//! Test support: a real scopegate server on a real socket over a throwaway database (a SQLite
//! file, or a PostgreSQL database created for the test and dropped after it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};
use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use scopegate::core::client_rules::{ClientDraft, ClientRules, ValidClient};
use scopegate::core::model::{
    Approval, Client, ClientPermissions, ClientType, GrantType, NewUser, User,
};
use scopegate::core::scope::ScopeSet;
use scopegate::core::secret::{generate_id, generate_token, hash_password, hash_secret};
use scopegate::core::store::prelude::*;
use scopegate::settings::Settings;
use scopegate::web::State;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($db:ident: Backend) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn __case($db: $crate::support::Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { __case($crate::support::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { __case($crate::support::Backend::Postgres).await }
        }
    )*};
}

/// The PostgreSQL server tests use: `SCOPEGATE_TEST_PG` or the local trust-auth default.
pub fn pg_base() -> String {
    std::env::var("SCOPEGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "scopegate_test_{}_{}_{}",
                    std::process::id(),
                    n,
                    generate_id(6).to_lowercase()
                );
                let mut admin = PgConnection::establish(&format!("{}/postgres", pg_base()))
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is needed at {} (set SCOPEGATE_TEST_PG): {e}",
                            pg_base()
                        )
                    });
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create test database");
                TestDb {
                    url: format!("{}/{name}", pg_base()),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", pg_base()))
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// Settings for a test server: debug on (plain HTTP), the given database.
pub fn test_settings(db: &TestDb) -> Settings {
    Settings {
        database_url: db.url.clone(),
        debug: true,
        pool_size: 8,
        ..Settings::default()
    }
}

/// A running scopegate server. Dropping it stops the server and removes the database.
/// Sends the servers' warnings to the test harness's capture, so a failing test shows its own
/// log lines and a passing one prints nothing (an in-process `serve` would otherwise log to
/// stderr for the whole test binary and bury the failures).
fn quiet_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
}

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
        })
        .unwrap_or_else(|e| panic!("a test client breaks the client rules: {e}"))
}

/// `client`'s settings with `change` made, checked as an edit is.
pub fn edited(client: &Client, change: impl FnOnce(&mut ClientDraft)) -> ValidClient {
    let mut draft = ClientDraft::of(client);
    change(&mut draft);
    valid(draft)
}

impl TestServer {
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

    /// Runs `sql` against the test's database directly, past the store (a row an older release
    /// or a hand edit could have left).
    pub fn exec_sql(&self, sql: &str) {
        let url = self.db.url.clone();
        let sql = sql.to_owned();
        std::thread::spawn(move || match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                diesel::sql_query(sql).execute(&mut c).unwrap();
            }
            None => {
                let mut c = PgConnection::establish(&url).unwrap();
                diesel::sql_query(sql).execute(&mut c).unwrap();
            }
        })
        .join()
        .unwrap();
    }
}

/// A plain HTTP client without cookies or redirects (API calls).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Pulls `name="FIELD" value="..."` out of a page's HTML.
pub fn hidden_field(html: &str, field: &str) -> Option<String> {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The query parameters of a URL.
pub fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A browser: keeps cookies, does not follow redirects, reads forms like a person would.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        Self::at(&server.base)
    }

    /// A browser for a server at `base` (e.g. one started as a child process).
    pub fn at(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{}", self.base, url)
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.abs(url)).send().await.unwrap()
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.abs(url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the login form.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf field on the login page");
        self.post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }

    /// Opens an authorization URL as a signed-in user and answers the consent page with
    /// `decision`; returns where the browser was sent.
    pub async fn authorize(&self, url: &str, decision: &str) -> String {
        let resp = self.get(url).await;
        assert_eq!(resp.status(), 200, "expected the consent page for {url}");
        let page = resp.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf on consent page");
        let nonce = hidden_field(&page, "nonce").expect("nonce on consent page");
        let resp = self
            .post_form(
                "/oauth/authorize",
                &[
                    ("csrf_token", &csrf),
                    ("nonce", &nonce),
                    ("decision", decision),
                ],
            )
            .await;
        assert_eq!(resp.status(), 302, "consent answer should redirect");
        resp.headers()["location"].to_str().unwrap().to_owned()
    }
}

// Issue 5: admin and developer portal helpers.

impl TestServer {
    /// A superuser account.
    pub async fn superuser(&self, username: &str, password: &str) -> User {
        self.account(username, password, true).await
    }

    /// Registers (or re-describes) a scope.
    pub async fn scope(&self, name: &str, description: &str) {
        self.store().save_scope(name, description).await.unwrap();
    }
}

/// A description of exactly `n` words.
pub fn words(n: usize) -> String {
    (0..n)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Browser {
    /// GETs a page and returns its status and body.
    pub async fn page(&self, url: &str) -> (u16, String) {
        let resp = self.get(url).await;
        (resp.status().as_u16(), slashes(resp.text().await.unwrap()))
    }

    /// GETs `form_page`, takes its CSRF token (and nonce, if any), and POSTs `fields` plus those
    /// to `action`. Returns status, `Location` (if any) and body.
    pub async fn submit(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let page = self.get(form_page).await.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf_token on the form page");
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        let nonce = hidden_field(&page, "nonce");
        if let Some(n) = nonce.as_deref() {
            all.push(("nonce", n));
        }
        all.extend_from_slice(fields);
        let resp = self.post_form(action, &all).await;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, slashes(resp.text().await.unwrap()))
    }
}

/// Pulls the text of the element with `id="ID"` (up to the next `<`) out of a page.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)? + marker.len();
    let start = html[start..].find('>')? + start + 1;
    let end = html[start..].find('<')? + start;
    Some(html[start..end].trim().to_owned())
}

/// Exchanges an authorization code with client_secret_post; returns the token response JSON.
pub async fn exchange_code(
    server: &TestServer,
    client_id: &str,
    secret: &str,
    redirect_uri: &str,
    code: &str,
) -> serde_json::Value {
    let resp = http()
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "token exchange should succeed");
    resp.json().await.unwrap()
}

/// Asks `/oauth/introspect` whether `token` is active.
pub async fn is_active(server: &TestServer, client_id: &str, secret: &str, token: &str) -> bool {
    introspect_as(server, client_id, Some(secret), token).await["active"]
        .as_bool()
        .unwrap()
}

/// Tera's autoescape writes `/` as `&#x2F;`; pages are compared with plain slashes.
pub fn slashes(html: String) -> String {
    html.replace("&#x2F;", "/")
}
// Issue 4: grants and lifecycle
impl TestServer {
    /// `start_with`, but the state is built by `build` from the test settings (a host's
    /// user-info provider, for instance).
    pub async fn start_custom(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        build: impl FnOnce(Settings) -> Result<State, String> + Send + 'static,
    ) -> TestServer {
        Self::launch(backend, tweak, build, Route::new()).await
    }
}

// Issue 3: guards.

/// An access token issued straight into the store (no HTTP flow), valid for `lifetime` seconds
/// (negative: already expired). Returns the plain token and its grant id.
pub async fn issue_access_token(
    server: &TestServer,
    client: &TestClient,
    user: Option<&User>,
    scope: &str,
    lifetime: i64,
) -> (String, String) {
    use scopegate::core::model::{NewToken, TokenKind};
    let token = generate_token();
    let grant_id = generate_token();
    let now = scopegate::core::now();
    server
        .store()
        .issue_tokens(
            NewToken {
                token_hash: hash_secret(&token),
                kind: TokenKind::Access,
                client_id: client.client.id,
                user_id: user.map(|u| u.id),
                scope: scope.parse::<ScopeSet>().unwrap(),
                grant_id: grant_id.clone(),
                created_at: now,
                expires_at: now + lifetime,
            },
            None,
            if user.is_some() {
                GrantType::Password
            } else {
                GrantType::ClientCredentials
            },
        )
        .await
        .unwrap();
    (token, grant_id)
}

/// Introspects `token` as the client (Basic auth); the JSON answer.
pub async fn introspect(
    server: &TestServer,
    client: &TestClient,
    token: &str,
) -> serde_json::Value {
    introspect_as(server, &client.client_id, client.secret.as_deref(), token).await
}

/// Introspects `token` with these client credentials (Basic auth); the JSON answer.
pub async fn introspect_as(
    server: &TestServer,
    client_id: &str,
    secret: Option<&str>,
    token: &str,
) -> serde_json::Value {
    let resp = http()
        .post(server.url("/oauth/introspect"))
        .basic_auth(client_id, secret)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "introspection should answer");
    resp.json().await.unwrap()
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
        let port = free_port();
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
