//! Request-controlled values cannot forge log lines: the real server (`scopegate serve`, as a
//! child process) is fed newlines and carriage returns in a username, a grant type and a
//! client id, and its log is read back.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{Backend, Browser, TestDb, free_port, http};

const BIN: &str = env!("CARGO_BIN_EXE_scopegate");
const MARK: &str = "FORGED-LOG-LINE";

fn command(db: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db)
        .env_remove("SCOPEGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scopegate");
    if let Some(input) = stdin {
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

/// Kills the child server (by its own handle) if the test ends early.
struct Served(Option<std::process::Child>);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_values_cannot_forge_log_lines() {
    let db = TestDb::new(Backend::Sqlite);
    let url = db.url.clone();
    let client = tokio::task::spawn_blocking(move || {
        command(&url, &["migrate"], None);
        command(
            &url,
            &[
                "register-client",
                "--name",
                "Log App",
                "--redirect-uri",
                "http://127.0.0.1:9/cb",
                "--grant-type",
                "password",
                "--client-type",
                "confidential",
                "--scope",
                "polls:vote",
                "--approved",
                "--json",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let creds: Value = serde_json::from_slice(&client.stdout).unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap(),
        creds["client_secret"].as_str().unwrap(),
    );

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut served = Served(Some(
        Command::new(BIN)
            .args(["serve", "--addr", &addr])
            .env("DATABASE_URL", &db.url)
            .env("SCOPEGATE_DEBUG", "true")
            .env("SCOPEGATE_PASSWORD_ATTEMPTS_PER_USER", "1")
            .env("SCOPEGATE_CLIENT_AUTH_FAILURES_PER_CLIENT", "1")
            .env("RUST_LOG", "info")
            .env_remove("SCOPEGATE_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
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

    let forged = format!("victim\n{MARK} user=\"admin\" login\r{MARK} cr");
    // The login page, twice: a refusal, then the throttle's warning.
    for _ in 0..2 {
        Browser::at(&base).login(&forged, "wrong").await;
    }
    // The password grant (refusal and throttle), a grant type, and a client id.
    for grant_type in ["password", "password", &format!("x\n{MARK} grant")] {
        http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", grant_type),
                ("username", &forged),
                ("password", "wrong"),
            ])
            .send()
            .await
            .unwrap();
    }
    for _ in 0..2 {
        http()
            .post(format!("{base}/oauth/token"))
            .basic_auth(format!("c\n{MARK} client"), Some("bad"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
    }
    http()
        .get(format!("{base}/%0A{MARK}-path"))
        .send()
        .await
        .unwrap();

    let mut child = served.0.take().unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(MARK),
        "the values should be logged (escaped):\n{log}"
    );
    assert!(
        log.contains("login refused") && log.contains("throttled"),
        "{log}"
    );
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with(MARK),
            "a forged line got into the log:\n{log}"
        );
    }
    assert!(
        !log.contains('\r'),
        "a carriage return got into the log:\n{log}"
    );
}
