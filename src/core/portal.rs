//! Entities of the admin pages and the developer portal (issue 5): app profiles, team members,
//! the audit log, and the paged listings the admin shows. Kept apart from `model` so the
//! protocol's entities stay small.

/// What a developer tells users about an app: shown on the portal and the consent page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProfile {
    /// The client (storage key).
    pub client_id: i64,
    /// Free text, 127 to 511 words when written through the portal.
    pub description: String,
    /// An absolute `https` (or loopback) image URL, or empty.
    pub logo_url: String,
    /// The app's home page, or empty.
    pub homepage_url: String,
    /// The app's privacy policy, or empty.
    pub privacy_url: String,
    /// When the developer agreed to the developer terms (unix seconds).
    pub terms_agreed_at: Option<i64>,
}

/// A user who may edit an app besides its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user (storage key).
    pub user_id: i64,
    /// Their login name.
    pub username: String,
}

/// One line of the audit log: who did what to what, and when.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Storage key.
    pub id: i64,
    /// The acting user's login name (kept even if the user is deleted later).
    pub actor: String,
    /// A short verb such as `client.approve`.
    pub action: String,
    /// What was acted on, e.g. `client Polls (abc123)`.
    pub target: String,
    /// Extra detail (a rejection reason, a count).
    pub detail: String,
    /// Unix seconds.
    pub at: i64,
}

/// A new audit log line.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// The acting user (storage key).
    pub actor_id: Option<i64>,
    /// Their login name.
    pub actor: String,
    /// See [`AuditEntry::action`].
    pub action: String,
    /// See [`AuditEntry::target`].
    pub target: String,
    /// See [`AuditEntry::detail`].
    pub detail: String,
}

/// What is live now across every instance sharing the database: the dashboard's and
/// `/metrics`' `scopegate_active_tokens` / `scopegate_active_sessions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Access tokens neither expired nor revoked.
    pub access_tokens: i64,
    /// Refresh tokens neither expired, revoked nor rotated away.
    pub refresh_tokens: i64,
    /// Signed-in browser sessions not expired.
    pub sessions: i64,
}

/// A page request for an admin listing.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Case-insensitive substring to look for (names, usernames, client ids); empty for all.
    pub search: String,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// One page of a listing and the number of rows matching in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match the search altogether.
    pub total: i64,
}

/// An authorization code as the admin lists it (the code itself is never stored).
#[derive(Debug, Clone)]
pub struct CodeSummary {
    /// Storage key.
    pub id: i64,
    /// Client storage key, public id and name.
    pub client_id: i64,
    /// The client's public id.
    pub client_public_id: String,
    /// The client's name.
    pub client_name: String,
    /// User storage key.
    pub user_id: i64,
    /// The user's login name.
    pub username: String,
    /// Granted scope.
    pub scope: String,
    /// Issue time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was redeemed.
    pub used_at: Option<i64>,
}

/// A token as the admin lists it.
#[derive(Debug, Clone)]
pub struct TokenSummary {
    /// Storage key.
    pub id: i64,
    /// `access` or `refresh`.
    pub kind: String,
    /// Client storage key.
    pub client_id: i64,
    /// The client's public id.
    pub client_public_id: String,
    /// The client's name.
    pub client_name: String,
    /// User storage key (none for client_credentials).
    pub user_id: Option<i64>,
    /// The user's login name, or empty.
    pub username: String,
    /// Granted scope.
    pub scope: String,
    /// Issue time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When it was rotated away (refresh tokens).
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A consent as the admin lists it.
#[derive(Debug, Clone)]
pub struct ConsentSummary {
    /// Storage key.
    pub id: i64,
    /// Client storage key.
    pub client_id: i64,
    /// The client's name.
    pub client_name: String,
    /// User storage key.
    pub user_id: i64,
    /// The user's login name.
    pub username: String,
    /// Granted scope.
    pub scope: String,
    /// Last granted.
    pub updated_at: i64,
}

/// What a single-use form nonce claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// This request claimed the nonce and should do the work.
    First,
    /// The form was submitted before; `result` is what the first submission recorded (for
    /// example the new client's id), empty while it is still in flight.
    Repeated(String),
}
