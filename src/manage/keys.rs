//! `rotate-keys`.

use clap::Args;

use super::{CommandError, block_on, open_store};
use crate::core::oidc::ID_TOKEN_LIFETIME;
use crate::core::oidc::keys::{EncryptionKey, RELOAD_INTERVAL, rotate};
use crate::settings::Settings;

/// Arguments of `rotate-keys`.
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// Seconds the new key is published before it signs: longer than relying parties cache the
    /// JWK Set (`jwks.json` says max-age 300). At least 60, so every instance has read it.
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
    signs_in: i64,
}

/// Makes a new ID-token signing key of each algorithm and retires the current ones on the schedule of
/// [`rotate`], then says when each step happens.
pub(super) fn rotate_keys(settings: &Settings, args: RotateArgs) -> Result<(), CommandError> {
    let Some(kek) = settings.key_encryption_key.as_deref() else {
        return Err(CommandError::Usage(
            "set key_encryption_key (SCOPEGATE_KEY_ENCRYPTION_KEY): signing keys are stored \
             sealed with it"
                .into(),
        ));
    };
    if !(RELOAD_INTERVAL..=30 * 24 * 3600).contains(&args.signs_in) {
        return Err(CommandError::Usage(format!(
            "--signs-in must be {RELOAD_INTERVAL} to 2592000 seconds"
        )));
    }
    let kek = EncryptionKey::from_base64(kek).map_err(|e| CommandError::Usage(e.to_string()))?;
    let store = open_store(settings)?;
    let now = crate::core::now();
    let done = block_on(rotate(&store, &kek, args.signs_in, ID_TOKEN_LIFETIME, now))?
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    println!(
        "New signing keys {} (RS256, ES256, EdDSA) are published now and sign from {} (in {} s); \
         the keys they replace sign until then and stay published until {}. {} expired keys \
         removed.",
        done.kids.join(", "),
        done.signs_from,
        done.signs_from - now,
        done.old_published_until,
        done.pruned
    );
    Ok(())
}
