//! `/account/apps`: a signed-in user sees the applications they granted and revokes one, which
//! ends that application's tokens and makes it ask again; nobody else's grant can be touched.

use serde_json::Value;

use crate::both_backends;
use crate::support::{
    Browser, ClientSpec, TestClient, TestServer, exchange_code, hidden_field, is_active, query_of,
};

/// `user` signs in on a browser of their own and approves `c` for `polls:vote`; returns the
/// browser and the access token.
async fn granted(server: &TestServer, c: &TestClient, user: &str) -> (Browser, String) {
    server.user(user, "pw-user-123").await;
    let b = Browser::new(server);
    b.login(user, "pw-user-123").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=polls:vote",
        c.client_id
    );
    let code = query_of(&b.authorize(&url, "approve").await)["code"].clone();
    let secret = c.secret.as_deref().unwrap();
    let tokens: Value = exchange_code(server, &c.client_id, secret, &c.redirect_uri, &code).await;
    (b, tokens["access_token"].as_str().unwrap().to_owned())
}

/// The consent id behind the Revoke button of the only app listed on `page`.
pub fn revoke_action(page: &str) -> String {
    let from = page
        .find("action=\"/account/apps/")
        .expect("a Revoke button")
        + "action=\"".len();
    page[from..from + page[from..].find('"').unwrap()].to_owned()
}

both_backends! {
    async fn a_user_revokes_an_app_they_granted_and_only_their_own(db: Backend) {
        let server = TestServer::start(db).await;
        let polls = server.client(ClientSpec { name: "Polls Reader".into(), ..ClientSpec::default() }).await;
        let secret = polls.secret.clone().unwrap();
        let (alice, alice_token) = granted(&server, &polls, "alice").await;
        let (bob, bob_token) = granted(&server, &polls, "bob").await;

        // Signed out, the page asks for a sign-in and comes back, as every nested page does.
        for path in ["/account/apps", "/admin/clients?q=x", "/developer/add"] {
            let resp = Browser::new(&server).get(path).await;
            assert_eq!(resp.status(), 302);
            let location = resp.headers()["location"].to_str().unwrap();
            assert_eq!(query_of(&format!("http://x{location}"))["next"], path, "{location}");
        }

        // Alice sees the app, what it may do, and a Revoke button with a CSRF token.
        let (status, page) = alice.page("/account/apps").await;
        assert_eq!(status, 200);
        assert!(page.contains("Polls Reader") && page.contains("<code>polls:vote</code>"), "{page}");
        let alice_revoke = revoke_action(&page);
        let csrf = hidden_field(&page, "csrf_token").unwrap();
        let (_, bob_page) = bob.page("/account/apps").await;
        let bob_revoke = revoke_action(&bob_page);
        assert_ne!(alice_revoke, bob_revoke);

        // Bob's grant is not Alice's to revoke: not found, and his token still works.
        let resp = alice.post_form(&bob_revoke, &[("csrf_token", &csrf)]).await;
        assert_eq!(resp.status(), 404);
        // A form without the session's CSRF token changes nothing.
        let resp = alice.post_form(&alice_revoke, &[("csrf_token", "forged")]).await;
        assert_eq!(resp.status(), 403);
        for id in ["x", "-1", "99999999999999999999"] {
            let resp = alice.post_form(&format!("/account/apps/{id}/revoke"), &[("csrf_token", &csrf)]).await;
            assert!(matches!(resp.status().as_u16(), 400 | 404), "{id}: {}", resp.status());
        }
        assert!(is_active(&server, &polls.client_id, &secret, &alice_token).await);

        // Revoking: back to the list, now empty; the token is dead and the app asks again.
        let resp = alice.post_form(&alice_revoke, &[("csrf_token", &csrf)]).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()["location"], "/account/apps");
        let (_, page) = alice.page("/account/apps").await;
        assert!(page.contains("id=\"no-apps\""), "{page}");
        assert!(!is_active(&server, &polls.client_id, &secret, &alice_token).await);
        assert!(is_active(&server, &polls.client_id, &secret, &bob_token).await, "bob's grant stands");
        let url = format!("/oauth/authorize?response_type=code&client_id={}&scope=polls:vote", polls.client_id);
        assert_eq!(alice.get(&url).await.status(), 200, "the consent page again");
        // The audit log names who did it.
        let q = scopegate::core::portal::ListQuery { search: "consent.withdraw".into(), limit: 10, ..Default::default() };
        let log = server.store().list_audit(&q).await.unwrap();
        assert!(log.items.iter().any(|e| e.actor == "alice" && e.detail.contains("by the user")), "{:?}", log.items);
        server.stop().await;
    }
}
