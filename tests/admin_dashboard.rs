//! The admin dashboard's live figures (issue 11): active tokens and sessions, token requests by
//! grant type, refusals, throttle events and the change feed, over real HTTP. The counts are
//! per process, so the instances measured run as `scopegate serve` processes of their own; one
//! serves `/metrics` and its scrape says what its dashboard says, the other has metrics off and
//! counts all the same.

use prometheus_parse::{Scrape, Value};
use scopegate::core::model::GrantType;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, Instance, TestClient, TestServer, element_text, http};

const METRICS_TOKEN: &str = "dashboard-metrics-token-0123456789";

async fn token(base: &str, app: &TestClient, form: &[(&str, &str)]) -> u16 {
    http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The dashboard's figure with `id`, as a number.
fn figure(page: &str, id: &str) -> u64 {
    let text = element_text(page, id).unwrap_or_else(|| panic!("#{id} on the dashboard"));
    text.parse().unwrap_or_else(|_| panic!("#{id} is {text:?}"))
}

/// A counter of the scrape at `base`, summed over the samples whose labels include `labels`.
async fn scraped(base: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = http()
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a counter or gauge"),
        })
        .sum()
}

/// Three tokens by client_credentials, one refused for its scope, one unsupported grant type,
/// and four wrong passwords for `username`, the last two throttled; returns the password client.
async fn traffic(server: &TestServer, base: &str, username: &str) -> TestClient {
    let machine = server
        .client(ClientSpec {
            grants: vec![GrantType::ClientCredentials],
            ..ClientSpec::default()
        })
        .await;
    for _ in 0..3 {
        assert_eq!(
            token(base, &machine, &[("grant_type", "client_credentials")]).await,
            200
        );
    }
    let wide = [
        ("grant_type", "client_credentials"),
        ("scope", "admin:everything"),
    ];
    assert_eq!(token(base, &machine, &wide).await, 400);
    assert_eq!(
        token(base, &machine, &[("grant_type", "urn:example:nothing")]).await,
        400
    );
    let app = server
        .client(ClientSpec {
            grants: vec![GrantType::Password, GrantType::RefreshToken],
            ..ClientSpec::default()
        })
        .await;
    let wrong = [
        ("grant_type", "password"),
        ("username", username),
        ("password", "not-the-password"),
    ];
    // The limit is 2 per user (settings below): two refusals checked, then two throttled.
    for status in [400, 400, 429, 429] {
        assert_eq!(token(base, &app, &wrong).await, status);
    }
    app
}

both_backends! {
    async fn the_dashboard_shows_what_this_instance_counted_and_what_is_live(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-12345").await;
        server.user("alice", "pw-user-123").await;
        let settings = [("SCOPEGATE_PASSWORD_ATTEMPTS_PER_USER", "2"), ("SCOPEGATE_METRICS_TOKEN", METRICS_TOKEN)];
        let with_metrics = Instance::start_with(&server.db.url, &settings).await;
        let without = Instance::start_with(&server.db.url, &settings[..1]).await;
        let resp = http().get(without.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(resp.status(), 404, "metrics are off on the second instance");

        // The throttle is shared through the database: each instance guesses another user's.
        traffic(&server, &with_metrics.base, "alice").await;
        let app = traffic(&server, &without.base, "bob").await;
        // One more token on the second instance, by password, with a refresh token.
        let right = [("grant_type", "password"), ("username", "root"), ("password", "pw-root-12345")];
        assert_eq!(token(&without.base, &app, &right).await, 200);

        for instance in [&with_metrics, &without] {
            let admin = Browser::at(&instance.base);
            admin.login("root", "pw-root-12345").await;
            let (status, page) = admin.page("/admin/").await;
            assert_eq!(status, 200);
            // Of the database: every instance's tokens, and the sessions of both admins (the
            // second is signed in once the loop reaches it).
            assert_eq!(figure(&page, "active-access-tokens"), 7);
            assert_eq!(figure(&page, "active-refresh-tokens"), 1);
            assert!(figure(&page, "active-sessions") >= 1);
            assert_eq!(element_text(&page, "feed-state").as_deref(), Some("live"));
            assert_eq!(figure(&page, "feed-reconnects"), 0);
            // Of this instance.
            let own_password = u64::from(instance.base == without.base);
            assert_eq!(figure(&page, "grant-client_credentials-issued"), 3);
            assert_eq!(figure(&page, "grant-client_credentials-refused"), 1);
            assert_eq!(figure(&page, "grant-password-issued"), own_password);
            assert_eq!(figure(&page, "grant-password-refused"), 4);
            assert_eq!(figure(&page, "grant-unsupported-refused"), 1);
            let per_minute = figure(&page, "grant-client_credentials-previous-minute")
                + figure(&page, "grant-client_credentials-this-minute");
            assert_eq!(per_minute, 3, "all within this minute and the one before");
            assert_eq!(figure(&page, "refused-total"), 6);
            assert_eq!(figure(&page, "refused-invalid_scope"), 1);
            assert_eq!(figure(&page, "refused-unsupported_grant_type"), 1);
            assert_eq!(figure(&page, "refused-invalid_grant"), 2);
            assert_eq!(figure(&page, "refused-slow_down"), 2);
            assert_eq!(figure(&page, "throttled-password"), 2);
            // Recent actions are people's: the token-lifecycle lines stay on /admin/audit.
            assert!(page.contains("No admin action yet.") && !page.contains("token.issued"));
        }

        // One source: the scrape says what the dashboard says.
        let base = &with_metrics.base;
        let grants = "scopegate_grants_total";
        assert_eq!(scraped(base, grants, &[("grant_type", "client_credentials"), ("outcome", "issued")]).await, 3.0);
        assert_eq!(scraped(base, grants, &[("outcome", "invalid_scope")]).await, 1.0);
        assert_eq!(scraped(base, grants, &[("grant_type", "password"), ("outcome", "invalid_grant")]).await, 2.0);
        assert_eq!(scraped(base, grants, &[("grant_type", "password"), ("outcome", "slow_down")]).await, 2.0);
        assert_eq!(scraped(base, "scopegate_throttled_total", &[("kind", "password")]).await, 2.0);
        assert_eq!(scraped(base, "scopegate_active_tokens", &[("kind", "access")]).await, 7.0);
        assert_eq!(scraped(base, "scopegate_active_tokens", &[("kind", "refresh")]).await, 1.0);
        assert_eq!(scraped(base, "scopegate_active_sessions", &[]).await, 2.0, "both admins");
        drop(with_metrics);
        drop(without);
        server.stop().await;
    }
}
