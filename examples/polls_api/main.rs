//! The polls JSON API as a service of its own: the same guarded handlers as the polls demo,
//! checking the demo's tokens in resource-server mode.
//!
//! ```text
//! cargo run --example polls                      # the issuer, on 127.0.0.1:8000
//! cargo run --example polls_api -- --issuer http://127.0.0.1:8000 --addr 127.0.0.1:8100
//! cargo run --example polls_api -- --validation introspect ...   # SCOPEGATE_CLIENT_ID/SECRET
//! cargo run --example polls_api -- syncscopes --database-url sqlite://polls.db polls
//! ```
//!
//! `syncscopes` (and every other scopegate command) runs against the issuer's database, so the
//! scopes this service guards reach the issuer's consent page.

#[path = "../polls/polls.rs"]
mod polls;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use poem::Route;
use poem::listener::{Acceptor, Listener, TcpListener};
use scopegate::resource_server::{Config, ResourceServer, Validation};
use scopegate::web::server::{Timeouts, serve};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// Verify RFC 9068 JWT access tokens against the issuer's JWKS.
    Jwt,
    /// Ask the issuer's introspection endpoint (RFC 7662).
    Introspect,
}

/// The polls API, guarded by the issuer's tokens.
#[derive(Parser, Debug)]
#[command(name = "polls_api")]
struct Args {
    /// The authorization server whose tokens are accepted.
    #[arg(
        long,
        env = "SCOPEGATE_ISSUER",
        default_value = "http://127.0.0.1:8000"
    )]
    issuer: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8100")]
    addr: String,
    /// How tokens are checked.
    #[arg(long, value_enum, default_value = "jwt")]
    validation: Mode,
    /// This service's resource identifier, the `aud` its tokens must carry (clients ask for
    /// it with `resource=`); default `http://ADDR`.
    #[arg(long)]
    resource: Option<String>,
    /// This service's client at the issuer, for introspection.
    #[arg(long, env = "SCOPEGATE_CLIENT_ID", hide_env_values = true)]
    client_id: Option<String>,
    /// Its secret.
    #[arg(long, env = "SCOPEGATE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Longest reuse of an introspection answer, in seconds.
    #[arg(long, default_value_t = 30)]
    cache_max_age: i64,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // scopegate's own commands (syncscopes, migrate, ...) run against the issuer's database.
    let first = std::env::args().nth(1).unwrap_or_default();
    if !first.is_empty() && !first.starts_with('-') {
        return scopegate::Scopegate::new().name("polls_api").run();
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let validation = match args.validation {
        Mode::Jwt => Validation::Jwt,
        Mode::Introspect => match (args.client_id, args.client_secret) {
            (Some(client_id), Some(client_secret)) => Validation::Introspect {
                client_id,
                client_secret,
            },
            _ => {
                return usage(
                    "--validation introspect needs SCOPEGATE_CLIENT_ID and SCOPEGATE_CLIENT_SECRET",
                );
            }
        },
    };
    let resource = args
        .resource
        .unwrap_or_else(|| format!("http://{}", args.addr));
    let mut config = Config::new(&args.issuer, &resource, validation);
    config.cache_max_age = args.cache_max_age;
    let server = match ResourceServer::new(config) {
        Ok(server) => server,
        Err(e) => return usage(&e),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SCOPEGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage(&e.to_string()),
    };
    runtime.block_on(async move {
        let acceptor = match TcpListener::bind(args.addr.as_str()).into_acceptor().await {
            Ok(acceptor) => acceptor,
            Err(e) => return usage(&format!("cannot listen on {}: {e}", args.addr)),
        };
        let bound = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .map_or_else(|| args.addr.clone(), |a| a.to_string());
        println!(
            "\n  polls API on http://{bound}/ (resource {resource}), tokens from {}\n",
            server.config().issuer
        );
        let app = server.app(polls::routes(Route::new()));
        let timeouts = Timeouts {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            keep_alive: Duration::from_secs(75),
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match serve(acceptor, app, timeouts, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => usage(&e.to_string()),
        }
    })
}
