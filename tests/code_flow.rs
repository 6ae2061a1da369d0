//! The authorization-code flow end to end over HTTP, with the `oauth2` crate from crates.io as
//! the client and a cookie-keeping HTTP client driving the login and consent pages like a
//! browser. Every error case of the authorize and token endpoints has a test.

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;

use crate::both_backends;
use crate::support::{
    Backend, Browser, ClientSpec, TestClient, TestServer, http, introspect, query_of,
};

fn oauth_client(
    server: &TestServer,
    c: &TestClient,
) -> oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    let mut client = BasicClient::new(ClientId::new(c.client_id.clone()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone()).unwrap());
    if let Some(secret) = &c.secret {
        client = client.set_client_secret(ClientSecret::new(secret.clone()));
    }
    client
}

/// Posts a form to the token endpoint; returns status, the WWW-Authenticate header and the body.
async fn token_call(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Option<String>, Value) {
    let mut req = http().post(server.url("/oauth/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    if status == 200 {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    (status, www, resp.json().await.unwrap())
}

/// Signs `alice` in and approves an authorization request; returns the code.
async fn code_for(server: &TestServer, c: &TestClient, extra: &str) -> String {
    let browser = Browser::new(server);
    server.user("alice", "correct horse").await;
    browser.login("alice", "correct horse").await;
    let location = browser
        .authorize(
            &format!(
                "/oauth/authorize?response_type=code&client_id={}{extra}",
                c.client_id
            ),
            "approve",
        )
        .await;
    query_of(&location)["code"].clone()
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

both_backends! {
    async fn oauth2_crate_completes_code_with_pkce_and_refresh_rotation(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let c = server.client(ClientSpec::default()).await;
        let client = oauth_client(&server, &c);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("polls:vote".into()))
            .set_pkce_challenge(challenge)
            .url();

        // The browser: redirected to login, signs in, comes back, approves.
        let browser = Browser::new(&server);
        let resp = browser.get(url.as_str()).await;
        assert_eq!(resp.status(), 302);
        let login = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(login.starts_with("/login?next="), "anonymous users go through /login: {login}");
        browser.login("alice", "correct horse").await;
        let page = browser.get(url.as_str()).await.text().await.unwrap();
        assert!(page.contains("Test App"), "the consent page names the app");
        assert!(page.contains("polls:vote"), "and the requested scope");
        let location = browser.authorize(url.as_str(), "approve").await;
        assert!(location.starts_with(&c.redirect_uri));
        let q = query_of(&location);
        assert_eq!(&q["state"], csrf.secret(), "state comes back unchanged");

        let http_client = http();
        let tokens = client
            .exchange_code(AuthorizationCode::new(q["code"].clone()))
            .set_pkce_verifier(verifier)
            .request_async(&http_client)
            .await
            .expect("code exchange");
        assert_eq!(tokens.expires_in().map(|d| d.as_secs()), Some(36_000));
        let scopes: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes, vec!["polls:vote".to_owned()]);
        let first_access = tokens.access_token().secret().clone();
        let first_refresh = tokens.refresh_token().expect("refresh token").clone();
        let info = introspect(&server, &c, &first_access).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["username"], "alice");
        assert_eq!(info["client_id"], c.client_id.as_str());
        assert_eq!(info["scope"], "polls:vote");

        // Refresh rotates: new pair, old access token ends.
        let second = client
            .exchange_refresh_token(&first_refresh)
            .request_async(&http_client)
            .await
            .expect("refresh");
        let second_refresh = second.refresh_token().expect("rotated refresh token").clone();
        assert_ne!(second_refresh.secret(), first_refresh.secret());
        assert_eq!(introspect(&server, &c, &first_access).await["active"], false);
        assert_eq!(introspect(&server, &c, second.access_token().secret()).await["active"], true);

        // Reusing the rotated refresh token is theft: invalid_grant, and the family dies.
        let reuse = client
            .exchange_refresh_token(&first_refresh)
            .request_async(&http_client)
            .await;
        match reuse {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(*e.error(), BasicErrorResponseType::InvalidGrant)
            }
            other => panic!("reuse must fail with invalid_grant, got {other:?}"),
        }
        assert_eq!(introspect(&server, &c, second.access_token().secret()).await["active"], false);
        let after = client
            .exchange_refresh_token(&RefreshToken::new(second_refresh.secret().clone()))
            .request_async(&http_client)
            .await;
        assert!(after.is_err(), "the whole family is revoked");
        server.stop().await;
    }

    async fn public_client_with_client_secret_post_style_and_plain_pkce(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let c = server.client(ClientSpec::public()).await;
        let client = oauth_client(&server, &c).set_auth_type(AuthType::RequestBody);
        let verifier = "a".repeat(43);
        let browser = Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let location = browser
            .authorize(
                &format!(
                    "/oauth/authorize?response_type=code&client_id={}&code_challenge={verifier}&code_challenge_method=plain",
                    c.client_id
                ),
                "approve",
            )
            .await;
        let code = query_of(&location)["code"].clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier))
            .request_async(&http())
            .await
            .expect("public client exchange");
        assert!(tokens.refresh_token().is_some());
        server.stop().await;
    }

    async fn authorize_errors_that_must_not_redirect(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let c = server.client(ClientSpec {
            redirect_uris: vec!["http://127.0.0.1:9/a".into(), "http://127.0.0.1:9/b".into()],
            ..ClientSpec::default()
        }).await;
        let pending = server.client(ClientSpec {
            approval: scopegate::core::model::Approval::Pending,
            ..ClientSpec::default()
        }).await;
        let browser = Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let cases = [
            ("/oauth/authorize?response_type=code".to_owned(), 400, "client_id"),
            ("/oauth/authorize?response_type=code&client_id=nope".to_owned(), 400, "no application"),
            (format!("/oauth/authorize?response_type=code&client_id={}&redirect_uri=http://evil.example/", c.client_id), 400, "does not match"),
            (format!("/oauth/authorize?response_type=code&client_id={}&redirect_uri=http://127.0.0.1:9/a/", c.client_id), 400, "does not match"),
            (format!("/oauth/authorize?response_type=code&client_id={}", c.client_id), 400, "registered several"),
            (format!("/oauth/authorize?response_type=code&client_id={}", pending.client_id), 403, "not been approved"),
            (format!("/oauth/authorize?response_type=code&client_id={0}&client_id={0}", c.client_id), 400, "repeated"),
        ];
        for (url, status, says) in cases {
            let resp = browser.get(&url).await;
            assert_eq!(resp.status().as_u16(), status, "{url}");
            assert!(resp.headers().get("location").is_none(), "{url} must not redirect");
            let body = resp.text().await.unwrap();
            assert!(body.contains(says), "{url}: page should say {says:?}");
        }
        server.stop().await;
    }

    async fn authorize_errors_that_go_back_to_the_client(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let c = server.client(ClientSpec::default()).await;
        let public = server.client(ClientSpec::public()).await;
        let browser = Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let cases = [
            (format!("client_id={}&state=s1", c.client_id), "invalid_request"),
            (format!("client_id={}&response_type=magic&state=s1", c.client_id), "unsupported_response_type"),
            (format!("client_id={}&response_type=code&scope=polls:admin&state=s1", c.client_id), "invalid_scope"),
            (format!("client_id={}&response_type=code&scope=a%22b&state=s1", c.client_id), "invalid_scope"),
            (format!("client_id={}&response_type=code&state=s1", public.client_id), "invalid_request"),
            (format!("client_id={}&response_type=code&code_challenge={}&code_challenge_method=S512&state=s1", c.client_id, "a".repeat(43)), "invalid_request"),
            (format!("client_id={}&response_type=code&code_challenge=short&state=s1", c.client_id), "invalid_request"),
        ];
        for (query, error) in cases {
            let resp = browser.get(&format!("/oauth/authorize?{query}")).await;
            assert_eq!(resp.status(), 302, "{query}");
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("http://127.0.0.1:9/callback?"), "{location}");
            let q = query_of(&location);
            assert_eq!(q["error"], error, "{query}");
            assert_eq!(q["state"], "s1", "{query}: state is echoed on errors");
        }
        // The user says no.
        let location = browser
            .authorize(&format!("/oauth/authorize?response_type=code&client_id={}&state=xyz", c.client_id), "deny")
            .await;
        let q = query_of(&location);
        assert_eq!(q["error"], "access_denied");
        assert_eq!(q["state"], "xyz");
        assert!(!q.contains_key("code"));
        server.stop().await;
    }

    async fn consent_forms_cannot_be_forged_or_replayed(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let c = server.client(ClientSpec::default()).await;
        let browser = Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let page = browser
            .get(&format!("/oauth/authorize?response_type=code&client_id={}", c.client_id))
            .await
            .text()
            .await
            .unwrap();
        let csrf = crate::support::hidden_field(&page, "csrf_token").unwrap();
        let nonce = crate::support::hidden_field(&page, "nonce").unwrap();

        let forged = browser
            .post_form("/oauth/authorize", &[("nonce", &nonce), ("decision", "approve")])
            .await;
        assert_eq!(forged.status(), 403, "no CSRF token, no code");
        assert!(forged.headers().get("location").is_none());

        // Another browser (another session) cannot use this page's nonce, even with its own CSRF.
        let other = Browser::new(&server);
        other.login("alice", "correct horse").await;
        let other_page = other.get("/logout").await.text().await.unwrap();
        let other_csrf = crate::support::hidden_field(&other_page, "csrf_token").unwrap();
        let stolen = other
            .post_form("/oauth/authorize", &[("csrf_token", &other_csrf), ("nonce", &nonce), ("decision", "approve")])
            .await;
        assert_eq!(stolen.status(), 400);

        let ok = browser
            .post_form("/oauth/authorize", &[("csrf_token", &csrf), ("nonce", &nonce), ("decision", "approve")])
            .await;
        assert_eq!(ok.status(), 302);
        let replay = browser
            .post_form("/oauth/authorize", &[("csrf_token", &csrf), ("nonce", &nonce), ("decision", "approve")])
            .await;
        assert_eq!(replay.status(), 400, "a consent answer is single use");
        assert!(replay.text().await.unwrap().contains("already answered"));
        server.stop().await;
    }

    async fn token_endpoint_client_authentication_errors(backend: Backend) {
        let server = TestServer::start(backend).await;
        let c = server.client(ClientSpec::default()).await;
        let public = server.client(ClientSpec::public()).await;
        let secret = c.secret.clone().unwrap();
        let form = [("grant_type", "authorization_code"), ("code", "x")];

        let (status, www, body) = token_call(&server, Some((&c.client_id, "wrong")), &form).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"));
        assert!(www.unwrap().starts_with("Basic"), "invalid_client carries WWW-Authenticate");
        assert!(body["error_description"].is_string());

        let (status, _, body) = token_call(&server, None, &form).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"), "no credentials at all");

        let (status, _, body) = token_call(&server, None, &[("grant_type", "authorization_code"), ("code", "x"), ("client_id", &c.client_id)]).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"), "confidential client without its secret");

        let (status, _, body) = token_call(&server, Some((&c.client_id, &secret)), &[("grant_type", "authorization_code"), ("code", "x"), ("client_secret", &secret)]).await;
        assert_eq!((status, error_of(&body)), (400, "invalid_request"), "two auth methods at once");

        let (status, _, body) = token_call(&server, None, &[("grant_type", "authorization_code"), ("code", "x"), ("client_id", &public.client_id), ("client_secret", "made-up")]).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"), "public clients have no secret");

        // requests-oauthlib sends public clients as Basic with an empty password: that is no
        // secret (RFC 6749 §3.1), so the client is identified and the grant itself is judged.
        let (status, _, body) = token_call(&server, Some((&public.client_id, "")), &form).await;
        assert_eq!((status, error_of(&body)), (400, "invalid_grant"), "empty Basic password = public client");
        let (status, _, body) = token_call(&server, Some((&c.client_id, "")), &form).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"), "a confidential client needs its secret");

        let (status, _, body) = token_call(&server, None, &[("grant_type", "authorization_code"), ("code", "x"), ("client_id", "nope"), ("client_secret", "x")]).await;
        assert_eq!((status, error_of(&body)), (401, "invalid_client"));

        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&c.client_id, Some(&secret))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"authorization_code"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_of(&resp.json::<Value>().await.unwrap()), "invalid_request");

        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&c.client_id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=authorization_code&code=a&code=b")
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(&resp.json::<Value>().await.unwrap()), "invalid_request", "repeated parameter");

        let resp = http()
            .post(server.url("/oauth/token"))
            .header("authorization", "Basic !!!not-base64")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        server.stop().await;
    }

    async fn token_endpoint_grant_errors(backend: Backend) {
        let server = TestServer::start(backend).await;
        let c = server.client(ClientSpec::default()).await;
        let other = server.client(ClientSpec::default()).await;
        let id = c.client_id.as_str();
        let secret = c.secret.clone().unwrap();
        let auth = Some((id, secret.as_str()));

        let (status, _, body) = token_call(&server, auth, &[("code", "x")]).await;
        assert_eq!((status, error_of(&body)), (400, "invalid_request"), "missing grant_type");
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "magic")]).await;
        assert_eq!(error_of(&body), "unsupported_grant_type");
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "authorization_code")]).await;
        assert_eq!(error_of(&body), "invalid_request", "missing code");
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "authorization_code"), ("code", "unknown")]).await;
        assert_eq!(error_of(&body), "invalid_grant");

        // A code bound to a redirect_uri and a PKCE challenge.
        let verifier = "v".repeat(50);
        let challenge = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let code = code_for(
            &server,
            &c,
            &format!("&redirect_uri=http://127.0.0.1:9/callback&code_challenge={challenge}&code_challenge_method=S256"),
        )
        .await;
        let base = [("grant_type", "authorization_code"), ("code", code.as_str())];
        let with = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            base.iter().chain(extra.iter()).map(|(k, v)| (*k, (*v).to_owned())).collect()
        };
        let call = |form: Vec<(&'static str, String)>, who: (String, String)| {
            let server = &server;
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                token_call(server, Some((&who.0, &who.1)), &form).await
            }
        };
        let me = (id.to_owned(), secret.clone());
        let them = (other.client_id.clone(), other.secret.clone().unwrap());

        let (_, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/callback"), ("code_verifier", &verifier)]), them).await;
        assert_eq!(error_of(&body), "invalid_grant", "a code belongs to its client");
        let (_, _, body) = call(with(&[("code_verifier", &verifier)]), me.clone()).await;
        assert_eq!(error_of(&body), "invalid_request", "redirect_uri is required when the request had one");
        let (_, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/other"), ("code_verifier", &verifier)]), me.clone()).await;
        assert_eq!(error_of(&body), "invalid_grant", "redirect_uri must match");
        let (_, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/callback")]), me.clone()).await;
        assert_eq!(error_of(&body), "invalid_grant", "PKCE verifier required");
        let wrong = "w".repeat(50);
        let (_, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/callback"), ("code_verifier", &wrong)]), me.clone()).await;
        assert_eq!(error_of(&body), "invalid_grant", "PKCE verifier must match");

        let (status, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/callback"), ("code_verifier", &verifier)]), me.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 36000);
        assert_eq!(body["scope"], "polls:stats polls:vote");
        let issued = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(introspect(&server, &c, &issued).await["active"], true);

        // Replay: refused, and what the code issued is revoked.
        let (_, _, body) = call(with(&[("redirect_uri", "http://127.0.0.1:9/callback"), ("code_verifier", &verifier)]), me.clone()).await;
        assert_eq!(error_of(&body), "invalid_grant");
        assert_eq!(introspect(&server, &c, &issued).await["active"], false, "replay revokes the code's tokens");
        server.stop().await;
    }

    async fn expired_codes_and_scope_rules_on_refresh(backend: Backend) {
        let server = TestServer::start(backend).await;
        let short = server.client(ClientSpec { code_lifetime: Some(1), ..ClientSpec::default() }).await;
        let code = code_for(&server, &short, "").await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (_, _, body) = token_call(
            &server,
            Some((&short.client_id, short.secret.as_deref().unwrap())),
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await;
        assert_eq!(error_of(&body), "invalid_grant", "codes expire");

        let c = server.client(ClientSpec { access_token_lifetime: Some(120), ..ClientSpec::default() }).await;
        let other = server.client(ClientSpec::default()).await;
        let auth = Some((c.client_id.as_str(), c.secret.as_deref().unwrap()));
        let browser = Browser::new(&server);
        browser.login("alice", "correct horse").await;
        let location = browser
            .authorize(&format!("/oauth/authorize?response_type=code&client_id={}", c.client_id), "approve")
            .await;
        let code = query_of(&location)["code"].clone();
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "authorization_code"), ("code", &code)]).await;
        assert_eq!(body["expires_in"], 120, "per-client lifetime is what the response says");
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();

        let (_, _, body) = token_call(&server, auth, &[("grant_type", "refresh_token")]).await;
        assert_eq!(error_of(&body), "invalid_request", "missing refresh_token");
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("scope", "polls:vote polls:admin")]).await;
        assert_eq!(error_of(&body), "invalid_scope", "refresh never widens");
        let (_, _, body) = token_call(
            &server,
            Some((&other.client_id, other.secret.as_deref().unwrap())),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(error_of(&body), "invalid_grant", "a refresh token belongs to its client");
        let (status, _, body) = token_call(&server, auth, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("scope", "polls:vote")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "polls:vote", "refresh may narrow");
        let narrowed_refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (_, _, body) = token_call(&server, auth, &[("grant_type", "refresh_token"), ("refresh_token", &narrowed_refresh)]).await;
        assert_eq!(body["scope"], "polls:stats polls:vote", "the refresh token keeps the original scope (RFC 6749 §6)");
        server.stop().await;
    }

    async fn metadata_lists_what_is_served(backend: Backend) {
        let server = TestServer::start(backend).await;
        let meta: Value = http()
            .get(server.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["issuer"], server.base.as_str());
        assert_eq!(meta["authorization_endpoint"], server.url("/oauth/authorize"));
        assert_eq!(meta["token_endpoint"], server.url("/oauth/token"));
        assert_eq!(meta["introspection_endpoint"], server.url("/oauth/introspect"));
        let methods = meta["code_challenge_methods_supported"].as_array().unwrap();
        assert!(methods.contains(&Value::from("S256")));
        let grants = meta["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&Value::from("authorization_code")));
        assert!(grants.contains(&Value::from("refresh_token")));
        server.stop().await;
    }
}

#[tokio::test]
async fn plain_http_is_refused_unless_debug() {
    let server =
        TestServer::start_with(Backend::Sqlite, |s| s.debug = false, poem::Route::new()).await;
    let resp = http()
        .post(server.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_description"], "HTTPS is required");
    server.stop().await;
}

both_backends! {
    async fn login_page_errors_rotation_and_safe_next(backend: Backend) {
        let server = TestServer::start(backend).await;
        server.user("alice", "correct horse").await;
        let browser = Browser::new(&server);
        let page = browser.get("/login").await;
        let anonymous_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(anonymous_cookie.contains("HttpOnly") && anonymous_cookie.contains("SameSite=Lax"));
        let page = page.text().await.unwrap();
        let csrf = crate::support::hidden_field(&page, "csrf_token").unwrap();

        let wrong = browser
            .post_form("/login", &[("csrf_token", &csrf), ("username", "alice"), ("password", "nope"), ("next", "/")])
            .await;
        assert_eq!(wrong.status(), 200);
        let body = wrong.text().await.unwrap();
        assert!(body.contains("Wrong username or password."));
        assert!(body.contains("value=\"alice\""), "the username is kept");

        let forged = browser
            .post_form("/login", &[("username", "alice"), ("password", "correct horse")])
            .await;
        assert_eq!(forged.status(), 403, "no CSRF token, no login");

        let ok = browser
            .post_form("/login", &[("csrf_token", &csrf), ("username", "alice"), ("password", "correct horse"), ("next", "//evil.example/")])
            .await;
        assert_eq!(ok.status(), 302);
        assert_eq!(ok.headers()["location"], "/", "next must stay on this site");
        let rotated = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
        let id = |c: &str| c.split(';').next().unwrap().to_owned();
        assert_ne!(id(&rotated), id(&anonymous_cookie), "login rotates the session id");

        // The pre-login session id is dead: a browser holding it is anonymous.
        let old = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let c = server.client(ClientSpec::default()).await;
        let resp = old
            .get(server.url(&format!("/oauth/authorize?response_type=code&client_id={}", c.client_id)))
            .header("cookie", id(&anonymous_cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert!(resp.headers()["location"].to_str().unwrap().starts_with("/login"));
        server.stop().await;
    }
}
