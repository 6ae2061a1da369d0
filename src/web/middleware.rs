//! What wraps every request: the request log line, the HTTPS rule, and security headers.

use std::time::Instant;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};

use super::error::PageError;
use crate::settings::Settings;

/// True when the request reached us over TLS: directly, or through a trusted proxy that says so
/// in `X-Forwarded-Proto`. The header is ignored from anyone else, who could forge it.
pub fn is_secure(req: &Request, settings: &Settings) -> bool {
    if req.scheme() == &poem::http::uri::Scheme::HTTPS {
        return true;
    }
    let from_proxy = req
        .remote_addr()
        .as_socket_addr()
        .is_some_and(|a| settings.trusted_proxies.contains(&a.ip()));
    from_proxy
        && req
            .header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The middleware body: refuses plain HTTP unless `debug`, logs one line per request (path only:
/// query strings may carry codes and tokens), and adds security headers.
pub async fn around<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: Request,
    state: crate::web::state::State,
) -> poem::Result<Response> {
    let settings = &state.settings;
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let probe = super::health::PATHS.contains(&path.as_str());
    let mut resp = if settings.debug || probe || is_secure(&req, settings) {
        match ep.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => {
                // The router tags its errors with the route too; the response would lose it.
                let route = e.data::<PathPattern>().cloned();
                // A page's refusal is rendered here, where the templates are.
                let mut resp = match e.downcast_ref::<PageError>() {
                    Some(page) => state.error_page(page.status, &page.title, &page.message),
                    None => e.into_response(),
                };
                if let Some(route) = route {
                    resp.set_data(route);
                }
                resp
            }
        }
    } else {
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .content_type("application/json")
            .body(r#"{"error":"invalid_request","error_description":"HTTPS is required"}"#)
    };
    if crate::core::metrics::enabled() {
        let route = resp.data::<PathPattern>().map_or("unmatched", |p| &p.0);
        let seconds = started.elapsed().as_secs_f64();
        crate::core::metrics::http_request(
            route,
            method_label(&method),
            resp.status().as_u16(),
            seconds,
        );
    }
    let headers = resp.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(name, poem::http::HeaderValue::from_static(value));
    }
    if probe {
        return Ok(resp);
    }
    tracing::info!(
        method = ?method,
        path = ?path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(resp)
}

/// A method as a metric label: the standard ones by name, any other as `other` (a client may
/// send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
