//! A process-wide revocation generation. Every store method that revokes a token bumps it, so
//! an in-process cache of token validity can ignore entries made before the last revocation:
//! a revocation takes effect on the very next request this process serves. (Other instances
//! bound their caches by a short TTL instead.)

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current generation; compare it with the one a cache entry was made in.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Records that tokens were revoked: every cache entry made before now is stale.
pub fn note_revocation() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}
