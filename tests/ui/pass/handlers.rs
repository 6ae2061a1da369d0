//! Every accepted form of the attribute on poem handlers.
use poem::handler;
use scopegate::{Caller, oauth_required};

/// Vote in polls.
#[oauth_required(scope = "polls:vote")]
#[handler]
async fn vote(caller: Caller) -> String {
    caller.client_id().to_owned()
}

/// Several scopes, all required.
#[oauth_required(scope = "polls:vote polls:stats")]
#[poem::handler]
pub fn both() -> &'static str {
    "ok"
}

/// Derived scope.
#[oauth_required(scope_auto)]
#[handler]
fn results() -> &'static str {
    "ok"
}

/// oauthost's spelling.
#[oauth_required(scope_auto = true)]
#[handler]
fn stats() -> &'static str {
    "ok"
}

fn main() {
    let _ = poem::Route::new()
        .at("/a", vote)
        .at("/b", both)
        .at("/c", results)
        .at("/d", stats);
    let scopes = scopegate::registry::scopes();
    assert!(scopes.contains_key("polls:vote"));
    // scope_auto: the last segment of this module's path, then the function name.
    let derived = scopegate::registry::auto_scope(module_path!(), "results");
    assert_eq!(derived, format!("{}:results", module_path!()));
    assert_eq!(scopes.get(&derived).map(String::as_str), Some("Derived scope."));
    assert_eq!(scopes.get("polls:stats").map(String::as_str), Some("Several scopes, all required."));
}
