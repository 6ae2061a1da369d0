//! The storage contract, run against SQLite and PostgreSQL alike: uniqueness, single-use codes
//! and refresh tokens (also under concurrent redemption), family revocation, sessions, pending
//! authorizations and consents.

use std::sync::Arc;

use scopegate::core::client_rules::ClientDraft;
use scopegate::core::lifecycle::Reused;
use scopegate::core::model::{
    Approval, ClientType, GrantType, NewCode, NewToken, NewUser, PendingAuthorization, TokenKind,
};
use scopegate::core::now;
use scopegate::core::scope::ScopeSet;
use scopegate::core::secret::{generate_token, hash_secret};
use scopegate::core::store::prelude::*;
use scopegate::core::store::{Redeemed, StoreError};
use scopegate::store::DbStore;

use crate::both_backends;
use crate::support::{Backend, TestDb, valid};

fn open(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(backend);
    let store = DbStore::open(&db.url, 8).expect("open");
    store.migrate().expect("migrate");
    (db, store.shared())
}

async fn fixtures(store: &dyn Store) -> (i64, i64) {
    let user = store
        .create_user(NewUser {
            username: "alice".into(),
            email: "".into(),
            password_hash: "x".into(),
            is_superuser: false,
        })
        .await
        .unwrap();
    let client = store
        .create_client(
            valid(ClientDraft {
                client_id: Some("app".into()),
                name: "App".into(),
                client_type: "confidential".into(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                redirect_uris: vec!["https://app.example/cb".into()],
                scopes: vec!["a".into(), "b".into()],
                code_lifetime: Some("30".into()),
                ..ClientDraft::default()
            })
            .into_new_client(Approval::Approved, Some(user.id))
            .0,
        )
        .await
        .unwrap();
    (user.id, client.id)
}

fn token(kind: TokenKind, client: i64, user: i64, grant: &str) -> (String, NewToken) {
    let value = generate_token();
    let row = NewToken {
        token_hash: hash_secret(&value),
        kind,
        client_id: client,
        user_id: Some(user),
        scope: "a".parse().unwrap(),
        grant_id: grant.into(),
        created_at: now(),
        expires_at: now() + 3600,
        auth_time: None,
        resource: None,
    };
    (value, row)
}

both_backends! {
    async fn users_and_clients_round_trip(backend: Backend) {
        let (_db, store) = open(backend);
        let (user_id, client_id) = fixtures(store.as_ref()).await;
        let user = store.user_by_username("alice").await.unwrap().unwrap();
        assert_eq!(user.id, user_id);
        assert!(user.is_active && !user.is_superuser);
        assert!(store.user_by_username("bob").await.unwrap().is_none());
        let dup = store
            .create_user(NewUser { username: "alice".into(), email: "".into(), password_hash: "y".into(), is_superuser: true })
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "usernames are unique");

        let client = store.client_by_client_id("app").await.unwrap().unwrap();
        assert_eq!(client.id, client_id);
        assert_eq!(client.client_type, ClientType::Confidential);
        assert_eq!(client.grant_types, vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
        assert_eq!(client.redirect_uris, vec!["https://app.example/cb".to_owned()]);
        assert_eq!(client.scopes.to_string(), "a b");
        assert_eq!(client.approval, Approval::Approved);
        assert_eq!(client.code_lifetime, Some(30));
        assert!(store.client_by_id(client_id).await.unwrap().is_some());
        assert!(store.client_by_client_id("nope").await.unwrap().is_none());
    }

    async fn a_code_is_redeemed_once_even_under_a_race(backend: Backend) {
        let (_db, store) = open(backend);
        let (user, client) = fixtures(store.as_ref()).await;
        let code = generate_token();
        store
            .create_code(NewCode {
                code_hash: hash_secret(&code),
                client_id: client,
                user_id: user,
                redirect_uri: "https://app.example/cb".into(),
                redirect_uri_given: true,
                scope: "a".parse().unwrap(),
                pkce: None,
                grant_id: "g1".into(),
                expires_at: now() + 60,
                nonce: Some("n-0S6_WzA2Mj".into()),
                auth_time: 1_700_000_000,
                resource: None,
            })
            .await
            .unwrap();
        let stored = store.code_by_hash(&hash_secret(&code)).await.unwrap().unwrap();
        assert!(stored.used_at.is_none());
        assert!(stored.redirect_uri_given);
        assert_eq!(stored.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(stored.auth_time, Some(1_700_000_000));

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let id = stored.id;
            tasks.push(tokio::spawn(async move {
                let (_, access) = token(TokenKind::Access, client, user, "g1");
                let (_, refresh) = token(TokenKind::Refresh, client, user, "g1");
                store.redeem_code(id, now(), access, Some(refresh)).await.unwrap()
            }));
        }
        let mut won = 0;
        for t in tasks {
            if t.await.unwrap() == Redeemed::Won {
                won += 1;
            }
        }
        assert_eq!(won, 1, "exactly one redemption wins");
        let used = store.code_by_hash(&hash_secret(&code)).await.unwrap().unwrap();
        assert!(used.used_at.is_some());
    }

    async fn refresh_rotation_is_single_use_and_ends_the_old_access_token(backend: Backend) {
        let (_db, store) = open(backend);
        let (user, client) = fixtures(store.as_ref()).await;
        let (access_value, access) = token(TokenKind::Access, client, user, "fam");
        let (refresh_value, refresh) = token(TokenKind::Refresh, client, user, "fam");
        store.issue_tokens(access, Some(refresh), GrantType::Password).await.unwrap();
        let old_access = store.token_by_hash(&hash_secret(&access_value)).await.unwrap().unwrap();
        let old_refresh = store.token_by_hash(&hash_secret(&refresh_value)).await.unwrap().unwrap();
        assert_eq!(old_access.refresh_id, Some(old_refresh.id), "access is linked to its refresh token");
        assert!(old_access.is_active(now()));

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let id = old_refresh.id;
            tasks.push(tokio::spawn(async move {
                let (_, a) = token(TokenKind::Access, client, user, "fam");
                let (_, r) = token(TokenKind::Refresh, client, user, "fam");
                store.rotate_refresh(id, now(), a, r).await.unwrap()
            }));
        }
        let mut won = 0;
        for t in tasks {
            if t.await.unwrap() == Redeemed::Won {
                won += 1;
            }
        }
        assert_eq!(won, 1, "exactly one rotation wins");
        let old_refresh = store.token_by_hash(&hash_secret(&refresh_value)).await.unwrap().unwrap();
        assert!(old_refresh.used_at.is_some());
        let old_access = store.token_by_hash(&hash_secret(&access_value)).await.unwrap().unwrap();
        assert!(old_access.revoked_at.is_some(), "the old access token ends with its refresh token");
    }

    async fn revoking_a_grant_revokes_its_whole_family_only(backend: Backend) {
        let (_db, store) = open(backend);
        let (user, client) = fixtures(store.as_ref()).await;
        let (a1, t1) = token(TokenKind::Access, client, user, "fam-a");
        let (r1, t2) = token(TokenKind::Refresh, client, user, "fam-a");
        let (other, t3) = token(TokenKind::Access, client, user, "fam-b");
        store.issue_tokens(t1, Some(t2), GrantType::Password).await.unwrap();
        store.issue_tokens(t3, None, GrantType::Password).await.unwrap();
        let r1_row = store.token_by_hash(&hash_secret(&r1)).await.unwrap().unwrap();
        let reused = Reused::refresh(&r1_row);
        assert_eq!(store.revoke_grant("fam-a", now(), reused).await.unwrap(), 2);
        for v in [&a1, &r1] {
            let t = store.token_by_hash(&hash_secret(v)).await.unwrap().unwrap();
            assert!(!t.is_active(now()));
        }
        let untouched = store.token_by_hash(&hash_secret(&other)).await.unwrap().unwrap();
        assert!(untouched.is_active(now()));
        assert_eq!(store.revoke_grant("fam-a", now(), reused).await.unwrap(), 0, "revocation is idempotent");
    }

    async fn sessions_expire_and_pending_requests_are_taken_once(backend: Backend) {
        let (_db, store) = open(backend);
        let (user, client) = fixtures(store.as_ref()).await;
        let s = store.create_session("h1", Some(user), "csrf", now() + 100).await.unwrap();
        assert_eq!(store.session_by_hash("h1", now()).await.unwrap().unwrap().user_id, Some(user));
        assert!(store.session_by_hash("h1", now() + 101).await.unwrap().is_none(), "expired");
        let pending = PendingAuthorization {
            client_id: client,
            user_id: user,
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: false,
            scope: "a".parse().unwrap(),
            state: Some("st".into()),
            pkce: None,
            response_type: scopegate::core::model::ResponseType::Code,
            nonce: Some("n-1".into()),
            expires_at: now() + 600,
            resource: None,
        };
        store.create_pending("n1", s.id, pending.clone()).await.unwrap();
        assert!(store.take_pending("n1", s.id + 1, now()).await.unwrap().is_none(), "bound to its session");
        let taken = store.take_pending("n1", s.id, now()).await.unwrap().unwrap();
        assert_eq!(taken.state.as_deref(), Some("st"));
        assert_eq!(taken.nonce.as_deref(), Some("n-1"));
        assert!(store.take_pending("n1", s.id, now()).await.unwrap().is_none(), "single use");
        store.create_pending("n2", s.id, pending).await.unwrap();
        assert!(store.take_pending("n2", s.id, now() + 601).await.unwrap().is_none(), "expired");
        store.delete_session("h1").await.unwrap();
        assert!(store.session_by_hash("h1", now()).await.unwrap().is_none());
    }

    async fn consents_are_upserted(backend: Backend) {
        let (_db, store) = open(backend);
        let (user, client) = fixtures(store.as_ref()).await;
        let a: ScopeSet = "a".parse().unwrap();
        let ab: ScopeSet = "a b".parse().unwrap();
        store.record_consent(user, client, &a, now()).await.unwrap();
        store.record_consent(user, client, &ab, now()).await.unwrap();
        // Consents create no scopes: only the identity scopes the migrations install exist.
        let names: Vec<String> = store.list_scopes().await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["email", "openid", "profile"]);
    }
}
