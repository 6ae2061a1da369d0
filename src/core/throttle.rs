//! Throttling of credential guessing, in the database so that every instance shares the counts.
//!
//! Two kinds of credential are guessed at: user passwords (the `/login` page and the password
//! grant, which share one count per username and per address) and client secrets (the token,
//! introspection and revocation endpoints and their compatibility spellings, RFC 6749 §2.3.1 and
//! RFC 7662 §4). Both are recorded in `login_attempts`, told apart by [`AttemptKind`].

use super::store::StoreError;
use super::store::prelude::*;

/// What is being guessed at; each kind has its own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// A user's password; the subject is the username.
    Password,
    /// A client's secret; the subject is the presented `client_id`.
    ClientSecret,
}

impl AttemptKind {
    /// The value stored in `login_attempts.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::ClientSecret => "client_secret",
        }
    }
}

/// How many attempts are allowed, and over which sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts per subject (username or client_id) per window.
    pub per_user: i64,
    /// Attempts per client address per window.
    pub per_ip: i64,
    /// Window length in seconds.
    pub window: i64,
}

impl Throttle {
    /// Whether counts that include the current attempt are over the limits.
    pub(crate) fn exceeded(self, by_subject: i64, by_ip: i64) -> bool {
        by_subject > self.per_user || by_ip > self.per_ip
    }
}

/// The caller must wait `retry_after` seconds before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds to wait, for `Retry-After`.
    pub retry_after: i64,
}

/// The throttle on failed client authentication, checked before a client's secret is compared.
///
/// Unlike passwords, only *failures* are recorded (after the check): client authentication is
/// a fast hash compare done on every token, introspection and revocation request, and counting
/// in-flight successes would throttle a busy, honest client. The price is that a burst of
/// concurrent guesses may each be checked before the first failure is recorded, which a
/// 256-bit random secret can afford.
pub async fn client_throttled(
    store: &dyn Store,
    throttle: Throttle,
    client_id: &str,
    client_ip: &str,
    now: i64,
) -> Result<Option<Throttled>, StoreError> {
    let counts = store
        .count_attempts(
            AttemptKind::ClientSecret,
            client_id,
            client_ip,
            now.saturating_sub(throttle.window),
        )
        .await?;
    // The coming attempt is not recorded yet: it would be one more.
    let exceeded = throttle.exceeded(counts.by_user + 1, counts.by_ip + 1);
    if exceeded {
        super::metrics::throttled("client_secret");
    }
    Ok(exceeded.then_some(Throttled {
        retry_after: throttle.window,
    }))
}

/// Records a failed client authentication.
pub async fn client_failed(
    store: &dyn Store,
    client_id: &str,
    client_ip: &str,
    now: i64,
) -> Result<(), StoreError> {
    // `since` is irrelevant here: the counts that come back are not used.
    store
        .begin_attempt(AttemptKind::ClientSecret, client_id, client_ip, now, now)
        .await
        .map(|_| ())
}
