//! Each seed document's walkthrough, request by request as the document describes it:
//! oauthost quick start 4.1.1, 4.1.2, 4.2.1–4.2.3; Omniport from authorise to revoke; the onesait
//! token flow; Ion's confidential and public clients.

use poem::Route;
use scopegate::core::client_rules::ClientDraft;
use scopegate::core::model::{Approval, ClientPermissions, ClientType, GrantType};
use serde_json::Value;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestServer, http, query_of, valid};

/// The parameters in a URL's fragment (the implicit grant's answer).
fn fragment_of(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    serde_urlencoded::from_str(url.fragment().unwrap_or("")).unwrap()
}

/// oauthost's example client: id `1234`, one redirection endpoint `http://myapp.com/`, no secret,
/// registered as a legacy client that may skip PKCE on `/auth/` (4.1.1 sends no challenge).
async fn oauthost_client(server: &TestServer) {
    server
        .store()
        .create_client(
            valid(ClientDraft {
                client_id: Some("1234".into()),
                name: "My OAuth Client".into(),
                client_type: ClientType::Public.as_str().into(),
                grant_types: [GrantType::AuthorizationCode, GrantType::Implicit]
                    .map(|g| g.as_str().to_owned())
                    .into(),
                redirect_uris: vec!["http://myapp.com/".into()],
                scopes: vec!["polls:vote".into(), "polls:stats".into()],
                permissions: ClientPermissions {
                    allow_public_without_pkce: true,
                    ..ClientPermissions::default()
                },
                ..ClientDraft::default()
            })
            .into_new_client(Approval::Approved, None)
            .0,
        )
        .await
        .unwrap();
}

async fn signed_in(server: &TestServer) -> Browser {
    server.user("alice", "wonderland").await;
    let browser = Browser::new(server);
    assert_eq!(browser.login("alice", "wonderland").await.status(), 302);
    browser
}

both_backends! {
    async fn oauthost_4_1_1_token_through_authorization_code(db: Backend) {
        let server = TestServer::start(db).await;
        oauthost_client(&server).await;
        let browser = signed_in(&server).await;
        // 1. {BASE_URL}auth/?client_id=1234&response_type=code
        let location = browser.authorize("/auth/?client_id=1234&response_type=code", "approve").await;
        // 2. Grab the code from the URL the client is redirected to.
        assert!(location.starts_with("http://myapp.com/?code="), "{location}");
        let code = query_of(&location)["code"].clone();
        // 3. POST {BASE_URL}token/ grant_type=authorization_code&code=..&redirect_uri=http://myapp.com/&client_id=1234
        let resp = http()
            .post(server.url("/token/"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://myapp.com/"),
                ("client_id", "1234"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // 4. access_token from the JSON document.
        let body: Value = resp.json().await.unwrap();
        assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
        server.stop().await;
    }

    async fn oauthost_4_1_2_and_4_2_token_implicitly_then_three_ways_to_pass_it(db: Backend) {
        let server = TestServer::start(db).await;
        oauthost_client(&server).await;
        let browser = signed_in(&server).await;
        // 4.1.2: {BASE_URL}auth/?client_id=1234&response_type=token
        let location = browser.authorize("/auth/?client_id=1234&response_type=token", "approve").await;
        let answer = fragment_of(&location);
        assert!(location.starts_with("http://myapp.com/#"), "{location}");
        assert!(query_of(&location).is_empty(), "the token must not be in the query");
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["expires_in"], "36000");
        assert!(!answer.contains_key("refresh_token"), "no refresh token in the implicit grant");
        let token = answer["access_token"].clone();

        // 4.2.1: Authorization: Bearer header.
        let resp = http().get(server.url("/oauth/userinfo")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["username"], "alice");
        // 4.2.2: POST with the access_token form parameter.
        let resp = http().post(server.url("/oauth/userinfo")).form(&[("access_token", token.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // 4.2.3: GET with the access_token query parameter.
        let resp = http().get(server.url(&format!("/oauth/userinfo?access_token={token}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // A bad token: RFC 6750 §3.
        let resp = http().get(server.url("/oauth/userinfo")).bearer_auth("nope").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_token"), "{challenge}");
        let resp = http().get(server.url("/oauth/userinfo")).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(!resp.headers()["www-authenticate"].to_str().unwrap().contains("error="));
        // Two methods at once is invalid_request (§3.1).
        let resp = http().get(server.url(&format!("/oauth/userinfo?access_token={token}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        server.stop().await;
    }

    async fn implicit_grant_rules(db: Backend) {
        let server = TestServer::start(db).await;
        let browser = signed_in(&server).await;
        // Only for public clients that are allowed it.
        let confidential = server.client(ClientSpec { grants: vec![GrantType::AuthorizationCode], ..ClientSpec::default() }).await;
        let resp = browser.get(&format!("/oauth/authorize?client_id={}&response_type=token", confidential.client_id)).await;
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(fragment_of(&location)["error"], "unauthorized_client");
        let public_code_only = server.client(ClientSpec::public()).await;
        let resp = browser.get(&format!("/oauth/authorize?client_id={}&response_type=token", public_code_only.client_id)).await;
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(fragment_of(&location)["error"], "unauthorized_client");
        // Denied: the error goes in the fragment too.
        let public = server.client(ClientSpec { grants: vec![GrantType::Implicit], ..ClientSpec::public() }).await;
        let location = browser.authorize(&format!("/oauth/authorize?client_id={}&response_type=token&state=s1", public.client_id), "deny").await;
        let answer = fragment_of(&location);
        assert_eq!((answer["error"].as_str(), answer["state"].as_str()), ("access_denied", "s1"));
        server.stop().await;

        // Switched off globally.
        let server = TestServer::start_with(db, |s| s.implicit_grant = false, Route::new()).await;
        let browser = signed_in(&server).await;
        let public = server.client(ClientSpec { grants: vec![GrantType::Implicit], ..ClientSpec::public() }).await;
        let resp = browser.get(&format!("/oauth/authorize?client_id={}&response_type=token", public.client_id)).await;
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(fragment_of(&location)["error"], "unsupported_response_type");
        let meta: Value = http().get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
        assert_eq!(meta["response_types_supported"], serde_json::json!(["code"]));
        server.stop().await;
    }

    async fn omniport_from_authorise_to_revoke(db: Backend) {
        let server = TestServer::start(db).await;
        let app = server.client(ClientSpec {
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: vec!["http://127.0.0.1:9/omniport/callback".into()],
            ..ClientSpec::default()
        }).await;
        let secret = app.secret.clone().unwrap();
        let browser = signed_in(&server).await;
        // Authorising the user: /oauth/authorise/?client_id=..&redirect_uri=..&state=..
        let url = format!(
            "/oauth/authorise/?client_id={}&redirect_uri={}&state=RANDOM_STATE_STRING",
            app.client_id, "http%3A%2F%2F127.0.0.1%3A9%2Fomniport%2Fcallback"
        );
        let location = browser.authorize(&url, "approve").await;
        let q = query_of(&location);
        assert!(location.starts_with("http://127.0.0.1:9/omniport/callback?"));
        assert_eq!(q["state"], "RANDOM_STATE_STRING");
        // Getting the access and refresh token: POST /open_auth/token/.
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:9/omniport/callback"),
            ("code", q["code"].as_str()),
        ];
        let resp = http().post(server.url("/open_auth/token/")).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let tokens: Value = resp.json().await.unwrap();
        assert_eq!(tokens["expires_in"], 36000);
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "polls:stats polls:vote");
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        // A failure is {"error": ...}.
        let resp = http().post(server.url("/open_auth/token/")).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"].is_string());
        // The replayed code revoked what it issued: authorise again. The consent is
        // remembered, so the browser goes straight back with a code.
        let resp = browser.get(&url).await;
        assert_eq!(resp.status(), 302, "no consent page the second time");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let code = query_of(&location)["code"].clone();
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "http://127.0.0.1:9/omniport/callback"),
            ("code", code.as_str()),
        ];
        let tokens: Value = http().post(server.url("/open_auth/token/")).form(&form).send().await.unwrap().json().await.unwrap();
        let access_2 = tokens["access_token"].as_str().unwrap().to_owned();
        assert!(
            http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&access).send().await.unwrap().status() == 401,
            "tokens of a replayed code are revoked"
        );
        // Using the access token: GET /open_auth/get_user_data/ with Authorization: Bearer.
        let resp = http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&access_2).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let user: Value = resp.json().await.unwrap();
        assert!(user["userId"].is_i64());
        assert_eq!(user["username"], "alice");
        // An invalid token: 401 {"detail": ...}.
        let resp = http().get(server.url("/open_auth/get_user_data/")).bearer_auth("vqygrcouTuyAYHZLz3rGcZf5FpPd3K").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"detail": "Authentication credentials were not provided."}));
        // Generating a new access token using the refresh token.
        let resp = http().post(server.url("/open_auth/token/")).form(&[
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let refreshed: Value = resp.json().await.unwrap();
        assert_eq!(refreshed["expires_in"], 36000);
        let access_3 = refreshed["access_token"].as_str().unwrap().to_owned();
        let refresh_3 = refreshed["refresh_token"].as_str().unwrap().to_owned();
        // Logging out: POST /open_auth/revoke_token/; token_type_hint is required.
        let resp = http().post(server.url("/open_auth/revoke_token/")).form(&[
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("token", refresh_3.as_str()),
        ]).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let resp = http().post(server.url("/open_auth/revoke_token/")).form(&[
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("token", refresh_3.as_str()),
            ("token_type_hint", "refresh_token"),
        ]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&access_3).send().await.unwrap();
        assert_eq!(resp.status(), 401, "revoking the refresh token ends its access token");
        server.stop().await;
    }

    async fn onesait_token_check_refresh_revoke(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("developer", "Changed2019!").await;
        let app = server.client(ClientSpec {
            grants: vec![GrantType::Password, GrantType::RefreshToken],
            ..ClientSpec::default()
        }).await;
        let secret = app.secret.clone().unwrap();
        // 2. Token generation: Basic client:secret, form grant_type/username/password/clientId/scope.
        let resp = http().post(server.url("/oauth-server/oauth/token"))
            .basic_auth(&app.client_id, Some(&secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "developer"),
                ("password", "Changed2019!"),
                ("clientId", app.client_id.as_str()),
                ("scope", "polls:vote"),
            ])
            .send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let tokens: Value = resp.json().await.unwrap();
        assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
        assert_eq!(tokens["expires_in"], 36000);
        assert_eq!(tokens["authorities"], serde_json::json!(["ROLE_USER"]));
        let access = tokens["access_token"].as_str().unwrap();
        // 3. Check token: Basic, parameter token.
        let check = |token: String| {
            let (url, id, secret) = (server.url("/oauth-server/oauth/check_token"), app.client_id.clone(), secret.clone());
            async move {
                let resp = http().post(url).basic_auth(id, Some(secret)).query(&[("token", token)]).send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }
        };
        let (status, body) = check(access.to_owned()).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["exp"].as_i64().unwrap() > scopegate::core::now());
        assert_eq!(body["client_id"], app.client_id.as_str());
        assert_eq!(body["user_name"], "developer");
        assert_eq!(body["authorities"], serde_json::json!(["ROLE_USER"]));
        // 4. Refresh token: one use.
        let refresh = |token: String| {
            let (url, id, secret) = (server.url("/oauth-server/oauth/token"), app.client_id.clone(), secret.clone());
            async move {
                let resp = http().post(url).basic_auth(id, Some(secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                    .send().await.unwrap();
                (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
            }
        };
        let old_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, renewed) = refresh(old_refresh.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(renewed["authorities"], serde_json::json!(["ROLE_USER"]));
        assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
        let (status, body) = refresh(old_refresh).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        // The reuse revoked the family: get a fresh token to revoke.
        let fresh: Value = http().post(server.url("/oauth-server/oauth/token"))
            .basic_auth(&app.client_id, Some(&secret))
            .form(&[("grant_type", "password"), ("username", "developer"), ("password", "Changed2019!")])
            .send().await.unwrap().json().await.unwrap();
        let fresh_access = fresh["access_token"].as_str().unwrap().to_owned();
        assert_eq!(check(fresh_access.clone()).await.0, 200);
        // 5. Revoke token: Basic, query parameter token.
        let resp = http().post(server.url("/oauth-server/openplatform-oauth/revoke_token"))
            .basic_auth(&app.client_id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .query(&[("token", fresh_access.as_str())])
            .send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let (status, body) = check(fresh_access).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_token")));
        server.stop().await;
    }

    async fn compat_families_can_be_switched_off(db: Backend) {
        let server = TestServer::start_with(db, |s| {
            s.compat_oauthost = false;
            s.compat_omniport = false;
            s.compat_onesait = false;
        }, Route::new()).await;
        for path in ["/token/", "/open_auth/token/", "/oauth-server/oauth/token", "/oauth-server/oauth/check_token"] {
            let resp = http().post(server.url(path)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
            assert_eq!(resp.status(), 404, "{path}");
        }
        let resp = http().get(server.url("/auth/?client_id=1234&response_type=code")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        server.stop().await;
    }
}

/// A public Ion client cannot be given a secret-bound grant or skip PKCE on the standard route.
#[tokio::test]
async fn public_clients_keep_pkce_on_the_standard_route() {
    let server = TestServer::start(crate::support::Backend::Sqlite).await;
    oauthost_client(&server).await;
    let browser = signed_in(&server).await;
    let resp = browser
        .get("/oauth/authorize?client_id=1234&response_type=code")
        .await;
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_of(&location)["error"], "invalid_request");
    server.stop().await;
}
