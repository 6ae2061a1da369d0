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
