//! Proof Key for Code Exchange (RFC 7636).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::secret::constant_time_eq;

/// `code_challenge_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `S256`: the challenge is `BASE64URL(SHA256(verifier))`.
    S256,
    /// `plain`: the challenge is the verifier.
    Plain,
}

impl Method {
    /// Parses the wire name; RFC 7636 §4.3 makes `plain` the default when absent.
    pub fn parse(name: Option<&str>) -> Option<Self> {
        match name {
            None | Some("plain") => Some(Self::Plain),
            Some("S256") => Some(Self::S256),
            Some(_) => None,
        }
    }
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// True when `value` has the length (43–128) and alphabet (unreserved) of RFC 7636 §4.1,
/// which applies to both verifiers and challenges.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a verifier against the stored challenge, in constant time.
///
/// ```
/// use scopegate::core::pkce::{verify, Method};
/// // The example of RFC 7636 appendix B.
/// let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// assert!(verify(Method::S256, challenge, verifier));
/// assert!(!verify(Method::Plain, challenge, verifier));
/// ```
pub fn verify(method: Method, challenge: &str, verifier: &str) -> bool {
    if !is_well_formed(verifier) {
        return false;
    }
    match method {
        Method::Plain => constant_time_eq(challenge.as_bytes(), verifier.as_bytes()),
        Method::S256 => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            constant_time_eq(challenge.as_bytes(), computed.as_bytes())
        }
    }
}
