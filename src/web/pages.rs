//! The login and logout pages.

use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Request, Response, handler};
use tera::Context;

use super::error::PageError;
use super::extract::{ClientAddress, PageForm};
use super::reply::{found, with_cookie};
use super::request::query_params;
use super::session::{self, BrowserSession};
use super::state::State;
use crate::core::account::{PasswordRefused, check_password};
use crate::core::oidc;

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
pub async fn login_form(req: &Request, Data(state): Data<&State>) -> Result<Response, PageError> {
    let params = query_params(req).ok();
    let next = safe_next(params.as_ref().and_then(|p| p.get("next")));
    // OpenID Connect's `login_hint`, passed on by the authorization endpoint.
    let hint = oidc::login_hint(params.as_ref().and_then(|p| p.get("login_hint")));
    let (s, cookie) = session::load_or_create(state, req).await?;
    let page = login_page(state, &s, &next, hint.unwrap_or(""), None, StatusCode::OK);
    Ok(with_cookie(page, cookie))
}

/// `POST /login`: checks the password through the throttle it shares with the password grant
/// (per username and per address, in the database), and rotates the session on success.
#[handler]
pub async fn login(
    req: &Request,
    PageForm(form): PageForm,
    ClientAddress(ip): ClientAddress,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("").to_owned();
    let (s, cookie) = session::load_or_create(state, req).await?;
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
        return Ok(with_cookie(resp, cookie));
    }
    let password = form.get("password").unwrap_or("").to_owned();
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
        Err(PasswordRefused::Store(e)) => return Err(e.into()),
    };
    let mut resp = login_page(state, &s, &next, &username, Some(&message), status);
    if let Some(seconds) = retry_after
        && let Ok(value) = seconds.max(1).to_string().parse()
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Ok(resp)
}

/// Ends the anonymous session and starts a signed-in one (rotation: an id known before login
/// is useless after it), then sends the browser on.
async fn signed_in(
    state: &State,
    req: &Request,
    user: crate::core::model::User,
    next: &str,
) -> Result<Response, PageError> {
    session::destroy(state, req).await?;
    let username = user.username.clone();
    let (_, cookie) = session::create(state, Some(user)).await?;
    tracing::info!(user = ?username, "login");
    Ok(with_cookie(found(next), Some(cookie)))
}

/// `GET /logout`: a confirmation form (logging out is a state change, so it needs a POST).
#[handler]
pub async fn logout_form(req: &Request, Data(state): Data<&State>) -> Result<Response, PageError> {
    let (s, cookie) = session::load_or_create(state, req).await?;
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &s.session.csrf_token);
    ctx.insert("user", &s.user.as_ref().map(|u| &u.username));
    Ok(with_cookie(
        state.render(StatusCode::OK, "logout.html", &ctx),
        cookie,
    ))
}

/// `POST /logout`: deletes the session and expires the cookie. An unreadable form is one
/// without a CSRF token.
#[handler]
pub async fn logout(
    req: &Request,
    form: Option<PageForm>,
    Data(state): Data<&State>,
) -> Result<Response, PageError> {
    let form = form.map(|f| f.0).unwrap_or_default();
    match session::load(state, req).await? {
        Some(s) if s.csrf_ok(form.get("csrf_token")) => {
            session::destroy(state, req).await?;
            Ok(with_cookie(
                found("/login"),
                Some(session::set_cookie("", 0, state.settings.debug)),
            ))
        }
        _ => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Sign-out refused",
            "The sign-out form was not valid for this browser session.",
        )),
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
