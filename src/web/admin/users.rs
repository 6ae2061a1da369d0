//! Admin: users (active and superuser flags, password reset, revoking all their tokens).

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};

use super::{Action, Cell, Row, Table, listing};
use crate::core::model::User;
use crate::core::secret::{generate_token, hash_password};
use crate::web::forms::{self, FormData, Visitor, not_found, parse_id};
use crate::web::state::State;

async fn load_user(state: &State, raw_id: &str) -> Result<User, Response> {
    let id = parse_id(state, raw_id)?;
    match state.store.user_by_id(id).await {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(not_found(state)),
        Err(e) => Err(state.unavailable_page(&e)),
    }
}

/// The superuser, their CSRF-checked form and the user named in the path: what every POST
/// action on one user starts with, in the order that reveals nothing to outsiders.
async fn user_action(
    state: &State,
    req: &Request,
    body: Body,
    raw_id: &str,
) -> Result<(Visitor, FormData, User), Response> {
    let (v, f) = forms::superuser_form(state, req, body).await?;
    let u = load_user(state, raw_id).await?;
    Ok((v, f, u))
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
pub async fn list(req: &Request, Data(state): Data<&State>) -> Response {
    let yes = |b: bool| if b { "yes" } else { "no" };
    listing(
        state,
        req,
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
pub async fn show(req: &Request, Path(id): Path<String>, Data(state): Data<&State>) -> Response {
    let v = match forms::superuser(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match load_user(state, &id).await {
        Ok(u) => user_page(state, &v, StatusCode::OK, &u, None, None),
        Err(r) => r,
    }
}

/// `POST /admin/users/:id`: the active and superuser flags.
#[handler]
pub async fn update(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, u) = match user_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let active = f.get("is_active") == "on";
    let superuser = f.get("is_superuser") == "on";
    // Locking yourself out would leave nobody able to undo it from the web.
    if u.id == v.user.id && !(active && superuser) {
        return user_page(
            state,
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            &u,
            None,
            Some("You cannot deactivate yourself or remove your own superuser flag."),
        );
    }
    if let Err(e) = state.store.set_user_flags(u.id, active, superuser).await {
        return state.unavailable_page(&e);
    }
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
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, u) = match user_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let password: String = generate_token().chars().take(16).collect();
    let plain = password.clone();
    let hash = match tokio::task::spawn_blocking(move || hash_password(&plain)).await {
        Ok(Ok(h)) => h,
        _ => return state.unavailable_page(&"password hashing failed"),
    };
    if let Err(e) = state.store.set_user_password(u.id, &hash).await {
        return state.unavailable_page(&e);
    }
    if let Err(r) = v
        .audit(
            state,
            "user.password_reset",
            &format!("user {}", u.username),
            "",
        )
        .await
    {
        return r;
    }
    user_page(state, &v, StatusCode::OK, &u, Some(&password), None)
}

/// `POST /admin/users/:id/revoke`: every token and unredeemed code of the user.
#[handler]
pub async fn revoke_all(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, u) = match user_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let n = match state
        .store
        .revoke_user_tokens(u.id, crate::core::now())
        .await
    {
        Ok(n) => n,
        Err(e) => return state.unavailable_page(&e),
    };
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
