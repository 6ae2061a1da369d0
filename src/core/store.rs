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

/// Users and the credential attempts counted against them.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user; `Conflict` when the username is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Looks a user up by login name.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Looks a user up by storage key.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    /// Users whose username or email contains the search text, by username.
    async fn list_users(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<User>, StoreError>;
    /// Sets a user's active and superuser flags.
    async fn set_user_flags(
        &self,
        user_id: i64,
        is_active: bool,
        is_superuser: bool,
    ) -> Result<(), StoreError>;
    /// Replaces a user's password hash and ends their sessions.
    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError>;
    /// Records a credential attempt (a password at `/login` or the password grant, or a failed
    /// client authentication), then counts the attempts of its kind since `since` for its
    /// subject (username or client_id) and for its address, itself included. Password attempts
    /// are recorded *before* the check, so concurrent guesses cannot all slip under the limit;
    /// the caller forgets the attempt again (`end_attempt`) when it succeeds or is refused
    /// unchecked.
    async fn begin_attempt(
        &self,
        kind: super::throttle::AttemptKind,
        subject: &str,
        client_ip: &str,
        now: i64,
        since: i64,
    ) -> Result<LoginAttempt, StoreError>;
    /// Counts the attempts of a kind since `since` for a subject and for an address, without
    /// recording one.
    async fn count_attempts(
        &self,
        kind: super::throttle::AttemptKind,
        subject: &str,
        client_ip: &str,
        since: i64,
    ) -> Result<AttemptCounts, StoreError>;
    /// Forgets an attempt, so it no longer counts against the limits.
    async fn end_attempt(&self, attempt_id: i64) -> Result<(), StoreError>;
}

/// Registered clients: lookup, the admin list, and the fields an admin or owner edits.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Creates a client; `Conflict` when the client_id is taken.
    async fn create_client(&self, client: NewClient) -> Result<Client, StoreError>;
    /// Looks a client up by its public `client_id`.
    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Looks a client up by storage key.
    async fn client_by_id(&self, id: i64) -> Result<Option<Client>, StoreError>;
    /// Clients whose name or public id contains the search text, newest first.
    async fn list_clients(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<Client>, StoreError>;
    /// Clients a user owns or is a team member of, newest first.
    async fn clients_of_user(&self, user_id: i64) -> Result<Vec<Client>, StoreError>;
    /// The user who registered a client, if any.
    async fn client_owner(&self, client_id: i64) -> Result<Option<i64>, StoreError>;
    /// Writes a client's editable fields (name, type, grants, redirect URIs, scopes, lifetimes,
    /// permissions), which only the client rules make.
    async fn update_client(
        &self,
        id: i64,
        settings: &super::client_rules::ValidClient,
    ) -> Result<(), StoreError>;
    /// Sets a client's approval state.
    async fn set_approval(
        &self,
        client_id: i64,
        approval: &super::model::Approval,
    ) -> Result<(), StoreError>;
    /// Replaces a client's secret hash (regeneration; `None` for a public client).
    async fn set_client_secret(
        &self,
        client_id: i64,
        secret_hash: Option<String>,
    ) -> Result<(), StoreError>;
    /// Deletes a client with its codes, tokens, consents, profile and members.
    async fn delete_client(&self, client_id: i64) -> Result<(), StoreError>;
}

/// The scope registry.
#[async_trait]
pub trait ScopeStore: Send + Sync {
    /// All registered scopes, by name.
    async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError>;
    /// Creates a scope; `Conflict` when the name is taken.
    async fn create_scope(
        &self,
        name: &str,
        description: &str,
        from_code: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Creates a scope (not from code) or rewrites the description of an existing one.
    async fn save_scope(&self, name: &str, description: &str) -> Result<(), StoreError>;
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

/// What a grant issues: authorization codes and tokens, their single-use redemption and rotation,
/// their revocation, and the expiry sweep.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new authorization code.
    async fn create_code(&self, code: NewCode) -> Result<(), StoreError>;
    /// Looks a code up by hash, used or not.
    async fn code_by_hash(&self, code_hash: &str) -> Result<Option<AuthCode>, StoreError>;
    /// Marks the code used and stores the tokens it buys with their `token.issued` audit line,
    /// atomically: exactly one caller wins.
    async fn redeem_code(
        &self,
        code_id: i64,
        now: i64,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<Redeemed, StoreError>;
    /// Stores freshly issued tokens, and their `token.issued` audit line naming `grant`, in one
    /// transaction; the access token is linked to the refresh token.
    async fn issue_tokens(
        &self,
        access: NewToken,
        refresh: Option<NewToken>,
        grant: super::model::GrantType,
    ) -> Result<(), StoreError>;
    /// Looks a token up by hash, in any state.
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<Token>, StoreError>;
    /// Rotates a refresh token: marks it used, revokes the access token issued beside it, and
    /// stores the new pair with its `token.refreshed` audit line, atomically. Exactly one caller
    /// wins.
    async fn rotate_refresh(
        &self,
        refresh_id: i64,
        now: i64,
        access: NewToken,
        refresh: NewToken,
    ) -> Result<Redeemed, StoreError>;
    /// Re-spends a refresh token within the grace window: when it was spent at or after `since`,
    /// is not revoked, was re-spent fewer than `max_reuses` times, and no token rotated from it
    /// has been spent since (it is the immediately previous one), counts the re-spend and stores
    /// a sibling pair with its `token.refreshed` audit line, atomically. Otherwise stores nothing
    /// and answers `AlreadyUsed`.
    async fn respend_refresh(
        &self,
        refresh_id: i64,
        since: i64,
        max_reuses: i64,
        access: NewToken,
        refresh: NewToken,
    ) -> Result<Redeemed, StoreError>;
    /// Revokes every token of a family after `reused` came back (a replayed code or refresh
    /// token), and writes the `token.reuse_detected` and `token.family_revoked` audit lines.
    /// Returns the count.
    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        reused: super::lifecycle::Reused,
    ) -> Result<u64, StoreError>;
    /// Revokes a token (RFC 7009, or the admin) and writes the audit line in `by`'s name. An
    /// access token alone is revoked (`token.revoked`); a refresh token takes its whole grant
    /// with it (every refresh and access token of the family, `token.family_revoked`),
    /// including tokens a concurrent rotation is issuing at that moment. Returns how many tokens
    /// it revoked.
    async fn revoke_token(
        &self,
        token_id: i64,
        now: i64,
        by: super::lifecycle::Revoker,
    ) -> Result<u64, StoreError>;
    /// Deletes one authorization code, so it can no longer be redeemed.
    async fn revoke_code(&self, code_id: i64) -> Result<u64, StoreError>;
    /// Revokes every live token and deletes every unredeemed code of a user.
    async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64, StoreError>;
    /// Revokes every live token and deletes every unredeemed code of a client.
    async fn revoke_client_tokens(&self, client_id: i64, now: i64) -> Result<u64, StoreError>;
    /// Authorization codes whose user or client matches the search, newest first.
    async fn list_codes(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<super::portal::CodeSummary>, StoreError>;
    /// Tokens whose user or client matches the search, newest first.
    async fn list_tokens(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<super::portal::TokenSummary>, StoreError>;
    /// Records that an ID token from the authorization endpoint answered the nonce hashed as
    /// `nonce_hash` for the client `client_id`, kept until `expires_at`; `false` when it had
    /// answered it before (a replay, OpenID Connect Core §15.5.2). One statement, so two
    /// instances answering the same nonce at once cannot both get `true`.
    async fn claim_nonce(
        &self,
        client_id: i64,
        nonce_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes at most `batch` expired codes, `batch` expired tokens, `batch` login attempts
    /// older than `attempts_before`, `batch` expired consent requests and browser sessions, and
    /// `batch` token-lifecycle audit lines (`token.*`) older than `events_before`, and `batch`
    /// spent nonces past their expiry; the lines of people's actions stay. Safe to run from many
    /// instances at once.
    async fn clear_expired(
        &self,
        now: i64,
        attempts_before: i64,
        events_before: i64,
        batch: i64,
    ) -> Result<Cleared, StoreError>;
}

/// Browser sessions and the authorization requests waiting in them for consent.
#[async_trait]
pub trait SessionStore: Send + Sync {
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
}

/// What users granted which clients.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records that a user granted a client a scope. The consent on record becomes the union of
    /// what was granted before and `scope`, so asking only about new scopes never forgets old
    /// ones, and two concurrent approvals both count.
    async fn record_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scope: &ScopeSet,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Consents whose user or client matches the search, newest first.
    async fn list_consents(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<super::portal::ConsentSummary>, StoreError>;
    /// The scope a user has granted a client, if any consent is on record.
    async fn granted_scope(
        &self,
        user_id: i64,
        client_id: i64,
    ) -> Result<Option<ScopeSet>, StoreError>;
    /// Every consent a user gave, newest first (`/account/apps`).
    async fn consents_of_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<super::portal::ConsentSummary>, StoreError>;
    /// Withdraws a consent and revokes the tokens it backed (same user and client).
    async fn withdraw_consent(&self, consent_id: i64, now: i64) -> Result<u64, StoreError>;
}

/// The developer portal and admin records: client profiles and teams, app registration, the
/// audit log, and single-use form submissions.
#[async_trait]
pub trait PortalStore: Send + Sync {
    /// A client's portal profile, if one was written.
    async fn client_profile(
        &self,
        client_id: i64,
    ) -> Result<Option<super::portal::ClientProfile>, StoreError>;
    /// Creates or replaces a client's portal profile.
    async fn save_client_profile(
        &self,
        profile: super::portal::ClientProfile,
    ) -> Result<(), StoreError>;
    /// Creates a client and its profile in one transaction (developer portal registration).
    async fn register_app(
        &self,
        client: NewClient,
        profile: super::portal::ClientProfile,
    ) -> Result<Client, StoreError>;
    /// The team members of a client, by username.
    async fn client_members(
        &self,
        client_id: i64,
    ) -> Result<Vec<super::portal::Member>, StoreError>;
    /// Adds a team member; `Conflict` when already one.
    async fn add_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError>;
    /// Removes a team member.
    async fn remove_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError>;
    /// Appends a line to the audit log.
    async fn audit(&self, entry: super::portal::NewAuditEntry, now: i64) -> Result<(), StoreError>;
    /// Audit lines whose actor, action, target or detail matches the search, newest first.
    async fn list_audit(
        &self,
        q: &super::portal::ListQuery,
    ) -> Result<super::portal::Page<super::portal::AuditEntry>, StoreError>;
    /// The latest `limit` lines people wrote (admin and portal actions, which name their
    /// actor's storage key), newest first: the token-lifecycle lines the store writes are left
    /// out, except an admin's own revocations.
    async fn recent_actions(
        &self,
        limit: i64,
    ) -> Result<Vec<super::portal::AuditEntry>, StoreError>;
    /// Counts the live tokens and signed-in sessions at `now`.
    async fn live_counts(&self, now: i64) -> Result<super::portal::LiveCounts, StoreError>;
    /// Claims a single-use form nonce (by hash): the first claim wins, every later one is told
    /// what the first recorded.
    async fn claim_submission(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<super::portal::Submission, StoreError>;
    /// Records what a claimed submission produced, for repeats to find.
    async fn finish_submission(&self, nonce_hash: &str, result: &str) -> Result<(), StoreError>;
}

/// ID-token signing keys ([`crate::core::oidc::keys`]); the private halves arrive sealed.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every stored key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<super::oidc::keys::StoredKey>, StoreError>;
    /// Stores new keys (one per algorithm) and sets `publish_until` on every key that had none:
    /// the keys they replace stay published until then. One transaction, so a key is never
    /// left unretired.
    async fn rotate_signing_keys(
        &self,
        keys: Vec<super::oidc::keys::StoredKey>,
        retire_at: i64,
    ) -> Result<(), StoreError>;
    /// Stores each of `keys` whose algorithm has no unretired key yet, and skips the rest:
    /// instances that start together each try, and one key per algorithm is kept (a unique
    /// index on the unretired keys' `alg`).
    async fn add_signing_keys(
        &self,
        keys: Vec<super::oidc::keys::StoredKey>,
    ) -> Result<(), StoreError>;
    /// Deletes the keys whose `publish_until` has passed; how many.
    async fn prune_signing_keys(&self, now: i64) -> Result<u64, StoreError>;
}

/// Every read and write the protocol and the web layer need: all the per-aggregate stores, and
/// the schema check. On a `dyn Store` their methods resolve as they are; on a concrete store
/// (`DbStore`) or a generic one, import [`prelude`].
#[async_trait]
pub trait Store:
    AccountStore
    + ClientStore
    + ScopeStore
    + GrantStore
    + SessionStore
    + ConsentStore
    + PortalStore
    + KeyStore
    + Send
    + Sync
    + 'static
{
    /// How many of this build's migrations the database still lacks (0 when current). It takes
    /// a connection and a query, so it also proves the database answers: readiness asks it.
    async fn pending_migrations(&self) -> Result<usize, StoreError>;
}

/// Every store trait, to bring their methods into scope: `use crate::core::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        AccountStore, ClientStore, ConsentStore, GrantStore, KeyStore, PortalStore, ScopeStore,
        SessionStore, Store,
    };
}

/// A recorded credential attempt and the counts it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempt {
    /// Its storage key, for `end_attempt`.
    pub id: i64,
    /// Attempts of its kind for its subject (username or client_id) within the window, this
    /// one included.
    pub by_user: i64,
    /// Attempts of its kind from this address within the window, this one included.
    pub by_ip: i64,
}

/// Attempts of one kind within a window, for a subject and for an address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    /// For the subject (username or client_id).
    pub by_user: i64,
    /// From the address.
    pub by_ip: i64,
}

/// What one `clear_expired` batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    /// Authorization codes.
    pub codes: u64,
    /// Access and refresh tokens.
    pub tokens: u64,
    /// Login attempts.
    pub attempts: u64,
    /// Expired browser sessions and unanswered consent requests.
    pub sessions: u64,
    /// Token-lifecycle audit lines past their retention.
    pub events: u64,
    /// Spent implicit and hybrid sign-in nonces whose ID tokens have expired.
    pub nonces: u64,
}
