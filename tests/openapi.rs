//! `/openapi.json` and `/docs`: the finished document carries the registered scopes, the real
//! endpoints, and each guarded operation's scopes.

use poem::Route;
use serde_json::Value;

use crate::support::{Backend, TestServer, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_scopes_endpoints_and_per_operation_security() {
    let server =
        TestServer::start_with(Backend::Sqlite, |_| {}, crate::polls::routes(Route::new())).await;
    let resp = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let spec: Value = resp.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/oauth/token",
        "/oauth/introspect",
        "/.well-known/oauth-authorization-server",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    let scheme = &spec["components"]["securitySchemes"][scopegate::web::openapi::SCHEME];
    let code = &scheme["flows"]["authorizationCode"];
    assert_eq!(
        code["authorizationUrl"],
        format!("{}/oauth/authorize", server.base)
    );
    assert_eq!(code["tokenUrl"], format!("{}/oauth/token", server.base));
    assert_eq!(code["scopes"]["polls:vote"], "Vote in polls.");
    assert_eq!(code["scopes"]["polls:results"], "See the results of polls.");
    assert_eq!(
        scheme["flows"]["clientCredentials"]["tokenUrl"],
        format!("{}/oauth/token", server.base)
    );
    let security = |path: &str, method: &str| -> Value {
        spec["paths"][path][method]["security"][0][scopegate::web::openapi::SCHEME].clone()
    };
    assert_eq!(
        security("/api/stats", "get"),
        serde_json::json!(["polls:stats"])
    );
    assert_eq!(
        security("/api/polls/{id}/vote", "post"),
        serde_json::json!(["polls:vote"])
    );
    assert_eq!(
        security("/api/polls/{id}/results", "get"),
        serde_json::json!(["polls:results"])
    );
    assert!(spec["paths"]["/api/stats"]["get"]["responses"]["403"].is_object());

    let page = http().get(server.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("url: '/openapi.json'"));
    assert!(html.contains("usePkceWithAuthorizationCodeGrant: true"));
    let receiver = http()
        .get(server.url("/docs/ui/oauth-receiver.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(receiver.status(), 200);
    server.stop().await;
}

/// What the explorer's Authorize button does: the docs client (registered by the first visit to
/// `/docs`) runs authorization code + PKCE against this server, and the token works on a guarded
/// operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_client_completes_a_pkce_flow() {
    use base64::Engine;
    use sha2::Digest;
    let server = TestServer::start_with(
        Backend::Postgres,
        |_| {},
        crate::polls::routes(Route::new()),
    )
    .await;
    server.user("alice", "correct horse").await;
    assert_eq!(
        http()
            .get(server.url("/docs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let redirect = server.url("/docs/ui/oauth-receiver.html");
    let verifier = "a".repeat(20) + &scopegate::core::secret::generate_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let browser = crate::support::Browser::new(&server);
    browser.login("alice", "correct horse").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=polls:stats&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
        scopegate::web::openapi::DOCS_CLIENT_ID,
        redirect
    );
    let location = browser.authorize(&url, "approve").await;
    assert!(location.starts_with(&redirect), "{location}");
    let code = crate::support::query_of(&location)["code"].clone();
    let resp = http()
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("client_id", scopegate::web::openapi::DOCS_CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let resp = http()
        .get(server.url("/api/stats"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.stop().await;
}
