//! Guards in a service that is not the authorization server: `examples/polls_api`, a process of
//! its own, checks the tokens of an issuer (a scopegate server) over HTTP, by JWT (RFC 9068)
//! or by introspection (RFC 7662); tokens come from the `oauth2` crate; RFC 8707 resource
//! indicators and RFC 9728 metadata connect the two.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use poem::Route;
use scopegate::core::model::{AccessTokenFormat, ClientPermissions, GrantType, TokenOptions};
use scopegate::core::oidc::keys::{Algorithm, EncryptionKey, KeySet};
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{
    Backend, Browser, ClientSpec, Instance, TestClient, TestServer, free_port, get_json, http,
    query_of,
};

/// A `key_encryption_key` for the tests (32 bytes, base64).
const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// `examples/polls_api`, which `cargo test` builds beside the `scopegate` binary.
fn polls_api_binary() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_scopegate"));
    bin.parent().unwrap().join("examples").join("polls_api")
}

/// The polls API in a process of its own, stopped (by its PID) when dropped.
struct Api {
    base: String,
    child: std::process::Child,
}

impl Api {
    /// Starts it for `issuer` with extra `args` and `env`; waits until it serves.
    async fn start(issuer: &str, args: &[&str], env: &[(&str, &str)]) -> Api {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(polls_api_binary())
            .args(["--issuer", issuer, "--addr", &addr])
            .args(args)
            .env("SCOPEGATE_LOG", "warn")
            .env_remove("SCOPEGATE_CLIENT_ID")
            .env_remove("SCOPEGATE_CLIENT_SECRET")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start examples/polls_api (cargo test builds it)");
        let api = Api {
            base: format!("http://{addr}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = http()
                .get(api.url("/.well-known/oauth-protected-resource"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if up {
                return api;
            }
            assert!(Instant::now() < deadline, "polls_api never served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The status and `WWW-Authenticate` of a GET of `path` with `token`.
    async fn get(&self, path: &str, token: &str) -> (u16, String) {
        let resp = http()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (resp.status().as_u16(), challenge)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn jwt_client() -> ClientSpec {
    ClientSpec {
        grants: vec![GrantType::ClientCredentials],
        tokens: TokenOptions {
            access: AccessTokenFormat::Jwt,
            ..TokenOptions::default()
        },
        scopes: "polls:vote polls:stats polls:results".into(),
        ..ClientSpec::default()
    }
}

/// An access token for `c` from the token endpoint at `token_url`, asked for by the `oauth2`
/// crate with `resource` (RFC 8707) when given.
async fn client_credentials(
    token_url: &str,
    c: &TestClient,
    scope: &str,
    resource: Option<&str>,
) -> String {
    let client = BasicClient::new(ClientId::new(c.client_id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_token_uri(TokenUrl::new(token_url.to_owned()).unwrap());
    let mut request = client.exchange_client_credentials();
    for s in scope.split_whitespace() {
        request = request.add_scope(Scope::new(s.to_owned()));
    }
    if let Some(resource) = resource {
        request = request.add_extra_param("resource", resource);
    }
    let answer = request.request_async(&http()).await.expect("a token");
    answer.access_token().secret().clone()
}

fn jws_part(token: &str, n: usize) -> Value {
    let part = token.split('.').nth(n).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encoded(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The issuer's signing keys, as it loads them.
async fn issuer_keys(server: &TestServer) -> KeySet {
    let stored = server.store().signing_keys().await.unwrap();
    let kek = EncryptionKey::from_base64(KEK).unwrap();
    KeySet::load(&stored, &kek, scopegate::core::now()).unwrap()
}

both_backends! {
    async fn a_jwt_from_the_issuer_opens_the_api_and_each_forgery_gets_401(db: Backend) {
        let host = crate::polls::routes(Route::new());
        let server = TestServer::start_with(db, |s| s.key_encryption_key = Some(KEK.into()), host).await;
        let c = server.client(jwt_client()).await;
        let api = Api::start(&server.base, &["--validation", "jwt"], &[]).await;
        let token_url = server.url("/oauth/token");

        let token = client_credentials(&token_url, &c, "polls:stats", Some(&api.base)).await;
        let (header, claims) = (jws_part(&token, 0), jws_part(&token, 1));
        assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], server.base.as_str());
        assert_eq!(claims["aud"], api.base.as_str(), "the resource asked for (RFC 8707)");
        assert_eq!(claims["client_id"], c.client_id.as_str());
        assert_eq!(claims["sub"], c.client_id.as_str(), "a client's own token names the client");
        assert_eq!(claims["scope"], "polls:stats");
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
        for path in ["/api/stats", "/polls/stats"] {
            assert_eq!(api.get(path, &token).await.0, 200, "{path}");
        }
        // The issuer knows it by its hash like any token: its introspection names the resource,
        // and its own guard refuses a token made for another service.
        let said = crate::support::introspect(&server, &c, &token).await;
        assert_eq!((said["active"].clone(), said["aud"].clone()), (json!(true), json!(api.base)));
        let resp = http().get(server.url("/api/stats")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 401, "a token for the API is not for the issuer's own routes");

        // A token for the issuer itself (no resource) is not for the API; nor is one without
        // the scope a handler needs.
        let own = client_credentials(&token_url, &c, "polls:stats", None).await;
        assert_eq!(jws_part(&own, 1)["aud"], server.base.as_str(), "RFC 9068 §3: the default resource");
        assert_eq!(api.get("/api/stats", &own).await.0, 401);
        let resp = http().get(server.url("/api/stats")).bearer_auth(&own).send().await.unwrap();
        assert_eq!(resp.status(), 200, "the issuer's own guard takes its JWT access tokens");
        let vote_only = client_credentials(&token_url, &c, "polls:vote", Some(&api.base)).await;
        let (status, challenge) = api.get("/api/stats", &vote_only).await;
        assert_eq!(status, 403);
        assert!(challenge.contains("insufficient_scope"), "{challenge}");

        // Each forgery, made with the issuer's real keys where it needs a signature. A token
        // signed the same way with honest claims opens the API, so each refusal is for its flaw.
        let keys = issuer_keys(&server).await;
        let now = scopegate::core::now();
        let honest = json!({
            "iss": server.base, "aud": api.base, "sub": c.client_id, "client_id": c.client_id,
            "scope": "polls:stats", "iat": now, "exp": now + 300, "jti": "test-jti",
        });
        let sign = |claims: &Value, typ: &str| keys.sign_typed(Algorithm::Rs256, typ, claims).unwrap().unwrap();
        let with = |change: &[(&str, Value)]| {
            let mut claims = honest.clone();
            for (k, v) in change {
                claims[*k] = v.clone();
            }
            sign(&claims, "at+jwt")
        };
        assert_eq!(api.get("/api/stats", &with(&[])).await.0, 200, "honest claims pass");
        let parts: Vec<&str> = token.split('.').collect();
        let mut wider = jws_part(&token, 1);
        wider["scope"] = json!("polls:stats polls:vote admin");
        let kid = header["kid"].as_str().unwrap();
        let public_jwk = keys.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .to_string();
        let hs_header = encoded(&json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid }));
        let hs_input = format!("{hs_header}.{}", parts[1]);
        let hs_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_jwk.as_bytes());
        let hs_sig = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&hs_key, hs_input.as_bytes()));
        let unknown_kid = {
            let signed = with(&[]);
            let mut h = jws_part(&signed, 0);
            h["kid"] = json!("a-kid-nobody-published");
            let rest: Vec<&str> = signed.split('.').skip(1).collect();
            format!("{}.{}", encoded(&h), rest.join("."))
        };
        let forged = [
            ("tampered claims", format!("{}.{}.{}", parts[0], encoded(&wider), parts[2])),
            ("expired", with(&[("exp", json!(now - 3600)), ("iat", json!(now - 7200))])),
            ("wrong aud", with(&[("aud", json!("http://elsewhere.example"))])),
            ("wrong iss", with(&[("iss", json!("http://impostor.example"))])),
            ("alg none", format!("{}.{}.", encoded(&json!({ "alg": "none", "typ": "at+jwt", "kid": kid })), parts[1])),
            ("HS256 with the public key", format!("{hs_input}.{hs_sig}")),
            ("unknown kid", unknown_kid),
            ("an ID token (typ JWT)", sign(&honest, "JWT")),
            ("not a JWT", "not-a-jwt".to_owned()),
        ];
        for (case, bad) in &forged {
            let (status, challenge) = api.get("/api/stats", bad).await;
            assert_eq!(status, 401, "{case}");
            assert!(challenge.contains("error=\"invalid_token\""), "{case}: {challenge}");
            assert!(
                challenge.contains(&format!("resource_metadata=\"{}\"", api.url("/.well-known/oauth-protected-resource"))),
                "{case}: {challenge}"
            );
        }
        drop(api);
        server.stop().await;
    }
}

/// A key rotation at the issuer while the API serves: a token of the old key that the API has
/// never seen still opens it, and the new key's tokens do from their first request (the API
/// fetches the JWKS again on the unknown `kid`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_the_old_and_the_new_key_both_open_the_api_across_a_rotation() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        |s| s.key_encryption_key = Some(KEK.into()),
        Route::new(),
    )
    .await;
    let c = server.client(jwt_client()).await;
    // The issuer, as processes on one address: restarted after the rotation so it signs with
    // the new key at once (a rotation's keys otherwise wait a reload interval to sign).
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [
        ("SCOPEGATE_KEY_ENCRYPTION_KEY", KEK),
        ("SCOPEGATE_ISSUER", issuer.as_str()),
    ];
    let before = Instance::start_on(port, &server.db.url, &env).await;
    let api = Api::start(&issuer, &[], &[]).await;
    let token_url = before.url("/oauth/token");
    let seen = client_credentials(&token_url, &c, "polls:stats", Some(&api.base)).await;
    let unseen = client_credentials(&token_url, &c, "polls:stats", Some(&api.base)).await;
    assert_eq!(api.get("/api/stats", &seen).await.0, 200);

    crate::support::rotate_keys(&server.db.url, KEK);
    server
        .db
        .exec_sql("UPDATE signing_keys SET signs_from = signs_from - 100");
    drop(before);
    let after = Instance::start_on(port, &server.db.url, &env).await;
    // The API fetches the JWKS again on an unknown `kid` at most once a second; a real
    // rotation publishes keys a minute before they sign, so only this test's haste needs it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let fresh = client_credentials(&token_url, &c, "polls:stats", Some(&api.base)).await;
    assert_ne!(
        jws_part(&fresh, 0)["kid"],
        jws_part(&seen, 0)["kid"],
        "the new key signs"
    );
    let (status, challenge) = api.get("/api/stats", &fresh).await;
    assert_eq!(status, 200, "the new key's first token: {challenge}");
    assert_eq!(
        api.get("/api/stats", &unseen).await.0,
        200,
        "the old key's token, verified now"
    );
    assert_eq!(api.get("/api/stats", &seen).await.0, 200);

    // With the issuer gone, the keys the API holds still verify their tokens; a token of a key
    // it has not seen cannot be checked, and gets a 503, never a pass.
    let unseen_fresh = client_credentials(&token_url, &c, "polls:stats", Some(&api.base)).await;
    drop(after);
    assert_eq!(
        api.get("/api/stats", &unseen_fresh).await.0,
        200,
        "verified without the issuer"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut header = jws_part(&unseen_fresh, 0);
    header["kid"] = json!("a-kid-nobody-published");
    let rest: Vec<&str> = unseen_fresh.split('.').skip(1).collect();
    let unknown = format!("{}.{}", encoded(&header), rest.join("."));
    assert_eq!(api.get("/api/stats", &unknown).await.0, 503);
    drop(api);
    server.stop().await;
}

/// Introspection mode: the API asks the issuer with its own client credentials, caches the
/// answer for at most `--cache-max-age`, and so honours a revocation within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_introspection_a_revocation_is_honoured_within_the_cache_age() {
    let server = TestServer::start(Backend::Sqlite).await;
    let app = server
        .client(ClientSpec {
            grants: vec![GrantType::ClientCredentials],
            ..ClientSpec::default()
        })
        .await;
    let api_client = server
        .client(ClientSpec {
            grants: vec![GrantType::ClientCredentials],
            permissions: ClientPermissions {
                resource_server: true,
                ..ClientPermissions::default()
            },
            ..ClientSpec::default()
        })
        .await;
    let secret = api_client.secret.clone().unwrap();
    let creds = [
        ("SCOPEGATE_CLIENT_ID", api_client.client_id.as_str()),
        ("SCOPEGATE_CLIENT_SECRET", secret.as_str()),
    ];
    let api = Api::start(
        &server.base,
        &["--validation", "introspect", "--cache-max-age", "1"],
        &creds,
    )
    .await;
    let token_url = server.url("/oauth/token");
    let token = client_credentials(&token_url, &app, "polls:stats", Some(&api.base)).await;
    assert_eq!(token.split('.').count(), 1, "an opaque token");
    assert_eq!(api.get("/api/stats", &token).await.0, 200);
    assert_eq!(api.get("/api/stats", &token).await.0, 200, "from the cache");
    let elsewhere = client_credentials(&token_url, &app, "polls:stats", None).await;
    assert_eq!(
        api.get("/api/stats", &elsewhere).await.0,
        401,
        "a token for no resource in particular"
    );

    let resp = http()
        .post(server.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        api.get("/api/stats", &token).await.0,
        401,
        "revoked, past the cache age"
    );

    // Without usable credentials the API cannot ask, so it answers 503, never a pass.
    let wrong = [
        ("SCOPEGATE_CLIENT_ID", api_client.client_id.as_str()),
        ("SCOPEGATE_CLIENT_SECRET", "wrong"),
    ];
    let misconfigured = Api::start(&server.base, &["--validation", "introspect"], &wrong).await;
    let fresh =
        client_credentials(&token_url, &app, "polls:stats", Some(&misconfigured.base)).await;
    assert_eq!(misconfigured.get("/api/stats", &fresh).await.0, 503);
    drop((api, misconfigured));
    server.stop().await;
}

/// An issuer that cannot be reached: 503 with `Retry-After` in both modes, never a pass; a
/// request without a token is still a 401, decided without the issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_issuer_gets_503_with_retry_after() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let jwt = Api::start(&nowhere, &[], &[]).await;
    let creds = [
        ("SCOPEGATE_CLIENT_ID", "api"),
        ("SCOPEGATE_CLIENT_SECRET", "secret"),
    ];
    let introspect = Api::start(&nowhere, &["--validation", "introspect"], &creds).await;
    let fake_jwt = format!(
        "{}.{}.c2ln",
        encoded(&json!({ "alg": "RS256", "typ": "at+jwt", "kid": "k" })),
        encoded(&json!({ "iss": nowhere, "aud": jwt.base }))
    );
    for (api, token) in [(&jwt, fake_jwt.as_str()), (&introspect, "opaque-token")] {
        let resp = http()
            .get(api.url("/api/stats"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503, "{}", api.base);
        assert!(resp.headers().get("retry-after").is_some(), "{}", api.base);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        let resp = http().get(api.url("/api/stats")).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }
}

/// RFC 9728 from the registry, the OpenAPI document naming the issuer's endpoints, and the
/// API's scopes reaching the issuer's database through `syncscopes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_describes_itself_and_syncs_its_scopes_to_the_issuer() {
    let server = TestServer::start(Backend::Sqlite).await;
    let api = Api::start(&server.base, &[], &[]).await;
    let doc: Value = get_json(&api.url("/.well-known/oauth-protected-resource")).await;
    assert_eq!(doc["resource"], api.base.as_str());
    assert_eq!(doc["authorization_servers"], json!([server.base]));
    let scopes: Vec<&str> = doc["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for s in [
        "polls:vote",
        "polls:stats",
        "polls:results",
        "polls:index",
        "polls:detail",
    ] {
        assert!(scopes.contains(&s), "{s} in {scopes:?}");
    }
    let resp = http().get(api.url("/api/stats")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"scopegate\", resource_metadata=\"{}\"",
            api.url("/.well-known/oauth-protected-resource")
        )
        .as_str()
    );

    let spec: Value = get_json(&api.url("/openapi.json")).await;
    assert_eq!(spec["servers"][0]["url"], api.base.as_str());
    let flow =
        &spec["components"]["securitySchemes"]["scopegate_oauth2"]["flows"]["authorizationCode"];
    assert_eq!(
        flow["authorizationUrl"],
        server.url("/oauth/authorize").as_str()
    );
    assert_eq!(flow["tokenUrl"], server.url("/oauth/token").as_str());
    assert!(spec["paths"].get("/api/stats").is_some());
    assert!(
        spec["paths"].get("/oauth/token").is_none(),
        "the issuer's endpoints are not the API's"
    );
    let resp = http().get(api.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "the explorer is the issuer's");

    // The issuer describes itself the same way, as the resource its own guards protect.
    let own: Value = get_json(&server.url("/.well-known/oauth-protected-resource")).await;
    assert_eq!(
        (
            own["resource"].clone(),
            own["authorization_servers"].clone()
        ),
        (json!(server.base), json!([server.base]))
    );

    let before = server.store().list_scopes().await.unwrap();
    assert!(before.iter().all(|s| s.name != "polls:stats"));
    let out = std::process::Command::new(polls_api_binary())
        .args(["syncscopes", "--database-url", &server.db.url, "polls"])
        .env_remove("SCOPEGATE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = server.store().list_scopes().await.unwrap();
    let stats = after
        .iter()
        .find(|s| s.name == "polls:stats")
        .expect("synced to the issuer");
    assert_eq!(stats.description, "See voting statistics.");
    drop(api);
    server.stop().await;
}

both_backends! {
    async fn resource_indicators_follow_rfc_8707(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw-alice-123").await;
        let c = server
            .client(ClientSpec {
                grants: vec![GrantType::Password, GrantType::RefreshToken],
                ..ClientSpec::default()
            })
            .await;
        let token = |form: Vec<(&'static str, String)>| {
            let (url, c) = (server.url("/oauth/token"), c.clone());
            async move {
                let resp = http().post(url).basic_auth(&c.client_id, c.secret.as_deref()).form(&form).send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }
        };
        let password = |resource: &str| {
            vec![
                ("grant_type", "password".to_owned()),
                ("username", "alice".to_owned()),
                ("password", "pw-alice-123".to_owned()),
                ("resource", resource.to_owned()),
            ]
        };
        for bad in ["https://api.example.com/#part", "not a uri", "relative/path"] {
            let (status, body) = token(password(bad)).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")), "{bad}");
        }
        let (status, issued) = token(password("https://api.example.com/polls")).await;
        assert_eq!(status, 200, "{issued}");
        let access = issued["access_token"].as_str().unwrap();
        let said = crate::support::introspect(&server, &c, access).await;
        assert_eq!(said["aud"], "https://api.example.com/polls");

        // A refresh keeps the resource, may repeat it, and may not change it.
        let refresh = |rt: &str, resource: Option<&str>| {
            let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", rt.to_owned())];
            if let Some(r) = resource {
                form.push(("resource", r.to_owned()));
            }
            form
        };
        let rt = issued["refresh_token"].as_str().unwrap();
        let (status, body) = token(refresh(rt, Some("https://other.example.com"))).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")));
        let (status, again) = token(refresh(rt, None)).await;
        assert_eq!(status, 200, "{again}");
        let said = crate::support::introspect(&server, &c, again["access_token"].as_str().unwrap()).await;
        assert_eq!(said["aud"], "https://api.example.com/polls", "kept across the refresh");

        // At the authorization endpoint (the consent page holds it): the code's tokens are for
        // it, and the token request may repeat it but not change it.
        let web = server.client(ClientSpec::default()).await;
        let browser = Browser::new(&server);
        browser.login("alice", "pw-alice-123").await;
        let code = |resource: &'static str| {
            let (browser, web) = (&browser, &web);
            async move {
                let url = format!(
                    "/oauth/authorize?response_type=code&client_id={}&scope=polls:vote&resource={}",
                    web.client_id,
                    url::form_urlencoded::byte_serialize(resource.as_bytes()).collect::<String>()
                );
                query_of(&browser.approve(&url).await)["code"].clone()
            }
        };
        let exchange = |code: String, resource: Option<&'static str>| {
            let (url, web) = (server.url("/oauth/token"), web.clone());
            async move {
                let mut form = vec![("grant_type", "authorization_code".to_owned()), ("code", code)];
                if let Some(r) = resource {
                    form.push(("resource", r.to_owned()));
                }
                let resp = http().post(url).basic_auth(&web.client_id, web.secret.as_deref()).form(&form).send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }
        };
        let (status, body) = exchange(code("https://api.example.com/polls").await, Some("https://other.example.com")).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")));
        let (status, body) = exchange(code("https://api.example.com/polls").await, None).await;
        assert_eq!(status, 200, "{body}");
        let said = crate::support::introspect(&server, &web, body["access_token"].as_str().unwrap()).await;
        assert_eq!(said["aud"], "https://api.example.com/polls", "from the authorization request");
        let resp = browser.get(&format!("/oauth/authorize?response_type=code&client_id={}&scope=polls:vote&resource=rel", web.client_id)).await;
        assert_eq!(resp.status(), 302, "an error for the client, at its redirect URI");
        assert!(resp.headers()["location"].to_str().unwrap().contains("error=invalid_target"));
        server.stop().await;
    }
}
