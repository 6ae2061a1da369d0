//! Parsing and checking the arguments of `#[oauth_required(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::LitStr;
use syn::parse::Parser;

/// What the attribute asks for.
pub enum ScopeArg {
    /// `scope = "a b"`: the checked tokens.
    Explicit(Vec<String>),
    /// `scope_auto`: derived from module and function name.
    Auto,
}

/// True when `token` is a valid RFC 6749 §3.3 scope-token (the same rule as
/// `scopegate::core::scope::is_scope_token`, repeated here because a proc-macro crate cannot
/// depend on the library that re-exports it).
fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Checks a scope string; the error points at the literal.
fn check_scope(lit: &LitStr) -> syn::Result<Vec<String>> {
    let value = lit.value();
    if value.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "the scope is empty: name at least one scope, e.g. scope = \"polls:vote\"",
        ));
    }
    let mut tokens: Vec<String> = Vec::new();
    for token in value.split(' ') {
        if token.is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "the scope has an empty scope-token: separate scopes with exactly one space",
            ));
        }
        if !is_scope_token(token) {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "invalid scope-token {token:?}: RFC 6749 §3.3 allows only printable ASCII \
                     without space, '\"' and '\\'"
                ),
            ));
        }
        if tokens.iter().any(|t| t == token) {
            return Err(syn::Error::new(
                lit.span(),
                format!("the scope-token {token:?} is listed twice"),
            ));
        }
        tokens.push(token.to_owned());
    }
    Ok(tokens)
}

/// Parses `scope = "..."` or `scope_auto` (`scope_auto = true`).
pub fn parse(attr: TokenStream) -> syn::Result<ScopeArg> {
    let mut explicit: Option<Vec<String>> = None;
    let mut auto: Option<Span> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("scope") {
            if explicit.is_some() {
                return Err(meta.error("`scope` is given twice"));
            }
            let lit: LitStr = meta.value()?.parse()?;
            explicit = Some(check_scope(&lit)?);
            Ok(())
        } else if meta.path.is_ident("scope_auto") {
            if auto.is_some() {
                return Err(meta.error("`scope_auto` is given twice"));
            }
            if meta.input.peek(syn::Token![=]) {
                let value: syn::LitBool = meta.value()?.parse()?;
                if !value.value {
                    return Err(syn::Error::new(
                        value.span(),
                        "`scope_auto = false` guards nothing: use `scope = \"...\"` instead",
                    ));
                }
            }
            auto = Some(meta.path.span_of());
            Ok(())
        } else {
            Err(meta.error("unknown argument: expected `scope = \"...\"` or `scope_auto`"))
        }
    });
    parser.parse2(attr)?;
    match (explicit, auto) {
        (Some(_), Some(span)) => Err(syn::Error::new(
            span,
            "use either `scope = \"...\"` or `scope_auto`, not both",
        )),
        (Some(tokens), None) => Ok(ScopeArg::Explicit(tokens)),
        (None, Some(_)) => Ok(ScopeArg::Auto),
        (None, None) => Err(syn::Error::new(
            Span::call_site(),
            "#[oauth_required] needs `scope = \"...\"` or `scope_auto`",
        )),
    }
}

/// A span helper, so error messages can point at a path.
trait SpanOf {
    fn span_of(&self) -> Span;
}

impl SpanOf for syn::Path {
    fn span_of(&self) -> Span {
        syn::spanned::Spanned::span(self)
    }
}
