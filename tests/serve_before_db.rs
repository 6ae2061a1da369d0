//! `serve` can be started before its database: it listens at once, answers `/health/alive`,
//! reports not-ready, and becomes ready (migrated) by itself once the database exists.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::support::{free_port, http, pg_base};

fn admin(sql: String) {
    std::thread::spawn(move || {
        let mut c = PgConnection::establish(&format!("{}/postgres", pg_base())).unwrap();
        diesel::sql_query(sql).execute(&mut c).unwrap();
    })
    .join()
    .unwrap();
}

/// Kills the server (by its PID) and drops the database, even when the test fails.
struct Cleanup(std::process::Child, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        admin(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.1
        ));
    }
}

async fn status(url: &str) -> Option<u16> {
    http()
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_started_before_its_database_becomes_ready_by_itself() {
    let name = format!("sg_late_{}", std::process::id());
    admin(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_scopegate"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", format!("{}/{name}", pg_base()))
        .env("SCOPEGATE_DEBUG", "true")
        .env("SCOPEGATE_LOG", "warn")
        .env_remove("SCOPEGATE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _cleanup = Cleanup(child, name.clone());
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut alive = false;
    while started.elapsed() < Duration::from_secs(8) {
        if status(&format!("{base}/health/alive")).await == Some(200) {
            alive = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        alive,
        "serve listens although its database does not exist yet"
    );
    assert_eq!(status(&format!("{base}/health/ready")).await, Some(503));

    admin(format!("CREATE DATABASE \"{name}\""));
    let created = Instant::now();
    let mut ready = false;
    while created.elapsed() < Duration::from_secs(30) {
        if status(&format!("{base}/health/ready")).await == Some(200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "ready once the database exists and is migrated");
    // Migrated for real: the token endpoint reaches its tables.
    let resp = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth("nobody", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
