//! Small answers every kind of handler sends: redirects, and a cookie to set.

use poem::Response;
use poem::http::StatusCode;

/// A `302 Found` to `location`, never cached.
pub fn found(location: &str) -> Response {
    redirect(StatusCode::FOUND, location)
}

/// A redirect after a successful POST (post/redirect/get).
pub fn see_other(location: &str) -> Response {
    redirect(StatusCode::SEE_OTHER, location)
}

fn redirect(status: StatusCode, location: &str) -> Response {
    Response::builder()
        .status(status)
        .header("location", location)
        .header("cache-control", "no-store")
        .finish()
}

/// Adds a `Set-Cookie` header when there is one to set.
pub fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie
        && let Ok(value) = c.parse()
    {
        resp.headers_mut().append("set-cookie", value);
    }
    resp
}
