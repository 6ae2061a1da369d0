//! One table of bad client drafts, run against every way a client is written: the admin form
//! (create and edit), the developer portal (registration and the redirect-URI edit) and
//! `register-client`. Each refuses every draft it can express with a clear error (the page
//! again with the field's error, not a 500; one line and exit code 2), and no client is written.

use scopegate::core::portal::ListQuery;

use crate::both_backends;
use crate::cli::run;
use crate::support::{Browser, ClientSpec, TestServer, element_text, words};

/// A way of writing clients that can express a draft.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Admin,
    Portal,
    Cli,
}

use Path::{Admin, Cli, Portal};

/// A client draft as every path spells it, and what its refusal must say.
#[derive(Clone)]
struct Draft {
    what: &'static str,
    name: String,
    client_type: &'static str,
    grants: Vec<&'static str>,
    redirect_uris: Vec<String>,
    scopes: Vec<&'static str>,
    /// A lifetime field and its value, as the admin form names it.
    lifetime: Option<(&'static str, &'static str)>,
    resource_server: bool,
    allow_public_without_pkce: bool,
    /// Part of the error every path shows, compared without regard to case.
    says: &'static str,
    /// The paths whose input can spell this draft (the portal's client type, grants and
    /// permissions are fixed; a textarea cannot hold a URI with a space).
    paths: &'static [Path],
}

fn good(what: &'static str, says: &'static str, paths: &'static [Path]) -> Draft {
    Draft {
        what,
        name: "Rules App".into(),
        client_type: "confidential",
        grants: vec!["authorization_code", "refresh_token"],
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: vec!["polls:vote"],
        lifetime: None,
        resource_server: false,
        allow_public_without_pkce: false,
        says,
        paths,
    }
}

const EVERY: &[Path] = &[Admin, Portal, Cli];
const NOT_PORTAL: &[Path] = &[Admin, Cli];

/// The bad drafts: every rule of `core::client_rules`, broken once.
fn bad_drafts() -> Vec<Draft> {
    let uris = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        Draft {
            name: "  ".into(),
            ..good("blank name", "give a name of 1 to 100 characters", EVERY)
        },
        Draft {
            name: "x".repeat(101),
            ..good("long name", "give a name of 1 to 100 characters", EVERY)
        },
        Draft {
            client_type: "secretive",
            ..good(
                "unknown client type",
                "must be confidential or public",
                NOT_PORTAL,
            )
        },
        Draft {
            grants: vec![],
            ..good("no grant", "choose at least one grant type", NOT_PORTAL)
        },
        Draft {
            grants: vec!["magic"],
            ..good("unknown grant", "unknown grant type", NOT_PORTAL)
        },
        Draft {
            grants: vec!["implicit"],
            ..good(
                "implicit on a confidential client",
                "the implicit grant is for public clients only",
                NOT_PORTAL,
            )
        },
        Draft {
            client_type: "public",
            grants: vec!["password"],
            ..good(
                "password on a public client",
                "need a confidential client",
                NOT_PORTAL,
            )
        },
        Draft {
            client_type: "public",
            grants: vec!["client_credentials"],
            ..good(
                "client_credentials on a public client",
                "need a confidential client",
                NOT_PORTAL,
            )
        },
        Draft {
            client_type: "public",
            resource_server: true,
            ..good(
                "a public resource server",
                "only a confidential client can be a resource server",
                NOT_PORTAL,
            )
        },
        Draft {
            allow_public_without_pkce: true,
            ..good(
                "a confidential client without PKCE",
                "only a public client can be allowed to skip pkce",
                NOT_PORTAL,
            )
        },
        Draft {
            scopes: vec![],
            ..good("no scope", "choose at least one scope", EVERY)
        },
        Draft {
            scopes: vec!["a\"b"],
            ..good("a malformed scope", "is not a valid scope name", EVERY)
        },
        Draft {
            redirect_uris: vec![],
            ..good("no redirect URI", "give at least one redirect uri", EVERY)
        },
        Draft {
            client_type: "public",
            grants: vec!["implicit"],
            redirect_uris: vec![],
            ..good(
                "implicit without a redirect URI",
                "give at least one redirect uri",
                NOT_PORTAL,
            )
        },
        Draft {
            redirect_uris: uris(&["relative/cb"]),
            ..good("a relative redirect URI", "is not an absolute url", EVERY)
        },
        Draft {
            redirect_uris: uris(&["https://app.example/cb#x"]),
            ..good(
                "a redirect URI with a fragment",
                "must not contain a #fragment",
                EVERY,
            )
        },
        Draft {
            redirect_uris: uris(&["ftp://app.example/cb"]),
            ..good("an ftp redirect URI", "must use https", EVERY)
        },
        Draft {
            redirect_uris: uris(&["urn:ietf:wg:oauth:2.0:oob"]),
            ..good("a redirect URI without a host", "has no host", EVERY)
        },
        Draft {
            redirect_uris: uris(&["https://app.example/a b"]),
            ..good(
                "a redirect URI with a space",
                "must not contain spaces",
                &[Cli],
            )
        },
        Draft {
            redirect_uris: (0..21)
                .map(|i| format!("https://app.example/{i}"))
                .collect(),
            ..good("21 redirect URIs", "give at most 20 redirect uris", EVERY)
        },
        Draft {
            lifetime: Some(("code_lifetime", "3601")),
            ..good(
                "a code lifetime over an hour",
                "the lifetime must be a whole number of seconds from 1 to 3600",
                NOT_PORTAL,
            )
        },
        Draft {
            lifetime: Some(("access_token_lifetime", "soon")),
            ..good(
                "an access token lifetime that is no number",
                "the lifetime must be a whole number of seconds from 1 to 31536000",
                NOT_PORTAL,
            )
        },
        Draft {
            lifetime: Some(("refresh_token_lifetime", "0")),
            ..good(
                "a refresh token lifetime of 0",
                "the lifetime must be a whole number of seconds from 1 to 315360000",
                NOT_PORTAL,
            )
        },
    ]
}

impl Draft {
    fn on(&self, path: Path) -> bool {
        self.paths.contains(&path)
    }

    /// Only the redirect URIs differ from a good draft, so the portal's redirect edit can
    /// spell it.
    fn only_redirects(&self) -> bool {
        let base = good("", "", &[]);
        self.on(Portal) && self.name == base.name && self.scopes == base.scopes
    }

    /// The admin form's fields.
    fn admin_form(&self) -> Vec<(&str, String)> {
        let mut f = vec![
            ("name", self.name.clone()),
            ("client_type", self.client_type.to_owned()),
            ("redirect_uris", self.redirect_uris.join("\n")),
        ];
        f.extend(self.grants.iter().map(|g| ("grant_types", g.to_string())));
        f.extend(self.scopes.iter().map(|s| ("scopes", s.to_string())));
        f.extend(self.lifetime.map(|(k, v)| (k, v.to_owned())));
        if self.resource_server {
            f.push(("resource_server", "on".into()));
        }
        if self.allow_public_without_pkce {
            f.push(("allow_public_without_pkce", "on".into()));
        }
        f
    }

    /// The portal's registration form.
    fn portal_form(&self) -> Vec<(&str, String)> {
        let mut f = vec![
            ("name", self.name.clone()),
            ("redirect_uris", self.redirect_uris.join("\n")),
            ("description", words(150)),
            ("agree", "on".into()),
        ];
        f.extend(self.scopes.iter().map(|s| ("scopes", s.to_string())));
        f
    }

    /// `register-client`'s arguments. An empty list is spelled as a value that holds none,
    /// since the command requires the flag.
    fn cli_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["register-client".into(), "--name".into(), self.name.clone()];
        a.extend(["--client-type".into(), self.client_type.to_owned()]);
        a.push("--grant-type".into());
        if self.grants.is_empty() {
            a.push(",".into());
        }
        a.extend(self.grants.iter().map(|g| g.to_string()));
        a.push("--scope".into());
        if self.scopes.is_empty() {
            a.push(" ".into());
        }
        a.extend(self.scopes.iter().map(|s| s.to_string()));
        if !self.redirect_uris.is_empty() {
            a.push("--redirect-uri".into());
            a.extend(self.redirect_uris.iter().cloned());
        }
        if let Some((k, v)) = self.lifetime {
            a.extend([format!("--{}", k.replace('_', "-")), v.to_owned()]);
        }
        if self.resource_server {
            a.push("--resource-server".into());
        }
        if self.allow_public_without_pkce {
            a.push("--allow-public-without-pkce".into());
        }
        a
    }
}

fn pairs<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A refused form: the page again (422, never a 500), with a field error that says `says`.
fn assert_refused_page(path: &str, d: &Draft, status: u16, page: &str) {
    assert_eq!(status, 422, "{path}, {}: {page}", d.what);
    assert!(
        page.contains("class=\"field-error\""),
        "{path}, {}: the error is next to a field",
        d.what
    );
    assert!(
        page.to_lowercase().contains(d.says),
        "{path}, {}: the page should say {:?}",
        d.what,
        d.says
    );
}

async fn client_count(server: &TestServer) -> i64 {
    server
        .store()
        .list_clients(&ListQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

/// What an edit must leave alone, as text to compare.
async fn stored(server: &TestServer, id: i64) -> String {
    format!(
        "{:?}",
        server.store().client_by_id(id).await.unwrap().unwrap()
    )
}

both_backends! {
    async fn every_path_refuses_every_bad_draft(db: Backend) {
        let server = TestServer::start(db).await;
        server.scope("polls:vote", "Vote in polls").await;
        server.superuser("root", "pw-root-123").await;
        server.user("dev", "pw-user-123").await;
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let dev = Browser::new(&server);
        dev.login("dev", "pw-user-123").await;

        // What the edit paths edit: a client made by the admin's store, an app made on the portal.
        let target = server.client(ClientSpec { scopes: "polls:vote".into(), ..ClientSpec::default() }).await;
        let admin_edit = format!("/admin/clients/{}", target.client.id);
        let ok = good("", "", &[]);
        let (status, _, page) = dev.submit("/developer/add", "/developer/add", &pairs(&ok.portal_form())).await;
        assert_eq!(status, 201, "a good draft is registered: {page}");
        let app_id = element_text(&page, "client-id").unwrap();
        let app = server.store().client_by_client_id(&app_id).await.unwrap().unwrap();
        let app_page = format!("/developer/apps/{app_id}");
        let (admin_before, app_before) = (stored(&server, target.client.id).await, stored(&server, app.id).await);
        let count = client_count(&server).await;

        for d in bad_drafts() {
            if d.on(Admin) {
                let form = d.admin_form();
                let (status, _, page) = admin.submit("/admin/clients/new", "/admin/clients/new", &pairs(&form)).await;
                assert_refused_page("admin create", &d, status, &page);
                let (status, _, page) = admin.submit(&admin_edit, &admin_edit, &pairs(&form)).await;
                assert_refused_page("admin edit", &d, status, &page);
            }
            if d.on(Portal) {
                let (status, _, page) = dev.submit("/developer/add", "/developer/add", &pairs(&d.portal_form())).await;
                assert_refused_page("portal registration", &d, status, &page);
            }
            if d.only_redirects() {
                let text = d.redirect_uris.join("\n");
                let redirects = format!("{app_page}/redirects");
                let (status, _, page) = dev.submit(&app_page, &redirects, &[("redirect_uris", &text)]).await;
                assert_refused_page("portal redirect edit", &d, status, &page);
            }
            if d.on(Cli) {
                let url = server.db.url.clone();
                let args = d.cli_args();
                let r = tokio::task::spawn_blocking(move || {
                    run(&url, &args.iter().map(String::as_str).collect::<Vec<_>>(), None)
                })
                .await
                .unwrap();
                assert_eq!(r.code, 2, "register-client, {}: {}", d.what, r.stderr);
                assert_eq!(r.stderr.trim_end().lines().count(), 1, "register-client, {}: one line: {}", d.what, r.stderr);
                assert!(r.stderr.to_lowercase().contains(d.says), "register-client, {}: should say {:?}: {}", d.what, d.says, r.stderr);
                assert!(r.stdout.is_empty(), "register-client, {}: {}", d.what, r.stdout);
            }
            assert_eq!(client_count(&server).await, count, "{}: no client was written", d.what);
        }
        assert_eq!(stored(&server, target.client.id).await, admin_before, "the admin edits changed nothing");
        assert_eq!(stored(&server, app.id).await, app_before, "the portal edits changed nothing");
        server.stop().await;
    }

    async fn the_same_draft_done_right_is_accepted_everywhere(db: Backend) {
        let server = TestServer::start(db).await;
        server.scope("polls:vote", "Vote in polls").await;
        server.superuser("root", "pw-root-123").await;
        server.user("dev", "pw-user-123").await;
        let ok = good("", "", &[]);
        let admin = Browser::new(&server);
        admin.login("root", "pw-root-123").await;
        let (status, _, page) = admin.submit("/admin/clients/new", "/admin/clients/new", &pairs(&ok.admin_form())).await;
        assert_eq!(status, 201, "{page}");
        let dev = Browser::new(&server);
        dev.login("dev", "pw-user-123").await;
        let (status, _, page) = dev.submit("/developer/add", "/developer/add", &pairs(&ok.portal_form())).await;
        assert_eq!(status, 201, "{page}");
        let url = server.db.url.clone();
        let args = ok.cli_args();
        let r = tokio::task::spawn_blocking(move || run(&url, &args.iter().map(String::as_str).collect::<Vec<_>>(), None))
            .await
            .unwrap();
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(client_count(&server).await, 3);
        server.stop().await;
    }
}
