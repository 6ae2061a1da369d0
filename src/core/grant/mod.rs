//! Grant handlers: each takes validated inputs and a store, and returns tokens or an error.
//! [`issue`] is the token endpoint's dispatch among them.

pub mod authorize;
pub mod client_auth;
pub mod client_credentials;
pub mod code;
pub mod inspect;
pub mod password;
pub mod refresh;
pub mod revoke;

use serde::Serialize;

use super::error::{ErrorCode, OAuthError};
use super::model::{AccessTokenFormat, Client, GrantType, Lifetimes, NewToken, TokenKind, User};
use super::oidc::{Authentication, ID_TOKEN_LIFETIME, IdTokens};
use super::params::Params;
use super::scope::ScopeSet;
use super::secret::{PasswordGate, generate_token, hash_secret};
use super::store::StoreError;
use super::store::prelude::*;
use super::throttle::Throttle;

/// The successful token response of RFC 6749 §5.1, in the field order the seeds show.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until the access token expires, exactly as enforced.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The granted scope, space-separated.
    pub scope: String,
    /// A refresh token, for grants that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The OpenID Connect ID token, when the code was for an `openid` request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Whom issued tokens act for.
#[derive(Debug, Clone)]
pub enum Owner {
    /// The client itself (client_credentials).
    Client,
    /// A user the grant loaded anyway (the password grant checked them).
    User(User),
    /// A user known by storage key only (a code or a refresh token names them); loaded only
    /// when asked for, so the standard endpoint pays no query for it.
    UserId(i64),
}

/// What a grant issued: the response for the client, and whom the tokens act for, which a
/// compatibility route may describe (onesait's `authorities`).
#[derive(Debug)]
pub struct Issued {
    /// The RFC 6749 §5.1 response.
    pub tokens: TokenResponse,
    /// The resource owner, or the client acting for itself.
    pub owner: Owner,
}

impl Issued {
    /// The user the tokens act for, if still active (inactive users have no active tokens);
    /// `None` for a client's own tokens. Queries the store only for [`Owner::UserId`].
    pub async fn user<S: AccountStore + ?Sized>(
        &self,
        store: &S,
    ) -> Result<Option<User>, StoreError> {
        Ok(match &self.owner {
            Owner::Client => None,
            Owner::User(user) => Some(user.clone()),
            Owner::UserId(id) => store.user_by_id(*id).await?.filter(|u| u.is_active),
        })
    }
}

/// The server's side of a token request: its settings, the password gate, and the caller's
/// address (for the password grant's throttle).
#[derive(Debug, Clone, Copy)]
pub struct TokenEndpoint<'a> {
    /// Server-wide lifetimes; a client's own override them.
    pub lifetimes: Lifetimes,
    /// The refresh grant's reuse window.
    pub reuse_grace: refresh::ReuseGrace,
    /// The password grant's throttle (shared with `/login`).
    pub password_throttle: Throttle,
    /// The bound on password hashes in flight.
    pub password_gate: &'a PasswordGate,
    /// The caller's address.
    pub client_ip: &'a str,
    /// The issuer and keys ID tokens are signed with.
    pub id_tokens: IdTokens<'a>,
    /// Unix seconds.
    pub now: i64,
}

/// The token endpoint (RFC 6749 §3.2) for an authenticated client: runs the grant named by
/// `grant_type`. A missing one is `invalid_request`; one that is not a token-endpoint grant
/// (`implicit` included) is `unsupported_grant_type`.
pub async fn issue<S: AccountStore + GrantStore + ?Sized>(
    store: &S,
    endpoint: TokenEndpoint<'_>,
    client: &Client,
    params: &Params,
) -> Result<Issued, OAuthError> {
    let TokenEndpoint { lifetimes, now, .. } = endpoint;
    let raw = params.get("grant_type").unwrap_or("");
    let result = match GrantType::parse(raw) {
        Some(GrantType::AuthorizationCode) => {
            code::exchange(store, client, params, lifetimes, endpoint.id_tokens, now).await
        }
        Some(GrantType::RefreshToken) => {
            let grace = endpoint.reuse_grace;
            refresh::refresh(
                store,
                client,
                params,
                lifetimes,
                grace,
                endpoint.id_tokens,
                now,
            )
            .await
        }
        Some(GrantType::ClientCredentials) => {
            client_credentials::grant(store, client, params, lifetimes, endpoint.id_tokens, now)
                .await
        }
        Some(GrantType::Password) => {
            password::grant(
                store,
                endpoint.password_gate,
                client,
                params,
                lifetimes,
                endpoint.password_throttle,
                endpoint.client_ip,
                endpoint.id_tokens,
                now,
            )
            .await
        }
        None if raw.is_empty() => Err(OAuthError::invalid_request(
            "missing parameter `grant_type`",
        )),
        Some(GrantType::Implicit) | None => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type `{raw}` is not supported"),
        )),
    };
    match &result {
        Ok(issued) => {
            tracing::info!(grant = ?raw, client = ?client.client_id, scope = ?issued.tokens.scope, outcome = "issued", "grant decision");
        }
        Err(e) => {
            tracing::info!(grant = ?raw, client = ?client.client_id, outcome = e.code.as_str(), "grant decision");
        }
    }
    result
}

/// Freshly minted tokens: the response for the client and the rows for the store.
#[derive(Debug)]
pub struct Minted {
    /// What the client receives.
    pub response: TokenResponse,
    /// The access token row.
    pub access: NewToken,
    /// The refresh token row, when one is issued.
    pub refresh: Option<NewToken>,
}

/// What a token grants, as handed to `mint`.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The client the tokens are for.
    pub client: &'a Client,
    /// The resource owner, if any.
    pub user_id: Option<i64>,
    /// Scope of the access token.
    pub scope: ScopeSet,
    /// Scope of the refresh token (RFC 6749 §6: unchanged on refresh). Ignored, and no refresh
    /// token minted, when the client does not hold the `refresh_token` grant.
    pub refresh_scope: Option<ScopeSet>,
    /// The family the tokens join.
    pub grant_id: String,
    /// When the user signed in for this grant (the code flow), kept on its tokens so a
    /// refresh's ID token says the same.
    pub auth_time: Option<i64>,
    /// The resource the tokens are for (RFC 8707), kept on both so a refresh keeps it.
    pub resource: Option<String>,
}

/// Mints an access token, and a refresh token when `grant.refresh_scope` is set and the client
/// holds the `refresh_token` grant: every grant mints here, so no client without that grant is
/// ever issued a refresh token, and every access token has the client's format. A JWT access
/// token is stored by its hash like an opaque one, so this server's own guard, introspection
/// and revocation treat both alike.
pub fn mint(
    grant: Grant<'_>,
    lifetimes: Lifetimes,
    signer: IdTokens<'_>,
    now: i64,
) -> Result<Minted, OAuthError> {
    let refresh_scope = grant
        .refresh_scope
        .filter(|_| grant.client.allows(GrantType::RefreshToken));
    let mut access = NewToken {
        token_hash: String::new(),
        kind: TokenKind::Access,
        client_id: grant.client.id,
        user_id: grant.user_id,
        scope: grant.scope.clone(),
        grant_id: grant.grant_id.clone(),
        created_at: now,
        expires_at: now.saturating_add(lifetimes.access),
        auth_time: grant.auth_time,
        resource: grant.resource.clone(),
    };
    let access_token = match grant.client.tokens.access {
        AccessTokenFormat::Opaque => generate_token(),
        AccessTokenFormat::Jwt => signer
            .sign_access_token(grant.client, &access, &generate_token())
            .map_err(|e| {
                tracing::error!(error = %e, client = ?grant.client.client_id, "no JWT access token could be signed (is key_encryption_key set?)");
                OAuthError::server_error()
            })?,
    };
    access.token_hash = hash_secret(&access_token);
    let (refresh_token, refresh) = match refresh_scope {
        Some(scope) => {
            let token = generate_token();
            let row = NewToken {
                token_hash: hash_secret(&token),
                kind: TokenKind::Refresh,
                client_id: grant.client.id,
                user_id: grant.user_id,
                scope,
                grant_id: grant.grant_id,
                created_at: now,
                expires_at: now.saturating_add(lifetimes.refresh),
                auth_time: grant.auth_time,
                resource: grant.resource,
            };
            (Some(token), Some(row))
        }
        None => (None, None),
    };
    Ok(Minted {
        response: TokenResponse {
            access_token,
            expires_in: lifetimes.access,
            token_type: "Bearer",
            scope: grant.scope.to_string(),
            refresh_token,
            id_token: None,
        },
        access,
        refresh,
    })
}

/// The ID token for `auth`, or `server_error` (logged) when none can be signed: a client that
/// asked for `openid` never gets tokens without one.
pub(super) fn signed_id_token(
    id_tokens: IdTokens<'_>,
    auth: &Authentication<'_>,
    now: i64,
) -> Result<String, OAuthError> {
    id_tokens.sign(auth, ID_TOKEN_LIFETIME, now).map_err(|e| {
        tracing::error!(error = %e, "no ID token could be signed");
        OAuthError::server_error()
    })
}

/// The `resource` of a request (RFC 8707 §2): absent, or one absolute URI without a fragment;
/// anything else is `invalid_target`. A repeated `resource` is refused with the other repeated
/// parameters, so each token is for one resource.
pub fn requested_resource(params: &Params) -> Result<Option<String>, OAuthError> {
    let Some(raw) = params.get("resource") else {
        return Ok(None);
    };
    match url::Url::parse(raw) {
        Ok(url) if url.fragment().is_none() && !url.cannot_be_a_base() => Ok(Some(raw.to_owned())),
        _ => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "`resource` must be an absolute URI without a fragment (RFC 8707)",
        )),
    }
}

/// The resource of tokens that continue a grant (a code, a refresh token) made for `granted`:
/// the one requested now may repeat it, never change it.
pub fn continued_resource(
    granted: Option<&str>,
    params: &Params,
) -> Result<Option<String>, OAuthError> {
    match (granted, requested_resource(params)?) {
        (Some(granted), Some(asked)) if granted != asked => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "`resource` differs from the one this grant was made for",
        )),
        (Some(granted), _) => Ok(Some(granted.to_owned())),
        (None, asked) => Ok(asked),
    }
}

/// Logs a storage failure and turns it into `server_error`: the client learns nothing about the
/// database, the operator reads the detail in the log.
pub fn store_failed(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "storage failed during a grant");
    OAuthError::server_error()
}

/// A new random family id.
pub fn new_grant_id() -> String {
    generate_token()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mem_store::{MemStore, client, params, user};
    use crate::core::model::NewCode;

    fn endpoint(gate: &PasswordGate) -> TokenEndpoint<'_> {
        TokenEndpoint {
            lifetimes: Lifetimes::default(),
            reuse_grace: refresh::ReuseGrace {
                window: 0,
                max_reuses: 0,
            },
            password_throttle: Throttle {
                per_user: 5,
                per_ip: 20,
                window: 60,
            },
            password_gate: gate,
            client_ip: "192.0.2.1",
            id_tokens: IdTokens {
                issuer: "https://issuer.test",
                keys: None,
                subjects: &crate::core::oidc::Subjects::PUBLIC_ONLY,
            },
            now: 1_000,
        }
    }

    #[tokio::test]
    async fn the_dispatch_refuses_grant_types_the_token_endpoint_does_not_serve() {
        let store = MemStore::default();
        let gate = PasswordGate::new(1);
        for grant_type in [
            "implicit",
            "urn:ietf:params:oauth:grant-type:device_code",
            "Password",
        ] {
            let asked = params(&[("grant_type", grant_type)]);
            let refused = issue(&store, endpoint(&gate), &client(1), &asked).await;
            let code = refused.err().map(|e| e.code);
            assert_eq!(code, Some(ErrorCode::UnsupportedGrantType), "{grant_type}");
        }
        let missing = issue(&store, endpoint(&gate), &client(1), &params(&[])).await;
        assert_eq!(
            missing.err().map(|e| e.code),
            Some(ErrorCode::InvalidRequest)
        );
        assert!(store.tokens().is_empty(), "nothing was issued");
    }

    #[tokio::test]
    async fn client_credentials_tokens_act_for_the_client_itself() {
        let store = MemStore::default();
        let gate = PasswordGate::new(1);
        let asked = params(&[("grant_type", "client_credentials"), ("scope", "a")]);
        let issued = issue(&store, endpoint(&gate), &client(1), &asked).await;
        let Ok(issued) = issued else {
            panic!("refused: {issued:?}");
        };
        assert!(matches!(issued.owner, Owner::Client));
        assert_eq!(issued.tokens.scope, "a");
        assert!(issued.tokens.refresh_token.is_none(), "RFC 6749 §4.4.3");
        assert!(matches!(issued.user(&store).await, Ok(None)));
        assert_eq!(store.tokens().len(), 1);
    }

    #[tokio::test]
    async fn a_code_exchange_carries_the_user_who_approved_it() {
        let store = MemStore::default().with_user(user(7));
        let app = client(1);
        let code = generate_token();
        let stored = store
            .create_code(NewCode {
                code_hash: hash_secret(&code),
                client_id: app.id,
                user_id: 7,
                redirect_uri: app.redirect_uris[0].clone(),
                redirect_uri_given: false,
                scope: app.scopes.clone(),
                pkce: None,
                grant_id: new_grant_id(),
                expires_at: 1_060,
                nonce: None,
                auth_time: 1_000,
                resource: None,
            })
            .await;
        assert!(stored.is_ok());
        let gate = PasswordGate::new(1);
        let asked = params(&[("grant_type", "authorization_code"), ("code", &code)]);
        let Ok(issued) = issue(&store, endpoint(&gate), &app, &asked).await else {
            panic!("the code was refused");
        };
        assert!(matches!(issued.owner, Owner::UserId(7)));
        let owner = issued.user(&store).await.ok().flatten().map(|u| u.id);
        assert_eq!(owner, Some(7));
        store.set_active(7, false);
        let owner = issued.user(&store).await.ok().flatten();
        assert!(owner.is_none(), "an inactive user owns no active token");

        let again = issue(&store, endpoint(&gate), &app, &asked).await;
        assert_eq!(again.err().map(|e| e.code), Some(ErrorCode::InvalidGrant));
        let revoked = store.tokens().iter().all(|t| t.revoked_at.is_some());
        assert!(revoked, "a replayed code revokes what it issued");
        let actions: Vec<_> = store.events().into_iter().map(|(a, _)| a).collect();
        assert_eq!(
            actions,
            [
                "token.issued",
                "token.reuse_detected",
                "token.family_revoked"
            ],
            "the issuance, the replay and its revocation are each on record"
        );
    }
}
