//! The polls demo: the oauthost quick-start as a poem host app.
//!
//! Run it with `cargo run --example polls` (SQLite in `polls.db`, debug mode, 127.0.0.1:8000).
//! Every scopegate command works too: `cargo run --example polls -- createsuperuser --username admin`.

mod polls;

use std::process::ExitCode;

/// The demo's `key_encryption_key` (which seals the OpenID Connect signing keys): made at random
/// on the first run and kept in `polls.key` beside `polls.db`, readable by its owner only. A
/// real deployment sets `SCOPEGATE_KEY_ENCRYPTION_KEY` from its secret store instead.
fn demo_key() -> Option<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    const PATH: &str = "polls.key";
    if let Ok(key) = std::fs::read_to_string(PATH) {
        return Some(key.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .ok()?;
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(PATH);
    let Ok(mut file) = file else {
        // Another run made it first.
        return std::fs::read_to_string(PATH)
            .ok()
            .map(|k| k.trim().to_owned());
    };
    file.write_all(key.as_bytes()).ok()?;
    Some(key)
}

fn main() -> ExitCode {
    scopegate::Scopegate::new()
        .name("polls")
        .defaults(|s| {
            s.database_url = "sqlite://polls.db".into();
            s.debug = true;
            s.key_encryption_key = demo_key();
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
