//! Issue 5: the queries behind the admin pages and the developer portal. Each is a plain
//! function over a connection; `queries.rs` runs them on the blocking pool.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::AnyConnection;
use super::models::{ClientRow, UserRow, approval_columns, grant_types_column};
use super::revocation::{Owner, revoke_all};
use super::schema::{
    audit_log, auth_codes, client_members, client_profiles, clients, consents, form_submissions,
    scopes, sessions, tokens, users,
};
use crate::core::model::{Approval, Client, NewClient, User};
use crate::core::portal::{
    AuditEntry, ClientProfile, CodeSummary, ConsentSummary, ListQuery, Member, NewAuditEntry, Page,
    Submission, TokenSummary,
};
use crate::core::store::StoreError;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends (PostgreSQL's `LIKE` is case-sensitive).
    fn lower(x: Text) -> Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` over a nullable column (a left-joined one).
    #[sql_name = "lower"]
    fn lower_n(x: Nullable<Text>) -> Nullable<Text>;
}

/// A `LIKE` pattern matching `search` anywhere, with the wildcards in it taken literally.
fn pattern(search: &str) -> String {
    let escaped = search
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Rows matching a search over the given text columns: `lower(col) LIKE pattern` or-ed together.
macro_rules! matching {
    ($p:expr, $first:expr $(, $more:expr)*) => {
        lower($first).like($p.clone()).escape('\\')
            $(.or(lower($more).like($p.clone()).escape('\\')))*
    };
}

pub(super) fn list_clients(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<Client>, StoreError> {
    let p = pattern(&q.search);
    let filter = matching!(p, clients::name, clients::client_id);
    let total: i64 = clients::table
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    let items = clients::table
        .filter(filter)
        .order(clients::id.desc())
        .offset(q.offset)
        .limit(q.limit)
        .select(ClientRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Client::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Page { items, total })
}

pub(super) fn clients_of_user(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<Client>, StoreError> {
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
}

pub(super) fn client_owner(
    conn: &mut AnyConnection,
    client_id: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(clients::table
        .find(client_id)
        .select(clients::owner_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

pub(super) fn update_client(conn: &mut AnyConnection, c: &Client) -> Result<(), StoreError> {
    diesel::update(clients::table.find(c.id))
        .set((
            clients::name.eq(&c.name),
            clients::client_type.eq(c.client_type.as_str()),
            clients::grant_types.eq(grant_types_column(&c.grant_types)),
            clients::redirect_uris.eq(c.redirect_uris.join(" ")),
            clients::scopes.eq(c.scopes.to_string()),
            clients::code_lifetime.eq(c.code_lifetime),
            clients::access_token_lifetime.eq(c.access_token_lifetime),
            clients::refresh_token_lifetime.eq(c.refresh_token_lifetime),
            clients::resource_server.eq(c.permissions.resource_server),
            clients::allow_public_without_pkce.eq(c.permissions.allow_public_without_pkce),
        ))
        .execute(conn)?;
    Ok(())
}

pub(super) fn set_approval(
    conn: &mut AnyConnection,
    client_id: i64,
    approval: &Approval,
) -> Result<(), StoreError> {
    let (name, reason) = approval_columns(approval);
    diesel::update(clients::table.find(client_id))
        .set((
            clients::approval.eq(name),
            clients::rejection_reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

pub(super) fn set_client_secret(
    conn: &mut AnyConnection,
    client_id: i64,
    secret_hash: Option<String>,
) -> Result<(), StoreError> {
    diesel::update(clients::table.find(client_id))
        .set(clients::secret_hash.eq(secret_hash))
        .execute(conn)?;
    Ok(())
}

pub(super) fn delete_client(conn: &mut AnyConnection, client_id: i64) -> Result<(), StoreError> {
    // Foreign keys cascade to codes, tokens, consents, pending requests, profile and members.
    diesel::delete(clients::table.find(client_id)).execute(conn)?;
    Ok(())
}

pub(super) fn client_profile(
    conn: &mut AnyConnection,
    client_id: i64,
) -> Result<Option<ClientProfile>, StoreError> {
    Ok(client_profiles::table
        .find(client_id)
        .select((
            client_profiles::description,
            client_profiles::logo_url,
            client_profiles::homepage_url,
            client_profiles::privacy_url,
            client_profiles::terms_agreed_at,
        ))
        .first::<(String, String, String, String, Option<i64>)>(conn)
        .optional()?
        .map(
            |(description, logo_url, homepage_url, privacy_url, terms_agreed_at)| ClientProfile {
                client_id,
                description,
                logo_url,
                homepage_url,
                privacy_url,
                terms_agreed_at,
            },
        ))
}

pub(super) fn save_client_profile(
    conn: &mut AnyConnection,
    p: &ClientProfile,
) -> Result<(), StoreError> {
    let now = crate::core::now();
    // No upsert through MultiConnection: update, and insert when nothing was there.
    let updated = diesel::update(client_profiles::table.find(p.client_id))
        .set((
            client_profiles::description.eq(&p.description),
            client_profiles::logo_url.eq(&p.logo_url),
            client_profiles::homepage_url.eq(&p.homepage_url),
            client_profiles::privacy_url.eq(&p.privacy_url),
            client_profiles::terms_agreed_at.eq(p.terms_agreed_at),
            client_profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(client_profiles::table)
            .values((
                client_profiles::client_id.eq(p.client_id),
                client_profiles::description.eq(&p.description),
                client_profiles::logo_url.eq(&p.logo_url),
                client_profiles::homepage_url.eq(&p.homepage_url),
                client_profiles::privacy_url.eq(&p.privacy_url),
                client_profiles::terms_agreed_at.eq(p.terms_agreed_at),
                client_profiles::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub(super) fn register_app(
    conn: &mut AnyConnection,
    c: &NewClient,
    profile: &ClientProfile,
) -> Result<Client, StoreError> {
    conn.transaction(|conn| {
        let (approval, reason) = approval_columns(&c.approval);
        let id: i64 = diesel::insert_into(clients::table)
            .values((
                clients::client_id.eq(&c.client_id),
                clients::secret_hash.eq(&c.secret_hash),
                clients::name.eq(&c.name),
                clients::client_type.eq(c.client_type.as_str()),
                clients::grant_types.eq(grant_types_column(&c.grant_types)),
                clients::redirect_uris.eq(c.redirect_uris.join(" ")),
                clients::scopes.eq(c.scopes.to_string()),
                clients::approval.eq(approval),
                clients::rejection_reason.eq(reason),
                clients::code_lifetime.eq(c.code_lifetime),
                clients::access_token_lifetime.eq(c.access_token_lifetime),
                clients::refresh_token_lifetime.eq(c.refresh_token_lifetime),
                clients::owner_id.eq(c.owner_id),
                clients::created_at.eq(crate::core::now()),
                clients::resource_server.eq(c.permissions.resource_server),
                clients::allow_public_without_pkce.eq(c.permissions.allow_public_without_pkce),
            ))
            .returning(clients::id)
            .get_result(conn)?;
        save_client_profile(
            conn,
            &ClientProfile {
                client_id: id,
                ..profile.clone()
            },
        )?;
        clients::table
            .find(id)
            .select(ClientRow::as_select())
            .first(conn)
            .map_err(StoreError::from)
            .and_then(Client::try_from)
    })
}

pub(super) fn client_members(
    conn: &mut AnyConnection,
    client_id: i64,
) -> Result<Vec<Member>, StoreError> {
    Ok(client_members::table
        .inner_join(users::table)
        .filter(client_members::client_id.eq(client_id))
        .order(users::username)
        .select((users::id, users::username))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(user_id, username)| Member { user_id, username })
        .collect())
}

pub(super) fn add_client_member(
    conn: &mut AnyConnection,
    client_id: i64,
    user_id: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(client_members::table)
        .values((
            client_members::client_id.eq(client_id),
            client_members::user_id.eq(user_id),
            client_members::created_at.eq(crate::core::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub(super) fn remove_client_member(
    conn: &mut AnyConnection,
    client_id: i64,
    user_id: i64,
) -> Result<(), StoreError> {
    diesel::delete(
        client_members::table
            .filter(client_members::client_id.eq(client_id))
            .filter(client_members::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

pub(super) fn save_scope(
    conn: &mut AnyConnection,
    name: &str,
    description: &str,
) -> Result<(), StoreError> {
    let updated = diesel::update(scopes::table.filter(scopes::name.eq(name)))
        .set(scopes::description.eq(description))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(scopes::table)
            .values((
                scopes::name.eq(name),
                scopes::description.eq(description),
                scopes::from_code.eq(false),
                scopes::created_at.eq(crate::core::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub(super) fn list_users(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<User>, StoreError> {
    let p = pattern(&q.search);
    let filter = matching!(p, users::username, users::email);
    let total: i64 = users::table
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    let items = users::table
        .filter(filter)
        .order(users::username)
        .offset(q.offset)
        .limit(q.limit)
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(User::from)
        .collect();
    Ok(Page { items, total })
}

pub(super) fn set_user_flags(
    conn: &mut AnyConnection,
    user_id: i64,
    is_active: bool,
    is_superuser: bool,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(user_id))
        .set((
            users::is_active.eq(is_active),
            users::is_superuser.eq(is_superuser),
        ))
        .execute(conn)?;
    Ok(())
}

pub(super) fn set_user_password(
    conn: &mut AnyConnection,
    user_id: i64,
    password_hash: &str,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(password_hash))
            .execute(conn)?;
        // A reset password must not leave a thief's session signed in.
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        Ok(())
    })
}

pub(super) fn list_codes(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<CodeSummary>, StoreError> {
    let p = pattern(&q.search);
    let filter = matching!(
        p,
        users::username,
        users::email,
        clients::name,
        clients::client_id
    );
    let total: i64 = auth_codes::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    type Row = (
        i64,
        i64,
        String,
        String,
        i64,
        String,
        String,
        i64,
        i64,
        Option<i64>,
    );
    let rows: Vec<Row> = auth_codes::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(filter)
        .order(auth_codes::id.desc())
        .offset(q.offset)
        .limit(q.limit)
        .select((
            auth_codes::id,
            auth_codes::client_id,
            clients::client_id,
            clients::name,
            auth_codes::user_id,
            users::username,
            auth_codes::scope,
            auth_codes::created_at,
            auth_codes::expires_at,
            auth_codes::used_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| CodeSummary {
            id: r.0,
            client_id: r.1,
            client_public_id: r.2,
            client_name: r.3,
            user_id: r.4,
            username: r.5,
            scope: r.6,
            created_at: r.7,
            expires_at: r.8,
            used_at: r.9,
        })
        .collect();
    Ok(Page { items, total })
}

pub(super) fn list_tokens(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<TokenSummary>, StoreError> {
    let p = pattern(&q.search);
    // Tokens of client_credentials have no user, hence the left join and the nullable match.
    let filter =
        matching!(p, clients::name, clients::client_id).or(lower_n(users::username.nullable())
            .like(p.clone())
            .escape('\\'));
    let total: i64 = tokens::table
        .inner_join(clients::table)
        .left_join(users::table)
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    type Row = (
        i64,
        String,
        i64,
        String,
        String,
        Option<i64>,
        Option<String>,
        String,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = tokens::table
        .inner_join(clients::table)
        .left_join(users::table)
        .filter(filter)
        .order(tokens::id.desc())
        .offset(q.offset)
        .limit(q.limit)
        .select((
            tokens::id,
            tokens::kind,
            tokens::client_id,
            clients::client_id,
            clients::name,
            tokens::user_id,
            users::username.nullable(),
            tokens::scope,
            tokens::created_at,
            tokens::expires_at,
            tokens::used_at,
            tokens::revoked_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| TokenSummary {
            id: r.0,
            kind: r.1,
            client_id: r.2,
            client_public_id: r.3,
            client_name: r.4,
            user_id: r.5,
            username: r.6.unwrap_or_default(),
            scope: r.7,
            created_at: r.8,
            expires_at: r.9,
            used_at: r.10,
            revoked_at: r.11,
        })
        .collect();
    Ok(Page { items, total })
}

pub(super) fn revoke_code(conn: &mut AnyConnection, code_id: i64) -> Result<u64, StoreError> {
    let n = diesel::delete(
        auth_codes::table
            .find(code_id)
            .filter(auth_codes::used_at.is_null()),
    )
    .execute(conn)?;
    Ok(count(n))
}

pub(super) fn list_consents(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<ConsentSummary>, StoreError> {
    let p = pattern(&q.search);
    let filter = matching!(
        p,
        users::username,
        users::email,
        clients::name,
        clients::client_id
    );
    let total: i64 = consents::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    let rows: Vec<(i64, i64, String, i64, String, String, i64)> = consents::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(filter)
        .order(consents::updated_at.desc())
        .offset(q.offset)
        .limit(q.limit)
        .select((
            consents::id,
            consents::client_id,
            clients::name,
            consents::user_id,
            users::username,
            consents::scope,
            consents::updated_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| ConsentSummary {
            id: r.0,
            client_id: r.1,
            client_name: r.2,
            user_id: r.3,
            username: r.4,
            scope: r.5,
            updated_at: r.6,
        })
        .collect();
    Ok(Page { items, total })
}

pub(super) fn withdraw_consent(
    conn: &mut AnyConnection,
    consent_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    // The delete comes first (and commits), so no pass below races a lookup of the consent.
    let found: Option<(i64, i64)> = diesel::delete(consents::table.find(consent_id))
        .returning((consents::user_id, consents::client_id))
        .get_result(conn)
        .optional()?;
    let Some((user_id, client_id)) = found else {
        return Ok(0);
    };
    revoke_all(conn, &Owner::Consent { user_id, client_id }, now)
}

pub(super) fn audit(
    conn: &mut AnyConnection,
    e: &NewAuditEntry,
    now: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(e.actor_id),
            audit_log::actor.eq(&e.actor),
            audit_log::action.eq(&e.action),
            audit_log::target.eq(&e.target),
            audit_log::detail.eq(&e.detail),
            audit_log::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub(super) fn list_audit(
    conn: &mut AnyConnection,
    q: &ListQuery,
) -> Result<Page<AuditEntry>, StoreError> {
    let p = pattern(&q.search);
    let filter = matching!(p, audit_log::actor, audit_log::action, audit_log::target);
    let total: i64 = audit_log::table
        .filter(filter.clone())
        .count()
        .get_result(conn)?;
    let rows: Vec<(i64, String, String, String, String, i64)> = audit_log::table
        .filter(filter)
        .order(audit_log::id.desc())
        .offset(q.offset)
        .limit(q.limit)
        .select((
            audit_log::id,
            audit_log::actor,
            audit_log::action,
            audit_log::target,
            audit_log::detail,
            audit_log::created_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.0,
            actor: r.1,
            action: r.2,
            target: r.3,
            detail: r.4,
            at: r.5,
        })
        .collect();
    Ok(Page { items, total })
}

pub(super) fn claim_submission(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    now: i64,
) -> Result<Submission, StoreError> {
    let inserted = diesel::insert_into(form_submissions::table)
        .values((
            form_submissions::nonce_hash.eq(nonce_hash),
            form_submissions::created_at.eq(now),
        ))
        .execute(conn)
        .map_err(StoreError::from);
    match inserted {
        Ok(_) => {
            // Nonces matter only while a form page may still be submitted; a day is plenty.
            // Every instance may run this at once: deleting old rows twice is harmless.
            diesel::delete(
                form_submissions::table.filter(form_submissions::created_at.lt(now - 86_400)),
            )
            .execute(conn)?;
            Ok(Submission::First)
        }
        // The unique index decides: whoever inserted first does the work.
        Err(StoreError::Conflict(_)) => {
            let result: String = form_submissions::table
                .filter(form_submissions::nonce_hash.eq(nonce_hash))
                .select(form_submissions::result)
                .first(conn)?;
            Ok(Submission::Repeated(result))
        }
        Err(e) => Err(e),
    }
}

pub(super) fn finish_submission(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    result: &str,
) -> Result<(), StoreError> {
    diesel::update(form_submissions::table.filter(form_submissions::nonce_hash.eq(nonce_hash)))
        .set(form_submissions::result.eq(result))
        .execute(conn)?;
    Ok(())
}
