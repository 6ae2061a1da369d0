//! Procedural macros for scopegate. Entry points only; each macro's logic lives in its module.

mod attr;
mod oauth_api;
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
/// async fn vote(caller: Caller) -> String { caller.client_id().to_owned() }
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
/// Placement: above `#[poem::handler]` on a free function, or on an `#[oai]` operation of a
/// poem-openapi impl marked `#[oauth_api]` (see there). The operation may take a
/// `scopegate::ApiCaller` (or `Caller`) parameter anywhere, to learn who called. The first line
/// of the doc comment becomes the scope's description in the registry, which `syncscopes`
/// pushes to the database.
///
/// The guard decides before any other parameter is read: no or a bad token is 401, a missing
/// scope 403, and only then may the handler's own extractors answer 400.
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

/// Wires the guards of the `#[oauth_required]` operations of a poem-openapi impl. Place it
/// above `#[OpenApi]`:
///
/// ```ignore
/// use scopegate::{ApiCaller, oauth_api, oauth_required};
///
/// #[oauth_api]
/// #[poem_openapi::OpenApi]
/// impl PollsApi {
///     /// Vote in polls.
///     #[oauth_required(scope = "polls:vote")]
///     #[oai(path = "/polls/:id/vote", method = "post")]
///     async fn vote(&self, id: Path<u64>, body: Json<Vote>, caller: ApiCaller) -> Result<..> {
///         ...
///     }
/// }
/// ```
///
/// poem-openapi extracts an operation's parameters in order before its body runs. This
/// attribute puts the guard first (moving the `ApiCaller` parameter, wherever it was written, to
/// the front), so authentication and scope are decided before any other parameter is parsed.
/// A method-level `#[oauth_required]` without it is a compile error.
#[proc_macro_attribute]
pub fn oauth_api(attr: TokenStream, item: TokenStream) -> TokenStream {
    let original: proc_macro2::TokenStream = item.into();
    match oauth_api::expand(attr.into(), original.clone()) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(original);
            out.into()
        }
    }
}
