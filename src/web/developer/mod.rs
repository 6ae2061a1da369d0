//! `/developer/`: the developer portal. Any signed-in user registers apps here, describes and
//! brands them, manages redirect URIs, secrets and team members, and follows their approval. An
//! app may be edited by its owner and its team members only; anyone else gets a 403 page.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, Route, handler};

use crate::web::methods::{get, post};
use serde::Serialize;

use super::admin::clients::approval_view;
use super::forms::{
    self, FormData, Visitor, check_optional_url, client_target, not_found, see_other, word_count,
};
use super::state::State;
use crate::core::client_rules::{ClientDraft, ClientRules};
use crate::core::model::{Approval, Client, ClientType, GrantType};
use crate::core::portal::ClientProfile;
use crate::core::secret::{generate_token, hash_secret};

/// Fewest words a description may have (Omniport's rule).
pub const MIN_WORDS: usize = 127;
/// Most words a description may have.
pub const MAX_WORDS: usize = 511;

/// The portal routes, to be nested under `/developer`.
pub fn routes() -> Route {
    Route::new()
        .at("/", get(index))
        .at("/add", get(add_form).post(add))
        .at("/terms", get(terms))
        .at("/apps/:client_id", get(dashboard))
        .at("/apps/:client_id/branding", post(save_branding))
        .at("/apps/:client_id/redirects", post(save_redirects))
        .at("/apps/:client_id/secret", post(regenerate_secret))
        .at("/apps/:client_id/members", post(add_member))
        .at("/apps/:client_id/members/remove", post(remove_member))
}

/// The add form as typed, kept when it is refused.
#[derive(Debug, Clone, Default, Serialize)]
struct AddForm {
    name: String,
    redirect_uris: String,
    description: String,
    scopes: Vec<String>,
    agree: bool,
    nonce: String,
    words: usize,
}

/// `GET /developer/`: the visitor's apps.
#[handler]
pub async fn index(req: &Request, Data(state): Data<&State>) -> Response {
    let v = match forms::signed_in(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let apps = match state.store.clients_of_user(v.user.id).await {
        Ok(a) => a,
        Err(e) => return state.unavailable_page(&e),
    };
    let apps: Vec<serde_json::Value> = apps
        .iter()
        .map(|c| {
            let (status, reason) = approval_view(&c.approval);
            serde_json::json!({ "name": c.name, "client_id": c.client_id, "status": status, "reason": reason })
        })
        .collect();
    let mut ctx = v.context();
    ctx.insert("section", "apps");
    ctx.insert("apps", &apps);
    state.render(StatusCode::OK, "developer/index.html", &ctx)
}

/// `GET /developer/terms`: the developer terms (replace `developer/terms.html` to change them).
#[handler]
pub async fn terms(req: &Request, Data(state): Data<&State>) -> Response {
    // Readable signed out too: people read the terms before they sign up.
    let mut ctx = match crate::web::session::load(state, req).await {
        Ok(Some(s)) => match s.user.clone() {
            Some(user) => Visitor { session: s, user }.context(),
            None => tera::Context::new(),
        },
        _ => tera::Context::new(),
    };
    ctx.insert("section", "terms");
    state.render(StatusCode::OK, "developer/terms.html", &ctx)
}

async fn add_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    form: &AddForm,
    errors: &BTreeMap<&'static str, String>,
) -> Response {
    let scopes = match state.store.list_scopes().await {
        Ok(s) => s,
        Err(e) => return state.unavailable_page(&e),
    };
    let all: Vec<serde_json::Value> = scopes
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "description": s.description }))
        .collect();
    let mut ctx = v.context();
    ctx.insert("section", "add");
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    ctx.insert("all_scopes", &all);
    ctx.insert("min_words", &MIN_WORDS);
    ctx.insert("max_words", &MAX_WORDS);
    state.render(status, "developer/add.html", &ctx)
}

/// `GET /developer/add`: the registration form.
#[handler]
pub async fn add_form(req: &Request, Data(state): Data<&State>) -> Response {
    let v = match forms::signed_in(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = AddForm {
        nonce: forms::new_nonce(),
        ..AddForm::default()
    };
    add_page(state, &v, StatusCode::OK, &form, &BTreeMap::new()).await
}

/// `POST /developer/add`: registers the app (pending approval) and opens its dashboard with the
/// secret shown once. The form's single-use nonce makes a double submit open the same app.
#[handler]
pub async fn add(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let (v, f) = match forms::signed_in_form(state, req, body).await {
        Ok(vf) => vf,
        Err(r) => return r,
    };
    let form = AddForm {
        name: f.get("name").trim().to_owned(),
        redirect_uris: f.get("redirect_uris").to_owned(),
        description: f.get("description").to_owned(),
        scopes: f.all("scopes"),
        agree: f.get("agree") == "on",
        nonce: f.get("nonce").to_owned(),
        words: word_count(f.get("description")),
    };
    let known = match state.store.list_scopes().await {
        Ok(s) => s,
        Err(e) => return state.unavailable_page(&e),
    };
    // Every portal app has the same shape: a confidential web app with code and refresh grants.
    let draft = ClientDraft {
        name: form.name.clone(),
        client_type: ClientType::Confidential.as_str().to_owned(),
        grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken]
            .map(|g| g.as_str().to_owned())
            .into(),
        redirect_uris: forms::redirect_lines(&form.redirect_uris),
        scopes: form.scopes.clone(),
        ..ClientDraft::default()
    };
    let rules = ClientRules {
        debug: state.settings.debug,
        registered_scopes: Some(&known),
    };
    let valid = draft.validate(&rules);
    let mut errors = valid
        .as_ref()
        .err()
        .map(forms::field_errors)
        .unwrap_or_default();
    if !(MIN_WORDS..=MAX_WORDS).contains(&form.words) {
        errors.insert(
            "description",
            format!(
                "The description has {} words; it must have {MIN_WORDS} to {MAX_WORDS}.",
                form.words
            ),
        );
    }
    if !form.agree {
        errors.insert(
            "agree",
            "You must agree to the developer terms to register an app.".to_owned(),
        );
    }
    let valid = match valid {
        Ok(valid) if errors.is_empty() => valid,
        _ => return add_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors).await,
    };
    match forms::claim(state, &form.nonce).await {
        Ok(None) => {}
        Ok(Some(done)) if !done.is_empty() => {
            return see_other(&format!("/developer/apps/{done}"));
        }
        Ok(Some(_)) => return see_other("/developer/"),
        Err(r) => return r,
    }
    let (new, secret) = valid.into_new_client(Approval::Pending, Some(v.user.id));
    let registered = state
        .store
        .register_app(
            new,
            ClientProfile {
                client_id: 0,
                description: form.description.trim().to_owned(),
                terms_agreed_at: Some(crate::core::now()),
                ..ClientProfile::default()
            },
        )
        .await;
    let client = match registered {
        Ok(c) => c,
        Err(e) => return state.unavailable_page(&e),
    };
    forms::finish(state, &form.nonce, &client.client_id).await;
    if let Err(r) = v
        .audit(state, "app.register", &client_target(&client), "")
        .await
    {
        return r;
    }
    dashboard_page(
        state,
        &v,
        StatusCode::CREATED,
        &client,
        &Extras {
            secret,
            ..Extras::default()
        },
    )
    .await
}

/// What a dashboard render may carry besides the stored app: a fresh secret, a refused form's
/// values and errors.
#[derive(Default)]
struct Extras {
    secret: Option<String>,
    errors: BTreeMap<&'static str, String>,
    branding: Option<[String; 3]>,
    redirect_uris: Option<String>,
    member: String,
}

async fn dashboard_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    c: &Client,
    extras: &Extras,
) -> Response {
    let (profile, members, owner) = match (
        state.store.client_profile(c.id).await,
        state.store.client_members(c.id).await,
        state.store.client_owner(c.id).await,
    ) {
        (Ok(p), Ok(m), Ok(o)) => (p.unwrap_or_default(), m, o),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return state.unavailable_page(&e),
    };
    let owner_name = match owner {
        Some(id) => match state.store.user_by_id(id).await {
            Ok(u) => u.map(|u| u.username),
            Err(e) => return state.unavailable_page(&e),
        },
        None => None,
    };
    let (status_name, reason) = approval_view(&c.approval);
    let branding = extras.branding.clone().unwrap_or([
        profile.logo_url.clone(),
        profile.homepage_url.clone(),
        profile.privacy_url.clone(),
    ]);
    let mut ctx = v.context();
    ctx.insert("section", "apps");
    ctx.insert(
        "app",
        &serde_json::json!({
            "client_id": c.client_id, "name": c.name, "status": status_name, "reason": reason,
            "scopes": c.scopes.iter().collect::<Vec<_>>(),
            "redirect_uris": c.redirect_uris,
            "owner": owner_name,
            "is_owner": owner == Some(v.user.id),
            "description": profile.description,
        }),
    );
    ctx.insert(
        "branding",
        &serde_json::json!({ "logo_url": branding[0], "homepage_url": branding[1], "privacy_url": branding[2] }),
    );
    ctx.insert(
        "redirect_text",
        &extras
            .redirect_uris
            .clone()
            .unwrap_or_else(|| c.redirect_uris.join("\n")),
    );
    ctx.insert(
        "members",
        &members
            .iter()
            .map(|m| serde_json::json!({"user_id": m.user_id, "username": m.username}))
            .collect::<Vec<_>>(),
    );
    ctx.insert("member", &extras.member);
    ctx.insert("secret", &extras.secret);
    ctx.insert("errors", &extras.errors);
    state.render(status, "developer/app.html", &ctx)
}

/// Loads an app the visitor may edit: its owner or a team member. Strangers get a 403 page
/// (not a 404: the client id is public anyway).
async fn editable(state: &State, v: &Visitor, client_id: &str) -> Result<Client, Response> {
    let client = match state.store.client_by_client_id(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(not_found(state)),
        Err(e) => return Err(state.unavailable_page(&e)),
    };
    let owner = state
        .store
        .client_owner(client.id)
        .await
        .map_err(|e| state.unavailable_page(&e))?;
    if owner == Some(v.user.id) {
        return Ok(client);
    }
    let members = state
        .store
        .client_members(client.id)
        .await
        .map_err(|e| state.unavailable_page(&e))?;
    if members.iter().any(|m| m.user_id == v.user.id) {
        return Ok(client);
    }
    tracing::info!(user = ?v.user.username, client = ?client.client_id, "portal edit refused");
    Err(state.error_page(
        StatusCode::FORBIDDEN,
        "Not your app",
        "Only the app's owner and its team members can see and edit it.",
    ))
}

/// Signed in, a valid CSRF token, and the right to edit the app: what every POST needs.
async fn post_guard(
    state: &State,
    req: &Request,
    body: Body,
    client_id: &str,
) -> Result<(Visitor, FormData, Client), Response> {
    let (v, f) = forms::signed_in_form(state, req, body).await?;
    let c = editable(state, &v, client_id).await?;
    Ok((v, f, c))
}

/// `GET /developer/apps/:client_id`: the app's dashboard.
#[handler]
pub async fn dashboard(
    req: &Request,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Response {
    let v = match forms::signed_in(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match editable(state, &v, &client_id).await {
        Ok(c) => dashboard_page(state, &v, StatusCode::OK, &c, &Extras::default()).await,
        Err(r) => r,
    }
}

/// The app's dashboard, where every app action returns to.
fn app_path(c: &Client) -> String {
    format!("/developer/apps/{}", c.client_id)
}

fn back(c: &Client) -> Response {
    see_other(&app_path(c))
}

/// `POST /developer/apps/:client_id/branding`: logo, homepage and privacy-policy addresses.
#[handler]
pub async fn save_branding(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, c) = match post_guard(state, req, body, &client_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let values = [
        f.get("logo_url").trim().to_owned(),
        f.get("homepage_url").trim().to_owned(),
        f.get("privacy_url").trim().to_owned(),
    ];
    let mut errors = BTreeMap::new();
    for (field, value) in ["logo_url", "homepage_url", "privacy_url"]
        .into_iter()
        .zip(&values)
    {
        if let Err(e) = check_optional_url(value, state.settings.debug) {
            errors.insert(field, e);
        } else if value.len() > 500 {
            errors.insert(field, "At most 500 characters.".to_owned());
        }
    }
    if !errors.is_empty() {
        let extras = Extras {
            errors,
            branding: Some(values),
            ..Extras::default()
        };
        return dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await;
    }
    let mut profile = match state.store.client_profile(c.id).await {
        Ok(p) => p.unwrap_or(ClientProfile {
            client_id: c.id,
            ..ClientProfile::default()
        }),
        Err(e) => return state.unavailable_page(&e),
    };
    [profile.logo_url, profile.homepage_url, profile.privacy_url] = values;
    if let Err(e) = state.store.save_client_profile(profile).await {
        return state.unavailable_page(&e);
    }
    back(&c)
}

/// `POST /developer/apps/:client_id/redirects`.
#[handler]
pub async fn save_redirects(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, mut c) = match post_guard(state, req, body, &client_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = f.get("redirect_uris").to_owned();
    // The whole client is checked again, so an edit cannot leave it in a shape the endpoints
    // refuse. Its scopes are not being edited: one since removed from the registry stays.
    let mut draft = ClientDraft::of(&c);
    draft.redirect_uris = forms::redirect_lines(&text);
    let rules = ClientRules {
        debug: state.settings.debug,
        registered_scopes: None,
    };
    match draft.validate(&rules) {
        Ok(valid) => {
            if let Err(e) = state.store.update_client(c.id, &valid).await {
                return state.unavailable_page(&e);
            }
            valid.apply_to(&mut c);
            forms::audited_redirect(
                state,
                &v,
                "app.redirect_uris",
                &client_target(&c),
                &c.redirect_uris.join(" "),
                &app_path(&c),
            )
            .await
        }
        Err(errors) => {
            // Only the redirect URIs are on this form: any other broken rule (a row written
            // before the rules) is shown there too, so it is not hidden.
            let message = forms::field_errors(&errors)
                .into_values()
                .collect::<Vec<_>>()
                .join(" ");
            let mut extras = Extras {
                redirect_uris: Some(text),
                ..Extras::default()
            };
            extras.errors.insert("redirect_uris", message);
            dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await
        }
    }
}

/// `POST /developer/apps/:client_id/secret`: a new secret, shown once; the old one stops
/// working at once.
#[handler]
pub async fn regenerate_secret(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, c) = match post_guard(state, req, body, &client_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let secret = generate_token();
    if let Err(e) = state
        .store
        .set_client_secret(c.id, Some(hash_secret(&secret)))
        .await
    {
        return state.unavailable_page(&e);
    }
    if let Err(r) = v.audit(state, "app.secret", &client_target(&c), "").await {
        return r;
    }
    let extras = Extras {
        secret: Some(secret),
        ..Extras::default()
    };
    dashboard_page(state, &v, StatusCode::OK, &c, &extras).await
}

/// `POST /developer/apps/:client_id/members`: adds a team member by username.
#[handler]
pub async fn add_member(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, c) = match post_guard(state, req, body, &client_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let username = f.get("username").trim().to_owned();
    let refuse = |msg: String| Extras {
        member: username.clone(),
        errors: BTreeMap::from([("member", msg)]),
        ..Extras::default()
    };
    let user = match state.store.user_by_username(&username).await {
        Ok(Some(u)) if u.is_active => u,
        Ok(_) => {
            let extras = refuse(format!("There is no user named “{username}”."));
            return dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await;
        }
        Err(e) => return state.unavailable_page(&e),
    };
    let owner = match state.store.client_owner(c.id).await {
        Ok(o) => o,
        Err(e) => return state.unavailable_page(&e),
    };
    if owner == Some(user.id) {
        let extras = refuse(format!("“{username}” owns this app already."));
        return dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await;
    }
    match state.store.add_client_member(c.id, user.id).await {
        Ok(()) => {}
        // A double submit (or someone else was quicker): the member is there, which is the goal.
        Err(crate::core::store::StoreError::Conflict(_)) => return back(&c),
        Err(e) => return state.unavailable_page(&e),
    }
    forms::audited_redirect(
        state,
        &v,
        "app.member_add",
        &client_target(&c),
        &username,
        &app_path(&c),
    )
    .await
}

/// `POST /developer/apps/:client_id/members/remove`.
#[handler]
pub async fn remove_member(
    req: &Request,
    Path(client_id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, c) = match post_guard(state, req, body, &client_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(user_id) = f.get("user_id").parse::<i64>() else {
        return back(&c);
    };
    if let Err(e) = state.store.remove_client_member(c.id, user_id).await {
        return state.unavailable_page(&e);
    }
    forms::audited_redirect(
        state,
        &v,
        "app.member_remove",
        &client_target(&c),
        &format!("user #{user_id}"),
        &app_path(&c),
    )
    .await
}
