//! A real third-party client library (the `oauth2` crate) completes every grant: Ion's
//! confidential (authorization code + refresh + revoke + introspect) and public (implicit)
//! clients, client_credentials and password.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl, RedirectUrl,
    ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken,
    TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use scopegate::core::model::GrantType;

use crate::both_backends;
use crate::support::{Browser, ClientSpec, TestServer, http, query_of};

both_backends! {
    async fn ion_confidential_client_with_the_oauth2_crate(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(ClientSpec {
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            ..ClientSpec::default()
        }).await;
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(ClientSecret::new(app.secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
            .set_revocation_url(RevocationUrl::new(server.url("/oauth/revoke")).unwrap())
            .set_introspection_url(IntrospectionUrl::new(server.url("/oauth/introspect")).unwrap())
            .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap());
        let (url, csrf) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("polls:vote".into()))
            .url();
        let browser = Browser::new(&server);
        browser.login("alice", "pw").await;
        let location = browser.authorize(url.as_str(), "approve").await;
        let q = query_of(&location);
        assert_eq!(&q["state"], csrf.secret());
        let http = http();
        let tokens = client
            .exchange_code(AuthorizationCode::new(q["code"].clone()))
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(tokens.expires_in().unwrap().as_secs(), 36000);
        let info = client.introspect(tokens.access_token()).request_async(&http).await.unwrap();
        assert!(info.active());
        assert_eq!(info.username(), Some("alice"));
        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .request_async(&http)
            .await
            .unwrap();
        // The crate refuses a revocation URL without TLS (RFC 7009 §2), so the request it would
        // make (Basic auth, token + token_type_hint) is sent by hand on this plain-HTTP server.
        let _insecure = client.revoke_token(StandardRevocableToken::RefreshToken(
            refreshed.refresh_token().unwrap().clone(),
        ));
        let resp = http
            .post(server.url("/oauth/revoke"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[
                ("token", refreshed.refresh_token().unwrap().secret().as_str()),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let info = client.introspect(refreshed.access_token()).request_async(&http).await.unwrap();
        assert!(!info.active());
        server.stop().await;
    }

    async fn ion_public_client_implicit_with_the_oauth2_crate(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(ClientSpec { grants: vec![GrantType::Implicit], ..ClientSpec::public() }).await;
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
            .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap());
        let (url, csrf) = client.authorize_url(CsrfToken::new_random).use_implicit_flow().url();
        let browser = Browser::new(&server);
        browser.login("alice", "pw").await;
        let location = browser.authorize(url.as_str(), "approve").await;
        let fragment = url::Url::parse(&location).unwrap().fragment().unwrap().to_owned();
        let answer: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&fragment).unwrap();
        assert_eq!(&answer["state"], csrf.secret());
        let resp = http().get(server.url("/oauth/userinfo")).bearer_auth(&answer["access_token"]).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        server.stop().await;
    }

    async fn client_credentials_and_password_with_the_oauth2_crate(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let app = server.client(ClientSpec {
            grants: vec![GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken],
            ..ClientSpec::default()
        }).await;
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(ClientSecret::new(app.secret.clone().unwrap()))
            .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap());
        let http = http();
        let cc = client.exchange_client_credentials().add_scope(Scope::new("polls:stats".into())).request_async(&http).await.unwrap();
        assert!(cc.refresh_token().is_none());
        assert_eq!(cc.scopes().unwrap()[0].as_str(), "polls:stats");
        let pw = client
            .exchange_password(&ResourceOwnerUsername::new("alice".into()), &ResourceOwnerPassword::new("pw".into()))
            .request_async(&http)
            .await
            .unwrap();
        assert!(pw.refresh_token().is_some());
        let bad = client
            .exchange_password(&ResourceOwnerUsername::new("alice".into()), &ResourceOwnerPassword::new("no".into()))
            .request_async(&http)
            .await;
        assert!(bad.is_err());
        server.stop().await;
    }
}
