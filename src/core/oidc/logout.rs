//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–§3): which client asks, and
//! where the browser may go once the user is signed out.
//!
//! The browser is only ever sent to a `post_logout_redirect_uri` the client registered, compared
//! exactly; a request that names any other, or that cannot say which client it is from, gets an
//! error page and is never redirected (§3).

use super::keys::KeySet;
use super::{audiences, verified_hint};
use crate::core::error::OAuthError;
use crate::core::model::{Approval, Client};
use crate::core::params::Params;
use crate::core::store::{ClientStore, StoreError};

/// A logout request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSession {
    /// The `client_id` of the client that asked, when the request names one.
    pub client_id: Option<String>,
    /// Its name, for the confirmation page.
    pub client_name: Option<String>,
    /// The registered `post_logout_redirect_uri` asked for, exactly as registered.
    pub post_logout_redirect_uri: Option<String>,
    /// The client's `state`, echoed on the way back.
    pub state: Option<String>,
}

/// Why a logout request is refused: shown to the user, never sent to a client.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// The request is wrong (`invalid_request`).
    #[error(transparent)]
    Invalid(#[from] OAuthError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a logout request (§2): an `id_token_hint` must be an ID token this server signed, a
/// `client_id` must be registered and agree with the hint's audience, and a
/// `post_logout_redirect_uri` needs a client (named, or the hint's only audience) that
/// registered it, approved.
pub async fn end_session<S: ClientStore + ?Sized>(
    store: &S,
    params: &Params,
    keys: Option<&KeySet>,
) -> Result<EndSession, LogoutError> {
    let invalid = |msg: &str| LogoutError::Invalid(OAuthError::invalid_request(msg));
    let audiences = match params.get("id_token_hint") {
        Some(hint) => {
            let claims = keys
                .and_then(|k| verified_hint(k, hint))
                .ok_or_else(|| invalid("id_token_hint is not an ID token this server issued"))?;
            Some(audiences(&claims))
        }
        None => None,
    };
    let named = match (params.get("client_id"), &audiences) {
        (Some(id), Some(aud)) if !aud.iter().any(|a| a == id) => {
            return Err(invalid("client_id is not the audience of id_token_hint"));
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(aud)) if aud.len() == 1 => aud.first().cloned(),
        (None, _) => None,
    };
    let client: Option<Client> = match &named {
        Some(id) => Some(
            store
                .client_by_client_id(id)
                .await?
                .ok_or_else(|| invalid("no application is registered with this client_id"))?,
        ),
        None => None,
    };
    let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = client.as_ref().ok_or_else(|| {
                invalid("post_logout_redirect_uri needs client_id or id_token_hint")
            })?;
            if client.approval != Approval::Approved {
                return Err(invalid("the application is not approved"));
            }
            if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                return Err(invalid(
                    "post_logout_redirect_uri is not registered for this application",
                ));
            }
            Some(uri.to_owned())
        }
    };
    Ok(EndSession {
        client_id: client.as_ref().map(|c| c.client_id.clone()),
        client_name: client.map(|c| c.name),
        post_logout_redirect_uri,
        state: params.get("state").map(str::to_owned),
    })
}

impl EndSession {
    /// Where to send the browser once signed out: the registered URI with `state` added to
    /// its query (§3), or `None` when the request named none.
    pub fn destination(&self) -> Option<String> {
        let mut url = url::Url::parse(self.post_logout_redirect_uri.as_deref()?).ok()?;
        if let Some(state) = &self.state {
            url.query_pairs_mut().append_pair("state", state);
        }
        Some(url.into())
    }

    /// The parameters that name this request again, for the confirmation form: the resolved
    /// client, so the answer needs no `id_token_hint`.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        out.extend(self.client_id.clone().map(|v| ("client_id", v)));
        out.extend(
            self.post_logout_redirect_uri
                .clone()
                .map(|v| ("post_logout_redirect_uri", v)),
        );
        out.extend(self.state.clone().map(|v| ("state", v)));
        out
    }
}
