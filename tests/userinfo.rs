//! `/oauth/userinfo`: the host's provider, filtered by the token's scopes (Omniport's shape).

use std::sync::Arc;

use scopegate::core::model::{GrantType, User};
use scopegate::core::userinfo::UserInfoProvider;
use serde_json::{Map, Value, json};

use crate::both_backends;
use crate::support::{ClientSpec, TestServer, http};

struct Omniport;

#[async_trait::async_trait]
impl UserInfoProvider for Omniport {
    fn field_scopes(&self) -> Vec<(String, String)> {
        vec![
            ("person".into(), "person".into()),
            ("student".into(), "student".into()),
            ("contactInformation".into(), "contact".into()),
        ]
    }
    async fn fields(&self, user: &User) -> Result<Map<String, Value>, String> {
        let doc = json!({
            "person": {"shortName": user.username, "fullName": "Dhruv Kanti Bhanushali",
                       "roles": [{"role": "Student", "activeStatus": "ActiveStatus.IS_ACTIVE"}]},
            "student": {"enrolmentNumber": "15xxx009"},
            "contactInformation": {"instituteWebmailAddress": user.email},
            "secretField": "never declared, never sent",
        });
        Ok(doc.as_object().cloned().unwrap_or_default())
    }
}

async fn token_with(server: &TestServer, scope: &str) -> String {
    let app = server
        .client(ClientSpec {
            grants: vec![GrantType::Password],
            scopes: "person student contact".into(),
            ..ClientSpec::default()
        })
        .await;
    let body: Value = http()
        .post(server.url("/oauth/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", "dhruvkb"),
            ("password", "pw"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn fields_follow_the_token_scopes(db: Backend) {
        let server = TestServer::start_custom(db, |_| {}, |s| scopegate::web::build_state_with(s, Arc::new(Omniport))).await;
        let user = server.user("dhruvkb", "pw").await;
        let token = token_with(&server, "person contact").await;
        let body: Value = http().get(server.url("/open_auth/get_user_data/")).bearer_auth(&token)
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(body["userId"], user.id);
        assert_eq!(body["username"], "dhruvkb");
        assert_eq!(body["person"]["shortName"], "dhruvkb");
        assert_eq!(body["contactInformation"]["instituteWebmailAddress"], "dhruvkb@example.com");
        assert!(body.get("student").is_none(), "{body}");
        assert!(body.get("secretField").is_none(), "{body}");
        let token = token_with(&server, "student").await;
        let body: Value = http().get(server.url("/oauth/userinfo")).bearer_auth(&token)
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(body["student"]["enrolmentNumber"], "15xxx009");
        assert!(body.get("person").is_none());
        server.stop().await;
    }

    async fn default_provider_and_client_tokens(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(ClientSpec {
            grants: vec![GrantType::Password, GrantType::ClientCredentials],
            scopes: "email polls:vote".into(),
            ..ClientSpec::default()
        }).await;
        let get_token = |form: Vec<(&'static str, &'static str)>| {
            let (url, app) = (server.url("/oauth/token"), app.clone());
            async move {
                let body: Value = http().post(url).basic_auth(&app.client_id, app.secret.as_deref())
                    .form(&form).send().await.unwrap().json().await.unwrap();
                body["access_token"].as_str().unwrap().to_owned()
            }
        };
        let with_email = get_token(vec![("grant_type", "password"), ("username", "alice"), ("password", "pw")]).await;
        let body: Value = http().get(server.url("/oauth/userinfo")).bearer_auth(&with_email).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["email"], "alice@example.com");
        let without = get_token(vec![("grant_type", "password"), ("username", "alice"), ("password", "pw"), ("scope", "polls:vote")]).await;
        let body: Value = http().get(server.url("/oauth/userinfo")).bearer_auth(&without).send().await.unwrap().json().await.unwrap();
        assert!(body.get("email").is_none());
        // A client's own token has no user to describe.
        let client_token = get_token(vec![("grant_type", "client_credentials")]).await;
        let resp = http().get(server.url("/oauth/userinfo")).bearer_auth(&client_token).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        server.stop().await;
    }
}
