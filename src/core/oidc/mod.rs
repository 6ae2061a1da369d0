//! OpenID Connect Core 1.0: ID tokens for authentication requests (the `openid` scope), and the
//! signing keys they are signed with ([`keys`]).

pub mod keys;
pub mod logout;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use self::keys::{Algorithm, EncryptionKey, KeyError, KeySet};
use super::client_rules::sector;
use super::model::{Client, NewToken, SubjectType};

/// The scope that makes an authorization request an OpenID Connect authentication request.
pub const OPENID: &str = "openid";

/// The scopes OpenID Connect defines that this server knows (Core §5.4); the migrations install
/// them, and `syncscopes --prune` spares them (they are not from code).
pub const IDENTITY_SCOPES: [&str; 3] = [OPENID, "profile", "email"];

/// Seconds an ID token is valid. A retired signing key stays published at least this long.
pub const ID_TOKEN_LIFETIME: i64 = 3600;

/// Longest `nonce` accepted; it is stored with the code and echoed in the ID token.
pub const MAX_NONCE: usize = 512;

/// What the token endpoint needs to sign ID tokens: the issuer, the keys of the moment and the
/// subject identifiers.
#[derive(Debug, Clone, Copy)]
pub struct IdTokens<'a> {
    /// The `iss` claim: the issuer setting.
    pub issuer: &'a str,
    /// The keys; `None` when no `key_encryption_key` is set, so no key can be kept.
    pub keys: Option<&'a KeySet>,
    /// How each client names its users.
    pub subjects: &'a Subjects,
}

/// The facts an ID token states about one authentication.
#[derive(Debug, Clone)]
pub struct Authentication<'a> {
    /// The user's storage key; the `sub` is [`Subjects::of`] it.
    pub user_id: i64,
    /// The client (the audience): its `client_id`, signing algorithm and subject type.
    pub client: &'a Client,
    /// When the user signed in, unix seconds.
    pub auth_time: i64,
    /// The authentication request's `nonce`, echoed.
    pub nonce: Option<&'a str>,
    /// The access token issued beside it, for `at_hash`; `None` when there is none
    /// (`response_type=id_token`).
    pub access_token: Option<&'a str>,
    /// The authorization code issued beside it in the hybrid flow, for `c_hash`.
    pub code: Option<&'a str>,
}

/// Why no ID token could be made for a request that asked for one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// No signing key exists, or none of the client's algorithm is active yet.
    #[error("no signing key is configured: set key_encryption_key, or run rotate-keys")]
    NoKey,
    /// A pairwise client without the key pairwise subjects are made with, or whose redirect
    /// URIs name no single sector.
    #[error(
        "no pairwise subject: it needs key_encryption_key and the client's redirect URIs on one host"
    )]
    NoPairwiseSubject,
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The longest `login_hint` kept, in characters: an email address's limit (RFC 5321 §4.5.3.1).
pub const MAX_LOGIN_HINT: usize = 254;

/// The `login_hint` (Core §3.1.2.1) worth showing: a hint only pre-fills the sign-in form, so one
/// that is empty, too long or holds a control character is ignored rather than refused.
pub fn login_hint(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|h| {
        !h.is_empty() && h.chars().count() <= MAX_LOGIN_HINT && !h.chars().any(char::is_control)
    })
}

/// The longest `id_token_hint` looked at, in bytes; this server's ID tokens are far shorter.
pub const MAX_ID_TOKEN_HINT: usize = 8192;

/// The subject an `id_token_hint` (Core §3.1.2.1) names: an ID token this server signed, with a
/// key it still publishes, for `client_id`. An expired one is fine, since the hint is about a
/// past sign-in. `None` when it is anything else.
pub fn hinted_subject(keys: &KeySet, hint: &str, client_id: &str) -> Option<String> {
    let claims = verified_hint(keys, hint)?;
    if !audiences(&claims).iter().any(|a| a == client_id) {
        return None;
    }
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The claims of an `id_token_hint` this server signed, whatever its expiry.
fn verified_hint(keys: &KeySet, hint: &str) -> Option<Value> {
    (hint.len() <= MAX_ID_TOKEN_HINT)
        .then(|| keys.verify(hint))
        .flatten()
}

/// An ID token's `aud`: one string, or an array of them (Core §2).
fn audiences(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(all)) => all
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The one place a user's subject identifier (Core §2 `sub`, §8) is made, for ID tokens,
/// userinfo and the `id_token_hint` check alike.
/// - Public: the user's storage key, which neither backend ever reuses (SQLite `AUTOINCREMENT`,
///   PostgreSQL `BIGSERIAL`), so it is stable.
/// - Pairwise: HMAC-SHA256 over the client's sector (its redirect URIs' one host) and the
///   storage key, under a key derived from `key_encryption_key`; base64url. Stable per sector,
///   and clients of other sectors cannot correlate it.
#[derive(Clone)]
pub struct Subjects {
    pairwise: Option<hmac::Key>,
}

impl std::fmt::Debug for Subjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subjects")
            .field("pairwise", &self.pairwise.is_some())
            .finish()
    }
}

impl Subjects {
    /// Public subjects only: with no `key_encryption_key`, a pairwise client gets no `sub` at
    /// all (never the public one).
    pub const PUBLIC_ONLY: Subjects = Subjects { pairwise: None };

    /// Subjects with pairwise ones made under a key derived from `kek`.
    pub fn new(kek: Option<&EncryptionKey>) -> Self {
        kek.map_or(Self::PUBLIC_ONLY, |k| Self {
            pairwise: Some(k.pairwise_subject_key()),
        })
    }

    /// The `sub` of the user `user_id` as `client` sees it.
    pub fn of(&self, client: &Client, user_id: i64) -> Result<String, IdTokenError> {
        match client.tokens.subject_type {
            SubjectType::Public => Ok(user_id.to_string()),
            SubjectType::Pairwise => {
                let key = self
                    .pairwise
                    .as_ref()
                    .ok_or(IdTokenError::NoPairwiseSubject)?;
                let sector =
                    sector(&client.redirect_uris).ok_or(IdTokenError::NoPairwiseSubject)?;
                // The NUL keeps (sector, user) pairs apart: a host never contains one.
                let input = format!("{sector}\0{user_id}");
                Ok(URL_SAFE_NO_PAD.encode(hmac::sign(key, input.as_bytes())))
            }
        }
    }
}

/// `at_hash` (Core §3.1.3.6) of an access token, or `c_hash` (§3.3.2.11) of a code: the left
/// half of its hash, base64url. The hash is the ID token algorithm's: SHA-256 for RS256 and
/// ES256, and SHA-512 for EdDSA on Ed25519 (the hash Ed25519 uses; what other providers and
/// relying-party libraries agree on, since JWA names none for EdDSA).
pub fn half_hash(alg: Algorithm, value: &str) -> String {
    let token = value.as_bytes();
    match alg {
        Algorithm::Rs256 | Algorithm::Es256 => URL_SAFE_NO_PAD.encode(&Sha256::digest(token)[..16]),
        Algorithm::EdDsa => URL_SAFE_NO_PAD.encode(&Sha512::digest(token)[..32]),
    }
}

impl IdTokens<'_> {
    /// The signed ID token (Core §2) for `auth`, valid for `lifetime` seconds from `now`,
    /// signed with the client's algorithm, naming the user as the client sees them.
    pub fn sign(
        &self,
        auth: &Authentication<'_>,
        lifetime: i64,
        now: i64,
    ) -> Result<String, IdTokenError> {
        let keys = self.keys.ok_or(IdTokenError::NoKey)?;
        let alg = auth.client.tokens.alg;
        let mut claims = json!({
            "iss": self.issuer,
            "sub": self.subjects.of(auth.client, auth.user_id)?,
            "aud": auth.client.client_id,
            "exp": now.saturating_add(lifetime),
            "iat": now,
            "auth_time": auth.auth_time,
        });
        if let Value::Object(map) = &mut claims {
            let hashes = [("at_hash", auth.access_token), ("c_hash", auth.code)];
            for (claim, value) in hashes {
                if let Some(value) = value {
                    map.insert(claim.into(), Value::String(half_hash(alg, value)));
                }
            }
            if let Some(nonce) = auth.nonce {
                map.insert("nonce".into(), Value::String(nonce.to_owned()));
            }
        }
        keys.sign(alg, &claims)?.ok_or(IdTokenError::NoKey)
    }

    /// An RFC 9068 JWT access token for `access`, signed with the client's algorithm:
    /// `typ: at+jwt`, the resource it is for (else [`Self::issuer`], this server's own APIs) as
    /// `aud`, the user as the client sees them (else the client itself) as `sub`.
    pub fn sign_access_token(
        &self,
        client: &Client,
        access: &NewToken,
        jti: &str,
    ) -> Result<String, IdTokenError> {
        let keys = self.keys.ok_or(IdTokenError::NoKey)?;
        let sub = match access.user_id {
            Some(user_id) => self.subjects.of(client, user_id)?,
            None => client.client_id.clone(),
        };
        let mut claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": access.resource.as_deref().unwrap_or(self.issuer),
            "client_id": client.client_id,
            "scope": access.scope.to_string(),
            "exp": access.expires_at,
            "iat": access.created_at,
            "jti": jti,
        });
        if let (Value::Object(map), Some(auth_time)) = (&mut claims, access.auth_time) {
            map.insert("auth_time".into(), Value::from(auth_time));
        }
        keys.sign_typed(client.tokens.alg, ACCESS_TOKEN_TYP, &claims)?
            .ok_or(IdTokenError::NoKey)
    }
}

/// The JOSE `typ` of a JWT access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mem_store::client;

    #[test]
    fn a_pairwise_client_gets_its_own_sub_and_never_the_public_one() {
        let kek = EncryptionKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap();
        let subjects = Subjects::new(Some(&kek));
        let public = client(1);
        assert_eq!(subjects.of(&public, 42).unwrap(), "42");
        let mut pairwise = client(2);
        pairwise.tokens.subject_type = SubjectType::Pairwise;
        let sub = subjects.of(&pairwise, 42).unwrap();
        assert_ne!(sub, "42");
        assert_eq!(sub.len(), 43, "base64url of 32 bytes");
        assert_eq!(subjects.of(&pairwise, 42).unwrap(), sub, "stable");
        assert_ne!(subjects.of(&pairwise, 43).unwrap(), sub, "per user");
        let mut elsewhere = pairwise.clone();
        elsewhere.redirect_uris = vec!["https://other.example/cb".into()];
        assert_ne!(subjects.of(&elsewhere, 42).unwrap(), sub, "per sector");
        // Without the key, or without one sector, no sub at all: never the public one.
        assert!(matches!(
            Subjects::PUBLIC_ONLY.of(&pairwise, 42),
            Err(IdTokenError::NoPairwiseSubject)
        ));
        let mut scattered = pairwise.clone();
        scattered
            .redirect_uris
            .push("https://other.example/cb".into());
        assert!(subjects.of(&scattered, 42).is_err());
    }

    #[test]
    fn at_hash_follows_the_core_example() {
        // OpenID Connect Core, Appendix A.3: the access token and the at_hash it gives.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(half_hash(Algorithm::Rs256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(half_hash(Algorithm::Es256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        // SHA-512's left half for Ed25519: 32 bytes, 43 characters.
        assert_eq!(half_hash(Algorithm::EdDsa, token).len(), 43);
    }
}
