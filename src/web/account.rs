//! `/account/apps`: the applications a signed-in user granted access to, and the button that
//! takes each grant back. Taking it back is the admin's withdrawal
//! ([`ConsentStore::withdraw_consent`](crate::core::store::ConsentStore::withdraw_consent)): the
//! consent is forgotten and the tokens it backed are revoked, which the change feed announces to
//! every instance.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, Route, handler};

use super::admin::when;
use super::error::PageError;
use super::extract::{CsrfForm, Visitor};
use super::forms::{self, parse_id};
use super::methods::{get, post};
use super::state::State;

/// The account routes, to be nested under `/account`.
pub fn routes() -> Route {
    Route::new()
        .at("/apps", get(apps))
        .at("/apps/:consent_id/revoke", post(revoke))
}

/// `GET /account/apps`: the visitor's consents, newest first.
#[handler]
pub async fn apps(v: Visitor, Data(state): Data<&State>) -> Result<Response, PageError> {
    let consents = state.store.consents_of_user(v.user.id).await?;
    let apps: Vec<serde_json::Value> = consents
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "name": c.client_name,
                "scopes": c.scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                "granted": when(c.updated_at),
            })
        })
        .collect();
    let mut ctx = v.context();
    ctx.insert("apps", &apps);
    Ok(state.render(StatusCode::OK, "account/apps.html", &ctx))
}

/// `POST /account/apps/:consent_id/revoke`: takes back one of the visitor's own consents. A
/// consent of someone else's is not found, whatever its id.
#[handler]
pub async fn revoke(
    CsrfForm(v, _): CsrfForm<Visitor>,
    Path(raw_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let id = parse_id(&raw_id)?;
    let mine = state.store.consents_of_user(v.user.id).await?;
    let consent = mine
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(PageError::not_found)?;
    let revoked = state.store.withdraw_consent(id, crate::core::now()).await?;
    forms::audited_redirect(
        state,
        &v,
        "consent.withdraw",
        &format!("consent #{id} ({})", consent.client_name),
        &format!("by the user; {revoked} affected"),
        "/account/apps",
    )
    .await
}
