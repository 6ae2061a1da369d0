//! CLI commands exit cleanly: the pool's background threads have closed (or finished opening)
//! their connections before the process exits. On PostgreSQL, exiting under a connection being
//! opened crashed in OpenSSL's exit-time cleanup (exit 139) in about one run in ten.

use std::process::{Command, Stdio};

use crate::support::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_scopegate");

#[test]
fn two_hundred_postgres_commands_all_exit_zero() {
    let db = TestDb::new(Backend::Postgres);
    let run = || {
        Command::new(BIN)
            .arg("cleartokens")
            .env("DATABASE_URL", &db.url)
            .env_remove("SCOPEGATE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("spawn scopegate")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let failures: Vec<String> = (0..200)
        .map(|_| run())
        .filter(|out| !out.status.success())
        .map(|out| format!("{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 200 runs failed: {failures:?}",
        failures.len()
    );
}

#[test]
fn an_unreachable_database_is_one_line_and_exit_1_within_3_s() {
    // A port nothing listens on: every connection attempt is refused.
    let url = "postgres://postgres@127.0.0.1:1/nothing";
    for args in [
        &["migrate"][..],
        &["cleartokens"],
        &["syncscopes", "--dry-run"],
    ] {
        let start = std::time::Instant::now();
        let out = Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", url)
            .env_remove("SCOPEGATE_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("spawn scopegate");
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got: {stderr}"
        );
        assert!(
            stderr.starts_with("error: database unavailable"),
            "{args:?}: {stderr}"
        );
        assert!(
            took < std::time::Duration::from_secs(3),
            "{args:?} took {took:?}"
        );
    }
}
