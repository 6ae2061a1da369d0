//! Throttling of credential guessing, in the database so that every instance shares the counts.
//!
//! Two kinds of credential are guessed at: user passwords (the `/login` page and the password
//! grant, which share one count per username and per address) and client secrets (the token,
//! introspection and revocation endpoints and their compatibility spellings, RFC 6749 §2.3.1 and
//! RFC 7662 §4). Both are recorded in `login_attempts`, told apart by [`AttemptKind`].

use super::model::User;
use super::secret::{PasswordBusy, PasswordGate};
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
    fn exceeded(self, by_subject: i64, by_ip: i64) -> bool {
        by_subject > self.per_user || by_ip > self.per_ip
    }
}

/// The caller must wait `retry_after` seconds before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds to wait, for `Retry-After`.
    pub retry_after: i64,
}

/// Why a password check did not sign the user in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRefused {
    /// Unknown user, inactive user or wrong password (never said which).
    #[error("wrong username or password")]
    Wrong,
    /// Too many failed attempts for this username or from this address.
    #[error("too many failed sign-in attempts; retry after {} seconds", .0.retry_after)]
    Throttled(Throttled),
    /// Every password-hashing permit is taken; answered at once instead of queueing.
    #[error("the server is busy checking passwords; retry after {} seconds", .0.retry_after)]
    Busy(PasswordBusy),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a user's password: the one path every password check takes (the `/login` page, the
/// password grant), so both share one throttle and one bound on the hashes in flight.
///
/// A hashing permit is taken first, so the excess of a flood is refused before it costs even a
/// database write. The attempt is then recorded *before* the password is checked, so
/// concurrent guesses cannot all slip under the limit; it is forgotten again when it succeeds
/// or is refused as throttled, so only failed (and in-flight) attempts count.
pub async fn check_password<S: AccountStore + ?Sized>(
    store: &S,
    gate: &PasswordGate,
    throttle: Throttle,
    username: &str,
    password: String,
    client_ip: &str,
    now: i64,
) -> Result<User, PasswordRefused> {
    let permit = gate.permit().map_err(|busy| {
        tracing::warn!(
            client_ip = ?client_ip,
            "password check refused: every hashing permit is taken"
        );
        PasswordRefused::Busy(busy)
    })?;
    let attempt = store
        .begin_attempt(
            AttemptKind::Password,
            username,
            client_ip,
            now,
            now.saturating_sub(throttle.window),
        )
        .await?;
    if throttle.exceeded(attempt.by_user, attempt.by_ip) {
        // A refused attempt is forgotten, so the window is not extended by the flood itself:
        // an attacker gets exactly `per_user` guesses per window, no more and no fewer.
        store.end_attempt(attempt.id).await?;
        tracing::warn!(
            username = ?username,
            client_ip = ?client_ip,
            "password attempt throttled"
        );
        return Err(PasswordRefused::Throttled(Throttled {
            retry_after: throttle.window,
        }));
    }
    let found = match store.user_by_username(username).await {
        Ok(found) => found,
        Err(e) => {
            store.end_attempt(attempt.id).await?;
            return Err(e.into());
        }
    };
    match permit.verify(found, password).await {
        Some(user) => {
            store.end_attempt(attempt.id).await?;
            Ok(user)
        }
        // The attempt stays recorded: it is a failed guess.
        None => Err(PasswordRefused::Wrong),
    }
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
    Ok(throttle
        .exceeded(counts.by_user + 1, counts.by_ip + 1)
        .then_some(Throttled {
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
