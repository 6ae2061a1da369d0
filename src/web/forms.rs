//! Helpers shared by the admin pages and the developer portal: HTML form bodies (which, unlike
//! OAuth requests, repeat names for checkboxes), the signed-in and superuser checks, CSRF,
//! single-use form nonces, paging, input rules (branding URLs, word counts), and how a refused
//! client draft shows on a page.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::{Body, Request, Response};
use tera::Context;

use super::pages::found;
use super::session::{self, BrowserSession};
use super::state::State;
use crate::core::client_rules::{ClientErrors, check_redirect_uri};
use crate::core::model::{Client, User};
use crate::core::params::check_value;
use crate::core::portal::{ListQuery, NewAuditEntry, Submission};
use crate::core::secret::{generate_token, hash_secret};

/// The largest form body accepted (a 511-word description fits many times over).
const MAX_BODY: usize = 64 * 1024;

/// The longest field accepted: a 511-word description fits, a database index key need not
/// (descriptions are not indexed; names and identifiers are bounded by their own rules).
const MAX_FIELD: usize = 16 * 1024;

/// Rows per page in every admin listing.
pub const PAGE_SIZE: i64 = 20;

/// A decoded `application/x-www-form-urlencoded` body; names may repeat (checkboxes).
#[derive(Debug, Clone, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Parses pairs from urlencoded bytes; `None` for undecodable input or a value no database
    /// may receive (a NUL byte, or longer than [`MAX_FIELD`]).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
        pairs
            .iter()
            .all(|(k, v)| check_value(k, v, MAX_FIELD).is_ok())
            .then_some(Self(pairs))
    }

    /// Reads a request body; `None` when it is not a form, is too large, or fails [`Self::parse`].
    pub async fn read(req: &Request, body: Body) -> Option<Self> {
        if !super::request::is_form(req) {
            return None;
        }
        let bytes = body.into_bytes_limit(MAX_BODY).await.ok()?;
        Self::parse(&bytes)
    }

    /// The first value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A signed-in user on a page request, with their session.
pub struct Visitor {
    /// The session (for the CSRF token).
    pub session: BrowserSession,
    /// The user.
    pub user: User,
}

impl Visitor {
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
    ) -> Result<(), Response> {
        let entry = NewAuditEntry {
            actor_id: Some(self.user.id),
            actor: self.user.username.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        tracing::info!(actor = ?self.user.username, action, target, detail, "audit");
        state
            .store
            .audit(entry, crate::core::now())
            .await
            .map_err(|e| state.unavailable_page(&e))
    }
}

/// The signed-in user, or a redirect to the login page that comes back here.
pub async fn signed_in(state: &State, req: &Request) -> Result<Visitor, Response> {
    match session::load(state, req).await {
        Ok(Some(s)) => match s.user.clone() {
            Some(user) => Ok(Visitor { session: s, user }),
            None => Err(to_login(req)),
        },
        Ok(None) => Err(to_login(req)),
        Err(e) => Err(state.unavailable_page(&e)),
    }
}

fn to_login(req: &Request) -> Response {
    let here = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let login = format!(
        "/login?{}",
        serde_urlencoded::to_string([("next", here)]).unwrap_or_default()
    );
    found(&login).finish()
}

/// The signed-in superuser; anyone else gets the login page (anonymous) or a 403 page.
pub async fn superuser(state: &State, req: &Request) -> Result<Visitor, Response> {
    let v = signed_in(state, req).await?;
    if v.user.is_superuser {
        Ok(v)
    } else {
        tracing::info!(user = ?v.user.username, path = req.uri().path(), "admin refused");
        Err(state.error_page(
            StatusCode::FORBIDDEN,
            "Administrators only",
            "This page is for administrators. Your account does not have access to it.",
        ))
    }
}

/// Reads a POSTed form and checks its CSRF token against the visitor's session; a missing or
/// wrong token changes nothing and gets a 403 page.
pub async fn checked_form(
    state: &State,
    req: &Request,
    body: Body,
    v: &Visitor,
) -> Result<FormData, Response> {
    let Some(form) = FormData::read(req, body).await else {
        return Err(state.error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        ));
    };
    if !v.session.csrf_ok(Some(form.get("csrf_token"))) {
        tracing::info!(user = ?v.user.username, path = req.uri().path(), "CSRF check failed");
        return Err(state.error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not valid for your browser session. Reload the page and try again.",
        ));
    }
    Ok(form)
}

/// The signed-in superuser and their CSRF-checked form: what every admin POST action starts
/// with. The superuser check comes first so that outsiders never reach the form checks.
pub async fn superuser_form(
    state: &State,
    req: &Request,
    body: Body,
) -> Result<(Visitor, FormData), Response> {
    let v = superuser(state, req).await?;
    let f = checked_form(state, req, body, &v).await?;
    Ok((v, f))
}

/// The signed-in user and their CSRF-checked form: what every developer-portal POST starts with.
pub async fn signed_in_form(
    state: &State,
    req: &Request,
    body: Body,
) -> Result<(Visitor, FormData), Response> {
    let v = signed_in(state, req).await?;
    let f = checked_form(state, req, body, &v).await?;
    Ok((v, f))
}

/// Records a finished action in the audit log and then redirects (post/redirect/get): the
/// redirect is only sent once the audit line is written, so no change goes unrecorded.
pub async fn audited_redirect(
    state: &State,
    v: &Visitor,
    action: &str,
    target: &str,
    detail: &str,
    location: &str,
) -> Response {
    match v.audit(state, action, target, detail).await {
        Ok(()) => see_other(location),
        Err(r) => r,
    }
}

/// How audit lines name a client: its name for people, its public id to search the log by.
pub fn client_target(c: &Client) -> String {
    format!("client {} ({})", c.name, c.client_id)
}

/// A fresh single-use nonce for a creating form (see [`claim`]).
pub fn new_nonce() -> String {
    generate_token()
}

/// Claims a form's nonce: `Ok(None)` means go ahead; `Ok(Some(result))` means the form was
/// already submitted and `result` is what the first submission recorded.
pub async fn claim(state: &State, nonce: &str) -> Result<Option<String>, Response> {
    if nonce.is_empty() {
        return Err(state.error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form is missing its submission id. Reload the page and try again.",
        ));
    }
    match state
        .store
        .claim_submission(&hash_secret(nonce), crate::core::now())
        .await
    {
        Ok(Submission::First) => Ok(None),
        Ok(Submission::Repeated(result)) => Ok(Some(result)),
        Err(e) => Err(state.unavailable_page(&e)),
    }
}

/// Records what a claimed submission created.
pub async fn finish(state: &State, nonce: &str, result: &str) {
    if let Err(e) = state
        .store
        .finish_submission(&hash_secret(nonce), result)
        .await
    {
        tracing::warn!(error = %e, "could not record a form submission's result");
    }
}

/// The listing page asked for by `?q=...&page=N` (pages count from 1).
pub fn list_query(req: &Request) -> (ListQuery, i64) {
    let form = FormData::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default();
    let page = form
        .get("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let q = ListQuery {
        search: form.get("q").chars().take(200).collect(),
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    };
    (q, page)
}

/// Adds the pager (`page`, `pages`, `prev`, `next` links keeping the search) to `ctx`.
pub fn insert_pager(ctx: &mut Context, path: &str, q: &ListQuery, page: i64, total: i64) {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |n: i64| {
        format!(
            "{path}?{}",
            serde_urlencoded::to_string([("q", q.search.as_str()), ("page", &n.to_string())])
                .unwrap_or_default()
        )
    };
    ctx.insert("q", &q.search);
    ctx.insert("page", &page);
    ctx.insert("pages", &pages);
    ctx.insert("total", &total);
    ctx.insert("prev", &(page > 1).then(|| link(page - 1)));
    ctx.insert("next", &(page < pages).then(|| link(page + 1)));
}

/// A storage id from a path segment; bad ids get a 404 page.
// The error is the finished page to send, as in every handler helper here; boxing it would only
// add noise on a cold path.
#[allow(clippy::result_large_err)]
pub fn parse_id(state: &State, raw: &str) -> Result<i64, Response> {
    raw.parse::<i64>().map_err(|_| not_found(state))
}

/// The 404 page for a missing record.
pub fn not_found(state: &State) -> Response {
    state.error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address. It may have been deleted.",
    )
}

/// A redirect after a successful POST (post/redirect/get), with an optional flash in the query.
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", location)
        .header("cache-control", "no-store")
        .finish()
}

/// The redirect URIs of a textarea: one per line or space-separated.
pub fn redirect_lines(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// A rule's message as a sentence for a page: capitalised, with a full stop.
///
/// ```
/// assert_eq!(scopegate::web::forms::sentence("give a name"), "Give a name.");
/// ```
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A refused client draft's errors as a page shows them: a sentence next to each field, keyed
/// by the field's form name.
pub fn field_errors(errors: &ClientErrors) -> BTreeMap<&'static str, String> {
    errors
        .iter()
        .map(|(field, e)| (field.name(), sentence(&e.to_string())))
        .collect()
}

/// Checks an optional web address (branding): empty, or an absolute `http(s)` URL.
pub fn check_optional_url(value: &str, debug: bool) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_redirect_uri(value, debug)
        .map_err(|_| "Give a full https:// address, or leave it empty.".to_owned())
}

/// Words in a description, as shown next to the field: whitespace-separated runs.
///
/// ```
/// assert_eq!(scopegate::web::forms::word_count("  one two\nthree  "), 3);
/// ```
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}
