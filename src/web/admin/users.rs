//! Admin: users (active and superuser flags, password reset, revoking all their tokens).

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, handler};

use super::{Action, Cell, Row, Table, listing};
use crate::core::model::User;
use crate::core::secret::{generate_token, hash_password};
use crate::web::error::PageError;
use crate::web::extract::{CsrfForm, Paged, Superuser, Visitor};
use crate::web::forms::{self, parse_id};
use crate::web::state::State;

/// The user named in the path; a missing one gets the 404 page. Handlers take the superuser
/// (and the CSRF-checked form) first, so outsiders learn nothing from it.
async fn load_user(state: &State, raw_id: &str) -> Result<User, PageError> {
    let id = parse_id(raw_id)?;
    state
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(PageError::not_found)
}

fn user_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    u: &User,
    password: Option<&str>,
    error: Option<&str>,
) -> Response {
    let mut ctx = v.context();
    ctx.insert("section", "users");
    ctx.insert(
        "target",
        &serde_json::json!({
            "id": u.id, "username": u.username, "email": u.email,
            "is_active": u.is_active, "is_superuser": u.is_superuser,
        }),
    );
    let q = serde_urlencoded::to_string([("q", &u.username)]).unwrap_or_default();
    ctx.insert("tokens_url", &format!("/admin/tokens?{q}"));
    ctx.insert("consents_url", &format!("/admin/consents?{q}"));
    ctx.insert("new_password", &password);
    ctx.insert("error", &error);
    state.render(status, "admin/user.html", &ctx)
}

/// `GET /admin/users`: searchable by username or email.
#[handler]
pub async fn list(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let yes = |b: bool| if b { "yes" } else { "no" };
    listing(
        state,
        admin,
        paged,
        Table {
            section: "users",
            title: "Users",
            path: "/admin/users",
            columns: &["Username", "Email", "Active", "Superuser"],
            new_url: None,
        },
        |q| async move { state.store.list_users(&q).await },
        |u| {
            Row::new(
                vec![
                    Cell::link(&u.username, format!("/admin/users/{}", u.id)),
                    Cell::text(&u.email),
                    Cell::text(yes(u.is_active)),
                    Cell::text(yes(u.is_superuser)),
                ],
                vec![Action::new(
                    "Revoke all tokens",
                    format!("/admin/users/{}/revoke", u.id),
                    true,
                )],
            )
        },
    )
    .await
}

/// `GET /admin/users/:id`.
#[handler]
pub async fn show(
    Superuser(v): Superuser,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let u = load_user(state, &id).await?;
    Ok(user_page(state, &v, StatusCode::OK, &u, None, None))
}

/// `POST /admin/users/:id`: the active and superuser flags.
#[handler]
pub async fn update(
    CsrfForm(Superuser(v), f): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let u = load_user(state, &id).await?;
    let active = f.get("is_active") == "on";
    let superuser = f.get("is_superuser") == "on";
    // Locking yourself out would leave nobody able to undo it from the web.
    if u.id == v.user.id && !(active && superuser) {
        return Ok(user_page(
            state,
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            &u,
            None,
            Some("You cannot deactivate yourself or remove your own superuser flag."),
        ));
    }
    state.store.set_user_flags(u.id, active, superuser).await?;
    forms::audited_redirect(
        state,
        &v,
        "user.update",
        &format!("user {}", u.username),
        &format!("active={active} superuser={superuser}"),
        &format!("/admin/users/{}", u.id),
    )
    .await
}

/// `POST /admin/users/:id/password`: sets a random temporary password, shown once, and ends
/// the user's sessions.
#[handler]
pub async fn reset_password(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let u = load_user(state, &id).await?;
    let password: String = generate_token().chars().take(16).collect();
    let plain = password.clone();
    let hash = match tokio::task::spawn_blocking(move || hash_password(&plain)).await {
        Ok(Ok(h)) => h,
        _ => return Err(PageError::unavailable(&"password hashing failed")),
    };
    state.store.set_user_password(u.id, &hash).await?;
    v.audit(
        state,
        "user.password_reset",
        &format!("user {}", u.username),
        "",
    )
    .await?;
    Ok(user_page(
        state,
        &v,
        StatusCode::OK,
        &u,
        Some(&password),
        None,
    ))
}

/// `POST /admin/users/:id/revoke`: every token and unredeemed code of the user.
#[handler]
pub async fn revoke_all(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let u = load_user(state, &id).await?;
    let n = state
        .store
        .revoke_user_tokens(u.id, crate::core::now())
        .await?;
    forms::audited_redirect(
        state,
        &v,
        "user.revoke_all",
        &format!("user {}", u.username),
        &format!("{n} revoked"),
        &super::tokens_search(&u.username),
    )
    .await
}
