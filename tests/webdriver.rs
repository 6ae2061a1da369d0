//! A small W3C WebDriver client over reqwest, and a chromedriver process it owns. Enough to
//! drive headless Chromium through forms and take screenshots; nothing here needs JavaScript on
//! the pages under test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn program(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// A chromedriver on a free loopback port (chromedriver accepts local connections only unless
/// told otherwise) with one headless Chromium session. Dropping it ends the session and kills
/// the chromedriver it started, by PID.
pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver and a browser. Fails the test with a clear message when chromedriver
    /// or Chromium is missing: browser tests must never pass by skipping.
    pub async fn start() -> Driver {
        let driver = program("SCOPEGATE_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("SCOPEGATE_CHROMIUM", "/usr/bin/chromium");
        for (what, path) in [("chromedriver", &driver), ("chromium", &chromium)] {
            assert!(
                path.exists(),
                "browser tests need {what} at {} (install Debian's `chromium` and \
                 `chromium-driver` packages, or set SCOPEGATE_{}); .ci/run installs them",
                path.display(),
                what.to_uppercase()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // Its own process group, which the Chromium it launches joins: dropping the Driver
        // (even when a test panics) can then stop both by that one id.
        let child = Command::new(&driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--silent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut me = Driver {
            child,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        assert!(ready, "chromedriver did not answer on 127.0.0.1:{port}");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", me._profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let v = me.call("POST", "/session", Some(caps)).await;
        me.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        me
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req.send().await.expect("chromedriver request");
        let status = resp.status();
        let v: Value = resp.json().await.expect("chromedriver JSON");
        assert!(status.is_success(), "WebDriver {method} {path} failed: {v}");
        v["value"].clone()
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Navigates and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The handle of the window commands go to.
    pub async fn window(&self) -> String {
        self.call("GET", &self.s("/window"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to 10 s) for a window other than `current` (a popup) and returns its handle.
    pub async fn other_window(&self, current: &str) -> String {
        for _ in 0..50 {
            let handles = self.call("GET", &self.s("/window/handles"), None).await;
            if let Some(h) = handles
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|h| *h != current)
            {
                return h.to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("no popup window opened");
    }

    /// Sends the following commands to the window `handle`.
    pub async fn switch_to(&self, handle: &str) {
        self.call(
            "POST",
            &self.s("/window"),
            Some(json!({ "handle": handle })),
        )
        .await;
    }

    /// The page's HTML as the browser has it.
    pub async fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matched by a CSS selector; fails the test (with the page) when absent.
    pub async fn find(&self, css: &str) -> String {
        let url = format!("{}{}", self.base, self.s("/element"));
        let resp = self
            .http
            .post(url)
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .unwrap();
        let ok = resp.status().is_success();
        let v: Value = resp.json().await.unwrap();
        if !ok {
            panic!(
                "no element {css:?} on {}:\n{}",
                self.url().await,
                self.source().await
            );
        }
        v["value"][ELEMENT].as_str().unwrap().to_owned()
    }

    /// True when a CSS selector matches something.
    pub async fn exists(&self, css: &str) -> bool {
        let v = self
            .call(
                "POST",
                &self.s("/elements"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array().is_some_and(|a| !a.is_empty())
    }

    /// Clears a field and types into it, as a person would.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call("POST", &self.s(&format!("/element/{el}/clear")), None)
            .await;
        self.call(
            "POST",
            &self.s(&format!("/element/{el}/value")),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks an element (and waits for any navigation it starts).
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call("POST", &self.s(&format!("/element/{el}/click")), None)
            .await;
    }

    /// Clicks a button or link that loads a new page, and waits until the new page has
    /// replaced the old one (chromedriver's click may return before that).
    pub async fn submit(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        for _ in 0..200 {
            let url = format!("{}{}", self.base, self.s(&format!("/element/{old}/name")));
            let gone = match self.http.get(url).send().await {
                Ok(r) => !r.status().is_success(),
                Err(_) => false,
            };
            if gone {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for _ in 0..200 {
            let v = self
                .call(
                    "POST",
                    &self.s("/execute/sync"),
                    Some(json!({ "script": "return document.readyState", "args": [] })),
                )
                .await;
            if v == "complete" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page did not finish loading after clicking {css}");
    }

    /// An element's visible text.
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call("GET", &self.s(&format!("/element/{el}/text")), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A form control's current value (what is in the field, typed or served).
    pub async fn value(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call(
            "GET",
            &self.s(&format!("/element/{el}/property/value")),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Whether a checkbox is checked.
    pub async fn checked(&self, css: &str) -> bool {
        let el = self.find(css).await;
        self.call("GET", &self.s(&format!("/element/{el}/selected")), None)
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Runs a script in the page (used only to forge a request, as an attacker's page would).
    pub async fn execute(&self, script: &str) {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
        .await;
    }

    /// Writes a full-page PNG screenshot to `dir/name` (Chrome's DevTools capture beyond the
    /// viewport; the plain WebDriver screenshot covers the window only).
    pub async fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let full = self
            .call(
                "POST",
                &self.s("/goog/cdp/execute"),
                Some(json!({ "cmd": "Page.captureScreenshot",
                             "params": { "format": "png", "captureBeyondViewport": true } })),
            )
            .await;
        let b64 = full["data"].clone();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot base64");
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the browser session and stops chromedriver.
    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}{}", self.base, self.s("")))
            .send()
            .await;
        self.session.clear();
        // Drop stops chromedriver and anything left of the browser.
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A failed test still stops what it started: the process group of the chromedriver we
        // spawned (Chromium included), by that id, then chromedriver itself.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where screenshots go: `target/screenshots/` (under `CARGO_TARGET_DIR` when set).
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
        .join("screenshots")
}
