//! `/developer/`: the developer portal. Any signed-in user registers apps here, describes and
//! brands them, manages redirect URIs, secrets and team members, and follows their approval. An
//! app may be edited by its owner and its team members only; anyone else gets a 403 page.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, Route, handler};
use serde::Serialize;

use super::admin::clients::{approval_view, owner_name};
use super::error::PageError;
use super::extract::{CsrfForm, Visitor};
use super::forms::{self, check_optional_url, client_target, word_count};
use super::methods::{get, post};
use super::reply::see_other;
use super::state::State;
use crate::core::client_rules::{ClientDraft, ClientErrors, Field};
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
        .at("/apps/:client_id/id-token", post(save_id_token))
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
pub async fn index(v: Visitor, Data(state): Data<&State>) -> Result<Response, PageError> {
    let apps = state.store.clients_of_user(v.user.id).await?;
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
    Ok(state.render(StatusCode::OK, "developer/index.html", &ctx))
}

/// `GET /developer/terms`: the developer terms (replace `developer/terms.html` to change them).
#[handler]
pub async fn terms(visitor: Option<Visitor>, Data(state): Data<&State>) -> Response {
    // Readable signed out too: people read the terms before they sign up.
    let mut ctx = visitor.map_or_else(tera::Context::new, |v| v.context());
    ctx.insert("section", "terms");
    state.render(StatusCode::OK, "developer/terms.html", &ctx)
}

async fn add_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    form: &AddForm,
    errors: &BTreeMap<&'static str, String>,
) -> Result<Response, PageError> {
    let scopes = state.store.list_scopes().await?;
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
    Ok(state.render(status, "developer/add.html", &ctx))
}

/// `GET /developer/add`: the registration form.
#[handler]
pub async fn add_form(v: Visitor, Data(state): Data<&State>) -> Result<Response, PageError> {
    let form = AddForm {
        nonce: forms::new_nonce(),
        ..AddForm::default()
    };
    add_page(state, &v, StatusCode::OK, &form, &BTreeMap::new()).await
}

/// `POST /developer/add`: registers the app (pending approval) and opens its dashboard with the
/// secret shown once. The form's single-use nonce makes a double submit open the same app.
#[handler]
pub async fn add(
    CsrfForm(v, f): CsrfForm<Visitor>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let form = AddForm {
        name: f.get("name").trim().to_owned(),
        redirect_uris: f.get("redirect_uris").to_owned(),
        description: f.get("description").to_owned(),
        scopes: f.all("scopes"),
        agree: f.get("agree") == "on",
        nonce: f.get("nonce").to_owned(),
        words: word_count(f.get("description")),
    };
    let known = state.store.list_scopes().await?;
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
    let rules = state.settings.client_rules(Some(&known));
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
    match forms::claim(state, &form.nonce).await? {
        None => {}
        Some(done) if !done.is_empty() => {
            return Ok(see_other(&format!("/developer/apps/{done}")));
        }
        Some(_) => return Ok(see_other("/developer/")),
    }
    let (new, secret) = valid.into_new_client(Approval::Pending, Some(v.user.id));
    let client = state
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
        .await?;
    forms::finish(state, &form.nonce, &client.client_id).await;
    v.audit(state, "app.register", &client_target(&client), "")
        .await?;
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
    post_logout_redirect_uris: Option<String>,
    /// The token form's algorithm, subject type and access-token format, as typed.
    id_token: Option<[String; 3]>,
    member: String,
}

async fn dashboard_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    c: &Client,
    extras: &Extras,
) -> Result<Response, PageError> {
    let profile = state.store.client_profile(c.id).await?.unwrap_or_default();
    let members = state.store.client_members(c.id).await?;
    let owner = state.store.client_owner(c.id).await?;
    let owner_name = owner_name(state, owner).await?;
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
        "post_logout_text",
        &extras
            .post_logout_redirect_uris
            .clone()
            .unwrap_or_else(|| c.post_logout_redirect_uris.join("\n")),
    );
    let [alg, subject_type, access] = extras.id_token.clone().unwrap_or([
        c.tokens.alg.as_str().to_owned(),
        c.tokens.subject_type.as_str().to_owned(),
        c.tokens.access.as_str().to_owned(),
    ]);
    ctx.insert(
        "id_token",
        &forms::id_token_view(&alg, &subject_type, &access),
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
    Ok(state.render(status, "developer/app.html", &ctx))
}

/// Loads an app the visitor may edit: its owner or a team member. Strangers get a 403 page
/// (not a 404: the client id is public anyway).
async fn editable(state: &State, v: &Visitor, client_id: &str) -> Result<Client, PageError> {
    let client = state
        .store
        .client_by_client_id(client_id)
        .await?
        .ok_or_else(PageError::not_found)?;
    if state.store.client_owner(client.id).await? == Some(v.user.id) {
        return Ok(client);
    }
    let members = state.store.client_members(client.id).await?;
    if members.iter().any(|m| m.user_id == v.user.id) {
        return Ok(client);
    }
    tracing::info!(user = ?v.user.username, client = ?client.client_id, "portal edit refused");
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "Not your app",
        "Only the app's owner and its team members can see and edit it.",
    ))
}

/// `GET /developer/apps/:client_id`: the app's dashboard.
#[handler]
pub async fn dashboard(
    v: Visitor,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let c = editable(state, &v, &client_id).await?;
    dashboard_page(state, &v, StatusCode::OK, &c, &Extras::default()).await
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
    CsrfForm(v, f): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let c = editable(state, &v, &client_id).await?;
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
    let mut profile = state
        .store
        .client_profile(c.id)
        .await?
        .unwrap_or(ClientProfile {
            client_id: c.id,
            ..ClientProfile::default()
        });
    [profile.logo_url, profile.homepage_url, profile.privacy_url] = values;
    state.store.save_client_profile(profile).await?;
    Ok(back(&c))
}

/// Saves the edit `change` makes to `c`'s settings: the whole client is checked again, so an
/// edit cannot leave it in a shape the endpoints refuse (its scopes are not edited: one since
/// removed from the registry stays). Saved, it is audited as `action` with what the app's
/// redirect URIs and ID-token options now are, and the dashboard follows; refused, the errors.
async fn save_edit(
    state: &State,
    v: &Visitor,
    c: &mut Client,
    action: &str,
    change: impl FnOnce(&mut ClientDraft),
) -> Result<Result<Response, ClientErrors>, PageError> {
    let mut draft = ClientDraft::of(c);
    change(&mut draft);
    let rules = state.settings.client_rules(None);
    let valid = match draft.validate(&rules) {
        Ok(valid) => valid,
        Err(errors) => return Ok(Err(errors)),
    };
    state.store.update_client(c.id, &valid).await?;
    valid.apply_to(c);
    let detail = format!(
        "{} post-logout: {} id_token: {} {} access_token: {}",
        c.redirect_uris.join(" "),
        c.post_logout_redirect_uris.join(" "),
        c.tokens.alg.as_str(),
        c.tokens.subject_type.as_str(),
        c.tokens.access.as_str()
    );
    let target = client_target(c);
    let done = forms::audited_redirect(state, v, action, &target, &detail, &app_path(c)).await?;
    Ok(Ok(done))
}

/// `POST /developer/apps/:client_id/redirects`: the redirect URIs and the post-logout ones.
#[handler]
pub async fn save_redirects(
    CsrfForm(v, f): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let mut c = editable(state, &v, &client_id).await?;
    let text = f.get("redirect_uris").to_owned();
    let post_logout_text = f.get("post_logout_redirect_uris").to_owned();
    let saved = save_edit(state, &v, &mut c, "app.redirect_uris", |draft| {
        draft.redirect_uris = forms::redirect_lines(&text);
        draft.post_logout_redirect_uris = forms::redirect_lines(&post_logout_text);
    })
    .await?;
    match saved {
        Ok(done) => Ok(done),
        Err(errors) => {
            // Only the two lists are on this form: any other broken rule (a row written before
            // the rules) is shown with the redirect URIs, so it is not hidden.
            let mut by_field = forms::field_errors(&errors);
            let post_logout = by_field.remove(Field::PostLogoutRedirectUris.name());
            let message = by_field.into_values().collect::<Vec<_>>().join(" ");
            let mut extras = Extras {
                redirect_uris: Some(text),
                post_logout_redirect_uris: Some(post_logout_text),
                ..Extras::default()
            };
            if !message.is_empty() {
                extras.errors.insert("redirect_uris", message);
            }
            if let Some(message) = post_logout {
                extras.errors.insert("post_logout_redirect_uris", message);
            }
            dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await
        }
    }
}

/// `POST /developer/apps/:client_id/id-token`: the token settings, the ID-token signing
/// algorithm, the subject type and the access-token format, checked with the whole client.
#[handler]
pub async fn save_id_token(
    CsrfForm(v, f): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let mut c = editable(state, &v, &client_id).await?;
    let typed = [
        f.get("id_token_signed_response_alg").to_owned(),
        f.get("subject_type").to_owned(),
        f.get("access_token_format").to_owned(),
    ];
    let saved = save_edit(state, &v, &mut c, "app.id_token", |draft| {
        [
            draft.id_token_alg,
            draft.subject_type,
            draft.access_token_format,
        ] = typed.clone();
    })
    .await?;
    match saved {
        Ok(done) => Ok(done),
        Err(errors) => {
            let extras = Extras {
                errors: forms::field_errors(&errors),
                id_token: Some(typed),
                ..Extras::default()
            };
            dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await
        }
    }
}

/// `POST /developer/apps/:client_id/secret`: a new secret, shown once; the old one stops
/// working at once.
#[handler]
pub async fn regenerate_secret(
    CsrfForm(v, _): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let c = editable(state, &v, &client_id).await?;
    let secret = generate_token();
    state
        .store
        .set_client_secret(c.id, Some(hash_secret(&secret)))
        .await?;
    v.audit(state, "app.secret", &client_target(&c), "").await?;
    let extras = Extras {
        secret: Some(secret),
        ..Extras::default()
    };
    dashboard_page(state, &v, StatusCode::OK, &c, &extras).await
}

/// `POST /developer/apps/:client_id/members`: adds a team member by username.
#[handler]
pub async fn add_member(
    CsrfForm(v, f): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let c = editable(state, &v, &client_id).await?;
    let username = f.get("username").trim().to_owned();
    let refuse = |msg: String| Extras {
        member: username.clone(),
        errors: BTreeMap::from([("member", msg)]),
        ..Extras::default()
    };
    let user = match state.store.user_by_username(&username).await? {
        Some(u) if u.is_active => u,
        _ => {
            let extras = refuse(format!("There is no user named “{username}”."));
            return dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await;
        }
    };
    if state.store.client_owner(c.id).await? == Some(user.id) {
        let extras = refuse(format!("“{username}” owns this app already."));
        return dashboard_page(state, &v, StatusCode::UNPROCESSABLE_ENTITY, &c, &extras).await;
    }
    match state.store.add_client_member(c.id, user.id).await {
        Ok(()) => {}
        // A double submit (or someone else was quicker): the member is there, which is the goal.
        Err(crate::core::store::StoreError::Conflict(_)) => return Ok(back(&c)),
        Err(e) => return Err(e.into()),
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
    CsrfForm(v, f): CsrfForm<Visitor>,
    Path(client_id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let c = editable(state, &v, &client_id).await?;
    let Ok(user_id) = f.get("user_id").parse::<i64>() else {
        return Ok(back(&c));
    };
    state.store.remove_client_member(c.id, user_id).await?;
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
