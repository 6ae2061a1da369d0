//! The developer portal over real HTTP: registration rules (word count, redirect URIs, scopes,
//! terms), double submits, the dashboard, approval gating, branding on the consent page, team
//! members versus strangers, template overrides, and server-side session rotation.

use scopegate::core::model::Approval;

use crate::both_backends;
use crate::support::{
    Backend, Browser, TestServer, element_text, exchange_code, hidden_field, http, query_of, words,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// Registers an app through the form as the signed-in `b`; returns (client_id, secret).
async fn register(b: &Browser, name: &str) -> (String, String) {
    let desc = words(150);
    let (status, _, page) = b
        .submit(
            "/developer/add",
            "/developer/add",
            &[
                ("name", name),
                ("redirect_uris", REDIRECT),
                ("description", &desc),
                ("scopes", "polls:vote"),
                ("agree", "on"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{page}");
    (
        element_text(&page, "client-id").unwrap(),
        element_text(&page, "client-secret").unwrap(),
    )
}

async fn setup(db: Backend) -> TestServer {
    // A key_encryption_key, so apps may choose JWT access tokens.
    let server = TestServer::start_with(
        db,
        |s| s.key_encryption_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        poem::Route::new(),
    )
    .await;
    server
        .scope("polls:vote", "Vote in polls on your behalf")
        .await;
    server.scope("polls:stats", "See poll statistics").await;
    server.user("dev", "pw-user-123").await;
    server.user("alice", "pw-user-123").await;
    server.user("stranger", "pw-user-123").await;
    server
}

both_backends! {
    async fn a_short_description_is_refused_with_everything_kept(db: Backend) {
        let server = setup(db).await;
        let b = Browser::new(&server);
        // Anonymous visitors are sent to the login page.
        let resp = http().get(server.url("/developer/add")).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        b.login("dev", "pw-user-123").await;
        let desc = words(90);
        let (status, _, page) = b
            .submit("/developer/add", "/developer/add", &[
                ("name", "Poll <Pal>"),
                ("redirect_uris", "https://pollpal.example/cb\nftp://nope.example/x"),
                ("description", &desc),
                ("scopes", "polls:stats"),
                ("agree", "on"),
            ])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("The description has 90 words; it must have 127 to 511."));
        assert!(page.contains("(90 words; 127 to 511)"), "count shown next to the field");
        assert!(page.contains("must use https"), "the ftp URI is refused");
        assert!(page.contains("value=\"Poll &lt;Pal&gt;\""), "name kept, escaped");
        assert!(page.contains("https://pollpal.example/cb\nftp://nope.example/x"));
        assert!(page.contains(&desc));
        assert!(page.contains("value=\"polls:stats\" checked"));
        assert!(page.contains("id=\"agree\" checked"));
        // 512 words is too many; no terms agreement and no scopes are refused too.
        let long = words(512);
        let (status, _, page) = b
            .submit("/developer/add", "/developer/add", &[
                ("name", "X"), ("redirect_uris", REDIRECT), ("description", &long),
            ])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("has 512 words"));
        assert!(page.contains("You must agree to the developer terms"));
        assert!(page.contains("Choose at least one scope."));
        assert!(server.store().clients_of_user(1).await.unwrap().is_empty());
        server.stop().await;
    }

    async fn an_app_waits_for_approval_and_then_shows_its_branding(db: Backend) {
        let server = setup(db).await;
        let dev = Browser::new(&server);
        dev.login("dev", "pw-user-123").await;
        let (client_id, secret) = register(&dev, "Poll Pal").await;
        // The dashboard: client id, status, no secret any more.
        let (status, page) = dev.page(&format!("/developer/apps/{client_id}")).await;
        assert_eq!(status, 200);
        assert_eq!(element_text(&page, "approval-status").as_deref(), Some("pending"));
        assert!(!page.contains(&secret));
        let (_, list) = dev.page("/developer/").await;
        assert!(list.contains("Poll Pal") && list.contains(&client_id));
        // Users cannot authorize it yet: a clear page, never a redirect.
        let alice = Browser::new(&server);
        alice.login("alice", "pw-user-123").await;
        let url = format!("/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&state=s");
        let resp = alice.get(&url).await;
        assert_eq!(resp.status(), 403);
        assert!(resp.headers().get("location").is_none());
        let body = resp.text().await.unwrap();
        assert!(body.contains("has not been approved"), "{body}");
        // Branding, then approval.
        let (status, _, page) = dev
            .submit(&format!("/developer/apps/{client_id}"), &format!("/developer/apps/{client_id}/branding"), &[
                ("logo_url", "javascript:alert(1)"),
                ("homepage_url", "https://pollpal.example/"),
                ("privacy_url", ""),
            ])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("value=\"javascript:alert(1)\""), "typed value kept");
        let (status, _, _) = dev
            .submit(&format!("/developer/apps/{client_id}"), &format!("/developer/apps/{client_id}/branding"), &[
                ("logo_url", "https://pollpal.example/logo.png"),
                ("homepage_url", "https://pollpal.example/"),
                ("privacy_url", "https://pollpal.example/privacy"),
            ])
            .await;
        assert_eq!(status, 303);
        let client = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        server.store().set_approval(client.id, &Approval::Approved).await.unwrap();
        let resp = alice.get(&url).await;
        assert_eq!(resp.status(), 200);
        let consent = crate::support::slashes(resp.text().await.unwrap());
        assert!(consent.contains("src=\"https://pollpal.example/logo.png\""));
        assert!(consent.contains("https://pollpal.example/privacy"));
        assert!(consent.contains("Vote in polls on your behalf"));
        // The full flow works with the secret shown at registration.
        let csrf = hidden_field(&consent, "csrf_token").unwrap();
        let nonce = hidden_field(&consent, "nonce").unwrap();
        let resp = alice.post_form("/oauth/authorize", &[("csrf_token", &csrf), ("nonce", &nonce), ("decision", "approve")]).await;
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let code = query_of(&location)["code"].clone();
        let tokens = exchange_code(&server, &client_id, &secret, REDIRECT, &code).await;
        assert!(tokens["access_token"].is_string());
        // Rejection shows the reason on the dashboard.
        server.store().set_approval(client.id, &Approval::Rejected("Too vague".into())).await.unwrap();
        let (_, page) = dev.page(&format!("/developer/apps/{client_id}")).await;
        assert_eq!(element_text(&page, "rejection-reason").as_deref(), Some("Too vague"));
        server.stop().await;
    }

    async fn a_double_submit_registers_one_app(db: Backend) {
        let server = setup(db).await;
        let dev = Browser::new(&server);
        dev.login("dev", "pw-user-123").await;
        let form = dev.page("/developer/add").await.1;
        let csrf = hidden_field(&form, "csrf_token").unwrap();
        let nonce = hidden_field(&form, "nonce").unwrap();
        let desc = words(200);
        let fields = [
            ("csrf_token", csrf.as_str()), ("nonce", nonce.as_str()), ("name", "Twice"),
            ("redirect_uris", REDIRECT), ("description", desc.as_str()),
            ("scopes", "polls:vote"), ("agree", "on"),
        ];
        let (a, b) = tokio::join!(dev.post_form("/developer/add", &fields), dev.post_form("/developer/add", &fields));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 303]);
        let dev_id = server.store().user_by_username("dev").await.unwrap().unwrap().id;
        assert_eq!(server.store().clients_of_user(dev_id).await.unwrap().len(), 1);
        // A third submit lands on the app's dashboard.
        let c = dev.post_form("/developer/add", &fields).await;
        assert_eq!(c.status(), 303);
        assert!(c.headers()["location"].to_str().unwrap().starts_with("/developer/apps/"));
        server.stop().await;
    }

    async fn team_members_edit_and_strangers_cannot(db: Backend) {
        let server = setup(db).await;
        let dev = Browser::new(&server);
        dev.login("dev", "pw-user-123").await;
        let (client_id, _) = register(&dev, "Team App").await;
        let app = format!("/developer/apps/{client_id}");
        let (status, _, page) = dev.submit(&app, &format!("{app}/members"), &[("username", "nobody")]).await;
        assert_eq!(status, 422);
        assert!(page.contains("There is no user named “nobody”") && page.contains("value=\"nobody\""));
        let (status, _, _) = dev.submit(&app, &format!("{app}/members"), &[("username", "alice")]).await;
        assert_eq!(status, 303);
        // A stranger sees a 403 and cannot change anything, even with their own CSRF token.
        let stranger = Browser::new(&server);
        stranger.login("stranger", "pw-user-123").await;
        let (status, _) = stranger.page(&app).await;
        assert_eq!(status, 403);
        let csrf = hidden_field(&stranger.page("/developer/add").await.1, "csrf_token").unwrap();
        for (action, field, value) in [
            ("branding", "homepage_url", "https://evil.example/"),
            ("redirects", "redirect_uris", "https://evil.example/cb"),
            ("secret", "x", "y"),
            ("members", "username", "stranger"),
        ] {
            let resp = stranger
                .post_form(&format!("{app}/{action}"), &[("csrf_token", &csrf), (field, value)])
                .await;
            assert_eq!(resp.status(), 403, "{action}");
        }
        let client = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        assert_eq!(client.redirect_uris, vec![REDIRECT.to_owned()]);
        let members = server.store().client_members(client.id).await.unwrap();
        assert_eq!(members.len(), 1);
        // The member edits the redirect URIs (a bad one is refused and kept).
        let alice = Browser::new(&server);
        alice.login("alice", "pw-user-123").await;
        let (status, _, page) = alice
            .submit(&app, &format!("{app}/redirects"), &[("redirect_uris", "relative/cb")])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("relative/cb") && page.contains("is not an absolute URL"));
        let (status, _, _) = alice
            .submit(&app, &format!("{app}/redirects"), &[("redirect_uris", "https://team.example/cb\nhttp://localhost:3000/cb")])
            .await;
        assert_eq!(status, 303);
        let client = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        assert_eq!(client.redirect_uris.len(), 2);
        // Post-logout redirect URIs are on the same form, with their own error.
        let lists = |post_logout: &'static str| [("redirect_uris", "https://team.example/cb"), ("post_logout_redirect_uris", post_logout)];
        let (status, _, page) = alice.submit(&app, &format!("{app}/redirects"), &lists("https://team.example/bye#x")).await;
        assert_eq!(status, 422);
        assert!(element_text(&page, "post-logout-error").is_some_and(|e| e.contains("#fragment")), "{page}");
        let (status, _, _) = alice.submit(&app, &format!("{app}/redirects"), &lists("https://team.example/bye")).await;
        assert_eq!(status, 303);
        let client = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        assert_eq!(client.post_logout_redirect_uris, ["https://team.example/bye"]);
        let (_, page) = alice.page(&app).await;
        assert!(page.contains(">https://team.example/bye</textarea>"), "shown back");
        // The sign-in settings: the ID token's algorithm and pairwise subjects, with the whole
        // client's rules (pairwise needs its redirect URIs on one host, which they now are).
        assert!(page.contains("<option value=\"RS256\" selected>") && page.contains("<option value=\"public\" selected>"), "the defaults shown");
        let (status, _, page) = alice.submit(&app, &format!("{app}/id-token"), &[("id_token_signed_response_alg", "ES512"), ("subject_type", "pairwise")]).await;
        assert_eq!(status, 422);
        assert!(element_text(&page, "id-token-alg-error").is_some_and(|e| e.contains("ES512")), "{page}");
        let (status, _, page) = alice.submit(&app, &format!("{app}/id-token"), &[("id_token_signed_response_alg", "EdDSA"), ("subject_type", "pairwise"), ("access_token_format", "macaroon")]).await;
        assert_eq!(status, 422);
        assert!(element_text(&page, "access-token-format-error").is_some_and(|e| e.contains("macaroon")), "{page}");
        let (status, _, _) = alice.submit(&app, &format!("{app}/id-token"), &[("id_token_signed_response_alg", "EdDSA"), ("subject_type", "pairwise"), ("access_token_format", "jwt")]).await;
        assert_eq!(status, 303);
        let client = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        assert_eq!((client.tokens.alg.as_str(), client.tokens.subject_type.as_str(), client.tokens.access.as_str()), ("EdDSA", "pairwise", "jwt"));
        let (_, page) = alice.page(&app).await;
        assert!(page.contains("<option value=\"jwt\" selected>"), "the format shown back");
        // A pairwise app cannot then spread its redirect URIs over two hosts.
        let (status, _, page) = alice.submit(&app, &format!("{app}/redirects"), &[("redirect_uris", "https://team.example/cb\nhttps://elsewhere.example/cb")]).await;
        assert_eq!(status, 422);
        assert!(page.contains("one host"), "{page}");
        // ...and can regenerate the secret; the app appears in their list.
        let (status, _, page) = alice.submit(&app, &format!("{app}/secret"), &[]).await;
        assert_eq!(status, 200);
        assert!(element_text(&page, "client-secret").is_some());
        assert!(alice.page("/developer/").await.1.contains("Team App"));
        server.stop().await;
    }

    async fn sessions_rotate_at_login_and_end_at_logout(db: Backend) {
        let server = setup(db).await;
        // An anonymous session id, as an attacker might plant it.
        let resp = http().get(server.url("/login")).send().await.unwrap();
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
        let planted = set.split(';').next().unwrap().to_owned();
        let page = resp.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let resp = http().post(server.url("/login")).header("cookie", &planted)
            .form(&[("csrf_token", csrf.as_str()), ("username", "dev"), ("password", "pw-user-123"), ("next", "/developer/")])
            .send().await.unwrap();
        assert_eq!(resp.status(), 302);
        let fresh = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        assert_ne!(fresh, planted, "the session id changes at login");
        let old = http().get(server.url("/developer/")).header("cookie", &planted).send().await.unwrap();
        assert_eq!(old.status(), 302, "the planted id is useless");
        let new = http().get(server.url("/developer/")).header("cookie", &fresh).send().await.unwrap();
        assert_eq!(new.status(), 200);
        // Logout ends it on the server.
        let page = http().get(server.url("/logout")).header("cookie", &fresh).send().await.unwrap().text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let resp = http().post(server.url("/logout")).header("cookie", &fresh)
            .form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        let after = http().get(server.url("/developer/")).header("cookie", &fresh).send().await.unwrap();
        assert_eq!(after.status(), 302);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_gets_friendly_pages_never_a_500() {
    let server = setup(Backend::Sqlite).await;
    server.superuser("root", "pw-root-123").await;
    let root = Browser::new(&server);
    root.login("root", "pw-root-123").await;
    for page in [
        "/admin/clients/99999999999999999999",
        "/admin/clients/-1",
        "/admin/users/%00",
        "/developer/apps/nope",
        "/admin/tokens?q=%FF%FE&page=-5",
        "/admin/consents?page=99999999999",
    ] {
        let (status, body) = root.page(page).await;
        assert!(status == 200 || status == 404, "{page}: {status}");
        assert!(body.contains("<html"), "{page} is a page");
    }
    let csrf = hidden_field(&root.page("/developer/add").await.1, "csrf_token").unwrap();
    // Not a form body, an oversized body, a missing nonce, a repeated field.
    let resp = root
        .http
        .post(server.url("/developer/add"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Past the 64 KiB limit, but read to the end before the answer: the client gets its 400,
    // never a reset connection.
    let big = "x".repeat(900_000);
    let resp = root
        .post_form(
            "/developer/add",
            &[("csrf_token", &csrf), ("description", &big)],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let desc = words(130);
    let resp = root
        .post_form(
            "/developer/add",
            &[
                ("csrf_token", &csrf),
                ("name", "A"),
                ("name", "B"),
                ("redirect_uris", REDIRECT),
                ("description", &desc),
                ("scopes", "polls:vote"),
                ("agree", "on"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400, "no nonce: refused, nothing created");
    assert!(
        server
            .store()
            .list_clients(&Default::default())
            .await
            .unwrap()
            .total
            == 0
    );
    let resp = root
        .post_form("/admin/codes/abc/revoke", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(resp.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("developer")).unwrap();
    std::fs::write(
        dir.path().join("developer/terms.html"),
        "{% extends \"base.html\" %}{% block content %}Host terms v2{% endblock content %}",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("admin")).unwrap();
    std::fs::write(dir.path().join("admin/index.html"), "Custom admin home").unwrap();
    let path = dir.path().to_owned();
    let server = TestServer::start_with(
        Backend::Sqlite,
        move |s| s.template_dir = Some(path),
        poem::Route::new(),
    )
    .await;
    let (_, body) = Browser::new(&server).page("/developer/terms").await;
    assert!(body.contains("Host terms v2"));
    server.superuser("root", "pw-root-123").await;
    let b = Browser::new(&server);
    b.login("root", "pw-root-123").await;
    assert_eq!(b.page("/admin/").await.1, "Custom admin home");
    server.stop().await;
}
