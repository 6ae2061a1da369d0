//! The `Store` implementation. Single-use rules are enforced by conditional `UPDATE`s whose row
//! count decides the winner, so they hold across many processes sharing one database.

use async_trait::async_trait;
use diesel::prelude::*;

use super::models::{
    ClientRow, CodeRow, PendingRow, ScopeRow, SessionRow, TokenRow, UserRow, approval_columns,
    grant_types_column, pkce_columns,
};
use super::revocation::{Owner, revoke_all};
use super::schema::login_attempts;
use super::schema::{
    auth_codes, clients, consents, pending_authorizations, scopes, sessions, tokens, users,
};
use super::{AnyConnection, DbStore, admin};
use crate::core::model::{Approval, TokenKind};
use crate::core::model::{
    AuthCode, Client, NewClient, NewCode, NewToken, NewUser, PendingAuthorization, Scope, Session,
    Token, User,
};
use crate::core::portal::{
    AuditEntry, ClientProfile, CodeSummary, ConsentSummary, ListQuery, Member, NewAuditEntry, Page,
    Submission, TokenSummary,
};
use crate::core::scope::ScopeSet;
use crate::core::store::{AttemptCounts, Cleared, LoginAttempt};
use crate::core::store::{Redeemed, Store, StoreError};
use crate::core::throttle::AttemptKind;

/// Inserts a token; `refresh_id` links an access token to the refresh token issued beside it,
/// `parent_id` a refresh token to the one it was rotated from.
fn insert_token(
    conn: &mut AnyConnection,
    t: &NewToken,
    refresh_id: Option<i64>,
    parent_id: Option<i64>,
) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(tokens::table)
        .values((
            tokens::token_hash.eq(&t.token_hash),
            tokens::kind.eq(t.kind.as_str()),
            tokens::client_id.eq(t.client_id),
            tokens::user_id.eq(t.user_id),
            tokens::scope.eq(t.scope.to_string()),
            tokens::grant_id.eq(&t.grant_id),
            tokens::refresh_id.eq(refresh_id),
            tokens::parent_id.eq(parent_id),
            tokens::expires_at.eq(t.expires_at),
            tokens::created_at.eq(t.created_at),
        ))
        .returning(tokens::id)
        .get_result(conn)?)
}

/// Inserts an access token and, when given, the refresh token beside it (rotated from
/// `parent_id`).
fn insert_pair(
    conn: &mut AnyConnection,
    access: &NewToken,
    refresh: Option<&NewToken>,
    parent_id: Option<i64>,
) -> Result<(), StoreError> {
    let refresh_id = refresh
        .map(|r| insert_token(conn, r, None, parent_id))
        .transpose()?;
    insert_token(conn, access, refresh_id, None)?;
    Ok(())
}

/// Revokes every token of a family, including tokens a concurrent rotation is inserting.
fn revoke_family(conn: &mut AnyConnection, grant_id: &str, now: i64) -> Result<u64, StoreError> {
    revoke_all(conn, &Owner::Family(grant_id.to_owned()), now)
}

/// Attempts of `kind` after `since`, for `subject` and from `client_ip`.
fn count_attempts(
    conn: &mut AnyConnection,
    kind: AttemptKind,
    subject: &str,
    client_ip: &str,
    since: i64,
) -> Result<AttemptCounts, StoreError> {
    let by_user: i64 = login_attempts::table
        .filter(login_attempts::kind.eq(kind.as_str()))
        .filter(login_attempts::username.eq(subject))
        .filter(login_attempts::created_at.gt(since))
        .count()
        .get_result(conn)?;
    let by_ip: i64 = login_attempts::table
        .filter(login_attempts::kind.eq(kind.as_str()))
        .filter(login_attempts::client_ip.eq(client_ip))
        .filter(login_attempts::created_at.gt(since))
        .count()
        .get_result(conn)?;
    Ok(AttemptCounts { by_user, by_ip })
}

#[async_trait]
impl Store for DbStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.run(move |conn| {
            let id: i64 = diesel::insert_into(users::table)
                .values((
                    users::username.eq(&user.username),
                    users::email.eq(&user.email),
                    users::password_hash.eq(&user.password_hash),
                    users::is_superuser.eq(user.is_superuser),
                    users::is_active.eq(true),
                    users::created_at.eq(crate::core::now()),
                ))
                .returning(users::id)
                .get_result(conn)
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("user {:?}", user.username))
                    }
                    other => other,
                })?;
            Ok(User {
                id,
                username: user.username,
                email: user.email,
                password_hash: user.password_hash,
                is_superuser: user.is_superuser,
                is_active: true,
            })
        })
        .await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let username = username.to_owned();
        self.run(move |conn| {
            Ok(users::table
                .filter(users::username.eq(username))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?
                .map(User::from))
        })
        .await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.run(move |conn| {
            Ok(users::table
                .find(id)
                .select(UserRow::as_select())
                .first(conn)
                .optional()?
                .map(User::from))
        })
        .await
    }

    async fn create_client(&self, client: NewClient) -> Result<Client, StoreError> {
        let client_id = client.client_id.clone();
        self.run(move |conn| {
            let (approval, reason) = approval_columns(&client.approval);
            let id: i64 = diesel::insert_into(clients::table)
                .values((
                    clients::client_id.eq(&client.client_id),
                    clients::secret_hash.eq(&client.secret_hash),
                    clients::name.eq(&client.name),
                    clients::client_type.eq(client.client_type.as_str()),
                    clients::grant_types.eq(grant_types_column(&client.grant_types)),
                    clients::redirect_uris.eq(client.redirect_uris.join(" ")),
                    clients::scopes.eq(client.scopes.to_string()),
                    clients::approval.eq(approval),
                    clients::rejection_reason.eq(reason),
                    clients::code_lifetime.eq(client.code_lifetime),
                    clients::access_token_lifetime.eq(client.access_token_lifetime),
                    clients::refresh_token_lifetime.eq(client.refresh_token_lifetime),
                    clients::owner_id.eq(client.owner_id),
                    clients::created_at.eq(crate::core::now()),
                    clients::resource_server.eq(client.permissions.resource_server),
                    clients::allow_public_without_pkce
                        .eq(client.permissions.allow_public_without_pkce),
                ))
                .returning(clients::id)
                .get_result(conn)
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("client {:?}", client.client_id))
                    }
                    other => other,
                })?;
            Ok(Client {
                id,
                client_id: client.client_id,
                secret_hash: client.secret_hash,
                name: client.name,
                client_type: client.client_type,
                grant_types: client.grant_types,
                redirect_uris: client.redirect_uris,
                scopes: client.scopes,
                approval: client.approval,
                code_lifetime: client.code_lifetime,
                access_token_lifetime: client.access_token_lifetime,
                refresh_token_lifetime: client.refresh_token_lifetime,
                permissions: client.permissions,
            })
        })
        .await
        .inspect(|_| tracing::debug!(client = ?client_id, "client created"))
    }

    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let client_id = client_id.to_owned();
        self.run(move |conn| {
            clients::table
                .filter(clients::client_id.eq(client_id))
                .select(ClientRow::as_select())
                .first(conn)
                .optional()?
                .map(Client::try_from)
                .transpose()
        })
        .await
    }

    async fn client_by_id(&self, id: i64) -> Result<Option<Client>, StoreError> {
        self.run(move |conn| {
            clients::table
                .find(id)
                .select(ClientRow::as_select())
                .first(conn)
                .optional()?
                .map(Client::try_from)
                .transpose()
        })
        .await
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError> {
        self.run(|conn| {
            Ok(scopes::table
                .order(scopes::name)
                .select(ScopeRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Scope::from)
                .collect())
        })
        .await
    }

    async fn create_code(&self, code: NewCode) -> Result<(), StoreError> {
        self.run(move |conn| {
            let (challenge, method) = pkce_columns(&code.pkce);
            diesel::insert_into(auth_codes::table)
                .values((
                    auth_codes::code_hash.eq(&code.code_hash),
                    auth_codes::client_id.eq(code.client_id),
                    auth_codes::user_id.eq(code.user_id),
                    auth_codes::redirect_uri.eq(&code.redirect_uri),
                    auth_codes::redirect_uri_given.eq(code.redirect_uri_given),
                    auth_codes::scope.eq(code.scope.to_string()),
                    auth_codes::code_challenge.eq(challenge),
                    auth_codes::code_challenge_method.eq(method),
                    auth_codes::grant_id.eq(&code.grant_id),
                    auth_codes::expires_at.eq(code.expires_at),
                    auth_codes::created_at.eq(crate::core::now()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn code_by_hash(&self, code_hash: &str) -> Result<Option<AuthCode>, StoreError> {
        let code_hash = code_hash.to_owned();
        self.run(move |conn| {
            auth_codes::table
                .filter(auth_codes::code_hash.eq(code_hash))
                .select(CodeRow::as_select())
                .first(conn)
                .optional()?
                .map(AuthCode::try_from)
                .transpose()
        })
        .await
    }

    async fn redeem_code(
        &self,
        code_id: i64,
        now: i64,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<Redeemed, StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| {
                // The claim comes first, so SQLite takes its write lock before any read.
                let claimed = diesel::update(
                    auth_codes::table
                        .find(code_id)
                        .filter(auth_codes::used_at.is_null()),
                )
                .set(auth_codes::used_at.eq(now))
                .execute(conn)?;
                if claimed == 0 {
                    return Ok(Redeemed::AlreadyUsed);
                }
                insert_pair(conn, &access, refresh.as_ref(), None)?;
                Ok(Redeemed::Won)
            })
        })
        .await
    }

    async fn issue_tokens(
        &self,
        access: NewToken,
        refresh: Option<NewToken>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| insert_pair(conn, &access, refresh.as_ref(), None))
        })
        .await
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<Token>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |conn| {
            tokens::table
                .filter(tokens::token_hash.eq(token_hash))
                .select(TokenRow::as_select())
                .first(conn)
                .optional()?
                .map(Token::try_from)
                .transpose()
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        refresh_id: i64,
        now: i64,
        access: NewToken,
        refresh: NewToken,
    ) -> Result<Redeemed, StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| {
                let claimed = diesel::update(
                    tokens::table
                        .find(refresh_id)
                        .filter(tokens::used_at.is_null())
                        .filter(tokens::revoked_at.is_null()),
                )
                .set(tokens::used_at.eq(now))
                .execute(conn)?;
                if claimed == 0 {
                    return Ok(Redeemed::AlreadyUsed);
                }
                // The access token issued beside the old refresh token ends with it.
                diesel::update(
                    tokens::table
                        .filter(tokens::refresh_id.eq(refresh_id))
                        .filter(tokens::revoked_at.is_null()),
                )
                .set(tokens::revoked_at.eq(now))
                .execute(conn)?;
                insert_pair(conn, &access, Some(&refresh), Some(refresh_id))?;
                Ok(Redeemed::Won)
            })
        })
        .await
    }

    async fn respend_refresh(
        &self,
        refresh_id: i64,
        since: i64,
        max_reuses: i64,
        access: NewToken,
        refresh: NewToken,
    ) -> Result<Redeemed, StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| {
                // The count comes first, so SQLite takes its write lock before any read; its
                // conditions make the window and the cap one atomic step on both backends.
                let claimed = diesel::update(
                    tokens::table
                        .find(refresh_id)
                        .filter(tokens::revoked_at.is_null())
                        .filter(tokens::used_at.ge(since))
                        .filter(tokens::reuse_count.lt(max_reuses)),
                )
                .set(tokens::reuse_count.eq(tokens::reuse_count + 1))
                .execute(conn)?;
                // Only the immediately previous token is forgiven: once a token rotated from it
                // was spent, a re-spend is theft (and the family is revoked, count and all).
                let later_spent: i64 = tokens::table
                    .filter(tokens::parent_id.eq(refresh_id))
                    .filter(tokens::used_at.is_not_null())
                    .count()
                    .get_result(conn)?;
                if claimed == 0 || later_spent > 0 {
                    return Ok(Redeemed::AlreadyUsed);
                }
                insert_pair(conn, &access, Some(&refresh), Some(refresh_id))?;
                Ok(Redeemed::Won)
            })
        })
        .await
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<u64, StoreError> {
        let grant_id = grant_id.to_owned();
        self.run(move |conn| revoke_family(conn, &grant_id, now))
            .await
    }

    async fn create_session(
        &self,
        session_hash: &str,
        user_id: Option<i64>,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<Session, StoreError> {
        let session_hash = session_hash.to_owned();
        let csrf_token = csrf_token.to_owned();
        self.run(move |conn| {
            let id: i64 = diesel::insert_into(sessions::table)
                .values((
                    sessions::session_hash.eq(&session_hash),
                    sessions::user_id.eq(user_id),
                    sessions::csrf_token.eq(&csrf_token),
                    sessions::expires_at.eq(expires_at),
                    sessions::created_at.eq(crate::core::now()),
                ))
                .returning(sessions::id)
                .get_result(conn)?;
            Ok(Session {
                id,
                user_id,
                csrf_token,
                expires_at,
            })
        })
        .await
    }

    async fn session_by_hash(
        &self,
        session_hash: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        let session_hash = session_hash.to_owned();
        self.run(move |conn| {
            Ok(sessions::table
                .filter(sessions::session_hash.eq(session_hash))
                .filter(sessions::expires_at.gt(now))
                .select(SessionRow::as_select())
                .first(conn)
                .optional()?
                .map(Session::from))
        })
        .await
    }

    async fn delete_session(&self, session_hash: &str) -> Result<(), StoreError> {
        let session_hash = session_hash.to_owned();
        self.run(move |conn| {
            diesel::delete(sessions::table.filter(sessions::session_hash.eq(session_hash)))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn create_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        p: PendingAuthorization,
    ) -> Result<(), StoreError> {
        let nonce_hash = nonce_hash.to_owned();
        self.run(move |conn| {
            let (challenge, method) = pkce_columns(&p.pkce);
            diesel::insert_into(pending_authorizations::table)
                .values((
                    pending_authorizations::nonce_hash.eq(&nonce_hash),
                    pending_authorizations::session_id.eq(session_id),
                    pending_authorizations::client_id.eq(p.client_id),
                    pending_authorizations::user_id.eq(p.user_id),
                    pending_authorizations::redirect_uri.eq(&p.redirect_uri),
                    pending_authorizations::redirect_uri_given.eq(p.redirect_uri_given),
                    pending_authorizations::scope.eq(p.scope.to_string()),
                    pending_authorizations::state.eq(&p.state),
                    pending_authorizations::code_challenge.eq(challenge),
                    pending_authorizations::code_challenge_method.eq(method),
                    pending_authorizations::response_type.eq(&p.response_type),
                    pending_authorizations::expires_at.eq(p.expires_at),
                    pending_authorizations::created_at.eq(crate::core::now()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn take_pending(
        &self,
        nonce_hash: &str,
        session_id: i64,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let nonce_hash = nonce_hash.to_owned();
        self.run(move |conn| {
            let found: Option<(i64, PendingRow)> = pending_authorizations::table
                .filter(pending_authorizations::nonce_hash.eq(&nonce_hash))
                .filter(pending_authorizations::session_id.eq(session_id))
                .select((pending_authorizations::id, PendingRow::as_select()))
                .first(conn)
                .optional()?;
            let Some((id, row)) = found else {
                return Ok(None);
            };
            // Whoever deletes the row owns it: a replayed or concurrent submit finds nothing.
            let deleted = diesel::delete(pending_authorizations::table.find(id)).execute(conn)?;
            if deleted == 0 {
                return Ok(None);
            }
            let pending = PendingAuthorization::try_from(row)?;
            Ok((pending.expires_at > now).then_some(pending))
        })
        .await
    }

    async fn record_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scope: &ScopeSet,
        now: i64,
    ) -> Result<(), StoreError> {
        let scope = scope.to_string();
        self.run(move |conn| {
            let update = |conn: &mut AnyConnection| {
                diesel::update(
                    consents::table
                        .filter(consents::user_id.eq(user_id))
                        .filter(consents::client_id.eq(client_id)),
                )
                .set((consents::scope.eq(&scope), consents::updated_at.eq(now)))
                .execute(conn)
            };
            if update(conn)? > 0 {
                return Ok(());
            }
            let inserted = diesel::insert_into(consents::table)
                .values((
                    consents::user_id.eq(user_id),
                    consents::client_id.eq(client_id),
                    consents::scope.eq(&scope),
                    consents::created_at.eq(now),
                    consents::updated_at.eq(now),
                ))
                .execute(conn);
            match inserted.map_err(StoreError::from) {
                Ok(_) => Ok(()),
                // Another request inserted it in between: update that row instead.
                Err(StoreError::Conflict(_)) => update(conn).map(|_| ()).map_err(Into::into),
                Err(e) => Err(e),
            }
        })
        .await
    }

    // Issue 5: admin and developer portal
    async fn list_clients(&self, q: &ListQuery) -> Result<Page<Client>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_clients(c, &q)).await
    }

    async fn clients_of_user(&self, user_id: i64) -> Result<Vec<Client>, StoreError> {
        self.run(move |c| admin::clients_of_user(c, user_id)).await
    }

    async fn client_owner(&self, client_id: i64) -> Result<Option<i64>, StoreError> {
        self.run(move |c| admin::client_owner(c, client_id)).await
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let client = client.clone();
        self.run(move |c| admin::update_client(c, &client)).await
    }

    async fn set_approval(&self, client_id: i64, approval: &Approval) -> Result<(), StoreError> {
        let approval = approval.clone();
        self.run(move |c| admin::set_approval(c, client_id, &approval))
            .await
    }

    async fn set_client_secret(
        &self,
        client_id: i64,
        secret_hash: Option<String>,
    ) -> Result<(), StoreError> {
        self.run(move |c| admin::set_client_secret(c, client_id, secret_hash))
            .await
    }

    async fn delete_client(&self, client_id: i64) -> Result<(), StoreError> {
        self.run(move |c| admin::delete_client(c, client_id)).await
    }

    async fn client_profile(&self, client_id: i64) -> Result<Option<ClientProfile>, StoreError> {
        self.run(move |c| admin::client_profile(c, client_id)).await
    }

    async fn save_client_profile(&self, profile: ClientProfile) -> Result<(), StoreError> {
        self.run(move |c| admin::save_client_profile(c, &profile))
            .await
    }

    async fn register_app(
        &self,
        client: NewClient,
        profile: ClientProfile,
    ) -> Result<Client, StoreError> {
        self.run(move |c| admin::register_app(c, &client, &profile))
            .await
    }

    async fn client_members(&self, client_id: i64) -> Result<Vec<Member>, StoreError> {
        self.run(move |c| admin::client_members(c, client_id)).await
    }

    async fn add_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError> {
        self.run(move |c| admin::add_client_member(c, client_id, user_id))
            .await
    }

    async fn remove_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError> {
        self.run(move |c| admin::remove_client_member(c, client_id, user_id))
            .await
    }

    async fn save_scope(&self, name: &str, description: &str) -> Result<(), StoreError> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.run(move |c| admin::save_scope(c, &name, &description))
            .await
    }

    async fn list_users(&self, q: &ListQuery) -> Result<Page<User>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_users(c, &q)).await
    }

    async fn set_user_flags(
        &self,
        user_id: i64,
        is_active: bool,
        is_superuser: bool,
    ) -> Result<(), StoreError> {
        self.run(move |c| admin::set_user_flags(c, user_id, is_active, is_superuser))
            .await
    }

    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        let hash = password_hash.to_owned();
        self.run(move |c| admin::set_user_password(c, user_id, &hash))
            .await
    }

    async fn list_codes(&self, q: &ListQuery) -> Result<Page<CodeSummary>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_codes(c, &q)).await
    }

    async fn list_tokens(&self, q: &ListQuery) -> Result<Page<TokenSummary>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_tokens(c, &q)).await
    }

    async fn revoke_code(&self, code_id: i64) -> Result<u64, StoreError> {
        self.run(move |c| admin::revoke_code(c, code_id)).await
    }

    async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |c| revoke_all(c, &Owner::User(user_id), now))
            .await
    }

    async fn revoke_client_tokens(&self, client_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |c| revoke_all(c, &Owner::Client(client_id), now))
            .await
    }

    async fn list_consents(&self, q: &ListQuery) -> Result<Page<ConsentSummary>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_consents(c, &q)).await
    }

    async fn withdraw_consent(&self, consent_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |c| admin::withdraw_consent(c, consent_id, now))
            .await
    }

    async fn audit(&self, entry: NewAuditEntry, now: i64) -> Result<(), StoreError> {
        self.run(move |c| admin::audit(c, &entry, now)).await
    }

    async fn list_audit(&self, q: &ListQuery) -> Result<Page<AuditEntry>, StoreError> {
        let q = q.clone();
        self.run(move |c| admin::list_audit(c, &q)).await
    }

    async fn claim_submission(&self, nonce_hash: &str, now: i64) -> Result<Submission, StoreError> {
        let nonce_hash = nonce_hash.to_owned();
        self.run(move |c| admin::claim_submission(c, &nonce_hash, now))
            .await
    }

    async fn finish_submission(&self, nonce_hash: &str, result: &str) -> Result<(), StoreError> {
        let (nonce_hash, result) = (nonce_hash.to_owned(), result.to_owned());
        self.run(move |c| admin::finish_submission(c, &nonce_hash, &result))
            .await
    }

    // Issue 4: grants and lifecycle
    async fn begin_attempt(
        &self,
        kind: AttemptKind,
        subject: &str,
        client_ip: &str,
        now: i64,
        since: i64,
    ) -> Result<LoginAttempt, StoreError> {
        let subject = subject.to_owned();
        let client_ip = client_ip.to_owned();
        self.run(move |conn| {
            // Two statements, not a transaction: the insert commits before the count, so of N
            // concurrent attempts the k-th to commit counts at least k.
            let id: i64 = diesel::insert_into(login_attempts::table)
                .values((
                    login_attempts::username.eq(&subject),
                    login_attempts::client_ip.eq(&client_ip),
                    login_attempts::created_at.eq(now),
                    login_attempts::kind.eq(kind.as_str()),
                ))
                .returning(login_attempts::id)
                .get_result(conn)?;
            let counts = count_attempts(conn, kind, &subject, &client_ip, since)?;
            Ok(LoginAttempt {
                id,
                by_user: counts.by_user,
                by_ip: counts.by_ip,
            })
        })
        .await
    }

    async fn count_attempts(
        &self,
        kind: AttemptKind,
        subject: &str,
        client_ip: &str,
        since: i64,
    ) -> Result<AttemptCounts, StoreError> {
        let subject = subject.to_owned();
        let client_ip = client_ip.to_owned();
        self.run(move |conn| count_attempts(conn, kind, &subject, &client_ip, since))
            .await
    }

    async fn end_attempt(&self, attempt_id: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::delete(login_attempts::table.find(attempt_id)).execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn revoke_token(&self, token_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| {
            let found: Option<(String, String)> = tokens::table
                .find(token_id)
                .select((tokens::kind, tokens::grant_id))
                .first(conn)
                .optional()?;
            let Some((kind, grant_id)) = found else {
                return Ok(0);
            };
            if kind != TokenKind::Refresh.as_str() {
                let n = diesel::update(
                    tokens::table
                        .find(token_id)
                        .filter(tokens::revoked_at.is_null()),
                )
                .set(tokens::revoked_at.eq(now))
                .execute(conn)?;
                return Ok(u64::try_from(n).unwrap_or(u64::MAX));
            }
            // The access tokens issued beside it end too, even outside the family.
            let beside = diesel::update(
                tokens::table
                    .filter(tokens::refresh_id.eq(token_id))
                    .filter(tokens::revoked_at.is_null()),
            )
            .set(tokens::revoked_at.eq(now))
            .execute(conn)?;
            let family = revoke_family(conn, &grant_id, now)?;
            Ok(family.saturating_add(u64::try_from(beside).unwrap_or(u64::MAX)))
        })
        .await
    }

    async fn clear_expired(
        &self,
        now: i64,
        attempts_before: i64,
        batch: i64,
    ) -> Result<Cleared, StoreError> {
        self.run(move |conn| {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            // Ids first, then a delete by id: bounded work per statement on both backends.
            let code_ids: Vec<i64> = auth_codes::table
                .filter(auth_codes::expires_at.lt(now))
                .select(auth_codes::id)
                .limit(batch)
                .load(conn)?;
            let codes = diesel::delete(auth_codes::table.filter(auth_codes::id.eq_any(&code_ids)))
                .execute(conn)?;
            let token_ids: Vec<i64> = tokens::table
                .filter(tokens::expires_at.lt(now))
                .select(tokens::id)
                .limit(batch)
                .load(conn)?;
            let toks = diesel::delete(tokens::table.filter(tokens::id.eq_any(&token_ids)))
                .execute(conn)?;
            let attempt_ids: Vec<i64> = login_attempts::table
                .filter(login_attempts::created_at.lt(attempts_before))
                .select(login_attempts::id)
                .limit(batch)
                .load(conn)?;
            let attempts = diesel::delete(
                login_attempts::table.filter(login_attempts::id.eq_any(&attempt_ids)),
            )
            .execute(conn)?;
            let pending_ids: Vec<i64> = pending_authorizations::table
                .filter(pending_authorizations::expires_at.lt(now))
                .select(pending_authorizations::id)
                .limit(batch)
                .load(conn)?;
            let pending = diesel::delete(
                pending_authorizations::table
                    .filter(pending_authorizations::id.eq_any(&pending_ids)),
            )
            .execute(conn)?;
            let session_ids: Vec<i64> = sessions::table
                .filter(sessions::expires_at.lt(now))
                .select(sessions::id)
                .limit(batch)
                .load(conn)?;
            let expired_sessions =
                diesel::delete(sessions::table.filter(sessions::id.eq_any(&session_ids)))
                    .execute(conn)?;
            Ok(Cleared {
                codes: count(codes),
                tokens: count(toks),
                attempts: count(attempts),
                sessions: count(pending).saturating_add(count(expired_sessions)),
            })
        })
        .await
    }

    // Issue 3: scopes and guard
    async fn create_scope(
        &self,
        name: &str,
        description: &str,
        from_code: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.run(move |conn| {
            diesel::insert_into(scopes::table)
                .values((
                    scopes::name.eq(&name),
                    scopes::description.eq(&description),
                    scopes::from_code.eq(from_code),
                    scopes::created_at.eq(now),
                ))
                .execute(conn)
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("scope {name:?}")),
                    other => other,
                })?;
            Ok(())
        })
        .await
    }

    async fn update_scope_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<bool, StoreError> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.run(move |conn| {
            let n = diesel::update(scopes::table.filter(scopes::name.eq(name)))
                .set(scopes::description.eq(description))
                .execute(conn)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_code_scope(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.run(move |conn| {
            let n = diesel::delete(
                scopes::table
                    .filter(scopes::name.eq(name))
                    .filter(scopes::from_code.eq(true)),
            )
            .execute(conn)?;
            Ok(n > 0)
        })
        .await
    }

    async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let store = self.clone();
        self.run(move |conn| store.count_pending(conn)).await
    }
}
