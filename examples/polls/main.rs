//! The polls demo: the oauthost quick-start as a poem host app.
//!
//! Run it with `cargo run --example polls` (SQLite in `polls.db`, debug mode, 127.0.0.1:8000).
//! Every scopegate command works too: `cargo run --example polls -- createsuperuser --username admin`.

mod polls;

use std::process::ExitCode;

fn main() -> ExitCode {
    scopegate::Scopegate::new()
        .name("polls")
        .defaults(|s| {
            s.database_url = "sqlite://polls.db".into();
            s.debug = true;
        })
        .routes(polls::routes)
        .banner(|s| {
            format!(
                "\n  polls demo on http://{addr}/  (database {db}, debug mode)\n\n\
                 \x20 1. Create an account:   cargo run --example polls -- createsuperuser --username admin\n\
                 \x20 2. Register a client:   cargo run --example polls -- register-client --name Demo \\\n\
                 \x20                           --redirect-uri http://127.0.0.1:8000/ --grant-type authorization_code refresh_token \\\n\
                 \x20                           --client-type confidential --scope polls:vote polls:stats polls:results --approved\n\
                 \x20 3. Push the guarded scopes:  cargo run --example polls -- syncscopes polls\n\
                 \x20 4. Sign in at http://{addr}/login, or try the API at http://{addr}/docs (Authorize).\n\
                 \x20    Admin pages: http://{addr}/admin/   Developer portal: http://{addr}/developer/\n",
                addr = s.addr,
                db = s.database_url
            )
        })
        .default_command(&["serve"])
        .run()
}
