//! Admin: clients (create, edit, approve or reject, regenerate the secret, revoke, delete) and
//! scopes (descriptions; those synced from code are marked).

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Serialize;

use super::{Cell, Row, Table, listing, when};
use crate::core::model::{
    Approval, Client, ClientPermissions, ClientType, GrantType, LifetimeKind, NewClient,
    check_client_shape,
};
use crate::core::scope::{ScopeSet, is_scope_token};
use crate::core::secret::{generate_id, generate_token, hash_secret};
use crate::web::State;
use crate::web::forms::{
    self, FormData, Visitor, client_target, list_query, not_found, parse_id, see_other,
};

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
    fn from_client(c: &Client) -> Self {
        let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Self {
            name: c.name.clone(),
            client_type: c.client_type.as_str().into(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            redirect_uris: c.redirect_uris.join("\n"),
            scopes: c.scopes.iter().map(str::to_owned).collect(),
            code_lifetime: opt(c.code_lifetime),
            access_token_lifetime: opt(c.access_token_lifetime),
            refresh_token_lifetime: opt(c.refresh_token_lifetime),
            resource_server: c.permissions.resource_server,
            allow_public_without_pkce: c.permissions.allow_public_without_pkce,
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
}

/// The checked values of a client form.
struct ValidClient {
    name: String,
    client_type: ClientType,
    grant_types: Vec<GrantType>,
    redirect_uris: Vec<String>,
    scopes: ScopeSet,
    lifetimes: [Option<i64>; 3],
    permissions: ClientPermissions,
}

fn validate(form: &ClientForm, debug: bool) -> Result<ValidClient, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    if form.name.is_empty() || form.name.chars().count() > 100 {
        errors.insert("name", "Give a name of 1 to 100 characters.".to_owned());
    }
    let client_type = ClientType::parse(&form.client_type);
    if client_type.is_none() {
        errors.insert("client_type", "Choose confidential or public.".to_owned());
    }
    let grant_types: Vec<GrantType> = form
        .grant_types
        .iter()
        .filter_map(|g| GrantType::parse(g))
        .collect();
    if grant_types.is_empty() || grant_types.len() != form.grant_types.len() {
        errors.insert("grant_types", "Choose at least one grant type.".to_owned());
    }
    let needs_redirect = grant_types
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    let redirect_uris = if form.redirect_uris.trim().is_empty() && !needs_redirect {
        Vec::new()
    } else {
        match forms::parse_redirect_uris(&form.redirect_uris, debug) {
            Ok(u) => u,
            Err(e) => {
                errors.insert("redirect_uris", e);
                Vec::new()
            }
        }
    };
    if form.scopes.iter().any(|s| !is_scope_token(s)) {
        errors.insert("scopes", "A scope name is not valid.".to_owned());
    }
    let scopes: ScopeSet = form.scopes.iter().cloned().collect();
    let mut lifetimes = [None; 3];
    for (i, (field, kind, raw)) in [
        ("code_lifetime", LifetimeKind::Code, &form.code_lifetime),
        (
            "access_token_lifetime",
            LifetimeKind::Access,
            &form.access_token_lifetime,
        ),
        (
            "refresh_token_lifetime",
            LifetimeKind::Refresh,
            &form.refresh_token_lifetime,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        if raw.is_empty() {
            continue;
        }
        match kind.parse(raw) {
            Ok(n) => lifetimes[i] = Some(n),
            Err(e) => {
                errors.insert(
                    field,
                    format!("The lifetime {e}, or empty for the default."),
                );
            }
        }
    }
    let permissions = ClientPermissions {
        resource_server: form.resource_server,
        allow_public_without_pkce: form.allow_public_without_pkce,
    };
    if let Some(client_type) = client_type
        && let Err(e) = check_client_shape(client_type, &grant_types, permissions)
    {
        // Shown next to the field the rule is about.
        let field = if permissions.resource_server && client_type != ClientType::Confidential {
            "resource_server"
        } else if permissions.allow_public_without_pkce && client_type != ClientType::Public {
            "allow_public_without_pkce"
        } else {
            "grant_types"
        };
        errors.insert(field, capitalized(e));
    }
    match client_type {
        Some(client_type) if errors.is_empty() => Ok(ValidClient {
            name: form.name.clone(),
            client_type,
            grant_types,
            redirect_uris,
            scopes,
            lifetimes,
            permissions,
        }),
        _ => Err(errors),
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

/// A rule's message as a sentence for the form.
fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
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
    let valid = match validate(&form, state.settings.debug) {
        Ok(c) => c,
        Err(errors) => {
            return form_page(
                state,
                &v,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &errors,
                None,
                None,
            )
            .await;
        }
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
    let secret = (valid.client_type == ClientType::Confidential).then(generate_token);
    let created = state
        .store
        .create_client(NewClient {
            client_id: generate_id(32),
            secret_hash: secret.as_deref().map(hash_secret),
            name: valid.name,
            client_type: valid.client_type,
            grant_types: valid.grant_types,
            redirect_uris: valid.redirect_uris,
            scopes: valid.scopes,
            approval: if form.approved {
                Approval::Approved
            } else {
                Approval::Pending
            },
            code_lifetime: valid.lifetimes[0],
            access_token_lifetime: valid.lifetimes[1],
            refresh_token_lifetime: valid.lifetimes[2],
            owner_id: None,
            permissions: valid.permissions,
        })
        .await;
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
    let valid = match validate(&form, state.settings.debug) {
        Ok(c) => c,
        Err(errors) => {
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
    };
    // Turning a public client confidential needs a secret; the reverse drops it.
    let mut new_secret = None;
    if valid.client_type != client.client_type {
        let secret = (valid.client_type == ClientType::Confidential).then(generate_token);
        if let Err(e) = state
            .store
            .set_client_secret(client.id, secret.as_deref().map(hash_secret))
            .await
        {
            return state.unavailable_page(&e);
        }
        new_secret = secret;
    }
    client.name = valid.name;
    client.client_type = valid.client_type;
    client.grant_types = valid.grant_types;
    client.redirect_uris = valid.redirect_uris;
    client.scopes = valid.scopes;
    client.code_lifetime = valid.lifetimes[0];
    client.access_token_lifetime = valid.lifetimes[1];
    client.refresh_token_lifetime = valid.lifetimes[2];
    client.permissions = valid.permissions;
    if let Err(e) = state.store.update_client(&client).await {
        return state.unavailable_page(&e);
    }
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
