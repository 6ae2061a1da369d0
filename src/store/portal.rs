//! The developer portal and admin records: client profiles and teams, app registration, the
//! audit log and single-use form submissions.

use async_trait::async_trait;
use diesel::prelude::*;

use super::clients::{find_client, insert_client};
use super::schema::{
    audit_log, client_members, client_profiles, form_submissions, sessions, tokens, users,
};
use super::search::{matching, paged, pattern};
use super::{AnyConnection, DbStore};
use crate::core::model::{Client, NewClient, TokenKind};
use crate::core::portal::{
    AuditEntry, ClientProfile, ListQuery, LiveCounts, Member, NewAuditEntry, Page, Submission,
};
use crate::core::store::{PortalStore, StoreError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = client_profiles)]
struct ProfileRow {
    client_id: i64,
    description: String,
    logo_url: String,
    homepage_url: String,
    privacy_url: String,
    terms_agreed_at: Option<i64>,
}

impl From<ProfileRow> for ClientProfile {
    fn from(r: ProfileRow) -> Self {
        ClientProfile {
            client_id: r.client_id,
            description: r.description,
            logo_url: r.logo_url,
            homepage_url: r.homepage_url,
            privacy_url: r.privacy_url,
            terms_agreed_at: r.terms_agreed_at,
        }
    }
}

/// A profile as written: inserted whole, or set on its row (every field but the key, `None`
/// clearing the agreement time).
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = client_profiles,
    primary_key(client_id),
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct ProfileWrite<'a> {
    client_id: i64,
    description: &'a str,
    logo_url: &'a str,
    homepage_url: &'a str,
    privacy_url: &'a str,
    terms_agreed_at: Option<i64>,
    updated_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = client_members)]
struct NewMemberRow {
    client_id: i64,
    user_id: i64,
    created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAuditRow<'a> {
    actor_id: Option<i64>,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    detail: &'a str,
    created_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: i64,
    actor: String,
    action: String,
    target: String,
    detail: String,
    #[diesel(select_expression = audit_log::created_at)]
    at: i64,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
            at: r.at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = form_submissions)]
struct NewSubmissionRow<'a> {
    nonce_hash: &'a str,
    created_at: i64,
}

/// Creates or replaces a client's profile.
fn save_profile(conn: &mut AnyConnection, p: &ClientProfile) -> Result<(), StoreError> {
    let row = ProfileWrite {
        client_id: p.client_id,
        description: &p.description,
        logo_url: &p.logo_url,
        homepage_url: &p.homepage_url,
        privacy_url: &p.privacy_url,
        terms_agreed_at: p.terms_agreed_at,
        updated_at: crate::core::now(),
    };
    // No upsert through MultiConnection: update, and insert when nothing was there.
    let updated = diesel::update(client_profiles::table.find(p.client_id))
        .set(&row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(client_profiles::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}

#[async_trait]
impl PortalStore for DbStore {
    async fn client_profile(&self, client_id: i64) -> Result<Option<ClientProfile>, StoreError> {
        self.run(move |conn| {
            Ok(client_profiles::table
                .find(client_id)
                .select(ProfileRow::as_select())
                .first(conn)
                .optional()?
                .map(ClientProfile::from))
        })
        .await
    }

    async fn save_client_profile(&self, profile: ClientProfile) -> Result<(), StoreError> {
        self.run(move |conn| save_profile(conn, &profile)).await
    }

    async fn register_app(
        &self,
        client: NewClient,
        profile: ClientProfile,
    ) -> Result<Client, StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| {
                let id = insert_client(conn, &client)?;
                save_profile(
                    conn,
                    &ClientProfile {
                        client_id: id,
                        ..profile
                    },
                )?;
                find_client(conn, id)?.ok_or_else(|| diesel::result::Error::NotFound.into())
            })
        })
        .await
    }

    async fn client_members(&self, client_id: i64) -> Result<Vec<Member>, StoreError> {
        self.run(move |conn| {
            Ok(client_members::table
                .inner_join(users::table)
                .filter(client_members::client_id.eq(client_id))
                .order(users::username)
                .select((users::id, users::username))
                .load::<(i64, String)>(conn)?
                .into_iter()
                .map(|(user_id, username)| Member { user_id, username })
                .collect())
        })
        .await
    }

    async fn add_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::insert_into(client_members::table)
                .values(NewMemberRow {
                    client_id,
                    user_id,
                    created_at: crate::core::now(),
                })
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn remove_client_member(&self, client_id: i64, user_id: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::delete(
                client_members::table
                    .filter(client_members::client_id.eq(client_id))
                    .filter(client_members::user_id.eq(user_id)),
            )
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn audit(&self, entry: NewAuditEntry, now: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::insert_into(audit_log::table)
                .values(NewAuditRow {
                    actor_id: entry.actor_id,
                    actor: &entry.actor,
                    action: &entry.action,
                    target: &entry.target,
                    detail: &entry.detail,
                    created_at: now,
                })
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn list_audit(&self, q: &ListQuery) -> Result<Page<AuditEntry>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            let filter = matching!(
                p,
                audit_log::actor,
                audit_log::action,
                audit_log::target,
                audit_log::detail
            );
            paged!(conn, q, from: audit_log::table, filter: filter, order: audit_log::id.desc(),
                select: AuditRow, into: AuditEntry)
        })
        .await
    }

    async fn recent_actions(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.run(move |conn| {
            // `audit_log_people`, a partial index, holds exactly these rows.
            Ok(audit_log::table
                .filter(audit_log::actor_id.is_not_null())
                .order(audit_log::id.desc())
                .limit(limit)
                .select(AuditRow::as_select())
                .load(conn)?
                .into_iter()
                .map(AuditEntry::from)
                .collect())
        })
        .await
    }

    async fn live_counts(&self, now: i64) -> Result<LiveCounts, StoreError> {
        self.run(move |conn| {
            let live = tokens::table
                .filter(tokens::revoked_at.is_null())
                .filter(tokens::expires_at.gt(now));
            let access_tokens = live
                .filter(tokens::kind.eq(TokenKind::Access.as_str()))
                .count()
                .get_result(conn)?;
            let refresh_tokens = live
                .filter(tokens::kind.eq(TokenKind::Refresh.as_str()))
                .filter(tokens::used_at.is_null())
                .count()
                .get_result(conn)?;
            let sessions = sessions::table
                .filter(sessions::user_id.is_not_null())
                .filter(sessions::expires_at.gt(now))
                .count()
                .get_result(conn)?;
            Ok(LiveCounts {
                access_tokens,
                refresh_tokens,
                sessions,
            })
        })
        .await
    }

    async fn claim_submission(&self, nonce_hash: &str, now: i64) -> Result<Submission, StoreError> {
        let nonce_hash = nonce_hash.to_owned();
        self.run(move |conn| {
            let inserted = diesel::insert_into(form_submissions::table)
                .values(NewSubmissionRow {
                    nonce_hash: &nonce_hash,
                    created_at: now,
                })
                .execute(conn)
                .map_err(StoreError::from);
            match inserted {
                Ok(_) => {
                    // Nonces matter only while a form page may still be submitted; a day is
                    // plenty. Every instance may run this at once: deleting old rows twice is
                    // harmless.
                    diesel::delete(
                        form_submissions::table
                            .filter(form_submissions::created_at.lt(now - 86_400)),
                    )
                    .execute(conn)?;
                    Ok(Submission::First)
                }
                // The unique index decides: whoever inserted first does the work.
                Err(StoreError::Conflict(_)) => {
                    let result: String = form_submissions::table
                        .filter(form_submissions::nonce_hash.eq(&nonce_hash))
                        .select(form_submissions::result)
                        .first(conn)?;
                    Ok(Submission::Repeated(result))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn finish_submission(&self, nonce_hash: &str, result: &str) -> Result<(), StoreError> {
        let (nonce_hash, result) = (nonce_hash.to_owned(), result.to_owned());
        self.run(move |conn| {
            diesel::update(
                form_submissions::table.filter(form_submissions::nonce_hash.eq(nonce_hash)),
            )
            .set(form_submissions::result.eq(result))
            .execute(conn)?;
            Ok(())
        })
        .await
    }
}
