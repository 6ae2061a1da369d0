//! Random credentials, their hashes, and password hashing.
//!
//! Tokens, codes, client secrets and session ids are 256-bit random values, so a single SHA-256
//! is a safe one-way function for storing them; user passwords are low-entropy and get argon2id.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh 256-bit random value, base64url without padding (43 characters).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh alphanumeric identifier of `len` characters (client ids).
pub fn generate_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    // 256 is a multiple of 62 up to a bias of 4/256 on the first four letters; acceptable for
    // public identifiers, which are not secrets.
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// SHA-256 of a high-entropy secret, hex-encoded: what the database stores.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares two byte strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Hashes a user password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies a password against its PHC string; a malformed hash verifies nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A PHC hash of a random password, used to spend the same time on unknown usernames as on
/// known ones, so response time does not reveal which usernames exist.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_token()).unwrap_or_default())
}

/// Every hashing permit was taken: the check was not run. Answer at once (503 with
/// `Retry-After`) rather than queue, since each argon2 hash in flight holds ~19 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordBusy {
    /// Seconds to wait, for `Retry-After`.
    pub retry_after: i64,
}

/// The one door to password verification: a semaphore bounds the argon2 hashes in flight (each
/// takes tens of milliseconds of a core and ~19 MiB), so a flood of wrong logins cannot take the
/// server's memory; the excess is refused at once. Each server state holds one.
#[derive(Debug)]
pub struct PasswordGate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    size: usize,
}

impl PasswordGate {
    /// A gate with `permits` hashes in flight at most; 0 means one per core
    /// (`std::thread::available_parallelism`).
    pub fn new(permits: usize) -> Self {
        let size = if permits == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            permits
        };
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size)),
            size,
        }
    }

    /// How many hashes may be in flight at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Takes a hashing permit, or says at once that none is free. Only a permit can verify a
    /// password, so no check can bypass the bound.
    pub fn permit(&self) -> Result<PasswordPermit, PasswordBusy> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(|permit| PasswordPermit { _permit: permit })
            .map_err(|_| PasswordBusy { retry_after: 1 })
    }
}

/// The right to run one password hash; given back when the hash is done.
#[derive(Debug)]
pub struct PasswordPermit {
    // Held, never read: dropping it gives the permit back.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl PasswordPermit {
    /// Checks `password` against its PHC string on the blocking pool, since argon2 is
    /// deliberately slow. With no hash (an unknown user) it checks the dummy hash and fails, so
    /// the timing does not reveal which usernames exist.
    pub async fn verify(self, phc: Option<String>, password: String) -> bool {
        let known = phc.is_some();
        // The permit moves into the blocking task: it is held until the hash is done, even if
        // the request is dropped meanwhile. The dummy hash is made there too (once), off the
        // async threads.
        let ok = tokio::task::spawn_blocking(move || {
            let ok = verify_password(&password, phc.as_deref().unwrap_or(dummy_password_hash()));
            drop(self);
            ok
        })
        .await
        .unwrap_or(false);
        known && ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_gate_refuses_beyond_its_permits_and_gets_them_back() {
        let gate = PasswordGate::new(2);
        assert_eq!(gate.size(), 2);
        let first = gate.permit();
        let second = gate.permit();
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(gate.permit().err(), Some(PasswordBusy { retry_after: 1 }));
        drop(first);
        assert!(gate.permit().is_ok());
        assert!(PasswordGate::new(0).size() >= 1);
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
