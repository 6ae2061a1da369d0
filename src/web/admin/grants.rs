//! Admin: authorization codes, tokens and consents (list, search by user or client, revoke or
//! withdraw one; the "all of a user's/client's" buttons post to the user and client routes).

use poem::web::{Data, Path};
use poem::{Response, handler};

use super::{Action, Cell, Row, Table, listing, when};
use crate::core::lifecycle::Revoker;
use crate::web::error::PageError;
use crate::web::extract::{CsrfForm, Paged, Superuser, Visitor};
use crate::web::forms::{self, parse_id};
use crate::web::state::State;

fn state_of(used: Option<i64>, revoked: Option<i64>, expires: i64, now: i64) -> &'static str {
    if revoked.is_some() {
        "revoked"
    } else if used.is_some() {
        "used"
    } else if expires <= now {
        "expired"
    } else {
        "active"
    }
}

/// `GET /admin/codes`.
#[handler]
pub async fn codes(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let now = crate::core::now();
    listing(
        state,
        admin,
        paged,
        Table {
            section: "codes",
            title: "Authorization codes",
            path: "/admin/codes",
            columns: &["User", "Client", "Scope", "Issued", "State"],
            new_url: None,
        },
        |q| async move { state.store.list_codes(&q).await },
        |c| {
            let status = state_of(c.used_at, None, c.expires_at, now);
            let actions = if status == "active" {
                vec![Action::new(
                    "Revoke",
                    format!("/admin/codes/{}/revoke", c.id),
                    true,
                )]
            } else {
                vec![]
            };
            Row::new(
                vec![
                    Cell::link(&c.username, format!("/admin/users/{}", c.user_id)),
                    Cell::link(&c.client_name, format!("/admin/clients/{}", c.client_id)),
                    Cell::text(c.scope),
                    Cell::text(when(c.created_at)),
                    Cell::text(status),
                ],
                actions,
            )
        },
    )
    .await
}

/// `GET /admin/tokens`.
#[handler]
pub async fn tokens(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let now = crate::core::now();
    listing(
        state,
        admin,
        paged,
        Table {
            section: "tokens",
            title: "Tokens",
            path: "/admin/tokens",
            columns: &["User", "Client", "Kind", "Scope", "Issued", "State"],
            new_url: None,
        },
        |q| async move { state.store.list_tokens(&q).await },
        |t| {
            let status = state_of(t.used_at, t.revoked_at, t.expires_at, now);
            let mut actions = Vec::new();
            if status == "active" {
                actions.push(Action::new(
                    "Revoke",
                    format!("/admin/tokens/{}/revoke", t.id),
                    true,
                ));
            }
            if let Some(uid) = t.user_id {
                actions.push(Action::new(
                    format!("Revoke all of {}", t.username),
                    format!("/admin/users/{uid}/revoke"),
                    true,
                ));
            }
            actions.push(Action::new(
                format!("Revoke all of {}", t.client_name),
                format!("/admin/clients/{}/revoke", t.client_id),
                true,
            ));
            let user = match t.user_id {
                Some(uid) => Cell::link(&t.username, format!("/admin/users/{uid}")),
                None => Cell::text("(client)"),
            };
            Row::new(
                vec![
                    user,
                    Cell::link(&t.client_name, format!("/admin/clients/{}", t.client_id)),
                    Cell::text(t.kind),
                    Cell::text(t.scope),
                    Cell::text(when(t.created_at)),
                    Cell::text(status),
                ],
                actions,
            )
        },
    )
    .await
}

/// `GET /admin/consents`.
#[handler]
pub async fn consents(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    listing(
        state,
        admin,
        paged,
        Table {
            section: "consents",
            title: "Consents",
            path: "/admin/consents",
            columns: &["User", "Client", "Scope", "Granted"],
            new_url: None,
        },
        |q| async move { state.store.list_consents(&q).await },
        |c| {
            Row::new(
                vec![
                    Cell::link(&c.username, format!("/admin/users/{}", c.user_id)),
                    Cell::link(&c.client_name, format!("/admin/clients/{}", c.client_id)),
                    Cell::text(c.scope),
                    Cell::text(when(c.updated_at)),
                ],
                vec![Action::new(
                    "Withdraw",
                    format!("/admin/consents/{}/withdraw", c.id),
                    true,
                )],
            )
        },
    )
    .await
}

/// Shared body of the three single-row POST actions.
async fn act(
    state: &State,
    v: &Visitor,
    raw_id: &str,
    action: &str,
    back: &str,
) -> Result<Response, PageError> {
    let id = parse_id(raw_id)?;
    let now = crate::core::now();
    let n = match action {
        "code.revoke" => state.store.revoke_code(id).await,
        "token.revoke" => {
            let by = Revoker::Admin {
                id: v.user.id,
                username: v.user.username.clone(),
            };
            state.store.revoke_token(id, now, by).await
        }
        _ => state.store.withdraw_consent(id, now).await,
    }?;
    let what = action.split('.').next().unwrap_or(action);
    forms::audited_redirect(
        state,
        v,
        action,
        &format!("{what} #{id}"),
        &format!("{n} affected"),
        back,
    )
    .await
}

/// `POST /admin/codes/:id/revoke`.
#[handler]
pub async fn revoke_code(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    act(state, &v, &id, "code.revoke", "/admin/codes").await
}

/// `POST /admin/tokens/:id/revoke`: revoking a refresh token also ends its access tokens.
#[handler]
pub async fn revoke_token(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    act(state, &v, &id, "token.revoke", "/admin/tokens").await
}

/// `POST /admin/consents/:id/withdraw`: also revokes the tokens the consent backed.
#[handler]
pub async fn withdraw_consent(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    act(state, &v, &id, "consent.withdraw", "/admin/consents").await
}
