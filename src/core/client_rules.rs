//! The rules a client's settings keep, whichever way they are written: the admin pages, the
//! developer portal, `register-client` and, later, dynamic registration. Each way fills a
//! [`ClientDraft`] with what it was given, as text, and renders the [`ClientErrors`] in its own
//! way (field errors on a page, one line on the command line); [`ClientDraft::validate`] is the
//! one place the rules live. The endpoints refuse the same shapes at request time
//! (`grant::authorize`, `grant::client_credentials`), so a client that passes here is one they
//! serve.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{
    AccessTokenFormat, Approval, Client, ClientPermissions, ClientType, GrantType, LifetimeError,
    LifetimeKind, NewClient, Scope, SubjectType, TokenOptions,
};
use super::oidc::keys::Algorithm;
use super::scope::{ScopeSet, is_scope_token};
use super::secret::{generate_id, generate_token, hash_secret};

/// The longest client name, in characters.
pub const MAX_NAME: usize = 100;
/// The most redirect URIs a client may register.
pub const MAX_REDIRECT_URIS: usize = 20;

/// A client's settings as they were given, before any rule is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientDraft {
    /// The public `client_id` asked for; `None` gets a random one.
    pub client_id: Option<String>,
    /// Display name (surrounding whitespace is dropped).
    pub name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// Grant type names, as on the wire.
    pub grant_types: Vec<String>,
    /// Redirect URIs, each one URI.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (RP-initiated logout), each one URI; the same rules.
    pub post_logout_redirect_uris: Vec<String>,
    /// The ID-token signing algorithm's JWA name (`RS256`, `ES256`, `EdDSA`); empty is
    /// `RS256`.
    pub id_token_alg: String,
    /// `public` or `pairwise`; empty is `public`.
    pub subject_type: String,
    /// `opaque` or `jwt` (RFC 9068); empty is `opaque`.
    pub access_token_format: String,
    /// Scope tokens.
    pub scopes: Vec<String>,
    /// Code lifetime in seconds, as typed; `None` keeps the server's.
    pub code_lifetime: Option<String>,
    /// Access token lifetime in seconds, as typed; `None` keeps the server's.
    pub access_token_lifetime: Option<String>,
    /// Refresh token lifetime in seconds, as typed; `None` keeps the server's.
    pub refresh_token_lifetime: Option<String>,
    /// What the client may do beyond its grants.
    pub permissions: ClientPermissions,
}

/// What a way of writing clients adds to the rules every way keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientRules<'a> {
    /// The server runs with `debug = true`: plain `http` redirect URIs are allowed anywhere.
    pub debug: bool,
    /// When given, every scope must be one of these (the pages offer only registered scopes;
    /// the command line may name scopes that `syncscopes` adds later).
    pub registered_scopes: Option<&'a [Scope]>,
    /// The server can sign JWT access tokens (its `key_encryption_key` is set): without it, no
    /// client may ask for them.
    pub signs_jwts: bool,
}

/// A field of a [`ClientDraft`], in the order errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Field {
    /// [`ClientDraft::name`].
    Name,
    /// [`ClientDraft::client_id`].
    ClientId,
    /// [`ClientDraft::client_type`].
    ClientType,
    /// [`ClientDraft::grant_types`].
    GrantTypes,
    /// [`ClientDraft::scopes`].
    Scopes,
    /// [`ClientDraft::redirect_uris`].
    RedirectUris,
    /// [`ClientDraft::post_logout_redirect_uris`].
    PostLogoutRedirectUris,
    /// [`ClientDraft::id_token_alg`].
    IdTokenAlg,
    /// [`ClientDraft::subject_type`].
    SubjectType,
    /// [`ClientDraft::access_token_format`].
    AccessTokenFormat,
    /// [`ClientDraft::code_lifetime`].
    CodeLifetime,
    /// [`ClientDraft::access_token_lifetime`].
    AccessTokenLifetime,
    /// [`ClientDraft::refresh_token_lifetime`].
    RefreshTokenLifetime,
    /// [`ClientPermissions::resource_server`].
    ResourceServer,
    /// [`ClientPermissions::allow_public_without_pkce`].
    AllowPublicWithoutPkce,
}

impl Field {
    /// The field's name as the forms (and the draft) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ClientId => "client_id",
            Self::ClientType => "client_type",
            Self::GrantTypes => "grant_types",
            Self::Scopes => "scopes",
            Self::RedirectUris => "redirect_uris",
            Self::PostLogoutRedirectUris => "post_logout_redirect_uris",
            Self::IdTokenAlg => "id_token_signed_response_alg",
            Self::SubjectType => "subject_type",
            Self::AccessTokenFormat => "access_token_format",
            Self::CodeLifetime => "code_lifetime",
            Self::AccessTokenLifetime => "access_token_lifetime",
            Self::RefreshTokenLifetime => "refresh_token_lifetime",
            Self::ResourceServer => "resource_server",
            Self::AllowPublicWithoutPkce => "allow_public_without_pkce",
        }
    }
}

/// Why a redirect URI was refused (RFC 6749 §3.1.2, and https unless loopback or debug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Not an absolute URL.
    #[error("the redirect URI “{0}” is not an absolute URL")]
    NotAbsolute(String),
    /// Has a `#fragment` (§3.1.2 forbids one).
    #[error("the redirect URI “{0}” must not contain a #fragment")]
    Fragment(String),
    /// Contains whitespace, which exact matching could never meet.
    #[error("the redirect URI “{0}” must not contain spaces")]
    Whitespace(String),
    /// Has no host to send the user to.
    #[error("the redirect URI “{0}” has no host")]
    NoHost(String),
    /// Neither `https`, nor plain `http` to a loopback host or on a debug server.
    #[error("the redirect URI “{0}” must use https (plain http is allowed only for localhost)")]
    NotHttps(String),
}

/// Why a draft was refused; each is reported against one [`Field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The name is empty or longer than [`MAX_NAME`] characters.
    #[error("give a name of 1 to 100 characters")]
    Name,
    /// A requested client_id that HTTP Basic could not carry.
    #[error("the client_id must be printable ASCII without ':'")]
    ClientId,
    /// Neither `confidential` nor `public`.
    #[error("the client type must be confidential or public, not “{0}”")]
    ClientType(String),
    /// A grant type this server does not know.
    #[error(
        "unknown grant type “{0}”; use authorization_code, implicit, password, client_credentials or refresh_token"
    )]
    UnknownGrantType(String),
    /// No grant type at all.
    #[error("choose at least one grant type")]
    NoGrantType,
    /// `implicit` on a confidential client.
    #[error("the implicit grant is for public clients only")]
    ImplicitNeedsPublic,
    /// `client_credentials` or `password` on a public client.
    #[error(
        "client_credentials and password need a confidential client (they authenticate with a secret)"
    )]
    SecretGrantNeedsConfidential,
    /// A public client marked as a resource server.
    #[error(
        "only a confidential client can be a resource server (it must prove who it is with its secret)"
    )]
    ResourceServerNeedsConfidential,
    /// A confidential client allowed to skip PKCE.
    #[error(
        "only a public client can be allowed to skip PKCE (a confidential client authenticates with its secret)"
    )]
    PkceOptOutNeedsPublic,
    /// A scope token RFC 6749 §3.3 does not allow.
    #[error("“{0}” is not a valid scope name")]
    BadScope(String),
    /// A scope that is not registered, where [`ClientRules::registered_scopes`] asks for one.
    #[error("“{0}” is not a registered scope")]
    UnknownScope(String),
    /// No scope at all.
    #[error("choose at least one scope")]
    NoScope,
    /// A refused redirect URI.
    #[error(transparent)]
    RedirectUri(#[from] RedirectUriError),
    /// The authorization_code or implicit grant without a redirect URI.
    #[error("give at least one redirect URI (the authorization_code and implicit grants need one)")]
    NoRedirectUri,
    /// An ID-token signing algorithm this server does not sign with.
    #[error("unknown signing algorithm “{0}”; use RS256, ES256 or EdDSA")]
    UnknownAlgorithm(String),
    /// Neither `public` nor `pairwise`.
    #[error("the subject type must be public or pairwise, not “{0}”")]
    UnknownSubjectType(String),
    /// Neither `opaque` nor `jwt`.
    #[error("the access-token format must be opaque or jwt, not “{0}”")]
    UnknownAccessTokenFormat(String),
    /// JWT access tokens on a server that cannot sign them.
    #[error(
        "JWT access tokens need the server's key_encryption_key (SCOPEGATE_KEY_ENCRYPTION_KEY), which seals the keys that sign them"
    )]
    JwtNeedsKeys,
    /// Pairwise subjects with redirect URIs on several hosts, or none: the sector a pairwise
    /// `sub` is made for is the redirect URIs' one host (Core §8.1).
    #[error("pairwise subjects need every redirect URI on one host (the sector they are made for)")]
    PairwiseNeedsOneHost,
    /// More than [`MAX_REDIRECT_URIS`].
    #[error("give at most 20 redirect URIs")]
    TooManyRedirectUris,
    /// A lifetime outside its bounds, or not a number.
    #[error("the lifetime {0}")]
    Lifetime(LifetimeError),
}

/// The errors of a refused draft: the first for each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientErrors(BTreeMap<Field, ClientError>);

impl ClientErrors {
    fn add(&mut self, field: Field, error: ClientError) {
        self.0.entry(field).or_insert(error);
    }

    /// Every error with its field, in [`Field`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, &ClientError)> {
        self.0.iter().map(|(f, e)| (*f, e))
    }

    /// The error of one field, if it has one.
    pub fn get(&self, field: Field) -> Option<&ClientError> {
        self.0.get(&field)
    }
}

impl fmt::Display for ClientErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, error)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {error}", field.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for ClientErrors {}

/// A client's settings that keep every rule. Only [`ClientDraft::validate`] makes one, and it is
/// all the store takes to create a client ([`into_new_client`](Self::into_new_client)) or to
/// change one (`ClientStore::update_client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClient {
    client_id: Option<String>,
    name: String,
    client_type: ClientType,
    grant_types: Vec<GrantType>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    tokens: TokenOptions,
    scopes: ScopeSet,
    code_lifetime: Option<i64>,
    access_token_lifetime: Option<i64>,
    refresh_token_lifetime: Option<i64>,
    permissions: ClientPermissions,
}

impl ValidClient {
    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Confidential or public.
    pub fn client_type(&self) -> ClientType {
        self.client_type
    }

    /// The allowed grants, each once.
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// The redirect URIs, each once, in the order given.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The post-logout redirect URIs, each once, in the order given.
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.post_logout_redirect_uris
    }

    /// How its ID tokens are signed and its users named.
    pub fn tokens(&self) -> TokenOptions {
        self.tokens
    }

    /// The widest scope the client may ask for.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The permissions beyond the grants.
    pub fn permissions(&self) -> ClientPermissions {
        self.permissions
    }

    /// The code lifetime override, in seconds.
    pub fn code_lifetime(&self) -> Option<i64> {
        self.code_lifetime
    }

    /// The access token lifetime override, in seconds.
    pub fn access_token_lifetime(&self) -> Option<i64> {
        self.access_token_lifetime
    }

    /// The refresh token lifetime override, in seconds.
    pub fn refresh_token_lifetime(&self) -> Option<i64> {
        self.refresh_token_lifetime
    }

    /// A new client for the store: the requested client_id or a random one and, for a
    /// confidential client, a fresh secret, returned in plain text to be shown once (only its
    /// hash is kept).
    pub fn into_new_client(
        self,
        approval: Approval,
        owner_id: Option<i64>,
    ) -> (NewClient, Option<String>) {
        let secret = (self.client_type == ClientType::Confidential).then(generate_token);
        let client = NewClient {
            client_id: self.client_id.unwrap_or_else(|| generate_id(32)),
            secret_hash: secret.as_deref().map(hash_secret),
            name: self.name,
            client_type: self.client_type,
            grant_types: self.grant_types,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            tokens: self.tokens,
            scopes: self.scopes,
            approval,
            code_lifetime: self.code_lifetime,
            access_token_lifetime: self.access_token_lifetime,
            refresh_token_lifetime: self.refresh_token_lifetime,
            owner_id,
            permissions: self.permissions,
        };
        (client, secret)
    }

    /// Writes these settings over a client in memory, once the store has taken them
    /// (`ClientStore::update_client`). Its identity, secret and approval stay: a change of
    /// client type needs the secret changed too, which the caller does.
    pub fn apply_to(self, client: &mut Client) {
        client.name = self.name;
        client.client_type = self.client_type;
        client.grant_types = self.grant_types;
        client.redirect_uris = self.redirect_uris;
        client.post_logout_redirect_uris = self.post_logout_redirect_uris;
        client.tokens = self.tokens;
        client.scopes = self.scopes;
        client.code_lifetime = self.code_lifetime;
        client.access_token_lifetime = self.access_token_lifetime;
        client.refresh_token_lifetime = self.refresh_token_lifetime;
        client.permissions = self.permissions;
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks one redirect URI: absolute, no fragment, no whitespace, a host, and `https` unless
/// the host is loopback or the server runs with `debug`. Registered URIs are compared exactly
/// at the authorization endpoint, so nothing is normalised here.
///
/// ```
/// use scopegate::core::client_rules::check_redirect_uri;
/// assert!(check_redirect_uri("https://app.example.com/cb", false).is_ok());
/// assert!(check_redirect_uri("http://127.0.0.1:8080/cb", false).is_ok());
/// assert!(check_redirect_uri("http://[::1]/cb", false).is_ok());
/// assert!(check_redirect_uri("http://app.example.com/cb", false).is_err());
/// assert!(check_redirect_uri("http://app.example.com/cb", true).is_ok());
/// assert!(check_redirect_uri("https://app.example.com/cb#x", false).is_err());
/// assert!(check_redirect_uri("https://app.example.com/a b", true).is_err());
/// assert!(check_redirect_uri("com.example.app:/cb", true).is_err());
/// assert!(check_redirect_uri("/cb", true).is_err());
/// ```
pub fn check_redirect_uri(uri: &str, debug: bool) -> Result<(), RedirectUriError> {
    let owned = || uri.to_owned();
    // The URL parser silently drops some whitespace, which would make the stored URI differ
    // from the one the client sends.
    if uri.chars().any(char::is_whitespace) {
        return Err(RedirectUriError::Whitespace(owned()));
    }
    let parsed = url::Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(owned()))?;
    if parsed.fragment().is_some() {
        return Err(RedirectUriError::Fragment(owned()));
    }
    let Some(host) = parsed.host() else {
        return Err(RedirectUriError::NoHost(owned()));
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if debug || is_loopback(&host) => Ok(()),
        _ => Err(RedirectUriError::NotHttps(owned())),
    }
}

impl ClientDraft {
    /// The draft of a stored client, for an edit: change what the edit changes, then
    /// [`validate`](Self::validate) it whole.
    pub fn of(client: &Client) -> Self {
        let text = |v: Option<i64>| v.map(|n| n.to_string());
        Self {
            client_id: None,
            name: client.name.clone(),
            client_type: client.client_type.as_str().to_owned(),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            id_token_alg: client.tokens.alg.as_str().to_owned(),
            subject_type: client.tokens.subject_type.as_str().to_owned(),
            access_token_format: client.tokens.access.as_str().to_owned(),
            scopes: client.scopes.iter().map(str::to_owned).collect(),
            code_lifetime: text(client.code_lifetime),
            access_token_lifetime: text(client.access_token_lifetime),
            refresh_token_lifetime: text(client.refresh_token_lifetime),
            permissions: client.permissions,
        }
    }

    /// Checks every rule; the settings that keep them, or the first error of each field.
    pub fn validate(&self, rules: &ClientRules<'_>) -> Result<ValidClient, ClientErrors> {
        let mut errors = ClientErrors(BTreeMap::new());

        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            errors.add(Field::Name, ClientError::Name);
        }
        if let Some(id) = &self.client_id
            // ':' separates the id from the secret in HTTP Basic credentials.
            && (id.is_empty() || !id.chars().all(|c| c.is_ascii_graphic() && c != ':'))
        {
            errors.add(Field::ClientId, ClientError::ClientId);
        }

        let client_type = ClientType::parse(&self.client_type);
        if client_type.is_none() {
            errors.add(
                Field::ClientType,
                ClientError::ClientType(self.client_type.clone()),
            );
        }

        let mut grant_types = Vec::new();
        for text in &self.grant_types {
            match GrantType::parse(text) {
                Some(g) if !grant_types.contains(&g) => grant_types.push(g),
                Some(_) => {}
                None => errors.add(
                    Field::GrantTypes,
                    ClientError::UnknownGrantType(text.clone()),
                ),
            }
        }
        if self.grant_types.is_empty() {
            errors.add(Field::GrantTypes, ClientError::NoGrantType);
        }

        let scopes = self.check_scopes(rules, &mut errors);
        let redirect_uris = self.check_redirect_uris(rules, &grant_types, &mut errors);
        let post_logout_redirect_uris = checked_uris(
            &self.post_logout_redirect_uris,
            Field::PostLogoutRedirectUris,
            rules.debug,
            &mut errors,
        );
        let tokens = self.check_tokens(&redirect_uris, &mut errors);
        if tokens.access == AccessTokenFormat::Jwt && !rules.signs_jwts {
            errors.add(Field::AccessTokenFormat, ClientError::JwtNeedsKeys);
        }

        let lifetimes = [
            (Field::CodeLifetime, LifetimeKind::Code, &self.code_lifetime),
            (
                Field::AccessTokenLifetime,
                LifetimeKind::Access,
                &self.access_token_lifetime,
            ),
            (
                Field::RefreshTokenLifetime,
                LifetimeKind::Refresh,
                &self.refresh_token_lifetime,
            ),
        ]
        .map(|(field, kind, text)| {
            let parsed = text.as_deref().map(|t| kind.parse(t)).transpose();
            parsed.unwrap_or_else(|e| {
                errors.add(field, ClientError::Lifetime(e));
                None
            })
        });

        if let Some(client_type) = client_type {
            check_shape(client_type, &grant_types, self.permissions, &mut errors);
        }

        match client_type {
            Some(client_type) if errors.0.is_empty() => {
                let [code_lifetime, access_token_lifetime, refresh_token_lifetime] = lifetimes;
                Ok(ValidClient {
                    client_id: self.client_id.clone(),
                    name: name.to_owned(),
                    client_type,
                    grant_types,
                    redirect_uris,
                    post_logout_redirect_uris,
                    tokens,
                    scopes,
                    code_lifetime,
                    access_token_lifetime,
                    refresh_token_lifetime,
                    permissions: self.permissions,
                })
            }
            _ => Err(errors),
        }
    }

    /// The token options: known names (empty for the default), and for pairwise subjects
    /// one host across the (checked) redirect URIs.
    fn check_tokens(&self, redirect_uris: &[String], errors: &mut ClientErrors) -> TokenOptions {
        let alg = named(
            &self.id_token_alg,
            Algorithm::parse,
            Field::IdTokenAlg,
            ClientError::UnknownAlgorithm,
            errors,
        );
        let subject_type = named(
            &self.subject_type,
            SubjectType::parse,
            Field::SubjectType,
            ClientError::UnknownSubjectType,
            errors,
        );
        if subject_type == SubjectType::Pairwise && sector(redirect_uris).is_none() {
            errors.add(Field::SubjectType, ClientError::PairwiseNeedsOneHost);
        }
        let access = named(
            &self.access_token_format,
            AccessTokenFormat::parse,
            Field::AccessTokenFormat,
            ClientError::UnknownAccessTokenFormat,
            errors,
        );
        TokenOptions {
            alg,
            subject_type,
            access,
        }
    }

    fn check_scopes(&self, rules: &ClientRules<'_>, errors: &mut ClientErrors) -> ScopeSet {
        if self.scopes.is_empty() {
            errors.add(Field::Scopes, ClientError::NoScope);
        }
        for s in &self.scopes {
            if !is_scope_token(s) {
                errors.add(Field::Scopes, ClientError::BadScope(s.clone()));
            } else if let Some(known) = rules.registered_scopes
                && !known.iter().any(|k| &k.name == s)
            {
                errors.add(Field::Scopes, ClientError::UnknownScope(s.clone()));
            }
        }
        self.scopes.iter().cloned().collect()
    }

    fn check_redirect_uris(
        &self,
        rules: &ClientRules<'_>,
        grant_types: &[GrantType],
        errors: &mut ClientErrors,
    ) -> Vec<String> {
        let needs_one = grant_types
            .iter()
            .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
        if needs_one && self.redirect_uris.is_empty() {
            errors.add(Field::RedirectUris, ClientError::NoRedirectUri);
        }
        checked_uris(
            &self.redirect_uris,
            Field::RedirectUris,
            rules.debug,
            errors,
        )
    }
}

/// The value `text` names, by `parse`: empty is the default, and an unknown name is the error
/// `unknown` makes of it, against `field`.
fn named<T: Default>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    field: Field,
    unknown: fn(String) -> ClientError,
    errors: &mut ClientErrors,
) -> T {
    match text.trim() {
        "" => T::default(),
        name => parse(name).unwrap_or_else(|| {
            errors.add(field, unknown(name.to_owned()));
            T::default()
        }),
    }
}

/// The sector a pairwise `sub` is made for (Core §8.1): the one host every redirect URI names,
/// lower-cased; `None` when they name several, or there are none.
pub fn sector(redirect_uris: &[String]) -> Option<String> {
    let mut hosts = redirect_uris.iter().map(|uri| {
        url::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    });
    let first = hosts.next()??;
    hosts
        .all(|h| h.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// Checks a list of redirect URIs of `field` (at most [`MAX_REDIRECT_URIS`], each by
/// [`check_redirect_uri`]); the good ones, each once, in the order given.
fn checked_uris(
    uris: &[String],
    field: Field,
    debug: bool,
    errors: &mut ClientErrors,
) -> Vec<String> {
    if uris.len() > MAX_REDIRECT_URIS {
        errors.add(field, ClientError::TooManyRedirectUris);
    }
    let mut unique: Vec<String> = Vec::new();
    for uri in uris {
        if let Err(e) = check_redirect_uri(uri, debug) {
            errors.add(field, e.into());
        } else if !unique.contains(uri) {
            unique.push(uri.clone());
        }
    }
    unique
}

/// Which grants and permissions a client type may hold: those the endpoints would refuse are
/// refused here, each against the field it is about.
fn check_shape(
    client_type: ClientType,
    grants: &[GrantType],
    permissions: ClientPermissions,
    errors: &mut ClientErrors,
) {
    let public = client_type == ClientType::Public;
    if !public && grants.contains(&GrantType::Implicit) {
        errors.add(Field::GrantTypes, ClientError::ImplicitNeedsPublic);
    }
    if public
        && grants
            .iter()
            .any(|g| matches!(g, GrantType::ClientCredentials | GrantType::Password))
    {
        errors.add(Field::GrantTypes, ClientError::SecretGrantNeedsConfidential);
    }
    if public && permissions.resource_server {
        errors.add(
            Field::ResourceServer,
            ClientError::ResourceServerNeedsConfidential,
        );
    }
    if !public && permissions.allow_public_without_pkce {
        errors.add(
            Field::AllowPublicWithoutPkce,
            ClientError::PkceOptOutNeedsPublic,
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn good() -> ClientDraft {
        ClientDraft {
            name: "Polls".into(),
            client_type: "confidential".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec!["https://app.example/cb".into()],
            scopes: vec!["polls:vote".into()],
            ..ClientDraft::default()
        }
    }

    const STRICT: ClientRules<'static> = ClientRules {
        debug: false,
        registered_scopes: None,
        signs_jwts: true,
    };

    fn refused(draft: &ClientDraft, rules: &ClientRules<'_>) -> ClientErrors {
        draft
            .validate(rules)
            .expect_err("the draft should be refused")
    }

    #[test]
    fn jwt_access_tokens_need_a_server_that_can_sign_them() {
        let jwt = ClientDraft {
            access_token_format: "jwt".into(),
            ..good()
        };
        let unsigned = ClientRules {
            signs_jwts: false,
            ..STRICT
        };
        assert_eq!(
            refused(&jwt, &unsigned).get(Field::AccessTokenFormat),
            Some(&ClientError::JwtNeedsKeys)
        );
        assert!(
            good().validate(&unsigned).is_ok(),
            "opaque tokens need no key"
        );
        let valid = jwt.validate(&STRICT).unwrap();
        assert_eq!(valid.tokens().access, AccessTokenFormat::Jwt);
    }

    #[test]
    fn id_token_options_are_known_names_and_pairwise_needs_one_host() {
        let valid = good().validate(&STRICT).unwrap();
        assert_eq!(
            valid.tokens(),
            TokenOptions::default(),
            "empty is the default"
        );
        let chosen = ClientDraft {
            id_token_alg: "ES256".into(),
            subject_type: "pairwise".into(),
            redirect_uris: vec![
                "https://App.example/cb".into(),
                "https://app.example:8443/other".into(),
            ],
            ..good()
        };
        let options = chosen.validate(&STRICT).unwrap().tokens();
        assert_eq!(options.alg, Algorithm::Es256);
        assert_eq!(options.subject_type, SubjectType::Pairwise);
        assert_eq!(
            sector(&chosen.redirect_uris).as_deref(),
            Some("app.example"),
            "the host, whatever its port, path or case"
        );
        for (alg, subject_type, field) in [
            ("HS256", "public", Field::IdTokenAlg),
            ("none", "public", Field::IdTokenAlg),
            ("rs256", "public", Field::IdTokenAlg),
            ("RS256", "Pairwise", Field::SubjectType),
        ] {
            let draft = ClientDraft {
                id_token_alg: alg.into(),
                subject_type: subject_type.into(),
                ..good()
            };
            assert!(
                refused(&draft, &STRICT).get(field).is_some(),
                "{alg} {subject_type}"
            );
        }
        let two_hosts = ClientDraft {
            subject_type: "pairwise".into(),
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "https://other.example/cb".into(),
            ],
            ..good()
        };
        assert_eq!(
            refused(&two_hosts, &STRICT).get(Field::SubjectType),
            Some(&ClientError::PairwiseNeedsOneHost)
        );
        let no_redirect = ClientDraft {
            subject_type: "pairwise".into(),
            grant_types: vec!["client_credentials".into()],
            redirect_uris: Vec::new(),
            ..good()
        };
        assert!(
            refused(&no_redirect, &STRICT)
                .get(Field::SubjectType)
                .is_some()
        );
    }

    #[test]
    fn a_good_draft_becomes_a_valid_client() {
        let valid = good().validate(&STRICT).unwrap();
        assert_eq!(valid.name(), "Polls");
        assert_eq!(valid.client_type(), ClientType::Confidential);
        assert_eq!(
            valid.grant_types(),
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(valid.scopes().to_string(), "polls:vote");
        let (new, secret) = valid.into_new_client(Approval::Pending, Some(7));
        assert_eq!(new.client_id.len(), 32);
        assert_eq!(
            new.secret_hash.as_deref(),
            secret.as_deref().map(hash_secret).as_deref()
        );
        assert_eq!(new.owner_id, Some(7));
    }

    #[test]
    fn a_public_client_gets_no_secret_and_a_named_id_is_kept() {
        let draft = ClientDraft {
            client_id: Some("1234".into()),
            client_type: "public".into(),
            grant_types: vec!["implicit".into()],
            ..good()
        };
        let (new, secret) = draft
            .validate(&STRICT)
            .unwrap()
            .into_new_client(Approval::Approved, None);
        assert_eq!(
            (new.client_id.as_str(), secret, new.secret_hash),
            ("1234", None, None)
        );
    }

    #[test]
    fn each_bad_draft_is_refused_on_its_field() {
        let scopes = [Scope {
            name: "polls:vote".into(),
            description: String::new(),
            from_code: true,
        }];
        let registered = ClientRules {
            registered_scopes: Some(&scopes),
            ..STRICT
        };
        let cases: Vec<(ClientDraft, Field, ClientError)> = vec![
            (
                ClientDraft {
                    name: "  ".into(),
                    ..good()
                },
                Field::Name,
                ClientError::Name,
            ),
            (
                ClientDraft {
                    name: "x".repeat(101),
                    ..good()
                },
                Field::Name,
                ClientError::Name,
            ),
            (
                ClientDraft {
                    client_id: Some("a:b".into()),
                    ..good()
                },
                Field::ClientId,
                ClientError::ClientId,
            ),
            (
                ClientDraft {
                    client_id: Some(String::new()),
                    ..good()
                },
                Field::ClientId,
                ClientError::ClientId,
            ),
            (
                ClientDraft {
                    client_type: "secretive".into(),
                    ..good()
                },
                Field::ClientType,
                ClientError::ClientType("secretive".into()),
            ),
            (
                ClientDraft {
                    grant_types: vec![],
                    ..good()
                },
                Field::GrantTypes,
                ClientError::NoGrantType,
            ),
            (
                ClientDraft {
                    grant_types: vec!["magic".into()],
                    ..good()
                },
                Field::GrantTypes,
                ClientError::UnknownGrantType("magic".into()),
            ),
            (
                ClientDraft {
                    grant_types: vec!["implicit".into()],
                    ..good()
                },
                Field::GrantTypes,
                ClientError::ImplicitNeedsPublic,
            ),
            (
                ClientDraft {
                    client_type: "public".into(),
                    grant_types: vec!["password".into()],
                    ..good()
                },
                Field::GrantTypes,
                ClientError::SecretGrantNeedsConfidential,
            ),
            (
                ClientDraft {
                    client_type: "public".into(),
                    grant_types: vec!["client_credentials".into()],
                    ..good()
                },
                Field::GrantTypes,
                ClientError::SecretGrantNeedsConfidential,
            ),
            (
                ClientDraft {
                    client_type: "public".into(),
                    permissions: ClientPermissions {
                        resource_server: true,
                        ..Default::default()
                    },
                    ..good()
                },
                Field::ResourceServer,
                ClientError::ResourceServerNeedsConfidential,
            ),
            (
                ClientDraft {
                    permissions: ClientPermissions {
                        allow_public_without_pkce: true,
                        ..Default::default()
                    },
                    ..good()
                },
                Field::AllowPublicWithoutPkce,
                ClientError::PkceOptOutNeedsPublic,
            ),
            (
                ClientDraft {
                    scopes: vec![],
                    ..good()
                },
                Field::Scopes,
                ClientError::NoScope,
            ),
            (
                ClientDraft {
                    scopes: vec!["a\"b".into()],
                    ..good()
                },
                Field::Scopes,
                ClientError::BadScope("a\"b".into()),
            ),
            (
                ClientDraft {
                    redirect_uris: vec![],
                    ..good()
                },
                Field::RedirectUris,
                ClientError::NoRedirectUri,
            ),
            (
                ClientDraft {
                    client_type: "public".into(),
                    grant_types: vec!["implicit".into()],
                    redirect_uris: vec![],
                    ..good()
                },
                Field::RedirectUris,
                ClientError::NoRedirectUri,
            ),
            (
                ClientDraft {
                    redirect_uris: (0..21).map(|i| format!("https://a.example/{i}")).collect(),
                    ..good()
                },
                Field::RedirectUris,
                ClientError::TooManyRedirectUris,
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["http://app.example/cb".into()],
                    ..good()
                },
                Field::RedirectUris,
                RedirectUriError::NotHttps("http://app.example/cb".into()).into(),
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["https://a.example/#x".into()],
                    ..good()
                },
                Field::RedirectUris,
                RedirectUriError::Fragment("https://a.example/#x".into()).into(),
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["relative/cb".into()],
                    ..good()
                },
                Field::RedirectUris,
                RedirectUriError::NotAbsolute("relative/cb".into()).into(),
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["https://a.example/a b".into()],
                    ..good()
                },
                Field::RedirectUris,
                RedirectUriError::Whitespace("https://a.example/a b".into()).into(),
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["urn:ietf:wg:oauth:2.0:oob".into()],
                    ..good()
                },
                Field::RedirectUris,
                RedirectUriError::NoHost("urn:ietf:wg:oauth:2.0:oob".into()).into(),
            ),
            (
                ClientDraft {
                    code_lifetime: Some("3601".into()),
                    ..good()
                },
                Field::CodeLifetime,
                ClientError::Lifetime(LifetimeError {
                    kind: LifetimeKind::Code,
                }),
            ),
            (
                ClientDraft {
                    access_token_lifetime: Some("soon".into()),
                    ..good()
                },
                Field::AccessTokenLifetime,
                ClientError::Lifetime(LifetimeError {
                    kind: LifetimeKind::Access,
                }),
            ),
            (
                ClientDraft {
                    refresh_token_lifetime: Some("0".into()),
                    ..good()
                },
                Field::RefreshTokenLifetime,
                ClientError::Lifetime(LifetimeError {
                    kind: LifetimeKind::Refresh,
                }),
            ),
        ];
        for (draft, field, error) in cases {
            let errors = refused(&draft, &STRICT);
            assert_eq!(errors.get(field), Some(&error), "{draft:?}: {errors}");
            assert_eq!(
                errors.iter().count(),
                1,
                "only {field:?} is wrong: {errors}"
            );
        }
        let unknown = ClientDraft {
            scopes: vec!["polls:stats".into()],
            ..good()
        };
        assert!(
            unknown.validate(&STRICT).is_ok(),
            "the command line may name any scope"
        );
        assert_eq!(
            refused(&unknown, &registered).get(Field::Scopes),
            Some(&ClientError::UnknownScope("polls:stats".into()))
        );
    }

    #[test]
    fn every_field_reports_its_first_error_in_field_order() {
        let draft = ClientDraft {
            name: String::new(),
            client_type: "weird".into(),
            scopes: vec![],
            redirect_uris: vec!["http://a/".into()],
            ..good()
        };
        let errors = refused(&draft, &STRICT);
        let fields: Vec<Field> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                Field::Name,
                Field::ClientType,
                Field::Scopes,
                Field::RedirectUris
            ]
        );
        assert!(errors.to_string().starts_with("name: give a name"));
    }

    #[test]
    fn debug_and_loopback_allow_plain_http() {
        let draft = ClientDraft {
            redirect_uris: vec!["http://app.example/cb".into()],
            ..good()
        };
        assert!(
            draft
                .validate(&ClientRules {
                    debug: true,
                    ..STRICT
                })
                .is_ok()
        );
        for uri in [
            "http://localhost:3000/cb",
            "http://127.0.0.1:9/cb",
            "http://[::1]/cb",
        ] {
            let draft = ClientDraft {
                redirect_uris: vec![uri.into()],
                ..good()
            };
            assert!(draft.validate(&STRICT).is_ok(), "{uri}");
        }
        let ftp = ClientDraft {
            redirect_uris: vec!["ftp://a.example/x".into()],
            ..good()
        };
        assert!(
            ftp.validate(&ClientRules {
                debug: true,
                ..STRICT
            })
            .is_err()
        );
    }

    #[test]
    fn grants_without_a_redirect_need_no_uri_and_duplicates_collapse() {
        let machine = ClientDraft {
            grant_types: vec!["client_credentials".into()],
            redirect_uris: vec![],
            ..good()
        };
        assert!(
            machine
                .validate(&STRICT)
                .unwrap()
                .redirect_uris()
                .is_empty()
        );
        let twice = ClientDraft {
            grant_types: vec!["authorization_code".into(), "authorization_code".into()],
            redirect_uris: vec![
                "https://a.example/1".into(),
                "https://a.example/2".into(),
                "https://a.example/1".into(),
            ],
            scopes: vec!["b".into(), "a".into(), "b".into()],
            ..good()
        };
        let valid = twice.validate(&STRICT).unwrap();
        assert_eq!(valid.grant_types(), [GrantType::AuthorizationCode]);
        assert_eq!(
            valid.redirect_uris(),
            ["https://a.example/1", "https://a.example/2"]
        );
        assert_eq!(valid.scopes().to_string(), "a b");
    }

    #[test]
    fn an_edit_starts_from_the_stored_client_and_keeps_what_it_does_not_change() {
        let (new, _) = good()
            .validate(&STRICT)
            .unwrap()
            .into_new_client(Approval::Approved, None);
        let mut stored = Client {
            id: 1,
            client_id: new.client_id,
            secret_hash: new.secret_hash,
            name: new.name,
            client_type: new.client_type,
            grant_types: new.grant_types,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            tokens: new.tokens,
            scopes: new.scopes,
            approval: new.approval,
            code_lifetime: Some(30),
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            permissions: ClientPermissions::default(),
        };
        let mut draft = ClientDraft::of(&stored);
        assert_eq!(draft.code_lifetime.as_deref(), Some("30"));
        draft.redirect_uris = vec!["https://b.example/cb".into()];
        let before = stored.clone();
        draft.validate(&STRICT).unwrap().apply_to(&mut stored);
        assert_eq!(stored.redirect_uris, ["https://b.example/cb"]);
        assert_eq!(
            (
                stored.code_lifetime,
                &stored.client_id,
                &stored.secret_hash,
                &stored.approval
            ),
            (
                Some(30),
                &before.client_id,
                &before.secret_hash,
                &before.approval
            )
        );
    }
}
