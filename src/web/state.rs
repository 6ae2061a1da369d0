//! The application state every handler shares: the store, the settings, the templates, the
//! caches. A leaf: it names only core types and the settings, so any web module may use it.

use std::sync::Arc;

use tera::Tera;

use crate::core::store::Store;
use crate::core::userinfo::UserInfoProvider;
use crate::settings::Settings;

/// Everything a request handler needs, shared by all requests.
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The settings in force.
    pub settings: Settings,
    /// The page templates (built-in, overridden by `template_dir`).
    pub templates: Tera,
    /// The host's user data for `/oauth/userinfo`.
    pub user_info: Arc<dyn UserInfoProvider>,
    /// Bounds the password hashes in flight; every password check goes through it.
    pub password_gate: crate::core::secret::PasswordGate,
    /// Active tokens, clients and the throttle's clean bills, cached on the store's change
    /// feed: the one token lookup of the guard, introspection and user info, and the client
    /// lookup of client authentication.
    pub caches: crate::core::cache::Caches,
    /// The ID-token signing keys, as every instance reads them from the database.
    pub keyring: crate::core::oidc::keys::Keyring,
}

/// Shared handle on the application state.
pub type State = Arc<AppState>;
