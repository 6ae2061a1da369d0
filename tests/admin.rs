//! The admin pages over real HTTP: superuser-only access, CSRF, client lifecycle with approval
//! and secrets, paging and search, token and consent revocation, users, scopes, and the audit log.

use scopegate::core::model::{Approval, ClientPermissions};

use crate::both_backends;
use crate::support::{
    Browser, ClientSpec, TestServer, element_text, exchange_code, hidden_field, http, is_active,
    query_of,
};

/// Every admin page a GET reaches.
const ADMIN_PAGES: &[&str] = &[
    "/admin/",
    "/admin",
    "/admin/clients",
    "/admin/clients/new",
    "/admin/clients/1",
    "/admin/scopes",
    "/admin/users",
    "/admin/users/1",
    "/admin/codes",
    "/admin/tokens",
    "/admin/consents",
    "/admin/audit",
];

/// Every admin action a POST reaches.
const ADMIN_ACTIONS: &[&str] = &[
    "/admin/clients/new",
    "/admin/clients/1",
    "/admin/clients/1/approve",
    "/admin/clients/1/reject",
    "/admin/clients/1/secret",
    "/admin/clients/1/revoke",
    "/admin/clients/1/delete",
    "/admin/scopes",
    "/admin/users/1",
    "/admin/users/1/password",
    "/admin/users/1/revoke",
    "/admin/codes/1/revoke",
    "/admin/tokens/1/revoke",
    "/admin/consents/1/withdraw",
];

/// Signs `user` in, authorizes the client and exchanges the code; returns the access token.
async fn token_for(server: &TestServer, c: &crate::support::TestClient, user: &str) -> String {
    let b = Browser::new(server);
    b.login(user, "pw-user-123").await;
    let url = format!(
        "/oauth/authorize?response_type=code&client_id={}&scope=polls:vote",
        c.client_id
    );
    let location = b.authorize(&url, "approve").await;
    let code = query_of(&location)["code"].clone();
    let body = exchange_code(
        server,
        &c.client_id,
        c.secret.as_deref().unwrap(),
        &c.redirect_uri,
        &code,
    )
    .await;
    body["access_token"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn anonymous_and_plain_users_are_kept_out(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("mallory", "pw-user-123").await;
        let pending = server
            .client(ClientSpec { approval: Approval::Pending, ..ClientSpec::default() })
            .await;
        // Anonymous: the login page, coming back here afterwards.
        for page in ADMIN_PAGES {
            let resp = http().get(server.url(page)).send().await.unwrap();
            assert_eq!(resp.status(), 302, "{page}");
            let to = resp.headers()["location"].to_str().unwrap();
            assert!(to.starts_with("/login?next="), "{page} -> {to}");
        }
        // A signed-in non-superuser: 403 on every page and every action, even with a valid
        // CSRF token, and nothing changes.
        let b = Browser::new(&server);
        b.login("mallory", "pw-user-123").await;
        let csrf = hidden_field(&b.page("/logout").await.1, "csrf_token").unwrap();
        for page in ADMIN_PAGES {
            let (status, body) = b.page(page).await;
            assert_eq!(status, 403, "{page}");
            // The error page itself, rendered from its template by the middleware.
            assert!(body.contains("<h1>Administrators only</h1>"), "{page}: {body}");
        }
        let id = pending.client.id.to_string();
        for action in ADMIN_ACTIONS {
            let action = action.replace("/1", &format!("/{id}"));
            let resp = b
                .post_form(&action, &[("csrf_token", &csrf), ("reason", "x"), ("name", "x")])
                .await;
            assert_eq!(resp.status(), 403, "{action}");
        }
        let after = server.store().client_by_id(pending.client.id).await.unwrap().unwrap();
        assert_eq!(after.approval, Approval::Pending);
        assert_eq!(after.name, "Test App");
        let audit = server.store().list_audit(&Default::default()).await.unwrap();
        assert_eq!(audit.total, 0);
        server.stop().await;
    }

    async fn forged_posts_change_nothing(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-123").await;
        let pending = server
            .client(ClientSpec { approval: Approval::Pending, ..ClientSpec::default() })
            .await;
        let b = Browser::new(&server);
        b.login("root", "pw-root-123").await;
        let approve = format!("/admin/clients/{}/approve", pending.client.id);
        for csrf in [None, Some("forged")] {
            let form: Vec<(&str, &str)> = csrf.map(|c| ("csrf_token", c)).into_iter().collect();
            let resp = b.post_form(&approve, &form).await;
            assert_eq!(resp.status(), 403);
        }
        let after = server.store().client_by_id(pending.client.id).await.unwrap().unwrap();
        assert_eq!(after.approval, Approval::Pending);
        // The real form works.
        let (status, _, _) = b
            .submit(&format!("/admin/clients/{}", pending.client.id), &approve, &[])
            .await;
        assert_eq!(status, 303);
        let after = server.store().client_by_id(pending.client.id).await.unwrap().unwrap();
        assert_eq!(after.approval, Approval::Approved);
        server.stop().await;
    }

    async fn clients_are_created_approved_rejected_and_rekeyed(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-123").await;
        server.scope("polls:vote", "Vote in polls").await;
        let b = Browser::new(&server);
        b.login("root", "pw-root-123").await;
        // Invalid: errors next to the fields, and what was typed is kept.
        let (status, _, page) = b
            .submit(
                "/admin/clients/new",
                "/admin/clients/new",
                &[
                    ("name", ""),
                    ("client_type", "confidential"),
                    ("grant_types", "authorization_code"),
                    ("redirect_uris", "https://kept.example/cb#frag"),
                    ("scopes", "polls:vote"),
                    ("access_token_lifetime", "soon"),
                ],
            )
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("Give a name of 1 to 100 characters."));
        assert!(page.contains("must not contain a #fragment"));
        assert!(page.contains("https://kept.example/cb#frag"));
        assert!(page.contains("The lifetime must be a whole number of seconds from 1 to 31536000 (1 year)"));
        assert!(page.contains("value=\"soon\""));
        // Valid, submitted twice with the same nonce: one client.
        let form_page = b.page("/admin/clients/new").await.1;
        let csrf = hidden_field(&form_page, "csrf_token").unwrap();
        let nonce = hidden_field(&form_page, "nonce").unwrap();
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("nonce", nonce.as_str()),
            ("name", "Reporting"),
            ("client_type", "confidential"),
            ("grant_types", "client_credentials"),
            ("scopes", "polls:vote"),
            ("approved", "on"),
        ];
        let first = b.post_form("/admin/clients/new", &fields).await;
        assert_eq!(first.status(), 201);
        let page = first.text().await.unwrap();
        let secret = element_text(&page, "client-secret").expect("secret shown once");
        let client_id = element_text(&page, "client-id").unwrap();
        let again = b.post_form("/admin/clients/new", &fields).await;
        assert_eq!(again.status(), 303, "a double submit creates nothing");
        let listed = server.store().list_clients(&scopegate::core::portal::ListQuery {
            limit: 10, ..Default::default()
        }).await.unwrap();
        assert_eq!(listed.total, 1);
        let client = listed.items[0].clone();
        assert_eq!(client.client_id, client_id);
        // The detail page never shows the secret again.
        let (_, detail) = b.page(&format!("/admin/clients/{}", client.id)).await;
        assert!(!detail.contains(&secret));
        // The secret authenticates (introspection by the approved client answers 200, a wrong
        // secret 401);
        // regenerating it replaces it.
        let cc = |secret: String| {
            let server_url = server.url("/oauth/introspect");
            let client_id = client_id.clone();
            async move {
                http().post(server_url)
                    .form(&[("token", "x"), ("client_id", client_id.as_str()),
                            ("client_secret", secret.as_str())])
                    .send().await.unwrap().status().as_u16()
            }
        };
        assert_eq!(cc(secret.clone()).await, 200);
        let (status, _, page) = b
            .submit(&format!("/admin/clients/{}", client.id),
                    &format!("/admin/clients/{}/secret", client.id), &[])
            .await;
        assert_eq!(status, 200);
        let new_secret = element_text(&page, "client-secret").unwrap();
        assert_ne!(new_secret, secret);
        assert_eq!(cc(secret).await, 401);
        assert_eq!(cc(new_secret).await, 200);
        // Reject needs a reason; with one, the client is rejected and stops working.
        let reject = format!("/admin/clients/{}/reject", client.id);
        let (status, _, page) = b.submit(&format!("/admin/clients/{}", client.id), &reject, &[("reason", " ")]).await;
        assert_eq!(status, 422);
        assert!(page.contains("Give the developers a reason"));
        let (status, _, _) = b.submit(&format!("/admin/clients/{}", client.id), &reject,
                                      &[("reason", "Asks for too much")]).await;
        assert_eq!(status, 303);
        let after = server.store().client_by_id(client.id).await.unwrap().unwrap();
        assert_eq!(after.approval, Approval::Rejected("Asks for too much".into()));
        // Edit: lifetimes and name (a client keeps at least one scope: see client_rules).
        let (status, _, _) = b.submit(&format!("/admin/clients/{}", client.id),
            &format!("/admin/clients/{}", client.id),
            &[("name", "Reporting 2"), ("client_type", "confidential"),
              ("grant_types", "client_credentials"), ("scopes", "polls:vote"),
              ("access_token_lifetime", "120")]).await;
        assert_eq!(status, 303);
        let after = server.store().client_by_id(client.id).await.unwrap().unwrap();
        assert_eq!(after.name, "Reporting 2");
        assert_eq!(after.access_token_lifetime, Some(120));
        assert_eq!(after.scopes.to_string(), "polls:vote");
        // The audit log names who did what.
        let (_, audit) = b.page("/admin/audit").await;
        for action in ["client.create", "client.secret", "client.reject", "client.update"] {
            assert!(audit.contains(action), "{action} in the audit log");
        }
        assert!(audit.contains("root"));
        assert!(audit.contains("Asks for too much"));
        // Delete.
        let (status, _, _) = b.submit(&format!("/admin/clients/{}", client.id),
            &format!("/admin/clients/{}/delete", client.id), &[]).await;
        assert_eq!(status, 303);
        assert!(server.store().client_by_id(client.id).await.unwrap().is_none());
        server.stop().await;
    }

    async fn tokens_are_listed_searched_and_revoked(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-123").await;
        server.user("alice", "pw-user-123").await;
        server.user("bob", "pw-user-123").await;
        let c = server.client(ClientSpec::default()).await;
        let alice = token_for(&server, &c, "alice").await;
        let bob = token_for(&server, &c, "bob").await;
        let secret = c.secret.clone().unwrap();
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let (_, page) = admin.page("/admin/tokens?q=ALI").await;
        assert!(page.contains(">alice<"), "search is case-insensitive");
        assert!(!page.contains(">bob<"));
        let (_, page) = admin.page("/admin/tokens?q=Test%20App").await;
        assert!(page.contains(">alice<") && page.contains(">bob<"), "search by client");
        let (_, page) = admin.page("/admin/consents?q=bob").await;
        assert!(page.contains(">bob<") && !page.contains(">alice<"));
        // Revoke all of alice's: her token dies, bob's lives.
        let alice_id = server.store().user_by_username("alice").await.unwrap().unwrap().id;
        let (status, location, _) = admin
            .submit("/admin/tokens", &format!("/admin/users/{alice_id}/revoke"), &[])
            .await;
        assert_eq!(status, 303);
        assert_eq!(location.as_deref(), Some("/admin/tokens?q=alice"));
        assert!(!is_active(&server, &c.client_id, &secret, &alice).await);
        assert!(is_active(&server, &c.client_id, &secret, &bob).await);
        // Withdrawing bob's consent revokes his token too.
        let consents = server.store().list_consents(&scopegate::core::portal::ListQuery {
            search: "bob".into(), limit: 10, ..Default::default()
        }).await.unwrap();
        assert_eq!(consents.total, 1);
        let (status, _, _) = admin
            .submit("/admin/consents", &format!("/admin/consents/{}/withdraw", consents.items[0].id), &[])
            .await;
        assert_eq!(status, 303);
        assert!(!is_active(&server, &c.client_id, &secret, &bob).await);
        let (_, page) = admin.page("/admin/consents").await;
        assert!(!page.contains(">bob<"));
        // Revoke all of the client's, and one token by id.
        let carol = { server.user("carol", "pw-user-123").await; token_for(&server, &c, "carol").await };
        let tokens = server.store().list_tokens(&scopegate::core::portal::ListQuery {
            search: "carol".into(), limit: 10, ..Default::default()
        }).await.unwrap();
        let access = tokens.items.iter().find(|t| t.kind == "access").unwrap();
        let (status, _, _) = admin
            .submit("/admin/tokens", &format!("/admin/tokens/{}/revoke", access.id), &[])
            .await;
        assert_eq!(status, 303);
        assert!(!is_active(&server, &c.client_id, &secret, &carol).await);
        let (_, audit) = admin.page("/admin/audit").await;
        assert!(audit.contains("user.revoke_all") && audit.contains("consent.withdraw")
                && audit.contains("token.revoke"));
        server.stop().await;
    }

    async fn users_are_paged_searched_and_managed(db: Backend) {
        let server = TestServer::start(db).await;
        let root = server.superuser("root", "pw-root-123").await;
        for i in 0..24 {
            server.store().create_user(scopegate::core::model::NewUser {
                username: format!("user{i:02}"), email: String::new(),
                password_hash: "x".into(), is_superuser: false,
            }).await.unwrap();
        }
        let dave = server.user("dave", "pw-user-123").await;
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let (_, p1) = admin.page("/admin/users").await;
        assert!(p1.contains("Page 1 of 2") && p1.contains("26 in all"));
        assert!(p1.contains("rel=\"next\""));
        let (_, p2) = admin.page("/admin/users?page=2").await;
        assert!(p2.contains("Page 2 of 2") && p2.contains(">user23<"));
        assert!(!p2.contains(">user00<"));
        let (_, found) = admin.page("/admin/users?q=dav").await;
        assert!(found.contains(">dave<") && found.contains("1 in all"));
        let (status, _) = admin.page("/admin/users?page=zzz&q=%25").await;
        assert_eq!(status, 200, "odd paging input is not an error");
        let (status, _) = admin.page("/admin/users/notanumber").await;
        assert_eq!(status, 404);
        // Password reset: shown once, the old one stops working.
        let (status, _, page) = admin
            .submit(&format!("/admin/users/{}", dave.id), &format!("/admin/users/{}/password", dave.id), &[])
            .await;
        assert_eq!(status, 200);
        let temp = element_text(&page, "new-password").unwrap();
        let b = Browser::new(&server);
        assert_eq!(b.login("dave", "pw-user-123").await.status(), 200, "old password refused");
        assert_eq!(b.login("dave", &temp).await.status(), 302);
        // Deactivate, then make superuser; an admin cannot lock themself out.
        let (status, _, _) = admin
            .submit(&format!("/admin/users/{}", dave.id), &format!("/admin/users/{}", dave.id), &[])
            .await;
        assert_eq!(status, 303);
        assert!(!server.store().user_by_id(dave.id).await.unwrap().unwrap().is_active);
        let (status, _, page) = admin
            .submit(&format!("/admin/users/{}", root.id), &format!("/admin/users/{}", root.id),
                    &[("is_active", "on")])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("cannot deactivate yourself"));
        assert!(server.store().user_by_id(root.id).await.unwrap().unwrap().is_superuser);
        server.stop().await;
    }

    async fn scopes_are_described(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-123").await;
        server.scope("polls:vote", "Vote").await;
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let (status, _, _) = admin
            .submit("/admin/scopes", "/admin/scopes", &[("name", "polls:vote"), ("description", "Vote in polls")])
            .await;
        assert_eq!(status, 303);
        let (status, _, _) = admin
            .submit("/admin/scopes", "/admin/scopes", &[("name", "reports"), ("description", "Read reports")])
            .await;
        assert_eq!(status, 303);
        let (status, _, page) = admin
            .submit("/admin/scopes", "/admin/scopes", &[("name", "bad scope"), ("description", "kept")])
            .await;
        assert_eq!(status, 422);
        assert!(page.contains("value=\"bad scope\"") && page.contains("value=\"kept\""));
        // Beside the three OpenID Connect scopes the migrations install.
        let scopes = server.store().list_scopes().await.unwrap();
        assert_eq!(scopes.len(), 5);
        assert!(scopes.iter().any(|s| s.name == "polls:vote" && s.description == "Vote in polls"));
        assert!(scopes.iter().all(|s| !s.from_code));
        let (_, page) = admin.page("/admin/scopes").await;
        assert!(page.contains("Read reports") && page.contains("5 in all"));
        let (_, page) = admin.page("/admin/scopes?q=REPORT").await;
        assert!(page.contains("Read reports") && !page.contains("Vote in polls"));
        assert!(page.contains("1 in all"));
        server.stop().await;
    }
}

both_backends! {
    async fn admin_pages_bound_lifetimes_and_edit_permissions(db: Backend) {
        // A key_encryption_key, so clients may have JWT access tokens.
        let server = TestServer::start_with(db, |s| s.key_encryption_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()), poem::Route::new()).await;
        server.superuser("root", "pw-root-123").await;
        server.scope("polls:vote", "Vote in polls").await;
        let b = Browser::new(&server);
        b.login("root", "pw-root-123").await;
        let base = [
            ("name", "Legacy"),
            ("client_type", "public"),
            ("grant_types", "authorization_code"),
            ("redirect_uris", "http://127.0.0.1:9/cb"),
            ("scopes", "polls:vote"),
            ("approved", "on"),
        ];
        // Every lifetime is bounded: the form comes back with the error, nothing is created.
        for (field, bound) in [
            ("code_lifetime", "from 1 to 3600 (1 hour)"),
            ("access_token_lifetime", "from 1 to 31536000 (1 year)"),
            ("refresh_token_lifetime", "from 1 to 315360000 (10 years)"),
        ] {
            for value in ["9223372036854775807", "99999999999999999999", "0"] {
                let mut fields = base.to_vec();
                fields.push((field, value));
                let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
                assert_eq!(status, 422, "{field}={value}");
                assert!(page.contains(&format!("The lifetime must be a whole number of seconds {bound}")), "{field}={value}");
            }
        }
        // Only a public client may skip PKCE.
        let mut fields = base.to_vec();
        fields[1] = ("client_type", "confidential");
        fields.push(("allow_public_without_pkce", "on"));
        let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
        assert_eq!(status, 422);
        assert!(page.contains("Only a public client can be allowed to skip PKCE"));
        // The grant rules the command line has hold here too.
        for (client_type, grant) in [("confidential", "implicit"), ("public", "password"), ("public", "client_credentials")] {
            let mut fields = base.to_vec();
            fields[1] = ("client_type", client_type);
            fields[2] = ("grant_types", grant);
            let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
            assert_eq!(status, 422, "{client_type} {grant}");
            assert!(page.contains("for public clients only") || page.contains("need a confidential client"), "{client_type} {grant}");
        }
        // Post-logout redirect URIs keep the redirect URI rules, next to their own field.
        let mut fields = base.to_vec();
        fields.push(("post_logout_redirect_uris", "https://app.example/bye#top"));
        let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
        assert_eq!(status, 422);
        let field = &page[page.find("id=\"post_logout_redirect_uris\"").unwrap()..];
        assert!(field[..field.find("</div>").unwrap()].contains("must not contain a #fragment"), "{page}");
        // OpenID Connect options: an unknown algorithm, and pairwise across two hosts, are
        // refused next to their fields.
        let mut fields = base.to_vec();
        fields.push(("id_token_signed_response_alg", "none"));
        fields.push(("subject_type", "pairwise"));
        fields[3] = ("redirect_uris", "http://127.0.0.1:9/cb\nhttp://localhost:9/cb");
        let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
        assert_eq!(status, 422);
        assert!(crate::support::element_text(&page, "id-token-alg-error").is_some_and(|e| e.contains("Unknown signing algorithm “none”")), "{page}");
        assert!(crate::support::element_text(&page, "subject-type-error").is_some_and(|e| e.contains("one host")), "{page}");
        // Only a confidential client can be a resource server.
        let mut fields = base.to_vec();
        fields.push(("resource_server", "on"));
        let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
        assert_eq!(status, 422);
        assert!(page.contains("Only a confidential client can be a resource server"));
        let none = server.store().list_clients(&scopegate::core::portal::ListQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(none.total, 0);

        // Created with the PKCE opt-out: stored, shown as a warning, and on record.
        let mut fields = base.to_vec();
        fields.push(("allow_public_without_pkce", "on"));
        fields.push(("code_lifetime", "3600"));
        fields.push(("post_logout_redirect_uris", "http://127.0.0.1:9/bye\nhttp://127.0.0.1:9/bye2"));
        fields.push(("id_token_signed_response_alg", "ES256"));
        fields.push(("subject_type", "pairwise"));
        fields.push(("access_token_format", "jwt"));
        let (status, _, page) = b.submit("/admin/clients/new", "/admin/clients/new", &fields).await;
        assert_eq!(status, 201);
        let client_id = crate::support::element_text(&page, "client-id").unwrap();
        let c = server.store().client_by_client_id(&client_id).await.unwrap().unwrap();
        assert_eq!((c.tokens.alg.as_str(), c.tokens.subject_type.as_str(), c.tokens.access.as_str()), ("ES256", "pairwise", "jwt"));
        assert_eq!(c.permissions, ClientPermissions { allow_public_without_pkce: true, ..ClientPermissions::default() });
        assert_eq!(c.code_lifetime, Some(3600));
        assert_eq!(c.post_logout_redirect_uris, ["http://127.0.0.1:9/bye", "http://127.0.0.1:9/bye2"]);
        let detail = format!("/admin/clients/{}", c.id);
        let (_, page) = b.page(&detail).await;
        assert!(page.contains("id=\"pkce-warning\""), "the opt-out is shown as a warning");
        assert!(page.contains("<option value=\"ES256\" selected>") && page.contains("<option value=\"pairwise\" selected>"), "the OpenID Connect options shown");
        assert!(page.contains("id=\"allow_public_without_pkce\" name=\"allow_public_without_pkce\" checked"));
        assert!(!page.contains("id=\"resource_server\" name=\"resource_server\" checked"));

        // Edited: made confidential (its new secret is shown), the opt-out off, resource server
        // and first-party on; an out-of-bounds edit changes nothing.
        let (status, _, page) = b.submit(&detail, &detail, &[
            ("name", "Legacy"), ("client_type", "confidential"), ("grant_types", "authorization_code"),
            ("redirect_uris", "http://127.0.0.1:9/cb"), ("scopes", "polls:vote"),
            ("resource_server", "on"), ("refresh_token_lifetime", "9223372036854775807"),
        ]).await;
        assert_eq!(status, 422);
        assert!(page.contains("The lifetime must be a whole number of seconds from 1 to 315360000 (10 years)"));
        let unchanged = server.store().client_by_id(c.id).await.unwrap().unwrap();
        assert_eq!(unchanged.permissions, c.permissions);
        let (status, _, page) = b.submit(&detail, &detail, &[
            ("name", "Legacy"), ("client_type", "confidential"), ("grant_types", "authorization_code"),
            ("redirect_uris", "http://127.0.0.1:9/cb"), ("scopes", "polls:vote"),
            ("resource_server", "on"), ("skip_consent", "on"),
        ]).await;
        assert_eq!(status, 200);
        assert!(crate::support::element_text(&page, "client-secret").is_some());
        let after = server.store().client_by_id(c.id).await.unwrap().unwrap();
        let expected = ClientPermissions { resource_server: true, allow_public_without_pkce: false, skip_consent: true };
        assert_eq!(after.permissions, expected);
        let (_, page) = b.page(&detail).await;
        assert!(!page.contains("id=\"pkce-warning\""));
        assert!(page.contains("<span>resource server (introspects and revokes any client's tokens)</span>"), "{page}");
        assert!(page.contains("<span id=\"first-party\">first-party (its users are not asked to consent)</span>"), "{page}");
        assert!(page.contains("id=\"skip_consent\" name=\"skip_consent\" checked"));
        let (_, audit) = b.page("/admin/audit").await;
        assert!(audit.contains("resource_server=true allow_public_without_pkce=false skip_consent=true"), "permission changes are audited");
        server.stop().await;
    }
}
