//! Settings: defaults, then a TOML file, then `SCOPEGATE_<NAME>` environment variables, then
//! command-line flags; each layer overrides the one before. `docs/settings.md` lists them all.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::model::{LifetimeKind, Lifetimes};

/// Every setting, with its default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Default `sqlite://scopegate.db`.
    pub database_url: String,
    /// Largest number of pooled database connections. Default 16.
    pub pool_size: u32,
    /// Address `serve` listens on. Default `127.0.0.1:8000`.
    pub addr: String,
    /// Development mode: plain HTTP is accepted and cookies are not `Secure`. Default false.
    pub debug: bool,
    /// The issuer URL published in metadata (`https://auth.example.com`); default: derived from
    /// each request's scheme and `Host`.
    pub issuer: Option<String>,
    /// Authorization code lifetime in seconds, 1 to 3600. Default 60.
    pub code_lifetime: i64,
    /// Access token lifetime in seconds, 1 to 31536000 (1 year). Default 36000.
    pub access_token_lifetime: i64,
    /// Refresh token lifetime in seconds, 1 to 315360000 (10 years). Default 2592000 (30 days).
    pub refresh_token_lifetime: i64,
    /// Browser session lifetime in seconds, 1 to 31536000 (1 year). Default 1209600 (14 days).
    pub session_lifetime: i64,
    /// Addresses of TLS-terminating proxies whose `X-Forwarded-Proto` is believed. Default none.
    pub trusted_proxies: Vec<IpAddr>,
    /// A directory of templates that replace the built-in ones by file name. Default none.
    pub template_dir: Option<PathBuf>,
    /// Log filter (tracing `EnvFilter` syntax). Default `info`.
    pub log: String,
    /// Serve the implicit grant (`response_type=token`) to public clients that are allowed it.
    /// Default true.
    pub implicit_grant: bool,
    /// Serve oauthost's routes (`/auth/`, `/token/`). Default true.
    pub compat_oauthost: bool,
    /// Serve Omniport's routes (`/oauth/authorise/`, `/open_auth/...`). Default true.
    pub compat_omniport: bool,
    /// Serve onesait Platform's routes (`/oauth-server/...`). Default true.
    pub compat_onesait: bool,
    /// Password attempts (the password grant and `/login` together) allowed per username within
    /// `password_attempt_window`. Default 5.
    pub password_attempts_per_user: i64,
    /// Password attempts (grant and `/login`) allowed per client IP address within
    /// `password_attempt_window`. Default 20.
    pub password_attempts_per_ip: i64,
    /// The sliding window of password throttling, in seconds. Default 60.
    pub password_attempt_window: i64,
    /// Seconds after a refresh token is spent during which the same client may spend it again
    /// (two tabs, a retry after a lost response) and get a sibling pair instead of having the
    /// family revoked. Default 0: strict one-time use (RFC 9700 §4.14.2). At most 300.
    pub refresh_reuse_grace: i64,
    /// How many times one refresh token may be re-spent within `refresh_reuse_grace`; past it,
    /// reuse revokes the family. Default 10, at most 1000.
    pub refresh_reuse_max: i64,
    /// Seconds a client has to send a request's headers, counted from the connection's first
    /// byte or the end of the previous response. Default 10.
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's whole body once its headers arrived. Default 30.
    pub body_read_timeout: u64,
    /// Seconds an idle keep-alive connection stays open without any traffic. Default 60.
    pub keep_alive_timeout: u64,
    /// Most password hashes checked at once (`/login` and the password grant together); the
    /// excess is refused at once with `Retry-After`. 0 means one per core. Default 0.
    pub password_hash_concurrency: usize,
    /// Failed client authentications allowed per client_id within
    /// `client_auth_failure_window`. Default 10.
    pub client_auth_failures_per_client: i64,
    /// Failed client authentications allowed per client IP address within
    /// `client_auth_failure_window`. Default 50.
    pub client_auth_failures_per_ip: i64,
    /// The sliding window of client-authentication throttling, in seconds. Default 60.
    pub client_auth_failure_window: i64,
    /// Most active tokens cached per instance for the guard, introspection and user info
    /// (docs/caching.md); 0 turns the cache off. Default 100000, at most 10000000.
    pub token_cache_entries: usize,
    /// Seconds a cached token answer may be served at most. The change feed, not this age, is
    /// what invalidates entries; this is a backstop. Default 60, between 1 and 600.
    pub token_cache_max_age: u64,
    /// An address (`127.0.0.1:9464`) on which `serve` also answers `GET /metrics`, without a
    /// token: for a network only the scraper reaches. Default none.
    pub metrics_addr: Option<String>,
    /// A bearer token (at least 16 characters) that `GET /metrics` on the main address asks
    /// for. Default none: no `/metrics` there. Setting this or `metrics_addr` turns metrics on.
    pub metrics_token: Option<String>,
    /// A PEM file with the certificate chain `serve` answers TLS with (set with `tls_key`).
    /// `SIGHUP` reloads both. Default none: plain HTTP, for a proxy in front.
    pub tls_cert: Option<PathBuf>,
    /// The PEM file of `tls_cert`'s private key (PKCS#8, PKCS#1 or SEC1). Default none.
    pub tls_key: Option<PathBuf>,
    /// Seconds `cleartokens` keeps token-lifecycle audit lines (`token.issued`, ...); the lines
    /// of people's actions are kept for good. Default 30 days.
    pub token_event_retention: i64,
    /// 32 random bytes in base64 that seal the ID-token signing keys in the database
    /// (AES-256-GCM). Default none: OpenID Connect is off, since no key can be kept.
    pub key_encryption_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let lifetimes = Lifetimes::default();
        Self {
            database_url: "sqlite://scopegate.db".into(),
            pool_size: 16,
            addr: "127.0.0.1:8000".into(),
            debug: false,
            issuer: None,
            code_lifetime: lifetimes.code,
            access_token_lifetime: lifetimes.access,
            refresh_token_lifetime: lifetimes.refresh,
            session_lifetime: 14 * 24 * 3600,
            trusted_proxies: Vec::new(),
            template_dir: None,
            log: "info".into(),
            implicit_grant: true,
            compat_oauthost: true,
            compat_omniport: true,
            compat_onesait: true,
            password_attempts_per_user: 5,
            password_attempts_per_ip: 20,
            password_attempt_window: 60,
            refresh_reuse_grace: 0,
            refresh_reuse_max: 10,
            header_read_timeout: 10,
            body_read_timeout: 30,
            keep_alive_timeout: 60,
            password_hash_concurrency: 0,
            client_auth_failures_per_client: 10,
            client_auth_failures_per_ip: 50,
            client_auth_failure_window: 60,
            token_cache_entries: 100_000,
            token_cache_max_age: 60,
            metrics_addr: None,
            metrics_token: None,
            tls_cert: None,
            tls_key: None,
            key_encryption_key: None,
            token_event_retention: 30 * 24 * 3600,
        }
    }
}

/// Fields that hold lists; in the environment they are comma-separated.
const LIST_FIELDS: &[&str] = &["trusted_proxies"];

impl Settings {
    /// The refresh-rotation grace these settings give.
    pub fn reuse_grace(&self) -> crate::core::grant::refresh::ReuseGrace {
        crate::core::grant::refresh::ReuseGrace {
            window: self.refresh_reuse_grace,
            max_reuses: self.refresh_reuse_max,
        }
    }

    /// The client rules every way of writing a client keeps on this server, with the scopes a
    /// page offers (`None`: any well-formed scope, for the command line).
    pub fn client_rules<'a>(
        &self,
        registered_scopes: Option<&'a [crate::core::model::Scope]>,
    ) -> crate::core::client_rules::ClientRules<'a> {
        crate::core::client_rules::ClientRules {
            debug: self.debug,
            registered_scopes,
            signs_jwts: self.key_encryption_key.is_some(),
        }
    }

    /// The token lifetimes these settings give.
    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            code: self.code_lifetime,
            access: self.access_token_lifetime,
            refresh: self.refresh_token_lifetime,
        }
    }

    /// The throttle shared by the `/login` page and the password grant.
    pub fn password_throttle(&self) -> crate::core::throttle::Throttle {
        crate::core::throttle::Throttle {
            per_user: self.password_attempts_per_user,
            per_ip: self.password_attempts_per_ip,
            window: self.password_attempt_window,
        }
    }

    /// The throttle on failed client authentication.
    pub fn client_auth_throttle(&self) -> crate::core::throttle::Throttle {
        crate::core::throttle::Throttle {
            per_user: self.client_auth_failures_per_client,
            per_ip: self.client_auth_failures_per_ip,
            window: self.client_auth_failure_window,
        }
    }

    /// Layers `file` (if any) and the `SCOPEGATE_*` variables of `env` over `base`.
    pub fn load(
        base: &Settings,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, String> {
        let mut table = toml::Table::try_from(base).map_err(|e| e.to_string())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            let from_file: toml::Table = text
                .parse()
                .map_err(|e| format!("config {}: {e}", path.display()))?;
            table.extend(from_file);
        }
        let known: Vec<String> = table.keys().cloned().collect();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("SCOPEGATE_").map(str::to_ascii_lowercase) else {
                continue;
            };
            // Other SCOPEGATE_ variables (CONFIG, test knobs) are not settings.
            if !known.contains(&key) && !Self::optional_fields().contains(&key.as_str()) {
                continue;
            }
            table.insert(key.clone(), env_value(&key, &value));
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("bad setting: {}", e.message()))
            .and_then(|s: Settings| s.validated())
    }

    /// Fields that may be absent from the serialized defaults (`None`).
    fn optional_fields() -> &'static [&'static str] {
        &[
            "issuer",
            "template_dir",
            "metrics_addr",
            "metrics_token",
            "tls_cert",
            "tls_key",
            "key_encryption_key",
        ]
    }

    fn validated(self) -> Result<Self, String> {
        for (name, kind, value) in [
            ("code_lifetime", LifetimeKind::Code, self.code_lifetime),
            (
                "access_token_lifetime",
                LifetimeKind::Access,
                self.access_token_lifetime,
            ),
            (
                "refresh_token_lifetime",
                LifetimeKind::Refresh,
                self.refresh_token_lifetime,
            ),
            (
                "session_lifetime",
                LifetimeKind::Session,
                self.session_lifetime,
            ),
        ] {
            kind.check(value).map_err(|e| format!("{name} {e}"))?;
        }
        for (name, value) in [
            ("password_attempt_window", self.password_attempt_window),
            (
                "client_auth_failure_window",
                self.client_auth_failure_window,
            ),
        ] {
            if value <= 0 {
                return Err(format!("{name} must be a positive number of seconds"));
            }
        }
        if self.password_attempts_per_user < 1 || self.password_attempts_per_ip < 1 {
            return Err(
                "password_attempts_per_user and password_attempts_per_ip must be at least 1".into(),
            );
        }
        if !(0..=300).contains(&self.refresh_reuse_grace) {
            return Err("refresh_reuse_grace must be between 0 and 300 seconds".into());
        }
        if !(1..=1000).contains(&self.refresh_reuse_max) {
            return Err("refresh_reuse_max must be between 1 and 1000".into());
        }
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("keep_alive_timeout", self.keep_alive_timeout),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(format!("{name} must be between 1 and 3600 seconds"));
            }
        }
        if self.client_auth_failures_per_client < 1 || self.client_auth_failures_per_ip < 1 {
            return Err(
                "client_auth_failures_per_client and client_auth_failures_per_ip must be at least 1"
                    .into(),
            );
        }
        if self.token_cache_entries > 10_000_000 {
            return Err("token_cache_entries must be at most 10000000".into());
        }
        if !(1..=600).contains(&self.token_cache_max_age) {
            return Err("token_cache_max_age must be between 1 and 600 seconds".into());
        }
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer)?;
        }
        if let Some(addr) = &self.metrics_addr {
            addr.parse::<std::net::SocketAddr>()
                .map_err(|_| format!("metrics_addr {addr:?} is not HOST:PORT"))?;
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("set tls_cert and tls_key together, or neither".into());
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.trim().len() < 16)
        {
            return Err("metrics_token must be at least 16 characters".into());
        }
        if !(3600..=3_650 * 24 * 3600).contains(&self.token_event_retention) {
            return Err("token_event_retention must be 3600 to 315360000 seconds".into());
        }
        if let Some(kek) = &self.key_encryption_key {
            crate::core::oidc::keys::EncryptionKey::from_base64(kek).map_err(|e| e.to_string())?;
        }
        crate::store::parse_database_url(&self.database_url)?;
        Ok(self)
    }
}

/// An issuer is an absolute `http(s)` URL without query or fragment (RFC 8414 §2).
fn check_issuer(issuer: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "issuer {issuer:?} must be an http(s) URL without query or fragment, e.g. https://auth.example.com"
        )
    };
    let url = url::Url::parse(issuer).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(())
}

/// Reads an environment value as the TOML type its setting wants: booleans and numbers as such,
/// lists split on commas, anything else as a string.
fn env_value(key: &str, raw: &str) -> toml::Value {
    if LIST_FIELDS.contains(&key) {
        return toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        );
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    toml::Value::String(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_overrides_defaults() {
        let s = Settings::load(
            &Settings::default(),
            None,
            env(&[
                ("SCOPEGATE_DEBUG", "true"),
                ("SCOPEGATE_ACCESS_TOKEN_LIFETIME", "120"),
                ("SCOPEGATE_TRUSTED_PROXIES", "127.0.0.1, ::1"),
                ("SCOPEGATE_ISSUER", "https://auth.example.com"),
                ("SCOPEGATE_CONFIG", "ignored.toml"),
                ("HOME", "/root"),
            ]),
        );
        let s = s.unwrap_or_default();
        assert!(s.debug);
        assert_eq!(s.access_token_lifetime, 120);
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.issuer.as_deref(), Some("https://auth.example.com"));
    }

    #[test]
    fn bad_values_are_reported() {
        let err = Settings::load(
            &Settings::default(),
            None,
            env(&[("SCOPEGATE_CODE_LIFETIME", "soon")]),
        );
        assert!(err.is_err());
        let err = Settings::load(
            &Settings::default(),
            None,
            env(&[("SCOPEGATE_CODE_LIFETIME", "0")]),
        );
        assert_eq!(
            err.err().as_deref(),
            Some("code_lifetime must be a whole number of seconds from 1 to 3600 (1 hour)")
        );
    }

    #[test]
    fn extreme_lifetimes_are_refused() {
        for (var, message) in [
            (
                "SCOPEGATE_CODE_LIFETIME",
                "code_lifetime must be a whole number of seconds from 1 to 3600 (1 hour)",
            ),
            (
                "SCOPEGATE_ACCESS_TOKEN_LIFETIME",
                "access_token_lifetime must be a whole number of seconds from 1 to 31536000 (1 year)",
            ),
            (
                "SCOPEGATE_REFRESH_TOKEN_LIFETIME",
                "refresh_token_lifetime must be a whole number of seconds from 1 to 315360000 (10 years)",
            ),
            (
                "SCOPEGATE_SESSION_LIFETIME",
                "session_lifetime must be a whole number of seconds from 1 to 31536000 (1 year)",
            ),
        ] {
            let err = Settings::load(
                &Settings::default(),
                None,
                env(&[(var, "9223372036854775807")]),
            );
            assert_eq!(err.err().as_deref(), Some(message), "{var}");
        }
        let at_the_bound = Settings::load(
            &Settings::default(),
            None,
            env(&[("SCOPEGATE_REFRESH_TOKEN_LIFETIME", "315360000")]),
        );
        assert_eq!(
            at_the_bound.map(|s| s.refresh_token_lifetime),
            Ok(315_360_000)
        );
    }
}
