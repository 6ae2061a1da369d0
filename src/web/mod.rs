//! The HTTP surface, on poem: OAuth endpoints, login and consent pages, metadata.

#[cfg(feature = "server")]
pub mod account;
#[cfg(feature = "server")]
pub mod admin;
#[cfg(feature = "server")]
pub mod authorize;
#[cfg(feature = "server")]
pub mod compat;
#[cfg(feature = "server")]
pub mod developer;
#[cfg(feature = "server")]
pub mod end_session;
pub mod error;
#[cfg(feature = "server")]
pub mod extract;
#[cfg(feature = "server")]
pub mod forms;
pub mod guard;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod metadata;
pub mod methods;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod middleware;
#[cfg(feature = "server")]
pub mod oauth_docs;
pub mod openapi;
#[cfg(feature = "server")]
pub mod pages;
pub mod reply;
pub mod request;
#[cfg(feature = "server")]
pub mod revoke;
pub mod server;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod state;
#[cfg(feature = "server")]
pub mod templates;
#[cfg(feature = "server")]
pub mod tls;
#[cfg(feature = "server")]
pub mod token;
#[cfg(feature = "server")]
pub mod userinfo;

#[cfg(feature = "server")]
use std::sync::Arc;

#[cfg(feature = "server")]
use poem::{Endpoint, EndpointExt, Route};

#[cfg(feature = "server")]
use methods::{get, post};

#[cfg(feature = "server")]
use crate::core::userinfo::{DefaultUserInfo, UserInfoProvider};
#[cfg(feature = "server")]
use crate::settings::Settings;

#[cfg(feature = "server")]
pub use state::{AppState, State};

#[cfg(feature = "server")]
/// Adds scopegate's routes to `route` (the host app's own routes may already be on it).
pub fn routes(route: Route) -> Route {
    route
        .at(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .at(
            "/oauth/authorize",
            get(authorize::show).post(authorize::decide),
        )
        .at(
            "/.well-known/openid-configuration",
            get(metadata::openid_configuration),
        )
        .at("/.well-known/jwks.json", get(metadata::jwks))
        .at(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .at("/health/alive", get(health::alive))
        .at("/health/ready", get(health::ready))
        .at("/metrics", get(metrics::scrape))
        .at("/oauth/token", post(token::token))
        .at("/oauth/introspect", post(token::introspect))
        .at("/login", get(pages::login_form).post(pages::login))
        .at("/logout", get(pages::logout_form).post(pages::logout))
        .at(
            "/oauth/logout",
            get(end_session::end_session).post(end_session::end_session),
        )
        // Admin pages (superusers) and the developer portal (any signed-in user).
        .nest("/admin", admin::routes())
        .nest("/developer", developer::routes())
        // The applications a user granted, each revocable (any signed-in user).
        .nest("/account", account::routes())
        // Token lifecycle (RFC 7009 revocation, user info).
        .at("/oauth/revoke", post(revoke::revoke))
        .at(
            "/oauth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
}

#[cfg(feature = "server")]
/// The whole application: scopegate's routes plus the host's, with the state and the
/// middleware (request log, HTTPS rule, security headers) around them.
pub fn app(state: State, host_routes: Route) -> impl Endpoint {
    // The middleware shares the state: a refcount per request, not a copy of the settings.
    let shared = state.clone();
    compat::routes(routes(host_routes), &state.settings)
        .data(state)
        .around(move |ep, req| middleware::around(ep, req, shared.clone()))
}

#[cfg(feature = "server")]
/// The state `serve` starts with, and the store whose migrations are still to apply when the
/// database could not be reached at start (`serve` retries them in the background and reports
/// not-ready meanwhile).
pub struct Started {
    /// The application state.
    pub state: State,
    /// The store to migrate once the database answers; `None` when it is migrated already.
    pub unmigrated: Option<crate::store::DbStore>,
}

#[cfg(feature = "server")]
/// Like [`build_state_with`], but never waits for the database: when it cannot be reached or
/// migrated now, the state is built anyway and [`Started::unmigrated`] says what is left.
pub fn start_state(
    settings: Settings,
    user_info: Arc<dyn UserInfoProvider>,
) -> Result<Started, String> {
    let store = crate::store::DbStore::open_lazily(&settings.database_url, settings.pool_size)
        .map_err(|e| e.to_string())?;
    // A short first try: a reachable database is migrated before anything is served, an
    // unreachable one must not keep the port closed.
    let unmigrated = match store.migrate_within(std::time::Duration::from_secs(2)) {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the database is not ready; serving not-ready until it is");
            Some(store.clone())
        }
    };
    let state = assemble(settings, user_info, store)?;
    Ok(Started { state, unmigrated })
}

#[cfg(feature = "server")]
/// Opens the database named by `settings`, applies pending migrations, and loads the templates.
pub fn build_state(settings: Settings) -> Result<State, String> {
    build_state_with(settings, Arc::new(DefaultUserInfo))
}

#[cfg(feature = "server")]
/// `build_state` with the host's user-info provider.
pub fn build_state_with(
    settings: Settings,
    user_info: Arc<dyn UserInfoProvider>,
) -> Result<State, String> {
    let store = crate::store::DbStore::open(&settings.database_url, settings.pool_size)
        .map_err(|e| e.to_string())?;
    store
        .migrate()
        .map_err(|e| format!("migration failed: {e}"))?;
    assemble(settings, user_info, store)
}

#[cfg(feature = "server")]
/// The state around an opened store: templates, the password gate, the caches (whose
/// change-feed listener starts here).
fn assemble(
    settings: Settings,
    user_info: Arc<dyn UserInfoProvider>,
    store: crate::store::DbStore,
) -> Result<State, String> {
    let templates = templates::load(settings.template_dir.as_deref())?;
    metrics::install(&settings);
    let password_gate = crate::core::secret::PasswordGate::new(settings.password_hash_concurrency);
    let caches = crate::core::cache::Caches::new(
        store.change_feed(),
        settings.token_cache_entries,
        std::time::Duration::from_secs(settings.token_cache_max_age),
    );
    let kek = settings
        .key_encryption_key
        .as_deref()
        .map(crate::core::oidc::keys::EncryptionKey::from_base64)
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(AppState {
        store: store.shared(),
        settings,
        templates,
        user_info,
        password_gate,
        caches,
        keyring: crate::core::oidc::keys::Keyring::new(kek),
    }))
}
