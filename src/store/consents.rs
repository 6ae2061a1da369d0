//! What users granted which clients.

use async_trait::async_trait;
use diesel::prelude::*;

use super::DbStore;
use super::models::parse_scope;
use super::revocation::{Owner, revoke_all};
use super::schema::{clients, consents, users};
use super::search::{paged, pattern, user_or_client};
use crate::core::portal::{ConsentSummary, ListQuery, Page};
use crate::core::scope::ScopeSet;
use crate::core::store::{ConsentStore, StoreError};

/// How often [`ConsentStore::record_consent`] retries when concurrent approvals keep changing
/// the row under it.
const RECORD_ATTEMPTS: usize = 8;

#[derive(Insertable)]
#[diesel(table_name = consents)]
struct NewConsentRow<'a> {
    user_id: i64,
    client_id: i64,
    scope: &'a str,
    created_at: i64,
    updated_at: i64,
}

/// A consent as the admin lists it, with its client's name and its user's.
#[derive(Queryable, Selectable)]
#[diesel(table_name = consents)]
struct ConsentSummaryRow {
    id: i64,
    client_id: i64,
    #[diesel(select_expression = clients::name)]
    client_name: String,
    user_id: i64,
    #[diesel(select_expression = users::username)]
    username: String,
    scope: String,
    updated_at: i64,
}

impl From<ConsentSummaryRow> for ConsentSummary {
    fn from(r: ConsentSummaryRow) -> Self {
        ConsentSummary {
            id: r.id,
            client_id: r.client_id,
            client_name: r.client_name,
            user_id: r.user_id,
            username: r.username,
            scope: r.scope,
            updated_at: r.updated_at,
        }
    }
}

#[async_trait]
impl ConsentStore for DbStore {
    async fn record_consent(
        &self,
        user_id: i64,
        client_id: i64,
        scope: &ScopeSet,
        now: i64,
    ) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.run(move |conn| {
            // Compare-and-set on the stored scope, no transaction: a concurrent approval makes
            // the update (or the insert) miss, and the next pass merges with what it wrote.
            for _ in 0..RECORD_ATTEMPTS {
                let mine = consents::table
                    .filter(consents::user_id.eq(user_id))
                    .filter(consents::client_id.eq(client_id));
                let stored: Option<String> = mine.select(consents::scope).first(conn).optional()?;
                if let Some(stored) = stored {
                    let merged = parse_scope(&stored)?.union(&scope).to_string();
                    let updated = diesel::update(mine.filter(consents::scope.eq(&stored)))
                        .set((consents::scope.eq(&merged), consents::updated_at.eq(now)))
                        .execute(conn)?;
                    if updated > 0 {
                        return Ok(());
                    }
                    continue;
                }
                let inserted = diesel::insert_into(consents::table)
                    .values(NewConsentRow {
                        user_id,
                        client_id,
                        scope: &scope.to_string(),
                        created_at: now,
                        updated_at: now,
                    })
                    .execute(conn);
                match inserted.map_err(StoreError::from) {
                    Ok(_) => return Ok(()),
                    // Another request inserted it in between: merge with that row.
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(StoreError::Database(
                "the consent kept changing while it was recorded".to_owned(),
            ))
        })
        .await
    }

    async fn granted_scope(
        &self,
        user_id: i64,
        client_id: i64,
    ) -> Result<Option<ScopeSet>, StoreError> {
        self.run(move |conn| {
            let stored: Option<String> = consents::table
                .filter(consents::user_id.eq(user_id))
                .filter(consents::client_id.eq(client_id))
                .select(consents::scope)
                .first(conn)
                .optional()?;
            stored.as_deref().map(parse_scope).transpose()
        })
        .await
    }

    async fn consents_of_user(&self, user_id: i64) -> Result<Vec<ConsentSummary>, StoreError> {
        self.run(move |conn| {
            let rows: Vec<ConsentSummaryRow> = consents::table
                .inner_join(clients::table)
                .inner_join(users::table)
                .filter(consents::user_id.eq(user_id))
                .order((consents::updated_at.desc(), consents::id.desc()))
                .select(ConsentSummaryRow::as_select())
                .load(conn)?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
        .await
    }

    async fn list_consents(&self, q: &ListQuery) -> Result<Page<ConsentSummary>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            let filter = user_or_client!(p);
            paged!(conn, q,
                from: consents::table.inner_join(clients::table).inner_join(users::table),
                filter: filter, order: consents::updated_at.desc(),
                select: ConsentSummaryRow, into: ConsentSummary)
        })
        .await
    }

    async fn withdraw_consent(&self, consent_id: i64, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| {
            // The delete comes first (and commits), so no pass below races a lookup of the
            // consent.
            let found: Option<(i64, i64)> = diesel::delete(consents::table.find(consent_id))
                .returning((consents::user_id, consents::client_id))
                .get_result(conn)
                .optional()?;
            let Some((user_id, client_id)) = found else {
                return Ok(0);
            };
            revoke_all(conn, &Owner::Consent { user_id, client_id }, now)
        })
        .await
    }
}
