//! The command line, driven as a user would: the real binary, its output and exit codes, and a
//! full authorization-code flow against `serve` with users and clients made only by commands.

use std::io::Write;
use std::process::{Command, Stdio};

use scopegate::core::model::ClientPermissions;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, Browser, TestDb, TestServer, free_port, http, query_of};

const BIN: &str = env!("CARGO_BIN_EXE_scopegate");

/// What a run of the binary gave.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs the binary on database `db` with `args` and, if given, `stdin`.
pub(crate) fn run(db: &str, args: &[&str], stdin: Option<&str>) -> Run {
    run_env(db, args, stdin, &[])
}

/// `run` with extra environment variables (settings).
fn run_env(db: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", db)
        .env_remove("SCOPEGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scopegate");
    if let Some(input) = stdin {
        // The command may exit before reading (bad input is refused first): a broken pipe
        // here is not a failure of the test.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_usage_error(r: &Run, says: &str) {
    assert_eq!(r.code, 2, "bad input exits 2; stderr: {}", r.stderr);
    assert!(
        r.stderr.contains(says),
        "stderr should say {says:?}: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

fn register_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "register-client",
        "--name",
        "CLI App",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--grant-type",
        "authorization_code",
        "--client-type",
        "confidential",
        "--scope",
        "polls:vote",
        "polls:stats",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn help_explains_every_command() {
    let r = run("sqlite://unused.db", &["--help"], None);
    assert_eq!(r.code, 0);
    for cmd in [
        "serve",
        "migrate",
        "createsuperuser",
        "createuser",
        "register-client",
    ] {
        assert!(r.stdout.contains(cmd), "--help lists {cmd}");
    }
    let r = run("sqlite://unused.db", &["register-client", "--help"], None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--redirect-uri") && r.stdout.contains("--json"));
}

#[test]
fn bad_input_gets_one_line_and_exit_code_2() {
    let db = TestDb::new(Backend::Sqlite);
    let url = db.url.as_str();
    assert_usage_error(&run(url, &["frobnicate"], None), "unrecognized subcommand");
    assert_usage_error(
        &run("mysql://x", &["migrate"], None),
        "unsupported database URL",
    );
    assert_usage_error(
        &run(
            url,
            &["createuser", "--username", "bad name!", "--password-stdin"],
            Some("password123\n"),
        ),
        "invalid username",
    );
    assert_usage_error(
        &run(
            url,
            &["createuser", "--username", "bob", "--password-stdin"],
            Some("short\n"),
        ),
        "at least 8 characters",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "createuser",
                "--username",
                "bob",
                "--email",
                "nope",
                "--password-stdin",
            ],
            Some("password123\n"),
        ),
        "invalid email",
    );
    assert_usage_error(
        &run(url, &register_args(&["--grant-type", "magic"]), None),
        "unknown grant type",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "register-client",
                "--name",
                "x",
                "--grant-type",
                "authorization_code",
                "--client-type",
                "confidential",
                "--scope",
                "a",
            ],
            None,
        ),
        "--redirect-uri: give at least one redirect URI",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "register-client",
                "--name",
                "x",
                "--redirect-uri",
                "http://a/#frag",
                "--grant-type",
                "authorization_code",
                "--client-type",
                "public",
                "--scope",
                "a",
            ],
            None,
        ),
        "fragment",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "register-client",
                "--name",
                "x",
                "--redirect-uri",
                "not a uri",
                "--grant-type",
                "authorization_code",
                "--client-type",
                "public",
                "--scope",
                "a",
            ],
            None,
        ),
        "redirect URI",
    );
    assert_usage_error(
        &run(url, &register_args(&["--client-type", "secretive"]), None),
        "",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "register-client",
                "--name",
                "x",
                "--redirect-uri",
                "http://a/",
                "--grant-type",
                "authorization_code",
                "--client-type",
                "weird",
                "--scope",
                "a",
            ],
            None,
        ),
        "confidential or public",
    );
    assert_usage_error(
        &run(
            url,
            &[
                "register-client",
                "--name",
                "x",
                "--redirect-uri",
                "http://a/",
                "--grant-type",
                "authorization_code",
                "--client-type",
                "public",
                "--scope",
                "a\"b",
            ],
            None,
        ),
        "--scope",
    );
    assert_usage_error(
        &run(url, &["serve", "--addr", "not-an-address"], None),
        "not HOST:PORT",
    );
    let r = run(url, &["migrate"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        url,
        &["createuser", "--username", "carol", "--password-stdin"],
        Some("password123\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_usage_error(
        &run(
            url,
            &["createuser", "--username", "carol", "--password-stdin"],
            Some("password123\n"),
        ),
        "already exists",
    );
    let r = run(
        url,
        &register_args(&["--client-id", "fixed", "--json"]),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_usage_error(
        &run(url, &register_args(&["--client-id", "fixed"]), None),
        "already registered",
    );
    let r = run(
        url,
        &["--config", "/nonexistent/scopegate.toml", "migrate"],
        None,
    );
    assert_usage_error(&r, "cannot read config");
}

#[test]
fn migrate_is_idempotent() {
    let db = TestDb::new(Backend::Sqlite);
    let first = run(&db.url, &["migrate"], None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("Applied"));
    let second = run(&db.url, &["migrate"], None);
    assert_eq!(second.stdout.trim(), "No migrations to apply.");
}

/// `serve` as a child process; killed (by its own PID) when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

both_backends! {
    async fn a_flow_with_only_command_line_setup(backend: Backend) {
        let db = TestDb::new(backend);
        let url = db.url.clone();
        let (user, client) = tokio::task::spawn_blocking(move || {
            let user = run(&url, &["createsuperuser", "--username", "admin", "--email", "admin@example.com", "--password-stdin"], Some("s3cret-pass\n"));
            let client = run(&url, &register_args(&["--approved", "--json"]), None);
            (user, client)
        })
        .await
        .unwrap();
        assert_eq!(user.code, 0, "{}", user.stderr);
        assert_eq!(client.code, 0, "{}", client.stderr);
        let creds: Value = serde_json::from_str(client.stdout.trim()).expect("--json prints one JSON object");
        let id = creds["client_id"].as_str().unwrap().to_owned();
        let secret = creds["client_secret"].as_str().unwrap().to_owned();

        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let _server = Served(
            Command::new(BIN)
                .args(["serve", "--addr", &addr])
                .env("DATABASE_URL", &db.url)
                .env("SCOPEGATE_DEBUG", "true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let base = format!("http://{addr}");
        let mut up = false;
        for _ in 0..100 {
            if http().get(format!("{base}/login")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(up, "serve did not come up on {addr}");

        let browser = Browser::at(&base);
        browser.login("admin", "s3cret-pass").await;
        let location = browser
            .authorize(&format!("/oauth/authorize?response_type=code&client_id={id}&state=cli"), "approve")
            .await;
        let q = query_of(&location);
        assert_eq!(q["state"], "cli");
        let body: Value = http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "authorization_code"), ("code", q["code"].as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["token_type"], "Bearer", "{body}");
        assert_eq!(body["scope"], "polls:stats polls:vote");
    }
}

/// A usage error that is exactly one line on stderr.
fn assert_one_line_usage_error(r: &Run, says: &str) {
    assert_usage_error(r, says);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "one line: {}",
        r.stderr
    );
}

both_backends! {
    async fn register_client_bounds_every_lifetime(db: Backend) {
        let server = TestServer::start(db).await;
        let url = server.db.url.clone();
        for (flag, bound) in [
            ("--code-lifetime", "from 1 to 3600 (1 hour)"),
            ("--access-token-lifetime", "from 1 to 31536000 (1 year)"),
            ("--refresh-token-lifetime", "from 1 to 315360000 (10 years)"),
        ] {
            for value in ["9223372036854775807", "99999999999999999999", "0", "-5", "soon"] {
                let r = run(&url, &register_args(&[flag, value, "--approved"]), None);
                assert_one_line_usage_error(&r, &format!("{flag}: the lifetime must be a whole number of seconds {bound}"));
            }
        }
        let listed = server.store().list_clients(&scopegate::core::portal::ListQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(listed.total, 0, "nothing registered with a bad lifetime");
        let r = run(&url, &register_args(&["--code-lifetime", "3600", "--refresh-token-lifetime", "315360000", "--json"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let c = server.store().client_by_client_id(v["client_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!((c.code_lifetime, c.refresh_token_lifetime), (Some(3600), Some(315_360_000)));
        server.stop().await;
    }

    async fn register_client_sets_the_permissions(db: Backend) {
        let server = TestServer::start(db).await;
        let url = server.db.url.clone();
        let r = run(&url, &register_args(&["--json"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let plain: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let r = run(&url, &register_args(&["--resource-server", "--json"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let rs: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let public: Vec<&str> = register_args(&["--allow-public-without-pkce"])
            .into_iter()
            .map(|a| if a == "confidential" { "public" } else { a })
            .collect();
        let r = run(&url, &public, None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("Warning: it may leave out PKCE"), "{}", r.stdout);
        let legacy_id = r.stdout.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
        let store = server.store();
        let get = |id: String| {
            let store = store.clone();
            async move { store.client_by_client_id(&id).await.unwrap().unwrap().permissions }
        };
        let p = get(plain["client_id"].as_str().unwrap().to_owned()).await;
        assert_eq!(p, ClientPermissions::default(), "off by default");
        let p = get(rs["client_id"].as_str().unwrap().to_owned()).await;
        assert!(p.resource_server && !p.allow_public_without_pkce);
        let p = get(legacy_id).await;
        assert!(!p.resource_server && p.allow_public_without_pkce && !p.skip_consent);
        let r = run(&url, &register_args(&["--skip-consent"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("First-party: its users are not asked to consent."), "{}", r.stdout);
        let first_party = r.stdout.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
        let p = get(first_party).await;
        assert!(p.skip_consent && !p.resource_server && !p.allow_public_without_pkce);
        // Post-logout redirect URIs keep the redirect URI rules, and the error names the flag.
        let r = run(&url, &register_args(&["--post-logout-redirect-uri", "https://app.example/bye", "--json"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        let c = server.store().client_by_client_id(v["client_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(c.post_logout_redirect_uris, ["https://app.example/bye"]);
        let r = run(&url, &register_args(&["--post-logout-redirect-uri", "https://app.example/bye#x"]), None);
        assert_one_line_usage_error(&r, "--post-logout-redirect-uri");
        // OpenID Connect options: the defaults, a chosen algorithm and pairwise subjects, and a
        // one-line refusal of an unknown algorithm, subject type, or pairwise across hosts.
        let c = server.store().client_by_client_id(plain["client_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!((c.tokens.alg.as_str(), c.tokens.subject_type.as_str()), ("RS256", "public"));
        let r = run(&url, &register_args(&["--id-token-alg", "EdDSA", "--subject-type", "pairwise"]), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("ID tokens: signed with EdDSA, pairwise subject identifiers."), "{}", r.stdout);
        let id = r.stdout.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
        let c = server.store().client_by_client_id(&id).await.unwrap().unwrap();
        assert_eq!((c.tokens.alg.as_str(), c.tokens.subject_type.as_str()), ("EdDSA", "pairwise"));
        assert_eq!(c.tokens.access.as_str(), "opaque", "the default format");
        // JWTs are signed with the keys `key_encryption_key` seals: without it, a one-line refusal.
        let r = run(&url, &register_args(&["--access-token-format", "jwt"]), None);
        assert_one_line_usage_error(&r, "--access-token-format: JWT access tokens need the server's key_encryption_key");
        let kek = [("SCOPEGATE_KEY_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")];
        let r = run_env(&url, &register_args(&["--access-token-format", "jwt"]), None, &kek);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("Access tokens: jwt."), "{}", r.stdout);
        let id = r.stdout.lines().find_map(|l| l.strip_prefix("client_id:")).unwrap().trim().to_owned();
        let c = server.store().client_by_client_id(&id).await.unwrap().unwrap();
        assert_eq!(c.tokens.access.as_str(), "jwt");
        let r = run(&url, &register_args(&["--access-token-format", "paseto"]), None);
        assert_one_line_usage_error(&r, "--access-token-format: the access-token format must be opaque or jwt, not “paseto”");
        let r = run(&url, &register_args(&["--id-token-alg", "HS256"]), None);
        assert_one_line_usage_error(&r, "--id-token-alg: unknown signing algorithm “HS256”");
        let r = run(&url, &register_args(&["--subject-type", "secret"]), None);
        assert_one_line_usage_error(&r, "--subject-type: the subject type must be public or pairwise");
        let r = run(&url, &register_args(&["--subject-type", "pairwise", "--redirect-uri", "https://other.example/cb"]), None);
        assert_one_line_usage_error(&r, "--subject-type: pairwise subjects need every redirect URI on one host");
        // Only a public client can skip PKCE.
        let r = run(&url, &register_args(&["--allow-public-without-pkce"]), None);
        assert_one_line_usage_error(&r, "only a public client can be allowed to skip PKCE");
        // The grant rules the admin form shares.
        let public_password: Vec<&str> = register_args(&["--grant-type", "password"])
            .into_iter()
            .map(|a| if a == "confidential" { "public" } else { a })
            .collect();
        let r = run(&url, &public_password, None);
        assert_one_line_usage_error(&r, "client_credentials and password need a confidential client");
        let public_rs: Vec<&str> = register_args(&["--resource-server"])
            .into_iter()
            .map(|a| if a == "confidential" { "public" } else { a })
            .collect();
        let r = run(&url, &public_rs, None);
        assert_one_line_usage_error(&r, "only a confidential client can be a resource server");
        server.stop().await;
    }
}

#[test]
fn settings_with_an_extreme_lifetime_refuse_to_load() {
    let db = TestDb::new(Backend::Sqlite);
    for (var, says) in [
        (
            "SCOPEGATE_CODE_LIFETIME",
            "code_lifetime must be a whole number of seconds from 1 to 3600",
        ),
        (
            "SCOPEGATE_ACCESS_TOKEN_LIFETIME",
            "access_token_lifetime must be a whole number of seconds from 1 to 31536000",
        ),
        (
            "SCOPEGATE_REFRESH_TOKEN_LIFETIME",
            "refresh_token_lifetime must be a whole number of seconds from 1 to 315360000",
        ),
        (
            "SCOPEGATE_SESSION_LIFETIME",
            "session_lifetime must be a whole number of seconds from 1 to 31536000",
        ),
    ] {
        let r = run_env(&db.url, &["migrate"], None, &[(var, "9223372036854775807")]);
        assert_one_line_usage_error(&r, says);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scopegate.toml");
    std::fs::write(&config, "refresh_token_lifetime = 9223372036854775807\n").unwrap();
    let r = run(
        &db.url,
        &["--config", config.to_str().unwrap(), "migrate"],
        None,
    );
    assert_one_line_usage_error(
        &r,
        "refresh_token_lifetime must be a whole number of seconds from 1 to 315360000 (10 years)",
    );
}
