//! A small in-memory store for core's unit tests: it keeps only what the tested decisions read
//! and write (users and clients set up by the test, codes, tokens, consents and pending
//! requests). A method no core test reaches panics, naming itself, so a new test that needs it
//! says so at once.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lifecycle::{Reused, Revoker, Source, TokenEvent, issued_detail};
use super::model::{
    AuthCode, Client, GrantType, NewClient, NewCode, NewToken, NewUser, PendingAuthorization,
    Session, Token, User,
};
use super::portal::{CodeSummary, ConsentSummary, ListQuery, Page, TokenSummary};
use super::scope::ScopeSet;
use super::store::{
    AccountStore, AttemptCounts, Cleared, ClientStore, ConsentStore, GrantStore, LoginAttempt,
    Redeemed, SessionStore, StoreError,
};
use super::throttle::AttemptKind;

/// A consent as recorded: user, client, scope.
pub type Consent = (i64, i64, ScopeSet);

#[derive(Default)]
struct Rows {
    users: Vec<User>,
    clients: Vec<Client>,
    codes: Vec<(String, AuthCode)>,
    tokens: Vec<(String, Token)>,
    consents: Vec<Consent>,
    pending: Vec<(String, i64, PendingAuthorization)>,
    attempts: Vec<Attempt>,
    attempts_made: i64,
    events: Vec<(&'static str, String)>,
    nonces: Vec<(i64, String)>,
}

struct Attempt {
    id: i64,
    kind: AttemptKind,
    subject: String,
    client_ip: String,
    at: i64,
}

/// The store. Tests seed it with [`MemStore::with_user`] and [`MemStore::with_client`] and read
/// what a decision wrote with the accessors.
#[derive(Default)]
pub struct MemStore {
    rows: Mutex<Rows>,
}

impl MemStore {
    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        // A test that panicked while holding the lock fails on its own; the rows stay readable.
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a user.
    pub fn with_user(self, user: User) -> Self {
        self.rows().users.push(user);
        self
    }

    /// Adds a client.
    pub fn with_client(self, client: Client) -> Self {
        self.rows().clients.push(client);
        self
    }

    /// Every stored code, in the order stored.
    pub fn codes(&self) -> Vec<AuthCode> {
        self.rows().codes.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Every stored token, in the order stored.
    pub fn tokens(&self) -> Vec<Token> {
        self.rows().tokens.iter().map(|(_, t)| t.clone()).collect()
    }

    /// How many credential attempts are on record.
    pub fn attempts(&self) -> usize {
        self.rows().attempts.len()
    }

    /// Every recorded consent.
    pub fn consents(&self) -> Vec<Consent> {
        self.rows().consents.clone()
    }

    /// The token-lifecycle lines written, as (action, detail).
    pub fn events(&self) -> Vec<(&'static str, String)> {
        self.rows().events.clone()
    }

    /// Sets what a user's `is_active` flag says.
    pub fn set_active(&self, user_id: i64, active: bool) {
        for user in self.rows().users.iter_mut().filter(|u| u.id == user_id) {
            user.is_active = active;
        }
    }
}

impl Rows {
    fn store_token(&mut self, new: NewToken, refresh_id: Option<i64>) -> i64 {
        let id = i64::try_from(self.tokens.len()).unwrap_or(i64::MAX) + 1;
        let token = Token {
            id,
            kind: new.kind,
            client_id: new.client_id,
            user_id: new.user_id,
            scope: new.scope,
            grant_id: new.grant_id,
            refresh_id,
            created_at: new.created_at,
            expires_at: new.expires_at,
            used_at: None,
            revoked_at: None,
            auth_time: new.auth_time,
            resource: new.resource,
        };
        self.tokens.push((new.token_hash, token));
        id
    }

    /// Stores a pair and its lifecycle line, as the database store does.
    fn store_pair(
        &mut self,
        access: NewToken,
        refresh: Option<NewToken>,
        grant: GrantType,
        from: Option<Source>,
    ) {
        let refresh_id = refresh.map(|r| self.store_token(r, None));
        let access_id = self.store_token(access, refresh_id);
        let detail = issued_detail(grant, access_id, refresh_id, from);
        self.events.push((TokenEvent::Issued.action(), detail));
    }
}

/// The row stored under a hash.
fn by_hash<T: Clone>(rows: &[(String, T)], hash: &str) -> Option<T> {
    let found = rows.iter().find(|(h, _)| h == hash);
    found.map(|(_, row)| row.clone())
}

#[async_trait]
impl AccountStore for MemStore {
    async fn create_user(&self, _: NewUser) -> Result<User, StoreError> {
        unimplemented!("MemStore::create_user")
    }
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let rows = self.rows();
        Ok(rows.users.iter().find(|u| u.username == username).cloned())
    }
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        Ok(self.rows().users.iter().find(|u| u.id == id).cloned())
    }
    async fn list_users(&self, _: &ListQuery) -> Result<Page<User>, StoreError> {
        unimplemented!("MemStore::list_users")
    }
    async fn set_user_flags(&self, _: i64, _: bool, _: bool) -> Result<(), StoreError> {
        unimplemented!("MemStore::set_user_flags")
    }
    async fn set_user_password(&self, _: i64, _: &str) -> Result<(), StoreError> {
        unimplemented!("MemStore::set_user_password")
    }
    async fn begin_attempt(
        &self,
        kind: AttemptKind,
        subject: &str,
        client_ip: &str,
        now: i64,
        since: i64,
    ) -> Result<LoginAttempt, StoreError> {
        let mut rows = self.rows();
        rows.attempts_made += 1;
        let id = rows.attempts_made;
        rows.attempts.push(Attempt {
            id,
            kind,
            subject: subject.to_owned(),
            client_ip: client_ip.to_owned(),
            at: now,
        });
        let counted = rows
            .attempts
            .iter()
            .filter(|a| a.kind == kind && a.at >= since);
        let (by_user, by_ip) = counted.fold((0, 0), |(u, i), a| {
            (
                u + i64::from(a.subject == subject),
                i + i64::from(a.client_ip == client_ip),
            )
        });
        Ok(LoginAttempt { id, by_user, by_ip })
    }
    async fn count_attempts(
        &self,
        _: AttemptKind,
        _: &str,
        _: &str,
        _: i64,
    ) -> Result<AttemptCounts, StoreError> {
        unimplemented!("MemStore::count_attempts")
    }
    async fn end_attempt(&self, attempt_id: i64) -> Result<(), StoreError> {
        self.rows().attempts.retain(|a| a.id != attempt_id);
        Ok(())
    }
}

#[async_trait]
impl ClientStore for MemStore {
    async fn create_client(&self, _: NewClient) -> Result<Client, StoreError> {
        unimplemented!("MemStore::create_client")
    }
    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let rows = self.rows();
        Ok(rows
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned())
    }
    async fn client_by_id(&self, id: i64) -> Result<Option<Client>, StoreError> {
        Ok(self.rows().clients.iter().find(|c| c.id == id).cloned())
    }
    async fn list_clients(&self, _: &ListQuery) -> Result<Page<Client>, StoreError> {
        unimplemented!("MemStore::list_clients")
    }
    async fn clients_of_user(&self, _: i64) -> Result<Vec<Client>, StoreError> {
        unimplemented!("MemStore::clients_of_user")
    }
    async fn client_owner(&self, _: i64) -> Result<Option<i64>, StoreError> {
        unimplemented!("MemStore::client_owner")
    }
    async fn update_client(
        &self,
        _: i64,
        _: &super::client_rules::ValidClient,
    ) -> Result<(), StoreError> {
        unimplemented!("MemStore::update_client")
    }
    async fn set_approval(&self, _: i64, _: &super::model::Approval) -> Result<(), StoreError> {
        unimplemented!("MemStore::set_approval")
    }
    async fn set_client_secret(&self, _: i64, _: Option<String>) -> Result<(), StoreError> {
        unimplemented!("MemStore::set_client_secret")
    }
    async fn delete_client(&self, _: i64) -> Result<(), StoreError> {
        unimplemented!("MemStore::delete_client")
    }
}

#[async_trait]
impl GrantStore for MemStore {
    async fn claim_nonce(
        &self,
        client_id: i64,
        nonce_hash: &str,
        _: i64,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows();
        let key = (client_id, nonce_hash.to_owned());
        if rows.nonces.contains(&key) {
            return Ok(false);
        }
        rows.nonces.push(key);
        Ok(true)
    }
    async fn create_code(&self, code: NewCode) -> Result<(), StoreError> {
        let mut rows = self.rows();
        let id = i64::try_from(rows.codes.len()).unwrap_or(i64::MAX) + 1;
        let stored = AuthCode {
            id,
            client_id: code.client_id,
            user_id: code.user_id,
            redirect_uri: code.redirect_uri,
            redirect_uri_given: code.redirect_uri_given,
            scope: code.scope,
            pkce: code.pkce,
            grant_id: code.grant_id,
            expires_at: code.expires_at,
            used_at: None,
            nonce: code.nonce,
            auth_time: Some(code.auth_time),
            resource: code.resource,
        };
        rows.codes.push((code.code_hash, stored));
        Ok(())
    }
    async fn code_by_hash(&self, code_hash: &str) -> Result<Option<AuthCode>, StoreError> {
        Ok(by_hash(&self.rows().codes, code_hash))
    }
    async fn redeem_code(
        &self,
        code_id: i64,
        now: i64,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<Redeemed, StoreError> {
        let mut rows = self.rows();
        let unused = rows.codes.iter_mut().map(|(_, c)| c);
        let Some(code) = unused
            .filter(|c| c.used_at.is_none())
            .find(|c| c.id == code_id)
        else {
            return Ok(Redeemed::AlreadyUsed);
        };
        code.used_at = Some(now);
        let from = Some(Source::Code(code_id));
        rows.store_pair(access, refresh, GrantType::AuthorizationCode, from);
        Ok(Redeemed::Won)
    }
    async fn issue_tokens(
        &self,
        access: NewToken,
        refresh: Option<NewToken>,
        grant: GrantType,
    ) -> Result<(), StoreError> {
        self.rows().store_pair(access, refresh, grant, None);
        Ok(())
    }
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<Token>, StoreError> {
        Ok(by_hash(&self.rows().tokens, token_hash))
    }
    async fn rotate_refresh(
        &self,
        _: i64,
        _: i64,
        _: NewToken,
        _: NewToken,
    ) -> Result<Redeemed, StoreError> {
        unimplemented!("MemStore::rotate_refresh")
    }
    async fn respend_refresh(
        &self,
        _: i64,
        _: i64,
        _: i64,
        _: NewToken,
        _: NewToken,
    ) -> Result<Redeemed, StoreError> {
        unimplemented!("MemStore::respend_refresh")
    }
    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        reused: Reused,
    ) -> Result<u64, StoreError> {
        let mut rows = self.rows();
        let mut revoked = 0;
        for (_, token) in rows.tokens.iter_mut() {
            if token.grant_id == grant_id && token.revoked_at.is_none() {
                token.revoked_at = Some(now);
                revoked += 1;
            }
        }
        let lines = [
            (TokenEvent::ReuseDetected.action(), reused.detail()),
            (
                TokenEvent::FamilyRevoked.action(),
                reused.family_detail(revoked),
            ),
        ];
        rows.events.extend(lines);
        Ok(revoked)
    }
    async fn revoke_token(&self, _: i64, _: i64, _: Revoker) -> Result<u64, StoreError> {
        unimplemented!("MemStore::revoke_token")
    }
    async fn revoke_code(&self, _: i64) -> Result<u64, StoreError> {
        unimplemented!("MemStore::revoke_code")
    }
    async fn revoke_user_tokens(&self, _: i64, _: i64) -> Result<u64, StoreError> {
        unimplemented!("MemStore::revoke_user_tokens")
    }
    async fn revoke_client_tokens(&self, _: i64, _: i64) -> Result<u64, StoreError> {
        unimplemented!("MemStore::revoke_client_tokens")
    }
    async fn list_codes(&self, _: &ListQuery) -> Result<Page<CodeSummary>, StoreError> {
        unimplemented!("MemStore::list_codes")
    }
    async fn list_tokens(&self, _: &ListQuery) -> Result<Page<TokenSummary>, StoreError> {
        unimplemented!("MemStore::list_tokens")
    }
    async fn clear_expired(&self, _: i64, _: i64, _: i64, _: i64) -> Result<Cleared, StoreError> {
        unimplemented!("MemStore::clear_expired")
    }
}

#[async_trait]
impl SessionStore for MemStore {
    async fn create_session(
        &self,
        _: &str,
        _: Option<i64>,
        _: &str,
        _: i64,
    ) -> Result<Session, StoreError> {
        unimplemented!("MemStore::create_session")
    }
    async fn session_by_hash(&self, _: &str, _: i64) -> Result<Option<Session>, StoreError> {
        unimplemented!("MemStore::session_by_hash")
    }
    async fn delete_session(&self, _: &str) -> Result<(), StoreError> {
        unimplemented!("MemStore::delete_session")
    }
    async fn create_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError> {
        self.rows()
            .pending
            .push((nonce_hash.to_owned(), session_id, pending));
        Ok(())
    }
    async fn take_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut rows = self.rows();
        let at = rows
            .pending
            .iter()
            .position(|(h, s, _)| h == nonce_hash && *s == session_id);
        Ok(at
            .map(|i| rows.pending.remove(i).2)
            .filter(|p| p.expires_at > now))
    }
}

#[async_trait]
impl ConsentStore for MemStore {
    async fn record_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scope: &ScopeSet,
        _: i64,
    ) -> Result<(), StoreError> {
        let mut rows = self.rows();
        match rows
            .consents
            .iter_mut()
            .find(|(u, c, _)| (*u, *c) == (user_id, client_id))
        {
            Some((_, _, granted)) => *granted = granted.union(scope),
            None => rows.consents.push((user_id, client_id, scope.clone())),
        }
        Ok(())
    }
    async fn granted_scope(
        &self,
        user_id: i64,
        client_id: i64,
    ) -> Result<Option<ScopeSet>, StoreError> {
        let rows = self.rows();
        let found = rows
            .consents
            .iter()
            .find(|(u, c, _)| (*u, *c) == (user_id, client_id));
        Ok(found.map(|(_, _, granted)| granted.clone()))
    }
    async fn consents_of_user(&self, _: i64) -> Result<Vec<ConsentSummary>, StoreError> {
        unimplemented!("MemStore::consents_of_user")
    }
    async fn list_consents(&self, _: &ListQuery) -> Result<Page<ConsentSummary>, StoreError> {
        unimplemented!("MemStore::list_consents")
    }
    async fn withdraw_consent(&self, _: i64, _: i64) -> Result<u64, StoreError> {
        unimplemented!("MemStore::withdraw_consent")
    }
}

/// A confidential, approved client with every grant, one redirect URI and scopes `a b`.
pub fn client(id: i64) -> Client {
    Client {
        id,
        client_id: format!("client-{id}"),
        secret_hash: None,
        name: format!("App {id}"),
        client_type: super::model::ClientType::Confidential,
        grant_types: super::model::GrantType::ALL.to_vec(),
        redirect_uris: vec!["https://app.example/cb?keep=1".into()],
        post_logout_redirect_uris: Vec::new(),
        tokens: super::model::TokenOptions::default(),
        scopes: ScopeSet::from_iter(["a", "b"]),
        approval: super::model::Approval::Approved,
        code_lifetime: None,
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        permissions: super::model::ClientPermissions::default(),
    }
}

/// An active, ordinary user.
pub fn user(id: i64) -> User {
    User {
        id,
        username: format!("user{id}"),
        email: String::new(),
        password_hash: String::new(),
        is_superuser: false,
        is_active: true,
    }
}

/// Request parameters from literal pairs.
pub fn params(pairs: &[(&str, &str)]) -> super::params::Params {
    let owned = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    super::params::Params::from_pairs(owned).unwrap_or_default()
}
