//! Turning HTTP requests into inputs: OAuth parameters, client credentials, HTML forms, the
//! caller's address, cookies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use poem::{Body, Request};

use crate::core::error::OAuthError;
use crate::core::params::{MAX_VALUE, Params, check_value};

/// The largest form body accepted: OAuth requests are small, and a 511-word description fits
/// many times over.
const MAX_BODY: usize = 64 * 1024;

/// How much of an over-long body is still read, and dropped, before the answer: a client that
/// sent a little too much reads its error instead of a reset connection (it is still writing
/// when the server would otherwise answer and close). Past this it is cut off.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// The whole body when it is at most `limit` bytes; `None` when it is longer or unreadable.
/// Every body this server reads goes through here.
pub async fn read_bounded(body: Body, limit: usize) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut reader = body.into_async_read();
    let mut bytes = Vec::new();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    (&mut reader)
        .take(most)
        .read_to_end(&mut bytes)
        .await
        .ok()?;
    if bytes.len() > limit {
        let _ = tokio::io::copy(&mut reader.take(DRAIN_LIMIT), &mut tokio::io::sink()).await;
        return None;
    }
    Some(bytes)
}

/// Parses an `application/x-www-form-urlencoded` string into parameters.
pub fn parse_form(text: &[u8]) -> Result<Params, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(text)
        .map_err(|_| OAuthError::invalid_request("the parameters are not valid form encoding"))?;
    Params::from_pairs(pairs)
}

/// The query string's parameters.
pub fn query_params(req: &Request) -> Result<Params, OAuthError> {
    parse_form(req.uri().query().unwrap_or("").as_bytes())
}

/// Whether the request declares an `application/x-www-form-urlencoded` body (parameters such as
/// `; charset=utf-8` ignored); shared with the HTML forms so both read bodies by the same rule.
pub fn is_form(req: &Request) -> bool {
    req.content_type()
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Reads a form body; RFC 6749 §3.2 requires `application/x-www-form-urlencoded`.
pub async fn form_params(req: &Request, body: Body) -> Result<Params, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = read_bounded(body, MAX_BODY)
        .await
        .ok_or_else(|| OAuthError::invalid_request("the body is unreadable or too large"))?;
    parse_form(&bytes)
}

/// Decodes `Authorization: Basic` client credentials. RFC 6749 §2.3.1 form-encodes the id and
/// secret before base64, so both are form-decoded here.
pub fn basic_credentials(req: &Request) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.header("authorization") else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| form_urlencoded_decode(s).ok_or_else(bad);
    let (id, secret) = (decode(id)?, decode(secret)?);
    // The same edge rule as every other parameter: no NUL, bounded length.
    check_value("client_id", &id, MAX_VALUE).map_err(OAuthError::invalid_request)?;
    check_value("client_secret", &secret, MAX_VALUE).map_err(OAuthError::invalid_request)?;
    Ok(Some((id, secret)))
}

fn form_urlencoded_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// The query string's parameters together with a form body's (when the body is a form), for
/// endpoints that providers documented with either: onesait's `check_token` and `revoke_token`
/// take `token` in the query. A parameter given in both places counts as repeated.
pub async fn query_and_form(req: &Request, body: Body) -> Result<Params, OAuthError> {
    let bad = || OAuthError::invalid_request("the parameters are not valid form encoding");
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).map_err(|_| bad())?;
    if is_form(req) {
        let bytes = read_bounded(body, MAX_BODY)
            .await
            .ok_or_else(|| OAuthError::invalid_request("the body is unreadable or too large"))?;
        let body_pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| bad())?;
        pairs.extend(body_pairs);
    }
    Params::from_pairs(pairs)
}

/// The longest field accepted: a 511-word description fits, a database index key need not
/// (descriptions are not indexed; names and identifiers are bounded by their own rules).
const MAX_FIELD: usize = 16 * 1024;

/// A decoded HTML form (`application/x-www-form-urlencoded`): unlike an OAuth request's
/// parameters, names may repeat (checkboxes).
#[derive(Debug, Clone, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Parses pairs from urlencoded bytes; `None` for undecodable input or a value no database
    /// may receive (a NUL byte, or longer than [`MAX_FIELD`]).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
        pairs
            .iter()
            .all(|(k, v)| check_value(k, v, MAX_FIELD).is_ok())
            .then_some(Self(pairs))
    }

    /// Reads a request body; `None` when it is not a form, is too large, or fails [`Self::parse`].
    pub async fn read(req: &Request, body: Body) -> Option<Self> {
        if !is_form(req) {
            return None;
        }
        let bytes = read_bounded(body, MAX_BODY).await?;
        Self::parse(&bytes)
    }

    /// The first value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The caller's IP address, for throttling: the socket peer, or, when that peer is a trusted
/// proxy, the last address it appended to `X-Forwarded-For` (earlier entries are the client's
/// own claims and could be forged).
#[cfg(feature = "server")]
pub fn client_ip(req: &Request, settings: &crate::settings::Settings) -> String {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded = peer
        .filter(|ip| settings.trusted_proxies.contains(ip))
        .and_then(|_| req.header("x-forwarded-for"))
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    forwarded
        .or_else(|| peer.map(|ip| ip.to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The value of a cookie named `name`.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let req = Request::builder()
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode("my%20app:s%2Bc+t")),
            )
            .finish();
        let creds = basic_credentials(&req).ok().flatten();
        assert_eq!(creds, Some(("my app".into(), "s+c t".into())));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(parse_form(b"a=1&a=2").is_err());
        assert_eq!(
            parse_form(b"a=&b=2")
                .ok()
                .and_then(|p| p.get("a").map(str::to_owned)),
            None
        );
    }
}
