//! OpenID Connect sign-in, driven by the `openidconnect` crate as a relying party: discovery,
//! the code flow with PKCE and a nonce, and ID tokens it verifies through the published JWKS.
//! Keys live in the database, so every instance publishes the same set, and a rotated key
//! leaves the tokens of the old one verifiable.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, AuthorizationCodeHash, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use poem::Route;
use scopegate::core::model::{
    ClientPermissions, ClientType, GrantType, ResponseType, SubjectType, TokenOptions,
};
use scopegate::core::oidc::keys::{Algorithm, EncryptionKey, KeySet};
use scopegate::core::portal::ListQuery;
use serde_json::Value;

use crate::both_backends;
use crate::support::{
    Browser, ClientSpec, Instance, TestClient, TestServer, exchange_code, hidden_field, http,
    query_of,
};

/// A `key_encryption_key` for the tests (32 bytes, base64).
const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

async fn oidc_server(db: crate::support::Backend) -> TestServer {
    TestServer::start_with(
        db,
        |s| s.key_encryption_key = Some(KEK.into()),
        Route::new(),
    )
    .await
}

fn rp_spec() -> ClientSpec {
    ClientSpec {
        scopes: "openid profile email polls:vote".into(),
        ..ClientSpec::default()
    }
}

/// What one sign-in gave the relying party.
struct SignIn {
    id_token: String,
    kid: String,
    sub: String,
    auth_time: Option<i64>,
    access_token: String,
    refresh_token: Option<String>,
}

/// The crate's name for the algorithm `c` was registered with: its verifier accepts that one
/// alone, so a token signed any other way fails.
fn crate_alg(c: &TestClient) -> CoreJwsSigningAlgorithm {
    match c.client.tokens.alg {
        Algorithm::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Algorithm::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Algorithm::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
    }
}

/// Signs `user` in at `base` through `c` as the relying party does: discovery, an authorization
/// URL with a nonce and PKCE, consent, the code exchange, and the ID token checked (signature
/// through the JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`) by the crate's verifier.
async fn sign_in(base: &str, c: &TestClient, user: &str, password: &str) -> SignIn {
    let http = http();
    let provider =
        CoreProviderMetadata::discover_async(IssuerUrl::new(base.to_owned()).unwrap(), &http)
            .await
            .expect("discovery document and JWKS");
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(c.client_id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::at(base);
    browser.login(user, password).await;
    let path = url
        .as_str()
        .strip_prefix(base)
        .expect("authorize on this server");
    let back = query_of(&browser.approve(path).await);
    assert_eq!(back.get("state"), Some(state.secret()));
    assert_eq!(
        back.get("iss").map(String::as_str),
        Some(base),
        "RFC 9207: iss in the response"
    );
    let tokens = client
        .exchange_code(AuthorizationCode::new(back["code"].clone()))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let verifier = client.id_token_verifier().set_allowed_algs([crate_alg(c)]);
    let id_token = tokens
        .id_token()
        .expect("an id_token for an openid request");
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    assert!(claims.audiences().iter().any(|a| **a == c.client_id));
    // UserInfo (Core §5.3): the crate checks that its `sub` is the ID token's.
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo answers for the ID token's subject");
    assert_eq!(
        info.preferred_username().map(|u| u.as_str()),
        Some(user),
        "profile scope"
    );
    let header = header_of(&id_token.to_string());
    SignIn {
        id_token: id_token.to_string(),
        kid: header["kid"].as_str().unwrap().to_owned(),
        sub: claims.subject().to_string(),
        auth_time: claims.auth_time().map(|t| t.timestamp()),
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
    }
}

fn header_of(jws: &str) -> Value {
    jws_part(jws, 0)
}

/// Part `n` of a compact JWS (0: the header, 1: the claims), decoded but not verified.
fn jws_part(jws: &str, n: usize) -> Value {
    use base64::Engine;
    let part = jws.split('.').nth(n).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn get_json(url: String) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

async fn raw_jwks(base: &str) -> Value {
    get_json(format!("{base}/.well-known/jwks.json")).await
}

async fn jwks_of(base: &str) -> CoreJsonWebKeySet {
    serde_json::from_value(raw_jwks(base).await).unwrap()
}

both_backends! {
    async fn a_relying_party_signs_a_user_in_and_verifies_the_id_token(db: Backend) {
        let server = oidc_server(db).await;
        let alice = server.user("alice", "pw-alice-123").await;
        let c = server.client(rp_spec()).await;
        let before = scopegate::core::now();
        let first = sign_in(&server.base, &c, "alice", "pw-alice-123").await;
        assert_eq!(first.sub, alice.id.to_string(), "sub is the user's stable id");
        let auth_time = first.auth_time.expect("auth_time");
        assert!((before - 5..=scopegate::core::now()).contains(&auth_time));
        // The same user again: the same subject; a key already made keeps signing.
        let again = sign_in(&server.base, &c, "alice", "pw-alice-123").await;
        assert_eq!(again.sub, first.sub);
        assert_eq!(again.kid, first.kid);

        // One key per algorithm, made at once. Private keys at rest are sealed: no PEM, no
        // PKCS#8 DER prefix in the column.
        let keys = server.store().signing_keys().await.unwrap();
        let algs: Vec<&str> = keys.iter().map(|k| k.alg.as_str()).collect();
        assert_eq!(algs, ["RS256", "ES256", "EdDSA"]);
        for key in &keys {
            assert!(!key.sealed_private_key.contains("PRIVATE"));
            assert!(!key.sealed_private_key.starts_with("MI"), "base64 of plain DER");
        }
        server.stop().await;
    }

    async fn discovery_agrees_with_rfc_8414_metadata(db: Backend) {
        let server = oidc_server(db).await;
        let oidc = get_json(server.url("/.well-known/openid-configuration")).await;
        let oauth = get_json(server.url("/.well-known/oauth-authorization-server")).await;
        for field in ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "scopes_supported"] {
            assert_eq!(oidc[field], oauth[field], "{field}");
        }
        assert_eq!(oidc["issuer"], server.base.as_str());
        assert_eq!(oidc["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
        assert_eq!(oidc["subject_types_supported"], serde_json::json!(["public", "pairwise"]));
        for scope in ["openid", "profile", "email"] {
            assert!(oidc["scopes_supported"].as_array().unwrap().iter().any(|s| s == scope), "{scope}");
        }
        server.stop().await;
    }

    async fn two_instances_publish_the_same_keys(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let c = server.client(rp_spec()).await;
        let signed = sign_in(&server.base, &c, "alice", "pw-alice-123").await;
        let other = Instance::start_with(&server.db.url, &[("SCOPEGATE_KEY_ENCRYPTION_KEY", KEK)]).await;
        assert_eq!(raw_jwks(&other.base).await, raw_jwks(&server.base).await);
        // The other instance signs with the same key.
        let there = sign_in(&other.base, &c, "alice", "pw-alice-123").await;
        assert_eq!(there.kid, signed.kid);
        server.stop().await;
    }

    async fn a_rotated_key_is_published_beside_the_old_one_whose_tokens_still_verify(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let c = server.client(rp_spec()).await;
        let old = sign_in(&server.base, &c, "alice", "pw-alice-123").await;

        let said = crate::support::rotate_keys(&server.db.url, KEK);
        assert!(said.contains("sign from"), "{said}");
        // A new key of each algorithm; the old ones retire together.
        let keys = server.store().signing_keys().await.unwrap();
        assert_eq!(keys.len(), 6);
        let (retired, added) = keys.split_at(3);
        for (old_key, new_key) in retired.iter().zip(added) {
            assert_eq!(old_key.alg, new_key.alg);
            assert!(new_key.signs_from >= scopegate::core::now() + 59, "published before it signs");
            assert_eq!(old_key.publish_until, Some(new_key.signs_from + scopegate::core::oidc::ID_TOKEN_LIFETIME));
        }
        let new = &added[0];
        assert_eq!(new.alg, "RS256");

        // An instance that starts now publishes both generations and still signs with the old.
        let early = Instance::start_with(&server.db.url, &[("SCOPEGATE_KEY_ENCRYPTION_KEY", KEK)]).await;
        assert_eq!(raw_jwks(&early.base).await["keys"].as_array().unwrap().len(), 6);
        assert_eq!(sign_in(&early.base, &c, "alice", "pw-alice-123").await.kid, old.kid);
        drop(early);

        // Once its time comes (moved forward here) the new key signs, and the old key's token
        // still verifies through the JWKS that instance publishes.
        server.db.exec_sql("UPDATE signing_keys SET signs_from = signs_from - 100");
        let later = Instance::start_with(&server.db.url, &[("SCOPEGATE_KEY_ENCRYPTION_KEY", KEK)]).await;
        let fresh = sign_in(&later.base, &c, "alice", "pw-alice-123").await;
        assert_eq!(fresh.kid, new.kid);
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(c.client_id.clone()),
            ClientSecret::new(c.secret.clone().unwrap()),
            IssuerUrl::new(server.base.clone()).unwrap(),
            jwks_of(&later.base).await,
        );
        let token: openidconnect::core::CoreIdToken = old.id_token.parse().unwrap();
        token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .expect("the old key's ID token verifies through the new JWKS");
        server.stop().await;
    }
}

#[tokio::test]
async fn without_a_key_encryption_key_openid_is_refused_and_nothing_is_published() {
    let server = TestServer::start(crate::support::Backend::Sqlite).await;
    server.user("alice", "pw-alice-123").await;
    let c = server.client(rp_spec()).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let resp = http().get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let browser = Browser::new(&server);
    browser.login("alice", "pw-alice-123").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=openid&state=s",
        c.client_id
    );
    let resp = browser.get(&url).await;
    assert_eq!(resp.status(), 302);
    let back = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(back["error"], "invalid_scope");
    server.stop().await;
}

#[tokio::test]
async fn a_nonce_past_its_bound_is_refused() {
    let server = oidc_server(crate::support::Backend::Sqlite).await;
    server.user("alice", "pw-alice-123").await;
    let c = server.client(rp_spec()).await;
    let browser = Browser::new(&server);
    browser.login("alice", "pw-alice-123").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=openid&state=s&nonce={}",
        c.client_id,
        "n".repeat(513)
    );
    let resp = browser.get(&url).await;
    assert_eq!(resp.status(), 302);
    let back = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(back["error"], "invalid_request");
    server.stop().await;
}

/// Where `browser` is sent by `/oauth/authorize` for an `openid` request with `extra`.
async fn authorize_answer(browser: &Browser, c: &TestClient, extra: &str) -> (u16, String) {
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=openid&state=s1&nonce=n1{extra}",
        c.client_id
    );
    let resp = browser.get(&url).await;
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (resp.status().as_u16(), location.unwrap_or_default())
}

both_backends! {
    async fn prompt_and_max_age_decide_when_the_user_signs_in(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let c = server.client(rp_spec()).await;
        let browser = Browser::new(&server);

        // prompt=none without a session: login_required, to the client, with state and iss.
        let (status, location) = authorize_answer(&browser, &c, "&prompt=none").await;
        assert_eq!(status, 302);
        assert!(location.starts_with(&c.redirect_uri), "{location}");
        let back = query_of(&location);
        assert_eq!((back["error"].as_str(), back["state"].as_str()), ("login_required", "s1"));
        assert_eq!(back["iss"], server.base);

        // Signed in, prompt=none still cannot show the consent page: consent_required.
        browser.login("alice", "pw-alice-123").await;
        let (_, location) = authorize_answer(&browser, &c, "&prompt=none").await;
        assert_eq!(query_of(&location)["error"], "consent_required");

        // prompt=login: back to the sign-in page even though signed in; the address it comes
        // back to no longer asks for a fresh sign-in, so signing in leads to the consent page.
        let (status, location) = authorize_answer(&browser, &c, "&prompt=login").await;
        assert_eq!(status, 302);
        assert!(location.starts_with("/login?next="), "{location}");
        let next = query_of(&format!("http://x{location}"))["next"].clone();
        assert!(!next.contains("prompt") && next.contains("nonce=n1"), "{next}");
        browser.login("alice", "pw-alice-123").await;
        assert_eq!(browser.get(&next).await.status(), 200, "consent page after the fresh sign-in");

        // max_age: a sign-in older than it must be done again; a young enough one stands.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (_, location) = authorize_answer(&browser, &c, "&max_age=1").await;
        assert!(location.starts_with("/login?next="), "{location}");
        assert!(!query_of(&format!("http://x{location}"))["next"].contains("max_age"));
        let (status, _) = authorize_answer(&browser, &c, "&max_age=3600").await;
        assert_eq!(status, 200);

        // Refused clearly, to the client: select_account, none with another value, bad max_age.
        for extra in ["&prompt=select_account", "&prompt=none%20login", "&max_age=-1", "&prompt=bogus"] {
            let (_, location) = authorize_answer(&browser, &c, extra).await;
            assert_eq!(query_of(&location)["error"], "invalid_request", "{extra}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_login_hint_fills_in_the_sign_in_form_and_a_bad_one_is_ignored() {
    let server = oidc_server(crate::support::Backend::Sqlite).await;
    let c = server.client(rp_spec()).await;
    let browser = Browser::new(&server);
    // The sign-in page the authorization endpoint sends the browser to, for `hint`.
    let form_for = |hint: String| {
        let browser = &browser;
        let c = &c;
        async move {
            let (status, location) = authorize_answer(browser, c, &hint).await;
            assert_eq!(status, 302);
            assert!(location.starts_with("/login?next="), "{location}");
            browser.get(&location).await.text().await.unwrap()
        }
    };
    let page = form_for("&login_hint=alice%40example.com".into()).await;
    assert!(
        page.contains(r#"name="username" value="alice@example.com""#),
        "{page}"
    );
    // Escaped like any other value on the page.
    let page = form_for("&login_hint=%22%3E%3Cscript%3E".into()).await;
    assert!(!page.contains("\"><script>"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
    // Too long, or with a control character: not shown, and the request still goes on.
    for hint in [
        format!("&login_hint={}", "a".repeat(255)),
        "&login_hint=a%0Ab".into(),
    ] {
        let page = form_for(hint).await;
        assert!(page.contains(r#"name="username" value="""#), "{page}");
    }
    // Not an OpenID Connect request: no hint is passed on.
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=polls:vote&state=s&login_hint=alice",
        c.client_id
    );
    let resp = browser.get(&url).await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/login?next="), "{location}");
    let login = query_of(&format!("http://x{location}"));
    assert!(!login.contains_key("login_hint"), "{location}");
    server.stop().await;
}

/// The markup of `page` from the element with `id` to the next `end`.
fn section<'a>(page: &'a str, id: &str, end: &str) -> &'a str {
    let from = &page[page.find(&format!("id=\"{id}\"")).expect(id)..];
    &from[..from.find(end).expect(end)]
}

/// A PKCE challenge for the public client (RFC 7636 appendix B).
const CHALLENGE: &str =
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

both_backends! {
    async fn consent_is_remembered_and_asked_again_only_for_new_scopes(db: Backend) {
        let (server, c, browser) = alice_signed_in(db).await;
        let url = |scope: &str, extra: &str| {
            format!(
                "/oauth/authorize?response_type=code&client_id={}&scope={scope}&state=s1&nonce=n1{extra}",
                c.client_id
            )
        };

        // The first request for `openid profile` shows the page; approving it is remembered.
        let back = query_of(&browser.authorize(&url("openid%20profile", ""), "approve").await);
        assert!(back.contains_key("code"));

        // prompt=none (Core §3.1.2.6) now succeeds with a code that works, and so does a request
        // for a subset without prompt: no page is shown either time.
        for scope in ["openid%20profile", "openid"] {
            for extra in ["&prompt=none", ""] {
                let resp = browser.get(&url(scope, extra)).await;
                assert_eq!(resp.status(), 302, "{scope}{extra}: answered without a page");
                let location = resp.headers()["location"].to_str().unwrap();
                assert!(location.starts_with(&c.redirect_uri), "{location}");
                let back = query_of(location);
                assert_eq!((back["state"].as_str(), back["iss"].as_str()), ("s1", server.base.as_str()));
                let secret = c.secret.as_deref().unwrap();
                let tokens =
                    exchange_code(&server, &c.client_id, secret, &c.redirect_uri, &back["code"]).await;
                assert!(tokens["id_token"].is_string(), "{tokens}");
            }
        }

        // Asking for more shows only what is new, and names what was granted before.
        let (status, page) = browser.page(&url("openid%20profile%20email", "")).await;
        assert_eq!(status, 200);
        let asked = section(&page, "asked-scopes", "</ul>");
        assert!(asked.contains("<code>email</code>") && !asked.contains("<code>profile</code>"), "{asked}");
        let kept = section(&page, "kept-scopes", "</p>");
        assert!(kept.contains("<code>openid</code>") && kept.contains("<code>profile</code>"), "{kept}");
        assert!(!kept.contains("<code>email</code>"), "{kept}");
        // ... and prompt=none cannot ask: consent_required.
        let resp = browser.get(&url("openid%20email", "&prompt=none")).await;
        let back = query_of(resp.headers()["location"].to_str().unwrap());
        assert_eq!(back["error"], "consent_required");

        // Granting the new scope keeps the old ones: all three are now remembered.
        browser.authorize(&url("openid%20email", ""), "approve").await;
        let resp = browser.get(&url("openid%20profile%20email", "&prompt=none")).await;
        assert!(query_of(resp.headers()["location"].to_str().unwrap()).contains_key("code"));

        // prompt=consent asks again, even right after a sign-in it also asked for.
        let (status, _) = browser.page(&url("openid", "&prompt=consent")).await;
        assert_eq!(status, 200, "prompt=consent shows the page");
        let resp = browser.get(&url("openid", "&prompt=login%20consent")).await;
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let next = query_of(&format!("http://x{location}"))["next"].clone();
        assert!(next.contains("prompt=consent") && !next.contains("login"), "{next}");
        browser.login("alice", "pw-alice-123").await;
        assert_eq!(browser.get(&next).await.status(), 200, "the page after the fresh sign-in");

        // Another user's consent is theirs: bob is asked.
        server.user("bob", "pw-bob-12345").await;
        let bob = Browser::new(&server);
        bob.login("bob", "pw-bob-12345").await;
        let resp = bob.get(&url("openid", "&prompt=none")).await;
        assert_eq!(query_of(resp.headers()["location"].to_str().unwrap())["error"], "consent_required");

        // A withdrawn consent is forgotten: alice is asked again.
        let store = server.store();
        let q = ListQuery { search: "alice".into(), limit: 10, ..Default::default() };
        let consents = store.list_consents(&q).await.unwrap();
        store.withdraw_consent(consents.items[0].id, scopegate::core::now()).await.unwrap();
        let resp = browser.get(&url("openid", "&prompt=none")).await;
        assert_eq!(query_of(resp.headers()["location"].to_str().unwrap())["error"], "consent_required");
        server.stop().await;
    }
}

both_backends! {
    async fn a_public_client_is_asked_every_time(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let public = server
            .client(ClientSpec { client_type: ClientType::Public, ..rp_spec() })
            .await;
        let browser = Browser::new(&server);
        browser.login("alice", "pw-alice-123").await;
        // RFC 6749 §10.2: anyone can send a public client's request, so a remembered consent
        // must not answer it without the user.
        let url = format!(
            "/oauth/authorize?response_type=code&client_id={}&scope=openid&state=s1&nonce=n1{CHALLENGE}",
            public.client_id
        );
        // Before any consent, prompt=none is consent_required.
        let resp = browser.get(&format!("{url}&prompt=none")).await;
        let back = query_of(resp.headers()["location"].to_str().unwrap());
        assert_eq!(back["error"], "consent_required");
        let back = query_of(&browser.authorize(&url, "approve").await);
        assert!(back.contains_key("code"));
        let (status, _) = browser.page(&url).await;
        assert_eq!(status, 200, "the consent page again");
        // With the consent on record, nothing is missing but the page: interaction_required.
        let resp = browser.get(&format!("{url}&prompt=none")).await;
        let back = query_of(resp.headers()["location"].to_str().unwrap());
        assert_eq!(back["error"], "interaction_required");
        // A scope beyond the consent is again consent_required.
        let resp = browser.get(&format!("{url}&prompt=none").replace("scope=openid", "scope=openid%20profile")).await;
        let back = query_of(resp.headers()["location"].to_str().unwrap());
        assert_eq!(back["error"], "consent_required");
        server.stop().await;
    }
}

both_backends! {
    async fn a_first_party_app_skips_the_consent_page_unless_it_asks_for_it(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let first_party = ClientPermissions { skip_consent: true, ..ClientPermissions::default() };
        let confidential = server.client(ClientSpec { permissions: first_party, ..rp_spec() }).await;
        let public = server
            .client(ClientSpec { client_type: ClientType::Public, permissions: first_party, ..rp_spec() })
            .await;
        let browser = Browser::new(&server);
        browser.login("alice", "pw-alice-123").await;
        for (c, extra) in [(&confidential, ""), (&public, CHALLENGE)] {
            // Never asked before, and still answered at once: with and without prompt=none.
            for prompt in ["", "&prompt=none"] {
                let (status, location) = authorize_answer(&browser, c, &format!("{extra}{prompt}")).await;
                assert_eq!(status, 302);
                assert!(query_of(&location).contains_key("code"), "{location}");
            }
            // prompt=consent still shows the page.
            let (status, _) = authorize_answer(&browser, c, &format!("{extra}&prompt=consent")).await;
            assert_eq!(status, 200);
        }
        // Not signed in, it is still a sign-in first.
        let (_, location) = authorize_answer(&Browser::new(&server), &confidential, "&prompt=none").await;
        assert_eq!(query_of(&location)["error"], "login_required");
        // The approvals are on record, for the user's connected apps.
        let (_, page) = browser.page("/account/apps").await;
        assert_eq!(page.matches("action=\"/account/apps/").count(), 2, "{page}");
        server.stop().await;
    }
}

/// Where `/oauth/authorize` sends `browser` for an `openid` request of `c` with `hint`.
async fn hinted(browser: &Browser, c: &TestClient, hint: &str, extra: &str) -> (u16, String) {
    authorize_answer(browser, c, &format!("&id_token_hint={hint}{extra}")).await
}

/// Is `browser` signed in? (Its connected apps page shows, or sends it to sign in.)
async fn signed_in(browser: &Browser) -> bool {
    browser.get("/account/apps").await.status() == 200
}

/// A server with OpenID Connect on, the user alice, a relying party, and a browser in which
/// alice is signed in.
async fn alice_signed_in(db: crate::support::Backend) -> (TestServer, TestClient, Browser) {
    let server = oidc_server(db).await;
    server.user("alice", "pw-alice-123").await;
    let c = server.client(rp_spec()).await;
    let browser = Browser::new(&server);
    browser.login("alice", "pw-alice-123").await;
    (server, c, browser)
}

/// The token response `browser`'s user gets from `c` by approving `url` and exchanging the code.
async fn tokens_for(server: &TestServer, browser: &Browser, c: &TestClient, url: &str) -> Value {
    let code = query_of(&browser.approve(url).await)["code"].clone();
    let secret = c.secret.as_deref().unwrap();
    exchange_code(server, &c.client_id, secret, &c.redirect_uri, &code).await
}

/// The ID token `browser`'s user gets from `c` for `openid`, through the code flow.
async fn id_token_of(server: &TestServer, browser: &Browser, c: &TestClient) -> String {
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=openid&nonce=n0",
        c.client_id
    );
    let tokens = tokens_for(server, browser, c, &url).await;
    tokens["id_token"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn an_id_token_hint_must_be_ours_and_name_the_signed_in_user(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        server.user("bob", "pw-bob-12345").await;
        let c = server.client(rp_spec()).await;
        let other = server.client(rp_spec()).await;
        let alice = Browser::new(&server);
        alice.login("alice", "pw-alice-123").await;
        let bob = Browser::new(&server);
        bob.login("bob", "pw-bob-12345").await;
        let alice_hint = id_token_of(&server, &alice, &c).await;
        let bob_hint = id_token_of(&server, &bob, &c).await;
        // Her own hint, under prompt=none: the code at once.
        let (status, location) = hinted(&alice, &c, &alice_hint, "&prompt=none").await;
        assert_eq!(status, 302);
        assert!(query_of(&location).contains_key("code"), "{location}");

        // An expired hint is still a hint (Core §3.1.2.1): one signed by the published key.
        let store = server.store();
        let kek = EncryptionKey::from_base64(KEK).unwrap();
        let keys = KeySet::load(&store.signing_keys().await.unwrap(), &kek, scopegate::core::now()).unwrap();
        let sub = jws_part(&alice_hint, 1)["sub"].clone();
        let expired = keys
            .sign(Algorithm::Rs256, &serde_json::json!({"iss": server.base, "sub": sub, "aud": c.client_id, "iat": 1, "exp": 2}))
            .unwrap()
            .unwrap();
        let (_, location) = hinted(&alice, &c, &expired, "&prompt=none").await;
        assert!(query_of(&location).contains_key("code"), "expired hint: {location}");

        // Another user's hint: prompt=none cannot switch users, so login_required ...
        let (_, location) = hinted(&alice, &c, &bob_hint, "&prompt=none").await;
        let back = query_of(&location);
        assert_eq!((back["error"].as_str(), back["state"].as_str()), ("login_required", "s1"));
        // ... and without prompt=none, the sign-in page, which then goes on without the hint.
        let (status, location) = hinted(&alice, &c, &bob_hint, "").await;
        assert_eq!(status, 302);
        assert!(location.starts_with("/login?next="), "{location}");
        let next = query_of(&format!("http://x{location}"))["next"].clone();
        assert!(!next.contains("id_token_hint") && next.contains("state=s1"), "{next}");

        // Not one of ours for this client: invalid_request, to the client, never ignored.
        let mut tampered = alice_hint.clone();
        tampered.insert(alice_hint.find('.').unwrap() + 3, 'x');
        let for_other = id_token_of(&server, &alice, &other).await;
        let (_, payload) = alice_hint.split_once('.').unwrap();
        let unsigned = format!("eyJhbGciOiJub25lIn0.{payload}");
        for bad in [tampered.as_str(), for_other.as_str(), unsigned.as_str(), "garbage", &"a".repeat(9000)] {
            let (status, location) = hinted(&alice, &c, bad, "&prompt=none").await;
            assert_eq!(status, 302, "{bad}");
            let back = query_of(&location);
            assert!(location.starts_with(&c.redirect_uri), "{location}");
            assert_eq!((back["error"].as_str(), back["state"].as_str()), ("invalid_request", "s1"), "{bad}");
        }
        server.stop().await;
    }
}

both_backends! {
    async fn rp_initiated_logout_ends_the_session_and_returns_only_to_a_registered_uri(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let bye = "http://127.0.0.1:9/bye?from=op";
        let c = server
            .client(ClientSpec { post_logout_redirect_uris: vec![bye.into()], ..rp_spec() })
            .await;
        let other = server.client(rp_spec()).await;
        let discovery = get_json(server.url("/.well-known/openid-configuration")).await;
        assert_eq!(discovery["end_session_endpoint"], format!("{}/oauth/logout", server.base));
        let alice = Browser::new(&server);
        alice.login("alice", "pw-alice-123").await;
        let hint = id_token_of(&server, &alice, &c).await;
        let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();

        // Refused with a page, never redirected: an unregistered URI (even another client's),
        // a URI without a client, a hint that does not verify, a client_id the hint is not for.
        for query in [
            format!("client_id={}&post_logout_redirect_uri={}", c.client_id, encoded("http://127.0.0.1:9/elsewhere")),
            format!("client_id={}&post_logout_redirect_uri={}", other.client_id, encoded(bye)),
            format!("post_logout_redirect_uri={}", encoded(bye)),
            format!("id_token_hint={hint}x&post_logout_redirect_uri={}", encoded(bye)),
            format!("id_token_hint={hint}&client_id={}", other.client_id),
            "client_id=nobody".to_owned(),
        ] {
            let resp = alice.get(&format!("/oauth/logout?{query}")).await;
            assert_eq!(resp.status(), 400, "{query}");
            assert!(resp.headers().get("location").is_none(), "{query}");
            assert!(resp.text().await.unwrap().contains("Sign-out refused"), "{query}");
        }
        assert!(signed_in(&alice).await, "nothing refused signed anyone out");

        // The hint names the client; the user is asked first.
        let url = format!("/oauth/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=z1", encoded(bye));
        let (status, page) = alice.page(&url).await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"<strong id="client-name">Test App</strong> asks you to sign out"#), "{page}");
        // A POST without the page's CSRF token (another site's form) only asks again.
        let resp = alice.post_form("/oauth/logout", &[("client_id", &c.client_id), ("post_logout_redirect_uri", bye)]).await;
        assert_eq!(resp.status(), 200);
        assert!(signed_in(&alice).await);
        // Confirmed: signed out, and back to the registered URI with state.
        let field = |name: &str| hidden_field(&page, name).unwrap_or_else(|| panic!("{name} on the page"));
        let (csrf, client_id, uri) = (field("csrf_token"), field("client_id"), field("post_logout_redirect_uri"));
        let form = [("csrf_token", csrf.as_str()), ("client_id", &client_id), ("post_logout_redirect_uri", &uri), ("state", "z1")];
        let resp = alice.post_form("/oauth/logout", &form).await;
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], "http://127.0.0.1:9/bye?from=op&state=z1");
        assert!(!signed_in(&alice).await, "the session is over");
        // Nobody signed in: straight to the registered URI.
        let resp = alice.get(&url).await;
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], "http://127.0.0.1:9/bye?from=op&state=z1");
        server.stop().await;
    }
}

/// `/oauth/userinfo` with `token` in each place RFC 6750 §2 allows: its `sub` every time.
async fn userinfo_subjects(server: &TestServer, token: &str) -> Vec<Value> {
    let url = server.url("/oauth/userinfo");
    let answers = [
        http().get(&url).bearer_auth(token).send(),
        http().post(&url).bearer_auth(token).send(),
        http().post(&url).form(&[("access_token", token)]).send(),
    ];
    let mut subs = Vec::new();
    for answer in answers {
        let resp = answer.await.unwrap();
        assert_eq!(resp.status(), 200);
        subs.push(resp.json::<Value>().await.unwrap()["sub"].clone());
    }
    subs
}

both_backends! {
    // The OpenID Foundation's Basic OP plan, module by module where a module is about one
    // request (docs/oidc.md maps every module to its test).
    async fn the_basic_op_plan_requests_get_their_answers(db: Backend) {
        let (server, c, browser) = alice_signed_in(db).await;
        let url = |rest: &str| format!("/oauth/authorize?client_id={}&state=s1&{rest}", c.client_id);

        // oidcc-ensure-request-without-nonce-succeeds-for-code-flow: no nonce, none in the token.
        let tokens = tokens_for(&server, &browser, &c, &url("response_type=code&scope=openid")).await;
        let claims = jws_part(tokens["id_token"].as_str().unwrap(), 1);
        assert!(claims.get("nonce").is_none(), "{claims}");
        // oidcc-userinfo-get, -post-header, -post-body: the same subject as the ID token.
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(userinfo_subjects(&server, access).await, vec![claims["sub"].clone(); 3]);

        // Accepted, and what this server does not use is ignored: oidcc-display-page,
        // -display-popup, -ui-locales, -claims-locales, -ensure-request-with-acr-values-succeeds,
        // -claims-essential, -ensure-request-with-unknown-parameter-succeeds, and
        // -ensure-other-scope-order-succeeds.
        for extra in [
            "&display=page",
            "&display=popup",
            "&ui_locales=fr-CA%20fr%20en",
            "&claims_locales=de",
            "&acr_values=1%202",
            "&claims=%7B%22userinfo%22%3A%7B%22name%22%3A%7B%22essential%22%3Atrue%7D%7D%7D",
            "&extra_param=foobar",
        ] {
            let back = query_of(&browser.approve(&url(&format!("response_type=code&scope=openid%20email&nonce=n{extra}"))).await);
            assert!(back.contains_key("code"), "{extra}: {back:?}");
        }
        // oidcc-ensure-other-scope-order-succeeds, and oidcc-scope-email (and -profile's other
        // half): claims by scope, and only by scope.
        let tokens = tokens_for(&server, &browser, &c, &url("response_type=code&scope=email%20openid")).await;
        let info: Value = http().get(server.url("/oauth/userinfo")).bearer_auth(tokens["access_token"].as_str().unwrap())
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(info["email"], "alice@example.com");
        assert!(info.get("preferred_username").is_none(), "no profile scope: {info}");

        // oidcc-response-type-missing: invalid_request, to the client.
        let resp = browser.get(&url("scope=openid")).await;
        let back = query_of(resp.headers()["location"].to_str().unwrap());
        assert_eq!((back["error"].as_str(), back["state"].as_str()), ("invalid_request", "s1"));
        // oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported and
        // -ensure-request-object-with-redirect-uri: request objects are refused as unsupported,
        // and discovery says so.
        for (param, error) in [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")] {
            let resp = browser.get(&url(&format!("response_type=code&scope=openid&{param}=eyJhbGciOiJub25lIn0.e30."))).await;
            let back = query_of(resp.headers()["location"].to_str().unwrap());
            assert_eq!((back["error"].as_str(), back["state"].as_str()), (error, "s1"));
        }
        let discovery = get_json(server.url("/.well-known/openid-configuration")).await;
        assert_eq!(discovery["request_parameter_supported"], false);
        assert_eq!(discovery["request_uri_parameter_supported"], false);
        server.stop().await;
    }
}

both_backends! {
    async fn a_refresh_returns_an_id_token_with_the_original_auth_time(db: Backend) {
        let (server, c, browser) = alice_signed_in(db).await;
        let secret = c.secret.clone().unwrap();
        let url = format!("/oauth/authorize?response_type=code&client_id={}&scope=openid%20polls:vote&nonce=n9", c.client_id);
        let first = tokens_for(&server, &browser, &c, &url).await;
        let original = jws_part(first["id_token"].as_str().unwrap(), 1);
        // Later, so a refresh that took the time of the refresh would show.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let refresh = |token: String, scope: Option<&'static str>| {
            let mut form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token)];
            form.extend(scope.map(|s| ("scope", s.to_owned())));
            http().post(server.url("/oauth/token")).basic_auth(&c.client_id, Some(&secret)).form(&form).send()
        };
        let resp = refresh(first["refresh_token"].as_str().unwrap().to_owned(), None).await.unwrap();
        assert_eq!(resp.status(), 200);
        let second: Value = resp.json().await.unwrap();
        // Verified as a relying party would, through the published keys (Core §12.2).
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(c.client_id.clone()),
            ClientSecret::new(secret.clone()),
            IssuerUrl::new(server.base.clone()).unwrap(),
            jwks_of(&server.base).await,
        );
        let token: openidconnect::core::CoreIdToken = second["id_token"].as_str().expect("an ID token on refresh").parse().unwrap();
        let claims = token.claims(&verifier, |_: Option<&Nonce>| Ok(())).expect("the refreshed ID token verifies");
        assert_eq!(claims.subject().as_str(), original["sub"].as_str().unwrap());
        assert_eq!(claims.auth_time().map(|t| t.timestamp()), original["auth_time"].as_i64(), "the original sign-in");
        assert!(claims.issue_time().timestamp() > original["iat"].as_i64().unwrap(), "issued anew");
        assert!(claims.nonce().is_none(), "no nonce on refresh");
        let expected = AccessTokenHash::from_token(
            &openidconnect::AccessToken::new(second["access_token"].as_str().unwrap().to_owned()),
            token.signing_alg().unwrap(),
            token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash of the new access token");
        // A refresh narrowed to leave out openid gets no ID token.
        let resp = refresh(second["refresh_token"].as_str().unwrap().to_owned(), Some("polls:vote")).await.unwrap();
        let third: Value = resp.json().await.unwrap();
        assert!(third["access_token"].is_string() && third.get("id_token").is_none(), "{third}");
        server.stop().await;
    }
}

/// Runs the relying-party script `script` of `tests/rp/` with `program` for `alice` against a
/// fresh server, and checks it printed every one of `steps`.
async fn relying_party(program: &str, script: &str, steps: &[&str]) {
    let server = oidc_server(crate::support::Backend::Sqlite).await;
    server.user("alice", "pw-alice-123").await;
    let spec = rp_spec();
    let redirect_uris = spec.redirect_uris.clone();
    let c = server
        .client(ClientSpec {
            post_logout_redirect_uris: redirect_uris,
            ..spec
        })
        .await;
    // A client for each other algorithm and subject type discovery advertises.
    let mut extras = Vec::new();
    for (alg, subject_type) in [
        (Algorithm::Es256, SubjectType::Public),
        (Algorithm::EdDsa, SubjectType::Pairwise),
        (Algorithm::Rs256, SubjectType::Pairwise),
    ] {
        let e = server
            .client(spec_with(alg, subject_type, &c.redirect_uri))
            .await;
        extras.push(serde_json::json!({
            "client_id": e.client_id, "client_secret": e.secret,
            "alg": alg.as_str(), "subject_type": subject_type.as_str(),
        }));
    }
    let hybrid = server
        .client(ClientSpec {
            redirect_uris: vec![c.redirect_uri.clone()],
            ..front_channel_spec()
        })
        .await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rp");
    let secret = c.secret.clone().unwrap();
    let out = tokio::process::Command::new(program.replace("{dir}", dir))
        .env("HYBRID_CLIENT", &hybrid.client_id)
        .env("EXTRA_CLIENTS", Value::from(extras).to_string())
        .arg(format!("{dir}/{script}"))
        .args([
            &server.base,
            &c.client_id,
            &secret,
            &c.redirect_uri,
            "alice",
            "pw-alice-123",
        ])
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("{program} runs (scripts/test installs tests/rp's packages): {e}")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    for step in steps {
        assert!(said.contains(&format!("ok {step}\n")), "{step}: {said}");
    }
    server.stop().await;
}

/// oauth4webapi (npm; OpenID-certified and strict) as the relying party. Every step the
/// discovery document advertises for the code flow must pass.
#[tokio::test]
async fn oauth4webapi_signs_in_and_uses_every_advertised_capability() {
    let steps = [
        "discovery",
        "authorization response (state, iss)",
        "code exchange and ID token claims",
        "ID token signature through jwks_uri",
        "userinfo",
        "prompt=none",
        "refresh",
        "introspection and revocation",
        "ES256 public",
        "EdDSA pairwise",
        "RS256 pairwise",
        "hybrid code id_token",
        "implicit id_token",
        "implicit id_token token",
        "implicit token",
        "RP-initiated logout",
    ];
    relying_party("node", "oauth4webapi.mjs", &steps).await;
}

/// Authlib's OpenID Connect client (Python): it validates the ID token itself, signature
/// through the JWK Set included.
#[tokio::test]
async fn authlib_signs_in_and_validates_the_id_token() {
    let steps = [
        "discovery",
        "authorization response",
        "ID token",
        "userinfo",
    ];
    relying_party("{dir}/.venv/bin/python3", "authlib_rp.py", &steps).await;
}

fn spec_with(alg: Algorithm, subject_type: SubjectType, redirect_uri: &str) -> ClientSpec {
    ClientSpec {
        tokens: TokenOptions {
            alg,
            subject_type,
            ..TokenOptions::default()
        },
        redirect_uris: vec![redirect_uri.to_owned()],
        ..rp_spec()
    }
}

/// The userinfo document `access_token` gets.
async fn userinfo_of(server: &TestServer, access_token: &str) -> Value {
    let resp = http()
        .get(server.url("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

both_backends! {
    async fn each_client_gets_id_tokens_signed_with_its_own_algorithm(db: Backend) {
        let server = oidc_server(db).await;
        server.user("alice", "pw-alice-123").await;
        let jwks = raw_jwks(&server.base).await;
        let mut kids = Vec::new();
        for (alg, kty) in [(Algorithm::Rs256, "RSA"), (Algorithm::Es256, "EC"), (Algorithm::EdDsa, "OKP")] {
            let c = server.client(spec_with(alg, SubjectType::Public, "http://127.0.0.1:9/callback")).await;
            // The crate verifies the signature through the JWKS, accepting only `alg`.
            let signed = sign_in(&server.base, &c, "alice", "pw-alice-123").await;
            let header = header_of(&signed.id_token);
            assert_eq!(header["alg"], alg.as_str());
            let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("the kid is published");
            assert_eq!((key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()), (Some(kty), Some(alg.as_str()), Some("sig")));
            // Its ID token is a good id_token_hint: prompt=none answers with a code.
            let browser = Browser::new(&server);
            browser.login("alice", "pw-alice-123").await;
            let (status, location) = hinted(&browser, &c, &signed.id_token, "&prompt=none").await;
            assert_eq!(status, 302);
            assert!(query_of(&location).contains_key("code"), "{alg:?}: {location}");
            kids.push(signed.kid);
        }
        kids.dedup();
        assert_eq!(kids.len(), 3, "a key of each algorithm");
        server.stop().await;
    }

    async fn pairwise_subjects_are_stable_per_sector_and_differ_across_sectors(db: Backend) {
        let server = oidc_server(db).await;
        let alice = server.user("alice", "pw-alice-123").await;
        server.user("bob", "pw-bob-12345").await;
        let rs = Algorithm::Rs256;
        let public = server.client(spec_with(rs, SubjectType::Public, "http://127.0.0.1:9/callback")).await;
        let here = server.client(spec_with(rs, SubjectType::Pairwise, "http://127.0.0.1:9/callback")).await;
        // Another app of the same sector (host), on another port and path.
        let neighbour = server.client(spec_with(Algorithm::Es256, SubjectType::Pairwise, "http://127.0.0.1:7/other")).await;
        let elsewhere = server.client(spec_with(rs, SubjectType::Pairwise, "http://localhost:9/callback")).await;

        let sub = |signed: SignIn| signed.sub;
        let alice_public = sub(sign_in(&server.base, &public, "alice", "pw-alice-123").await);
        assert_eq!(alice_public, alice.id.to_string());
        let first = sign_in(&server.base, &here, "alice", "pw-alice-123").await;
        let alice_here = first.sub.clone();
        assert_ne!(alice_here, alice_public, "pairwise is not the user id");
        assert!(!alice_here.contains(&alice_public) || alice_here.len() > 20, "{alice_here}");
        assert_eq!(sub(sign_in(&server.base, &here, "alice", "pw-alice-123").await), alice_here, "stable");
        assert_eq!(sub(sign_in(&server.base, &neighbour, "alice", "pw-alice-123").await), alice_here, "one sector, one sub");
        let alice_elsewhere = sub(sign_in(&server.base, &elsewhere, "alice", "pw-alice-123").await);
        assert_ne!(alice_elsewhere, alice_here, "another sector cannot correlate");
        let bob_here = sub(sign_in(&server.base, &here, "bob", "pw-bob-12345").await);
        assert_ne!(bob_here, alice_here);

        // UserInfo states the same pairwise sub (the crate checked it matches the ID token's)
        // and nothing that would undo it.
        let info = userinfo_of(&server, &first.access_token).await;
        assert_eq!(info["sub"], alice_here.as_str());
        assert!(info.get("userId").is_none() && info.get("username").is_none(), "{info}");
        assert_eq!(info["preferred_username"], "alice", "profile was granted");
        // Introspection names the user as the token's client sees them, and not by username.
        let introspected = crate::support::introspect(&server, &here, &first.access_token).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["sub"], alice_here.as_str(), "{introspected}");
        assert!(introspected.get("username").is_none(), "{introspected}");
        // The legacy shapes keep to that too: Omniport's user data and Spring's check_token.
        let omniport: Value = http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&first.access_token).send().await.unwrap().json().await.unwrap();
        assert!(omniport.get("userId").is_none() && omniport.get("username").is_none(), "{omniport}");
        let spring: Value = http()
            .post(server.url("/oauth-server/oauth/check_token"))
            .basic_auth(&here.client_id, here.secret.as_deref())
            .form(&[("token", first.access_token.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(spring["active"], true, "{spring}");
        assert!(spring.get("user_name").is_none(), "{spring}");
        // Every flow names her so: a refresh's ID token, and an implicit one from a public
        // client of the same sector.
        let resp = http()
            .post(server.url("/oauth/token"))
            .basic_auth(&here.client_id, here.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", first.refresh_token.as_deref().unwrap())])
            .send()
            .await
            .unwrap();
        let refreshed: Value = resp.json().await.unwrap();
        assert_eq!(jws_part(refreshed["id_token"].as_str().unwrap(), 1)["sub"], alice_here.as_str(), "{refreshed}");
        let spa = server.client(ClientSpec {
            tokens: TokenOptions { alg: Algorithm::EdDsa, subject_type: SubjectType::Pairwise, ..TokenOptions::default() },
            ..front_channel_spec()
        }).await;
        let alice_browser = Browser::new(&server);
        alice_browser.login("alice", "pw-alice-123").await;
        let url = format!("/oauth/authorize?response_type=id_token&client_id={}&scope=openid&nonce=spa-1&state=s", spa.client_id);
        let back = fragment_params(&alice_browser.approve(&url).await);
        assert_eq!(jws_part(&back["id_token"], 1)["sub"], alice_here.as_str(), "{back:?}");
        // A public client's tokens still carry the user's names there.
        let public_token = sign_in(&server.base, &public, "alice", "pw-alice-123").await.access_token;
        let omniport: Value = http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&public_token).send().await.unwrap().json().await.unwrap();
        assert_eq!((omniport["userId"].as_i64(), omniport["username"].as_str()), (Some(alice.id), Some("alice")));

        // A pairwise hint names the signed-in user: prompt=none answers; bob's hint does not.
        let browser = Browser::new(&server);
        browser.login("alice", "pw-alice-123").await;
        let (_, location) = hinted(&browser, &here, &first.id_token, "&prompt=none").await;
        assert!(query_of(&location).contains_key("code"), "{location}");
        let bob = Browser::new(&server);
        bob.login("bob", "pw-bob-12345").await;
        let (_, location) = hinted(&bob, &here, &first.id_token, "&prompt=none").await;
        assert_eq!(query_of(&location)["error"], "login_required");
        server.stop().await;
    }

    async fn instances_that_make_the_first_keys_together_keep_one_per_algorithm(db: Backend) {
        let server = oidc_server(db).await;
        let store = server.store();
        let kek = EncryptionKey::from_base64(KEK).unwrap();
        let now = scopegate::core::now();
        let make = || {
            Algorithm::ALL
                .into_iter()
                .map(|alg| scopegate::core::oidc::keys::generate(alg, &kek, now, now).unwrap())
                .collect::<Vec<_>>()
        };
        let (first, second) = (make(), make());
        let (a, b) = tokio::join!(store.add_signing_keys(first.clone()), store.add_signing_keys(second));
        a.unwrap();
        b.unwrap();
        let kept = store.signing_keys().await.unwrap();
        assert_eq!(kept.len(), 3, "one per algorithm: {:?}", kept.iter().map(|k| &k.alg).collect::<Vec<_>>());
        let mut algs: Vec<&str> = kept.iter().map(|k| k.alg.as_str()).collect();
        algs.sort();
        assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
        server.stop().await;
    }
}

/// The parameters of a URL's fragment.
fn fragment_params(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    serde_urlencoded::from_str(url.fragment().unwrap_or_default()).unwrap()
}

/// A public client with the code and implicit grants: the implicit and hybrid flows.
fn front_channel_spec() -> ClientSpec {
    ClientSpec {
        grants: vec![GrantType::AuthorizationCode, GrantType::Implicit],
        ..ClientSpec {
            client_type: ClientType::Public,
            ..rp_spec()
        }
    }
}

both_backends! {
    async fn implicit_and_hybrid_answers_carry_an_id_token_bound_to_the_nonce(db: Backend) {
        let (server, _, browser) = alice_signed_in(db).await;
        let c = server.client(front_channel_spec()).await;
        let jwks = jwks_of(&server.base).await;
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(c.client_id.clone()),
            IssuerUrl::new(server.base.clone()).unwrap(),
            jwks,
        );
        let authorize = |response_type: &str, nonce: &str| {
            format!(
                "/oauth/authorize?response_type={}&client_id={}&scope=openid%20profile&state=s1&nonce={nonce}{CHALLENGE}",
                response_type.replace(' ', "%20"),
                c.client_id
            )
        };
        for (i, response_type) in ["id_token", "id_token token", "code id_token", "code token", "code id_token token"].into_iter().enumerate() {
            let parsed = ResponseType::parse(response_type).unwrap();
            let nonce = format!("nonce-{i}");
            let location = browser.approve(&authorize(response_type, &nonce)).await;
            assert!(!location.contains('?'), "everything in the fragment: {location}");
            let back = fragment_params(&location);
            assert_eq!((back["state"].as_str(), back["iss"].as_str()), ("s1", server.base.as_str()));
            assert_eq!(back.contains_key("code"), parsed.issues_code(), "{response_type}: {back:?}");
            assert_eq!(back.contains_key("access_token"), parsed.issues_token(), "{response_type}");
            assert_eq!(back.contains_key("id_token"), parsed.issues_id_token(), "{response_type}");
            if let Some(raw) = back.get("id_token") {
                // Verified through the JWKS, with its nonce, by the crate.
                let token: openidconnect::core::CoreIdToken = raw.parse().unwrap();
                let claims = token.claims(&verifier, &Nonce::new(nonce.clone())).expect("the ID token verifies");
                assert_eq!(claims.subject().as_str(), "1");
                assert!(claims.auth_time().is_some());
                let (alg, key) = (token.signing_alg().unwrap(), token.signing_key(&verifier).unwrap());
                let at_hash = back.get("access_token").map(|t| AccessTokenHash::from_token(&openidconnect::AccessToken::new(t.clone()), alg, key).unwrap());
                assert_eq!(claims.access_token_hash(), at_hash.as_ref(), "{response_type}: at_hash");
                let c_hash = back.get("code").map(|code| AuthorizationCodeHash::from_code(&AuthorizationCode::new(code.clone()), alg, key).unwrap());
                assert_eq!(claims.code_hash(), c_hash.as_ref(), "{response_type}: c_hash");
            }
            if let Some(code) = back.get("code") {
                // The hybrid flow's code is redeemed as any code, with PKCE; its ID token
                // carries the same nonce and subject.
                let resp = http()
                    .post(server.url("/oauth/token"))
                    .form(&[
                        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &c.redirect_uri),
                        ("client_id", &c.client_id), ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{response_type}");
                let tokens: Value = resp.json().await.unwrap();
                let token: openidconnect::core::CoreIdToken = tokens["id_token"].as_str().unwrap().parse().unwrap();
                let claims = token.claims(&verifier, &Nonce::new(nonce.clone())).expect("the token endpoint's ID token verifies");
                assert_eq!(claims.subject().as_str(), "1");
            }
        }

        // A nonce comes back in an ID token once per client: a replay is refused, in the
        // fragment, with no token.
        for response_type in ["id_token", "code id_token"] {
            let location = browser.approve(&authorize(response_type, "nonce-0")).await;
            let back = fragment_params(&location);
            assert_eq!(back["error"], "invalid_request", "{response_type}: {location}");
            assert!(back["error_description"].contains("nonce"));
            assert!(!back.contains_key("id_token") && !back.contains_key("code"));
        }
        // The refusals that need no consent page: no nonce, no openid, a confidential client.
        let refused = |url: String| {
            let browser = &browser;
            async move {
                let resp = browser.get(&url).await;
                assert_eq!(resp.status(), 302, "{url}");
                fragment_params(resp.headers()["location"].to_str().unwrap())
            }
        };
        let no_nonce = format!("/oauth/authorize?response_type=id_token&client_id={}&scope=openid&state=s1", c.client_id);
        let back = refused(no_nonce).await;
        assert_eq!(back["error"], "invalid_request");
        assert!(back["error_description"].contains("needs a nonce"), "{back:?}");
        let no_openid = format!("/oauth/authorize?response_type=id_token&client_id={}&scope=profile&state=s1&nonce=x", c.client_id);
        let back = refused(no_openid).await;
        assert!(back["error_description"].contains("needs the openid scope"), "{back:?}");
        let unknown = format!("/oauth/authorize?response_type=id_token%20id_token&client_id={}&scope=openid&state=s1&nonce=x", c.client_id);
        let resp = browser.get(&unknown).await;
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("unsupported_response_type"), "{location}");
        // A confidential client: the client rules never give it the implicit grant.
        let confidential = server.client(rp_spec()).await;
        let url = format!("/oauth/authorize?response_type=code%20id_token&client_id={}&scope=openid&state=s1&nonce=x", confidential.client_id);
        let back = refused(url).await;
        assert_eq!(back["error"], "unauthorized_client", "{back:?}");
        server.stop().await;
    }
}
