//! The storage contract the protocol needs. `crate::store` implements it with diesel.

use async_trait::async_trait;

use super::model::{
    AuthCode, Client, NewClient, NewCode, NewToken, NewUser, PendingAuthorization, Scope, Session,
    Token, User,
};
use super::scope::ScopeSet;

/// A storage failure. The protocol maps it to `server_error` and logs the detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique key is already taken (username, client_id, scope name).
    #[error("{0} already exists")]
    Conflict(String),
    /// No connection could be had from the pool.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value could not be read back (corrupt row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// What a single-use redemption found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// This call used it; what it issued is stored.
    Won,
    /// It had been used already (a replay or a lost race); nothing was issued.
    AlreadyUsed,
}

/// Every read and write the protocol and the web layer need.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a user; `Conflict` when the username is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Looks a user up by login name.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Looks a user up by storage key.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// Creates a client; `Conflict` when the client_id is taken.
    async fn create_client(&self, client: NewClient) -> Result<Client, StoreError>;
    /// Looks a client up by its public `client_id`.
    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Looks a client up by storage key.
    async fn client_by_id(&self, id: i64) -> Result<Option<Client>, StoreError>;

    /// All registered scopes, by name.
    async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError>;

    /// Stores a new authorization code.
    async fn create_code(&self, code: NewCode) -> Result<(), StoreError>;
    /// Looks a code up by hash, used or not.
    async fn code_by_hash(&self, code_hash: &str) -> Result<Option<AuthCode>, StoreError>;
    /// Marks the code used and stores the tokens it buys, atomically: exactly one caller wins.
    async fn redeem_code(
        &self,
        code_id: i64,
        now: i64,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<Redeemed, StoreError>;

    /// Stores freshly issued tokens; the access token is linked to the refresh token.
    async fn issue_tokens(
        &self,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<(), StoreError>;
    /// Looks a token up by hash, in any state.
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<Token>, StoreError>;
    /// Rotates a refresh token: marks it used, revokes the access token issued beside it, and
    /// stores the new pair, atomically. Exactly one caller wins.
    async fn rotate_refresh(
        &self,
        refresh_id: i64,
        now: i64,
        access: NewToken,
        refresh: NewToken,
    ) -> Result<Redeemed, StoreError>;
    /// Revokes every token of a family (a replayed code or refresh token). Returns the count.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<u64, StoreError>;

    /// Stores a session under the hash of its cookie value.
    async fn create_session(
        &self,
        session_hash: &str,
        user_id: Option<i64>,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<Session, StoreError>;
    /// Finds an unexpired session.
    async fn session_by_hash(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError>;
    /// Deletes a session (logout, rotation).
    async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError>;

    /// Stores an authorization request waiting for consent, under the hash of its nonce.
    async fn create_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError>;
    /// Takes (reads and deletes) a pending request of this session: a second call finds nothing.
    async fn take_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;

    /// Records that a user granted a client a scope (kept for the admin and for withdrawal).
    async fn record_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scope: &ScopeSet,
        now: i64,
    ) -> Result<(), StoreError>;

    // Issue 3: scopes and guard
    /// Creates a scope; `Conflict` when the name is taken.
    async fn create_scope(
        &self,
        name: &str,
        description: &str,
        from_code: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Changes a scope's description; `false` when there is no such scope.
    async fn update_scope_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes a scope that `syncscopes` created (`from_code`); a scope made by hand is never
    /// deleted here. `true` when one was deleted.
    async fn delete_code_scope(&self, name: &str) -> Result<bool, StoreError>;
}
