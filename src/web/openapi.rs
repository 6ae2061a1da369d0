//! `/openapi.json` and `/docs`: the OpenAPI 3 document of scopegate's token, introspection and
//! metadata endpoints plus the host's guarded poem-openapi operations, and a Swagger UI
//! explorer whose Authorize button runs the authorization-code + PKCE flow against this server.
//!
//! poem-openapi fixes OAuth scopes at compile time in an enum, but scopegate learns the host's
//! scopes only from the registry, so the generated document is finished here: the security
//! scheme gets the real endpoints and every registered scope with its description, and each
//! guarded operation's security requirement gets the scopes its guard enforces.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
#[cfg(feature = "server")]
use std::sync::OnceLock;

use poem::http::{Method, StatusCode};
use poem::web::{Data, Json, RequestBody};
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, handler};
#[cfg(feature = "server")]
use poem::{http::Uri, web::Html};
use poem_openapi::registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, OpenApi, OpenApiService};
use serde_json::{Value, json};

use super::guard::{Caller, GuardSpec, admit, caller_from};
use super::methods::get;
#[cfg(feature = "server")]
use super::state::State;
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

/// The first parameter `#[oauth_api]` gives a guarded operation (it moves the operation's
/// `ApiCaller` parameter here): poem-openapi extracts parameters in order, so authentication
/// (401) and the scopes of `S` (403) are decided before any other parameter is read (400).
/// It declares the same security scheme as [`ApiCaller`].
pub struct ApiGuard<S: GuardSpec>(pub Caller, PhantomData<S>);

impl<S: GuardSpec> From<ApiGuard<S>> for ApiCaller {
    fn from(guard: ApiGuard<S>) -> Self {
        ApiCaller(guard.0)
    }
}

impl<S: GuardSpec> From<ApiGuard<S>> for Caller {
    fn from(guard: ApiGuard<S>) -> Self {
        guard.0
    }
}

impl<'a, S: GuardSpec> ApiExtractor<'a> for ApiGuard<S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <ApiCaller as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <ApiCaller as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(ApiGuard(admit::<S>(request, body).await?, PhantomData))
    }
}

/// The document before request-specific URLs are filled in, and the explorer's pages.
struct Docs {
    /// scopegate's endpoints and the host's operations, as the authorization server serves
    /// them.
    #[cfg(feature = "server")]
    spec: Value,
    /// The host's operations alone, as a resource server serves them.
    host_spec: Value,
    /// Swagger UI, loading `/openapi.json`, with PKCE on and the docs client filled in. Made on
    /// the first visit: it inlines the 1.6 MB Swagger UI bundle, which a server whose docs
    /// nobody browses should not hold (that was most of an idle instance's heap).
    #[cfg(feature = "server")]
    page: OnceLock<String>,
    /// Swagger UI's OAuth redirect receiver, also made on first use.
    #[cfg(feature = "server")]
    receiver: OnceLock<String>,
}

/// Mounts the host's poem-openapi `api` under `prefix`, and adds `/openapi.json` and `/docs`.
/// The API's error answers are JSON ([`HostApi`]), as the document says.
pub fn mount<T: OpenApi + 'static>(route: Route, prefix: &str, api: T, title: &str) -> Route {
    let service = OpenApiService::new(api, title, env!("CARGO_PKG_VERSION")).url_prefix(prefix);
    let host_spec: Value = serde_json::from_str(&service.spec()).unwrap_or_else(|_| json!({}));
    warn_ambiguous_operations();
    let methods = path_methods(&host_spec);
    let host_spec = document_host_answers(host_spec);
    let docs = Arc::new(Docs {
        #[cfg(feature = "server")]
        spec: merge(own_spec(title), host_spec.clone()),
        host_spec,
        #[cfg(feature = "server")]
        page: OnceLock::new(),
        #[cfg(feature = "server")]
        receiver: OnceLock::new(),
    });
    let host = HostApi {
        inner: service.into_endpoint(),
        methods,
    };
    let route = route
        .nest(prefix, host)
        .at("/openapi.json", get(openapi_json).data(docs.clone()));
    // The explorer's Authorize button needs the docs client only the authorization server has.
    #[cfg(feature = "server")]
    let route = route
        .at("/docs", get(docs_page).data(docs.clone()))
        .at(RECEIVER, get(receiver_page).data(docs));
    route
}

/// The document of scopegate's own endpoints.
#[cfg(feature = "server")]
fn own_spec(title: &str) -> Value {
    let own: Value = serde_json::from_str(
        &OpenApiService::new(
            (
                super::oauth_docs::OAuthDocs,
                super::oauth_docs::OAuthDocsMore,
                super::oauth_docs::CompatDocs,
            ),
            title,
            env!("CARGO_PKG_VERSION"),
        )
        .spec(),
    )
    .unwrap_or_else(|_| json!({}));
    restore_trailing_slashes(own)
}

#[cfg(feature = "server")]
/// Swagger UI as poem-openapi generates it. The page loads `/openapi.json` by URL (see
/// [`explorer_page`]), so the spec it embeds does not matter, and an empty one keeps it small.
fn swagger_ui() -> OpenApiService<(), ()> {
    OpenApiService::new((), "", "")
}

#[cfg(feature = "server")]
/// poem-openapi drops a path's trailing slash, but the compatibility routes have one (Django
/// spelled them so): put it back, or the document would name paths that are not served. And
/// an authorization endpoint's 400 may be a page or, on the compatibility routes, RFC 6749
/// JSON; an `ApiResponse` holds one type per status, so the second is added here.
fn restore_trailing_slashes(mut spec: Value) -> Value {
    for (path, method) in [
        ("/auth", "get"),
        ("/auth", "post"),
        ("/oauth/authorise", "get"),
        ("/oauth/authorise", "post"),
    ] {
        let pointer = format!(
            "/paths/{}/{method}/responses/400/content",
            path.replace('/', "~1")
        );
        if let Some(content) = spec.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            content.insert(
                "application/json".into(),
                json!({ "schema": { "$ref": "#/components/schemas/OAuthErrorBody" } }),
            );
        }
    }
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for (_, family) in super::oauth_docs::COMPAT_FAMILIES {
            for path in family.iter().filter(|p| p.len() > 1 && p.ends_with('/')) {
                if let Some(item) = paths.remove(path.trim_end_matches('/')) {
                    paths.insert((*path).to_owned(), item);
                }
            }
        }
    }
    spec
}

/// One path template of the document (`/api/polls/{id}/vote`), split at `/`.
type Template = Vec<String>;

/// The methods of every path of a document, for the `Allow` header of a 405.
fn path_methods(spec: &Value) -> Vec<(Template, Vec<Method>)> {
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .map(|ops| {
                    ops.keys()
                        .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                        .collect()
                })
                .unwrap_or_default();
            (path.split('/').map(str::to_owned).collect(), methods)
        })
        .collect()
}

/// True when `path` is an instance of `template` (a `{name}` segment matches any non-empty
/// segment).
fn matches_template(template: &[String], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    segments.len() == template.len()
        && template
            .iter()
            .zip(segments)
            .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
}

/// The host's API as mounted: its errors become JSON bodies (`error`, `error_description`)
/// like every other error scopegate sends, and a 405 names the methods of the path in `Allow`.
/// Guard refusals are JSON already and pass unchanged, headers and all.
pub struct HostApi<E> {
    inner: E,
    methods: Vec<(Template, Vec<Method>)>,
}

/// The error code a host API's JSON error body carries for `status`.
fn api_error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_request",
    }
}

impl<E: Endpoint> Endpoint for HostApi<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.original_uri().path().to_owned();
        // The host's own answers pass as they are (its `ApiResponse` types document them);
        // only errors (extractors', routing's, or a host's `poem::Error`) are rewritten.
        let mut resp = match self.inner.call(req).await {
            Ok(r) => return Ok(r.into_response()),
            Err(e) => e.into_response(),
        };
        let status = resp.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = self
                .methods
                .iter()
                .find(|(t, _)| matches_template(t, &path))
                .map(|(_, m)| m.as_slice())
                .unwrap_or_default();
            return Ok(super::methods::method_not_allowed(allow));
        }
        let is_json = resp
            .content_type()
            .is_some_and(|c| c.starts_with("application/json"));
        if status.is_client_error() && !is_json {
            let text = resp.take_body().into_string().await.unwrap_or_default();
            let text = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            };
            resp.set_body(
                json!({ "error": api_error_code(status), "error_description": text }).to_string(),
            );
            resp.headers_mut().insert(
                poem::http::header::CONTENT_TYPE,
                poem::http::HeaderValue::from_static("application/json"),
            );
        }
        Ok(resp)
    }
}

/// Adds to every operation of the host's document the answers [`HostApi`] and the guard give:
/// 400 for a parameter or body that does not parse, 415 for a body of another type, each as a
/// JSON error body. (`finish` adds the guard's 401 and 403 to the guarded ones.)
fn document_host_answers(mut spec: Value) -> Value {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return spec;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let has_body = op.get("requestBody").is_some();
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut answers = vec![(
                "400",
                "invalid_request: a parameter or the body does not parse, or the token was \
                 sent in more than one way",
            )];
            if has_body {
                answers.push(("415", "unsupported_media_type: the body is of another type"));
            }
            for (status, what) in answers {
                responses
                    .entry(status)
                    .or_insert_with(|| error_response(what, false));
            }
        }
    }
    spec
}

/// A documented JSON error answer, with the Bearer challenge header when `challenge`.
fn error_response(what: &str, challenge: bool) -> Value {
    let mut answer = json!({
        "description": what,
        "content": { "application/json": { "schema": {
            "$ref": "#/components/schemas/OAuthErrorBody"
        }}}
    });
    if challenge {
        answer["headers"] = json!({ "WWW-Authenticate": {
            "description": "RFC 6750 Bearer challenge",
            "schema": { "type": "string" }
        }});
    }
    answer
}

#[cfg(feature = "server")]
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

/// Where the document's OAuth 2 flows get their tokens.
#[derive(Debug, Clone, Copy)]
pub struct Flows<'a> {
    /// The authorization endpoint.
    pub authorization: &'a str,
    /// The token endpoint.
    pub token: &'a str,
}

/// The finished document for a server reachable at `server`, whose tokens come from `flows`.
pub fn finish(mut spec: Value, server: &str, flows: Flows<'_>) -> Value {
    let scopes: serde_json::Map<String, Value> = crate::registry::scopes()
        .into_iter()
        .map(|(name, desc)| {
            let desc = if desc.is_empty() { name.clone() } else { desc };
            (name, Value::String(desc))
        })
        .collect();
    spec["servers"] = json!([{ "url": server }]);
    spec["components"]["securitySchemes"][SCHEME] = json!({
        "type": "oauth2",
        "description": "OAuth 2 by scopegate. Authorization code requires PKCE (S256).",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": flows.authorization,
                "tokenUrl": flows.token,
                "refreshUrl": flows.token,
                "scopes": scopes,
            },
            "clientCredentials": {
                "tokenUrl": flows.token,
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
                if !security.iter().any(|r| r.get(SCHEME).is_some()) {
                    continue;
                }
                for requirement in security.iter_mut() {
                    if let Some(list) = requirement.get_mut(SCHEME) {
                        *list = json!(needed);
                    }
                }
                // RFC 6750 answers every guarded operation can give (the 400 is the host's).
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (status, what) in [
                        (
                            "401",
                            "invalid_token: no token (a bare Bearer challenge), or an unknown, \
                             expired or revoked one",
                        ),
                        (
                            "403",
                            "insufficient_scope: the token lacks a required scope",
                        ),
                    ] {
                        responses
                            .entry(status)
                            .or_insert_with(|| error_response(what, true));
                    }
                    if let Some(bad) = responses.get_mut("400")
                        && bad.get("headers").is_none()
                    {
                        bad["headers"] = error_response("", true)["headers"].clone();
                    }
                }
            }
        }
    }
    spec
}

/// `/openapi.json`: inside the authorization server, its endpoints and the host's operations;
/// in a resource server, the host's operations, their tokens got at the issuer's endpoints
/// (from its metadata; 503 while it cannot be reached).
#[handler]
async fn openapi_json(req: &Request, Data(docs): Data<&Arc<Docs>>) -> Response {
    #[cfg(feature = "server")]
    if let Some(state) = req.data::<State>() {
        return own_document(state, req, docs);
    }
    let Some(server) = req.data::<crate::resource_server::ResourceServer>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match server.endpoints().await {
        Ok(endpoints) => {
            let flows = Flows {
                authorization: &endpoints.authorization,
                token: &endpoints.token,
            };
            let resource = &server.config().resource;
            Json(finish(docs.host_spec.clone(), resource, flows)).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "no OpenAPI document without the issuer's metadata");
            super::error::oauth_error(&crate::core::error::OAuthError::busy(
                "the authorization server cannot be reached; retry later",
                5,
            ))
        }
    }
}

/// The authorization server's document: its endpoints, the switched-on compatibility routes,
/// and the host's operations.
#[cfg(feature = "server")]
fn own_document(state: &State, req: &Request, docs: &Docs) -> Response {
    let issuer = super::metadata::issuer(state, req);
    let (authorization, token) = (
        format!("{issuer}/oauth/authorize"),
        format!("{issuer}/oauth/token"),
    );
    let flows = Flows {
        authorization: &authorization,
        token: &token,
    };
    let mut spec = finish(docs.spec.clone(), &issuer, flows);
    // List only the compatibility routes that are switched on.
    let settings = &state.settings;
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for (switched_on, family) in super::oauth_docs::COMPAT_FAMILIES {
            if !switched_on(settings) {
                for path in *family {
                    paths.remove(*path);
                }
            }
        }
    }
    Json(spec).into_response()
}

#[cfg(feature = "server")]
/// The client id the explorer's Authorize dialog starts with (the first visit to `/docs`
/// registers it as a public client, see [`docs_redirect_uris`]).
pub const DOCS_CLIENT_ID: &str = "scopegate-docs";

#[cfg(feature = "server")]
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

#[cfg(feature = "server")]
/// Where the explorer's Swagger UI receives the OAuth redirect.
const RECEIVER: &str = "/docs/ui/oauth-receiver.html";

#[cfg(feature = "server")]
/// The redirect URIs of the docs client. They come from the `issuer` setting; without one,
/// from the address the server accepted this connection on, which is where it listens (a fact
/// of the socket, which no header can change), plus `localhost` for a loopback address. Never
/// from `Host` or any other request header: whoever sets those would otherwise choose where
/// the codes of an approved, every-scope client go.
pub fn docs_redirect_uris(state: &State, req: &Request) -> Vec<String> {
    if let Some(issuer) = &state.settings.issuer {
        return vec![format!("{}{RECEIVER}", issuer.trim_end_matches('/'))];
    }
    let (Some(base), Some(addr)) = (
        super::metadata::local_base(req),
        req.local_addr().as_socket_addr().copied(),
    ) else {
        return Vec::new();
    };
    let mut uris = vec![format!("{base}{RECEIVER}")];
    if addr.ip().is_loopback() {
        let scheme = base.split("://").next().unwrap_or("http");
        uris.push(format!("{scheme}://localhost:{}{RECEIVER}", addr.port()));
    }
    uris
}

#[cfg(feature = "server")]
/// Registers the explorer's public client (`DOCS_CLIENT_ID`, PKCE, the redirect URIs of
/// [`docs_redirect_uris`], every registered scope) so the Authorize button works without a
/// set-up step, and puts its redirect URIs back to those when they differ (a database written
/// by an older release, which took them from `Host`, is repaired on the first visit). Skipped
/// when `SCOPEGATE_DOCS_CLIENT_ID` names a client registered by hand.
async fn ensure_docs_client(state: &State, redirect_uris: Vec<String>) {
    use crate::core::client_rules::ClientDraft;
    use crate::core::model::{Approval, ClientType, GrantType};
    if std::env::var_os("SCOPEGATE_DOCS_CLIENT_ID").is_some() || redirect_uris.is_empty() {
        return;
    }
    // Held to the client rules like any other client; the registry's scopes need not be in
    // the database yet.
    let rules = state.settings.client_rules(None);
    match state.store.client_by_client_id(DOCS_CLIENT_ID).await {
        Ok(Some(client)) => {
            if client.redirect_uris != redirect_uris {
                tracing::warn!(
                    old = ?client.redirect_uris,
                    new = ?redirect_uris,
                    "the docs client's redirect URIs differ from the configured base; resetting"
                );
                let mut draft = ClientDraft::of(&client);
                draft.redirect_uris = redirect_uris;
                let updated = match draft.validate(&rules) {
                    Ok(valid) => state.store.update_client(client.id, &valid).await,
                    Err(errors) => {
                        tracing::warn!(%errors, "docs client not updated");
                        return;
                    }
                };
                if let Err(e) = updated {
                    tracing::warn!(error = %e, "docs client not updated");
                }
            }
            return;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "docs client lookup failed");
            return;
        }
    }
    let draft = ClientDraft {
        client_id: Some(DOCS_CLIENT_ID.into()),
        name: "API docs explorer".into(),
        client_type: ClientType::Public.as_str().into(),
        grant_types: vec![GrantType::AuthorizationCode.as_str().into()],
        redirect_uris,
        scopes: crate::registry::scopes().into_keys().collect(),
        ..ClientDraft::default()
    };
    let (client, _) = match draft.validate(&rules) {
        Ok(valid) => valid.into_new_client(Approval::Approved, None),
        Err(errors) => {
            tracing::warn!(%errors, "docs client not created");
            return;
        }
    };
    // A concurrent first visit may have created it: a conflict is fine.
    if let Err(e) = state.store.create_client(client).await {
        tracing::debug!(error = %e, "docs client not created");
    }
}

#[cfg(feature = "server")]
/// `/docs`: the explorer, whose Authorize button needs the docs client this server registers;
/// a resource server has none, and answers 404.
#[handler]
async fn docs_page(req: &Request, Data(docs): Data<&Arc<Docs>>) -> Response {
    let Some(state) = req.data::<State>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ensure_docs_client(state, docs_redirect_uris(state, req)).await;
    Html(
        docs.page
            .get_or_init(|| explorer_page(&swagger_ui().swagger_ui_html()))
            .clone(),
    )
    .into_response()
}

#[cfg(feature = "server")]
/// [`RECEIVER`]: the page Swagger UI's OAuth popup lands on, taken from poem-openapi's UI
/// endpoint once and kept (a few kB), without the full UI page that endpoint also holds.
#[handler]
async fn receiver_page(Data(docs): Data<&Arc<Docs>>) -> Html<String> {
    if let Some(page) = docs.receiver.get() {
        return Html(page.clone());
    }
    let request = Request::builder()
        .uri(Uri::from_static("/oauth-receiver.html"))
        .finish();
    let answer = swagger_ui().swagger_ui().get_response(request).await;
    let page = answer.into_body().into_string().await.unwrap_or_default();
    Html(docs.receiver.get_or_init(|| page).clone())
}
