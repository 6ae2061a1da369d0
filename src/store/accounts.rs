//! Users and credential attempts.

use async_trait::async_trait;
use diesel::prelude::*;

use super::models::UserRow;
use super::schema::{login_attempts, sessions, users};
use super::search::{matching, paged, pattern};
use super::{AnyConnection, DbStore};
use crate::core::model::{NewUser, User};
use crate::core::portal::{ListQuery, Page};
use crate::core::store::{AccountStore, AttemptCounts, LoginAttempt, StoreError};
use crate::core::throttle::AttemptKind;

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    username: &'a str,
    email: &'a str,
    password_hash: &'a str,
    is_superuser: bool,
    is_active: bool,
    created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = login_attempts)]
struct NewAttemptRow<'a> {
    username: &'a str,
    client_ip: &'a str,
    created_at: i64,
    kind: &'a str,
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
impl AccountStore for DbStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.run(move |conn| {
            let id: i64 = diesel::insert_into(users::table)
                .values(NewUserRow {
                    username: &user.username,
                    email: &user.email,
                    password_hash: &user.password_hash,
                    is_superuser: user.is_superuser,
                    is_active: true,
                    created_at: crate::core::now(),
                })
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

    async fn list_users(&self, q: &ListQuery) -> Result<Page<User>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            let filter = matching!(p, users::username, users::email);
            paged!(conn, q, from: users::table, filter: filter, order: users::username,
                select: UserRow, into: User)
        })
        .await
    }

    async fn set_user_flags(
        &self,
        user_id: i64,
        is_active: bool,
        is_superuser: bool,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(users::table.find(user_id))
                .set((
                    users::is_active.eq(is_active),
                    users::is_superuser.eq(is_superuser),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn set_user_password(&self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        let password_hash = password_hash.to_owned();
        self.run(move |conn| {
            conn.transaction(|conn| {
                diesel::update(users::table.find(user_id))
                    .set(users::password_hash.eq(&password_hash))
                    .execute(conn)?;
                // A reset password must not leave a thief's session signed in.
                diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
                    .execute(conn)?;
                Ok(())
            })
        })
        .await
    }

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
                .values(NewAttemptRow {
                    username: &subject,
                    client_ip: &client_ip,
                    created_at: now,
                    kind: kind.as_str(),
                })
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
}
