//! The issuer never comes from a request's `Host` header: it is the `issuer` setting, or, in
//! development, the address the connection arrived on. With debug off, `serve` refuses to start
//! without it.

use std::process::{Command, Stdio};

use poem::Route;
use serde_json::Value;

use crate::both_backends;
use crate::support::{ClientSpec, TestServer, http, introspect};

async fn metadata(server: &TestServer, host: &str) -> Value {
    http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .header("host", host)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

both_backends! {
    async fn a_forged_host_changes_nothing_the_server_publishes(db: Backend) {
        let server = TestServer::start_with(db, |_| {}, crate::polls::routes(Route::new())).await;
        let meta = metadata(&server, "evil.example").await;
        assert_eq!(meta["issuer"], server.base.as_str(), "{meta}");
        assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", server.base));
        let app = server.client(ClientSpec {
            grants: vec![scopegate::core::model::GrantType::ClientCredentials],
            ..ClientSpec::default()
        }).await;
        let token: Value = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send().await.unwrap().json().await.unwrap();
        let info = introspect(&server, &app, token["access_token"].as_str().unwrap()).await;
        assert_eq!(info["iss"], server.base.as_str());
        let spec: Value = http()
            .get(server.url("/openapi.json"))
            .header("host", "evil.example")
            .send().await.unwrap().json().await.unwrap();
        assert!(!spec.to_string().contains("evil.example"), "the spec names no forged host");
        server.stop().await;
    }

    async fn the_issuer_setting_wins(db: Backend) {
        let server = TestServer::start_with(db, |s| s.issuer = Some("https://auth.example.com/".into()), Route::new()).await;
        let meta = metadata(&server, "evil.example").await;
        assert_eq!(meta["issuer"], "https://auth.example.com");
        assert_eq!(meta["authorization_endpoint"], "https://auth.example.com/oauth/authorize");
        server.stop().await;
    }
}

fn serve_with(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scopegate"));
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .env_remove("SCOPEGATE_CONFIG")
        .env_remove("SCOPEGATE_DEBUG")
        .env_remove("SCOPEGATE_ISSUER")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // A server that does start would never exit: stop it (by its PID) after 10 s.
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_without_an_issuer_refuses_to_start_unless_debug() {
    let (code, stderr) = serve_with(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("set `issuer`"), "{stderr}");
    for bad in [
        "ftp://auth.example.com",
        "https://auth.example.com/?x=1",
        "auth.example.com",
    ] {
        let (code, stderr) = serve_with(&[("SCOPEGATE_ISSUER", bad)]);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("must be an http(s) URL"), "{bad}: {stderr}");
    }
}
