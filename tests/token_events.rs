//! Token-lifecycle events in the audit log (issue 11): issued, refreshed, reuse detected,
//! revoked and family revoked, each written by the store beside the admin actions, found by the
//! admin's search, and never carrying a token, a code or a secret.

use scopegate::core::model::GrantType;
use scopegate::core::portal::{AuditEntry, ListQuery};
use serde_json::Value;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestClient, TestServer, exchange_code, http, query_of};

async fn token(server: &TestServer, app: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn revoke(server: &TestServer, app: &TestClient, value: &str) {
    let resp = http()
        .post(server.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("token", value)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Every lifecycle line, oldest first.
async fn lines(server: &TestServer) -> Vec<AuditEntry> {
    let q = ListQuery {
        search: "token.".into(),
        offset: 0,
        limit: 100,
    };
    let mut found = server.store().list_audit(&q).await.unwrap().items;
    found.reverse();
    found
}

fn text(s: &Value, field: &str) -> String {
    s[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {s}"))
        .to_owned()
}

both_backends! {
    async fn each_step_of_a_token_life_is_one_line_without_the_token(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-12345").await;
        server.user("alice", "pw-user-123").await;
        let app = server
            .client(ClientSpec {
                grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
                ..ClientSpec::default()
            })
            .await;
        let mut secrets = vec![app.secret.clone().unwrap()];

        // Issued by the code exchange, for alice.
        let b = Browser::new(&server);
        b.login("alice", "pw-user-123").await;
        let location = b
            .authorize(&format!("/oauth/authorize?response_type=code&client_id={}&scope=polls:vote", app.client_id), "approve")
            .await;
        let code = query_of(&location)["code"].clone();
        let first = exchange_code(&server, &app.client_id, app.secret.as_deref().unwrap(), &app.redirect_uri, &code).await;
        let (access1, refresh1) = (text(&first, "access_token"), text(&first, "refresh_token"));
        secrets.extend([code.clone(), access1.clone(), refresh1.clone()]);
        let seen = lines(&server).await;
        assert_eq!(seen.len(), 1, "one line per issuance");
        let issued = &seen[0];
        assert_eq!(issued.action, "token.issued");
        assert_eq!(issued.actor, format!("client {}", app.client_id));
        assert_eq!(issued.target, "user alice");
        assert!(issued.detail.starts_with("grant=authorization_code access=#"), "{}", issued.detail);
        assert!(issued.detail.contains(" refresh=#") && issued.detail.contains(" code=#"), "{}", issued.detail);

        // Refreshed: a rotation.
        let (status, second) = token(&server, &app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
        assert_eq!(status, 200, "{second}");
        let (access2, refresh2) = (text(&second, "access_token"), text(&second, "refresh_token"));
        secrets.extend([access2.clone(), refresh2.clone()]);

        // Reuse detected: the rotated token again, which revokes the family.
        let (status, _) = token(&server, &app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh1)]).await;
        assert_eq!(status, 400);

        // Issued by client_credentials, for the client itself; then revoked by RFC 7009.
        let (status, machine) = token(&server, &app, &[("grant_type", "client_credentials"), ("scope", "polls:stats")]).await;
        assert_eq!(status, 200, "{machine}");
        let machine = text(&machine, "access_token");
        secrets.push(machine.clone());
        revoke(&server, &app, &machine).await;
        // Revoking it again ends nothing and writes nothing.
        revoke(&server, &app, &machine).await;

        let seen = lines(&server).await;
        let actions: Vec<&str> = seen.iter().map(|l| l.action.as_str()).collect();
        assert_eq!(actions, [
            "token.issued", "token.refreshed", "token.reuse_detected", "token.family_revoked",
            "token.issued", "token.revoked",
        ]);
        assert!(seen[1].detail.starts_with("grant=refresh_token access=#"), "{}", seen[1].detail);
        assert!(seen[1].detail.contains(" from=#"), "{}", seen[1].detail);
        assert!(seen[2].detail.starts_with("refresh=#") && seen[2].detail.ends_with(" reused"), "{}", seen[2].detail);
        assert!(seen[3].detail.starts_with("revoked=3 after reuse of refresh=#"), "the spent token and the new pair end: {}", seen[3].detail);
        assert_eq!(seen[4].target, format!("client {}", app.client_id), "a client's own token");
        assert!(seen[4].detail.starts_with("grant=client_credentials access=#"), "{}", seen[4].detail);
        assert!(seen[5].detail.starts_with("access=#"), "{}", seen[5].detail);
        for line in &seen[..4] {
            assert_eq!(line.target, "user alice", "{}", line.action);
        }

        // Beside the admin actions, on the admin's audit page, and searchable there.
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-12345").await;
        let (status, page) = admin.page("/admin/audit?q=token.reuse").await;
        assert_eq!(status, 200);
        assert!(page.contains("token.reuse_detected") && !page.contains("token.issued"), "{page}");
        let (_, page) = admin.page("/admin/audit?q=alice").await;
        assert!(page.contains("token.refreshed") && page.contains("token.family_revoked"));
        assert!(!page.contains("token.revoked<"), "the client's own token is not alice's");
        let (_, page) = admin.page("/admin/audit?q=client_credentials").await;
        assert!(page.contains("token.issued") && !page.contains("token.refreshed"), "the grant type is searched");
        let (_, page) = admin.page(&format!("/admin/audit?q={}", app.client_id)).await;
        assert!(page.contains("token.revoked"));

        // No line, and no audit page, carries a token, the code or the secret.
        let (_, everything) = admin.page("/admin/audit").await;
        for secret in &secrets {
            assert!(!everything.contains(secret.as_str()), "a credential on the audit page");
            for line in &seen {
                let all = format!("{} {} {} {}", line.actor, line.action, line.target, line.detail);
                assert!(!all.contains(secret.as_str()), "a credential in {all}");
            }
        }
        server.stop().await;
    }

    async fn an_admin_revocation_names_the_admin(db: Backend) {
        let server = TestServer::start(db).await;
        server.superuser("root", "pw-root-12345").await;
        let app = server
            .client(ClientSpec { grants: vec![GrantType::ClientCredentials], ..ClientSpec::default() })
            .await;
        let (status, _) = token(&server, &app, &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 200);
        let listed = server.store().list_tokens(&ListQuery { limit: 10, ..ListQuery::default() }).await.unwrap();
        let id = listed.items[0].id;
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-12345").await;
        let (status, _, _) = admin.submit("/admin/tokens", &format!("/admin/tokens/{id}/revoke"), &[]).await;
        assert_eq!(status, 303);
        let seen = lines(&server).await;
        let revoked = seen.iter().find(|l| l.action == "token.revoked").expect("a token.revoked line");
        assert_eq!(revoked.actor, "root");
        assert_eq!(revoked.detail, format!("access=#{id}"));
        // The dashboard's recent actions show the admin's, not the issuance.
        let (_, dashboard) = admin.page("/admin/").await;
        assert!(dashboard.contains("token.revoke<") && dashboard.contains("token.revoked<"), "{dashboard}");
        assert!(!dashboard.contains("token.issued"), "{dashboard}");
        server.stop().await;
    }
}
