//! Who may ask about a token: the one rule introspection (RFC 7662 §2.1, §4) and revocation
//! (RFC 7009 §2.1) share, on the standard endpoints and every compatibility route.
//!
//! - Only approved clients may ask at all; a pending or rejected client is `invalid_client`
//!   (401), so an app still waiting for approval learns nothing about anyone's tokens.
//! - An approved client may introspect and revoke the tokens issued to itself.
//! - Any token only when an administrator made the client a resource server
//!   ([`ClientPermissions::resource_server`](crate::core::model::ClientPermissions)).
//!
//! Anything else is treated as if the token did not exist: introspection says
//! `{"active": false}`, revocation answers 200 and changes nothing.

use std::sync::Arc;

use crate::core::cache::Caches;
use crate::core::error::OAuthError;
use crate::core::model::{Approval, Client, ClientType, Token};
use crate::core::store::StoreError;
use crate::core::store::prelude::*;
use crate::core::token::ActiveToken;

/// An approved client asking about tokens. Only [`TokenAsker::introspecting`] and
/// [`TokenAsker::revoking`] make one, so holding one proves the approval check ran.
#[derive(Debug, Clone, Copy)]
pub struct TokenAsker<'a> {
    client: &'a Client,
}

impl<'a> TokenAsker<'a> {
    fn approved(client: &'a Client) -> Result<Self, OAuthError> {
        match client.approval {
            Approval::Approved => Ok(Self { client }),
            Approval::Pending | Approval::Rejected(_) => Err(OAuthError::invalid_client(
                "this client has not been approved by the administrators",
            )),
        }
    }

    /// An authenticated client that wants to introspect: approved and confidential (a public
    /// client proves nothing when it names itself, so it could ask as anyone).
    pub fn introspecting(client: &'a Client) -> Result<Self, OAuthError> {
        if client.client_type != ClientType::Confidential {
            return Err(OAuthError::invalid_client(
                "introspection is for confidential clients",
            ));
        }
        Self::approved(client)
    }

    /// An authenticated client that wants to revoke: approved (public clients may revoke their
    /// own tokens, RFC 7009 §2.1).
    pub fn revoking(client: &'a Client) -> Result<Self, OAuthError> {
        Self::approved(client)
    }

    /// The client asking.
    pub fn client(&self) -> &'a Client {
        self.client
    }

    /// True when this client may see or revoke `token`: its own, or any token for a resource
    /// server. Only a confidential client can act as one: a public client is named, never
    /// proven, so anyone could speak for it.
    pub fn may_access(&self, token: &Token) -> bool {
        token.client_id == self.client.id
            || (self.client.permissions.resource_server
                && self.client.client_type == ClientType::Confidential)
    }

    /// The active token behind `presented`, if there is one and this client may see it;
    /// `None` reads as `{"active": false}`.
    pub async fn active_token(
        &self,
        caches: &Caches,
        store: &dyn Store,
        presented: &str,
        now: i64,
    ) -> Result<Option<Arc<ActiveToken>>, StoreError> {
        let found = caches.find_active(store, presented, now).await?;
        Ok(found.filter(|active| {
            let allowed = self.may_access(&active.token);
            if !allowed {
                tracing::info!(
                    client = %self.client.client_id,
                    "introspection of another client's token refused (not a resource server)"
                );
            }
            allowed
        }))
    }
}
