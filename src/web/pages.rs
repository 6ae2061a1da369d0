//! The login and logout pages.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use tera::Context;

use super::request::{client_ip, form_params, query_params};
use super::session::{self, BrowserSession};
use super::state::State;
use crate::core::account::{PasswordRefused, check_password};

/// The post-login destination: a same-origin path, or `/`. Anything else would be an open
/// redirect. The value is read the way a browser reads a `Location` (the WHATWG URL parser,
/// which drops tabs and newlines anywhere and reads `\` as `/`), so `/\t/evil.example/`, which
/// a browser turns into `//evil.example/`, is refused like `//evil.example/` itself. What is
/// returned is that parser's own serialization of the path, so the browser cannot read it
/// differently.
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(same_origin_path)
        .unwrap_or_else(|| "/".to_owned())
}

fn same_origin_path(raw: &str) -> Option<String> {
    // Any host would do: only "does the value leave it?" matters.
    let base = url::Url::parse("http://scopegate.invalid/").ok()?;
    let visible: String = raw
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    // A path, not a scheme (`javascript:`), a relative reference or a network path; other
    // control characters have no business in a destination.
    if !visible.starts_with(['/', '\\']) || visible.chars().any(char::is_control) {
        return None;
    }
    let joined = base.join(raw).ok()?;
    if joined.origin() != base.origin() {
        return None;
    }
    let path = &joined[url::Position::BeforePath..];
    // Dot segments can fold `/.//evil` into `//evil`: the result must stay a path too.
    (path.starts_with('/') && !path.starts_with("//")).then(|| path.to_owned())
}

/// A `302 Found` to `location`, never cached.
pub(super) fn found(location: &str) -> poem::ResponseBuilder {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .header("cache-control", "no-store")
}

/// Adds a `Set-Cookie` header when there is one to set.
pub(super) fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie
        && let Ok(value) = c.parse()
    {
        resp.headers_mut().append("set-cookie", value);
    }
    resp
}

fn login_page(
    state: &State,
    s: &BrowserSession,
    next: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &s.session.csrf_token);
    ctx.insert("next", next);
    ctx.insert("username", username);
    ctx.insert("error", &error);
    ctx.insert("user", &s.user.as_ref().map(|u| &u.username));
    state.render(status, "login.html", &ctx)
}

/// `GET /login`: the sign-in form (an anonymous session is made to carry its CSRF token).
#[handler]
pub async fn login_form(req: &Request, Data(state): Data<&State>) -> Response {
    let next = safe_next(query_params(req).ok().as_ref().and_then(|p| p.get("next")));
    match session::load_or_create(state, req).await {
        Ok((s, cookie)) => with_cookie(
            login_page(state, &s, &next, "", None, StatusCode::OK),
            cookie,
        ),
        Err(e) => state.unavailable_page(&e),
    }
}

/// `POST /login`: checks the password through the throttle it shares with the password grant
/// (per username and per address, in the database), and rotates the session on success.
#[handler]
pub async fn login(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let Ok(form) = form_params(req, body).await else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
        );
    };
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("").to_owned();
    let (s, cookie) = match session::load_or_create(state, req).await {
        Ok(v) => v,
        Err(e) => return state.unavailable_page(&e),
    };
    if cookie.is_some() || !s.csrf_ok(form.get("csrf_token")) {
        // No session yet, or a forged form: show a fresh form rather than acting on it.
        let resp = login_page(
            state,
            &s,
            &next,
            &username,
            Some("Your sign-in form expired. Please try again."),
            StatusCode::FORBIDDEN,
        );
        return with_cookie(resp, cookie);
    }
    let password = form.get("password").unwrap_or("").to_owned();
    let ip = client_ip(req, &state.settings);
    let checked = check_password(
        state.store.as_ref(),
        &state.password_gate,
        state.settings.password_throttle(),
        &username,
        password,
        &ip,
        crate::core::now(),
    )
    .await;
    let (message, status, retry_after) = match checked {
        Ok(user) => return signed_in(state, req, user, &next).await,
        Err(PasswordRefused::Wrong) => {
            tracing::info!(username = ?username, "login refused");
            (
                "Wrong username or password.".to_owned(),
                StatusCode::OK,
                None,
            )
        }
        Err(PasswordRefused::Throttled(t)) => (
            format!(
                "Too many failed sign-in attempts for this account or from your network. \
                 Please wait {} seconds and try again.",
                t.retry_after
            ),
            StatusCode::TOO_MANY_REQUESTS,
            Some(t.retry_after),
        ),
        Err(PasswordRefused::Busy(b)) => (
            "The server is busy right now. Please try again in a moment.".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE,
            Some(b.retry_after),
        ),
        Err(PasswordRefused::Store(e)) => return state.unavailable_page(&e),
    };
    let mut resp = login_page(state, &s, &next, &username, Some(&message), status);
    if let Some(seconds) = retry_after
        && let Ok(value) = seconds.max(1).to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

/// Ends the anonymous session and starts a signed-in one (rotation: an id known before login
/// is useless after it), then sends the browser on.
async fn signed_in(
    state: &State,
    req: &Request,
    user: crate::core::model::User,
    next: &str,
) -> Response {
    if let Err(e) = session::destroy(state, req).await {
        return state.unavailable_page(&e);
    }
    let username = user.username.clone();
    match session::create(state, Some(user)).await {
        Ok((_, cookie)) => {
            tracing::info!(user = ?username, "login");
            with_cookie(found(next).finish(), Some(cookie))
        }
        Err(e) => state.unavailable_page(&e),
    }
}

/// `GET /logout`: a confirmation form (logging out is a state change, so it needs a POST).
#[handler]
pub async fn logout_form(req: &Request, Data(state): Data<&State>) -> Response {
    match session::load_or_create(state, req).await {
        Ok((s, cookie)) => {
            let mut ctx = Context::new();
            ctx.insert("csrf_token", &s.session.csrf_token);
            ctx.insert("user", &s.user.as_ref().map(|u| &u.username));
            with_cookie(state.render(StatusCode::OK, "logout.html", &ctx), cookie)
        }
        Err(e) => state.unavailable_page(&e),
    }
}

/// `POST /logout`: deletes the session and expires the cookie.
#[handler]
pub async fn logout(req: &Request, body: Body, Data(state): Data<&State>) -> Response {
    let form = form_params(req, body).await.unwrap_or_default();
    match session::load(state, req).await {
        Ok(Some(s)) if s.csrf_ok(form.get("csrf_token")) => {
            if let Err(e) = session::destroy(state, req).await {
                return state.unavailable_page(&e);
            }
            with_cookie(
                found("/login").finish(),
                Some(session::set_cookie("", 0, state.settings.debug)),
            )
        }
        Ok(_) => state.error_page(
            StatusCode::FORBIDDEN,
            "Sign-out refused",
            "The sign-out form was not valid for this browser session.",
        ),
        Err(e) => state.unavailable_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_read_as_a_browser_reads_it() {
        for (next, expected) in [
            ("/polls/1?x=1", "/polls/1?x=1"),
            ("/\t/evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("\\/evil.example", "/"),
            ("/.//evil.example", "/"),
            ("https://evil.example", "/"),
        ] {
            assert_eq!(safe_next(Some(next)), expected, "{next:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
