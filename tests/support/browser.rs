//! A scripted browser over HTTP (cookies kept, redirects not followed), and the helpers that
//! read pages and redirect URLs the way a person would.

use super::server::TestServer;

/// Pulls `name="FIELD" value="..."` out of a page's HTML.
pub fn hidden_field(html: &str, field: &str) -> Option<String> {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The query parameters of a URL.
pub fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A browser: keeps cookies, does not follow redirects, reads forms like a person would.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        Self::at(&server.base)
    }

    /// A browser for a server at `base` (e.g. one started as a child process).
    pub fn at(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{}", self.base, url)
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.abs(url)).send().await.unwrap()
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.abs(url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the login form.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf field on the login page");
        self.post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }

    /// Opens an authorization URL as a signed-in user and answers the consent page with
    /// `decision`; returns where the browser was sent.
    pub async fn authorize(&self, url: &str, decision: &str) -> String {
        let resp = self.get(url).await;
        assert_eq!(resp.status(), 200, "expected the consent page for {url}");
        let page = resp.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf on consent page");
        let nonce = hidden_field(&page, "nonce").expect("nonce on consent page");
        let resp = self
            .post_form(
                "/oauth/authorize",
                &[
                    ("csrf_token", &csrf),
                    ("nonce", &nonce),
                    ("decision", decision),
                ],
            )
            .await;
        assert_eq!(resp.status(), 302, "consent answer should redirect");
        resp.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Opens an authorization URL as a signed-in user and approves it: on the consent page, or
    /// at once when the user's remembered consent covers it. Returns where the browser was sent.
    pub async fn approve(&self, url: &str) -> String {
        let resp = self.get(url).await;
        if resp.status() == 302 {
            return resp.headers()["location"].to_str().unwrap().to_owned();
        }
        self.authorize(url, "approve").await
    }

    /// GETs a page and returns its status and body.
    pub async fn page(&self, url: &str) -> (u16, String) {
        let resp = self.get(url).await;
        (resp.status().as_u16(), slashes(resp.text().await.unwrap()))
    }

    /// GETs `form_page`, takes its CSRF token (and nonce, if any), and POSTs `fields` plus those
    /// to `action`. Returns status, `Location` (if any) and body.
    pub async fn submit(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let page = self.get(form_page).await.text().await.unwrap();
        let csrf = hidden_field(&page, "csrf_token").expect("csrf_token on the form page");
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        let nonce = hidden_field(&page, "nonce");
        if let Some(n) = nonce.as_deref() {
            all.push(("nonce", n));
        }
        all.extend_from_slice(fields);
        let resp = self.post_form(action, &all).await;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, slashes(resp.text().await.unwrap()))
    }
}

/// A description of exactly `n` words.
pub fn words(n: usize) -> String {
    (0..n)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pulls the text of the element with `id="ID"` (up to the next `<`) out of a page.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)? + marker.len();
    let start = html[start..].find('>')? + start + 1;
    let end = html[start..].find('<')? + start;
    Some(html[start..end].trim().to_owned())
}

/// Tera's autoescape writes `/` as `&#x2F;`; pages are compared with plain slashes.
pub fn slashes(html: String) -> String {
    html.replace("&#x2F;", "/")
}
