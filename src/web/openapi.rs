//! `/openapi.json` and `/docs`: the OpenAPI 3 document of scopegate's token, introspection and
//! metadata endpoints plus the host's guarded poem-openapi operations, and a Swagger UI
//! explorer whose Authorize button runs the authorization-code + PKCE flow against this server.
//!
//! poem-openapi fixes OAuth scopes at compile time in an enum, but scopegate learns the host's
//! scopes only from the registry, so the generated document is finished here: the security
//! scheme gets the real endpoints and every registered scope with its description, and each
//! guarded operation's security requirement gets the scopes its guard enforces.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::sync::Arc;

use poem::web::{Data, Html, Json, RequestBody};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use poem_openapi::registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, OpenApi, OpenApiService};
use serde_json::{Value, json};

use super::State;
use crate::guard::{Caller, caller_from};
use crate::registry::GuardKind;

/// The name of scopegate's OAuth 2 security scheme in the document.
pub const SCHEME: &str = "scopegate_oauth2";

/// The caller of a guarded poem-openapi operation: a [`Caller`] that also declares scopegate's
/// OAuth 2 security scheme on the operation.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

impl Deref for ApiCaller {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl AsRef<Caller> for ApiCaller {
    fn as_ref(&self) -> &Caller {
        &self.0
    }
}

impl<'a> ApiExtractor<'a> for ApiCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        // Placeholder URLs and no scopes: `finish` fills both in from the request and registry.
        let flow = MetaOAuthFlow {
            authorization_url: Some("/oauth/authorize"),
            token_url: Some("/oauth/token"),
            refresh_url: None,
            scopes: Vec::new(),
        };
        registry.create_security_scheme(
            SCHEME,
            MetaSecurityScheme {
                ty: "oauth2",
                description: Some("scopegate OAuth 2"),
                name: None,
                key_in: None,
                scheme: None,
                bearer_format: None,
                flows: Some(MetaOAuthFlows {
                    implicit: None,
                    password: None,
                    client_credentials: None,
                    authorization_code: Some(flow),
                }),
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME]
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(ApiCaller(caller_from(request, body).await?))
    }
}

/// The document before request-specific URLs are filled in.
struct Docs {
    spec: Value,
    /// Swagger UI, loading `/openapi.json`, with PKCE on and the docs client filled in.
    page: String,
}

/// Mounts the host's poem-openapi `api` under `prefix`, and adds `/openapi.json` and `/docs`.
pub fn mount<T: OpenApi + 'static>(route: Route, prefix: &str, api: T, title: &str) -> Route {
    let service = OpenApiService::new(api, title, env!("CARGO_PKG_VERSION")).url_prefix(prefix);
    let host_spec: Value = serde_json::from_str(&service.spec()).unwrap_or_else(|_| json!({}));
    let own_spec: Value = serde_json::from_str(
        &OpenApiService::new(
            super::oauth_docs::OAuthDocs,
            title,
            env!("CARGO_PKG_VERSION"),
        )
        .spec(),
    )
    .unwrap_or_else(|_| json!({}));
    warn_ambiguous_operations();
    let docs = Arc::new(Docs {
        spec: merge(own_spec, host_spec),
        page: explorer_page(&service.swagger_ui_html()),
    });
    let ui = service.swagger_ui();
    route
        .nest(prefix, service)
        .at("/openapi.json", get(openapi_json).data(docs.clone()))
        .at("/docs", get(docs_page).data(docs))
        .nest("/docs/ui", ui)
}

/// Puts the host's paths and schemas beside scopegate's own.
fn merge(mut own: Value, host: Value) -> Value {
    for section in ["paths"] {
        if let (Some(dst), Some(src)) = (
            own.get_mut(section).and_then(Value::as_object_mut),
            host.get(section).and_then(Value::as_object),
        ) {
            dst.extend(src.clone());
        }
    }
    for section in ["schemas", "securitySchemes"] {
        if let Some(src) = host
            .get("components")
            .and_then(|c| c.get(section))
            .and_then(Value::as_object)
        {
            let comps = own
                .as_object_mut()
                .map(|o| o.entry("components").or_insert_with(|| json!({})));
            if let Some(comps) = comps.and_then(Value::as_object_mut) {
                let dst = comps.entry(section).or_insert_with(|| json!({}));
                if let Some(dst) = dst.as_object_mut() {
                    dst.extend(src.clone());
                }
            }
        }
    }
    own
}

/// The registered scopes each guarded operation enforces, keyed by the first line of its doc
/// comment (poem-openapi's `summary` of the operation).
fn scopes_by_summary() -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for entry in crate::registry::entries() {
        if entry.kind == GuardKind::Operation {
            out.entry(entry.description)
                .or_default()
                .extend(entry.scopes().iter().map(str::to_owned));
        }
    }
    out
}

/// Operations are matched to their guards by summary (first doc line): say so loudly when two
/// guarded operations with different scopes share one, or one has none.
fn warn_ambiguous_operations() {
    let mut seen: BTreeMap<&'static str, &crate::core::scope::ScopeSet> = BTreeMap::new();
    for entry in crate::registry::entries() {
        if entry.kind != GuardKind::Operation {
            continue;
        }
        if entry.description.is_empty() {
            tracing::warn!(
                function = entry.function,
                module = entry.module_path,
                "guarded operation has no doc comment: /openapi.json cannot list its scopes"
            );
        } else if let Some(other) = seen.insert(entry.description, entry.scopes())
            && other != entry.scopes()
        {
            tracing::warn!(
                summary = entry.description,
                "guarded operations with different scopes share a summary: /openapi.json lists \
                 the union of their scopes for each"
            );
        }
    }
}

/// The finished document for a server reachable at `issuer`.
pub fn finish(mut spec: Value, issuer: &str) -> Value {
    let scopes: serde_json::Map<String, Value> = crate::registry::scopes()
        .into_iter()
        .map(|(name, desc)| {
            let desc = if desc.is_empty() { name.clone() } else { desc };
            (name, Value::String(desc))
        })
        .collect();
    spec["servers"] = json!([{ "url": issuer }]);
    spec["components"]["securitySchemes"][SCHEME] = json!({
        "type": "oauth2",
        "description": "OAuth 2 by scopegate. Authorization code requires PKCE (S256).",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": format!("{issuer}/oauth/authorize"),
                "tokenUrl": format!("{issuer}/oauth/token"),
                "refreshUrl": format!("{issuer}/oauth/token"),
                "scopes": scopes,
            },
            "clientCredentials": {
                "tokenUrl": format!("{issuer}/oauth/token"),
                "scopes": scopes,
            }
        }
    });
    let by_summary = scopes_by_summary();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let summary = op.get("summary").and_then(Value::as_str).unwrap_or("");
                let needed: Vec<String> = by_summary
                    .get(summary)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else {
                    continue;
                };
                for requirement in security.iter_mut() {
                    if let Some(list) = requirement.get_mut(SCHEME) {
                        *list = json!(needed);
                    }
                }
                // RFC 6750 answers every guarded operation can give.
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (status, what) in [
                        (
                            "400",
                            "invalid_request: the token was sent in more than one way",
                        ),
                        (
                            "401",
                            "invalid_token: missing, unknown, expired or revoked token",
                        ),
                        (
                            "403",
                            "insufficient_scope: the token lacks a required scope",
                        ),
                    ] {
                        responses.entry(status).or_insert_with(|| {
                            json!({
                                "description": what,
                                "headers": { "WWW-Authenticate": {
                                    "description": "RFC 6750 Bearer challenge",
                                    "schema": { "type": "string" }
                                }},
                                "content": { "application/json": { "schema": {
                                    "$ref": "#/components/schemas/OAuthErrorBody"
                                }}}
                            })
                        });
                    }
                }
            }
        }
    }
    spec
}

#[handler]
fn openapi_json(
    req: &Request,
    Data(docs): Data<&Arc<Docs>>,
    Data(state): Data<&State>,
) -> Response {
    let issuer = super::metadata::issuer(state, req);
    Json(finish(docs.spec.clone(), &issuer)).into_response()
}

/// The client id the explorer's Authorize dialog starts with (`polls` registers it as a public
/// client with redirect URI `<issuer>/docs/ui/oauth-receiver.html`).
pub const DOCS_CLIENT_ID: &str = "scopegate-docs";

/// poem-openapi's Swagger UI page, changed to load the finished `/openapi.json` (not the
/// unfinished spec it embeds), to receive the OAuth redirect at `/docs/ui/oauth-receiver.html`,
/// and to run the authorization-code flow with PKCE for the docs client.
fn explorer_page(generated: &str) -> String {
    let client_id =
        std::env::var("SCOPEGATE_DOCS_CLIENT_ID").unwrap_or_else(|_| DOCS_CLIENT_ID.into());
    let client_id = serde_json::to_string(&client_id).unwrap_or_else(|_| "\"\"".into());
    let init = format!(
        "<script>window.ui.initOAuth({{clientId: {client_id}, \
         usePkceWithAuthorizationCodeGrant: true}});</script></body>"
    );
    // The page inlines the Swagger UI bundle first, so edit the last occurrences (the page's own
    // script), never text inside the bundle.
    let mut page = generated.to_owned();
    for (from, to) in [
        ("spec: spec,", "url: '/openapi.json',"),
        (
            "oauth2RedirectUrl += \"oauth-receiver.html\";",
            "oauth2RedirectUrl = window.location.origin + \"/docs/ui/oauth-receiver.html\";",
        ),
        ("SwaggerUIBundle({", "window.ui = SwaggerUIBundle({"),
        ("</body>", init.as_str()),
    ] {
        if let Some(at) = page.rfind(from) {
            page.replace_range(at..at + from.len(), to);
        }
    }
    page
}

/// Registers the explorer's public client (`DOCS_CLIENT_ID`, PKCE, redirect URI
/// `<issuer>/docs/ui/oauth-receiver.html`, every registered scope) unless it exists, so the
/// Authorize button works without a set-up step. Skipped when `SCOPEGATE_DOCS_CLIENT_ID` names
/// a client registered by hand.
async fn ensure_docs_client(state: &State, issuer: &str) {
    use crate::core::model::{Approval, ClientType, GrantType, NewClient};
    if std::env::var_os("SCOPEGATE_DOCS_CLIENT_ID").is_some() {
        return;
    }
    match state.store.client_by_client_id(DOCS_CLIENT_ID).await {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "docs client lookup failed");
            return;
        }
    }
    let client = NewClient {
        client_id: DOCS_CLIENT_ID.into(),
        secret_hash: None,
        name: "API docs explorer".into(),
        client_type: ClientType::Public,
        grant_types: vec![GrantType::AuthorizationCode],
        redirect_uris: vec![format!("{issuer}/docs/ui/oauth-receiver.html")],
        scopes: crate::registry::scopes().into_keys().collect(),
        approval: Approval::Approved,
        code_lifetime: None,
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        owner_id: None,
        permissions: Default::default(),
    };
    // A concurrent first visit may have created it: a conflict is fine.
    if let Err(e) = state.store.create_client(client).await {
        tracing::debug!(error = %e, "docs client not created");
    }
}

#[handler]
async fn docs_page(
    req: &Request,
    Data(docs): Data<&Arc<Docs>>,
    Data(state): Data<&State>,
) -> Html<String> {
    ensure_docs_client(state, &super::metadata::issuer(state, req)).await;
    Html(docs.page.clone())
}
