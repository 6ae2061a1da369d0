//! What the output of `#[oauth_required]` names, and nothing else. Not a public API: it may
//! change in any release.

pub use crate::guard::{Guard, GuardSpec, require};
pub use crate::registry::{GuardEntry, GuardKind, Registered, ScopeSpec};
pub use inventory;
