//! `#[oauth_required]` at request time, over HTTP against the polls demo: the three ways of
//! presenting a token (RFC 6750 §2), the error answers and headers (§3), scopes, revocation,
//! expiry, and the registry's completeness.

use poem::Route;
use scopegate::core::model::User;
use scopegate::core::secret::hash_secret;

use crate::both_backends;
use crate::support::{Backend, ClientSpec, TestClient, TestServer, http, issue_access_token};

/// A demo server with the scopes synced, a user and an approved client.
async fn demo(db: Backend) -> (TestServer, TestClient, User) {
    let server = TestServer::start_with(db, |_| {}, crate::polls::routes(Route::new())).await;
    let registry = scopegate::registry::scopes();
    scopegate::manage::syncscopes::sync(server.store().as_ref(), &registry, &[], false, false)
        .await
        .unwrap();
    let user = server.user("alice", "correct horse").await;
    let client = server
        .client(ClientSpec {
            scopes: registry.keys().cloned().collect::<Vec<_>>().join(" "),
            ..ClientSpec::default()
        })
        .await;
    (server, client, user)
}

/// The `WWW-Authenticate` header, which every guard answer must carry.
fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on a {} answer", resp.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

both_backends! {
    async fn each_way_of_presenting_the_token_works(db: Backend) {
        let (server, client, user) = demo(db).await;
        let (token, _) = issue_access_token(&server, &client, Some(&user), "polls:vote", 3600).await;
        let url = server.url("/polls/1/vote");
        // §2.1 Authorization header.
        let resp = http().post(&url).bearer_auth(&token).form(&[("choice", "0")]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["voter"], "alice", "the handler sees the caller's user");
        assert_eq!(body["client"], client.client_id.as_str());
        // §2.2 form body: the handler still reads its own field from the same body.
        let resp = http().post(&url).form(&[("access_token", token.as_str()), ("choice", "1")]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // §2.3 query.
        let resp = http().post(format!("{url}?access_token={token}")).form(&[("choice", "0")]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // Two ways at once is refused.
        let resp = http().post(format!("{url}?access_token={token}")).bearer_auth(&token).form(&[("choice", "0")]).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(challenge(&resp).contains("error=\"invalid_request\""));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        server.stop().await;
    }

    async fn wrong_scope_gets_403_with_the_needed_scope(db: Backend) {
        let (server, client, user) = demo(db).await;
        let (token, _) = issue_access_token(&server, &client, Some(&user), "polls:vote", 3600).await;
        let resp = http().get(server.url("/polls/stats")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let c = challenge(&resp);
        assert!(c.starts_with("Bearer "), "{c}");
        assert!(c.contains("error=\"insufficient_scope\""), "{c}");
        assert!(c.contains("scope=\"polls:stats\""), "{c}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        // scope_auto: `results` in module `polls` needs `polls:results`.
        let resp = http().get(server.url("/polls/1/results")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(challenge(&resp).contains("scope=\"polls:results\""));
        let (wide, _) = issue_access_token(&server, &client, Some(&user), "polls:results polls:stats", 3600).await;
        for path in ["/polls/1/results", "/polls/stats"] {
            let resp = http().get(server.url(path)).bearer_auth(&wide).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
        }
        server.stop().await;
    }

    async fn missing_unknown_expired_and_revoked_tokens_get_401(db: Backend) {
        let (server, client, user) = demo(db).await;
        let url = server.url("/polls/");
        let resp = http().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        // RFC 6750 §3.1: no token at all gets a bare challenge.
        assert_eq!(
            challenge(&resp),
            format!("Bearer realm=\"scopegate\", resource_metadata=\"{}\"", server.url("/.well-known/oauth-protected-resource"))
        );
        let resp = http().get(&url).bearer_auth("not-a-token").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(challenge(&resp).contains("error=\"invalid_token\""));
        let (expired, _) = issue_access_token(&server, &client, Some(&user), "polls:index", -1).await;
        let resp = http().get(&url).bearer_auth(&expired).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(challenge(&resp).contains("error=\"invalid_token\""));

        // Revocation takes effect on the very next request, although the token is cached.
        let (token, grant) = issue_access_token(&server, &client, Some(&user), "polls:index", 3600).await;
        for _ in 0..3 {
            let resp = http().get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(resp.status(), 200);
        }
        let row = server.store().token_by_hash(&hash_secret(&token)).await.unwrap().unwrap();
        let reused = scopegate::core::lifecycle::Reused::refresh(&row);
        server.store().revoke_grant(&grant, scopegate::core::now(), reused).await.unwrap();
        let resp = http().get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 401, "a revoked token must be refused at once");
        assert!(challenge(&resp).contains("error=\"invalid_token\""));
        server.stop().await;
    }

    async fn openapi_operations_are_guarded_too(db: Backend) {
        let (server, client, user) = demo(db).await;
        let (vote, _) = issue_access_token(&server, &client, Some(&user), "polls:vote", 3600).await;
        let (stats, _) = issue_access_token(&server, &client, Some(&user), "polls:stats polls:results", 3600).await;
        let resp = http().post(server.url("/api/polls/1/vote")).bearer_auth(&vote).json(&serde_json::json!({"choice": 1})).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = http().get(server.url("/api/stats")).bearer_auth(&vote).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(challenge(&resp).contains("scope=\"polls:stats\""));
        let resp = http().get(server.url("/api/stats")).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(
            challenge(&resp),
            format!("Bearer realm=\"scopegate\", resource_metadata=\"{}\"", server.url("/.well-known/oauth-protected-resource"))
        );
        let resp = http().get(server.url("/api/stats")).bearer_auth("not-a-token").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(challenge(&resp).contains("error=\"invalid_token\""));
        let resp = http().get(server.url("/api/stats")).bearer_auth(&stats).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["votes"], 1);
        let resp = http().get(server.url("/api/polls/2/results")).query(&[("access_token", stats.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        server.stop().await;
    }
}

/// Link-time registries drop entries of code that is never linked: check that every handler
/// the demo's source guards is in this binary's registry, with the scope the docs promise.
#[test]
fn every_guarded_demo_handler_is_registered() {
    let source = include_str!("../examples/polls/polls.rs");
    let mut expected: Vec<String> = Vec::new();
    let mut pending = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[oauth_required") {
            pending = true;
        } else if pending && let Some(pos) = line.find("fn ") {
            let name: String = line[pos + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            expected.push(name);
            pending = false;
        }
    }
    assert!(
        expected.len() >= 8,
        "the demo guards handlers and operations: {expected:?}"
    );
    let mut registered: Vec<String> = scopegate::registry::entries()
        .into_iter()
        .filter(|e| e.module_path.ends_with("polls"))
        .map(|e| e.function.to_owned())
        .collect();
    expected.sort();
    registered.sort();
    assert_eq!(registered, expected);
    let scopes = scopegate::registry::scopes();
    for (scope, desc) in [
        ("polls:vote", "Vote in polls."),
        ("polls:stats", "See voting statistics."),
        ("polls:results", "See the results of polls."),
        ("polls:index", "List the polls."),
        ("polls:detail", "Read a poll's question and choices."),
    ] {
        assert_eq!(scopes.get(scope).map(String::as_str), Some(desc), "{scope}");
    }
}

both_backends! {
    async fn the_consent_screen_shows_synced_descriptions(db: Backend) {
        let (server, client, _user) = demo(db).await;
        let browser = crate::support::Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let url = format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=polls:vote%20polls:stats&state=s",
            client.client_id, client.redirect_uri
        );
        let resp = browser.get(&url).await;
        assert_eq!(resp.status(), 200);
        let page = resp.text().await.unwrap();
        assert!(page.contains("Vote in polls."), "{page}");
        assert!(page.contains("See voting statistics."), "{page}");
        server.stop().await;
    }
}
