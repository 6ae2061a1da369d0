//! Token-lifecycle events (issue 11): the store writes one audit log line, beside the admin
//! actions, for every token issued, refreshed, revoked, and for every replay it detects and
//! the family revocation that follows. Issuance and refresh lines are written in the same
//! transaction as the tokens, so no token exists without its line.
//!
//! A line names what it is about by storage id (`access=#12`), the client by its public id and
//! the user by name, and says which grant issued it: never a token, a code, a secret or a
//! family id, which are credentials or look like them.

use super::model::{AuthCode, GrantType, Token, TokenKind};

/// What happened to tokens, as the audit log's `action` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEvent {
    /// A grant issued an access token (and maybe a refresh token): `token.issued`.
    Issued,
    /// A refresh token was rotated into a new pair: `token.refreshed`.
    Refreshed,
    /// A spent code or refresh token came back: `token.reuse_detected`.
    ReuseDetected,
    /// One access token was revoked (RFC 7009 or the admin): `token.revoked`.
    Revoked,
    /// Every token of a grant family was revoked: `token.family_revoked`.
    FamilyRevoked,
}

impl TokenEvent {
    /// Every event, in the order of a token's life.
    pub const ALL: [TokenEvent; 5] = [
        Self::Issued,
        Self::Refreshed,
        Self::ReuseDetected,
        Self::Revoked,
        Self::FamilyRevoked,
    ];

    /// The audit log's `action` for it.
    pub fn action(self) -> &'static str {
        match self {
            Self::Issued => "token.issued",
            Self::Refreshed => "token.refreshed",
            Self::ReuseDetected => "token.reuse_detected",
            Self::Revoked => "token.revoked",
            Self::FamilyRevoked => "token.family_revoked",
        }
    }
}

/// A single-use credential that came back after it was spent: its family is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reused {
    /// A code or a refresh token.
    pub kind: ReusedKind,
    /// Its storage id.
    pub id: i64,
    /// The client it was issued to (storage key).
    pub client_id: i64,
    /// The user it acts for (storage key).
    pub user_id: Option<i64>,
}

/// What kind of credential was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReusedKind {
    /// An authorization code, redeemed a second time.
    Code,
    /// A rotated refresh token, spent again outside the grace window.
    Refresh,
}

impl Reused {
    /// A replayed authorization code.
    pub fn code(code: &AuthCode) -> Self {
        Reused {
            kind: ReusedKind::Code,
            id: code.id,
            client_id: code.client_id,
            user_id: Some(code.user_id),
        }
    }

    /// A refresh token spent again.
    pub fn refresh(token: &Token) -> Self {
        Reused {
            kind: ReusedKind::Refresh,
            id: token.id,
            client_id: token.client_id,
            user_id: token.user_id,
        }
    }

    /// The `token.reuse_detected` line's detail.
    pub fn detail(&self) -> String {
        match self.kind {
            ReusedKind::Code => format!("code=#{} replayed", self.id),
            ReusedKind::Refresh => format!("refresh=#{} reused", self.id),
        }
    }

    /// The `token.family_revoked` line's detail once `revoked` tokens ended.
    pub fn family_detail(&self, revoked: u64) -> String {
        let what = match self.kind {
            ReusedKind::Code => "code",
            ReusedKind::Refresh => "refresh",
        };
        format!("revoked={revoked} after reuse of {what}=#{}", self.id)
    }
}

/// Who ended a token through `revoke_token`, for the line's actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoker {
    /// A client through RFC 7009 (its public id): the token's own client or a resource server.
    Client(String),
    /// A person through the admin pages.
    Admin {
        /// Their storage key.
        id: i64,
        /// Their login name.
        username: String,
    },
}

impl Revoker {
    /// The line's `actor_id` and `actor`.
    pub fn actor(&self) -> (Option<i64>, String) {
        match self {
            Self::Client(client_id) => (None, client_actor(client_id)),
            Self::Admin { id, username } => (Some(*id), username.clone()),
        }
    }
}

/// How a lifecycle line names a client as its actor or target.
pub fn client_actor(public_id: &str) -> String {
    format!("client {public_id}")
}

/// The `token.issued` or `token.refreshed` line's detail: the grant and the new tokens' ids,
/// and what they were issued from (`code=#5`, `from=#11`).
pub fn issued_detail(
    grant: GrantType,
    access_id: i64,
    refresh_id: Option<i64>,
    from: Option<Source>,
) -> String {
    let mut detail = format!("grant={} access=#{access_id}", grant.as_str());
    if let Some(id) = refresh_id {
        detail.push_str(&format!(" refresh=#{id}"));
    }
    match from {
        Some(Source::Code(id)) => detail.push_str(&format!(" code=#{id}")),
        Some(Source::Rotated(id)) => detail.push_str(&format!(" from=#{id}")),
        Some(Source::Respent(id)) => {
            detail.push_str(&format!(" from=#{id} within the reuse grace"))
        }
        None => {}
    }
    detail
}

/// The line a revocation of one token (`token_id`, of `kind`) writes once `revoked` tokens
/// ended: `token.revoked` for an access token, `token.family_revoked` for a refresh token (it
/// takes its family), and none when nothing was live.
pub fn revocation(kind: TokenKind, token_id: i64, revoked: u64) -> Option<(TokenEvent, String)> {
    match (kind, revoked) {
        (_, 0) => None,
        (TokenKind::Access, _) => Some((TokenEvent::Revoked, format!("access=#{token_id}"))),
        (TokenKind::Refresh, n) => Some((
            TokenEvent::FamilyRevoked,
            format!("revoked={n} after revocation of refresh=#{token_id}"),
        )),
    }
}

/// What new tokens were issued from, for [`issued_detail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The authorization code redeemed (storage id).
    Code(i64),
    /// The refresh token rotated (storage id).
    Rotated(i64),
    /// The refresh token re-spent within the grace window (storage id).
    Respent(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_name_ids_and_the_grant_only() {
        assert_eq!(
            issued_detail(
                GrantType::AuthorizationCode,
                12,
                Some(11),
                Some(Source::Code(5))
            ),
            "grant=authorization_code access=#12 refresh=#11 code=#5"
        );
        assert_eq!(
            issued_detail(GrantType::ClientCredentials, 3, None, None),
            "grant=client_credentials access=#3"
        );
        assert_eq!(
            issued_detail(
                GrantType::RefreshToken,
                9,
                Some(8),
                Some(Source::Respent(4))
            ),
            "grant=refresh_token access=#9 refresh=#8 from=#4 within the reuse grace"
        );
        let reused = Reused {
            kind: ReusedKind::Refresh,
            id: 4,
            client_id: 1,
            user_id: None,
        };
        assert_eq!(reused.detail(), "refresh=#4 reused");
        assert_eq!(
            reused.family_detail(3),
            "revoked=3 after reuse of refresh=#4"
        );
    }

    #[test]
    fn a_revocation_that_ended_nothing_writes_no_line() {
        assert_eq!(revocation(TokenKind::Access, 7, 0), None);
        assert_eq!(
            revocation(TokenKind::Access, 7, 1),
            Some((TokenEvent::Revoked, "access=#7".to_owned()))
        );
        assert_eq!(
            revocation(TokenKind::Refresh, 8, 4),
            Some((
                TokenEvent::FamilyRevoked,
                "revoked=4 after revocation of refresh=#8".to_owned()
            ))
        );
    }

    #[test]
    fn actions_are_distinct_and_prefixed() {
        let actions: std::collections::BTreeSet<_> =
            TokenEvent::ALL.iter().map(|e| e.action()).collect();
        assert_eq!(actions.len(), TokenEvent::ALL.len());
        assert!(actions.iter().all(|a| a.starts_with("token.")));
    }
}
