//! The full story in headless Chromium, clicked through like a person would, on SQLite:
//! a developer registers an app (a 90-word description is refused with the count shown and every
//! field kept, then a valid one), an admin approves it, a user authorizes it and sees its
//! branding and scope descriptions, the app exchanges the code, the admin revokes the user's
//! tokens and the token stops working. Also: a forged POST changes nothing, a non-superuser
//! cannot reach the admin, a stranger cannot open the app. Screenshots go to
//! `target/screenshots/`.

use poem::web::Query;
use poem::{Route, get, handler};
use scopegate::core::model::Approval;

use crate::support::{Backend, TestServer, exchange_code, http, is_active, query_of, words};
use crate::webdriver::{Driver, screenshot_dir};

/// The app's redirect target, on the test server itself so the browser has somewhere to land.
#[handler]
fn callback(Query(q): Query<std::collections::HashMap<String, String>>) -> String {
    format!(
        "Callback received (code present: {})",
        q.contains_key("code")
    )
}

/// A logo the consent page can show without network access.
#[handler]
fn logo() -> poem::Response {
    poem::Response::builder()
        .content_type("image/svg+xml")
        .body(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" rx="14" fill="#0969da"/><text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">PP</text></svg>"##,
        )
}

async fn login(d: &Driver, base: &str, username: &str, next: &str) {
    d.goto(&format!("{base}/login?next={next}")).await;
    d.fill("#username", username).await;
    d.fill("#password", "pw-story-123").await;
    d.submit("button[type=submit]").await;
}

async fn logout(d: &Driver, base: &str) {
    d.goto(&format!("{base}/logout")).await;
    d.submit("button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_story_in_a_real_browser() {
    // The polls demo's guarded API is the resource the app calls with its token.
    let host = crate::polls::routes(Route::new())
        .at("/callback", get(callback))
        .at("/logo.svg", get(logo));
    let server = TestServer::start_with(Backend::Sqlite, |_| {}, host).await;
    let base = server.base.clone();
    server
        .scope("polls:vote", "Vote in polls on your behalf")
        .await;
    server.scope("polls:stats", "See how polls are going").await;
    for name in ["dev", "alice", "carol"] {
        server.user(name, "pw-story-123").await;
    }
    server.superuser("admin", "pw-story-123").await;
    let shots = screenshot_dir();
    let d = Driver::start().await;

    // 1. The developer registers an app; 90 words are refused, with everything kept.
    login(&d, &base, "dev", "/developer/add").await;
    assert!(d.url().await.ends_with("/developer/add"));
    let redirect = format!("{base}/callback");
    let short = words(90);
    d.fill("#name", "Poll Pal").await;
    d.fill("#redirect_uris", &redirect).await;
    d.fill("#description", &short).await;
    d.click("input[name=scopes][value='polls:vote']").await;
    d.click("#agree").await;
    d.submit("#add-button").await;
    assert!(
        d.text("#description-error")
            .await
            .contains("The description has 90 words; it must have 127 to 511.")
    );
    assert!(d.text("#word-count").await.contains("90 words"));
    assert_eq!(d.value("#name").await, "Poll Pal");
    assert_eq!(d.value("#redirect_uris").await, redirect);
    assert_eq!(d.value("#description").await, short);
    assert!(d.checked("input[name=scopes][value='polls:vote']").await);
    assert!(!d.checked("input[name=scopes][value='polls:stats']").await);
    assert!(d.checked("#agree").await);
    d.screenshot(&shots, "developer-add-form.png").await;
    d.fill("#description", &words(150)).await;
    d.submit("#add-button").await;
    let client_id = d.text("#client-id").await;
    let secret = d.text("#client-secret").await;
    assert_eq!(d.text("#approval-status").await, "pending");
    d.screenshot(&shots, "developer-registered.png").await;
    // Carol joins the team.
    d.fill("#member", "carol").await;
    d.submit("#add-member").await;
    assert!(d.source().await.contains(">carol<"));
    // Branding, shown later on the consent screen.
    d.fill("#logo_url", &format!("{base}/logo.svg")).await;
    d.fill("#homepage_url", "https://pollpal.example/").await;
    d.fill("#privacy_url", "https://pollpal.example/privacy")
        .await;
    d.submit("#save-branding").await;
    assert_eq!(
        d.value("#privacy_url").await,
        "https://pollpal.example/privacy"
    );
    d.screenshot(&shots, "developer-dashboard.png").await;
    logout(&d, &base).await;

    // A team member can edit the app.
    login(&d, &base, "carol", &format!("/developer/apps/{client_id}")).await;
    let two = format!("{redirect}\nhttps://pollpal.example/cb");
    d.fill("#redirect_uris", &two).await;
    d.submit("#save-redirects").await;
    assert_eq!(d.value("#redirect_uris").await, two);
    logout(&d, &base).await;

    // 2. Before approval, a user sees a clear page and is not redirected.
    let authorize = format!(
        "{base}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={redirect}&state=xyz&scope=polls:vote"
    );
    login(&d, &base, "alice", "/").await;
    d.goto(&authorize).await;
    assert!(
        d.url()
            .await
            .starts_with(&format!("{base}/oauth/authorize"))
    );
    assert!(d.source().await.contains("has not been approved"));
    // A non-superuser cannot reach the admin; a stranger cannot open the app.
    for page in ["/admin/", "/admin/clients", "/admin/tokens"] {
        d.goto(&format!("{base}{page}")).await;
        assert!(d.source().await.contains("Administrators only"), "{page}");
    }
    d.goto(&format!("{base}/developer/apps/{client_id}")).await;
    assert!(d.source().await.contains("Not your app"));
    logout(&d, &base).await;

    // 3. The admin approves it.
    login(&d, &base, "admin", "/admin/").await;
    assert!(d.url().await.ends_with("/admin/"));
    assert_eq!(d.text("#pending-count").await, "1");
    d.screenshot(&shots, "admin-dashboard.png").await;
    let client = server
        .store()
        .client_by_client_id(&client_id)
        .await
        .unwrap()
        .unwrap();
    d.submit(&format!("a[href='/admin/clients/{}']", client.id))
        .await;
    d.submit("#approve").await;
    assert_eq!(d.text("#approval-status").await, "approved");
    d.screenshot(&shots, "admin-client.png").await;
    // A forged cross-site POST (no CSRF token) is refused and changes nothing.
    d.execute(&format!(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '/admin/clients/{}/reject'; const r = document.createElement('input'); \
         r.name = 'reason'; r.value = 'forged'; f.appendChild(r); document.body.appendChild(f); \
         f.submit();",
        client.id
    ))
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(d.source().await.contains("Request refused"));
    let after = server
        .store()
        .client_by_id(client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.approval, Approval::Approved);
    logout(&d, &base).await;

    // 4. The user authorizes it, seeing its branding and the scope's description.
    login(&d, &base, "alice", "/").await;
    d.goto(&authorize).await;
    assert_eq!(d.text("#client-name").await, "Poll Pal");
    assert!(d.exists("#client-logo").await);
    assert!(d.text("#client-privacy").await.contains("Privacy policy"));
    assert!(d.source().await.contains("Vote in polls on your behalf"));
    d.screenshot(&shots, "consent.png").await;
    d.submit("#approve").await;
    let landed = d.url().await;
    assert!(landed.starts_with(&redirect), "{landed}");
    let q = query_of(&landed);
    assert_eq!(q["state"], "xyz");

    // 5. The app exchanges the code.
    let tokens = exchange_code(&server, &client_id, &secret, &redirect, &q["code"]).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert!(is_active(&server, &client_id, &secret, &access).await);
    let vote = || async {
        http()
            .post(server.url("/polls/1/vote"))
            .bearer_auth(&access)
            .form(&[("choice", "0")])
            .send()
            .await
            .unwrap()
    };
    let voted = vote().await;
    assert_eq!(voted.status(), 200, "the token opens the guarded API");
    assert_eq!(
        voted.json::<serde_json::Value>().await.unwrap()["voter"],
        "alice"
    );
    logout(&d, &base).await;

    // 6. The admin revokes the user's tokens; the token is dead.
    login(&d, &base, "admin", "/admin/tokens?q=alice").await;
    let alice = server
        .store()
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    d.submit(&format!(
        "form[action='/admin/users/{}/revoke'] button",
        alice.id
    ))
    .await;
    assert!(d.source().await.contains("revoked"));
    assert!(!is_active(&server, &client_id, &secret, &access).await);
    let refused = vote().await;
    assert_eq!(
        refused.status(),
        401,
        "the next API call after the revocation is refused"
    );
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    d.goto(&format!("{base}/admin/audit")).await;
    let audit = d.source().await;
    for action in ["app.register", "client.approve", "user.revoke_all"] {
        assert!(audit.contains(action), "{action} in the audit log");
    }
    d.screenshot(&shots, "admin-audit.png").await;

    d.quit().await;
    server.stop().await;
}

/// The API explorer's Authorize button runs a real authorization code + PKCE flow: Swagger UI
/// opens the consent page in a popup, the user approves, and the explorer holds a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_authorizes_with_code_and_pkce() {
    let server =
        TestServer::start_with(Backend::Sqlite, |_| {}, crate::polls::routes(Route::new())).await;
    let base = server.base.clone();
    server.scope("polls:stats", "See voting statistics.").await;
    server.user("alice", "pw-story-123").await;
    let d = Driver::start().await;
    login(&d, &base, "alice", "/").await;
    d.goto(&format!("{base}/docs")).await;
    d.click(".btn.authorize").await;
    let main = d.window().await;
    // The OAuth 2 scheme's button: the only scheme section that shows a flow (the modal also
    // lists the plain Bearer scheme of the user-info endpoints).
    d.click(".auth-container:has(.flow) .auth-btn-wrapper .btn.modal-btn.auth.authorize")
        .await;
    let popup = d.other_window(&main).await;
    d.switch_to(&popup).await;
    assert!(d.url().await.contains("client_id=scopegate-docs"));
    assert!(
        d.url().await.contains("code_challenge="),
        "the explorer uses PKCE"
    );
    // A click, not a submit: the popup closes itself once the receiver page hands the code back.
    d.click("#approve").await;
    d.switch_to(&main).await;
    let mut authorized = false;
    for _ in 0..50 {
        if d.source().await.contains("Logout") {
            authorized = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(authorized, "the explorer shows it holds a token");
    let docs = server
        .store()
        .client_by_client_id("scopegate-docs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(docs.client_type, scopegate::core::model::ClientType::Public);
    d.quit().await;
    server.stop().await;
}
