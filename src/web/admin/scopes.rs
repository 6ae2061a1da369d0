//! Admin: scopes (descriptions; those synced from code are marked, new ones may be added).

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};

use crate::core::scope::is_scope_token;
use crate::web::error::PageError;
use crate::web::extract::{CsrfForm, Paged, Superuser, Visitor};
use crate::web::forms;
use crate::web::state::State;

/// `GET /admin/scopes`: every scope, with a form to describe or add one.
#[handler]
pub async fn list(
    Superuser(v): Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    page(state, &v, StatusCode::OK, &paged, "", "", &BTreeMap::new()).await
}

async fn page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    Paged { query: q, page }: &Paged,
    name: &str,
    description: &str,
    errors: &BTreeMap<&'static str, String>,
) -> Result<Response, PageError> {
    let all = state.store.list_scopes().await?;
    // Scopes are few (one per guarded permission), so they are searched and paged in memory.
    let needle = q.search.trim().to_lowercase();
    let matching: Vec<_> = all
        .iter()
        .filter(|s| {
            needle.is_empty()
                || s.name.to_lowercase().contains(&needle)
                || s.description.to_lowercase().contains(&needle)
        })
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let rows: Vec<serde_json::Value> = matching
        .iter()
        .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(q.limit).unwrap_or(0))
        .map(|s| {
            serde_json::json!({ "name": s.name, "description": s.description, "from_code": s.from_code })
        })
        .collect();
    let mut ctx = v.context();
    ctx.insert("section", "scopes");
    ctx.insert("scopes", &rows);
    forms::insert_pager(&mut ctx, "/admin/scopes", q, *page, total);
    ctx.insert("name", name);
    ctx.insert("description", description);
    ctx.insert("errors", errors);
    Ok(state.render(status, "admin/scopes.html", &ctx))
}

/// `POST /admin/scopes`: sets a scope's description, adding the scope if it is new.
#[handler]
pub async fn save(
    CsrfForm(Superuser(v), f): CsrfForm<Superuser>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let name = f.get("name").trim();
    let description = f.get("description").trim();
    let mut errors = BTreeMap::new();
    if !is_scope_token(name) || name.len() > 100 {
        errors.insert(
            "name",
            "A scope name is 1 to 100 printable characters without spaces or quotes.".to_owned(),
        );
    }
    if description.chars().count() > 500 {
        errors.insert("description", "At most 500 characters.".to_owned());
    }
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return page(
            state,
            &v,
            status,
            &Paged::first(),
            name,
            description,
            &errors,
        )
        .await;
    }
    state.store.save_scope(name, description).await?;
    forms::audited_redirect(
        state,
        &v,
        "scope.save",
        &format!("scope {name}"),
        description,
        "/admin/scopes",
    )
    .await
}
