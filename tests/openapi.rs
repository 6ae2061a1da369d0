//! `/openapi.json` and `/docs`: the finished document carries the registered scopes, the real
//! endpoints, and each guarded operation's scopes.

use poem::Route;
use serde_json::Value;

use crate::support::{Backend, TestServer, edited, http};

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

/// The authorization request the explorer would make for `redirect_uri`.
fn docs_authorize_url(redirect_uri: &str) -> String {
    format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=polls:stats&state=s&code_challenge={}&code_challenge_method=S256",
        scopegate::web::openapi::DOCS_CLIENT_ID,
        redirect_uri,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
}

async fn docs_client_redirects(server: &TestServer) -> Vec<String> {
    server
        .store()
        .client_by_client_id(scopegate::web::openapi::DOCS_CLIENT_ID)
        .await
        .unwrap()
        .expect("the docs client")
        .redirect_uris
}

// `GET /docs` with a forged `Host` must not make that host a redirect target of the approved,
// every-scope docs client: an authorization request to it gets the error page.
crate::both_backends! {
    async fn the_host_header_never_chooses_the_docs_clients_redirect(db: Backend) {
        let server = TestServer::start_with(db, |_| {}, crate::polls::routes(Route::new())).await;
        server.user("alice", "correct horse").await;
        let resp = http()
            .get(server.url("/docs"))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let uris = docs_client_redirects(&server).await;
        assert!(uris.iter().all(|u| !u.contains("evil.example")), "{uris:?}");
        assert!(uris.contains(&server.url("/docs/ui/oauth-receiver.html")), "{uris:?}");
        let browser = crate::support::Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let resp = browser
            .get(&docs_authorize_url("http://evil.example/docs/ui/oauth-receiver.html"))
            .await;
        assert!(resp.headers().get("location").is_none(), "never redirected to evil.example");
        assert_eq!(resp.status(), 400);
        // A database written while the redirect came from `Host` is repaired by the next visit.
        let client = server
            .store()
            .client_by_client_id(scopegate::web::openapi::DOCS_CLIENT_ID)
            .await
            .unwrap()
            .unwrap();
        let evil = edited(&client, |d| {
            d.redirect_uris = vec!["http://evil.example/docs/ui/oauth-receiver.html".into()]
        });
        server.store().update_client(client.id, &evil).await.unwrap();
        http().get(server.url("/docs")).header("host", "evil.example").send().await.unwrap();
        let uris = docs_client_redirects(&server).await;
        assert!(uris.iter().all(|u| !u.contains("evil.example")), "{uris:?}");
        server.stop().await;
    }
}

/// With `issuer` set, the docs client's redirect URI is the issuer's, whatever the request says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_client_redirect_comes_from_the_issuer_setting() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        |s| s.issuer = Some("https://auth.example.com/".into()),
        crate::polls::routes(Route::new()),
    )
    .await;
    http()
        .get(server.url("/docs"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        docs_client_redirects(&server).await,
        vec!["https://auth.example.com/docs/ui/oauth-receiver.html".to_owned()]
    );
    server.stop().await;
}

/// RFC 9110 §15.5.6: a 405 lists the resource's methods in `Allow`, on scopegate's routes, the
/// compatibility routes, the host's plain routes and its poem-openapi operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_names_the_allowed_methods() {
    let server =
        TestServer::start_with(Backend::Sqlite, |_| {}, crate::polls::routes(Route::new())).await;
    for (method, path, allow) in [
        ("DELETE", "/oauth/token", "POST"),
        ("GET", "/oauth/revoke", "POST"),
        ("HEAD", "/oauth/introspect", "POST"),
        ("PUT", "/oauth/authorize", "GET, POST, HEAD"),
        ("DELETE", "/oauth/userinfo", "GET, POST, HEAD"),
        ("GET", "/token/", "POST"),
        (
            "POST",
            "/.well-known/oauth-authorization-server",
            "GET, HEAD",
        ),
        ("POST", "/polls/stats", "GET, HEAD"),
        ("GET", "/polls/1/vote", "POST"),
        ("DELETE", "/api/stats", "GET, HEAD"),
        ("GET", "/api/polls/1/vote", "POST"),
        ("PUT", "/api/polls/7/results", "GET, HEAD"),
        ("POST", "/openapi.json", "GET, HEAD"),
        ("DELETE", "/login", "GET, POST, HEAD"),
    ] {
        let resp = http()
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(
            resp.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
    }
    server.stop().await;
}

/// A client generator pointed at `/openapi.json` finds every public endpoint: each one the
/// metadata names, and each compatibility route that is switched on (spelled as routed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_public_endpoint() {
    let server =
        TestServer::start_with(Backend::Sqlite, |_| {}, crate::polls::routes(Route::new())).await;
    let spec: Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metadata: Value = http()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut expected: Vec<(String, &str)> = Vec::new();
    for (field, method) in [
        ("authorization_endpoint", "get"),
        ("token_endpoint", "post"),
        ("revocation_endpoint", "post"),
        ("introspection_endpoint", "post"),
        ("userinfo_endpoint", "get"),
        ("userinfo_endpoint", "post"),
    ] {
        let url = metadata[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}"));
        expected.push((url.trim_start_matches(&server.base).to_owned(), method));
    }
    expected.push(("/.well-known/oauth-authorization-server".into(), "get"));
    for (path, method) in [
        ("/auth/", "get"),
        ("/token/", "post"),
        ("/oauth/authorise/", "get"),
        ("/open_auth/token/", "post"),
        ("/open_auth/revoke_token/", "post"),
        ("/open_auth/get_user_data/", "get"),
        ("/oauth-server/oauth/token", "post"),
        ("/oauth-server/oauth/check_token", "get"),
        ("/oauth-server/openplatform-oauth/revoke_token", "post"),
    ] {
        expected.push((path.into(), method));
    }
    for (path, method) in &expected {
        assert!(
            spec["paths"][path.as_str()][*method].is_object(),
            "{method} {path} is not in the document"
        );
        // And the path is really served there (not 404).
        let resp = http()
            .request(method.to_uppercase().parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 404, "{method} {path}");
    }
    server.stop().await;

    // A family switched off is not listed.
    let server = TestServer::start_with(
        Backend::Sqlite,
        |s| s.compat_omniport = false,
        crate::polls::routes(Route::new()),
    )
    .await;
    let spec: Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/open_auth/token/"].is_null());
    assert!(spec["paths"]["/auth/"].is_object());
    server.stop().await;
}

/// Every answer the demo's `/api/*` operations give is in the document, with its status and a
/// JSON body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answer_of_the_demo_is_documented() {
    let server =
        TestServer::start_with(Backend::Sqlite, |_| {}, crate::polls::routes(Route::new())).await;
    let registry = scopegate::registry::scopes();
    scopegate::manage::syncscopes::sync(server.store().as_ref(), &registry, &[], false, false)
        .await
        .unwrap();
    let user = server.user("alice", "correct horse").await;
    let client = server
        .client(crate::support::ClientSpec {
            scopes: registry.keys().cloned().collect::<Vec<_>>().join(" "),
            ..Default::default()
        })
        .await;
    let (all, _) = crate::support::issue_access_token(
        &server,
        &client,
        Some(&user),
        "polls:vote polls:results polls:stats",
        3600,
    )
    .await;
    let (none, _) =
        crate::support::issue_access_token(&server, &client, Some(&user), "polls:index", 3600)
            .await;
    let spec: Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let json = serde_json::json!({ "choice": 0 });
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a Value>,
    );
    let cases: Vec<Case> = vec![
        ("get", "/api/stats", "/api/stats", Some(&all), None),
        ("get", "/api/stats", "/api/stats", Some(&none), None),
        ("get", "/api/stats", "/api/stats", None, None),
        (
            "get",
            "/api/polls/1/results",
            "/api/polls/{id}/results",
            Some(&all),
            None,
        ),
        (
            "get",
            "/api/polls/99/results",
            "/api/polls/{id}/results",
            Some(&all),
            None,
        ),
        (
            "get",
            "/api/polls/x/results",
            "/api/polls/{id}/results",
            Some(&all),
            None,
        ),
        (
            "post",
            "/api/polls/1/vote",
            "/api/polls/{id}/vote",
            Some(&all),
            Some(&json),
        ),
        (
            "post",
            "/api/polls/99/vote",
            "/api/polls/{id}/vote",
            Some(&all),
            Some(&json),
        ),
        (
            "post",
            "/api/polls/1/vote",
            "/api/polls/{id}/vote",
            Some(&all),
            None,
        ),
        (
            "post",
            "/api/polls/1/vote",
            "/api/polls/{id}/vote",
            Some("junk"),
            Some(&json),
        ),
    ];
    for (method, path, template, token, body) in cases {
        let mut req = http().request(method.to_uppercase().parse().unwrap(), server.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16().to_string();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let answer = &spec["paths"][template][method]["responses"][status.as_str()];
        assert!(
            answer.is_object(),
            "{method} {path} answered {status}, which is undocumented"
        );
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type}"
        );
        let text = resp.text().await.unwrap();
        let _: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {text}"));
    }
    server.stop().await;
}
