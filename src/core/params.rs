//! Request parameters with the rules of RFC 6749 §3.1 and §3.2: a parameter may not be repeated,
//! and one sent without a value is treated as omitted.

use std::collections::HashMap;

use super::error::OAuthError;

/// The longest parameter value accepted, in bytes. Every identifier, URI and `state` fits with
/// room to spare; the bound keeps oversized values away from the database, whose indexes
/// refuse keys past about 2.7 kB (PostgreSQL's B-tree limit).
pub const MAX_VALUE: usize = 2048;

/// The longest value of a parameter that carries a token (`token`, `refresh_token`,
/// `id_token_hint`): only its hash reaches the database, and signed tokens can be long.
pub const MAX_TOKEN_VALUE: usize = 16 * 1024;

/// The longest parameter name accepted, in bytes.
const MAX_NAME: usize = 128;

/// Refuses a value no database may receive: one with a NUL byte (PostgreSQL cannot store it in
/// text) or longer than `max` bytes. The message names the parameter, never echoes its value.
///
/// ```
/// use scopegate::core::params::check_value;
/// assert!(check_value("state", "xyz", 2048).is_ok());
/// assert!(check_value("state", "a\0b", 2048).is_err());
/// assert!(check_value("username", &"u".repeat(2049), 2048).is_err());
/// ```
pub fn check_value(name: &str, value: &str, max: usize) -> Result<(), String> {
    let shown: String = name.chars().take(40).collect();
    if value.contains('\0') || name.contains('\0') {
        Err(format!(
            "parameter `{}` contains a NUL byte",
            shown.escape_default()
        ))
    } else if name.len() > MAX_NAME {
        Err(format!(
            "parameter name `{}...` is too long",
            shown.escape_default()
        ))
    } else if value.len() > max {
        Err(format!("parameter `{shown}` is longer than {max} bytes"))
    } else {
        Ok(())
    }
}

/// The length bound of parameter `name`.
fn max_len(name: &str) -> usize {
    match name {
        "token" | "refresh_token" | "access_token" | "id_token_hint" | "assertion" => {
            MAX_TOKEN_VALUE
        }
        _ => MAX_VALUE,
    }
}

/// The parameters of one request (query string or form body).
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Builds the map, refusing with `invalid_request` a repeated parameter, a NUL byte, or a
    /// value past its length bound ([`check_value`]): bad input ends here, at the edge.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (name, value) in pairs {
            check_value(&name, &value, max_len(&name)).map_err(OAuthError::invalid_request)?;
            if map.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` is repeated"
                )));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }

    /// A parameter's value; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A parameter that must be present, else `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }
}

impl Params {
    /// Sets `name` to `value` when the request did not give it (Omniport's authorise URL has no
    /// `response_type`: it means `code`).
    pub fn with_default(mut self, name: &str, value: &str) -> Self {
        if self.get(name).is_none() {
            self.0.insert(name.to_owned(), value.to_owned());
        }
        self
    }

    /// Reads the parameter `alias` as `name` (onesait's `clientId` for `client_id`). Both given
    /// with different values is `invalid_request`.
    pub fn with_alias(mut self, alias: &str, name: &str) -> Result<Self, OAuthError> {
        let Some(value) = self.0.remove(alias).filter(|v| !v.is_empty()) else {
            return Ok(self);
        };
        match self.get(name) {
            Some(existing) if existing != value => Err(OAuthError::invalid_request(format!(
                "`{alias}` and `{name}` differ"
            ))),
            Some(_) => Ok(self),
            None => {
                self.0.insert(name.to_owned(), value);
                Ok(self)
            }
        }
    }
}
