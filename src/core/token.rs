//! Tokens as resource servers and introspection see them: whether a presented token is active
//! now, with its client and user, and the RFC 7662 description of one.

use std::sync::Arc;

use serde::Serialize;

use super::model::{Approval, Client, Token, TokenKind, User};
use super::oidc::Subjects;
use super::secret::hash_secret;
use super::store::StoreError;
use super::store::prelude::*;

/// A token that is valid now, with the client and user it belongs to.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// The stored token.
    pub token: Token,
    /// Its client (shared with the client cache and other tokens of the client).
    pub client: Arc<Client>,
    /// Its user, for user-bound grants (shared with other tokens of the user).
    pub user: Option<Arc<User>>,
}

/// Finds the token behind a presented value if it is active now: known, unexpired, unrevoked,
/// not rotated away, its client approved, and its user still active.
pub async fn find_active<S: AccountStore + ClientStore + GrantStore + ?Sized>(
    store: &S,
    presented: &str,
    now: i64,
) -> Result<Option<ActiveToken>, StoreError> {
    let Some(token) = store.token_by_hash(&hash_secret(presented)).await? else {
        return Ok(None);
    };
    if !token.is_active(now) {
        return Ok(None);
    }
    // A client that is not (or no longer) approved has no valid tokens, whichever path
    // rejected it.
    let Some(client) = store
        .client_by_id(token.client_id)
        .await?
        .filter(|c| c.approval == Approval::Approved)
    else {
        return Ok(None);
    };
    let user = match token.user_id {
        Some(id) => match store.user_by_id(id).await? {
            Some(user) if user.is_active => Some(Arc::new(user)),
            _ => return Ok(None),
        },
        None => None,
    };
    Ok(Some(ActiveToken {
        token,
        client: Arc::new(client),
        user,
    }))
}

/// The RFC 7662 §2.2 introspection response.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    /// Whether the token is usable now.
    pub active: bool,
    /// Granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The resource owner's username; left out for a client with pairwise subjects, whose
    /// users it would name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Subject: the user as the token's client sees them ([`Subjects::of`], so pairwise for a
    /// pairwise client), or the client_id for a client's own token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience: the resource the token is for (RFC 8707), else the client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer, as in the metadata document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl Introspection {
    /// The RFC 7662 description of an active token; `subjects` name its user.
    pub fn of(active: &ActiveToken, issuer: String, subjects: &Subjects) -> Self {
        let pairwise = active.client.pairwise();
        let sub = match &active.user {
            Some(u) => subjects.of(&active.client, u.id).ok(),
            None => Some(active.client.client_id.clone()),
        };
        Introspection {
            active: true,
            scope: Some(active.token.scope.to_string()),
            aud: Some(
                active
                    .token
                    .resource
                    .clone()
                    .unwrap_or_else(|| active.client.client_id.clone()),
            ),
            client_id: Some(active.client.client_id.clone()),
            username: active
                .user
                .as_ref()
                .filter(|_| !pairwise)
                .map(|u| u.username.clone()),
            token_type: Some(match active.token.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            }),
            exp: Some(active.token.expires_at),
            iat: Some(active.token.created_at),
            sub,
            iss: Some(issuer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mem_store::{MemStore, client, user};
    use crate::core::model::{GrantType, NewToken};
    use crate::core::scope::ScopeSet;

    const NOW: i64 = 1_000;

    async fn stored(store: &MemStore, presented: &str, client_id: i64, user_id: Option<i64>) {
        let token = NewToken {
            token_hash: hash_secret(presented),
            kind: TokenKind::Access,
            client_id,
            user_id,
            scope: ScopeSet::from_iter(["a"]),
            grant_id: "family".into(),
            created_at: NOW - 10,
            expires_at: NOW + 10,
            auth_time: None,
            resource: None,
        };
        let issued = store.issue_tokens(token, None, GrantType::Password).await;
        assert!(issued.is_ok());
    }

    #[tokio::test]
    async fn a_token_is_active_with_an_approved_client_and_an_active_user() {
        let pending = Client {
            approval: Approval::Pending,
            ..client(2)
        };
        let store = MemStore::default()
            .with_user(user(7))
            .with_client(client(1))
            .with_client(pending);
        stored(&store, "users", 1, Some(7)).await;
        stored(&store, "clients-own", 1, None).await;
        stored(&store, "unapproved", 2, None).await;

        let found = find_active(&store, "users", NOW).await.ok().flatten();
        let Some(active) = found else {
            panic!("the user's token is not active");
        };
        assert_eq!(active.user.as_ref().map(|u| u.id), Some(7));
        let own = find_active(&store, "clients-own", NOW).await.ok().flatten();
        assert!(own.is_some_and(|a| a.user.is_none()));

        for (presented, at) in [("unknown", NOW), ("users", NOW + 10), ("unapproved", NOW)] {
            let found = find_active(&store, presented, at).await;
            assert!(matches!(found, Ok(None)), "{presented} at {at}");
        }
        store.set_active(7, false);
        let found = find_active(&store, "users", NOW).await;
        assert!(
            matches!(found, Ok(None)),
            "an inactive user's tokens are not active"
        );
    }

    #[tokio::test]
    async fn introspection_names_the_user_or_the_client_as_subject() {
        let store = MemStore::default()
            .with_user(user(7))
            .with_client(client(1));
        stored(&store, "users", 1, Some(7)).await;
        stored(&store, "clients-own", 1, None).await;
        let issuer = || "https://auth.example".to_owned();

        let users = find_active(&store, "users", NOW).await.ok().flatten();
        let body = users.map(|a| Introspection::of(&a, issuer(), &Subjects::PUBLIC_ONLY));
        let body = serde_json::to_value(body).unwrap_or_default();
        assert_eq!(body["active"], true);
        assert_eq!(body["sub"], "7");
        assert_eq!(body["username"], "user7");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["aud"], "client-1");
        assert_eq!(
            (body["iat"].as_i64(), body["exp"].as_i64()),
            (Some(NOW - 10), Some(NOW + 10))
        );

        let own = find_active(&store, "clients-own", NOW).await.ok().flatten();
        let body = own.map(|a| Introspection::of(&a, issuer(), &Subjects::PUBLIC_ONLY));
        let body = serde_json::to_value(body).unwrap_or_default();
        assert_eq!(body["sub"], "client-1");
        assert!(body.get("username").is_none());

        let inactive = serde_json::to_value(Introspection::default()).unwrap_or_default();
        assert_eq!(
            inactive,
            serde_json::json!({ "active": false }),
            "RFC 7662 §2.2"
        );
    }
}
