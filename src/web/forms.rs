//! Helpers shared by the admin pages and the developer portal: audited redirects, single-use
//! form nonces, paging, input rules (branding URLs, word counts), and how a refused client
//! draft shows on a page. Who is signed in, the CSRF check and the form itself are extractors
//! (`web::extract`).

use std::collections::BTreeMap;

use poem::Response;
use poem::http::StatusCode;
use tera::Context;

use super::error::PageError;
use super::extract::{PAGE_SIZE, Visitor};
use super::reply::see_other;
use super::state::State;
use crate::core::client_rules::{ClientErrors, check_redirect_uri};
use crate::core::model::Client;
use crate::core::portal::{ListQuery, Submission};
use crate::core::secret::{generate_token, hash_secret};

/// Records a finished action in the audit log and then redirects (post/redirect/get): the
/// redirect is only sent once the audit line is written, so no change goes unrecorded.
pub async fn audited_redirect(
    state: &State,
    v: &Visitor,
    action: &str,
    target: &str,
    detail: &str,
    location: &str,
) -> Result<Response, PageError> {
    v.audit(state, action, target, detail).await?;
    Ok(see_other(location))
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
pub async fn claim(state: &State, nonce: &str) -> Result<Option<String>, PageError> {
    if nonce.is_empty() {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form is missing its submission id. Reload the page and try again.",
        ));
    }
    let claimed = state
        .store
        .claim_submission(&hash_secret(nonce), crate::core::now())
        .await?;
    Ok(match claimed {
        Submission::First => None,
        Submission::Repeated(result) => Some(result),
    })
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
pub fn parse_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>().map_err(|_| PageError::not_found())
}

/// What `id_token_fields.html` (the admin's and the portal's token fields) shows: the
/// algorithms to choose from and the values as typed or stored.
pub fn id_token_view(alg: &str, subject_type: &str, access: &str) -> serde_json::Value {
    let algs: Vec<&str> = crate::core::oidc::keys::Algorithm::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    serde_json::json!({
        "algs": algs, "alg": alg, "subject_type": subject_type, "access": access
    })
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
