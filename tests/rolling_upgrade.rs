//! Rolling upgrades (issue 11): the previous release keeps serving while this build migrates the
//! shared database, and both serve side by side on it afterwards.
//!
//! The previous release's `polls` demo binary is named by `SCOPEGATE_PREVIOUS_POLLS`; `.ci/run`
//! builds it from the last tag (or the commit in `.ci/previous-release`) and sets it. Without it
//! the test says so and passes; with it set to a path that is not there, it fails.
//!
//! The rule that makes this hold, migrations additive within a release, is
//! [`every_migration_is_additive`], and docs/operations.md ("Rolling upgrades") writes it down.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::both_backends;
use crate::support::{Instance, TestDb, free_port, http};

/// The environment variable naming the previous release's polls binary.
const PREVIOUS: &str = "SCOPEGATE_PREVIOUS_POLLS";
const CURRENT: &str = env!("CARGO_BIN_EXE_scopegate");

/// Runs `bin` on `db` with `args` (and `stdin`); returns success and stdout, or panics with the
/// command's stderr.
fn run(bin: &str, db: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", db)
        .env("SCOPEGATE_LOG", "warn")
        .env_remove("SCOPEGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
    let input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        let mut input = input;
        input.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The previous release's `polls serve`, stopped (by its PID) when dropped.
struct Previous {
    base: String,
    child: Child,
}

impl Previous {
    async fn serve(bin: &str, db: &str) -> Previous {
        let port = free_port();
        let child = Command::new(bin)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", db)
            .env("SCOPEGATE_DEBUG", "true")
            .env("SCOPEGATE_LOG", "warn")
            .env_remove("SCOPEGATE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the previous release");
        let previous = Previous {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let alive = http().get(previous.url("/health/alive")).send().await;
            if alive.is_ok_and(|r| r.status() == 200) {
                break previous;
            }
            assert!(
                Instant::now() < deadline,
                "the previous release never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Previous {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client's credentials, as `register-client --json` printed them.
struct Creds {
    id: String,
    secret: String,
}

async fn post(base: &str, path: &str, app: &Creds, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(format!("{base}{path}"))
        .basic_auth(&app.id, Some(&app.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn password_grant(base: &str, app: &Creds, scope: &str) -> Value {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "pw-alice-123"),
        ("scope", scope),
    ];
    let (status, body) = post(base, "/oauth/token", app, &form).await;
    assert_eq!(status, 200, "{base}: {body}");
    body
}

async fn active(base: &str, app: &Creds, token: &str) -> bool {
    let (status, body) = post(base, "/oauth/introspect", app, &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    body["active"].as_bool().unwrap()
}

async fn stats(base: &str, token: Option<&str>) -> u16 {
    let mut req = http().get(format!("{base}/polls/stats"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {v}"))
        .to_owned()
}

both_backends! {
    async fn the_previous_release_serves_while_this_build_migrates(db: Backend) {
        let Some(previous) = std::env::var_os(PREVIOUS) else {
            eprintln!(
                "skipped: {PREVIOUS} is not set (.ci/run builds the previous release's polls \
                 binary and sets it; see docs/operations.md, Rolling upgrades)"
            );
            return;
        };
        let previous = previous.to_string_lossy().into_owned();
        assert!(Path::new(&previous).is_file(), "{PREVIOUS}={previous} is not a file");
        let db = TestDb::new(db);

        // The previous release makes its own schema and serves on it.
        let old = Previous::serve(&previous, &db.url).await;
        run(&previous, &db.url, &["syncscopes", "polls"], None);
        run(&previous, &db.url, &["createuser", "--username", "alice", "--password-stdin"], Some("pw-alice-123\n"));
        let printed = run(&previous, &db.url, &[
            "register-client", "--name", "Upgrade", "--redirect-uri", "http://127.0.0.1:9/cb",
            "--grant-type", "password", "refresh_token", "--client-type", "confidential",
            "--scope", "polls:vote", "polls:stats", "--approved", "--json",
        ], None);
        let printed: Value = serde_json::from_str(printed.trim()).unwrap();
        let app = Creds { id: field(&printed, "client_id"), secret: field(&printed, "client_secret") };
        let before = password_grant(&old.base, &app, "polls:stats").await;
        let before_access = field(&before, "access_token");
        assert_eq!(stats(&old.base, Some(&before_access)).await, 200);

        // This build migrates the shared database under it.
        run(CURRENT, &db.url, &["migrate"], None);

        // The previous release goes on: what it issued before still works, and it issues,
        // guards, introspects, refreshes and revokes on the migrated schema.
        assert_eq!(stats(&old.base, Some(&before_access)).await, 200, "a token from before the migration");
        assert!(active(&old.base, &app, &before_access).await);
        let tokens = password_grant(&old.base, &app, "polls:vote polls:stats").await;
        let access = field(&tokens, "access_token");
        assert_eq!(stats(&old.base, Some(&access)).await, 200, "guarded, with the scope");
        assert_eq!(stats(&old.base, None).await, 401, "guarded, without a token");
        let narrow = password_grant(&old.base, &app, "polls:vote").await;
        assert_eq!(stats(&old.base, Some(&field(&narrow, "access_token"))).await, 403, "guarded, without the scope");
        assert!(active(&old.base, &app, &access).await);
        let form = [("grant_type", "refresh_token"), ("refresh_token", &field(&tokens, "refresh_token"))];
        let (status, rotated) = post(&old.base, "/oauth/token", &app, &form[..]).await;
        assert_eq!(status, 200, "{rotated}");
        assert!(!active(&old.base, &app, &access).await, "rotation ends the old access token");
        let rotated_access = field(&rotated, "access_token");
        assert_eq!(stats(&old.base, Some(&rotated_access)).await, 200);
        let (status, _) = post(&old.base, "/oauth/revoke", &app, &[("token", &field(&rotated, "refresh_token"))]).await;
        assert_eq!(status, 200);
        assert!(!active(&old.base, &app, &rotated_access).await, "revoking the refresh token ends its family");
        assert_eq!(stats(&old.base, Some(&rotated_access)).await, 401);

        // This build serves beside it on the same database: each honours the other's tokens.
        let new = Instance::start(&db.url).await;
        assert!(active(&new.base, &app, &before_access).await, "the new release reads the old one's token");
        assert!(!active(&new.base, &app, &rotated_access).await, "and its revocation");
        let fresh = field(&password_grant(&new.base, &app, "polls:stats").await, "access_token");
        assert!(active(&old.base, &app, &fresh).await, "the old release reads the new one's token");
        assert_eq!(stats(&old.base, Some(&fresh)).await, 200);
        // A revocation on either is honoured by the other: the old release caches nothing, and
        // the triggers this build's migration installed announce the old release's writes too.
        let (status, _) = post(&new.base, "/oauth/revoke", &app, &[("token", &before_access)]).await;
        assert_eq!(status, 200);
        assert_eq!(stats(&old.base, Some(&before_access)).await, 401, "revoked by the new release");
        assert!(active(&new.base, &app, &fresh).await, "cached by the new release");
        let (status, _) = post(&old.base, "/oauth/revoke", &app, &[("token", &fresh)]).await;
        assert_eq!(status, 200);
        let deadline = Instant::now() + Duration::from_secs(2);
        while active(&new.base, &app, &fresh).await {
            assert!(Instant::now() < deadline, "the new release never heard the old one's revocation");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(new);
        drop(old);
    }
}

/// Every `up.sql` of both backends, as (path, text without `--` comments).
fn migrations() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut found = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let mut dirs: Vec<_> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        for dir in dirs {
            let up = dir.join("up.sql");
            let text = std::fs::read_to_string(&up).unwrap();
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect();
            found.push((up.display().to_string(), code.join("\n")));
        }
    }
    found
}

/// What an `up.sql` does that a previous release still running on the database would trip on:
/// a table or column it reads dropped or renamed, a column's type or nullability changed, or a
/// new column its inserts do not name that has no default.
fn breaking(sql: &str) -> Vec<String> {
    let mut found = Vec::new();
    // Split at `;`: a trigger body is cut into pieces too, which only matters for what a piece
    // holds, and no column definition holds a `;`.
    for statement in sql.split(';') {
        let words: Vec<String> = statement
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .map(str::to_uppercase)
            .collect();
        for (i, w) in words.iter().enumerate() {
            let next = words.get(i + 1).map(String::as_str).unwrap_or("");
            match (w.as_str(), next) {
                ("DROP", "TABLE" | "COLUMN" | "VIEW") => found.push(format!("DROP {next}")),
                ("RENAME", _) => found.push("RENAME".into()),
                ("ALTER", "COLUMN") => found.push("ALTER COLUMN".into()),
                ("ADD", "COLUMN") => {
                    // The definition runs to the next ADD or the statement's end.
                    let rest = &words[i + 2..];
                    let def = &rest[..rest.iter().position(|w| w == "ADD").unwrap_or(rest.len())];
                    let not_null = def.windows(2).any(|p| p[0] == "NOT" && p[1] == "NULL");
                    if not_null && !def.iter().any(|w| w == "DEFAULT") {
                        let name = def.first().map_or("", String::as_str);
                        found.push(format!("ADD COLUMN {name} NOT NULL without a DEFAULT"));
                    }
                }
                _ => {}
            }
        }
    }
    found
}

#[test]
fn every_migration_is_additive() {
    let broken: Vec<String> = migrations()
        .iter()
        .flat_map(|(path, sql)| {
            breaking(sql)
                .into_iter()
                .map(move |b| format!("{path}: {b}"))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "migrations must be additive within a release (docs/operations.md): {broken:#?}"
    );
}

#[test]
fn the_additivity_check_catches_what_it_names() {
    assert_eq!(
        breaking("ALTER TABLE tokens DROP COLUMN scope;"),
        ["DROP COLUMN"]
    );
    assert_eq!(breaking("drop table clients;"), ["DROP TABLE"]);
    assert_eq!(
        breaking("ALTER TABLE tokens RENAME TO old_tokens;"),
        ["RENAME"]
    );
    assert_eq!(
        breaking("ALTER TABLE t ALTER COLUMN a TYPE TEXT;"),
        ["ALTER COLUMN"]
    );
    assert_eq!(
        breaking("ALTER TABLE t ADD COLUMN k TEXT NOT NULL;"),
        ["ADD COLUMN K NOT NULL without a DEFAULT"]
    );
    assert!(breaking("ALTER TABLE t ADD COLUMN k TEXT NOT NULL DEFAULT 'x';").is_empty());
    assert!(
        breaking("ALTER TABLE t ADD COLUMN k BIGINT; CREATE INDEX t_k ON t(k); DROP TRIGGER x;")
            .is_empty()
    );
    let two = "ALTER TABLE t ADD COLUMN a TEXT NOT NULL DEFAULT '', ADD COLUMN b TEXT NOT NULL;";
    assert_eq!(breaking(two), ["ADD COLUMN B NOT NULL without a DEFAULT"]);
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |backend: &str| -> Vec<String> {
        let mut v: Vec<String> = migrations()
            .into_iter()
            .filter(|(p, _)| p.contains(&format!("/migrations/{backend}/")))
            .map(|(p, _)| {
                Path::new(&p)
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}
