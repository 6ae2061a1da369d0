//! Method routing that answers a 405 with `Allow` (RFC 9110 §15.5.6 makes it a MUST).
//!
//! poem's `RouteMethod` answers an unrouted method with a bare 405 and does not say which
//! methods it has, so nothing outside it can add the header. [`Methods`] wraps it, keeps the
//! list, and is a drop-in for `poem::{get, post}` (`use scopegate::web::methods::{get, post}`).

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, IntoEndpoint, Request, Response, RouteMethod};

/// A `RouteMethod` that knows its methods. Build it with [`get`], [`post`] and the methods of
/// the same names.
#[derive(Default)]
pub struct Methods {
    inner: RouteMethod,
    allow: Vec<Method>,
}

/// The 405 answer for a resource that serves `allow`: the `Allow` header (with `HEAD` wherever
/// `GET` is, as poem serves it) and an RFC 6749-shaped JSON body.
pub fn method_not_allowed(allow: &[Method]) -> Response {
    let mut names: Vec<&str> = allow.iter().map(Method::as_str).collect();
    if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
        names.push("HEAD");
    }
    let list = names.join(", ");
    Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .content_type("application/json")
        .header(header::ALLOW, list.clone())
        .body(
            serde_json::json!({
                "error": "invalid_request",
                "error_description": format!("this resource allows only {list}"),
            })
            .to_string(),
        )
}

impl Methods {
    /// Routes `method` to `ep`.
    #[must_use]
    pub fn method<E>(mut self, method: Method, ep: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.allow.push(method.clone());
        self.inner = self.inner.method(method, ep);
        self
    }

    /// Routes `GET` (and so `HEAD`) to `ep`.
    #[must_use]
    pub fn get<E>(self, ep: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.method(Method::GET, ep)
    }

    /// Routes `POST` to `ep`.
    #[must_use]
    pub fn post<E>(self, ep: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.method(Method::POST, ep)
    }

    /// Routes `PUT` to `ep`.
    #[must_use]
    pub fn put<E>(self, ep: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.method(Method::PUT, ep)
    }

    /// Routes `DELETE` to `ep`.
    #[must_use]
    pub fn delete<E>(self, ep: E) -> Self
    where
        E: IntoEndpoint,
        E::Endpoint: 'static,
    {
        self.method(Method::DELETE, ep)
    }

    fn serves(&self, method: &Method) -> bool {
        self.allow.contains(method) || (method == Method::HEAD && self.allow.contains(&Method::GET))
    }
}

/// `Methods::default().get(ep)`.
pub fn get<E>(ep: E) -> Methods
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    Methods::default().get(ep)
}

/// `Methods::default().post(ep)`.
pub fn post<E>(ep: E) -> Methods
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    Methods::default().post(ep)
}

impl Endpoint for Methods {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if self.serves(req.method()) {
            self.inner.call(req).await
        } else {
            Ok(method_not_allowed(&self.allow))
        }
    }
}
