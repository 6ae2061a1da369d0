//! The domain entities the protocol works on. Storage rows are kept apart, in `store`.

use super::scope::ScopeSet;

/// RFC 6749 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Can keep a secret (a server-side app); authenticates at the token endpoint.
    Confidential,
    /// Cannot keep a secret (a browser or mobile app); must use PKCE.
    Public,
}

impl ClientType {
    /// The stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }
    /// Parses the stored and command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// How a client's users are named in `sub` (OpenID Connect Core §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubjectType {
    /// The same `sub` for every client: the user's storage key.
    #[default]
    Public,
    /// A `sub` of its own per sector (the redirect URIs' host), which clients of other sectors
    /// cannot correlate.
    Pairwise,
}

impl SubjectType {
    /// The stored and wire name (`subject_types_supported`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Pairwise => "pairwise",
        }
    }
    /// Parses the stored and wire name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "public" => Some(Self::Public),
            "pairwise" => Some(Self::Pairwise),
            _ => None,
        }
    }
}

/// What a client's access tokens are: random strings only this server can judge, or JWTs a
/// resource server verifies by itself (RFC 9068).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccessTokenFormat {
    /// 256 random bits; resource servers ask introspection (RFC 7662).
    #[default]
    Opaque,
    /// An RFC 9068 JWT (`typ: at+jwt`), signed with the client's ID-token algorithm.
    Jwt,
}

impl AccessTokenFormat {
    /// The stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opaque => "opaque",
            Self::Jwt => "jwt",
        }
    }
    /// Parses the stored and command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "opaque" => Some(Self::Opaque),
            "jwt" => Some(Self::Jwt),
            _ => None,
        }
    }
}

/// How a client's tokens are made: its OpenID Connect settings (Registration §2
/// `id_token_signed_response_alg`, `subject_type`) and its access-token format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenOptions {
    /// The algorithm its ID tokens (and JWT access tokens) are signed with.
    pub alg: super::oidc::keys::Algorithm,
    /// Public or pairwise `sub`.
    pub subject_type: SubjectType,
    /// Opaque or JWT access tokens.
    pub access: AccessTokenFormat,
}

/// Grant types a client may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `implicit` (RFC 6749 §4.2), `response_type=token`.
    Implicit,
    /// `password` (RFC 6749 §4.3).
    Password,
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6). Only a client holding this grant is issued refresh tokens
    /// (by the code and password grants) and may spend them.
    RefreshToken,
}

impl GrantType {
    /// Every grant type, in the order metadata lists them.
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::Implicit,
        Self::Password,
        Self::ClientCredentials,
        Self::RefreshToken,
    ];
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Implicit => "implicit",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }
    /// Parses the wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// What an authorization request asks for (RFC 6749 §3.1.1, OAuth 2.0 Multiple Response Type
/// Encoding Practices, OpenID Connect Core §3.2 and §3.3): a code, an access token, an ID token,
/// or several of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `code`: an authorization code, delivered in the redirect's query (§4.1).
    Code,
    /// `token`: an access token, delivered in the redirect's fragment (§4.2, implicit).
    Token,
    /// `id_token`: an ID token alone (Core §3.2, implicit).
    IdToken,
    /// `id_token token` (Core §3.2, implicit).
    IdTokenToken,
    /// `code id_token` (Core §3.3, hybrid).
    CodeIdToken,
    /// `code token` (Core §3.3, hybrid).
    CodeToken,
    /// `code id_token token` (Core §3.3, hybrid).
    CodeIdTokenToken,
}

impl ResponseType {
    /// Every response type, as discovery lists them.
    pub const ALL: [ResponseType; 7] = [
        Self::Code,
        Self::Token,
        Self::IdToken,
        Self::IdTokenToken,
        Self::CodeIdToken,
        Self::CodeToken,
        Self::CodeIdTokenToken,
    ];

    /// The wire and stored name, its words in the order the registry spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Token => "token",
            Self::IdToken => "id_token",
            Self::IdTokenToken => "id_token token",
            Self::CodeIdToken => "code id_token",
            Self::CodeToken => "code token",
            Self::CodeIdTokenToken => "code id_token token",
        }
    }

    /// Parses a wire name: space-separated words in any order (RFC 6749 §3.1.1), each once.
    ///
    /// ```
    /// use scopegate::core::model::ResponseType;
    /// assert_eq!(ResponseType::parse("token id_token"), Some(ResponseType::IdTokenToken));
    /// assert_eq!(ResponseType::parse("id_token code"), Some(ResponseType::CodeIdToken));
    /// assert_eq!(ResponseType::parse("code"), Some(ResponseType::Code));
    /// assert_eq!(ResponseType::parse("id_token id_token"), None);
    /// assert_eq!(ResponseType::parse("code  token"), None);
    /// assert_eq!(ResponseType::parse("none"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        let mut words: Vec<&str> = name.split(' ').collect();
        words.sort_unstable();
        let before = words.len();
        words.dedup();
        if words.len() != before {
            return None;
        }
        Self::ALL.into_iter().find(|t| {
            let mut own: Vec<&str> = t.as_str().split(' ').collect();
            own.sort_unstable();
            own == words
        })
    }

    /// It issues an authorization code.
    pub fn issues_code(self) -> bool {
        matches!(
            self,
            Self::Code | Self::CodeIdToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// It issues an access token from the authorization endpoint.
    pub fn issues_token(self) -> bool {
        matches!(
            self,
            Self::Token | Self::IdTokenToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// It issues an ID token from the authorization endpoint.
    pub fn issues_id_token(self) -> bool {
        matches!(
            self,
            Self::IdToken | Self::IdTokenToken | Self::CodeIdToken | Self::CodeIdTokenToken
        )
    }

    /// The grants a client needs to ask for it (Registration §2): `authorization_code` for a
    /// code, `implicit` for anything the authorization endpoint hands out itself.
    pub fn grants(self) -> Vec<GrantType> {
        let mut grants = Vec::new();
        if self.issues_code() {
            grants.push(GrantType::AuthorizationCode);
        }
        if self != Self::Code {
            grants.push(GrantType::Implicit);
        }
        grants
    }
}

/// Whether an administrator has let a client be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Registered, waiting for an administrator.
    Pending,
    /// Usable.
    Approved,
    /// Refused, with the reason shown to its developers.
    Rejected(String),
}

/// Token and code lifetimes in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Authorization code lifetime.
    pub code: i64,
    /// Access token lifetime.
    pub access: i64,
    /// Refresh token lifetime.
    pub refresh: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            code: 60,
            access: 36_000,
            refresh: 30 * 24 * 3600,
        }
    }
}

impl Lifetimes {
    /// Each lifetime brought within its [`LifetimeKind`] bounds. Inputs are checked when they
    /// come in; this keeps a value that bypassed them (a row written by an older release, a host
    /// that built its settings in code) from overflowing an expiry.
    pub fn bounded(self) -> Self {
        Self {
            code: LifetimeKind::Code.clamp(self.code),
            access: LifetimeKind::Access.clamp(self.access),
            refresh: LifetimeKind::Refresh.clamp(self.refresh),
        }
    }
}

const DAY: i64 = 24 * 3600;

/// What a lifetime is for. Each kind has bounds, and every way a lifetime comes in (the
/// settings, `register-client`, the admin pages) checks it with [`LifetimeKind::check`], so an
/// extreme value is refused with a message instead of overflowing an expiry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeKind {
    /// Authorization code: 1 s to 1 hour (RFC 6749 §4.1.2 recommends at most 10 minutes).
    Code,
    /// Access token: 1 s to 1 year.
    Access,
    /// Refresh token: 1 s to 10 years.
    Refresh,
    /// Browser session: 1 s to 1 year.
    Session,
}

impl LifetimeKind {
    /// The shortest lifetime of every kind, in seconds.
    pub const MIN: i64 = 1;

    /// The longest lifetime of this kind, in seconds.
    pub const fn max(self) -> i64 {
        match self {
            Self::Code => 3600,
            Self::Access | Self::Session => 365 * DAY,
            Self::Refresh => 10 * 365 * DAY,
        }
    }

    /// The largest value, in words (for messages and forms).
    pub const fn max_text(self) -> &'static str {
        match self {
            Self::Code => "1 hour",
            Self::Access | Self::Session => "1 year",
            Self::Refresh => "10 years",
        }
    }

    /// `seconds` when it lies within the bounds.
    ///
    /// ```
    /// use scopegate::core::model::LifetimeKind;
    /// assert_eq!(LifetimeKind::Code.check(60), Ok(60));
    /// assert!(LifetimeKind::Code.check(0).is_err());
    /// assert!(LifetimeKind::Code.check(i64::MAX).is_err());
    /// assert_eq!(LifetimeKind::Refresh.check(315_360_000), Ok(315_360_000));
    /// ```
    pub fn check(self, seconds: i64) -> Result<i64, LifetimeError> {
        if (Self::MIN..=self.max()).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(LifetimeError { kind: self })
        }
    }

    /// Parses a number of seconds as typed by a person and checks it.
    ///
    /// ```
    /// use scopegate::core::model::LifetimeKind;
    /// assert_eq!(LifetimeKind::Access.parse(" 120 "), Ok(120));
    /// assert!(LifetimeKind::Access.parse("soon").is_err());
    /// assert!(LifetimeKind::Access.parse("9223372036854775808").is_err());
    /// ```
    pub fn parse(self, text: &str) -> Result<i64, LifetimeError> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| LifetimeError { kind: self })
            .and_then(|n| self.check(n))
    }

    /// `seconds` moved into the bounds.
    pub fn clamp(self, seconds: i64) -> i64 {
        seconds.clamp(Self::MIN, self.max())
    }
}

/// A lifetime outside its bounds. Its message says what is allowed; the caller names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeError {
    /// The kind whose bounds were broken.
    pub kind: LifetimeKind,
}

impl std::fmt::Display for LifetimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "must be a whole number of seconds from {} to {} ({})",
            LifetimeKind::MIN,
            self.kind.max(),
            self.kind.max_text()
        )
    }
}

impl std::error::Error for LifetimeError {}

/// What an administrator lets a client do beyond its grants. Everything is off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientPermissions {
    /// A resource server may introspect and revoke tokens issued to any client. Without this
    /// a client sees and revokes only its own tokens. Confidential clients only.
    pub resource_server: bool,
    /// A legacy public client that may leave PKCE out on oauthost's `/auth/` route (oauthost
    /// predates PKCE). Every other route, and every other public client, requires PKCE.
    pub allow_public_without_pkce: bool,
    /// A first-party app: its users are never asked to consent (unless it sends
    /// `prompt=consent`). Only an administrator sets it.
    pub skip_consent: bool,
}

/// A registered client application.
#[derive(Debug, Clone)]
pub struct Client {
    /// Storage key.
    pub id: i64,
    /// The public `client_id`.
    pub client_id: String,
    /// SHA-256 of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// Display name, shown on the consent page.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Grants this client may use.
    pub grant_types: Vec<GrantType>,
    /// Registered redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// How its ID tokens are signed, its users named, and its access tokens made.
    pub tokens: TokenOptions,
    /// The widest scope this client may ask for.
    pub scopes: ScopeSet,
    /// Approval state.
    pub approval: Approval,
    /// Per-client code lifetime override.
    pub code_lifetime: Option<i64>,
    /// Per-client access token lifetime override.
    pub access_token_lifetime: Option<i64>,
    /// Per-client refresh token lifetime override.
    pub refresh_token_lifetime: Option<i64>,
    /// What an administrator allowed it beyond its grants.
    pub permissions: ClientPermissions,
}

impl Client {
    /// The client knows its users only by a pairwise `sub`: nothing sent to it, or about its
    /// tokens, names a user globally (storage id, username), which would undo that.
    pub fn pairwise(&self) -> bool {
        self.tokens.subject_type == SubjectType::Pairwise
    }

    /// True when the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
    /// The server's lifetimes with this client's overrides applied, within their bounds.
    pub fn lifetimes(&self, defaults: Lifetimes) -> Lifetimes {
        Lifetimes {
            code: self.code_lifetime.unwrap_or(defaults.code),
            access: self.access_token_lifetime.unwrap_or(defaults.access),
            refresh: self.refresh_token_lifetime.unwrap_or(defaults.refresh),
        }
        .bounded()
    }
}

/// A new client, as registration hands it to the store. Only
/// [`ValidClient::into_new_client`](super::client_rules::ValidClient::into_new_client) makes one,
/// so every stored client has kept the client rules and a secret exactly when it is confidential.
#[derive(Debug, Clone)]
// Its reader is the storage layer, which a resource-server build leaves out.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub struct NewClient {
    /// The public `client_id`.
    pub(crate) client_id: String,
    /// SHA-256 of the secret; `None` for public clients.
    pub(crate) secret_hash: Option<String>,
    /// Display name.
    pub(crate) name: String,
    /// Confidential or public.
    pub(crate) client_type: ClientType,
    /// Allowed grants.
    pub(crate) grant_types: Vec<GrantType>,
    /// Redirect URIs.
    pub(crate) redirect_uris: Vec<String>,
    /// See [`Client::post_logout_redirect_uris`].
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// See [`Client::tokens`].
    pub(crate) tokens: TokenOptions,
    /// Allowed scope.
    pub(crate) scopes: ScopeSet,
    /// Initial approval.
    pub(crate) approval: Approval,
    /// Per-client lifetimes (`None` keeps the server default).
    pub(crate) code_lifetime: Option<i64>,
    /// See [`Client::access_token_lifetime`].
    pub(crate) access_token_lifetime: Option<i64>,
    /// See [`Client::refresh_token_lifetime`].
    pub(crate) refresh_token_lifetime: Option<i64>,
    /// The user who registered it, if any.
    pub(crate) owner_id: Option<i64>,
    /// See [`Client::permissions`].
    pub(crate) permissions: ClientPermissions,
}

/// A user account (resource owner).
#[derive(Debug, Clone)]
pub struct User {
    /// Storage key.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Email address, possibly empty.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// May use the admin pages.
    pub is_superuser: bool,
    /// May log in and use tokens.
    pub is_active: bool,
}

/// A new user account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Email address, possibly empty.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Superuser flag.
    pub is_superuser: bool,
}

/// A scope registered with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The scope token.
    pub name: String,
    /// What it lets a client do, shown on the consent page.
    pub description: String,
    /// True when `syncscopes` created it from a guarded handler.
    pub from_code: bool,
}

/// An authorization code as stored (by hash).
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// Storage key.
    pub id: i64,
    /// The client it was issued to (storage key).
    pub client_id: i64,
    /// The user who approved it.
    pub user_id: i64,
    /// The redirect URI it was delivered to.
    pub redirect_uri: String,
    /// True when the authorization request named the redirect URI (RFC 6749 §4.1.3 then
    /// requires the token request to repeat it).
    pub redirect_uri_given: bool,
    /// Granted scope.
    pub scope: ScopeSet,
    /// PKCE challenge and method, when the request carried one.
    pub pkce: Option<(String, super::pkce::Method)>,
    /// The family every token from this code belongs to.
    pub grant_id: String,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// When it was redeemed; a second use is a replay.
    pub used_at: Option<i64>,
    /// The OpenID Connect request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// When the user signed in, unix seconds (the ID token's `auth_time`); `None` on codes an
    /// older release issued.
    pub auth_time: Option<i64>,
    /// The resource its tokens are for (RFC 8707), when the request named one.
    pub resource: Option<String>,
}

/// A new authorization code.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// Client (storage key).
    pub client_id: i64,
    /// User (storage key).
    pub user_id: i64,
    /// Delivery redirect URI.
    pub redirect_uri: String,
    /// See [`AuthCode::redirect_uri_given`].
    pub redirect_uri_given: bool,
    /// Granted scope.
    pub scope: ScopeSet,
    /// PKCE challenge and method.
    pub pkce: Option<(String, super::pkce::Method)>,
    /// Token family.
    pub grant_id: String,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// See [`AuthCode::nonce`].
    pub nonce: Option<String>,
    /// See [`AuthCode::auth_time`].
    pub auth_time: i64,
    /// See [`AuthCode::resource`].
    pub resource: Option<String>,
}

/// Access or refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Bearer access token.
    Access,
    /// Refresh token.
    Refresh,
}

impl TokenKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// A token as stored (by hash).
#[derive(Debug, Clone)]
pub struct Token {
    /// Storage key.
    pub id: i64,
    /// Access or refresh.
    pub kind: TokenKind,
    /// Client (storage key).
    pub client_id: i64,
    /// User (storage key); `None` for client_credentials.
    pub user_id: Option<i64>,
    /// Granted scope.
    pub scope: ScopeSet,
    /// Family: every token descended from one authorization.
    pub grant_id: String,
    /// For an access token, the refresh token issued beside it.
    pub refresh_id: Option<i64>,
    /// Issue time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// For a refresh token: when it was rotated away.
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// When the user signed in for its grant (the code flow), unix seconds.
    pub auth_time: Option<i64>,
    /// The resource it is for (RFC 8707 `resource`, its `aud`), when its grant named one.
    pub resource: Option<String>,
}

impl Token {
    /// True when the token may be used at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.used_at.is_none() && self.expires_at > now
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Access or refresh.
    pub kind: TokenKind,
    /// Client (storage key).
    pub client_id: i64,
    /// User (storage key).
    pub user_id: Option<i64>,
    /// Granted scope.
    pub scope: ScopeSet,
    /// Family.
    pub grant_id: String,
    /// Issue time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When the user signed in for its grant, when one did (the code flow).
    pub auth_time: Option<i64>,
    /// See [`Token::resource`].
    pub resource: Option<String>,
}

/// A browser session (server-side; the cookie holds only a random id).
#[derive(Debug, Clone)]
pub struct Session {
    /// Storage key.
    pub id: i64,
    /// The logged-in user, if any.
    pub user_id: Option<i64>,
    /// The session's CSRF token, echoed by every form.
    pub csrf_token: String,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// When it began, unix seconds. A sign-in always begins a new session, so for a signed-in
    /// one this is when the user signed in (OpenID Connect's `auth_time`).
    pub created_at: i64,
}

/// An authorization request waiting for the user's consent. The consent form carries only a
/// single-use nonce that points here, so the request cannot be altered or replayed.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// Client (storage key).
    pub client_id: i64,
    /// The user the consent page was shown to.
    pub user_id: i64,
    /// Validated redirect URI.
    pub redirect_uri: String,
    /// See [`AuthCode::redirect_uri_given`].
    pub redirect_uri_given: bool,
    /// Requested scope (already validated).
    pub scope: ScopeSet,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// PKCE challenge and method.
    pub pkce: Option<(String, super::pkce::Method)>,
    /// What the request asked for.
    pub response_type: ResponseType,
    /// The OpenID Connect request's `nonce`.
    pub nonce: Option<String>,
    /// The requested resource (RFC 8707).
    pub resource: Option<String>,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}
