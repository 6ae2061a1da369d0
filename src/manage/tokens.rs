//! `cleartokens`.

use clap::Args;

use super::{CommandError, block_on, open_store};
use crate::core::store::Cleared;
use crate::core::store::prelude::*;
use crate::settings::Settings;

/// Arguments of `cleartokens`.
#[derive(Args, Debug)]
pub struct ClearArgs {
    /// Rows deleted per statement; small batches keep each transaction short.
    #[arg(long, default_value_t = 1000)]
    batch_size: i64,
}

/// Deletes expired codes and tokens (and stale login attempts) in bounded batches until none
/// is left, then says how many went. Every instance may run it at once: a row deleted by one is
/// simply not found by the others.
pub(super) fn clear(settings: &Settings, args: ClearArgs) -> Result<(), CommandError> {
    if args.batch_size < 1 {
        return Err(CommandError::Usage(
            "--batch-size must be at least 1".into(),
        ));
    }
    let store = open_store(settings)?;
    let now = crate::core::now();
    let attempts_before = now - settings.password_attempt_window;
    let events_before = now.saturating_sub(settings.token_event_retention);
    let batch = u64::try_from(args.batch_size).unwrap_or(u64::MAX);
    let total = block_on(async {
        let mut total = Cleared::default();
        loop {
            let done = store
                .clear_expired(now, attempts_before, events_before, args.batch_size)
                .await
                .map_err(|e| CommandError::Failed(e.to_string()))?;
            total.codes += done.codes;
            total.tokens += done.tokens;
            total.attempts += done.attempts;
            total.sessions += done.sessions;
            total.events += done.events;
            total.nonces += done.nonces;
            // A kind that filled its batch may have more; the sessions count two kinds.
            if done.codes < batch
                && done.tokens < batch
                && done.attempts < batch
                && done.sessions < batch
                && done.events < batch
                && done.nonces < batch
            {
                return Ok::<_, CommandError>(total);
            }
        }
    })??;
    println!(
        "Deleted {} expired authorization codes, {} expired tokens, {} stale login attempts, \
         {} expired browser sessions and consent requests, {} token-lifecycle audit lines past \
         their retention, and {} spent sign-in nonces.",
        total.codes, total.tokens, total.attempts, total.sessions, total.events, total.nonces
    );
    Ok(())
}
