//! Admin: clients (create, edit, approve or reject, regenerate the secret, revoke, delete) and
//! scopes (descriptions; those synced from code are marked).

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Serialize;

use super::{Cell, Row, Table, listing, when};
use crate::core::client_rules::{ClientDraft, ClientRules, ValidClient};
use crate::core::model::{Approval, Client, ClientPermissions, ClientType, GrantType};
use crate::core::scope::is_scope_token;
use crate::core::secret::{generate_token, hash_secret};
use crate::web::forms::{
    self, FormData, Visitor, client_target, list_query, not_found, parse_id, see_other,
};
use crate::web::state::State;

/// What the client form holds, as typed (so an invalid submission shows it again).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ClientForm {
    name: String,
    client_type: String,
    grant_types: Vec<String>,
    redirect_uris: String,
    scopes: Vec<String>,
    code_lifetime: String,
    access_token_lifetime: String,
    refresh_token_lifetime: String,
    resource_server: bool,
    allow_public_without_pkce: bool,
    approved: bool,
    nonce: String,
}

impl ClientForm {
    /// The form of a stored client: its draft, as the fields show it.
    fn from_client(c: &Client) -> Self {
        let d = ClientDraft::of(c);
        Self {
            name: d.name,
            client_type: d.client_type,
            grant_types: d.grant_types,
            redirect_uris: d.redirect_uris.join("\n"),
            scopes: d.scopes,
            code_lifetime: d.code_lifetime.unwrap_or_default(),
            access_token_lifetime: d.access_token_lifetime.unwrap_or_default(),
            refresh_token_lifetime: d.refresh_token_lifetime.unwrap_or_default(),
            resource_server: d.permissions.resource_server,
            allow_public_without_pkce: d.permissions.allow_public_without_pkce,
            approved: c.approval == Approval::Approved,
            nonce: String::new(),
        }
    }

    fn from_form(f: &FormData) -> Self {
        Self {
            name: f.get("name").trim().to_owned(),
            client_type: f.get("client_type").to_owned(),
            grant_types: f.all("grant_types"),
            redirect_uris: f.get("redirect_uris").to_owned(),
            scopes: f.all("scopes"),
            code_lifetime: f.get("code_lifetime").trim().to_owned(),
            access_token_lifetime: f.get("access_token_lifetime").trim().to_owned(),
            refresh_token_lifetime: f.get("refresh_token_lifetime").trim().to_owned(),
            resource_server: f.get("resource_server") == "on",
            allow_public_without_pkce: f.get("allow_public_without_pkce") == "on",
            approved: f.get("approved") == "on",
            nonce: f.get("nonce").to_owned(),
        }
    }

    /// The draft the form describes; an empty lifetime keeps the server's.
    fn draft(&self) -> ClientDraft {
        let lifetime = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        ClientDraft {
            client_id: None,
            name: self.name.clone(),
            client_type: self.client_type.clone(),
            grant_types: self.grant_types.clone(),
            redirect_uris: forms::redirect_lines(&self.redirect_uris),
            scopes: self.scopes.clone(),
            code_lifetime: lifetime(&self.code_lifetime),
            access_token_lifetime: lifetime(&self.access_token_lifetime),
            refresh_token_lifetime: lifetime(&self.refresh_token_lifetime),
            permissions: ClientPermissions {
                resource_server: self.resource_server,
                allow_public_without_pkce: self.allow_public_without_pkce,
            },
        }
    }
}

/// Checks the form against the client rules (the admin picks scopes from the registered ones).
/// `Err` is the page to send: the form again with its errors next to the fields, or the
/// storage error page.
async fn validate(
    state: &State,
    v: &Visitor,
    form: &ClientForm,
    client: Option<&Client>,
) -> Result<ValidClient, Response> {
    let scopes = state
        .store
        .list_scopes()
        .await
        .map_err(|e| state.unavailable_page(&e))?;
    let rules = ClientRules {
        debug: state.settings.debug,
        registered_scopes: Some(&scopes),
    };
    match form.draft().validate(&rules) {
        Ok(valid) => Ok(valid),
        Err(errors) => Err(form_page(
            state,
            v,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            &forms::field_errors(&errors),
            client,
            None,
        )
        .await),
    }
}

async fn form_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    form: &ClientForm,
    errors: &BTreeMap<&'static str, String>,
    client: Option<&Client>,
    secret: Option<&str>,
) -> Response {
    let scopes = match state.store.list_scopes().await {
        Ok(s) => s,
        Err(e) => return state.unavailable_page(&e),
    };
    let mut ctx = v.context();
    ctx.insert("section", "clients");
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    ctx.insert("secret", &secret);
    let all_scopes: Vec<serde_json::Value> = scopes
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "description": s.description }))
        .collect();
    ctx.insert("all_scopes", &all_scopes);
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    ctx.insert("all_grants", &grants);
    match client {
        None => state.render(status, "admin/client_form.html", &ctx),
        Some(c) => {
            let (profile, members, owner) = match (
                state.store.client_profile(c.id).await,
                state.store.client_members(c.id).await,
                state.store.client_owner(c.id).await,
            ) {
                (Ok(p), Ok(m), Ok(o)) => (p, m, o),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                    return state.unavailable_page(&e);
                }
            };
            let owner_name = match owner {
                Some(id) => match state.store.user_by_id(id).await {
                    Ok(u) => u.map(|u| u.username),
                    Err(e) => return state.unavailable_page(&e),
                },
                None => None,
            };
            let (status_name, reason) = approval_view(&c.approval);
            ctx.insert(
                "client",
                &serde_json::json!({
                    "id": c.id, "client_id": c.client_id, "name": c.name,
                    "status": status_name, "reason": reason,
                    "has_secret": c.secret_hash.is_some(),
                    "owner": owner_name,
                    "resource_server": c.permissions.resource_server,
                    "allow_public_without_pkce": c.permissions.allow_public_without_pkce,
                }),
            );
            ctx.insert(
                "profile",
                &profile.map(|p| {
                    serde_json::json!({
                        "description": p.description, "logo_url": p.logo_url,
                        "homepage_url": p.homepage_url, "privacy_url": p.privacy_url,
                        "terms_agreed_at": p.terms_agreed_at.map(when),
                    })
                }),
            );
            let members: Vec<&str> = members.iter().map(|m| m.username.as_str()).collect();
            ctx.insert("members", &members);
            state.render(status, "admin/client.html", &ctx)
        }
    }
}

/// The audit log's note of a client's permissions, so granting one is on record.
fn permissions_detail(p: ClientPermissions) -> String {
    format!(
        "resource_server={} allow_public_without_pkce={}",
        p.resource_server, p.allow_public_without_pkce
    )
}

/// `pending`, `approved` or `rejected`, and the reason.
pub(crate) fn approval_view(a: &Approval) -> (&'static str, &str) {
    match a {
        Approval::Pending => ("pending", ""),
        Approval::Approved => ("approved", ""),
        Approval::Rejected(r) => ("rejected", r.as_str()),
    }
}

async fn load_client(state: &State, raw_id: &str) -> Result<Client, Response> {
    let id = parse_id(state, raw_id)?;
    match state.store.client_by_id(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(not_found(state)),
        Err(e) => Err(state.unavailable_page(&e)),
    }
}

/// The superuser, their CSRF-checked form and the client named in the path: what every POST
/// action on one client starts with, in the order that reveals nothing to outsiders.
async fn client_action(
    state: &State,
    req: &Request,
    body: Body,
    raw_id: &str,
) -> Result<(Visitor, FormData, Client), Response> {
    let (v, f) = forms::superuser_form(state, req, body).await?;
    let client = load_client(state, raw_id).await?;
    Ok((v, f, client))
}

/// `GET /admin/clients`: searchable by name or client id.
#[handler]
pub async fn list(req: &Request, Data(state): Data<&State>) -> Response {
    listing(
        state,
        req,
        Table {
            section: "clients",
            title: "Clients",
            path: "/admin/clients",
            columns: &["Name", "Client ID", "Type", "Status", "Scopes"],
            new_url: Some("/admin/clients/new"),
        },
        |q| async move { state.store.list_clients(&q).await },
        |c| {
            let (status, reason) = approval_view(&c.approval);
            let status = if reason.is_empty() {
                status.to_owned()
            } else {
                format!("{status}: {reason}")
            };
            Row::new(
                vec![
                    Cell::link(&c.name, format!("/admin/clients/{}", c.id)),
                    Cell::text(&c.client_id),
                    Cell::text(c.client_type.as_str()),
                    Cell::text(status),
                    Cell::text(c.scopes.to_string()),
                ],
                vec![],
            )
        },
    )
    .await
}

/// `GET /admin/clients/new`.
#[handler]
pub async fn new_form(req: &Request, Data(state): Data<&State>) -> Response {
    let v = match forms::superuser(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = ClientForm {
        client_type: "confidential".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        approved: true,
        nonce: forms::new_nonce(),
        ..ClientForm::default()
    };
    form_page(
        state,
        &v,
        StatusCode::OK,
        &form,
        &BTreeMap::new(),
        None,
        None,
    )
    .await
}

/// `POST /admin/clients/new`: creates the client and shows its secret once.
#[handler]
pub async fn create(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let (v, f) = match forms::superuser_form(state, req, body).await {
        Ok(vf) => vf,
        Err(r) => return r,
    };
    let form = ClientForm::from_form(&f);
    let valid = match validate(state, &v, &form, None).await {
        Ok(valid) => valid,
        Err(r) => return r,
    };
    match forms::claim(state, &form.nonce).await {
        Ok(None) => {}
        Ok(Some(done)) if !done.is_empty() => {
            return see_other(&format!("/admin/clients/{done}"));
        }
        // The first submission is still at work (or failed): the list shows what exists.
        Ok(Some(_)) => return see_other("/admin/clients"),
        Err(r) => return r,
    }
    let approval = if form.approved {
        Approval::Approved
    } else {
        Approval::Pending
    };
    let (new, secret) = valid.into_new_client(approval, None);
    let created = state.store.create_client(new).await;
    let client = match created {
        Ok(c) => c,
        Err(e) => return state.unavailable_page(&e),
    };
    forms::finish(state, &form.nonce, &client.id.to_string()).await;
    if let Err(r) = v
        .audit(
            state,
            "client.create",
            &client_target(&client),
            &permissions_detail(client.permissions),
        )
        .await
    {
        return r;
    }
    let form = ClientForm::from_client(&client);
    form_page(
        state,
        &v,
        StatusCode::CREATED,
        &form,
        &BTreeMap::new(),
        Some(&client),
        secret.as_deref(),
    )
    .await
}

/// `GET /admin/clients/:id`: the client's page and edit form.
#[handler]
pub async fn show(req: &Request, Path(id): Path<String>, Data(state): Data<&State>) -> Response {
    let v = match forms::superuser(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client = match load_client(state, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = ClientForm::from_client(&client);
    form_page(
        state,
        &v,
        StatusCode::OK,
        &form,
        &BTreeMap::new(),
        Some(&client),
        None,
    )
    .await
}

/// `POST /admin/clients/:id`: saves the edit form.
#[handler]
pub async fn update(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f) = match forms::superuser_form(state, req, body).await {
        Ok(vf) => vf,
        Err(r) => return r,
    };
    let mut client = match load_client(state, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = ClientForm::from_form(&f);
    let valid = match validate(state, &v, &form, Some(&client)).await {
        Ok(valid) => valid,
        Err(r) => return r,
    };
    // Turning a public client confidential needs a secret; the reverse drops it.
    let mut new_secret = None;
    if valid.client_type() != client.client_type {
        let secret = (valid.client_type() == ClientType::Confidential).then(generate_token);
        if let Err(e) = state
            .store
            .set_client_secret(client.id, secret.as_deref().map(hash_secret))
            .await
        {
            return state.unavailable_page(&e);
        }
        new_secret = secret;
    }
    if let Err(e) = state.store.update_client(client.id, &valid).await {
        return state.unavailable_page(&e);
    }
    valid.apply_to(&mut client);
    if let Err(r) = v
        .audit(
            state,
            "client.update",
            &client_target(&client),
            &permissions_detail(client.permissions),
        )
        .await
    {
        return r;
    }
    if new_secret.is_some() {
        let form = ClientForm::from_client(&client);
        return form_page(
            state,
            &v,
            StatusCode::OK,
            &form,
            &BTreeMap::new(),
            Some(&client),
            new_secret.as_deref(),
        )
        .await;
    }
    see_other(&format!("/admin/clients/{}", client.id))
}

/// `POST /admin/clients/:id/approve`.
#[handler]
pub async fn approve(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, client) = match client_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Err(e) = state
        .store
        .set_approval(client.id, &Approval::Approved)
        .await
    {
        return state.unavailable_page(&e);
    }
    forms::audited_redirect(
        state,
        &v,
        "client.approve",
        &client_target(&client),
        "",
        &format!("/admin/clients/{}", client.id),
    )
    .await
}

/// `POST /admin/clients/:id/reject`: needs a reason, shown to the app's developers.
#[handler]
pub async fn reject(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, f, client) = match client_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let reason = f.get("reason").trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        let mut errors = BTreeMap::new();
        errors.insert(
            "reason",
            "Give the developers a reason (up to 1000 characters).".to_owned(),
        );
        let form = ClientForm::from_client(&client);
        return form_page(
            state,
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &errors,
            Some(&client),
            None,
        )
        .await;
    }
    let approval = Approval::Rejected(reason.to_owned());
    if let Err(e) = state.store.set_approval(client.id, &approval).await {
        return state.unavailable_page(&e);
    }
    // A rejected client must not keep working through tokens it already has.
    if let Err(e) = state
        .store
        .revoke_client_tokens(client.id, crate::core::now())
        .await
    {
        return state.unavailable_page(&e);
    }
    forms::audited_redirect(
        state,
        &v,
        "client.reject",
        &client_target(&client),
        reason,
        &format!("/admin/clients/{}", client.id),
    )
    .await
}

/// `POST /admin/clients/:id/secret`: a new secret, shown once on the returned page.
#[handler]
pub async fn regenerate_secret(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, client) = match client_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if client.client_type != ClientType::Confidential {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "No secret",
            "A public client has no secret.",
        );
    }
    let secret = generate_token();
    if let Err(e) = state
        .store
        .set_client_secret(client.id, Some(hash_secret(&secret)))
        .await
    {
        return state.unavailable_page(&e);
    }
    if let Err(r) = v
        .audit(state, "client.secret", &client_target(&client), "")
        .await
    {
        return r;
    }
    let form = ClientForm::from_client(&client);
    form_page(
        state,
        &v,
        StatusCode::OK,
        &form,
        &BTreeMap::new(),
        Some(&client),
        Some(&secret),
    )
    .await
}

/// `POST /admin/clients/:id/revoke`: every token and unredeemed code of the client.
#[handler]
pub async fn revoke_all(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, client) = match client_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let n = match state
        .store
        .revoke_client_tokens(client.id, crate::core::now())
        .await
    {
        Ok(n) => n,
        Err(e) => return state.unavailable_page(&e),
    };
    forms::audited_redirect(
        state,
        &v,
        "client.revoke_all",
        &client_target(&client),
        &format!("{n} revoked"),
        &super::tokens_search(&client.client_id),
    )
    .await
}

/// `POST /admin/clients/:id/delete`.
#[handler]
pub async fn delete(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    Data(state): Data<&State>,
) -> Response {
    let (v, _, client) = match client_action(state, req, body, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Err(e) = state.store.delete_client(client.id).await {
        return state.unavailable_page(&e);
    }
    forms::audited_redirect(
        state,
        &v,
        "client.delete",
        &client_target(&client),
        "",
        "/admin/clients",
    )
    .await
}

/// `GET /admin/scopes`: every scope, with a form to describe or add one.
#[handler]
pub async fn scope_list(req: &Request, Data(state): Data<&State>) -> Response {
    let v = match forms::superuser(state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (q, page) = list_query(req);
    scopes_page(
        state,
        &v,
        StatusCode::OK,
        (&q, page),
        "",
        "",
        &BTreeMap::new(),
    )
    .await
}

async fn scopes_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    (q, page): (&crate::core::portal::ListQuery, i64),
    name: &str,
    description: &str,
    errors: &BTreeMap<&'static str, String>,
) -> Response {
    let all = match state.store.list_scopes().await {
        Ok(s) => s,
        Err(e) => return state.unavailable_page(&e),
    };
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
    forms::insert_pager(&mut ctx, "/admin/scopes", q, page, total);
    ctx.insert("name", name);
    ctx.insert("description", description);
    ctx.insert("errors", errors);
    state.render(status, "admin/scopes.html", &ctx)
}

/// `POST /admin/scopes`: sets a scope's description, adding the scope if it is new.
#[handler]
pub async fn save_scope(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let (v, f) = match forms::superuser_form(state, req, body).await {
        Ok(vf) => vf,
        Err(r) => return r,
    };
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
        return scopes_page(
            state,
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            (
                &crate::core::portal::ListQuery {
                    limit: forms::PAGE_SIZE,
                    ..Default::default()
                },
                1,
            ),
            name,
            description,
            &errors,
        )
        .await;
    }
    if let Err(e) = state.store.save_scope(name, description).await {
        return state.unavailable_page(&e);
    }
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
