//! Registered clients.

use async_trait::async_trait;
use diesel::prelude::*;

use super::models::{ClientRow, approval_columns, grant_types_column};
use super::schema::{client_members, clients};
use super::search::{matching, paged, pattern};
use super::{AnyConnection, DbStore};
use crate::core::client_rules::ValidClient;
use crate::core::model::{Approval, Client, NewClient};
use crate::core::portal::{ListQuery, Page};
use crate::core::store::{ClientStore, StoreError};

#[derive(Insertable)]
#[diesel(table_name = clients, treat_none_as_default_value = false)]
struct NewClientRow<'a> {
    client_id: &'a str,
    secret_hash: Option<&'a str>,
    name: &'a str,
    client_type: &'a str,
    grant_types: String,
    redirect_uris: String,
    scopes: String,
    approval: &'static str,
    rejection_reason: Option<String>,
    code_lifetime: Option<i64>,
    access_token_lifetime: Option<i64>,
    refresh_token_lifetime: Option<i64>,
    owner_id: Option<i64>,
    created_at: i64,
    resource_server: bool,
    allow_public_without_pkce: bool,
    skip_consent: bool,
    post_logout_redirect_uris: String,
    id_token_signed_response_alg: &'static str,
    subject_type: &'static str,
    access_token_format: &'static str,
}

/// Inserts a client (registered now); returns its storage key.
pub(super) fn insert_client(conn: &mut AnyConnection, c: &NewClient) -> Result<i64, StoreError> {
    let (approval, rejection_reason) = approval_columns(&c.approval);
    Ok(diesel::insert_into(clients::table)
        .values(NewClientRow {
            client_id: &c.client_id,
            secret_hash: c.secret_hash.as_deref(),
            name: &c.name,
            client_type: c.client_type.as_str(),
            grant_types: grant_types_column(&c.grant_types),
            redirect_uris: c.redirect_uris.join(" "),
            scopes: c.scopes.to_string(),
            approval,
            rejection_reason,
            code_lifetime: c.code_lifetime,
            access_token_lifetime: c.access_token_lifetime,
            refresh_token_lifetime: c.refresh_token_lifetime,
            owner_id: c.owner_id,
            created_at: crate::core::now(),
            resource_server: c.permissions.resource_server,
            allow_public_without_pkce: c.permissions.allow_public_without_pkce,
            skip_consent: c.permissions.skip_consent,
            post_logout_redirect_uris: c.post_logout_redirect_uris.join(" "),
            id_token_signed_response_alg: c.tokens.alg.as_str(),
            subject_type: c.tokens.subject_type.as_str(),
            access_token_format: c.tokens.access.as_str(),
        })
        .returning(clients::id)
        .get_result(conn)?)
}

/// Looks a client up by storage key.
pub(super) fn find_client(conn: &mut AnyConnection, id: i64) -> Result<Option<Client>, StoreError> {
    clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?
        .map(Client::try_from)
        .transpose()
}

#[async_trait]
impl ClientStore for DbStore {
    async fn create_client(&self, client: NewClient) -> Result<Client, StoreError> {
        let client_id = client.client_id.clone();
        self.run(move |conn| {
            let id = insert_client(conn, &client).map_err(|e| match e {
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
                post_logout_redirect_uris: client.post_logout_redirect_uris,
                tokens: client.tokens,
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
        self.run(move |conn| find_client(conn, id)).await
    }

    async fn list_clients(&self, q: &ListQuery) -> Result<Page<Client>, StoreError> {
        let q = q.clone();
        self.run(move |conn| {
            let p = pattern(&q.search);
            let filter = matching!(p, clients::name, clients::client_id);
            paged!(conn, q, from: clients::table, filter: filter, order: clients::id.desc(),
                select: ClientRow, try_into: Client)
        })
        .await
    }

    async fn clients_of_user(&self, user_id: i64) -> Result<Vec<Client>, StoreError> {
        self.run(move |conn| {
            clients::table
                .filter(
                    clients::owner_id.eq(user_id).or(clients::id.eq_any(
                        client_members::table
                            .filter(client_members::user_id.eq(user_id))
                            .select(client_members::client_id),
                    )),
                )
                .order(clients::id.desc())
                .select(ClientRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Client::try_from)
                .collect()
        })
        .await
    }

    async fn client_owner(&self, client_id: i64) -> Result<Option<i64>, StoreError> {
        self.run(move |conn| {
            Ok(clients::table
                .find(client_id)
                .select(clients::owner_id)
                .first::<Option<i64>>(conn)
                .optional()?
                .flatten())
        })
        .await
    }

    async fn update_client(&self, id: i64, settings: &ValidClient) -> Result<(), StoreError> {
        let c = settings.clone();
        self.run(move |conn| {
            diesel::update(clients::table.find(id))
                .set((
                    clients::name.eq(c.name()),
                    clients::client_type.eq(c.client_type().as_str()),
                    clients::grant_types.eq(grant_types_column(c.grant_types())),
                    clients::redirect_uris.eq(c.redirect_uris().join(" ")),
                    clients::post_logout_redirect_uris.eq(c.post_logout_redirect_uris().join(" ")),
                    clients::scopes.eq(c.scopes().to_string()),
                    clients::code_lifetime.eq(c.code_lifetime()),
                    clients::access_token_lifetime.eq(c.access_token_lifetime()),
                    clients::refresh_token_lifetime.eq(c.refresh_token_lifetime()),
                    clients::resource_server.eq(c.permissions().resource_server),
                    clients::allow_public_without_pkce
                        .eq(c.permissions().allow_public_without_pkce),
                    clients::skip_consent.eq(c.permissions().skip_consent),
                    clients::id_token_signed_response_alg.eq(c.tokens().alg.as_str()),
                    clients::subject_type.eq(c.tokens().subject_type.as_str()),
                    clients::access_token_format.eq(c.tokens().access.as_str()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn set_approval(&self, client_id: i64, approval: &Approval) -> Result<(), StoreError> {
        let (name, reason) = approval_columns(approval);
        self.run(move |conn| {
            diesel::update(clients::table.find(client_id))
                .set((
                    clients::approval.eq(name),
                    clients::rejection_reason.eq(reason),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn set_client_secret(
        &self,
        client_id: i64,
        secret_hash: Option<String>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(clients::table.find(client_id))
                .set(clients::secret_hash.eq(secret_hash))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn delete_client(&self, client_id: i64) -> Result<(), StoreError> {
        self.run(move |conn| {
            // Foreign keys cascade to codes, tokens, consents, pending requests, profile and
            // members.
            diesel::delete(clients::table.find(client_id)).execute(conn)?;
            Ok(())
        })
        .await
    }
}
