//! The scope registry.

use async_trait::async_trait;
use diesel::prelude::*;

use super::models::ScopeRow;
use super::schema::scopes;
use super::{AnyConnection, DbStore};
use crate::core::model::Scope;
use crate::core::store::{ScopeStore, StoreError};

#[derive(Insertable)]
#[diesel(table_name = scopes)]
struct NewScopeRow<'a> {
    name: &'a str,
    description: &'a str,
    from_code: bool,
    created_at: i64,
}

/// Sets a scope's description; the number of scopes changed (0 or 1).
fn describe(conn: &mut AnyConnection, name: &str, description: &str) -> QueryResult<usize> {
    diesel::update(scopes::table.filter(scopes::name.eq(name)))
        .set(scopes::description.eq(description))
        .execute(conn)
}

#[async_trait]
impl ScopeStore for DbStore {
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
                .values(NewScopeRow {
                    name: &name,
                    description: &description,
                    from_code,
                    created_at: now,
                })
                .execute(conn)
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("scope {name:?}")),
                    other => other,
                })?;
            Ok(())
        })
        .await
    }

    async fn save_scope(&self, name: &str, description: &str) -> Result<(), StoreError> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.run(move |conn| {
            if describe(conn, &name, &description)? == 0 {
                diesel::insert_into(scopes::table)
                    .values(NewScopeRow {
                        name: &name,
                        description: &description,
                        from_code: false,
                        created_at: crate::core::now(),
                    })
                    .execute(conn)?;
            }
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
        self.run(move |conn| Ok(describe(conn, &name, &description)? > 0))
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
}
