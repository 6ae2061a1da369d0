//! Request parameters with the rules of RFC 6749 §3.1 and §3.2: a parameter may not be repeated,
//! and one sent without a value is treated as omitted.

use std::collections::HashMap;

use super::error::OAuthError;

/// The parameters of one request (query string or form body).
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Builds the map, refusing a repeated parameter with `invalid_request`.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (name, value) in pairs {
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

// Issue 4: grants and lifecycle (compatibility spellings)
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
