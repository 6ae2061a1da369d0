//! What the output of `#[oauth_required]` names, and nothing else. Not a public API: it may
//! change in any release.

pub use crate::registry::{GuardEntry, GuardKind, Registered, ScopeSpec};
pub use crate::web::guard::{Guard, GuardSpec};
pub use crate::web::openapi::ApiGuard;
pub use inventory;
