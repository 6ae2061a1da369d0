//! Where the login page sends the browser afterwards: only a same-origin path, read the way a
//! browser reads a `Location` (tabs and newlines dropped, `\` taken as `/`), else `/`.

use crate::both_backends;
use crate::support::{Browser, TestServer, hidden_field};

/// `next` as the form carries it (already form-decoded), and the `Location` it must give.
const CASES: &[(&str, &str)] = &[
    ("/", "/"),
    ("", "/"),
    ("/polls/1", "/polls/1"),
    (
        "/polls/1?tab=results&x=1#top",
        "/polls/1?tab=results&x=1#top",
    ),
    ("/a b", "/a%20b"),
    ("/caf\u{e9}", "/caf%C3%A9"),
    ("/foo\\bar", "/foo/bar"),
    // The payload: a tab between the slashes, which a browser drops.
    ("/\t/evil.example/", "/"),
    ("/\n/evil.example/", "/"),
    ("/\r\n/evil.example/", "/"),
    ("\t//evil.example/", "/"),
    ("/\t\t/evil.example", "/"),
    ("//evil.example/", "/"),
    ("////evil.example/", "/"),
    ("/\\evil.example/", "/"),
    ("\\/evil.example/", "/"),
    ("\\\\evil.example/", "/"),
    ("/\\/evil.example/", "/"),
    ("/\t\\evil.example/", "/"),
    ("\\\t\\evil.example/", "/"),
    // Dot segments that fold into a network path.
    ("/.//evil.example/", "/"),
    ("/..//evil.example/", "/"),
    ("/a/../\t/evil.example", "/"),
    // Schemes, and relative references that are not paths.
    ("https://evil.example/", "/"),
    ("http://evil.example/", "/"),
    ("http:evil.example", "/"),
    ("https:/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("java\tscript:alert(1)", "/"),
    ("evil.example", "/"),
    (" //evil.example/", "/"),
    (" /polls", "/"),
    // (A NUL byte never gets this far: the form is refused with 400, see input_bounds.)
    ("/polls\u{1b}[2J", "/"),
    // Still-encoded forms stay encoded, so they stay paths: a browser does not decode them
    // before finding the host.
    ("/%09/evil.example/", "/%09/evil.example/"),
    ("/%2F/evil.example/", "/%2F/evil.example/"),
    ("/%5Cevil.example/", "/%5Cevil.example/"),
    ("%2F%2Fevil.example/", "/"),
    ("%09//evil.example/", "/"),
];

both_backends! {
    async fn next_is_a_same_origin_path_or_home(db: Backend) {
        let server = TestServer::start(db).await;
        server.user("alice", "pw").await;
        let mut wrong = Vec::new();
        for (next, expected) in CASES {
            let browser = Browser::new(&server);
            let page = browser.get("/login").await.text().await.unwrap();
            let csrf = hidden_field(&page, "csrf_token").unwrap();
            let resp = browser
                .post_form("/login", &[("csrf_token", &csrf), ("username", "alice"), ("password", "pw"), ("next", next)])
                .await;
            assert_eq!(resp.status(), 302, "{next:?}");
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            if location != *expected {
                wrong.push(format!("{next:?} -> {location:?}, expected {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "unsafe or wrong destinations:\n{}", wrong.join("\n"));
        server.stop().await;
    }

    async fn the_login_form_carries_only_a_safe_next(db: Backend) {
        let server = TestServer::start(db).await;
        let browser = Browser::new(&server);
        for (query, expected) in [
            ("next=%2F%09%2Fevil.example%2F", "/"),
            ("next=%5C%5Cevil.example", "/"),
            ("next=https%3A%2F%2Fevil.example", "/"),
            ("next=%2Fpolls%2F1", "/polls/1"),
        ] {
            let page = crate::support::slashes(browser.get(&format!("/login?{query}")).await.text().await.unwrap());
            assert_eq!(hidden_field(&page, "next").as_deref(), Some(expected), "{query}");
        }
        server.stop().await;
    }
}
