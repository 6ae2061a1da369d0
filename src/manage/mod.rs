//! The command line a host app's `main` hands over to: `serve`, `migrate`, `createsuperuser`,
//! `createuser`, `register-client`, `syncscopes`, `cleartokens`, `rotate-keys`. Bad input gets a one-line error and
//! exit code 2.

mod clients;
mod keys;
mod serve;
pub mod syncscopes;
mod tokens;
mod users;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use poem::Route;

use crate::settings::Settings;

/// A failed command: bad input (exit 2) or a failure of the machine or database (exit 1).
#[derive(Debug)]
pub enum CommandError {
    /// The user's input was wrong; the message says how.
    Usage(String),
    /// Something outside the input failed (database unreachable, port taken).
    Failed(String),
}

impl CommandError {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Failed(_) => ExitCode::from(1),
        }
    }
    fn message(&self) -> &str {
        match self {
            Self::Usage(m) | Self::Failed(m) => m,
        }
    }
}

type RouteFn = Arc<dyn Fn(Route) -> Route + Send + Sync>;
type BannerFn = Arc<dyn Fn(&Settings) -> String + Send + Sync>;

/// A host application: its routes and its default settings, run through scopegate's command
/// line.
///
/// ```no_run
/// use poem::{get, handler};
///
/// #[handler]
/// fn hello() -> &'static str { "hello" }
///
/// fn main() -> std::process::ExitCode {
///     scopegate::Scopegate::new()
///         .routes(|r| r.at("/hello", get(hello)))
///         .run()
/// }
/// ```
#[derive(Clone)]
pub struct Scopegate {
    name: String,
    defaults: Settings,
    routes: Vec<RouteFn>,
    banner: Option<BannerFn>,
    default_command: Option<Vec<String>>,
    user_info: Option<Arc<dyn crate::core::userinfo::UserInfoProvider>>,
}

impl Default for Scopegate {
    fn default() -> Self {
        Self::new()
    }
}

impl Scopegate {
    /// A host with scopegate's defaults and no routes of its own.
    pub fn new() -> Self {
        Self {
            name: "scopegate".into(),
            defaults: Settings::default(),
            routes: Vec::new(),
            banner: None,
            default_command: None,
            user_info: None,
        }
    }

    /// The host's user data for `/oauth/userinfo` (and Omniport's `get_user_data`), with the
    /// scope that unlocks each field. Without it, userinfo returns `userId`, `username` and,
    /// under the `email` scope, `email`.
    pub fn user_info(mut self, provider: impl crate::core::userinfo::UserInfoProvider) -> Self {
        self.user_info = Some(Arc::new(provider));
        self
    }

    /// The program name shown in `--help`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Changes the default settings (the config file and environment still override them).
    pub fn defaults(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.defaults);
        self
    }

    /// Adds the host's routes.
    pub fn routes(mut self, f: impl Fn(Route) -> Route + Send + Sync + 'static) -> Self {
        self.routes.push(Arc::new(f));
        self
    }

    /// Text `serve` prints once it listens (where to go, how to log in).
    pub fn banner(mut self, f: impl Fn(&Settings) -> String + Send + Sync + 'static) -> Self {
        self.banner = Some(Arc::new(f));
        self
    }

    /// The command run when none is given (the demo serves; a plain binary prints help).
    pub fn default_command(mut self, args: &[&str]) -> Self {
        self.default_command = Some(args.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// The host's routes applied to `route`.
    pub fn host_routes(&self, route: Route) -> Route {
        self.routes.iter().fold(route, |r, f| f(r))
    }

    /// Parses the process arguments and runs the command.
    pub fn run(self) -> ExitCode {
        self.run_with(std::env::args_os())
    }

    /// Runs the command given by `args` (the first is the program name).
    pub fn run_with(self, args: impl IntoIterator<Item = OsString>) -> ExitCode {
        let mut args: Vec<OsString> = args.into_iter().collect();
        let has_command = args
            .iter()
            .skip(1)
            .any(|a| !a.to_string_lossy().starts_with('-'));
        let asks_help = args
            .iter()
            .skip(1)
            .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")));
        if let (false, false, Some(default)) = (has_command, asks_help, &self.default_command) {
            args.extend(default.iter().map(OsString::from));
        }
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(e) => {
                // clap prints help (exit 0) or a usage error (exit 2) itself.
                let _ = e.print();
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            }
        };
        let result = self.execute(cli);
        // Every store is dropped by now, but its pool may still be closing (or opening) a
        // connection on a background thread: exiting under it crashes in OpenSSL's cleanup.
        if !crate::store::wait_until_closed(std::time::Duration::from_secs(5)) {
            tracing::warn!("database connections were still open at exit");
        }
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", e.message());
                e.exit_code()
            }
        }
    }

    fn execute(&self, cli: Cli) -> Result<(), CommandError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let mut settings = Settings::load(&self.defaults, cli.config.as_deref(), env)
            .map_err(CommandError::Usage)?;
        if let Some(url) = cli.database_url {
            crate::store::parse_database_url(&url).map_err(CommandError::Usage)?;
            settings.database_url = url;
        }
        let Some(command) = cli.command else {
            return Err(CommandError::Usage(format!(
                "no command given; run `{} --help` to see the commands",
                self.name
            )));
        };
        let serving = matches!(command, Command::Serve { .. });
        init_logging(&settings, serving);
        match command {
            Command::Serve { addr } => {
                if let Some(addr) = addr {
                    settings.addr = addr;
                }
                serve::serve(self, settings)
            }
            Command::Migrate => users::migrate(&settings),
            Command::Createsuperuser(args) => users::create(&settings, args, true),
            Command::Createuser(args) => users::create(&settings, args, false),
            Command::RegisterClient(args) => clients::register(&settings, *args),
            Command::Cleartokens(args) => tokens::clear(&settings, args),
            Command::Syncscopes(args) => syncscopes::run(&settings, args),
            Command::RotateKeys(args) => keys::rotate_keys(&settings, args),
        }
    }
}

fn init_logging(settings: &Settings, serving: bool) {
    use tracing_subscriber::EnvFilter;
    // Commands other than serve print their own results; their logs only carry warnings.
    let fallback = if serving {
        settings.log.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(fallback))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .fmt_fields(escaped_fields())
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The log's field formatter: `name=value`, with every control character of every value
/// escaped, so no value (even one a call site logged with `%`) can start a forged log line.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let raw = format!("{value:?}");
        let text = escape_controls(&raw);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// `text` with control characters written as Rust escapes (`\n`, `\u{1b}`).
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// scopegate: an OAuth 2 authorization server.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB (overrides every other source).
    #[arg(long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// A TOML settings file (see docs/settings.md).
    #[arg(long, global = true, env = "SCOPEGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply migrations, then serve the OAuth endpoints, pages and the host app.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8000.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Create an administrator account.
    Createsuperuser(users::UserArgs),
    /// Create a plain user account.
    Createuser(users::UserArgs),
    /// Register an OAuth client application (boxed: its many flags dwarf the other commands).
    RegisterClient(Box<clients::ClientArgs>),
    /// Delete expired authorization codes and tokens, in batches, and say how many.
    Cleartokens(tokens::ClearArgs),
    /// Push the scopes guarded in code (#[oauth_required]) to the database.
    Syncscopes(syncscopes::SyncArgs),
    /// Make a new ID-token signing key of each algorithm: published now, signing after
    /// --signs-in seconds.
    RotateKeys(keys::RotateArgs),
}

/// Runs `f` on a fresh single-threaded runtime: the commands other than serve are one-shot.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(f))
        .map_err(|e| CommandError::Failed(format!("cannot start the runtime: {e}")))
}

/// How long a command waits for the database before it gives up with one line of error.
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_millis(2500);

/// A pool for a command: quiet retries for at most [`CONNECT_WAIT`].
fn connect(settings: &Settings, max: u32) -> Result<crate::store::DbStore, CommandError> {
    crate::store::DbStore::open_quietly(&settings.database_url, max, CONNECT_WAIT)
        .map_err(|e| CommandError::Failed(e.to_string()))
}

fn open_store(settings: &Settings) -> Result<crate::store::DbStore, CommandError> {
    let store = connect(settings, 2)?;
    store
        .migrate()
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped_in_log_values() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb\rc\u{1b}"), "a\\nb\\rc\\u{1b}");
    }
}
