//! `register-client`.

use clap::Args;
use serde_json::json;

use super::{CommandError, block_on, open_store};
use crate::core::model::{
    Approval, ClientPermissions, ClientType, GrantType, LifetimeKind, NewClient, check_client_shape,
};
use crate::core::scope::ScopeSet;
use crate::core::secret::{generate_id, generate_token, hash_secret};
use crate::core::store::StoreError;
use crate::core::store::prelude::*;
use crate::settings::Settings;

/// Arguments of `register-client`.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Display name, shown to users on the consent page.
    #[arg(long)]
    name: String,
    /// Redirect URIs (absolute, no fragment), matched exactly. Repeat or list several.
    #[arg(long = "redirect-uri", num_args = 1..)]
    redirect_uris: Vec<String>,
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
}

fn usage(msg: impl Into<String>) -> CommandError {
    CommandError::Usage(msg.into())
}

/// Checks a redirect URI as RFC 6749 §3.1.2 asks: absolute, without a fragment.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("redirect URI {uri:?}: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("redirect URI {uri:?} must not have a fragment"));
    }
    if uri.chars().any(char::is_whitespace) {
        return Err(format!("redirect URI {uri:?} must not contain spaces"));
    }
    Ok(())
}

pub(super) fn register(settings: &Settings, args: ClientArgs) -> Result<(), CommandError> {
    let client_type = ClientType::parse(&args.client_type).ok_or_else(|| {
        usage(format!(
            "--client-type must be confidential or public, not {:?}",
            args.client_type
        ))
    })?;
    let mut grant_types = Vec::new();
    for g in args
        .grant_types
        .iter()
        .flat_map(|g| g.split([' ', ',']))
        .filter(|g| !g.is_empty())
    {
        let grant = GrantType::parse(g).ok_or_else(|| {
            usage(format!(
                "unknown grant type {g:?}; use authorization_code, implicit, password, client_credentials or refresh_token"
            ))
        })?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    let scope_text = args.scopes.join(" ");
    let scopes: ScopeSet = scope_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .parse()
        .map_err(|e| usage(format!("--scope: {e}")))?;
    for uri in &args.redirect_uris {
        check_redirect_uri(uri).map_err(usage)?;
    }
    let needs_redirect = grant_types
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if needs_redirect && args.redirect_uris.is_empty() {
        return Err(usage(
            "--redirect-uri is required for the authorization_code and implicit grants",
        ));
    }
    let permissions = ClientPermissions {
        resource_server: args.resource_server,
        allow_public_without_pkce: args.allow_public_without_pkce,
    };
    check_client_shape(client_type, &grant_types, permissions).map_err(usage)?;
    let lifetime = |flag: &str, kind: LifetimeKind, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| kind.parse(v).map_err(|e| usage(format!("{flag} {e}"))))
            .transpose()
    };
    let code_lifetime = lifetime("--code-lifetime", LifetimeKind::Code, &args.code_lifetime)?;
    let access_token_lifetime = lifetime(
        "--access-token-lifetime",
        LifetimeKind::Access,
        &args.access_token_lifetime,
    )?;
    let refresh_token_lifetime = lifetime(
        "--refresh-token-lifetime",
        LifetimeKind::Refresh,
        &args.refresh_token_lifetime,
    )?;
    let client_id = match args.client_id {
        Some(id) if !id.is_empty() && id.chars().all(|c| c.is_ascii_graphic() && c != ':') => id,
        Some(id) => {
            return Err(usage(format!(
                "invalid --client-id {id:?}: use printable ASCII without ':'"
            )));
        }
        None => generate_id(32),
    };
    let secret = (client_type == ClientType::Confidential).then(generate_token);
    let store = open_store(settings)?;
    let created = block_on(store.create_client(NewClient {
        client_id,
        secret_hash: secret.as_deref().map(hash_secret),
        name: args.name,
        client_type,
        grant_types,
        redirect_uris: args.redirect_uris,
        scopes,
        approval: if args.approved {
            Approval::Approved
        } else {
            Approval::Pending
        },
        code_lifetime,
        access_token_lifetime,
        refresh_token_lifetime,
        owner_id: None,
        permissions,
    }))?;
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
    }
    Ok(())
}
