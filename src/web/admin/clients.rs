//! Admin: clients (create, edit, approve or reject, regenerate the secret, revoke, delete).

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, handler};
use serde::Serialize;

use super::{Cell, Row, Table, listing, when};
use crate::core::client_rules::{ClientDraft, ValidClient};
use crate::core::model::{Approval, Client, ClientPermissions, ClientType, GrantType};
use crate::core::secret::{generate_token, hash_secret};
use crate::web::error::PageError;
use crate::web::extract::{CsrfForm, Paged, Superuser, Visitor};
use crate::web::forms::{self, client_target, parse_id};
use crate::web::reply::see_other;
use crate::web::request::FormData;
use crate::web::state::State;

/// What the client form holds, as typed (so an invalid submission shows it again).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ClientForm {
    name: String,
    client_type: String,
    grant_types: Vec<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    id_token_signed_response_alg: String,
    subject_type: String,
    access_token_format: String,
    scopes: Vec<String>,
    code_lifetime: String,
    access_token_lifetime: String,
    refresh_token_lifetime: String,
    resource_server: bool,
    allow_public_without_pkce: bool,
    skip_consent: bool,
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
            post_logout_redirect_uris: d.post_logout_redirect_uris.join("\n"),
            id_token_signed_response_alg: d.id_token_alg,
            subject_type: d.subject_type,
            access_token_format: d.access_token_format,
            scopes: d.scopes,
            code_lifetime: d.code_lifetime.unwrap_or_default(),
            access_token_lifetime: d.access_token_lifetime.unwrap_or_default(),
            refresh_token_lifetime: d.refresh_token_lifetime.unwrap_or_default(),
            resource_server: d.permissions.resource_server,
            allow_public_without_pkce: d.permissions.allow_public_without_pkce,
            skip_consent: d.permissions.skip_consent,
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
            post_logout_redirect_uris: f.get("post_logout_redirect_uris").to_owned(),
            id_token_signed_response_alg: f.get("id_token_signed_response_alg").to_owned(),
            subject_type: f.get("subject_type").to_owned(),
            access_token_format: f.get("access_token_format").to_owned(),
            scopes: f.all("scopes"),
            code_lifetime: f.get("code_lifetime").trim().to_owned(),
            access_token_lifetime: f.get("access_token_lifetime").trim().to_owned(),
            refresh_token_lifetime: f.get("refresh_token_lifetime").trim().to_owned(),
            resource_server: f.get("resource_server") == "on",
            allow_public_without_pkce: f.get("allow_public_without_pkce") == "on",
            skip_consent: f.get("skip_consent") == "on",
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
            post_logout_redirect_uris: forms::redirect_lines(&self.post_logout_redirect_uris),
            id_token_alg: self.id_token_signed_response_alg.clone(),
            subject_type: self.subject_type.clone(),
            access_token_format: self.access_token_format.clone(),
            scopes: self.scopes.clone(),
            code_lifetime: lifetime(&self.code_lifetime),
            access_token_lifetime: lifetime(&self.access_token_lifetime),
            refresh_token_lifetime: lifetime(&self.refresh_token_lifetime),
            permissions: ClientPermissions {
                resource_server: self.resource_server,
                allow_public_without_pkce: self.allow_public_without_pkce,
                skip_consent: self.skip_consent,
            },
        }
    }
}

/// Checks the form against the client rules (the admin picks scopes from the registered ones).
/// `Ok(Err(page))` is the form again with its errors next to the fields.
async fn validate(
    state: &State,
    v: &Visitor,
    form: &ClientForm,
    client: Option<&Client>,
) -> Result<Result<ValidClient, Response>, PageError> {
    let scopes = state.store.list_scopes().await?;
    let rules = state.settings.client_rules(Some(&scopes));
    Ok(match form.draft().validate(&rules) {
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
        .await?),
    })
}

async fn form_page(
    state: &State,
    v: &Visitor,
    status: StatusCode,
    form: &ClientForm,
    errors: &BTreeMap<&'static str, String>,
    client: Option<&Client>,
    secret: Option<&str>,
) -> Result<Response, PageError> {
    let scopes = state.store.list_scopes().await?;
    let mut ctx = v.context();
    ctx.insert("section", "clients");
    ctx.insert("form", form);
    ctx.insert(
        "id_token",
        &forms::id_token_view(
            &form.id_token_signed_response_alg,
            &form.subject_type,
            &form.access_token_format,
        ),
    );
    ctx.insert("errors", errors);
    ctx.insert("secret", &secret);
    let all_scopes: Vec<serde_json::Value> = scopes
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "description": s.description }))
        .collect();
    ctx.insert("all_scopes", &all_scopes);
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    ctx.insert("all_grants", &grants);
    let Some(c) = client else {
        return Ok(state.render(status, "admin/client_form.html", &ctx));
    };
    let profile = state.store.client_profile(c.id).await?;
    let members = state.store.client_members(c.id).await?;
    let owner = state.store.client_owner(c.id).await?;
    let owner_name = owner_name(state, owner).await?;
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
            "skip_consent": c.permissions.skip_consent,
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
    Ok(state.render(status, "admin/client.html", &ctx))
}

/// The username of a client's owner (the developer who registered it in the portal).
pub(crate) async fn owner_name(
    state: &State,
    owner: Option<i64>,
) -> Result<Option<String>, PageError> {
    Ok(match owner {
        Some(id) => state.store.user_by_id(id).await?.map(|u| u.username),
        None => None,
    })
}

/// The audit log's note of a client's permissions, so granting one is on record.
fn permissions_detail(p: ClientPermissions) -> String {
    format!(
        "resource_server={} allow_public_without_pkce={} skip_consent={}",
        p.resource_server, p.allow_public_without_pkce, p.skip_consent
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

/// The client named in the path; a missing one gets the 404 page. Handlers take the superuser
/// (and the CSRF-checked form) first, so outsiders learn nothing from it.
async fn load_client(state: &State, raw_id: &str) -> Result<Client, PageError> {
    let id = parse_id(raw_id)?;
    state
        .store
        .client_by_id(id)
        .await?
        .ok_or_else(PageError::not_found)
}

/// `GET /admin/clients`: searchable by name or client id.
#[handler]
pub async fn list(
    admin: Superuser,
    paged: Paged,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    listing(
        state,
        admin,
        paged,
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
pub async fn new_form(
    Superuser(v): Superuser,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
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
pub async fn create(
    CsrfForm(Superuser(v), f): CsrfForm<Superuser>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let form = ClientForm::from_form(&f);
    let valid = match validate(state, &v, &form, None).await? {
        Ok(valid) => valid,
        Err(refused) => return Ok(refused),
    };
    match forms::claim(state, &form.nonce).await? {
        None => {}
        Some(done) if !done.is_empty() => {
            return Ok(see_other(&format!("/admin/clients/{done}")));
        }
        // The first submission is still at work (or failed): the list shows what exists.
        Some(_) => return Ok(see_other("/admin/clients")),
    }
    let approval = if form.approved {
        Approval::Approved
    } else {
        Approval::Pending
    };
    let (new, secret) = valid.into_new_client(approval, None);
    let client = state.store.create_client(new).await?;
    forms::finish(state, &form.nonce, &client.id.to_string()).await;
    v.audit(
        state,
        "client.create",
        &client_target(&client),
        &permissions_detail(client.permissions),
    )
    .await?;
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
pub async fn show(
    Superuser(v): Superuser,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
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
    CsrfForm(Superuser(v), f): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let mut client = load_client(state, &id).await?;
    let form = ClientForm::from_form(&f);
    let valid = match validate(state, &v, &form, Some(&client)).await? {
        Ok(valid) => valid,
        Err(refused) => return Ok(refused),
    };
    // Turning a public client confidential needs a secret; the reverse drops it.
    let mut new_secret = None;
    if valid.client_type() != client.client_type {
        let secret = (valid.client_type() == ClientType::Confidential).then(generate_token);
        state
            .store
            .set_client_secret(client.id, secret.as_deref().map(hash_secret))
            .await?;
        new_secret = secret;
    }
    state.store.update_client(client.id, &valid).await?;
    valid.apply_to(&mut client);
    v.audit(
        state,
        "client.update",
        &client_target(&client),
        &permissions_detail(client.permissions),
    )
    .await?;
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
    Ok(see_other(&format!("/admin/clients/{}", client.id)))
}

/// `POST /admin/clients/:id/approve`.
#[handler]
pub async fn approve(
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
    state
        .store
        .set_approval(client.id, &Approval::Approved)
        .await?;
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
    CsrfForm(Superuser(v), f): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
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
    state.store.set_approval(client.id, &approval).await?;
    // A rejected client must not keep working through tokens it already has.
    state
        .store
        .revoke_client_tokens(client.id, crate::core::now())
        .await?;
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
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
    if client.client_type != ClientType::Confidential {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "No secret",
            "A public client has no secret.",
        ));
    }
    let secret = generate_token();
    state
        .store
        .set_client_secret(client.id, Some(hash_secret(&secret)))
        .await?;
    v.audit(state, "client.secret", &client_target(&client), "")
        .await?;
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
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
    let n = state
        .store
        .revoke_client_tokens(client.id, crate::core::now())
        .await?;
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
    CsrfForm(Superuser(v), _): CsrfForm<Superuser>,
    Path(id): Path<String>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let client = load_client(state, &id).await?;
    state.store.delete_client(client.id).await?;
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
