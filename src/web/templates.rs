//! Page templates: built into the binary, each replaceable by a file of the same name in the
//! `template_dir` setting.

use std::path::Path;

use poem::Response;
use poem::http::StatusCode;
use tera::{Context, Tera};

use super::state::AppState;

const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "account/apps.html",
        include_str!("../../templates/account/apps.html"),
    ),
    // Admin pages and the developer portal.
    (
        "admin/style.html",
        include_str!("../../templates/admin/style.html"),
    ),
    (
        "admin/layout.html",
        include_str!("../../templates/admin/layout.html"),
    ),
    (
        "admin/index.html",
        include_str!("../../templates/admin/index.html"),
    ),
    (
        "admin/list.html",
        include_str!("../../templates/admin/list.html"),
    ),
    (
        "id_token_fields.html",
        include_str!("../../templates/id_token_fields.html"),
    ),
    (
        "admin/client_fields.html",
        include_str!("../../templates/admin/client_fields.html"),
    ),
    (
        "admin/client_form.html",
        include_str!("../../templates/admin/client_form.html"),
    ),
    (
        "admin/client.html",
        include_str!("../../templates/admin/client.html"),
    ),
    (
        "admin/scopes.html",
        include_str!("../../templates/admin/scopes.html"),
    ),
    (
        "admin/user.html",
        include_str!("../../templates/admin/user.html"),
    ),
    (
        "developer/layout.html",
        include_str!("../../templates/developer/layout.html"),
    ),
    (
        "developer/index.html",
        include_str!("../../templates/developer/index.html"),
    ),
    (
        "developer/add.html",
        include_str!("../../templates/developer/add.html"),
    ),
    (
        "developer/app.html",
        include_str!("../../templates/developer/app.html"),
    ),
    (
        "developer/terms.html",
        include_str!("../../templates/developer/terms.html"),
    ),
];

/// Loads the built-in templates, then the overrides found in `dir`.
pub fn load(dir: Option<&Path>) -> Result<Tera, String> {
    let mut tera = Tera::default();
    let mut all: Vec<(String, String)> = BUILT_IN
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    if let Some(dir) = dir {
        for (name, _) in BUILT_IN {
            let path = dir.join(name);
            if path.exists() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
                if let Some(entry) = all.iter_mut().find(|(n, _)| n == name) {
                    entry.1 = text;
                }
            }
        }
    }
    tera.add_raw_templates(all)
        .map_err(|e| format!("template error: {e:?}"))?;
    Ok(tera)
}

impl AppState {
    /// Renders a page; a template failure is logged and becomes a plain 500 page.
    pub fn render(&self, status: StatusCode, name: &str, ctx: &Context) -> Response {
        match self.templates.render(name, ctx) {
            Ok(html) => Response::builder()
                .status(status)
                .content_type("text/html; charset=utf-8")
                .header("cache-control", "no-store")
                .body(html),
            Err(e) => {
                tracing::error!(template = name, error = ?e, "template failed");
                Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .content_type("text/plain; charset=utf-8")
                    .body("The page could not be rendered.")
            }
        }
    }

    /// A friendly error page for browsers.
    pub fn error_page(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let mut ctx = Context::new();
        ctx.insert("title", title);
        ctx.insert("message", message);
        self.render(status, "error.html", &ctx)
    }
}
