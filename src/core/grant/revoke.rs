//! Token revocation (RFC 7009 §2.1).

use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::inspect::TokenAsker;
use crate::core::lifecycle::Revoker;
use crate::core::model::Client;
use crate::core::params::Params;
use crate::core::secret::hash_secret;
use crate::core::store::prelude::*;

/// Revokes the `token` of an authenticated client. Who may revoke what is
/// [`TokenAsker`]'s rule: an unapproved client is `invalid_client`; another client's token
/// (unless the asker is a resource server) is left alone and answered like an unknown one. An
/// unknown, expired or already revoked token is not an error (§2.2: the client cannot do
/// anything about it). A refresh token takes every token of its grant with it (§2.1 SHOULD).
/// `hint_required` is Omniport's stricter spelling.
pub async fn revoke(
    store: &dyn Store,
    client: &Client,
    params: &Params,
    hint_required: bool,
    now: i64,
) -> Result<(), OAuthError> {
    let asker = TokenAsker::revoking(client)?;
    let presented = params.require("token")?;
    match params.get("token_type_hint") {
        // The hint only speeds a lookup up; one table holds both kinds, so it is checked and
        // otherwise not needed (§2.1: the server must search all types anyway).
        Some("access_token" | "refresh_token") => {}
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedTokenType,
                format!(
                    "token_type_hint `{other}` is not supported: use access_token or refresh_token"
                ),
            ));
        }
        None if hint_required => {
            return Err(OAuthError::invalid_request(
                "missing parameter `token_type_hint` (access_token or refresh_token)",
            ));
        }
        None => {}
    }
    let store_failed = |e: crate::core::store::StoreError| {
        tracing::error!(error = %e, "storage failed during revocation");
        OAuthError::server_error()
    };
    let Some(token) = store
        .token_by_hash(&hash_secret(presented))
        .await
        .map_err(store_failed)?
    else {
        return Ok(());
    };
    if !asker.may_access(&token) {
        // Answered as for an unknown token, so the asker learns nothing about other clients'
        // tokens; the token stays valid.
        tracing::info!(client = %client.client_id, "revocation of another client's token ignored (not a resource server)");
        return Ok(());
    }
    let revoked = store
        .revoke_token(token.id, now, Revoker::Client(client.client_id.clone()))
        .await
        .map_err(store_failed)?;
    tracing::info!(client = ?client.client_id, kind = token.kind.as_str(), revoked, "token revoked");
    Ok(())
}
