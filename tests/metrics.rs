//! `GET /metrics`, scraped as Prometheus would and parsed with a Prometheus text-format parser
//! (`prometheus-parse`). Exact counts are checked on `scopegate serve` in a process of its own
//! (metrics are process-wide, and this test process runs many servers at once); the guard's
//! counts in-process, under a scope no other test uses.

use poem::{Route, handler};
use prometheus_parse::{Sample, Scrape, Value};
use scopegate::core::model::GrantType;
use scopegate::oauth_required;

use crate::support::{
    Backend, ClientSpec, Instance, TestServer, free_port, http, issue_access_token,
};

const TOKEN: &str = "metrics-scrape-token-0123456789";

/// Parses a scrape, asserting it is the Prometheus text format.
fn parse(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = Scrape::parse(lines).expect("Prometheus text format");
    assert!(!scrape.samples.is_empty(), "no samples in:\n{text}");
    scrape.samples
}

/// The value of the sample `name` whose labels include `labels`: a counter's or gauge's value,
/// a histogram's count of observations; 0 when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => panic!("{name} is a summary"),
        })
        .sum()
}

async fn scrape(url: &str, token: Option<&str>) -> reqwest::Response {
    let request = http().get(url);
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    request.send().await.unwrap()
}

async fn client_credentials(base: &str, id: &str, secret: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_known_sequence_of_requests_is_counted_exactly() {
    let a = TestServer::start(Backend::Sqlite).await;
    let alice = a.user("alice", "pw-alice-metrics").await;
    let app = a
        .client(ClientSpec {
            grants: vec![GrantType::ClientCredentials],
            scopes: "read".into(),
            ..ClientSpec::default()
        })
        .await;
    let secret = app.secret.clone().unwrap();
    let b = Instance::start_with(&a.db.url, &[("SCOPEGATE_METRICS_TOKEN", TOKEN)]).await;
    let metrics = b.url("/metrics");

    // Unauthenticated scrapes are refused, and counted.
    assert_eq!(scrape(&metrics, None).await.status(), 401);
    assert_eq!(
        scrape(&metrics, Some("not-the-token-at-all"))
            .await
            .status(),
        401
    );
    for _ in 0..3 {
        assert_eq!(scrape(&b.url("/health/alive"), None).await.status(), 200);
    }
    assert_eq!(scrape(&b.url("/no/such/page"), None).await.status(), 404);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let resp = client_credentials(&b.base, &app.client_id, &secret).await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    let wrong = "wrong-secret-for-metrics-test";
    assert_eq!(
        client_credentials(&b.base, &app.client_id, wrong)
            .await
            .status(),
        401
    );
    // The same token introspected twice: one cache miss, then one hit.
    for _ in 0..2 {
        let resp = http()
            .post(b.url("/oauth/introspect"))
            .basic_auth(&app.client_id, Some(&secret))
            .form(&[("token", tokens[0].as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    let resp = scrape(&metrics, Some(TOKEN)).await;
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    let samples = parse(&text);
    let requests = |route: &str, method: &str, status: &str| {
        value(
            &samples,
            "scopegate_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/metrics", "GET", "401"), 2.0, "{text}");
    assert_eq!(requests("/health/alive", "GET", "200"), 3.0, "{text}");
    assert_eq!(requests("unmatched", "GET", "404"), 1.0, "{text}");
    assert_eq!(requests("/oauth/token", "POST", "200"), 2.0, "{text}");
    assert_eq!(requests("/oauth/token", "POST", "401"), 1.0, "{text}");
    assert_eq!(requests("/oauth/introspect", "POST", "200"), 2.0, "{text}");
    let durations = |route: &str| {
        value(
            &samples,
            "scopegate_http_request_duration_seconds",
            &[("route", route)],
        )
    };
    assert_eq!(durations("/health/alive"), 3.0, "{text}");
    let grants = |outcome: &str| {
        value(
            &samples,
            "scopegate_grants_total",
            &[("grant_type", "client_credentials"), ("outcome", outcome)],
        )
    };
    assert_eq!(grants("issued"), 2.0, "{text}");
    assert_eq!(grants("invalid_client"), 1.0, "{text}");
    let tokens_cache = |result: &str| {
        value(
            &samples,
            "scopegate_cache_lookups_total",
            &[("cache", "tokens"), ("result", result)],
        )
    };
    assert_eq!(tokens_cache("miss"), 1.0, "{text}");
    assert_eq!(tokens_cache("hit"), 1.0, "{text}");
    assert_eq!(
        value(&samples, "scopegate_change_feed_live", &[]),
        1.0,
        "{text}"
    );
    assert!(
        value(&samples, "scopegate_change_feed_lag_seconds", &[]) < 2.0,
        "{text}"
    );
    assert!(
        value(&samples, "scopegate_db_pool_wait_seconds", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        text.contains("scopegate_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    // Nothing secret, personal or identifying anywhere in the scrape.
    for secret in [
        secret.as_str(),
        wrong,
        tokens[0].as_str(),
        tokens[1].as_str(),
        TOKEN,
        alice.username.as_str(),
        "127.0.0.1",
        a.db.url.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "the scrape carries {secret:?}:\n{text}"
        );
    }
    drop(b);
    a.stop().await;
}

#[tokio::test]
async fn metrics_addr_serves_them_alone_and_the_main_address_does_not() {
    let a = TestServer::start(Backend::Sqlite).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let b = Instance::start_with(&a.db.url, &[("SCOPEGATE_METRICS_ADDR", addr.as_str())]).await;
    assert_eq!(scrape(&b.url("/health/alive"), None).await.status(), 200);
    let resp = scrape(&format!("http://{addr}/metrics"), None).await;
    assert_eq!(resp.status(), 200);
    let samples = parse(&resp.text().await.unwrap());
    assert!(
        value(
            &samples,
            "scopegate_http_requests_total",
            &[("route", "/health/alive")]
        ) >= 1.0
    );
    // Without metrics_token the main address has no /metrics, with or without a token.
    assert_eq!(scrape(&b.url("/metrics"), None).await.status(), 404);
    assert_eq!(scrape(&b.url("/metrics"), Some(TOKEN)).await.status(), 404);
    // Only /metrics is on the metrics address.
    assert_eq!(
        scrape(&format!("http://{addr}/health/alive"), None)
            .await
            .status(),
        404
    );
    drop(b);
    a.stop().await;
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let server = TestServer::start(Backend::Sqlite).await;
    assert_eq!(scrape(&server.url("/metrics"), None).await.status(), 404);
    assert_eq!(
        scrape(&server.url("/metrics"), Some(TOKEN)).await.status(),
        404
    );
    server.stop().await;
}

#[test]
fn bad_metrics_settings_are_one_line_and_exit_2() {
    for (name, value) in [
        ("SCOPEGATE_METRICS_TOKEN", "short"),
        ("SCOPEGATE_METRICS_ADDR", "not an address"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scopegate"))
            .args(["serve"])
            .env("SCOPEGATE_DEBUG", "true")
            .env(name, value)
            .env_remove("SCOPEGATE_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&name["SCOPEGATE_".len()..].to_ascii_lowercase()),
            "{stderr}"
        );
    }
}

/// A guarded handler under a scope no other test uses, so its counts are this test's alone.
#[oauth_required(scope = "metricsprobe:read")]
#[handler]
fn probe() -> &'static str {
    "ok"
}

#[tokio::test]
async fn guard_decisions_are_counted_by_scope_and_outcome() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        |s| s.metrics_token = Some(TOKEN.into()),
        Route::new().at("/probe", poem::get(probe)),
    )
    .await;
    let user = server.user("bob", "pw-bob-metrics").await;
    let client = server
        .client(ClientSpec {
            scopes: "metricsprobe:read read".into(),
            ..ClientSpec::default()
        })
        .await;
    let (good, _) =
        issue_access_token(&server, &client, Some(&user), "metricsprobe:read", 3600).await;
    let (narrow, _) = issue_access_token(&server, &client, Some(&user), "read", 3600).await;
    let call = |token: String| {
        let url = server.url("/probe");
        async move {
            http()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call(good.clone()).await, 200);
    assert_eq!(call(good).await, 200);
    assert_eq!(call(narrow).await, 403);
    assert_eq!(call("no-such-token".into()).await, 401);
    let text = scrape(&server.url("/metrics"), Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    let samples = parse(&text);
    let decisions = |outcome: &str| {
        value(
            &samples,
            "scopegate_guard_decisions_total",
            &[("scopes", "metricsprobe:read"), ("outcome", outcome)],
        )
    };
    assert_eq!(decisions("allowed"), 2.0, "{text}");
    assert_eq!(decisions("insufficient_scope"), 1.0, "{text}");
    assert_eq!(decisions("invalid_token"), 1.0, "{text}");
    server.stop().await;
}
