//! `/admin/`: the administration pages, for superusers only. Every handler's first parameter
//! is the [`Superuser`] extractor, which sends anonymous visitors to the login page and shows
//! everyone else a 403 page; every state change is a [`CsrfForm`]-checked POST that writes an
//! audit log line.
//!
//! [`CsrfForm`]: crate::web::extract::CsrfForm

pub(crate) mod clients;
mod figures;
mod grants;
mod scopes;
mod users;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, Route, handler};
use serde::Serialize;

use super::error::PageError;
use super::extract::{Paged, Superuser};
use super::forms::insert_pager;
use super::methods::{get, post};
use super::state::State;
use crate::core::portal::{ListQuery, Page};
use crate::core::store::StoreError;

/// The admin routes, to be nested under `/admin`.
pub fn routes() -> Route {
    Route::new()
        .at("/", get(dashboard))
        .at("/audit", get(audit_log))
        .at("/clients", get(clients::list))
        .at("/clients/new", get(clients::new_form).post(clients::create))
        .at("/clients/:id", get(clients::show).post(clients::update))
        .at("/clients/:id/approve", post(clients::approve))
        .at("/clients/:id/reject", post(clients::reject))
        .at("/clients/:id/secret", post(clients::regenerate_secret))
        .at("/clients/:id/revoke", post(clients::revoke_all))
        .at("/clients/:id/delete", post(clients::delete))
        .at("/scopes", get(scopes::list).post(scopes::save))
        .at("/users", get(users::list))
        .at("/users/:id", get(users::show).post(users::update))
        .at("/users/:id/password", post(users::reset_password))
        .at("/users/:id/revoke", post(users::revoke_all))
        .at("/codes", get(grants::codes))
        .at("/codes/:id/revoke", post(grants::revoke_code))
        .at("/tokens", get(grants::tokens))
        .at("/tokens/:id/revoke", post(grants::revoke_token))
        .at("/consents", get(grants::consents))
        .at("/consents/:id/withdraw", post(grants::withdraw_consent))
}

/// One cell of a generic admin table: text, optionally a link.
#[derive(Serialize)]
pub(crate) struct Cell {
    text: String,
    href: Option<String>,
}

impl Cell {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            href: None,
        }
    }
    pub(crate) fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            href: Some(href.into()),
        }
    }
}

/// A POST button on a table row.
#[derive(Serialize)]
pub(crate) struct Action {
    label: String,
    url: String,
    danger: bool,
}

impl Action {
    pub(crate) fn new(label: impl Into<String>, url: impl Into<String>, danger: bool) -> Self {
        Self {
            label: label.into(),
            url: url.into(),
            danger,
        }
    }
}

/// A row of a generic admin table.
#[derive(Serialize)]
pub(crate) struct Row {
    cells: Vec<Cell>,
    actions: Vec<Action>,
}

impl Row {
    pub(crate) fn new(cells: Vec<Cell>, actions: Vec<Action>) -> Self {
        Self { cells, actions }
    }
}

/// What an admin listing shows besides its rows.
pub(crate) struct Table<'a> {
    /// The navigation entry to highlight.
    pub section: &'a str,
    /// The page heading.
    pub title: &'a str,
    /// The listing's own address, for the search form and the pager.
    pub path: &'a str,
    /// The column headings.
    pub columns: &'a [&'a str],
    /// Where the "Add" link goes, for listings that have one.
    pub new_url: Option<&'a str>,
}

/// Serves an admin listing (`admin/list.html`) to the superuser: one page from the store
/// (`fetch`) for the `?q=&page=` request, and the searchable, paged table of its items (`row`
/// renders one). Every listing takes these steps; only the query and the cells differ.
pub(crate) async fn listing<T, Fut>(
    state: &State,
    Superuser(v): Superuser,
    Paged { query: q, page }: Paged,
    table: Table<'_>,
    fetch: impl FnOnce(ListQuery) -> Fut,
    row: impl FnMut(T) -> Row,
) -> Result<Response, PageError>
where
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let found = fetch(q.clone()).await?;
    let rows: Vec<Row> = found.items.into_iter().map(row).collect();
    let mut ctx = v.context();
    ctx.insert("section", table.section);
    ctx.insert("title", table.title);
    ctx.insert("path", table.path);
    ctx.insert("columns", table.columns);
    ctx.insert("new_url", &table.new_url);
    ctx.insert("rows", &rows);
    insert_pager(&mut ctx, table.path, &q, page, found.total);
    Ok(state.render(StatusCode::OK, "admin/list.html", &ctx))
}

/// The token listing searched for `search` (a username or client id): where a bulk revocation
/// sends the admin, so they see the tokens it just revoked.
pub(crate) fn tokens_search(search: &str) -> String {
    format!(
        "/admin/tokens?{}",
        serde_urlencoded::to_string([("q", search)]).unwrap_or_default()
    )
}

/// A unix time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date dependency.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// `GET /admin/`: live figures, pending clients and the latest admin and portal actions.
#[handler]
pub async fn dashboard(
    Superuser(v): Superuser,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let recent = ListQuery {
        search: String::new(),
        offset: 0,
        limit: 10,
    };
    let audit = state.store.recent_actions(recent.limit).await?;
    let users = state.store.list_users(&recent).await?;
    let figures = figures::context(state).await?;
    // Walk every client in pages: the pending ones may be anywhere.
    let mut pending = Vec::new();
    let mut client_count;
    let mut page = ListQuery {
        limit: 500,
        ..recent.clone()
    };
    loop {
        let found = state.store.list_clients(&page).await?;
        client_count = found.total;
        let n = i64::try_from(found.items.len()).unwrap_or(0);
        pending.extend(
            found
                .items
                .iter()
                .filter(|c| c.approval == crate::core::model::Approval::Pending)
                .map(
                    |c| serde_json::json!({ "id": c.id, "name": c.name, "client_id": c.client_id }),
                ),
        );
        page.offset += n;
        if n == 0 || page.offset >= found.total {
            break;
        }
    }
    let audit: Vec<serde_json::Value> = audit
        .iter()
        .map(|a| {
            serde_json::json!({ "at": when(a.at), "actor": a.actor, "action": a.action,
                                "target": a.target, "detail": a.detail })
        })
        .collect();
    let mut ctx = v.context();
    ctx.insert("section", "home");
    ctx.insert("pending", &pending);
    ctx.insert("client_count", &client_count);
    ctx.insert("user_count", &users.total);
    ctx.insert("audit", &audit);
    ctx.insert("figures", &figures);
    Ok(state.render(StatusCode::OK, "admin/index.html", &ctx))
}

/// `GET /admin/audit`: the audit log, newest first.
#[handler]
pub async fn audit_log(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    listing(
        state,
        admin,
        paged,
        Table {
            section: "audit",
            title: "Audit log",
            path: "/admin/audit",
            columns: &["When", "Who", "Action", "Target", "Detail"],
            new_url: None,
        },
        |q| async move { state.store.list_audit(&q).await },
        |a| {
            Row::new(
                vec![
                    Cell::text(when(a.at)),
                    Cell::text(a.actor),
                    Cell::text(a.action),
                    Cell::text(a.target),
                    Cell::text(a.detail),
                ],
                vec![],
            )
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_795_392_000), "2026-11-23 00:00 UTC");
    }
}
