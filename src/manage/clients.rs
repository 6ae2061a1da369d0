//! `register-client`.

use clap::Args;
use serde_json::json;

use super::{CommandError, block_on, open_store};
use crate::core::client_rules::{ClientDraft, Field};
use crate::core::model::{Approval, ClientPermissions};
use crate::core::store::StoreError;
use crate::core::store::prelude::*;
use crate::settings::Settings;

/// Arguments of `register-client`.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Display name (1 to 100 characters), shown to users on the consent page.
    #[arg(long)]
    name: String,
    /// Redirect URIs (absolute, no fragment, https unless loopback or debug), matched exactly.
    /// Repeat or list several (at most 20).
    #[arg(long = "redirect-uri", num_args = 1..)]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards (OpenID Connect), matched
    /// exactly; the same rules as --redirect-uri.
    #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
    post_logout_redirect_uris: Vec<String>,
    /// Grants: authorization_code, implicit, password, client_credentials, refresh_token.
    #[arg(long = "grant-type", num_args = 1.., required = true)]
    grant_types: Vec<String>,
    /// confidential (has a secret) or public (PKCE, no secret).
    #[arg(long)]
    client_type: String,
    /// The scopes the client may ask for. Repeat, list several, or quote a space-separated list.
    #[arg(long = "scope", num_args = 1.., required = true)]
    scopes: Vec<String>,
    /// Approve the client now (otherwise an administrator must approve it).
    #[arg(long)]
    approved: bool,
    /// Use this client_id instead of a random one.
    #[arg(long)]
    client_id: Option<String>,
    /// Print {"client_id": .., "client_secret": ..} as JSON.
    #[arg(long)]
    json: bool,
    /// This client's authorization code lifetime in seconds, 1 to 3600 (default: the server's).
    #[arg(long, allow_negative_numbers = true)]
    code_lifetime: Option<String>,
    /// This client's access token lifetime in seconds, 1 to 31536000 (default: the server's).
    #[arg(long, allow_negative_numbers = true)]
    access_token_lifetime: Option<String>,
    /// This client's refresh token lifetime in seconds, 1 to 315360000 (default: the server's).
    #[arg(long, allow_negative_numbers = true)]
    refresh_token_lifetime: Option<String>,
    /// Let this confidential client introspect and revoke tokens issued to any client (a
    /// resource server). Without it, a client sees and revokes only its own tokens.
    #[arg(long)]
    resource_server: bool,
    /// Let this public client leave out PKCE on oauthost's /auth/ route (legacy clients that
    /// cannot send a code_challenge). Weakens the client's protection against code theft.
    #[arg(long)]
    allow_public_without_pkce: bool,
    /// A first-party app: never show its users the consent page (unless it sends
    /// prompt=consent).
    #[arg(long)]
    skip_consent: bool,
    /// The algorithm its OpenID Connect ID tokens are signed with: RS256 (default), ES256 or
    /// EdDSA.
    #[arg(long = "id-token-alg", default_value = "RS256")]
    id_token_alg: String,
    /// public (default: the user's id) or pairwise (a `sub` of its own per redirect host;
    /// every redirect URI must be on one host).
    #[arg(long, default_value = "public")]
    subject_type: String,
    /// opaque (default: random strings that resource servers introspect) or jwt (RFC 9068
    /// JWTs that resource servers verify against the JWKS; needs `key_encryption_key`).
    #[arg(long, default_value = "opaque")]
    access_token_format: String,
}

fn usage(msg: impl Into<String>) -> CommandError {
    CommandError::Usage(msg.into())
}

/// The flag a draft field came from, so the one-line error names what to fix.
fn flag(field: Field) -> &'static str {
    match field {
        Field::Name => "--name",
        Field::ClientId => "--client-id",
        Field::ClientType => "--client-type",
        Field::GrantTypes => "--grant-type",
        Field::Scopes => "--scope",
        Field::RedirectUris => "--redirect-uri",
        Field::PostLogoutRedirectUris => "--post-logout-redirect-uri",
        Field::IdTokenAlg => "--id-token-alg",
        Field::SubjectType => "--subject-type",
        Field::AccessTokenFormat => "--access-token-format",
        Field::CodeLifetime => "--code-lifetime",
        Field::AccessTokenLifetime => "--access-token-lifetime",
        Field::RefreshTokenLifetime => "--refresh-token-lifetime",
        Field::ResourceServer => "--resource-server",
        Field::AllowPublicWithoutPkce => "--allow-public-without-pkce",
    }
}

/// Splits values that may each hold several (a quoted list) at every separator.
fn words(values: &[String], is_separator: fn(char) -> bool) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(is_separator))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn register(settings: &Settings, args: ClientArgs) -> Result<(), CommandError> {
    let draft = ClientDraft {
        client_id: args.client_id,
        name: args.name,
        client_type: args.client_type,
        grant_types: words(&args.grant_types, |c| c == ' ' || c == ','),
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        id_token_alg: args.id_token_alg,
        subject_type: args.subject_type,
        access_token_format: args.access_token_format,
        scopes: words(&args.scopes, char::is_whitespace),
        code_lifetime: args.code_lifetime,
        access_token_lifetime: args.access_token_lifetime,
        refresh_token_lifetime: args.refresh_token_lifetime,
        permissions: ClientPermissions {
            resource_server: args.resource_server,
            allow_public_without_pkce: args.allow_public_without_pkce,
            skip_consent: args.skip_consent,
        },
    };
    // Scopes may be registered later by `syncscopes`, so any well-formed one is accepted.
    let rules = settings.client_rules(None);
    // Every broken rule, still on the one line a usage error gets.
    let valid = draft.validate(&rules).map_err(|errors| {
        let each: Vec<String> = errors
            .iter()
            .map(|(field, e)| format!("{}: {e}", flag(field)))
            .collect();
        usage(each.join("; "))
    })?;
    let approval = if args.approved {
        Approval::Approved
    } else {
        Approval::Pending
    };
    let (new, secret) = valid.into_new_client(approval, None);
    let store = open_store(settings)?;
    let created = block_on(store.create_client(new))?;
    let client = match created {
        Ok(c) => c,
        Err(StoreError::Conflict(_)) => return Err(usage("that client_id is already registered")),
        Err(e) => return Err(CommandError::Failed(e.to_string())),
    };
    if args.json {
        println!(
            "{}",
            json!({ "client_id": client.client_id, "client_secret": secret })
        );
    } else {
        println!("Client {:?} registered.", client.name);
        println!("client_id:     {}", client.client_id);
        match secret {
            Some(s) => {
                println!("client_secret: {s}\n(shown once: store it now; only its hash is kept)")
            }
            None => println!("client_secret: none (public client: use PKCE)"),
        }
        if !args.approved {
            println!("The client is pending approval by an administrator.");
        }
        if client.permissions.resource_server {
            println!("Resource server: it may introspect and revoke any client's tokens.");
        }
        if client.permissions.allow_public_without_pkce {
            println!("Warning: it may leave out PKCE on /auth/ (legacy oauthost clients only).");
        }
        if client.permissions.skip_consent {
            println!("First-party: its users are not asked to consent.");
        }
        println!(
            "ID tokens: signed with {}, {} subject identifiers.",
            client.tokens.alg.as_str(),
            client.tokens.subject_type.as_str()
        );
        println!("Access tokens: {}.", client.tokens.access.as_str());
    }
    Ok(())
}
