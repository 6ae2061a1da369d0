//! User accounts as the protocol sees them: the one password check every sign-in takes.

use super::model::User;
use super::secret::{PasswordBusy, PasswordGate};
use super::store::StoreError;
use super::store::prelude::*;
use super::throttle::{AttemptKind, Throttle, Throttled};

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
        super::metrics::throttled("password");
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
    // An inactive user is checked like an unknown one: same time, same answer.
    let user = found.filter(|u| u.is_active);
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let right = permit.verify(phc, password).await;
    match user.filter(|_| right) {
        Some(user) => {
            store.end_attempt(attempt.id).await?;
            Ok(user)
        }
        // The attempt stays recorded: it is a failed guess.
        None => Err(PasswordRefused::Wrong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mem_store::{MemStore, user};
    use crate::core::secret::hash_password;

    const THROTTLE: Throttle = Throttle {
        per_user: 2,
        per_ip: 10,
        window: 60,
    };

    fn store() -> MemStore {
        let phc = hash_password("right").unwrap_or_default();
        let inactive = User {
            is_active: false,
            password_hash: phc.clone(),
            ..user(8)
        };
        let active = User {
            password_hash: phc,
            ..user(7)
        };
        MemStore::default().with_user(active).with_user(inactive)
    }

    async fn check(
        store: &MemStore,
        gate: &PasswordGate,
        username: &str,
        password: &str,
    ) -> Result<User, PasswordRefused> {
        check_password(
            store,
            gate,
            THROTTLE,
            username,
            password.into(),
            "192.0.2.1",
            1_000,
        )
        .await
    }

    #[tokio::test]
    async fn only_an_active_user_with_the_right_password_signs_in_and_only_failures_count() {
        let (store, gate) = (store(), PasswordGate::new(1));
        let signed_in = check(&store, &gate, "user7", "right").await;
        assert_eq!(signed_in.ok().map(|u| u.id), Some(7));
        assert_eq!(store.attempts(), 0, "a success is forgotten");
        for (username, password) in [("user7", "wrong"), ("user8", "right"), ("nobody", "right")] {
            let refused = check(&store, &gate, username, password).await;
            assert!(matches!(refused, Err(PasswordRefused::Wrong)), "{username}");
        }
        assert_eq!(store.attempts(), 3, "each failure stays on record");
    }

    #[tokio::test]
    async fn past_the_limit_or_the_hashing_permits_the_password_is_not_checked() {
        let (store, gate) = (store(), PasswordGate::new(1));
        for _ in 0..THROTTLE.per_user {
            let refused = check(&store, &gate, "user7", "wrong").await;
            assert!(matches!(refused, Err(PasswordRefused::Wrong)));
        }
        let throttled = check(&store, &gate, "user7", "right").await;
        assert!(matches!(throttled, Err(PasswordRefused::Throttled(t)) if t.retry_after == 60));
        assert_eq!(store.attempts(), 2, "a throttled attempt is forgotten");

        let _held = gate.permit();
        let busy = check(&store, &gate, "user8", "right").await;
        assert!(matches!(busy, Err(PasswordRefused::Busy(_))));
    }
}
