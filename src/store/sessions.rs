//! Browser sessions and the authorization requests waiting in them for consent.

use async_trait::async_trait;
use diesel::prelude::*;

use super::DbStore;
use super::models::{PendingRow, SessionRow, pkce_columns};
use super::schema::{pending_authorizations, sessions};
use crate::core::model::{PendingAuthorization, Session};
use crate::core::store::{SessionStore, StoreError};

#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
struct NewSessionRow<'a> {
    session_hash: &'a str,
    user_id: Option<i64>,
    csrf_token: &'a str,
    expires_at: i64,
    created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = pending_authorizations, treat_none_as_default_value = false)]
struct NewPendingRow<'a> {
    nonce_hash: &'a str,
    session_id: i64,
    client_id: i64,
    user_id: i64,
    redirect_uri: &'a str,
    redirect_uri_given: bool,
    scope: String,
    state: Option<&'a str>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_type: &'a str,
    expires_at: i64,
    created_at: i64,
    nonce: Option<&'a str>,
    resource: Option<&'a str>,
}

#[async_trait]
impl SessionStore for DbStore {
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
            let created_at = crate::core::now();
            let id: i64 = diesel::insert_into(sessions::table)
                .values(NewSessionRow {
                    session_hash: &session_hash,
                    user_id,
                    csrf_token: &csrf_token,
                    expires_at,
                    created_at,
                })
                .returning(sessions::id)
                .get_result(conn)?;
            Ok(Session {
                id,
                user_id,
                csrf_token,
                expires_at,
                created_at,
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
            let (code_challenge, code_challenge_method) = pkce_columns(&p.pkce);
            diesel::insert_into(pending_authorizations::table)
                .values(NewPendingRow {
                    nonce_hash: &nonce_hash,
                    session_id,
                    client_id: p.client_id,
                    user_id: p.user_id,
                    redirect_uri: &p.redirect_uri,
                    redirect_uri_given: p.redirect_uri_given,
                    scope: p.scope.to_string(),
                    state: p.state.as_deref(),
                    code_challenge,
                    code_challenge_method,
                    response_type: p.response_type.as_str(),
                    expires_at: p.expires_at,
                    created_at: crate::core::now(),
                    nonce: p.nonce.as_deref(),
                    resource: p.resource.as_deref(),
                })
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
}
