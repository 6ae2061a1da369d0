//! Procedural macros for scopegate. Entry points only; each macro's logic lives in its module.

mod attr;
mod oauth_required;

use proc_macro::TokenStream;

/// Guards a poem handler or a poem-openapi operation with OAuth scopes.
///
/// ```ignore
/// use scopegate::{oauth_required, Caller};
///
/// /// Vote on a poll.
/// #[oauth_required(scope = "polls:vote")]
/// #[poem::handler]
/// async fn vote(caller: Caller) -> String { caller.client.name.clone() }
///
/// /// See the results of a poll.
/// #[oauth_required(scope_auto)] // `polls:results` when this is in module `polls`
/// #[poem::handler]
/// async fn results() -> &'static str { "..." }
/// ```
///
/// Arguments (exactly one of):
/// - `scope = "a b"`: every listed scope-token is required (RFC 6749 §3.3 characters, no
///   duplicates, not empty; checked at compile time).
/// - `scope_auto` (or `scope_auto = true`): the scope is `<module>:<function>`, where
///   `<module>` is the last segment of `module_path!()` at the handler (the crate name for a
///   handler in the crate root) and `<function>` is the function's name.
///
/// Placement: above `#[poem::handler]` on a free function, or on a `&self` method of a
/// poem-openapi `#[OpenApi]` impl that takes a `scopegate::ApiCaller` (or `Caller`) parameter
/// and returns a `poem::Result`. The first line of the doc comment becomes the scope's
/// description in the registry, which `syncscopes` pushes to the database.
#[proc_macro_attribute]
pub fn oauth_required(attr: TokenStream, item: TokenStream) -> TokenStream {
    let original: proc_macro2::TokenStream = item.into();
    match oauth_required::expand(attr.into(), original.clone()) {
        Ok(tokens) => tokens.into(),
        // The item goes out unchanged beside the error, so the error is the only one reported
        // (no cascade of "unused import" or "no such method" errors).
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(original);
            out.into()
        }
    }
}
