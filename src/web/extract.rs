//! What handlers take from a request, each read once through poem's [`FromRequest`]:
//! - [`OAuthRequest`]: a protocol request's parameters, presented client credentials and
//!   address (and [`QueryAndForm`], for the routes documented with either);
//! - [`ClientAddress`]: the caller's address, for throttling;
//! - [`PageForm`]: a page's form read by the same rules as an OAuth request;
//! - [`Visitor`] and [`Superuser`]: who is signed in;
//! - [`CsrfForm`]: an HTML form whose CSRF token matches the visitor's session;
//! - [`Paged`]: a listing's search and page.
//!
//! Each rejects as its audience expects: RFC 6749 JSON for protocol endpoints, an error page
//! (or the way to the login page) for browser pages.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::RequestBody;
use poem::{FromRequest, Request};
use tera::Context;

use super::error::{LoginRequired, PageError};
use super::request::{FormData, basic_credentials, client_ip, form_params, query_and_form};
use super::session::{self, BrowserSession};
use super::state::State;
use crate::core::error::OAuthError;
use crate::core::grant::client_auth::{self, PresentedCredentials};
use crate::core::model::{Client, User};
use crate::core::params::Params;
use crate::core::portal::{ListQuery, NewAuditEntry};

/// The application state of a request; only a route mounted outside `scopegate::web::app`
/// lacks it.
fn state_of(req: &Request) -> poem::Result<&State> {
    req.data::<State>().ok_or_else(|| {
        tracing::error!("a scopegate route is mounted outside scopegate::web::app");
        OAuthError::server_error().into()
    })
}

/// A protocol request (RFC 6749 §3.2): the form body's parameters, the credentials the
/// client presented, and the address it called from.
pub struct OAuthRequest {
    /// The parameters.
    pub params: Params,
    /// `Authorization: Basic`, decoded once; a malformed header is kept as its error, which
    /// client authentication reports.
    basic: Result<Option<(String, String)>, OAuthError>,
    /// The caller's address, for throttling.
    pub client_ip: String,
    /// The issuer this request is answered as (ID tokens' `iss`).
    pub issuer: String,
}

impl OAuthRequest {
    fn new(req: &Request, state: &State, params: Params) -> Self {
        Self {
            params,
            basic: basic_credentials(req),
            client_ip: client_ip(req, &state.settings),
            issuer: super::metadata::issuer(state, req),
        }
    }

    /// The request with the parameter `alias` read as `name` (a provider's own spelling).
    pub fn with_alias(mut self, alias: &str, name: &str) -> Result<Self, OAuthError> {
        self.params = self.params.with_alias(alias, name)?;
        Ok(self)
    }

    /// The client credentials presented: Basic, or `client_id`/`client_secret` in the body.
    pub fn credentials(&self) -> Result<PresentedCredentials, OAuthError> {
        Ok(PresentedCredentials {
            basic: self.basic.clone()?,
            body_client_id: self.params.get("client_id").map(str::to_owned),
            body_client_secret: self.params.get("client_secret").map(str::to_owned),
        })
    }

    /// Authenticates the client, throttling failures per client_id and per address.
    pub async fn authenticate(&self, state: &State) -> Result<Arc<Client>, OAuthError> {
        let creds = self.credentials()?;
        let ctx = client_auth::AuthContext {
            caches: &state.caches,
            throttle: state.settings.client_auth_throttle(),
            client_ip: &self.client_ip,
            now: crate::core::now(),
        };
        client_auth::authenticate(state.store.as_ref(), &creds, ctx).await
    }
}

impl<'a> FromRequest<'a> for OAuthRequest {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let state = state_of(req)?;
        let params = form_params(req, body.take()?).await?;
        Ok(Self::new(req, state, params))
    }
}

/// An [`OAuthRequest`] whose parameters may come in the query or the form body, for endpoints
/// that providers documented with either (onesait's `check_token` and `revoke_token`). A
/// parameter given in both places counts as repeated.
pub struct QueryAndForm(pub OAuthRequest);

impl<'a> FromRequest<'a> for QueryAndForm {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let state = state_of(req)?;
        let params = query_and_form(req, body.take()?).await?;
        Ok(Self(OAuthRequest::new(req, state, params)))
    }
}

/// The caller's address, for throttling: the socket peer, or what a trusted proxy says it
/// forwarded (`request::client_ip`).
pub struct ClientAddress(pub String);

impl<'a> FromRequest<'a> for ClientAddress {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(client_ip(req, &state_of(req)?.settings)))
    }
}

/// A page's form body (login, logout, the consent answer), read by the rules of an OAuth
/// request: no repeated names. An unreadable one gets the "bad request" page.
pub struct PageForm(pub Params);

impl<'a> FromRequest<'a> for PageForm {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        form_params(req, body.take()?)
            .await
            .map(Self)
            .map_err(|_| PageError::bad_form().into())
    }
}

/// A signed-in user on a page request, with their session. Anonymous visitors are sent to the
/// login page, which brings them back.
pub struct Visitor {
    /// The session (for the CSRF token).
    pub session: BrowserSession,
    /// The user.
    pub user: User,
}

impl Visitor {
    /// The visitor of a loaded session, if it is signed in.
    fn of(session: BrowserSession) -> Option<Self> {
        let user = session.user.clone()?;
        Some(Self { session, user })
    }

    /// The signed-in visitor of `req`; an anonymous one is sent to the login page and back to
    /// the very address asked for.
    pub async fn signed_in(state: &State, req: &Request) -> poem::Result<Self> {
        Self::current(state, req)
            .await?
            .ok_or_else(|| LoginRequired::back_to(req).into())
    }

    /// The signed-in visitor of `req`, if any.
    pub async fn current(state: &State, req: &Request) -> Result<Option<Self>, PageError> {
        let loaded = session::load(state, req).await?;
        Ok(loaded.and_then(Visitor::of))
    }

    /// A template context with what `base.html` and every form need.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        ctx.insert("csrf_token", &self.session.session.csrf_token);
        ctx.insert("user", &self.user.username);
        ctx.insert("is_superuser", &self.user.is_superuser);
        ctx
    }

    /// Writes an audit log line in this user's name.
    pub async fn audit(
        &self,
        state: &State,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), PageError> {
        let entry = NewAuditEntry {
            actor_id: Some(self.user.id),
            actor: self.user.username.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        tracing::info!(actor = ?self.user.username, action, target, detail, "audit");
        Ok(state.store.audit(entry, crate::core::now()).await?)
    }
}

impl<'a> FromRequest<'a> for Visitor {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Self::signed_in(state_of(req)?, req).await
    }
}

/// The signed-in superuser: anonymous visitors go to the login page, anyone else gets a 403
/// page.
pub struct Superuser(pub Visitor);

impl<'a> FromRequest<'a> for Superuser {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let v = Visitor::from_request(req, body).await?;
        if v.user.is_superuser {
            return Ok(Self(v));
        }
        tracing::info!(user = ?v.user.username, path = req.uri().path(), "admin refused");
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Administrators only",
            "This page is for administrators. Your account does not have access to it.",
        )
        .into())
    }
}

/// A POSTed HTML form whose CSRF token matches the session of its sender `V` (a [`Visitor`]
/// or a [`Superuser`]). `V` is checked first, so outsiders never reach the form checks; a
/// missing or wrong token changes nothing and gets a 403 page.
pub struct CsrfForm<V>(pub V, pub FormData);

impl<'a> FromRequest<'a> for CsrfForm<Visitor> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let visitor = Visitor::from_request(req, body).await?;
        let form = checked_form(req, body, &visitor).await?;
        Ok(Self(visitor, form))
    }
}

impl<'a> FromRequest<'a> for CsrfForm<Superuser> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let visitor = Superuser::from_request(req, body).await?;
        let form = checked_form(req, body, &visitor.0).await?;
        Ok(Self(visitor, form))
    }
}

/// Reads the form and checks its CSRF token against `v`'s session.
async fn checked_form(
    req: &Request,
    body: &mut RequestBody,
    v: &Visitor,
) -> poem::Result<FormData> {
    let form = FormData::read(req, body.take()?)
        .await
        .ok_or_else(PageError::bad_form)?;
    if v.session.csrf_ok(Some(form.get("csrf_token"))) {
        return Ok(form);
    }
    tracing::info!(user = ?v.user.username, path = req.uri().path(), "CSRF check failed");
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not valid for your browser session. Reload the page and try again.",
    )
    .into())
}

/// Rows per page in every admin listing.
pub const PAGE_SIZE: i64 = 20;

/// The listing page asked for by `?q=...&page=N` (pages count from 1).
pub struct Paged {
    /// The search and the rows it covers.
    pub query: ListQuery,
    /// The page number.
    pub page: i64,
}

impl Paged {
    /// The first page of everything.
    pub fn first() -> Self {
        Self {
            query: ListQuery {
                limit: PAGE_SIZE,
                ..ListQuery::default()
            },
            page: 1,
        }
    }
}

impl<'a> FromRequest<'a> for Paged {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let form = FormData::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
        let page = form
            .get("page")
            .parse::<i64>()
            .unwrap_or(1)
            .clamp(1, 1_000_000);
        let query = ListQuery {
            search: form.get("q").chars().take(200).collect(),
            offset: (page - 1) * PAGE_SIZE,
            limit: PAGE_SIZE,
        };
        Ok(Self { query, page })
    }
}
