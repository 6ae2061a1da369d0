//! The scopegate server without a host app: `scopegate serve`, `scopegate createuser`, ...
fn main() -> std::process::ExitCode {
    scopegate::Scopegate::new().run()
}
