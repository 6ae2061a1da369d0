//! Row types: how entities sit in the tables. They never leave this module's parent; the rest of
//! the crate sees `core::model`.

use diesel::prelude::*;

use super::schema::{auth_codes, clients, pending_authorizations, scopes, sessions, tokens, users};
use crate::core::model::{
    AccessTokenFormat, Approval, AuthCode, Client, ClientPermissions, ClientType, GrantType,
    PendingAuthorization, ResponseType, Scope, Session, SubjectType, Token, TokenKind,
    TokenOptions, User,
};
use crate::core::oidc::keys::Algorithm;
use crate::core::pkce;
use crate::core::scope::ScopeSet;
use crate::core::store::StoreError;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(super) fn parse_scope(raw: &str) -> Result<ScopeSet, StoreError> {
    raw.parse().map_err(|_| corrupt("scope", raw))
}

fn parse_pkce(
    challenge: Option<String>,
    method: Option<String>,
) -> Result<Option<(String, pkce::Method)>, StoreError> {
    match challenge {
        Some(challenge) => {
            let method = pkce::Method::parse(method.as_deref())
                .ok_or_else(|| corrupt("code_challenge_method", method.as_deref().unwrap_or("")))?;
            Ok(Some((challenge, method)))
        }
        None => Ok(None),
    }
}

/// Splits a PKCE pair into its two nullable columns.
pub(super) fn pkce_columns(
    pkce: &Option<(String, pkce::Method)>,
) -> (Option<String>, Option<String>) {
    match pkce {
        Some((challenge, method)) => (Some(challenge.clone()), Some(method.as_str().to_owned())),
        None => (None, None),
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    email: String,
    password_hash: String,
    is_superuser: bool,
    is_active: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            is_superuser: r.is_superuser,
            is_active: r.is_active,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = clients)]
pub(super) struct ClientRow {
    id: i64,
    client_id: String,
    secret_hash: Option<String>,
    name: String,
    client_type: String,
    grant_types: String,
    redirect_uris: String,
    scopes: String,
    approval: String,
    rejection_reason: Option<String>,
    code_lifetime: Option<i64>,
    access_token_lifetime: Option<i64>,
    refresh_token_lifetime: Option<i64>,
    resource_server: bool,
    allow_public_without_pkce: bool,
    skip_consent: bool,
    post_logout_redirect_uris: String,
    id_token_signed_response_alg: String,
    subject_type: String,
    access_token_format: String,
}

/// Stored names of the approval states.
pub(super) fn approval_columns(approval: &Approval) -> (&'static str, Option<String>) {
    match approval {
        Approval::Pending => ("pending", None),
        Approval::Approved => ("approved", None),
        Approval::Rejected(reason) => ("rejected", Some(reason.clone())),
    }
}

/// Grant types as stored: space-separated wire names.
pub(super) fn grant_types_column(grants: &[GrantType]) -> String {
    grants
        .iter()
        .map(|g| g.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let client_type = ClientType::parse(&r.client_type)
            .ok_or_else(|| corrupt("client_type", &r.client_type))?;
        let grant_types = r
            .grant_types
            .split_whitespace()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant type", g)))
            .collect::<Result<Vec<_>, _>>()?;
        let approval = match r.approval.as_str() {
            "pending" => Approval::Pending,
            "approved" => Approval::Approved,
            "rejected" => Approval::Rejected(r.rejection_reason.unwrap_or_default()),
            other => return Err(corrupt("approval", other)),
        };
        Ok(Client {
            id: r.id,
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            name: r.name,
            client_type,
            grant_types,
            redirect_uris: r
                .redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            post_logout_redirect_uris: r
                .post_logout_redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            tokens: TokenOptions {
                alg: Algorithm::parse(&r.id_token_signed_response_alg).ok_or_else(|| {
                    corrupt(
                        "id_token_signed_response_alg",
                        &r.id_token_signed_response_alg,
                    )
                })?,
                subject_type: SubjectType::parse(&r.subject_type)
                    .ok_or_else(|| corrupt("subject_type", &r.subject_type))?,
                access: AccessTokenFormat::parse(&r.access_token_format)
                    .ok_or_else(|| corrupt("access_token_format", &r.access_token_format))?,
            },
            scopes: parse_scope(&r.scopes)?,
            approval,
            code_lifetime: r.code_lifetime,
            access_token_lifetime: r.access_token_lifetime,
            refresh_token_lifetime: r.refresh_token_lifetime,
            permissions: ClientPermissions {
                resource_server: r.resource_server,
                allow_public_without_pkce: r.allow_public_without_pkce,
                skip_consent: r.skip_consent,
            },
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = scopes)]
pub(super) struct ScopeRow {
    name: String,
    description: String,
    from_code: bool,
}

impl From<ScopeRow> for Scope {
    fn from(r: ScopeRow) -> Self {
        Scope {
            name: r.name,
            description: r.description,
            from_code: r.from_code,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_codes)]
pub(super) struct CodeRow {
    id: i64,
    client_id: i64,
    user_id: i64,
    redirect_uri: String,
    redirect_uri_given: bool,
    scope: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    grant_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    nonce: Option<String>,
    auth_time: Option<i64>,
    resource: Option<String>,
}

impl TryFrom<CodeRow> for AuthCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        Ok(AuthCode {
            id: r.id,
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_given: r.redirect_uri_given,
            scope: parse_scope(&r.scope)?,
            pkce: parse_pkce(r.code_challenge, r.code_challenge_method)?,
            grant_id: r.grant_id,
            expires_at: r.expires_at,
            used_at: r.used_at,
            nonce: r.nonce,
            auth_time: r.auth_time,
            resource: r.resource,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub(super) struct TokenRow {
    id: i64,
    kind: String,
    client_id: i64,
    user_id: Option<i64>,
    scope: String,
    grant_id: String,
    refresh_id: Option<i64>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    auth_time: Option<i64>,
    resource: Option<String>,
}

impl TryFrom<TokenRow> for Token {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        let kind = match r.kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            other => return Err(corrupt("token kind", other)),
        };
        Ok(Token {
            id: r.id,
            kind,
            client_id: r.client_id,
            user_id: r.user_id,
            scope: parse_scope(&r.scope)?,
            grant_id: r.grant_id,
            refresh_id: r.refresh_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
            auth_time: r.auth_time,
            resource: r.resource,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub(super) struct SessionRow {
    id: i64,
    user_id: Option<i64>,
    csrf_token: String,
    expires_at: i64,
    created_at: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = pending_authorizations)]
pub(super) struct PendingRow {
    client_id: i64,
    user_id: i64,
    redirect_uri: String,
    redirect_uri_given: bool,
    scope: String,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_type: String,
    expires_at: i64,
    nonce: Option<String>,
    resource: Option<String>,
}

impl TryFrom<PendingRow> for PendingAuthorization {
    type Error = StoreError;
    fn try_from(r: PendingRow) -> Result<Self, StoreError> {
        Ok(PendingAuthorization {
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_given: r.redirect_uri_given,
            scope: parse_scope(&r.scope)?,
            state: r.state,
            pkce: parse_pkce(r.code_challenge, r.code_challenge_method)?,
            response_type: ResponseType::parse(&r.response_type)
                .ok_or_else(|| corrupt("response_type", &r.response_type))?,
            nonce: r.nonce,
            resource: r.resource,
            expires_at: r.expires_at,
        })
    }
}
