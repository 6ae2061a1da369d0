//! The order in which a guard decides (RFC 6750 §3.1): no token 401 with a bare challenge, a
//! bad token 401 `invalid_token`, a missing scope 403 `insufficient_scope`, and only then the
//! handler's own 400 for its body. Every combination of token and body, on a plain handler and
//! on a poem-openapi operation of the polls demo, over HTTP on both databases.

use poem::Route;
use scopegate::core::model::User;
use scopegate::web::guard::{GuardError, Refusal};

use crate::both_backends;
use crate::support::{Backend, ClientSpec, TestClient, TestServer, http, issue_access_token};

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

#[derive(Debug, Clone, Copy)]
enum Token {
    None,
    Garbage,
    WrongScope,
    RightScope,
}

#[derive(Debug, Clone, Copy)]
enum Body {
    Valid,
    Malformed,
    Absent,
}

/// Which resource, and how each body is sent to it.
#[derive(Debug, Clone, Copy)]
enum Resource {
    /// `POST /polls/1/vote`, a `#[poem::handler]` reading `Form<VoteForm>`.
    Handler,
    /// `POST /api/polls/1/vote`, a poem-openapi operation reading `Json<VoteBody>`.
    Operation,
}

fn request(
    server: &TestServer,
    resource: Resource,
    body: Body,
    bearer: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = match resource {
        Resource::Handler => {
            let req = http().post(server.url("/polls/1/vote"));
            match body {
                Body::Valid => req.form(&[("choice", "0")]),
                Body::Malformed => req.form(&[("choice", "not a number")]),
                Body::Absent => req,
            }
        }
        Resource::Operation => {
            let req = http().post(server.url("/api/polls/1/vote"));
            match body {
                Body::Valid => req.json(&serde_json::json!({ "choice": 0 })),
                // The issue's example: a body without its field.
                Body::Malformed => req.json(&serde_json::json!({})),
                Body::Absent => req,
            }
        }
    };
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    req
}

both_backends! {
    async fn authentication_then_scope_then_the_body_on_both_kinds_of_handler(db: Backend) {
        let (server, client, user) = demo(db).await;
        let (wrong, _) =
            issue_access_token(&server, &client, Some(&user), "polls:stats", 3600).await;
        let (right, _) =
            issue_access_token(&server, &client, Some(&user), "polls:vote", 3600).await;
        for resource in [Resource::Handler, Resource::Operation] {
            for token in [Token::None, Token::Garbage, Token::WrongScope, Token::RightScope] {
                for body in [Body::Valid, Body::Malformed, Body::Absent] {
                    let bearer = match token {
                        Token::None => None,
                        Token::Garbage => Some("garbage-token"),
                        Token::WrongScope => Some(wrong.as_str()),
                        Token::RightScope => Some(right.as_str()),
                    };
                    let case = format!("{resource:?} {token:?} {body:?}");
                    let resp = request(&server, resource, body, bearer).send().await.unwrap();
                    let status = resp.status().as_u16();
                    let challenge = resp
                        .headers()
                        .get("www-authenticate")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let text = resp.text().await.unwrap();
                    match token {
                        Token::None => {
                            assert_eq!(status, 401, "{case}: {text}");
                            assert_eq!(
                                challenge.as_deref(),
                                Some(bare_challenge(&server).as_str()),
                                "{case}: a request without a token gets a bare challenge"
                            );
                        }
                        Token::Garbage => {
                            assert_eq!(status, 401, "{case}: {text}");
                            let c = challenge.unwrap_or_default();
                            assert!(c.contains("error=\"invalid_token\""), "{case}: {c}");
                        }
                        Token::WrongScope => {
                            assert_eq!(status, 403, "{case}: {text}");
                            let c = challenge.unwrap_or_default();
                            assert!(c.contains("error=\"insufficient_scope\""), "{case}: {c}");
                            assert!(c.contains("scope=\"polls:vote\""), "{case}: {c}");
                        }
                        Token::RightScope => match body {
                            Body::Valid => assert_eq!(status, 200, "{case}: {text}"),
                            Body::Malformed => assert_eq!(status, 400, "{case}: {text}"),
                            // No body at all: a 400, or 415 where the payload type needs a
                            // content type; never an authentication answer.
                            Body::Absent => {
                                assert!(status == 400 || status == 415, "{case}: {status} {text}")
                            }
                        },
                    }
                    if !matches!(token, Token::RightScope) {
                        // A refusal says nothing about the body's schema.
                        let body: serde_json::Value = serde_json::from_str(&text)
                            .unwrap_or_else(|_| panic!("{case}: a JSON error body: {text}"));
                        let error = body["error"].as_str().unwrap_or_default();
                        assert!(
                            ["invalid_token", "insufficient_scope"].contains(&error),
                            "{case}: {body}"
                        );
                        assert!(!text.contains("integer") && !text.contains("parse"), "{case}: {text}");
                    }
                }
            }
        }
        server.stop().await;
    }

    async fn a_missing_token_gets_a_bare_challenge_everywhere_a_bad_one_names_its_error(db: Backend) {
        let (server, _client, _user) = demo(db).await;
        for path in ["/polls/", "/polls/stats", "/api/stats", "/api/polls/1/results", "/oauth/userinfo"] {
            let resp = http().get(server.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), 401, "{path}");
            assert_eq!(resp.headers()["www-authenticate"], bare_challenge(&server).as_str(), "{path}");
            for bad in ["nope", ""] {
                let resp = http()
                    .get(server.url(path))
                    .header("authorization", format!("Bearer {bad}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 401, "{path} {bad:?}");
                let c = resp.headers()["www-authenticate"].to_str().unwrap().to_owned();
                assert!(c.starts_with("Bearer realm=\"scopegate\", error=\"invalid_token\""), "{path}: {c}");
            }
            // An empty `access_token` query parameter was presented too.
            let resp = http().get(server.url(&format!("{path}?access_token="))).send().await.unwrap();
            assert_eq!(resp.status(), 401, "{path}");
            let c = resp.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(c.contains("error=\"invalid_token\""), "{path}: {c}");
        }
        server.stop().await;
    }
}

/// The reason is a value: wording can change without changing which challenge is sent.
#[test]
fn the_missing_token_reason_is_a_value_not_a_wording() {
    let mut none = GuardError::new(Refusal::NoToken);
    assert!(none.is_missing_token());
    none.error.description = "reworded".into();
    assert!(none.is_missing_token());
    let mut empty = GuardError::new(Refusal::EmptyToken);
    empty.error.description = Refusal::NoToken.description().into();
    assert!(!empty.is_missing_token());
    let bare = none.response();
    assert_eq!(bare.status(), 401);
    assert_eq!(
        bare.headers()["www-authenticate"],
        "Bearer realm=\"scopegate\""
    );
    let named = empty.response();
    assert!(
        named.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // A server-side failure is a 500 without a Bearer challenge (RFC 6750 has no code for it).
    let failed = GuardError::new(Refusal::StoreFailed).response();
    assert_eq!(failed.status(), 500);
    assert!(failed.headers().get("www-authenticate").is_none());
}

/// RFC 6750 §3.1's challenge for a request without a token, naming the resource's RFC 9728
/// metadata (§5.1), which clients follow to find where tokens come from.
fn bare_challenge(server: &crate::support::TestServer) -> String {
    format!(
        "Bearer realm=\"scopegate\", resource_metadata=\"{}\"",
        server.url("/.well-known/oauth-protected-resource")
    )
}
