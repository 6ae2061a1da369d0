//! Signing keys for ID tokens: generated here, kept in the database with the private half
//! encrypted (AES-256-GCM under the `key_encryption_key` setting), published as a JWK Set.
//!
//! A key is published from its creation and signs from `signs_from` on, so with a lead at
//! least as long as any cache of the key set (every instance reloads it, and relying parties
//! cache `jwks_uri`), no relying party meets a `kid` it cannot find. A retired key stays
//! published until `publish_until`, past the expiry of every ID token it signed.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::core::store::{KeyStore, StoreError};

/// The JWS algorithms ID tokens are signed with (RFC 7518, RFC 8037), one per client. RS256 is
/// what OpenID Connect requires every provider to support, and the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519 (RFC 8037 `EdDSA`).
    EdDsa,
}

impl Algorithm {
    /// Every algorithm, in the order discovery lists them: the key set holds a key of each.
    pub const ALL: [Algorithm; 3] = [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa];

    /// The JWA name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
    /// Parses a JWA name this server signs with (exactly as JWA spells it).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
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

/// The key that encrypts signing keys at rest, and the pairwise-subject key derived from it.
pub struct EncryptionKey {
    aead: LessSafeKey,
    pairwise: hmac::Key,
}

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
        // A key of its own for pairwise subjects (HMAC as a KDF, a label per use), so the
        // sealing key is never used for anything else.
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            b"scopegate pairwise subject v1",
        );
        Ok(Self {
            aead: LessSafeKey::new(key),
            pairwise: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// The key pairwise subject identifiers are made under ([`super::Subjects`]).
    pub(crate) fn pairwise_subject_key(&self) -> hmac::Key {
        self.pairwise.clone()
    }

    /// Seals `plain` with a fresh nonce; `kid` is bound as associated data, so a ciphertext
    /// moved to another row does not open.
    fn seal(&self, kid: &str, plain: &[u8]) -> Result<String, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Crypto)?;
        let mut buf = plain.to_vec();
        self.aead
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
            .aead
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
    let mut id = [0u8; 12];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| KeyError::Crypto)?;
    let kid = URL_SAFE_NO_PAD.encode(id);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let (pkcs8, mut jwk) = match alg {
        Algorithm::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
            let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
            let der = pair.as_der().map_err(|_| KeyError::Crypto)?;
            let jwk = json!({ "kty": "RSA", "n": b64(&public.n), "e": b64(&public.e) });
            (der.as_ref().to_vec(), jwk)
        }
        Algorithm::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError::Crypto)?;
            // The uncompressed point: 0x04, then x and y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let (x, y) = point
                .get(1..)
                .filter(|xy| xy.len() == 64)
                .ok_or(KeyError::Crypto)?
                .split_at(32);
            let der = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto)?;
            let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y) });
            (der.as_ref().to_vec(), jwk)
        }
        Algorithm::EdDsa => {
            let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Crypto)?;
            let der = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto)?;
            let x = b64(pair.public_key().as_ref());
            let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x });
            (der.as_ref().to_vec(), jwk)
        }
    };
    if let Value::Object(map) = &mut jwk {
        map.insert("use".into(), json!("sig"));
        map.insert("alg".into(), json!(alg.as_str()));
        map.insert("kid".into(), json!(kid));
    }
    Ok(StoredKey {
        sealed_private_key: kek.seal(&kid, &pkcs8)?,
        kid,
        alg: alg.as_str().to_owned(),
        public_jwk: jwk.to_string(),
        signs_from,
        publish_until: None,
        created_at: now,
    })
}

/// A new key of each of `algs`, as [`generate`] makes one.
fn generate_each(
    algs: impl IntoIterator<Item = Algorithm>,
    kek: &EncryptionKey,
    signs_from: i64,
    now: i64,
) -> Result<Vec<StoredKey>, KeyError> {
    algs.into_iter()
        .map(|alg| generate(alg, kek, signs_from, now))
        .collect()
}

/// The private half of a key, ready to sign.
enum Private {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Private {
    fn open(alg: Algorithm, der: &[u8]) -> Option<Self> {
        match alg {
            Algorithm::Rs256 => RsaKeyPair::from_pkcs8(der).ok().map(Self::Rsa),
            Algorithm::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .ok()
                .map(Self::Ec),
            Algorithm::EdDsa => Ed25519KeyPair::from_pkcs8(der).ok().map(Self::Ed),
        }
    }

    /// The JWS signature of `input`: PKCS#1 v1.5, or the fixed-width `r || s` of RFC 7518
    /// §3.4, or Ed25519's 64 bytes.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| KeyError::Crypto)?;
                Ok(sig)
            }
            Self::Ec(pair) => Ok(pair
                .sign(&rng, input)
                .map_err(|_| KeyError::Crypto)?
                .as_ref()
                .to_vec()),
            Self::Ed(pair) => Ok(pair.sign(input).as_ref().to_vec()),
        }
    }
}

/// The public half of a published key, to check this server's own signatures.
enum Public {
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// An EC point (uncompressed) or an Ed25519 key, with its verification algorithm.
    Raw(&'static dyn signature::VerificationAlgorithm, Vec<u8>),
}

impl Public {
    fn of(alg: Algorithm, jwk: &Value) -> Option<Self> {
        let part = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        Some(match alg {
            Algorithm::Rs256 => Self::Rsa(RsaPublicKeyComponents {
                n: part("n")?,
                e: part("e")?,
            }),
            Algorithm::Es256 => {
                let mut point = vec![0x04];
                point.extend(part("x")?);
                point.extend(part("y")?);
                Self::Raw(&ECDSA_P256_SHA256_FIXED, point)
            }
            Algorithm::EdDsa => Self::Raw(&ED25519, part("x")?),
        })
    }

    fn verifies(&self, input: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Rsa(public) => public
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
                .is_ok(),
            Self::Raw(alg, bytes) => UnparsedPublicKey::new(*alg, bytes)
                .verify(input, sig)
                .is_ok(),
        }
    }
}

/// A key that can sign.
struct Signer {
    kid: String,
    alg: Algorithm,
    private: Private,
}

/// A published key: its `kid`, algorithm and public half.
struct Verifier {
    kid: String,
    alg: Algorithm,
    public: Public,
}

/// Why a compact JWS did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwsError {
    /// Not three base64url parts with a JSON header and payload, or no `kid`.
    Malformed,
    /// No published key has this `kid` (a key newer than the set, or none of this issuer's).
    UnknownKid(String),
    /// The key's algorithm is not the header's (`none`, `HS256` with the public key, ...), or
    /// the signature is wrong.
    BadSignature,
}

/// A verified compact JWS: its protected header and its claims.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The JOSE header.
    pub header: Value,
    /// The payload, parsed as JSON.
    pub claims: Value,
}

/// The public keys of a JWK Set, to verify signatures with: this server's own published keys,
/// or an issuer's `jwks_uri` as a resource server fetched it.
#[derive(Default)]
pub struct PublishedKeys(Vec<Verifier>);

impl std::fmt::Debug for PublishedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|v| &v.kid))
            .finish()
    }
}

impl PublishedKeys {
    /// The usable keys of a JWK Set document (RFC 7517 §5): each with a `kid`, an algorithm
    /// this crate verifies (its `alg`, else the one its `kty`/`crv` imply) and a well-formed
    /// public half. Others (encryption keys, unknown types) are left out.
    pub fn from_jwks(jwks: &Value) -> Self {
        let keys = jwks.get("keys").and_then(Value::as_array);
        let usable = keys.into_iter().flatten().filter_map(|jwk| {
            let kid = jwk.get("kid")?.as_str()?.to_owned();
            if jwk
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                return None;
            }
            let implied = match (
                jwk.get("kty").and_then(Value::as_str),
                jwk.get("crv").and_then(Value::as_str),
            ) {
                (Some("RSA"), _) => Algorithm::Rs256,
                (Some("EC"), Some("P-256")) => Algorithm::Es256,
                (Some("OKP"), Some("Ed25519")) => Algorithm::EdDsa,
                _ => return None,
            };
            let alg = match jwk.get("alg").and_then(Value::as_str) {
                Some(named) => Algorithm::parse(named).filter(|a| *a == implied)?,
                None => implied,
            };
            let public = Public::of(alg, jwk)?;
            Some(Verifier { kid, alg, public })
        });
        Self(usable.collect())
    }

    /// True when a key has this `kid`.
    pub fn has(&self, kid: &str) -> bool {
        self.0.iter().any(|v| v.kid == kid)
    }

    /// Verifies a compact JWS (RFC 7515 §7.1) with the key its `kid` names, and only with that
    /// key's algorithm: never `none`, never one the token picks. Expiry and claims are the
    /// caller's to judge.
    pub fn verify(&self, jws: &str) -> Result<Jws, JwsError> {
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let json = |part: &str| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let header = json(h)
            .filter(Value::is_object)
            .ok_or(JwsError::Malformed)?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(JwsError::Malformed)?;
        let key = self
            .0
            .iter()
            .find(|v| v.kid == kid)
            .ok_or_else(|| JwsError::UnknownKid(kid.to_owned()))?;
        if header.get("alg").and_then(Value::as_str) != Some(key.alg.as_str()) {
            return Err(JwsError::BadSignature);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| JwsError::BadSignature)?;
        if !key.public.verifies(format!("{h}.{p}").as_bytes(), &sig) {
            return Err(JwsError::BadSignature);
        }
        let claims = json(p)
            .filter(Value::is_object)
            .ok_or(JwsError::Malformed)?;
        Ok(Jws { header, claims })
    }
}

/// The keys of one moment: the JWK Set to publish, and for each algorithm the key that signs
/// now.
pub struct KeySet {
    jwks: Value,
    signers: Vec<Signer>,
    /// Every published key, to check this server's own signatures (`id_token_hint`).
    verifiers: PublishedKeys,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let signing: Vec<&str> = self.signers.iter().map(|s| s.kid.as_str()).collect();
        f.debug_struct("KeySet")
            .field("jwks", &self.jwks)
            .field("signers", &signing)
            .finish()
    }
}

impl KeySet {
    /// No keys: nothing is published and nothing signs.
    pub fn empty() -> Self {
        Self {
            jwks: json!({ "keys": [] }),
            signers: Vec::new(),
            verifiers: PublishedKeys::default(),
        }
    }

    /// From the stored keys at `now`: publishes every key not past `publish_until`, and for
    /// each algorithm signs with the newest of its keys whose `signs_from` has come.
    pub fn load(stored: &[StoredKey], kek: &EncryptionKey, now: i64) -> Result<Self, KeyError> {
        let published: Vec<&StoredKey> = stored
            .iter()
            .filter(|k| k.publish_until.is_none_or(|until| until > now))
            .collect();
        let mut keys = Vec::new();
        let mut verifiers = Vec::new();
        for k in &published {
            let bad = || KeyError::UnknownAlgorithm(k.kid.clone());
            let alg = Algorithm::parse(&k.alg).ok_or_else(bad)?;
            let jwk: Value = serde_json::from_str(&k.public_jwk).map_err(|_| bad())?;
            verifiers.push(Verifier {
                kid: k.kid.clone(),
                alg,
                public: Public::of(alg, &jwk).ok_or_else(bad)?,
            });
            keys.push(jwk);
        }
        let mut signers = Vec::new();
        for alg in Algorithm::ALL {
            // A newer key supersedes the older ones as soon as it signs; retiring one only
            // sets when it leaves the published set. An unretired key goes first, so keys of
            // one moment (instances that raced to make the first) settle on the one kept.
            let newest = published
                .iter()
                .filter(|k| k.alg == alg.as_str() && k.signs_from <= now)
                .max_by_key(|k| {
                    let kept = k.publish_until.is_none();
                    (kept, k.signs_from, k.created_at, k.kid.clone())
                });
            if let Some(k) = newest {
                let der = kek.open(&k.kid, &k.sealed_private_key)?;
                let private = Private::open(alg, &der)
                    .ok_or_else(|| KeyError::Undecryptable(k.kid.clone()))?;
                signers.push(Signer {
                    kid: k.kid.clone(),
                    alg,
                    private,
                });
            }
        }
        Ok(Self {
            jwks: json!({ "keys": keys }),
            signers,
            verifiers: PublishedKeys(verifiers),
        })
    }

    /// The JWK Set document (RFC 7517 §5).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The `kid` that signs with `alg` now, if any.
    pub fn signing_kid(&self, alg: Algorithm) -> Option<&str> {
        self.signer(alg).map(|s| s.kid.as_str())
    }

    fn signer(&self, alg: Algorithm) -> Option<&Signer> {
        self.signers.iter().find(|s| s.alg == alg)
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims` signed with `alg`, or `None` when no key of
    /// `alg` signs yet.
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> Result<Option<String>, KeyError> {
        self.sign_typed(alg, "JWT", claims)
    }

    /// [`Self::sign`] with the header's `typ` set to `typ` (RFC 9068 §2.1 `at+jwt` for access
    /// tokens, so no ID token passes for one).
    pub fn sign_typed(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &Value,
    ) -> Result<Option<String>, KeyError> {
        let Some(signer) = self.signer(alg) else {
            return Ok(None);
        };
        let header = json!({ "alg": signer.alg.as_str(), "typ": typ, "kid": signer.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = signer.private.sign(input.as_bytes())?;
        Ok(Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))))
    }

    /// The claims of a compact JWS that one of the published keys signed, if its signature
    /// verifies; `None` for anything else (another issuer's token, a tampered one, a retired
    /// key's past its publication, not a JWS). Expiry is the caller's to judge.
    pub fn verify(&self, jws: &str) -> Option<Value> {
        self.verifiers
            .verify(jws)
            .ok()
            .map(|verified| verified.claims)
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
    subjects: super::Subjects,
    current: std::sync::RwLock<(i64, Arc<KeySet>)>,
    reloading: tokio::sync::Mutex<()>,
}

impl Keyring {
    /// A keyring sealing keys under `kek`; `None` leaves OpenID Connect off.
    pub fn new(kek: Option<EncryptionKey>) -> Self {
        Self {
            subjects: super::Subjects::new(kek.as_ref()),
            kek,
            current: std::sync::RwLock::new((i64::MIN, Arc::new(KeySet::empty()))),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// How clients name their users: pairwise subjects are made under a key derived from the
    /// encryption key.
    pub fn subjects(&self) -> &super::Subjects {
        &self.subjects
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
    /// [`RELOAD_INTERVAL`]. An algorithm with no key yet gets one: on an empty table every key
    /// signs at once; beside keys made before (an upgrade that added the algorithm), the new
    /// one is published [`RELOAD_INTERVAL`] before it signs, like a rotated key.
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
        let missing: Vec<Algorithm> = Algorithm::ALL
            .into_iter()
            .filter(|alg| {
                !stored
                    .iter()
                    .any(|k| k.alg == alg.as_str() && k.publish_until.is_none())
            })
            .collect();
        if !missing.is_empty() {
            let signs_from = if stored.is_empty() {
                now
            } else {
                now.saturating_add(RELOAD_INTERVAL)
            };
            let keys = generate_each(missing, kek, signs_from, now)?;
            // Another instance may have added them first; the store keeps one per algorithm.
            store.add_signing_keys(keys).await?;
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
    /// The new keys' `kid`s, one per algorithm, in [`Algorithm::ALL`] order.
    pub kids: Vec<String>,
    /// When it starts to sign.
    pub signs_from: i64,
    /// Until when the keys it replaces stay published.
    pub old_published_until: i64,
    /// Keys past their publication removed.
    pub pruned: u64,
}

/// Makes a new signing key for each algorithm, published now and signing after `lead` seconds
/// (at least [`RELOAD_INTERVAL`], so every instance publishes it before any signs with it). The
/// keys they replace sign until then and stay published until every ID token they can have signed has
/// expired: `signs_from + id_token_lifetime`. Keys past their publication are deleted.
pub async fn rotate<S: KeyStore + ?Sized>(
    store: &S,
    kek: &EncryptionKey,
    lead: i64,
    id_token_lifetime: i64,
    now: i64,
) -> Result<Rotated, KeyringError> {
    let signs_from = now.saturating_add(lead.max(RELOAD_INTERVAL));
    let keys = generate_each(Algorithm::ALL, kek, signs_from, now)?;
    let kids = keys.iter().map(|k| k.kid.clone()).collect();
    let old_published_until = signs_from.saturating_add(id_token_lifetime);
    let pruned = store.prune_signing_keys(now).await?;
    store.rotate_signing_keys(keys, old_published_until).await?;
    Ok(Rotated {
        kids,
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
    fn the_newest_active_key_of_each_algorithm_signs_and_every_published_key_is_listed() {
        let kek = kek();
        for alg in Algorithm::ALL {
            newest_signs(&kek, alg);
        }
    }

    fn newest_signs(kek: &EncryptionKey, alg: Algorithm) {
        let old = generate(alg, kek, 0, 0).unwrap();
        let new = generate(alg, kek, 100, 50).unwrap();
        let both = [old.clone(), new.clone()];
        let before = KeySet::load(&both, kek, 99).unwrap();
        assert_eq!(before.signing_kid(alg), Some(old.kid.as_str()), "{alg:?}");
        assert_eq!(before.jwks()["keys"].as_array().map(Vec::len), Some(2));
        let after = KeySet::load(&both, kek, 100).unwrap();
        assert_eq!(after.signing_kid(alg), Some(new.kid.as_str()));
        let other = Algorithm::ALL.into_iter().find(|a| *a != alg).unwrap();
        assert_eq!(after.signing_kid(other), None, "no key of {other:?}");
        assert_eq!(after.sign(other, &json!({})).unwrap(), None);
        let old_jws = before.sign(alg, &json!({"sub": "0"})).unwrap().unwrap();
        let jws = after.sign(alg, &json!({"sub": "1"})).unwrap().unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jws.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], new.kid.as_str());
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
        let only_old = KeySet::load(std::slice::from_ref(&old), kek, 100).unwrap();
        assert_eq!(only_old.verify(&jws), None, "a key it does not publish");
        let mut tampered = jws.clone();
        tampered.insert(jws.find('.').unwrap() + 2, 'x');
        assert_eq!(after.verify(&tampered), None);
        let (_, rest) = jws.split_once('.').unwrap();
        // `alg` is the key's, never the token's choice: not `none`, not another algorithm
        // (HS256 with the public key as the secret, the classic confusion).
        for forged in ["none", "HS256", other.as_str()] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": forged, "kid": new.kid}).to_string());
            assert_eq!(after.verify(&format!("{h}.{rest}")), None, "{forged}");
        }
        assert_eq!(after.verify("not.a.jws.at-all"), None);
        let retired = StoredKey {
            publish_until: Some(200),
            ..old
        };
        let later = KeySet::load(&[retired, new], kek, 200).unwrap();
        assert_eq!(later.jwks()["keys"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            later.verify(&old_jws),
            None,
            "a retired key's, once unpublished"
        );
    }

    #[test]
    fn keys_of_one_moment_settle_on_the_unretired_one() {
        // Two instances that raced to make the first key: the one kept (unretired) signs,
        // whatever the kid order.
        let kek = kek();
        let a = generate(Algorithm::Es256, &kek, 10, 10).unwrap();
        let b = generate(Algorithm::Es256, &kek, 10, 10).unwrap();
        for (kept, retired) in [(&a, &b), (&b, &a)] {
            let retired = StoredKey {
                publish_until: Some(5_000),
                ..retired.clone()
            };
            let set = KeySet::load(&[kept.clone(), retired], &kek, 20).unwrap();
            assert_eq!(set.signing_kid(Algorithm::Es256), Some(kept.kid.as_str()));
        }
    }

    #[test]
    fn algorithm_names_are_jwa_names() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::parse(alg.as_str()), Some(alg));
        }
        assert_eq!(Algorithm::parse("EdDSA"), Some(Algorithm::EdDsa));
        for unknown in ["rs256", "HS256", "none", "", "ES384"] {
            assert_eq!(Algorithm::parse(unknown), None, "{unknown}");
        }
    }
}
