//! The authorization endpoint's decisions (RFC 6749 §4.1.1–4.1.2, §4.2.1–4.2.2; RFC 7636 §4.3).
//!
//! [`validate`] checks a request and yields a [`Pending`] authorization. Its errors split in
//! two: while the client or its redirect URI is in doubt the user must see an error page and is
//! never redirected (§4.1.2.1); once both are known good, errors go back to the client's
//! redirect URI.
//!
//! A pending authorization waits for the user: [`Pending::hold`] stores it behind the consent
//! page's single-use nonce and [`resume`] takes it back when the user answers. Then
//! [`Pending::approve`] records the consent and issues the code or the token, and
//! [`Pending::deny`] gives `access_denied`; both answer with a [`Redirect`] that the web layer
//! only sends. A `Pending` is not `Clone` and each of these consumes it, so one request is
//! answered once.

use crate::core::error::{ErrorCode, OAuthError};
use crate::core::grant::{Grant, mint, new_grant_id, signed_id_token};
use crate::core::model::{
    AccessTokenFormat, Approval, Client, ClientType, GrantType, Lifetimes, NewCode,
    PendingAuthorization, ResponseType,
};
use crate::core::oidc::keys::KeySet;
use crate::core::oidc::{self, MAX_NONCE, OPENID};
use crate::core::oidc::{Authentication, ID_TOKEN_LIFETIME, IdTokens, Subjects};
use crate::core::params::Params;
use crate::core::pkce;
use crate::core::scope::ScopeSet;
use crate::core::secret::{generate_token, hash_secret};
use crate::core::store::StoreError;
use crate::core::store::prelude::*;

/// How long a consent page stays answerable, in seconds.
const CONSENT_TTL: i64 = 600;

/// Where a redirect carries its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the query, keeping any query the registered URI has (RFC 6749 §4.1.2).
    Query,
    /// In the fragment, which the browser keeps to itself: never sent to the client's server
    /// or logged by proxies (§4.2.2, the implicit grant).
    Fragment,
}

impl ResponseMode {
    /// The mode `response_type` answers in.
    pub fn of(response_type: ResponseType) -> Self {
        // Core §3.2.2.5, §3.3.2.5: anything beside a lone code goes in the fragment, so the
        // tokens never reach the client's server or a proxy's log.
        match response_type {
            ResponseType::Code => Self::Query,
            _ => Self::Fragment,
        }
    }
}

/// An answer for the client, sent by redirecting the user's browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The client's verified redirect URI.
    pub uri: String,
    /// The response parameters, in the order sent.
    pub params: Vec<(&'static str, String)>,
    /// Query or fragment.
    pub mode: ResponseMode,
}

impl Redirect {
    /// An error response (§4.1.2.1, §4.2.2.1): `error`, `error_description`, and `state` when
    /// the request had one.
    fn error(uri: String, mode: ResponseMode, err: &OAuthError, state: Option<&str>) -> Self {
        let mut params = vec![
            ("error", err.code.as_str().to_owned()),
            ("error_description", err.description.clone()),
        ];
        params.extend(state.map(|s| ("state", s.to_owned())));
        Self { uri, params, mode }
    }

    /// The value of a response parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        let found = self.params.iter().find(|(n, _)| *n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// The URL to send the browser to; `None` when the registered URI is not a URL. Every
    /// answer, success or error, names `issuer` in `iss` (RFC 9207 §2), so a client talking
    /// to several servers can tell which one answered (mix-up attacks).
    pub fn location(&self, issuer: &str) -> Option<String> {
        let mut url = url::Url::parse(&self.uri).ok()?;
        let iss = ("iss", issuer.to_owned());
        let params = self.params.iter().chain(std::iter::once(&iss));
        match self.mode {
            ResponseMode::Fragment => {
                let all: Vec<_> = params.collect();
                let encoded = serde_urlencoded::to_string(all).ok()?;
                url.set_fragment(Some(&encoded));
            }
            ResponseMode::Query => {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
        }
        Some(url.into())
    }
}

/// An authorization request that passed every check, waiting for the user's answer. Only
/// [`validate`] and [`resume`] make one, and it is not `Clone`: it is answered (approved,
/// denied or held for the consent page) once.
#[derive(Debug)]
pub struct Pending {
    client: Client,
    redirect_uri: String,
    redirect_uri_given: bool,
    scope: ScopeSet,
    state: Option<String>,
    pkce: Option<(String, pkce::Method)>,
    response_type: ResponseType,
    /// OpenID Connect's `nonce`, for the ID token; kept only on `openid` requests.
    nonce: Option<String>,
    /// The resource the tokens are for (RFC 8707).
    resource: Option<String>,
    /// OpenID Connect's `prompt` and `max_age`; only on `openid` requests.
    sign_in: SignInRule,
    /// OpenID Connect's `login_hint`, for the sign-in form; only on `openid` requests.
    login_hint: Option<String>,
    /// The `sub` of a verified `id_token_hint`, and how this client's subjects are made: only
    /// that user may be signed in.
    hinted_subject: Option<(String, Subjects)>,
    /// What the user granted this client before, once [`Pending::next_step`] looked: the
    /// consent page asks only about the rest.
    granted: Option<ScopeSet>,
}

/// What an OpenID Connect request asks of the sign-in (Core §3.1.2.1 `prompt`, `max_age`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInRule {
    /// `prompt=none`: answer without showing the user anything, or refuse.
    pub no_interaction: bool,
    /// `prompt=login`: the user signs in again even when signed in.
    pub fresh_login: bool,
    /// `max_age`: the sign-in may be at most this many seconds old.
    pub max_age: Option<i64>,
    /// `prompt=consent`: ask even when the user granted all of it before.
    pub ask_consent: bool,
}

/// Who is signed in, for [`Pending::next_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The user's storage key.
    pub user_id: i64,
    /// When they signed in, unix seconds.
    pub at: i64,
}

/// What happens next to a validated request ([`Pending::next_step`]).
#[derive(Debug)]
pub enum Step {
    /// Nothing to ask: approve it now, with [`Pending::approve`].
    Approve(Pending),
    /// Show the consent page ([`Pending::hold`]).
    Consent(Pending),
    /// Sign in (again) first, with the request's `login_hint` for the form; the request is
    /// sent again afterwards.
    SignIn {
        /// The hint to pre-fill the sign-in form with.
        login_hint: Option<String>,
        /// What the request sent back after the sign-in carries in place of
        /// [`SIGN_IN_PARAMS`]: `prompt=consent` when it asked for consent, which signing in
        /// does not answer.
        back_with: Option<(&'static str, &'static str)>,
    },
    /// `prompt=none` met a page it forbids: `login_required` or `consent_required` (Core
    /// §3.1.2.6), to send to the client.
    Refuse(Redirect),
}

/// The request parameters that are about this sign-in only: a request sent back after the
/// sign-in they asked for leaves them out, or it would ask again for ever.
/// A signed-in user may answer `id_token_hint` by signing in as someone else, so it goes too.
pub const SIGN_IN_PARAMS: [&str; 3] = ["prompt", "max_age", "id_token_hint"];

/// A request held for the consent page: what the page shows, and the nonce its form returns.
#[derive(Debug)]
pub struct Held {
    /// The single-use nonce naming the stored request; only its hash is stored.
    pub nonce: String,
    /// The client asking.
    pub client: Client,
    /// The scopes the user is asked to grant: those requested and not granted before.
    pub asked: Vec<String>,
    /// The scopes requested that the user granted this client before, shown as kept.
    pub kept: Vec<String>,
    /// Where the answer will go.
    pub redirect_uri: String,
}

/// What the server brings to [`Pending::approve`], as it is at the moment of the answer.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// The server's lifetimes, which the client's override.
    pub defaults: Lifetimes,
    /// The implicit-grant switch (every response type but `code`).
    pub implicit_enabled: bool,
    /// The issuer, keys and subjects an ID token from the authorization endpoint is made with.
    pub id_tokens: IdTokens<'a>,
}

/// Why a held request cannot be answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// Answered already, expired, or held for another session or user.
    #[error("the authorization request was already answered or has expired")]
    Gone,
    /// The client was deleted or lost its approval since the consent page was shown.
    #[error("the application is no longer approved")]
    ClientNotApproved,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Pending {
    /// What the request asks for.
    pub fn response_type(&self) -> ResponseType {
        self.response_type
    }

    /// True when the answer carries a signed token: an ID token, or a JWT access token.
    pub fn signs(&self) -> bool {
        let jwt = self.client.tokens.access == AccessTokenFormat::Jwt;
        self.response_type.issues_id_token() || (self.response_type.issues_token() && jwt)
    }

    /// The storage key of the client asking.
    pub fn client_id(&self) -> i64 {
        self.client.id
    }

    /// What happens next, for the visitor `signed_in` (`None`: not signed in) who granted this
    /// client `granted` before:
    /// - sign in when there is no sign-in, when `prompt=login` or `max_age` asks for a fresher
    ///   one, or when `id_token_hint` names another user;
    /// - else approve at once when the consent on record covers the request, or the client is
    ///   a first-party app an administrator marked `skip_consent`, unless `prompt=consent` asks
    ///   again;
    /// - else the consent page.
    ///
    /// Under `prompt=none` a page is refused instead. Remembered consent answers only a
    /// confidential client, whose code is useless without its secret, so an impersonator
    /// repeating the request gains nothing (RFC 6749 §10.2, RFC 8252 §8.6). A public client
    /// (and so the implicit grant, which only public clients use) is asked every time.
    pub fn next_step(
        mut self,
        signed_in: Option<SignedIn>,
        granted: Option<&ScopeSet>,
        now: i64,
    ) -> Step {
        let fresh = signed_in.is_some_and(|s| {
            !self.sign_in.fresh_login
                && self
                    .sign_in
                    .max_age
                    .is_none_or(|age| now.saturating_sub(s.at) <= age)
                && self.hinted_subject.as_ref().is_none_or(|(sub, subjects)| {
                    subjects
                        .of(&self.client, s.user_id)
                        .is_ok_and(|theirs| theirs == *sub)
                })
        });
        if !fresh {
            if self.sign_in.no_interaction {
                let err = OAuthError::new(
                    ErrorCode::LoginRequired,
                    "prompt=none, but the user is not signed in (recently enough, or as the user id_token_hint names)",
                );
                return Step::Refuse(self.refusal(&err));
            }
            return Step::SignIn {
                login_hint: self.login_hint,
                back_with: self.sign_in.ask_consent.then_some(("prompt", "consent")),
            };
        }
        let covered = granted.is_some_and(|g| self.scope.is_subset(g));
        let remembered = self.client.client_type == ClientType::Confidential && covered;
        let trusted = self.client.permissions.skip_consent;
        if (remembered || trusted) && !self.sign_in.ask_consent {
            return Step::Approve(self);
        }
        if self.sign_in.no_interaction {
            // The consent on record covers it, but a public client's request is shown anyway:
            // nothing is missing that the user could grant.
            let err = if covered {
                OAuthError::new(
                    ErrorCode::InteractionRequired,
                    "prompt=none, but a public client's request is always shown to the user",
                )
            } else {
                OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "prompt=none, but the user has to consent to this application first",
                )
            };
            return Step::Refuse(self.refusal(&err));
        }
        self.granted = granted.cloned();
        Step::Consent(self)
    }

    fn refusal(self, err: &OAuthError) -> Redirect {
        let mode = ResponseMode::of(self.response_type);
        Redirect::error(self.redirect_uri, mode, err, self.state.as_deref())
    }

    /// Stores the request for the consent page shown to `user_id` in session `session_id`,
    /// answerable for ten minutes through [`resume`] with the returned nonce.
    pub async fn hold<S: SessionStore + ?Sized>(
        self,
        store: &S,
        session_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<Held, StoreError> {
        let nonce = generate_token();
        let stored = PendingAuthorization {
            client_id: self.client.id,
            user_id,
            redirect_uri: self.redirect_uri.clone(),
            redirect_uri_given: self.redirect_uri_given,
            scope: self.scope.clone(),
            state: self.state,
            pkce: self.pkce,
            response_type: self.response_type,
            nonce: self.nonce,
            resource: self.resource,
            expires_at: now.saturating_add(CONSENT_TTL),
        };
        store
            .create_pending(&hash_secret(&nonce), session_id, stored)
            .await?;
        let granted = self.granted.unwrap_or_default();
        let (kept, asked) = self
            .scope
            .iter()
            .map(str::to_owned)
            .partition(|s| granted.contains(s));
        Ok(Held {
            nonce,
            client: self.client,
            asked,
            kept,
            redirect_uri: self.redirect_uri,
        })
    }

    /// The user said no: `access_denied` (§4.1.2.1).
    pub fn deny(self) -> Redirect {
        tracing::info!(client = ?self.client.client_id, decision = "deny", "authorization decision");
        let err = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        self.refusal(&err)
    }

    /// `user_id`, signed in at `auth_time`, approved: records the consent, then issues what the
    /// response type asks for: a code (§4.1.2), an access token and no refresh token (§4.2.2),
    /// an ID token (Core §3.2.2.5), or several (Core §3.3.2.5). `implicit_enabled` is the
    /// server-wide switch, read again here since it may have been turned off while the consent
    /// page was open; `defaults` are the server's lifetimes, which the client's override (both in
    /// `server`, with the ID-token signing).
    ///
    /// An ID token from this endpoint travels through the browser, so each nonce gets one only
    /// once per client (Core §15.5.2): a replayed nonce is `invalid_request`. The code and the
    /// access token are stored only once the ID token is signed, so a signing failure leaves
    /// neither behind.
    pub async fn approve<S: ConsentStore + GrantStore + ?Sized>(
        self,
        store: &S,
        user_id: i64,
        auth_time: i64,
        server: Answering<'_>,
        now: i64,
    ) -> Result<Redirect, StoreError> {
        let Answering {
            defaults,
            implicit_enabled,
            id_tokens,
        } = server;
        let response_type = self.response_type;
        if response_type != ResponseType::Code && !implicit_enabled {
            let err = OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "the implicit grant is switched off",
            );
            return Ok(self.refusal(&err));
        }
        if response_type.issues_id_token() {
            let nonce = hash_secret(self.nonce.as_deref().unwrap_or_default());
            let until = now.saturating_add(ID_TOKEN_LIFETIME);
            if !store.claim_nonce(self.client.id, &nonce, until).await? {
                let err = OAuthError::invalid_request(
                    "this nonce was answered before: send a fresh one with every request",
                );
                return Ok(self.refusal(&err));
            }
        }
        store
            .record_consent(user_id, self.client.id, &self.scope, now)
            .await?;
        let lifetimes = self.client.lifetimes(defaults);
        let code = response_type.issues_code().then(generate_token);
        let minted = response_type.issues_token().then(|| {
            let grant = Grant {
                client: &self.client,
                user_id: Some(user_id),
                scope: self.scope.clone(),
                refresh_scope: None,
                grant_id: new_grant_id(),
                auth_time: None,
                resource: self.resource.clone(),
            };
            mint(grant, lifetimes, id_tokens, now)
        });
        let minted = match minted.transpose() {
            Ok(minted) => minted,
            Err(err) => return Ok(self.refusal(&err)),
        };
        let id_token = if response_type.issues_id_token() {
            let auth = Authentication {
                user_id,
                client: &self.client,
                auth_time,
                nonce: self.nonce.as_deref(),
                access_token: minted.as_ref().map(|m| m.response.access_token.as_str()),
                code: code.as_deref(),
            };
            match signed_id_token(id_tokens, &auth, now) {
                Ok(signed) => Some(signed),
                Err(err) => return Ok(self.refusal(&err)),
            }
        } else {
            None
        };
        let mut params = Vec::new();
        if let Some(code) = code {
            store
                .create_code(NewCode {
                    code_hash: hash_secret(&code),
                    client_id: self.client.id,
                    user_id,
                    redirect_uri: self.redirect_uri.clone(),
                    redirect_uri_given: self.redirect_uri_given,
                    scope: self.scope.clone(),
                    pkce: self.pkce,
                    grant_id: new_grant_id(),
                    expires_at: now.saturating_add(lifetimes.code),
                    nonce: self.nonce.clone(),
                    auth_time,
                    resource: self.resource.clone(),
                })
                .await?;
            params.push(("code", code));
        }
        if let Some(minted) = minted {
            store
                .issue_tokens(minted.access, None, GrantType::Implicit)
                .await?;
            let tokens = minted.response;
            params.extend([
                ("access_token", tokens.access_token),
                ("token_type", tokens.token_type.to_owned()),
                ("expires_in", tokens.expires_in.to_string()),
                ("scope", tokens.scope),
            ]);
        }
        params.extend(id_token.map(|t| ("id_token", t)));
        tracing::info!(client = ?self.client.client_id, user_id, scope = %self.scope, decision = "approve", response_type = response_type.as_str(), "authorization decision");
        params.extend(self.state.map(|s| ("state", s)));
        Ok(Redirect {
            uri: self.redirect_uri,
            params,
            mode: ResponseMode::of(response_type),
        })
    }
}

/// Takes back the request held under `nonce` for this session and user, once: a second answer,
/// an expired request, or another session's nonce finds nothing. The client must still be
/// approved.
pub async fn resume<S: SessionStore + ClientStore + ?Sized>(
    store: &S,
    nonce: &str,
    session_id: i64,
    user_id: i64,
    now: i64,
) -> Result<Pending, ResumeError> {
    let held = store
        .take_pending(&hash_secret(nonce), session_id, now)
        .await?
        .filter(|p| p.user_id == user_id)
        .ok_or(ResumeError::Gone)?;
    let client = store
        .client_by_id(held.client_id)
        .await?
        .filter(|c| c.approval == Approval::Approved)
        .ok_or(ResumeError::ClientNotApproved)?;
    Ok(Pending {
        client,
        redirect_uri: held.redirect_uri,
        redirect_uri_given: held.redirect_uri_given,
        scope: held.scope,
        state: held.state,
        pkce: held.pkce,
        response_type: held.response_type,
        nonce: held.nonce,
        resource: held.resource,
        // The consent page is shown only once the sign-in satisfied the request.
        sign_in: SignInRule::default(),
        login_hint: None,
        hinted_subject: None,
        granted: None,
    })
}

/// Why an authorization request failed.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    Page(OAuthError),
    /// Send the error to the client's verified redirect URI.
    Redirect(Redirect),
}

/// Server and route choices that change what an authorization request may be.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions<'a> {
    /// The server-wide switch for `response_type=token`.
    pub implicit_enabled: bool,
    /// Public clients must send a PKCE challenge with `response_type=code`. Only oauthost's
    /// compatibility route turns this off, and then only for the clients an administrator
    /// registered with [`allow_public_without_pkce`](crate::core::model::ClientPermissions):
    /// oauthost predates PKCE and its documented clients (section 4.1.1) cannot send one.
    pub public_clients_need_pkce: bool,
    /// OpenID Connect is on (a `key_encryption_key` is set): `openid` may be asked for.
    pub openid_enabled: bool,
    /// The keys an `id_token_hint` is checked with; `None` refuses any hint. Loading them is
    /// only worth it for a request that sends one.
    pub id_token_keys: Option<&'a KeySet>,
    /// How clients name their users, to compare a hint's `sub` with the signed-in user.
    pub subjects: &'a Subjects,
}

/// Checks an authorization request; `options` are the server's and the route's choices.
pub async fn validate<S: ClientStore + ?Sized>(
    store: &S,
    params: &Params,
    options: ValidateOptions<'_>,
) -> Result<Pending, AuthorizeError> {
    let implicit_enabled = options.implicit_enabled;
    let client_id = params.require("client_id").map_err(AuthorizeError::Page)?;
    let client = store
        .client_by_client_id(client_id)
        .await
        .map_err(|e| AuthorizeError::Page(super::store_failed(e)))?
        .ok_or_else(|| {
            AuthorizeError::Page(OAuthError::invalid_client(
                "no application is registered with this client_id",
            ))
        })?;
    match &client.approval {
        Approval::Approved => {}
        Approval::Pending => {
            return Err(AuthorizeError::Page(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "“{}” has not been approved by the administrators yet, so it cannot be authorized",
                    client.name
                ),
            )));
        }
        Approval::Rejected(_) => {
            return Err(AuthorizeError::Page(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "“{}” was not approved by the administrators, so it cannot be authorized",
                    client.name
                ),
            )));
        }
    }
    let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
        Some(uri) => {
            if !client.redirect_uris.iter().any(|r| r == uri) {
                return Err(AuthorizeError::Page(OAuthError::invalid_request(
                    "redirect_uri does not match any URI registered for this application",
                )));
            }
            (uri.to_owned(), true)
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(AuthorizeError::Page(OAuthError::invalid_request(
                    "redirect_uri is required: this application registered several",
                )));
            }
        },
    };
    let state = params.get("state").map(str::to_owned);
    // A fragment response type is refused in the fragment too: its client reads only that.
    let mode = params
        .get("response_type")
        .and_then(ResponseType::parse)
        .map_or(ResponseMode::Query, ResponseMode::of);
    let redirect = |error: OAuthError| {
        tracing::info!(error = error.code.as_str(), "authorization request refused");
        AuthorizeError::Redirect(Redirect::error(
            redirect_uri.clone(),
            mode,
            &error,
            state.as_deref(),
        ))
    };

    // Request objects (Core §6, RFC 9101) are not taken: saying so beats answering a request
    // whose real parameters were never read.
    if params.get("request").is_some() {
        return Err(redirect(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects (`request`) are not supported: send the parameters themselves",
        )));
    }
    if params.get("request_uri").is_some() {
        return Err(redirect(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "`request_uri` is not supported: send the parameters themselves",
        )));
    }
    let raw_response_type = params.require("response_type").map_err(redirect)?;
    let response_type = match ResponseType::parse(raw_response_type) {
        Some(t) if t != ResponseType::Code && !implicit_enabled => None,
        parsed => parsed,
    }
    .ok_or_else(|| {
        redirect(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            format!("response_type `{raw_response_type}` is not supported"),
        ))
    })?;
    let grants = response_type.grants();
    if !grants.iter().all(|g| client.allows(*g)) {
        return Err(redirect(OAuthError::unauthorized_client(format!(
            "this application may not use response_type `{raw_response_type}`"
        ))));
    }
    if grants.contains(&GrantType::Implicit) && client.client_type != ClientType::Public {
        return Err(redirect(OAuthError::unauthorized_client(
            "the implicit grant is for public clients only",
        )));
    }

    let scope = match params.get("scope") {
        Some(raw) => raw
            .parse::<ScopeSet>()
            .map_err(|e| redirect(OAuthError::invalid_scope(format!("malformed scope: {e}"))))?,
        None => client.scopes.clone(),
    };
    if !scope.is_subset(&client.scopes) {
        let extra: Vec<&str> = scope.missing_from(&client.scopes).collect();
        return Err(redirect(OAuthError::invalid_scope(format!(
            "this application may not ask for: {}",
            extra.join(" ")
        ))));
    }

    let pkce = match params.get("code_challenge") {
        Some(challenge) => {
            let method =
                pkce::Method::parse(params.get("code_challenge_method")).ok_or_else(|| {
                    redirect(OAuthError::invalid_request(
                        "code_challenge_method must be S256 or plain",
                    ))
                })?;
            if !pkce::is_well_formed(challenge) {
                return Err(redirect(OAuthError::invalid_request(
                    "code_challenge must be 43 to 128 unreserved characters (RFC 7636 §4.2)",
                )));
            }
            Some((challenge.to_owned(), method))
        }
        None if params.get("code_challenge_method").is_some() => {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge_method given without code_challenge",
            )));
        }
        None => None,
    };
    let pkce_optional =
        !options.public_clients_need_pkce && client.permissions.allow_public_without_pkce;
    if response_type.issues_code()
        && client.client_type == ClientType::Public
        && !pkce_optional
        && pkce.is_none()
    {
        return Err(redirect(OAuthError::invalid_request(
            "public clients must use PKCE (code_challenge)",
        )));
    }

    if scope.contains(OPENID) && !options.openid_enabled {
        return Err(redirect(OAuthError::invalid_scope(
            "OpenID Connect is not enabled on this server",
        )));
    }
    // OpenID Connect Core §3.1.2.1: the nonce is echoed in the ID token, so it is kept (bounded)
    // only when the request asks for one.
    let nonce = match params.get("nonce") {
        Some(n) if scope.contains(OPENID) => {
            if n.len() > MAX_NONCE {
                return Err(redirect(OAuthError::invalid_request(format!(
                    "nonce is longer than {MAX_NONCE} characters"
                ))));
            }
            Some(n.to_owned())
        }
        _ => None,
    };
    // An ID token from the authorization endpoint is an OpenID Connect answer, and its nonce is
    // what binds it to the request (Core §3.2.2.1, §3.3.2.11).
    if response_type.issues_id_token() {
        if !scope.contains(OPENID) {
            return Err(redirect(OAuthError::invalid_request(format!(
                "response_type `{raw_response_type}` needs the openid scope"
            ))));
        }
        if nonce.is_none() {
            return Err(redirect(OAuthError::invalid_request(format!(
                "response_type `{raw_response_type}` needs a nonce (OpenID Connect Core §3.2.2.1)"
            ))));
        }
    }

    let resource = super::requested_resource(params).map_err(redirect)?;
    let (sign_in, login_hint) = if scope.contains(OPENID) {
        let hint = oidc::login_hint(params.get("login_hint")).map(str::to_owned);
        (sign_in_rule(params).map_err(redirect)?, hint)
    } else {
        (SignInRule::default(), None)
    };
    // An `id_token_hint` names who should be signed in; one that is not an ID token this server
    // issued to this client is refused, not ignored (Core §3.1.2.1).
    let hinted_subject = match params.get("id_token_hint") {
        Some(hint) if scope.contains(OPENID) => Some((
            options
                .id_token_keys
                .and_then(|keys| oidc::hinted_subject(keys, hint, &client.client_id))
                .ok_or_else(|| {
                    redirect(OAuthError::invalid_request(
                        "id_token_hint is not an ID token this server issued to this client",
                    ))
                })?,
            options.subjects.clone(),
        )),
        _ => None,
    };

    Ok(Pending {
        client,
        redirect_uri,
        redirect_uri_given,
        scope,
        state,
        pkce,
        response_type,
        nonce,
        resource,
        sign_in,
        login_hint,
        hinted_subject,
        granted: None,
    })
}

/// Reads `prompt` and `max_age` (Core §3.1.2.1). `none` with any other value, an unknown value,
/// and `select_account` (one account per browser session here) are refused.
fn sign_in_rule(params: &Params) -> Result<SignInRule, OAuthError> {
    let mut rule = SignInRule::default();
    let prompts: Vec<&str> = params.get("prompt").unwrap_or("").split(' ').collect();
    for prompt in prompts.iter().filter(|p| !p.is_empty()) {
        match *prompt {
            "none" => rule.no_interaction = true,
            "login" => rule.fresh_login = true,
            "consent" => rule.ask_consent = true,
            "select_account" => {
                return Err(OAuthError::invalid_request(
                    "prompt=select_account is not supported: a browser session holds one account",
                ));
            }
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unknown prompt value `{other}`"
                )));
            }
        }
    }
    if rule.no_interaction && prompts.iter().filter(|p| !p.is_empty()).count() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with another value",
        ));
    }
    if let Some(raw) = params.get("max_age") {
        let age = raw.parse::<i64>().ok().filter(|a| *a >= 0).ok_or_else(|| {
            OAuthError::invalid_request("max_age must be a whole number of seconds, 0 or more")
        })?;
        rule.max_age = Some(age);
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mem_store::{MemStore, client, params, user};

    const OPTIONS: ValidateOptions<'static> = ValidateOptions {
        implicit_enabled: true,
        public_clients_need_pkce: true,
        openid_enabled: true,
        id_token_keys: None,
        subjects: &Subjects::PUBLIC_ONLY,
    };
    const NOW: i64 = 1_000;

    fn public(id: i64) -> Client {
        Client {
            client_type: ClientType::Public,
            ..client(id)
        }
    }

    fn store() -> MemStore {
        MemStore::default()
            .with_user(user(7))
            .with_client(client(1))
            .with_client(public(2))
    }

    async fn pending(store: &MemStore, asked: &[(&str, &str)]) -> Pending {
        match validate(store, &params(asked), OPTIONS).await {
            Ok(p) => p,
            Err(e) => panic!("refused: {e:?}"),
        }
    }

    async fn approved(store: &MemStore, pending: Pending, implicit_enabled: bool) -> Redirect {
        let id_tokens = IdTokens {
            issuer: "https://issuer.test",
            keys: None,
            subjects: &Subjects::PUBLIC_ONLY,
        };
        let server = Answering {
            defaults: Lifetimes::default(),
            implicit_enabled,
            id_tokens,
        };
        let answer = pending.approve(store, 7, NOW, server, NOW);
        match answer.await {
            Ok(answer) => answer,
            Err(e) => panic!("approval failed: {e}"),
        }
    }

    fn fragment_of(location: &str) -> Vec<(String, String)> {
        let fragment = url::Url::parse(location)
            .ok()
            .and_then(|u| u.fragment().map(str::to_owned))
            .unwrap_or_default();
        serde_urlencoded::from_str(&fragment).unwrap_or_default()
    }

    #[tokio::test]
    async fn approve_issues_one_code_to_the_query_and_records_the_consent() {
        let store = store();
        let asked = [("client_id", "client-1"), ("response_type", "code")];
        let pending = pending(&store, &[asked[0], asked[1], ("state", "s1")]).await;
        assert_eq!(pending.response_type(), ResponseType::Code);
        let answer = approved(&store, pending, true).await;
        assert_eq!(answer.mode, ResponseMode::Query);
        assert_eq!(answer.param("state"), Some("s1"));
        let codes = store.codes();
        assert_eq!(codes.len(), 1, "one code");
        assert_eq!((codes[0].user_id, codes[0].expires_at), (7, NOW + 60));
        assert!(store.tokens().is_empty(), "a code, no token");
        assert_eq!(
            store.consents(),
            vec![(7, 1, ScopeSet::from_iter(["a", "b"]))]
        );
        let location = answer.location("https://issuer.test").unwrap_or_default();
        let code = answer.param("code").unwrap_or_default();
        assert_eq!(
            location,
            format!(
                "https://app.example/cb?keep=1&code={code}&state=s1&iss=https%3A%2F%2Fissuer.test"
            ),
            "the registered query is kept; RFC 9207's iss comes last"
        );
    }

    /// Where a request goes next, with `granted` on record for a sign-in at `NOW - 10`.
    async fn step_of(store: &MemStore, asked: &[(&str, &str)], granted: &[&str]) -> Step {
        let granted = ScopeSet::from_iter(granted.iter().copied());
        let pending = pending(store, asked).await;
        let signed_in = SignedIn {
            user_id: 7,
            at: NOW - 10,
        };
        pending.next_step(Some(signed_in), Some(&granted), NOW)
    }

    #[tokio::test]
    async fn remembered_consent_answers_only_a_covered_code_request_of_a_confidential_client() {
        let store = MemStore::default()
            .with_client(client(1))
            .with_client(public(2))
            .with_client(Client {
                scopes: ScopeSet::from_iter(["openid", "a", "b"]),
                ..client(3)
            });
        let code = |id: &'static str, scope: &'static str| {
            [
                ("client_id", id),
                ("response_type", "code"),
                ("scope", scope),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
            ]
        };
        let step = step_of(&store, &code("client-1", "a"), &["a", "b"]).await;
        assert!(matches!(step, Step::Approve(_)), "covered: {step:?}");
        // More than granted: the page, asking only about the rest.
        let Step::Consent(pending) = step_of(&store, &code("client-1", "a b"), &["a"]).await else {
            panic!("not the consent page");
        };
        let held = pending
            .hold(&store, 3, 7, NOW)
            .await
            .map_err(|e| e.to_string());
        let held = held.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (held.asked, held.kept),
            (vec!["b".to_owned()], vec!["a".to_owned()])
        );
        // A public client is asked every time (RFC 6749 §10.2).
        let step = step_of(&store, &code("client-2", "a"), &["a"]).await;
        assert!(matches!(step, Step::Consent(_)), "public: {step:?}");
        // prompt=consent asks again; prompt=none answers from the record, or refuses.
        let mut asked = code("client-3", "openid a").to_vec();
        asked.push(("prompt", "consent"));
        let step = step_of(&store, &asked, &["openid", "a"]).await;
        assert!(matches!(step, Step::Consent(_)), "prompt=consent: {step:?}");
        asked.pop();
        asked.push(("prompt", "none"));
        let step = step_of(&store, &asked, &["openid", "a"]).await;
        assert!(
            matches!(step, Step::Approve(_)),
            "prompt=none, covered: {step:?}"
        );
        let Step::Refuse(answer) = step_of(&store, &asked, &["openid"]).await else {
            panic!("prompt=none showed a page");
        };
        assert_eq!(answer.param("error"), Some("consent_required"));
    }

    #[tokio::test]
    async fn a_held_request_is_answered_once() {
        let store = store();
        let asked = [("client_id", "client-1"), ("response_type", "code")];
        let held = pending(&store, &asked).await.hold(&store, 3, 7, NOW).await;
        let Ok(held) = held else {
            panic!("not held: {held:?}");
        };
        assert_eq!(held.client.id, 1);
        let other_user = resume(&store, &held.nonce, 3, 8, NOW).await;
        assert!(matches!(other_user, Err(ResumeError::Gone)));

        let held = pending(&store, &asked).await.hold(&store, 3, 7, NOW).await;
        let nonce = held.map(|h| h.nonce).unwrap_or_default();
        let Ok(resumed) = resume(&store, &nonce, 3, 7, NOW).await else {
            panic!("the held request was lost");
        };
        approved(&store, resumed, true).await;
        let again = resume(&store, &nonce, 3, 7, NOW).await;
        assert!(matches!(again, Err(ResumeError::Gone)), "single use");
        assert_eq!(store.codes().len(), 1);
    }

    #[tokio::test]
    async fn a_held_request_expires_and_needs_its_session() {
        let store = store();
        let asked = [("client_id", "client-1"), ("response_type", "code")];
        let held = pending(&store, &asked).await.hold(&store, 3, 7, NOW).await;
        let nonce = held.map(|h| h.nonce).unwrap_or_default();
        let other_session = resume(&store, &nonce, 4, 7, NOW).await;
        assert!(matches!(other_session, Err(ResumeError::Gone)));
        let late = resume(&store, &nonce, 3, 7, NOW + CONSENT_TTL).await;
        assert!(matches!(late, Err(ResumeError::Gone)));
    }

    #[tokio::test]
    async fn deny_gives_access_denied_with_the_state() {
        let store = store();
        let asked = [
            ("client_id", "client-1"),
            ("response_type", "code"),
            ("state", "xyz"),
        ];
        let answer = pending(&store, &asked).await.deny();
        assert_eq!(answer.mode, ResponseMode::Query);
        assert_eq!(answer.param("error"), Some("access_denied"));
        assert_eq!(answer.param("state"), Some("xyz"));
        assert!(store.codes().is_empty() && store.consents().is_empty());
    }

    #[tokio::test]
    async fn implicit_puts_the_token_in_the_fragment() {
        let store = store();
        let asked = [
            ("client_id", "client-2"),
            ("response_type", "token"),
            ("scope", "a"),
            ("state", "s2"),
        ];
        let pending = pending(&store, &asked).await;
        let answer = approved(&store, pending, true).await;
        assert_eq!(answer.mode, ResponseMode::Fragment);
        let location = answer.location("https://issuer.test").unwrap_or_default();
        assert!(
            location.starts_with("https://app.example/cb?keep=1#"),
            "{location}"
        );
        let sent = fragment_of(&location);
        let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "access_token",
                "token_type",
                "expires_in",
                "scope",
                "state",
                "iss"
            ]
        );
        assert_eq!(answer.param("expires_in"), Some("36000"));
        let tokens = store.tokens();
        assert_eq!(tokens.len(), 1, "an access token and no refresh token");
        assert_eq!(tokens[0].user_id, Some(7));
        assert!(store.codes().is_empty());
    }

    #[tokio::test]
    async fn implicit_switched_off_before_the_answer_is_refused_in_the_fragment() {
        let store = store();
        let asked = [("client_id", "client-2"), ("response_type", "token")];
        let pending = pending(&store, &asked).await;
        let answer = approved(&store, pending, false).await;
        assert_eq!(answer.mode, ResponseMode::Fragment);
        assert_eq!(answer.param("error"), Some("unsupported_response_type"));
        assert!(store.tokens().is_empty() && store.consents().is_empty());
    }

    #[tokio::test]
    async fn refusals_go_to_the_page_until_the_redirect_uri_is_known_then_to_the_client() {
        let store = store();
        let unknown = validate(&store, &params(&[("client_id", "nope")]), OPTIONS).await;
        assert!(matches!(unknown, Err(AuthorizeError::Page(_))));
        let foreign = [
            ("client_id", "client-1"),
            ("redirect_uri", "https://evil.example/"),
        ];
        let foreign = validate(&store, &params(&foreign), OPTIONS).await;
        assert!(matches!(foreign, Err(AuthorizeError::Page(_))));

        let off = ValidateOptions {
            implicit_enabled: false,
            ..OPTIONS
        };
        let asked = [
            ("client_id", "client-2"),
            ("response_type", "token"),
            ("state", "s3"),
        ];
        let Err(AuthorizeError::Redirect(refused)) = validate(&store, &params(&asked), off).await
        else {
            panic!("not redirected");
        };
        assert_eq!(refused.mode, ResponseMode::Fragment);
        assert_eq!(refused.param("error"), Some("unsupported_response_type"));
        assert_eq!(refused.param("state"), Some("s3"));

        let no_pkce = [("client_id", "client-2"), ("response_type", "code")];
        let Err(AuthorizeError::Redirect(refused)) =
            validate(&store, &params(&no_pkce), OPTIONS).await
        else {
            panic!("not redirected");
        };
        assert_eq!(refused.mode, ResponseMode::Query);
        assert_eq!(refused.param("error"), Some("invalid_request"));
    }
}
