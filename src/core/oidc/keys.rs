//! Signing keys for ID tokens: generated here, kept in the database with the private half
//! encrypted (AES-256-GCM under the `key_encryption_key` setting), published as a JWK Set.
//!
//! A key is published from its creation and signs from `signs_from` on, so with a lead at
//! least as long as any cache of the key set (every instance reloads it, and relying parties
//! cache `jwks_uri`), no relying party meets a `kid` it cannot find. A retired key stays
//! published until `publish_until`, past the expiry of every ID token it signed.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::core::store::{KeyStore, StoreError};

/// The JWS algorithms keys can be made for. RS256 is what OpenID Connect requires every
/// provider to support, and the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
}

impl Algorithm {
    /// The JWA name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
        }
    }
    /// Parses a JWA name this server signs with.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "RS256" => Some(Algorithm::Rs256),
            _ => None,
        }
    }
}

/// Why a key could not be made, opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The `key_encryption_key` setting is not 32 bytes of base64.
    #[error(
        "key_encryption_key must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    BadEncryptionKey,
    /// A stored private key does not decrypt under this encryption key (another key, or a
    /// damaged row).
    #[error("signing key {0} does not decrypt with this key_encryption_key")]
    Undecryptable(String),
    /// A stored key names an algorithm this build does not know.
    #[error("signing key {0} has an unknown algorithm")]
    UnknownAlgorithm(String),
    /// The crypto library failed (key generation or signing).
    #[error("cryptographic operation failed")]
    Crypto,
}

/// The key that encrypts signing keys at rest.
pub struct EncryptionKey(LessSafeKey);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl EncryptionKey {
    /// From the setting's base64 text.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::BadEncryptionKey)?;
        if bytes.len() != 32 {
            return Err(KeyError::BadEncryptionKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::BadEncryptionKey)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Seals `plain` with a fresh nonce; `kid` is bound as associated data, so a ciphertext
    /// moved to another row does not open.
    fn seal(&self, kid: &str, plain: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Crypto)?;
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .map_err(|_| KeyError::Crypto)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let fail = || KeyError::Undecryptable(kid.to_owned());
        let bytes = STANDARD.decode(sealed).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }
}

/// A signing key as stored: the private half sealed, the public half as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The JWK `kid`.
    pub kid: String,
    /// The JWA name.
    pub alg: String,
    /// Base64 of nonce, ciphertext and tag of the PKCS#8 private key.
    pub sealed_private_key: String,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    /// Unix seconds from which it signs (it is published before).
    pub signs_from: i64,
    /// Unix seconds after which it is no longer published; `None` while it may still sign.
    pub publish_until: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Makes a new key of `alg`, sealed under `kek`, signing from `signs_from`.
pub fn generate(
    alg: Algorithm,
    kek: &EncryptionKey,
    signs_from: i64,
    now: i64,
) -> Result<StoredKey, KeyError> {
    let Algorithm::Rs256 = alg;
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
    let pkcs8 = pair.as_der().map_err(|_| KeyError::Crypto)?;
    let mut id = [0u8; 12];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| KeyError::Crypto)?;
    let kid = URL_SAFE_NO_PAD.encode(id);
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwk = json!({
        "kty": "RSA",
        "use": "sig",
        "alg": alg.as_str(),
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    });
    Ok(StoredKey {
        sealed_private_key: kek.seal(&kid, pkcs8.as_ref())?,
        kid,
        alg: alg.as_str().to_owned(),
        public_jwk: jwk.to_string(),
        signs_from,
        publish_until: None,
        created_at: now,
    })
}

/// A key that can sign.
struct Signer {
    kid: String,
    alg: Algorithm,
    pair: RsaKeyPair,
}

/// The keys of one moment: the JWK Set to publish, and the key that signs now.
pub struct KeySet {
    jwks: Value,
    signer: Option<Signer>,
    /// Every published key's `kid` and public half, to check this server's own signatures
    /// (`id_token_hint`).
    verifiers: Vec<(String, RsaPublicKeyComponents<Vec<u8>>)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("jwks", &self.jwks)
            .field("signer", &self.signer.as_ref().map(|s| &s.kid))
            .finish()
    }
}

impl KeySet {
    /// No keys: nothing is published and nothing signs.
    pub fn empty() -> Self {
        Self {
            jwks: json!({ "keys": [] }),
            signer: None,
            verifiers: Vec::new(),
        }
    }

    /// From the stored keys at `now`: publishes every key not past `publish_until`, and signs
    /// with the newest of them whose `signs_from` has come.
    pub fn load(stored: &[StoredKey], kek: &EncryptionKey, now: i64) -> Result<Self, KeyError> {
        let published: Vec<&StoredKey> = stored
            .iter()
            .filter(|k| k.publish_until.is_none_or(|until| until > now))
            .collect();
        let mut keys = Vec::new();
        let mut verifiers = Vec::new();
        for k in &published {
            let bad = || KeyError::UnknownAlgorithm(k.kid.clone());
            let jwk: Value = serde_json::from_str(&k.public_jwk).map_err(|_| bad())?;
            let part = |name: &str| {
                jwk.get(name)
                    .and_then(Value::as_str)
                    .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                    .ok_or_else(bad)
            };
            let public = RsaPublicKeyComponents {
                n: part("n")?,
                e: part("e")?,
            };
            verifiers.push((k.kid.clone(), public));
            keys.push(jwk);
        }
        // A newer key supersedes the older ones as soon as it signs; retiring one only sets
        // when it leaves the published set.
        let newest = published
            .iter()
            .filter(|k| k.signs_from <= now)
            .max_by_key(|k| (k.signs_from, k.created_at, k.kid.clone()));
        let signer = match newest {
            Some(k) => {
                let alg = Algorithm::parse(&k.alg)
                    .ok_or_else(|| KeyError::UnknownAlgorithm(k.kid.clone()))?;
                let der = kek.open(&k.kid, &k.sealed_private_key)?;
                let pair = RsaKeyPair::from_pkcs8(&der)
                    .map_err(|_| KeyError::Undecryptable(k.kid.clone()))?;
                Some(Signer {
                    kid: k.kid.clone(),
                    alg,
                    pair,
                })
            }
            None => None,
        };
        Ok(Self {
            jwks: json!({ "keys": keys }),
            signer,
            verifiers,
        })
    }

    /// The JWK Set document (RFC 7517 §5).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The `kid` that signs now, if any.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signer.as_ref().map(|s| s.kid.as_str())
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims`, or `None` when no key signs yet.
    pub fn sign(&self, claims: &Value) -> Result<Option<String>, KeyError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let header = json!({ "alg": signer.alg.as_str(), "typ": "JWT", "kid": signer.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; signer.pair.public_modulus_len()];
        signer
            .pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError::Crypto)?;
        Ok(Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))))
    }

    /// The claims of a compact JWS that one of the published keys signed, if its signature
    /// verifies; `None` for anything else (another issuer's token, a tampered one, a retired
    /// key's past its publication, not a JWS). Expiry is the caller's to judge.
    pub fn verify(&self, jws: &str) -> Option<Value> {
        let mut parts = jws.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        // Only the algorithm this server signs with: never `none`, never one the token picks.
        if header.get("alg")?.as_str()? != Algorithm::Rs256.as_str() {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let (_, public) = self.verifiers.iter().find(|(k, _)| k == kid)?;
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let input = format!("{h}.{p}");
        let verified = public.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &sig,
        );
        verified.ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    }
}

/// Seconds a loaded key set is used before it is read again from the database. A rotated key
/// must be published for longer than this before it signs (see [`rotate`]).
pub const RELOAD_INTERVAL: i64 = 60;

/// Why the keys of the moment could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// A key could not be made or opened.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key set every request reads, shared by the server: loaded from the database, read again
/// when [`RELOAD_INTERVAL`] has passed, so every instance converges on the same set. Without an
/// encryption key no key can be kept, and the set stays empty.
#[derive(Debug)]
pub struct Keyring {
    kek: Option<EncryptionKey>,
    current: std::sync::RwLock<(i64, Arc<KeySet>)>,
    reloading: tokio::sync::Mutex<()>,
}

impl Keyring {
    /// A keyring sealing keys under `kek`; `None` leaves OpenID Connect off.
    pub fn new(kek: Option<EncryptionKey>) -> Self {
        Self {
            kek,
            current: std::sync::RwLock::new((i64::MIN, Arc::new(KeySet::empty()))),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// True when keys can be kept, so ID tokens can be signed.
    pub fn enabled(&self) -> bool {
        self.kek.is_some()
    }

    fn cached(&self, now: i64) -> Option<Arc<KeySet>> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.saturating_add(RELOAD_INTERVAL) > now).then(|| guard.1.clone())
    }

    /// The keys of the moment. Reads the database when the loaded set is older than
    /// [`RELOAD_INTERVAL`]; with no key stored yet, makes the first one, which signs at once.
    pub async fn keys<S: KeyStore + ?Sized>(
        &self,
        store: &S,
        now: i64,
    ) -> Result<Arc<KeySet>, KeyringError> {
        let Some(kek) = &self.kek else {
            return Ok(Arc::new(KeySet::empty()));
        };
        if let Some(set) = self.cached(now) {
            return Ok(set);
        }
        let _one_reload = self.reloading.lock().await;
        if let Some(set) = self.cached(now) {
            return Ok(set);
        }
        let mut stored = store.signing_keys().await?;
        if stored.is_empty() {
            store
                .rotate_signing_key(generate(Algorithm::Rs256, kek, now, now)?, now)
                .await?;
            stored = store.signing_keys().await?;
        }
        let set = Arc::new(KeySet::load(&stored, kek, now)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (now, set.clone());
        Ok(set)
    }
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The new key's `kid`.
    pub kid: String,
    /// When it starts to sign.
    pub signs_from: i64,
    /// Until when the keys it replaces stay published.
    pub old_published_until: i64,
    /// Keys past their publication removed.
    pub pruned: u64,
}

/// Makes a new signing key, published now and signing after `lead` seconds (at least
/// [`RELOAD_INTERVAL`], so every instance publishes it before any signs with it). The keys it
/// replaces sign until then and stay published until every ID token they can have signed has
/// expired: `signs_from + id_token_lifetime`. Keys past their publication are deleted.
pub async fn rotate<S: KeyStore + ?Sized>(
    store: &S,
    kek: &EncryptionKey,
    lead: i64,
    id_token_lifetime: i64,
    now: i64,
) -> Result<Rotated, KeyringError> {
    let signs_from = now.saturating_add(lead.max(RELOAD_INTERVAL));
    let key = generate(Algorithm::Rs256, kek, signs_from, now)?;
    let kid = key.kid.clone();
    let old_published_until = signs_from.saturating_add(id_token_lifetime);
    let pruned = store.prune_signing_keys(now).await?;
    store.rotate_signing_key(key, old_published_until).await?;
    Ok(Rotated {
        kid,
        signs_from,
        old_published_until,
        pruned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> EncryptionKey {
        EncryptionKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_only_under_its_key_and_kid() {
        let k = generate(Algorithm::Rs256, &kek(), 0, 0).unwrap();
        assert!(!k.sealed_private_key.contains("PRIVATE"));
        assert!(kek().open(&k.kid, &k.sealed_private_key).is_ok());
        assert!(kek().open("other", &k.sealed_private_key).is_err());
        let other = EncryptionKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(matches!(
            KeySet::load(std::slice::from_ref(&k), &other, 0),
            Err(KeyError::Undecryptable(_))
        ));
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn the_newest_active_key_signs_and_every_published_key_is_listed() {
        let kek = kek();
        let old = generate(Algorithm::Rs256, &kek, 0, 0).unwrap();
        let new = generate(Algorithm::Rs256, &kek, 100, 50).unwrap();
        let both = [old.clone(), new.clone()];
        let before = KeySet::load(&both, &kek, 99).unwrap();
        assert_eq!(before.signing_kid(), Some(old.kid.as_str()));
        assert_eq!(before.jwks()["keys"].as_array().map(Vec::len), Some(2));
        let after = KeySet::load(&both, &kek, 100).unwrap();
        assert_eq!(after.signing_kid(), Some(new.kid.as_str()));
        let old_jws = before.sign(&json!({"sub": "0"})).unwrap().unwrap();
        let jws = after.sign(&json!({"sub": "1"})).unwrap().unwrap();
        assert_eq!(
            after.verify(&jws),
            Some(json!({"sub": "1"})),
            "the new key's"
        );
        assert_eq!(
            after.verify(&old_jws),
            Some(json!({"sub": "0"})),
            "the old key's, still published"
        );
        let only_old = KeySet::load(std::slice::from_ref(&old), &kek, 100).unwrap();
        assert_eq!(only_old.verify(&jws), None, "a key it does not publish");
        let mut tampered = jws.clone();
        tampered.insert(jws.find('.').unwrap() + 2, 'x');
        assert_eq!(after.verify(&tampered), None);
        // `alg` is this server's, never the token's choice.
        let (_, rest) = jws.split_once('.').unwrap();
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": new.kid}).to_string());
        assert_eq!(after.verify(&format!("{none}.{rest}")), None);
        assert_eq!(after.verify("not.a.jws.at-all"), None);
        let retired = StoredKey {
            publish_until: Some(200),
            ..old
        };
        let later = KeySet::load(&[retired, new], &kek, 200).unwrap();
        assert_eq!(later.jwks()["keys"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            later.verify(&old_jws),
            None,
            "a retired key's, once unpublished"
        );
    }
}
