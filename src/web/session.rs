//! Server-side browser sessions. The cookie holds only a random id; the database holds its hash,
//! the user and the CSRF token, so every scopegate instance sees the same sessions.

use poem::Request;

use super::request::cookie;
use super::state::State;
use crate::core::model::{Session, User};
use crate::core::secret::{constant_time_eq, generate_token, hash_secret};
use crate::core::store::StoreError;

/// The session cookie's name.
pub const COOKIE: &str = "scopegate_session";

/// A loaded session and, if logged in, its (active) user.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The stored session.
    pub session: Session,
    /// The logged-in user.
    pub user: Option<User>,
}

impl BrowserSession {
    /// True when `presented` is this session's CSRF token.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented
            .is_some_and(|p| constant_time_eq(p.as_bytes(), self.session.csrf_token.as_bytes()))
    }
}

/// Loads the session named by the request's cookie, if it exists and has not expired.
pub async fn load(state: &State, req: &Request) -> Result<Option<BrowserSession>, StoreError> {
    let Some(id) = cookie(req, COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state
        .store
        .session_by_hash(&hash_secret(id), crate::core::now())
        .await?
    else {
        return Ok(None);
    };
    let user = match session.user_id {
        Some(uid) => state.store.user_by_id(uid).await?.filter(|u| u.is_active),
        None => None,
    };
    Ok(Some(BrowserSession { session, user }))
}

/// A new session; returns it with the `Set-Cookie` value that hands it to the browser.
pub async fn create(
    state: &State,
    user: Option<User>,
) -> Result<(BrowserSession, String), StoreError> {
    let id = generate_token();
    let lifetime = state.settings.session_lifetime;
    let session = state
        .store
        .create_session(
            &hash_secret(&id),
            user.as_ref().map(|u| u.id),
            &generate_token(),
            crate::core::now().saturating_add(lifetime),
        )
        .await?;
    Ok((
        BrowserSession { session, user },
        set_cookie(&id, lifetime, state.settings.debug),
    ))
}

/// The session if there is one, else a new anonymous one (and its cookie).
pub async fn load_or_create(
    state: &State,
    req: &Request,
) -> Result<(BrowserSession, Option<String>), StoreError> {
    match load(state, req).await? {
        Some(s) => Ok((s, None)),
        None => {
            let (s, cookie) = create(state, None).await?;
            Ok((s, Some(cookie)))
        }
    }
}

/// Deletes the request's session (logout and login rotation).
pub async fn destroy(state: &State, req: &Request) -> Result<(), StoreError> {
    match cookie(req, COOKIE) {
        Some(id) => state.store.delete_session(&hash_secret(id)).await,
        None => Ok(()),
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the authorize redirect is a cross-site
/// top-level navigation that must carry it), and Secure unless in debug mode.
pub fn set_cookie(value: &str, max_age: i64, debug: bool) -> String {
    let secure = if debug { "" } else { "; Secure" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}
