//! Procedural macros for scopegate.

use proc_macro::TokenStream;

/// Guards a handler with an OAuth scope. Not implemented yet: it refuses to compile rather than
/// let a handler run unguarded.
#[proc_macro_attribute]
pub fn oauth_required(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut out: TokenStream = "compile_error!(\"#[oauth_required] is not implemented yet\");"
        .parse()
        .unwrap_or_default();
    out.extend(item);
    out
}
