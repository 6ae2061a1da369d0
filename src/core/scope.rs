//! Scopes as RFC 6749 §3.3 defines them: a space-separated, order-free set of scope tokens.

use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens, kept sorted so that its string form is canonical.
///
/// ```
/// use scopegate::core::scope::ScopeSet;
/// let wide: ScopeSet = "polls:vote polls:stats".parse().unwrap();
/// let narrow: ScopeSet = "polls:vote".parse().unwrap();
/// assert!(narrow.is_subset(&wide));
/// assert!(!wide.is_subset(&narrow));
/// assert_eq!(wide.to_string(), "polls:stats polls:vote");
/// assert!("polls:vote \"x".parse::<ScopeSet>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A token holds a character outside `%x21 / %x23-5B / %x5D-7E`.
    #[error("scope token {0:?} has a character RFC 6749 §3.3 does not allow")]
    BadCharacter(String),
    /// Two spaces in a row, or a leading or trailing space: an empty token.
    #[error("the scope has an empty token (stray space)")]
    Empty,
}

/// True when `token` is a valid RFC 6749 §3.3 scope-token.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// True when every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }
    /// True when the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }
    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The tokens in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Every token of `self` and of `other`.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }
    /// The tokens of `self` missing from `other`.
    pub fn missing_from<'a>(&'a self, other: &'a ScopeSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }
}

impl std::str::FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = BTreeSet::new();
        if s.is_empty() {
            return Ok(Self(set));
        }
        for token in s.split(' ') {
            if token.is_empty() {
                return Err(ScopeError::Empty);
            }
            if !is_scope_token(token) {
                return Err(ScopeError::BadCharacter(token.to_owned()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_rfc_6749_rejects() {
        for bad in ["a  b", " a", "a ", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(
                bad.parse::<ScopeSet>().is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(
            "".parse::<ScopeSet>()
                .map(|s| s.is_empty())
                .unwrap_or(false)
        );
    }

    #[test]
    fn is_order_free_and_deduplicated() {
        let a: ScopeSet = "b a a".parse().unwrap_or_default();
        assert_eq!(a.to_string(), "a b");
    }
}
