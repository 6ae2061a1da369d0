//! Authorization codes and tokens: every token write of the store is here or in
//! `revocation.rs` beside it. Single-use rules are enforced by conditional `UPDATE`s whose row
//! count decides the winner, so they hold across many processes sharing one database.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::models::{CodeRow, TokenRow, pkce_columns};
use super::revocation::{Owner, revoke_all};
use super::schema::{
    audit_log, auth_codes, clients, login_attempts, pending_authorizations, sessions, tokens,
    used_nonces, users,
};
use super::search::{lower_n, matching, paged, pattern, user_or_client};
use super::{AnyConnection, DbStore, count};
use crate::core::lifecycle::{Reused, Revoker, Source, TokenEvent, issued_detail, revocation};
use crate::core::model::{AuthCode, GrantType, NewCode, NewToken, Token, TokenKind};
use crate::core::portal::{CodeSummary, ListQuery, Page, TokenSummary};
use crate::core::store::{Cleared, GrantStore, Redeemed, StoreError};

#[derive(Insertable)]
#[diesel(table_name = tokens, treat_none_as_default_value = false)]
struct NewTokenRow<'a> {
    token_hash: &'a str,
    kind: &'static str,
    client_id: i64,
    user_id: Option<i64>,
    scope: String,
    grant_id: &'a str,
    refresh_id: Option<i64>,
    parent_id: Option<i64>,
    expires_at: i64,
    created_at: i64,
    auth_time: Option<i64>,
    resource: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = auth_codes, treat_none_as_default_value = false)]
struct NewCodeRow<'a> {
    code_hash: &'a str,
    client_id: i64,
    user_id: i64,
    redirect_uri: &'a str,
    redirect_uri_given: bool,
    scope: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    grant_id: &'a str,
    expires_at: i64,
    created_at: i64,
    nonce: Option<&'a str>,
    auth_time: Option<i64>,
    resource: Option<&'a str>,
}

/// A code as the admin lists it, with its client and user.
#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_codes)]
struct CodeSummaryRow {
    id: i64,
    client_id: i64,
    #[diesel(select_expression = clients::client_id)]
    client_public_id: String,
    #[diesel(select_expression = clients::name)]
    client_name: String,
    user_id: i64,
    #[diesel(select_expression = users::username)]
    username: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<CodeSummaryRow> for CodeSummary {
    fn from(r: CodeSummaryRow) -> Self {
        CodeSummary {
            id: r.id,
            client_id: r.client_id,
            client_public_id: r.client_public_id,
            client_name: r.client_name,
            user_id: r.user_id,
            username: r.username,
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

/// A token as the admin lists it, with its client and (left-joined) user.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tokens)]
struct TokenSummaryRow {
    id: i64,
    kind: String,
    client_id: i64,
    #[diesel(select_expression = clients::client_id)]
    client_public_id: String,
    #[diesel(select_expression = clients::name)]
    client_name: String,
    user_id: Option<i64>,
    #[diesel(select_expression = users::username.nullable())]
    #[diesel(select_expression_type = diesel::dsl::Nullable<users::username>)]
    username: Option<String>,
    scope: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenSummaryRow> for TokenSummary {
    fn from(r: TokenSummaryRow) -> Self {
        TokenSummary {
            id: r.id,
            kind: r.kind,
            client_id: r.client_id,
            client_public_id: r.client_public_id,
            client_name: r.client_name,
            user_id: r.user_id,
            username: r.username.unwrap_or_default(),
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// Inserts a token; `refresh_id` links an access token to the refresh token issued beside it,
/// `parent_id` a refresh token to the one it was rotated from.
fn insert_token(
    conn: &mut AnyConnection,
    t: &NewToken,
    refresh_id: Option<i64>,
    parent_id: Option<i64>,
) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(tokens::table)
        .values(NewTokenRow {
            token_hash: &t.token_hash,
            kind: t.kind.as_str(),
            client_id: t.client_id,
            user_id: t.user_id,
            scope: t.scope.to_string(),
            grant_id: &t.grant_id,
            refresh_id,
            parent_id,
            expires_at: t.expires_at,
            created_at: t.created_at,
            auth_time: t.auth_time,
            resource: t.resource.as_deref(),
        })
        .returning(tokens::id)
        .get_result(conn)?)
}

/// Inserts an access token and, when given, the refresh token beside it (rotated from
/// `parent_id`), and writes their lifecycle line (`token.issued`, or `token.refreshed` when
/// rotated or re-spent): the caller's transaction holds all three.
fn insert_pair(
    conn: &mut AnyConnection,
    access: &NewToken,
    refresh: Option<&NewToken>,
    grant: GrantType,
    from: Option<Source>,
) -> Result<(), StoreError> {
    let parent_id = match from {
        Some(Source::Rotated(id) | Source::Respent(id)) => Some(id),
        Some(Source::Code(_)) | None => None,
    };
    let refresh_id = refresh
        .map(|r| insert_token(conn, r, None, parent_id))
        .transpose()?;
    let access_id = insert_token(conn, access, refresh_id, None)?;
    let event = match parent_id {
        Some(_) => TokenEvent::Refreshed,
        None => TokenEvent::Issued,
    };
    record(
        conn,
        &Line {
            event,
            client_id: access.client_id,
            user_id: access.user_id,
            actor: None,
            detail: issued_detail(grant, access_id, refresh_id, from),
        },
        access.created_at,
    )
}

/// A token-lifecycle line of the audit log, as the store writes it.
struct Line {
    event: TokenEvent,
    /// The client the tokens belong to (storage key): the target when there is no user, and
    /// the actor unless `actor` names another.
    client_id: i64,
    /// The user the tokens act for (storage key): the target, by username.
    user_id: Option<i64>,
    /// `actor_id` and `actor` when someone else than the tokens' client acted.
    actor: Option<(Option<i64>, String)>,
    detail: String,
}

diesel::define_sql_function! {
    /// SQL `COALESCE` of a nullable text and a text.
    fn coalesce(x: Nullable<Text>, y: Text) -> Text;
}

/// Writes a lifecycle line in one statement, an `INSERT ... SELECT` from the client's row and
/// the user's: the client's public id and the username are read inside it, so naming them
/// costs no round trip of its own, and the statement is prepared once per connection. The
/// `client ` spelling is `lifecycle::client_actor`'s.
fn record(conn: &mut AnyConnection, line: &Line, now: i64) -> Result<(), StoreError> {
    let (actor_id, actor) = match &line.actor {
        Some((id, name)) => (*id, Some(name.clone())),
        None => (None, None),
    };
    let client_name = || "client ".into_sql::<Text>().concat(clients::client_id);
    let user_name = "user "
        .into_sql::<Nullable<Text>>()
        .concat(users::username.nullable());
    let row = clients::table
        .left_join(users::table.on(users::id.nullable().eq(line.user_id)))
        .filter(clients::id.eq(line.client_id))
        .select((
            actor_id.into_sql::<Nullable<BigInt>>(),
            coalesce(actor.into_sql::<Nullable<Text>>(), client_name()),
            line.event.action().into_sql::<Text>(),
            coalesce(user_name, client_name()),
            line.detail.as_str().into_sql::<Text>(),
            now.into_sql::<BigInt>(),
        ));
    diesel::insert_into(audit_log::table)
        .values(row)
        .into_columns((
            audit_log::actor_id,
            audit_log::actor,
            audit_log::action,
            audit_log::target,
            audit_log::detail,
            audit_log::created_at,
        ))
        .execute(conn)?;
    Ok(())
}

/// Revokes every token of a family, including tokens a concurrent rotation is inserting.
fn revoke_family(conn: &mut AnyConnection, grant_id: &str, now: i64) -> Result<u64, StoreError> {
    revoke_all(conn, &Owner::Family(grant_id.to_owned()), now)
}

#[async_trait]
impl GrantStore for DbStore {
    async fn create_code(&self, code: NewCode) -> Result<(), StoreError> {
        self.run(move |conn| {
            let (code_challenge, code_challenge_method) = pkce_columns(&code.pkce);
            diesel::insert_into(auth_codes::table)
                .values(NewCodeRow {
                    code_hash: &code.code_hash,
                    client_id: code.client_id,
                    user_id: code.user_id,
                    redirect_uri: &code.redirect_uri,
                    redirect_uri_given: code.redirect_uri_given,
                    scope: code.scope.to_string(),
                    code_challenge,
                    code_challenge_method,
                    grant_id: &code.grant_id,
                    expires_at: code.expires_at,
                    created_at: crate::core::now(),
                    nonce: code.nonce.as_deref(),
                    auth_time: Some(code.auth_time),
                    resource: code.resource.as_deref(),
                })
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
                let from = Some(Source::Code(code_id));
                insert_pair(
                    conn,
                    &access,
                    refresh.as_ref(),
                    GrantType::AuthorizationCode,
                    from,
                )?;
                Ok(Redeemed::Won)
            })
        })
        .await
    }

    async fn issue_tokens(
        &self,
        access: NewToken,
        refresh: Option<NewToken>,
        grant: GrantType,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| insert_pair(conn, &access, refresh.as_ref(), grant, None))
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
                let from = Some(Source::Rotated(refresh_id));
                insert_pair(conn, &access, Some(&refresh), GrantType::RefreshToken, from)?;
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
                let from = Some(Source::Respent(refresh_id));
                insert_pair(conn, &access, Some(&refresh), GrantType::RefreshToken, from)?;
                Ok(Redeemed::Won)
            })
        })
        .await
    }

    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        reused: Reused,
    ) -> Result<u64, StoreError> {
        let grant_id = grant_id.to_owned();
        self.run(move |conn| {
            let line = |event, detail| Line {
                event,
                client_id: reused.client_id,
                user_id: reused.user_id,
                actor: None,
                detail,
            };
            // The replay is on record before the revocation starts, even if it fails midway.
            record(conn, &line(TokenEvent::ReuseDetected, reused.detail()), now)?;
            let revoked = revoke_family(conn, &grant_id, now)?;
            let family = line(TokenEvent::FamilyRevoked, reused.family_detail(revoked));
            record(conn, &family, now)?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_token(&self, token_id: i64, now: i64, by: Revoker) -> Result<u64, StoreError> {
        self.run(move |conn| {
            let found: Option<(String, String, i64, Option<i64>)> = tokens::table
                .find(token_id)
                .select((
                    tokens::kind,
                    tokens::grant_id,
                    tokens::client_id,
                    tokens::user_id,
                ))
                .first(conn)
                .optional()?;
            let Some((kind, grant_id, client_id, user_id)) = found else {
                return Ok(0);
            };
            let kind = if kind == TokenKind::Refresh.as_str() {
                TokenKind::Refresh
            } else {
                TokenKind::Access
            };
            let revoked = match kind {
                TokenKind::Access => {
                    let n = diesel::update(
                        tokens::table
                            .find(token_id)
                            .filter(tokens::revoked_at.is_null()),
                    )
                    .set(tokens::revoked_at.eq(now))
                    .execute(conn)?;
                    count(n)
                }
                TokenKind::Refresh => {
                    // The access tokens issued beside it end too, even outside the family.
                    let beside = diesel::update(
                        tokens::table
                            .filter(tokens::refresh_id.eq(token_id))
                            .filter(tokens::revoked_at.is_null()),
                    )
                    .set(tokens::revoked_at.eq(now))
                    .execute(conn)?;
                    revoke_family(conn, &grant_id, now)?.saturating_add(count(beside))
                }
            };
            if let Some((event, detail)) = revocation(kind, token_id, revoked) {
                let line = Line {
                    event,
                    client_id,
                    user_id,
                    actor: Some(by.actor()),
                    detail,
                };
                record(conn, &line, now)?;
            }
            Ok(revoked)
        })
        .await
    }

    async fn claim_nonce(
        &self,
        client_id: i64,
        nonce_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let nonce_hash = nonce_hash.to_owned();
        self.run(move |conn| {
            let claimed = diesel::insert_into(used_nonces::table)
                .values((
                    used_nonces::client_id.eq(client_id),
                    used_nonces::nonce_hash.eq(nonce_hash),
                    used_nonces::expires_at.eq(expires_at),
                ))
                .execute(conn);
            match claimed {
                Ok(_) => Ok(true),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn clear_expired(
        &self,
        now: i64,
        attempts_before: i64,
        events_before: i64,
        batch: i64,
    ) -> Result<Cleared, StoreError> {
        self.run(move |conn| {
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
            let event_ids: Vec<i64> = audit_log::table
                .filter(audit_log::action.like("token.%"))
                .filter(audit_log::created_at.lt(events_before))
                .select(audit_log::id)
                .limit(batch)
                .load(conn)?;
            let events = diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&event_ids)))
                .execute(conn)?;
            let nonce_ids: Vec<i64> = used_nonces::table
                .filter(used_nonces::expires_at.lt(now))
                .select(used_nonces::id)
                .limit(batch)
                .load(conn)?;
            let nonces =
                diesel::delete(used_nonces::table.filter(used_nonces::id.eq_any(&nonce_ids)))
                    .execute(conn)?;
            Ok(Cleared {
                codes: count(codes),
                tokens: count(toks),
                attempts: count(attempts),
                sessions: count(pending).saturating_add(count(expired_sessions)),
                events: count(events),
                nonces: count(nonces),
            })
        })
        .await
    }

    async fn revoke_code(&self, code_id: i64) -> Result<u64, StoreError> {
        self.run(move |conn| {
            let n = diesel::delete(
                auth_codes::table
                    .find(code_id)
                    .filter(auth_codes::used_at.is_null()),
            )
            .execute(conn)?;
            Ok(count(n))
        })
        .await
    }

    async fn revoke_user_tokens(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| revoke_all(conn, &Owner::User(user_id), now))
            .await
    }

    async fn revoke_client_tokens(&self, client_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| revoke_all(conn, &Owner::Client(client_id), now))
            .await
    }

    async fn list_codes(&self, q: &ListQuery) -> Result<Page<CodeSummary>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            let filter = user_or_client!(p);
            paged!(conn, q,
                from: auth_codes::table.inner_join(clients::table).inner_join(users::table),
                filter: filter, order: auth_codes::id.desc(),
                select: CodeSummaryRow, into: CodeSummary)
        })
        .await
    }

    async fn list_tokens(&self, q: &ListQuery) -> Result<Page<TokenSummary>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            // Tokens of client_credentials have no user, hence the left join and the nullable
            // match.
            let filter = matching!(p, clients::name, clients::client_id).or(lower_n(
                users::username.nullable(),
            )
            .like(p.clone())
            .escape('\\'));
            paged!(conn, q,
                from: tokens::table.inner_join(clients::table).left_join(users::table),
                filter: filter, order: tokens::id.desc(),
                select: TokenSummaryRow, into: TokenSummary)
        })
        .await
    }
}
