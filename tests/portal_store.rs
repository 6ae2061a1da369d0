//! The admin and developer-portal storage methods, on SQLite and PostgreSQL alike: single-use form nonces under
//! concurrency, profile upserts, literal wildcards in searches, and revocation scopes.

use std::sync::Arc;

use scopegate::core::client_rules::ClientDraft;
use scopegate::core::lifecycle::Revoker;
use scopegate::core::model::{Approval, GrantType, NewClient, NewToken, NewUser, TokenKind};
use scopegate::core::now;
use scopegate::core::portal::{ClientProfile, ListQuery, Submission};
use scopegate::core::secret::{generate_token, hash_secret};
use scopegate::core::store::StoreError;
use scopegate::core::store::prelude::*;
use scopegate::store::DbStore;

use crate::both_backends;
use crate::support::{TestDb, valid};

fn open(backend: crate::support::Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(backend);
    let store = DbStore::open(&db.url, 8).expect("open");
    store.migrate().expect("migrate");
    (db, store.shared())
}

fn all() -> ListQuery {
    ListQuery {
        search: String::new(),
        offset: 0,
        limit: 100,
    }
}

async fn user(store: &dyn Store, name: &str) -> i64 {
    store
        .create_user(NewUser {
            username: name.into(),
            email: String::new(),
            password_hash: "x".into(),
            is_superuser: false,
        })
        .await
        .unwrap()
        .id
}

fn client(name: &str, owner: Option<i64>) -> NewClient {
    let draft = ClientDraft {
        client_id: Some(format!("id_{}", name.replace(' ', "_"))),
        name: name.into(),
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://a.example/cb".into()],
        scopes: vec!["a".into()],
        ..ClientDraft::default()
    };
    valid(draft).into_new_client(Approval::Pending, owner).0
}

fn token(kind: TokenKind, client: i64, user: Option<i64>) -> NewToken {
    NewToken {
        token_hash: hash_secret(&generate_token()),
        kind,
        client_id: client,
        user_id: user,
        scope: "a".parse().unwrap(),
        grant_id: generate_token(),
        created_at: now(),
        expires_at: now() + 3600,
        auth_time: None,
        resource: None,
    }
}

both_backends! {
    async fn a_form_nonce_is_claimed_once(db: Backend) {
        let (_db, store) = open(db);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.claim_submission("n1", now()).await.unwrap() }));
        }
        let mut firsts = 0;
        for t in tasks {
            if t.await.unwrap() == Submission::First {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 1);
        store.finish_submission("n1", "42").await.unwrap();
        assert_eq!(store.claim_submission("n1", now()).await.unwrap(), Submission::Repeated("42".into()));
    }

    async fn apps_profiles_and_members(db: Backend) {
        let (_db, store) = open(db);
        let owner = user(store.as_ref(), "owner").await;
        let member = user(store.as_ref(), "member").await;
        let c = store.register_app(client("App", Some(owner)), ClientProfile {
            description: "d".into(), terms_agreed_at: Some(1), ..ClientProfile::default()
        }).await.unwrap();
        let p = store.client_profile(c.id).await.unwrap().unwrap();
        assert_eq!((p.client_id, p.description.as_str(), p.terms_agreed_at), (c.id, "d", Some(1)));
        store.save_client_profile(ClientProfile { logo_url: "https://l".into(), ..p }).await.unwrap();
        assert_eq!(store.client_profile(c.id).await.unwrap().unwrap().logo_url, "https://l");
        assert_eq!(store.client_owner(c.id).await.unwrap(), Some(owner));
        store.add_client_member(c.id, member).await.unwrap();
        assert!(matches!(store.add_client_member(c.id, member).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.clients_of_user(member).await.unwrap().len(), 1);
        assert_eq!(store.client_members(c.id).await.unwrap()[0].username, "member");
        store.remove_client_member(c.id, member).await.unwrap();
        assert!(store.clients_of_user(member).await.unwrap().is_empty());
        store.delete_client(c.id).await.unwrap();
        assert!(store.client_profile(c.id).await.unwrap().is_none());
    }

    async fn searches_take_wildcards_literally(db: Backend) {
        let (_db, store) = open(db);
        store.create_client(client("100% Pure", None)).await.unwrap();
        store.create_client(client("Plain", None)).await.unwrap();
        let q = |s: &str| ListQuery { search: s.into(), ..all() };
        assert_eq!(store.list_clients(&q("%")).await.unwrap().total, 1);
        assert_eq!(store.list_clients(&q("pure")).await.unwrap().total, 1);
        assert_eq!(store.list_clients(&q("_")).await.unwrap().total, 2, "client ids have _");
        assert_eq!(store.list_clients(&q("")).await.unwrap().total, 2);
        let page = store.list_clients(&ListQuery { search: String::new(), offset: 1, limit: 1 }).await.unwrap();
        assert_eq!((page.items.len(), page.total), (1, 2));
    }

    async fn revocation_reaches_exactly_what_it_names(db: Backend) {
        let (_db, store) = open(db);
        let alice = user(store.as_ref(), "alice").await;
        let bob = user(store.as_ref(), "bob").await;
        let c = store.create_client(client("App", None)).await.unwrap();
        let c2 = store.create_client(client("Other", None)).await.unwrap();
        let refresh = token(TokenKind::Refresh, c.id, Some(alice));
        let access = token(TokenKind::Access, c.id, Some(alice));
        store.issue_tokens(access.clone(), Some(refresh.clone()), GrantType::Password).await.unwrap();
        store.issue_tokens(token(TokenKind::Access, c.id, Some(bob)), None, GrantType::Password).await.unwrap();
        let machine = token(TokenKind::Access, c2.id, None);
        store.issue_tokens(machine.clone(), None, GrantType::ClientCredentials).await.unwrap();
        // Tokens without a user are listed and found by client.
        let found = store.list_tokens(&ListQuery { search: "other".into(), ..all() }).await.unwrap();
        assert_eq!(found.total, 1);
        assert_eq!(store.list_tokens(&all()).await.unwrap().total, 4);
        // Revoking alice's refresh token takes her access token with it.
        let r = store.token_by_hash(&refresh.token_hash).await.unwrap().unwrap();
        assert_eq!(store.revoke_token(r.id, now(), Revoker::Client("app".into())).await.unwrap(), 2);
        assert!(store.token_by_hash(&access.token_hash).await.unwrap().unwrap().revoked_at.is_some());
        // All of bob's; the client_credentials token lives on.
        assert_eq!(store.revoke_user_tokens(bob, now()).await.unwrap(), 1);
        assert!(store.token_by_hash(&machine.token_hash).await.unwrap().unwrap().revoked_at.is_none());
        assert_eq!(store.revoke_client_tokens(c2.id, now()).await.unwrap(), 1);
        assert_eq!(store.revoke_client_tokens(c2.id, now()).await.unwrap(), 0);
    }

    async fn the_audit_log_keeps_order_and_search(db: Backend) {
        let (_db, store) = open(db);
        for (i, action) in ["client.approve", "user.update", "client.reject"].iter().enumerate() {
            store.audit(scopegate::core::portal::NewAuditEntry {
                actor_id: None, actor: "root".into(), action: (*action).into(),
                target: format!("t{i}"), detail: String::new(),
            }, 100 + i64::try_from(i).unwrap()).await.unwrap();
        }
        let all_lines = store.list_audit(&all()).await.unwrap();
        assert_eq!(all_lines.items[0].action, "client.reject", "newest first");
        let clients = store.list_audit(&ListQuery { search: "CLIENT.".into(), ..all() }).await.unwrap();
        assert_eq!(clients.total, 2);
    }
}
