//! The guard in services that are not the authorization server: a [`ResourceServer`] points at
//! an issuer, and `#[oauth_required]` handlers of an app it wraps ([`ResourceServer::app`])
//! check tokens in one of two ways ([`Validation`]):
//! - **JWT** (RFC 9068): verified here against the issuer's JWKS (found through its RFC 8414
//!   metadata, cached, fetched again on an unknown `kid`), with `iss`, `aud` (this service's
//!   resource identifier, RFC 8707) and `exp` (with a small leeway) checked. A JWT stays valid
//!   here until it expires, whatever happens at the issuer: keep JWT lifetimes short.
//! - **Introspection** (RFC 7662) at the issuer, with this service's own client credentials.
//!   An answer is cached for at most `cache_max_age` and never past the token's `exp`, so a
//!   revocation at the issuer is honoured here within `cache_max_age`.
//!
//! Either way, a verified answer is cached per token in bounded memory, an issuer that cannot
//! be reached gets the caller a 503 with `Retry-After` (never a pass), and the service serves
//! its RFC 9728 metadata, built from the registry (docs/resource-servers.md).
//!
//! A service that is nothing but this builds scopegate without its `server` feature, so without
//! diesel, the databases' C libraries and tera (`default-features = false`):
//!
//! ```no_run
//! use poem::{Route, handler};
//! use scopegate::resource_server::{Config, ResourceServer, Validation};
//! use scopegate::{Caller, oauth_required};
//!
//! /// See voting statistics.
//! #[oauth_required(scope = "polls:stats")]
//! #[handler]
//! fn stats(caller: Caller) -> String {
//!     format!("{} may see the statistics", caller.client_id())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("https://auth.example.com", "https://polls.example.com", Validation::Jwt);
//! let app = ResourceServer::new(config)?.app(Route::new().at("/stats", poem::get(stats)));
//! poem::Server::new(poem::listener::TcpListener::bind("127.0.0.1:8100")).run(app).await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use poem::web::{Data, Json};
use poem::{Endpoint, EndpointExt, Route, handler};
use serde_json::{Value, json};

use crate::core::oidc::ACCESS_TOKEN_TYP;
use crate::core::oidc::keys::{JwsError, PublishedKeys};
use crate::core::scope::ScopeSet;
use crate::web::guard::{Caller, GuardError, Refusal};

/// How a resource server checks the tokens it is shown.
#[derive(Clone)]
pub enum Validation {
    /// Verify RFC 9068 JWT access tokens locally against the issuer's JWKS.
    Jwt,
    /// Ask the issuer's introspection endpoint, authenticating as this client (it must be a
    /// confidential client the issuer made a resource server, to see other clients' tokens).
    Introspect {
        /// This service's `client_id` at the issuer.
        client_id: String,
        /// Its secret.
        client_secret: String,
    },
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwt => f.write_str("Jwt"),
            Self::Introspect { client_id, .. } => f
                .debug_struct("Introspect")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// A resource server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer's URL, exactly as its metadata's `issuer` says (`https://auth.example.com`).
    pub issuer: String,
    /// This service's resource identifier (RFC 8707, RFC 9728 `resource`): the `aud` its tokens
    /// must carry, which clients ask for with `resource=`. Usually its base URL.
    pub resource: String,
    /// JWT or introspection.
    pub validation: Validation,
    /// Seconds of clock skew allowed on `exp` and `nbf` (JWT only).
    pub leeway: i64,
    /// The longest an introspection answer is reused, in seconds.
    pub cache_max_age: i64,
    /// The most tokens whose verification is remembered.
    pub cache_capacity: usize,
    /// How long a request to the issuer may take.
    pub timeout: Duration,
}

impl Config {
    /// Settings with the defaults: 30 s leeway, 30 s introspection cache age, 10 000 cached
    /// tokens, 5 s issuer timeout.
    pub fn new(issuer: &str, resource: &str, validation: Validation) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            resource: resource.to_owned(),
            validation,
            leeway: 30,
            cache_max_age: 30,
            cache_capacity: 10_000,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What the issuer stated about a token, once verified: the part of [`Caller`] a resource
/// server knows.
#[derive(Debug, Clone)]
pub struct RemoteToken {
    /// The granted scope.
    pub scope: ScopeSet,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// The client it was issued to.
    pub client_id: String,
    /// `sub`: the user as that client sees them, or the client itself.
    pub subject: String,
    /// The user's username, when introspection says it.
    pub username: Option<String>,
}

/// The issuer's endpoints, from its RFC 8414 metadata.
#[derive(Debug, Clone)]
pub struct IssuerEndpoints {
    /// `authorization_endpoint`.
    pub authorization: String,
    /// `token_endpoint`.
    pub token: String,
    /// `jwks_uri`.
    jwks: Option<String>,
    /// `introspection_endpoint`.
    introspection: Option<String>,
}

/// Why the issuer could not answer.
#[derive(Debug, thiserror::Error)]
#[error("the issuer did not answer usably: {0}")]
pub struct IssuerError(String);

/// A JWKS is fetched again on an unknown `kid` at most this often, so tokens with made-up
/// `kid`s cannot make this service hammer the issuer.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(1);
/// A JWKS older than this is fetched again before use (keys retired at the issuer leave).
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Jwks {
    keys: Arc<PublishedKeys>,
    fetched: Option<Instant>,
}

/// A verified token and the Unix second its verdict stops being reused.
type Entry = (Arc<RemoteToken>, i64);

/// Verified tokens, by the presented string, each until its own deadline. Bounded: when full,
/// the entries past their deadline go, and if none has, all do (re-verifying is cheap next to
/// unbounded memory).
struct Verified {
    entries: RwLock<HashMap<Box<str>, Entry>>,
    capacity: usize,
}

impl Verified {
    fn get(&self, token: &str, now: i64) -> Option<Arc<RemoteToken>> {
        let entries = self.entries.read().ok()?;
        let (found, until) = entries.get(token)?;
        (*until > now).then(|| found.clone())
    }

    fn put(&self, token: &str, verified: Arc<RemoteToken>, until: i64, now: i64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), (verified, until));
    }
}

struct Inner {
    config: Config,
    metadata_url: Arc<str>,
    http: reqwest::Client,
    endpoints: tokio::sync::OnceCell<IssuerEndpoints>,
    jwks: RwLock<Jwks>,
    /// One JWKS fetch at a time.
    jwks_fetch: tokio::sync::Mutex<()>,
    verified: Verified,
}

/// A service's view of its issuer: hand it to [`ResourceServer::app`], and every
/// `#[oauth_required]` handler of the app validates against the issuer. Cheap to clone.
#[derive(Clone)]
pub struct ResourceServer(Arc<Inner>);

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// A resource server with `config`; nothing is fetched until the first token arrives.
    pub fn new(config: Config) -> Result<Self, String> {
        for (what, url) in [("issuer", &config.issuer), ("resource", &config.resource)] {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.fragment().is_none() => {}
                _ => return Err(format!("the {what} {url:?} must be an http(s) URL")),
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self(Arc::new(Inner {
            metadata_url: metadata_url(&config.resource).into(),
            verified: Verified {
                entries: RwLock::new(HashMap::new()),
                capacity: config.cache_capacity.max(1),
            },
            config,
            http,
            endpoints: tokio::sync::OnceCell::new(),
            jwks: RwLock::new(Jwks::default()),
            jwks_fetch: tokio::sync::Mutex::new(()),
        })))
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// This service's RFC 9728 metadata URL, named in its 401 challenges.
    pub fn metadata_url(&self) -> Arc<str> {
        self.0.metadata_url.clone()
    }

    /// `routes` with this service's RFC 9728 metadata added, and its guards validating here.
    pub fn app(&self, routes: Route) -> impl Endpoint + use<> {
        let path = metadata_path(&self.0.config.resource);
        routes
            .at(path, crate::web::methods::get(protected_resource))
            .data(self.clone())
    }

    /// The issuer's endpoints, fetched from its metadata on first use (RFC 8414 §3; its
    /// `issuer` must be the configured one, §3.3).
    pub async fn endpoints(&self) -> Result<&IssuerEndpoints, IssuerError> {
        self.0
            .endpoints
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/oauth-authorization-server",
                    self.0.config.issuer
                );
                let doc = self.get_json(&url).await?;
                let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
                if text("issuer").as_deref() != Some(self.0.config.issuer.as_str()) {
                    return Err(IssuerError(format!(
                        "{url} names another issuer than {}",
                        self.0.config.issuer
                    )));
                }
                let required = |name: &str| {
                    text(name).ok_or_else(|| IssuerError(format!("{url} has no {name}")))
                };
                Ok(IssuerEndpoints {
                    authorization: required("authorization_endpoint")?,
                    token: required("token_endpoint")?,
                    jwks: text("jwks_uri"),
                    introspection: text("introspection_endpoint"),
                })
            })
            .await
    }

    async fn get_json(&self, url: &str) -> Result<Value, IssuerError> {
        let resp = self
            .0
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| IssuerError(format!("{url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(IssuerError(format!("{url} answered {}", resp.status())));
        }
        resp.json()
            .await
            .map_err(|e| IssuerError(format!("{url}: {e}")))
    }

    /// Validates a presented access token: a cached verdict, else the configured validation.
    pub async fn validate(&self, token: &str) -> Result<Caller, GuardError> {
        let now = crate::core::now();
        if let Some(known) = self.0.verified.get(token, now) {
            return Ok(Caller::remote(known));
        }
        let (verified, until) = match &self.0.config.validation {
            Validation::Jwt => self.verify_jwt(token, now).await?,
            Validation::Introspect {
                client_id,
                client_secret,
            } => {
                self.introspect(token, client_id, client_secret, now)
                    .await?
            }
        };
        let verified = Arc::new(verified);
        self.0.verified.put(token, verified.clone(), until, now);
        Ok(Caller::remote(verified))
    }

    fn unavailable(&self, e: &IssuerError) -> GuardError {
        tracing::warn!(issuer = %self.0.config.issuer, error = %e, "the issuer is unavailable");
        GuardError::new(Refusal::IssuerUnavailable)
    }

    /// The issuer's keys: the cached set, or a fresh one when there is none yet, it is old,
    /// or `missing_kid` is not in it (at most once per [`JWKS_MIN_REFRESH`]).
    async fn keys(&self, missing_kid: Option<&str>) -> Result<Arc<PublishedKeys>, IssuerError> {
        let stale = |jwks: &Jwks| match jwks.fetched {
            None => true,
            Some(at) => {
                at.elapsed() > JWKS_MAX_AGE
                    || (missing_kid.is_some_and(|kid| !jwks.keys.has(kid))
                        && at.elapsed() >= JWKS_MIN_REFRESH)
            }
        };
        let cached = |jwks: &RwLock<Jwks>| {
            jwks.read()
                .map(|j| (stale(&j), j.keys.clone(), j.fetched.is_some()))
                .unwrap_or((true, Arc::default(), false))
        };
        let (needs_fetch, keys, _) = cached(&self.0.jwks);
        if !needs_fetch {
            return Ok(keys);
        }
        let _one = self.0.jwks_fetch.lock().await;
        // Another request may have fetched while this one waited.
        let (needs_fetch, keys, had_keys) = cached(&self.0.jwks);
        if !needs_fetch {
            return Ok(keys);
        }
        let fetched = async {
            let endpoints = self.endpoints().await?;
            let uri = endpoints
                .jwks
                .as_deref()
                .ok_or_else(|| IssuerError("the issuer's metadata has no jwks_uri".into()))?;
            Ok::<_, IssuerError>(PublishedKeys::from_jwks(&self.get_json(uri).await?))
        }
        .await;
        match fetched {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut jwks) = self.0.jwks.write() {
                    *jwks = Jwks {
                        keys: fresh.clone(),
                        fetched: Some(Instant::now()),
                    };
                }
                Ok(fresh)
            }
            // The keys held still verify what they verified: an issuer that is down for a
            // moment stops nothing but new keys.
            Err(e) if had_keys && missing_kid.is_none() => {
                tracing::warn!(error = %e, "the issuer's JWKS could not be fetched again");
                Ok(keys)
            }
            Err(e) => Err(e),
        }
    }

    /// RFC 9068 §4: signature by a key of the issuer's, `typ` `at+jwt`, `iss`, `aud`, `exp`.
    async fn verify_jwt(&self, token: &str, now: i64) -> Result<(RemoteToken, i64), GuardError> {
        let refused = |reason| Err(GuardError::new(reason));
        let keys = self.keys(None).await.map_err(|e| self.unavailable(&e))?;
        let jws = match keys.verify(token) {
            Err(JwsError::UnknownKid(kid)) => {
                let keys = self
                    .keys(Some(&kid))
                    .await
                    .map_err(|e| self.unavailable(&e))?;
                keys.verify(token)
            }
            other => other,
        };
        let Ok(jws) = jws else {
            return refused(Refusal::UnknownToken);
        };
        let typ = jws.header.get("typ").and_then(Value::as_str).unwrap_or("");
        let typ = typ.to_ascii_lowercase();
        if typ != ACCESS_TOKEN_TYP && typ != format!("application/{ACCESS_TOKEN_TYP}") {
            return refused(Refusal::NotAnAccessToken);
        }
        let claims = &jws.claims;
        let config = &self.0.config;
        if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str())
            || !audiences(claims).contains(&config.resource.as_str())
        {
            return refused(Refusal::WrongAudience);
        }
        let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
            return refused(Refusal::UnknownToken);
        };
        let not_before = claims
            .get("nbf")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN);
        if exp.saturating_add(config.leeway) <= now
            || not_before > now.saturating_add(config.leeway)
        {
            return refused(Refusal::UnknownToken);
        }
        let verified = stated(claims, exp).ok_or_else(|| GuardError::new(Refusal::UnknownToken))?;
        Ok((verified, exp.saturating_add(config.leeway)))
    }

    /// RFC 7662 §2 at the issuer; the answer is kept until the cache age or `exp`, whichever
    /// comes first.
    async fn introspect(
        &self,
        token: &str,
        client_id: &str,
        client_secret: &str,
        now: i64,
    ) -> Result<(RemoteToken, i64), GuardError> {
        let endpoints = self.endpoints().await.map_err(|e| self.unavailable(&e))?;
        let Some(url) = endpoints.introspection.as_deref() else {
            return Err(self.unavailable(&IssuerError(
                "the issuer's metadata has no introspection_endpoint".into(),
            )));
        };
        let answer = self
            .0
            .http
            .post(url)
            .basic_auth(form_encode(client_id), Some(form_encode(client_secret)))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| self.unavailable(&IssuerError(format!("{url}: {e}"))))?;
        if !answer.status().is_success() {
            // Bad credentials of this service's own are an operator's problem, not the caller's.
            let e = IssuerError(format!("{url} answered {}", answer.status()));
            return Err(self.unavailable(&e));
        }
        let claims: Value = answer
            .json()
            .await
            .map_err(|e| self.unavailable(&IssuerError(format!("{url}: {e}"))))?;
        if claims.get("active").and_then(Value::as_bool) != Some(true) {
            return Err(GuardError::new(Refusal::UnknownToken));
        }
        if claims
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(GuardError::new(Refusal::NotAnAccessToken));
        }
        let config = &self.0.config;
        let issuer_ok = claims
            .get("iss")
            .and_then(Value::as_str)
            .is_none_or(|iss| iss == config.issuer);
        if !issuer_ok || !audiences(&claims).contains(&config.resource.as_str()) {
            return Err(GuardError::new(Refusal::WrongAudience));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if exp <= now {
            return Err(GuardError::new(Refusal::UnknownToken));
        }
        let mut verified =
            stated(&claims, exp).ok_or_else(|| GuardError::new(Refusal::UnknownToken))?;
        verified.username = claims
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((verified, exp.min(now.saturating_add(config.cache_max_age))))
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before they go into Basic.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `aud`: one string, or an array of them.
fn audiences(claims: &Value) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(all)) => all.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The caller a token's claims describe; `None` when `client_id`, `sub` or a well-formed
/// `scope` is missing.
fn stated(claims: &Value, exp: i64) -> Option<RemoteToken> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    Some(RemoteToken {
        scope: text("scope").unwrap_or("").parse().ok()?,
        expires_at: exp,
        client_id: text("client_id")?.to_owned(),
        subject: text("sub")?.to_owned(),
        username: None,
    })
}

/// The RFC 9728 §3.1 metadata URL of `resource`: `/.well-known/oauth-protected-resource`
/// inserted between its host and its path.
///
/// ```
/// use scopegate::resource_server::metadata_url;
/// assert_eq!(
///     metadata_url("https://api.example.com"),
///     "https://api.example.com/.well-known/oauth-protected-resource"
/// );
/// assert_eq!(
///     metadata_url("https://example.com/polls/"),
///     "https://example.com/.well-known/oauth-protected-resource/polls"
/// );
/// ```
pub fn metadata_url(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(url) => {
            let origin = url.origin().ascii_serialization();
            format!("{origin}{}", metadata_path(resource))
        }
        Err(_) => format!("{}{WELL_KNOWN}", resource.trim_end_matches('/')),
    }
}

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The path [`metadata_url`] names, on the resource's own host.
pub fn metadata_path(resource: &str) -> String {
    let path = url::Url::parse(resource)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{WELL_KNOWN}{path}")
}

/// The RFC 9728 §2 document of a resource known as `resource`, whose tokens `issuer` makes:
/// its scopes are those its `#[oauth_required]` handlers declare.
pub fn metadata_document(resource: &str, issuer: &str) -> Value {
    let scopes: Vec<String> = crate::registry::scopes().into_keys().collect();
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header", "body", "query"],
    })
}

#[handler]
fn protected_resource(Data(server): Data<&ResourceServer>) -> Json<Value> {
    let config = server.config();
    Json(metadata_document(&config.resource, &config.issuer))
}
