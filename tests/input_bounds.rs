//! Bad input is refused at the edge: a NUL byte (PostgreSQL cannot store one in text) or an
//! oversized value in any parameter gets a 400 with RFC 6749 JSON on the protocol endpoints and
//! a friendly page in the browser, never a 500 or a 503 from the database.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scopegate::core::model::GrantType;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestServer, http};

/// POSTs a raw form body (so NUL bytes go through unchanged) and returns status and JSON.
async fn post_raw(
    server: &TestServer,
    path: &str,
    basic: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut req = http()
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(b) = basic {
        req = req.header("authorization", format!("Basic {}", STANDARD.encode(b)));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_invalid_request((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], "invalid_request", "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
}

both_backends! {
    async fn nul_bytes_and_oversized_values_get_invalid_request(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server
            .client(ClientSpec {
                grants: vec![GrantType::Password, GrantType::ClientCredentials],
                ..ClientSpec::default()
            })
            .await;
        let creds = format!("{}:{}", app.client_id, app.secret.clone().unwrap());
        let long = "u".repeat(20_000);
        let cases: Vec<(&str, Option<String>, String)> = vec![
            ("/oauth/token", None, "grant_type=client_credentials&client_id=a%00b".into()),
            ("/oauth/token", Some("a\0b:secret".into()), "grant_type=client_credentials".into()),
            (
                "/oauth/token",
                Some(creds.clone()),
                "grant_type=password&username=al%00ice&password=x".into(),
            ),
            (
                "/oauth/token",
                Some(creds.clone()),
                format!("grant_type=password&username={long}&password=x"),
            ),
            ("/oauth/introspect", Some(creds.clone()), "token=ab%00cd".into()),
            ("/oauth/introspect", Some("a\0b:secret".into()), "token=abcd".into()),
            ("/oauth/revoke", Some(creds.clone()), "token=ab%00cd".into()),
            ("/oauth/revoke", None, "token=abcd&client_id=x%00y".into()),
        ];
        for (path, basic, body) in &cases {
            let what = format!("{path} basic={basic:?} body={}", &body[..body.len().min(80)]);
            assert_invalid_request(post_raw(&server, path, basic.as_deref(), body).await, &what);
        }
        // The client still works: nothing was stored or locked by the refused requests.
        let (status, body) =
            post_raw(&server, "/oauth/token", Some(&creds), "grant_type=client_credentials").await;
        assert_eq!(status, 200, "{body}");
        server.stop().await;
    }

    async fn nul_bytes_in_browser_requests_get_a_friendly_page(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec::default()).await;
        let browser = Browser::new(&server);
        let authorize = [
            "/oauth/authorize?response_type=code&client_id=ab%00cd".to_owned(),
            format!("/oauth/authorize?response_type=code&client_id={}&state=x%00y", app.client_id),
            format!("/oauth/authorize?response_type=code&client_id={}&state={}", app.client_id, "s".repeat(5000)),
        ];
        for url in &authorize {
            let resp = browser.get(&server.url(url)).await;
            assert_eq!(resp.status(), 400, "{url}");
            assert!(resp.headers().get("location").is_none(), "{url} must not redirect");
            let html = resp.text().await.unwrap();
            assert!(html.contains("<html"), "{url}: a page, not JSON: {html}");
        }
        let resp = browser
            .post_form(&server.url("/login"), &[("username", "al\0ice"), ("password", "x")])
            .await;
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("<html"));
        server.stop().await;
    }
}

/// A body over the 64 kB form limit is refused with its answer delivered, not a connection
/// reset: the server reads (and discards) what the client is still sending before it closes.
/// Without that, Linux answers the unread bytes with a RST that can destroy the 400 in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_its_answer_not_a_reset() {
    let server = TestServer::start(crate::support::Backend::Sqlite).await;
    let big = format!("grant_type=client_credentials&pad={}", "x".repeat(400_000));
    for round in 0..40 {
        // A fresh connection each time, as a browser posting one oversized form would use.
        let resp = reqwest::Client::new()
            .post(server.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(resp.status(), 400, "round {round}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "round {round}");
    }
    server.stop().await;
}

/// The same for a body sent slowly, as over a slow link: it is read to its end (up to a bound)
/// before the answer, so the client, still writing, reads its 400 instead of meeting a closed
/// connection.
#[tokio::test]
async fn a_slowly_sent_oversized_body_is_read_to_its_end_before_the_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(crate::support::Backend::Sqlite).await;
    let mut conn = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let len = 512 * 1024;
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {len}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 32 * 1024];
    for _ in 0..len / chunk.len() {
        // Slowly, so a server that answered at the headers has closed before the end.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        conn.write_all(&chunk)
            .await
            .expect("the server still reads the body");
    }
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("too large"), "{answer}");
    server.stop().await;
}
