//! `#[oauth_required]`: checks its arguments, registers the guarded scopes, and wires the guard
//! into a poem handler as an extra first extractor. On a poem-openapi operation the work is
//! done by `#[oauth_api]` on the impl (see `oauth_api.rs`), which reaches the signature before
//! `#[OpenApi]` reads it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, Type};

use crate::attr::{self, ScopeArg};

/// The first non-empty line of the doc comment, trimmed (empty when there is none).
pub fn description(attrs: &[syn::Attribute]) -> String {
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let value = s.value();
            if let Some(line) = value.lines().map(str::trim).find(|l| !l.is_empty()) {
                return line.to_owned();
            }
        }
    }
    String::new()
}

/// True when `item` carries `#[handler]` or `#[poem::handler]`.
fn has_handler_attr(item: &ItemFn) -> bool {
    item.attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "handler")
    })
}

/// The position and name of a `Caller` / `ApiCaller` parameter, if there is one.
pub fn caller_param(sig: &syn::Signature) -> syn::Result<Option<(usize, syn::PatIdent)>> {
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pat_type) = input else {
            continue;
        };
        let is_caller = match &*pat_type.ty {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Caller" || s.ident == "ApiCaller"),
            _ => false,
        };
        if !is_caller {
            continue;
        }
        return match &*pat_type.pat {
            Pat::Ident(ident) => Ok(Some((index, ident.clone()))),
            other => Err(syn::Error::new(
                other.span(),
                "bind the caller parameter to a plain name, e.g. `caller: ApiCaller`",
            )),
        };
    }
    Ok(None)
}

/// The registry entry of one guarded handler or operation, and the marker type that names it:
/// `struct #marker;`, its `GuardSpec` impl, and the `inventory` submission.
pub fn guard_items(
    marker: &syn::Ident,
    vis: &syn::Visibility,
    scope: &ScopeArg,
    desc: &str,
    name: &str,
    operation: bool,
) -> TokenStream {
    let scopes = match scope {
        ScopeArg::Explicit(tokens) => {
            quote! { ::scopegate::__private::ScopeSpec::Explicit(&[#(#tokens),*]) }
        }
        ScopeArg::Auto => quote! { ::scopegate::__private::ScopeSpec::Auto },
    };
    let kind = if operation {
        quote! { ::scopegate::__private::GuardKind::Operation }
    } else {
        quote! { ::scopegate::__private::GuardKind::Handler }
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;
        impl ::scopegate::__private::GuardSpec for #marker {
            fn entry() -> &'static ::scopegate::__private::GuardEntry {
                static ENTRY: ::scopegate::__private::GuardEntry =
                    ::scopegate::__private::GuardEntry::new(
                        #scopes, #desc, ::core::module_path!(), #name, #kind,
                    );
                &ENTRY
            }
        }
        ::scopegate::__private::inventory::submit! {
            ::scopegate::__private::Registered(<#marker as ::scopegate::__private::GuardSpec>::entry)
        }
    }
}

/// The whole expansion; every failure is a `syn::Error` at the offending tokens.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    // Left by `#[oauth_api]` on an operation it has already wired.
    if syn::parse2::<syn::Ident>(attr.clone()).is_ok_and(|i| i == crate::oauth_api::WIRED) {
        return Ok(item);
    }
    let scope = attr::parse(attr)?;
    let mut item: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[oauth_required] goes on a #[poem::handler] function or a poem-openapi #[oai] \
             operation",
        )
    })?;
    if matches!(item.sig.inputs.first(), Some(FnArg::Receiver(_))) {
        // Only reached when no `#[oauth_api]` above `#[OpenApi]` took the attribute off first:
        // `#[OpenApi]` has then already generated code that extracts every parameter before
        // this method runs, so no guard placed from here could run first.
        return Err(syn::Error::new(
            item.sig.ident.span(),
            "a guarded poem-openapi operation needs `#[scopegate::oauth_api]` above `#[OpenApi]` \
             on its impl block: poem-openapi reads every parameter before the method runs, so \
             only the impl-level attribute can put the guard first",
        ));
    }
    if !has_handler_attr(&item) {
        return Err(syn::Error::new(
            item.sig.ident.span(),
            "#[oauth_required] must be placed above #[poem::handler] (or on an #[oai] operation \
             of an `#[oauth_api] #[OpenApi]` impl)",
        ));
    }
    let name = item.sig.ident.clone();
    let marker = format_ident!("__scopegate_guard_{}", name.unraw());
    // The marker shares the handler's visibility so a `pub` handler's signature names no
    // private type.
    let spec_items = guard_items(
        &marker,
        &item.vis,
        &scope,
        &description(&item.attrs),
        &name.to_string(),
        false,
    );
    let guard_arg: FnArg =
        syn::parse2(quote! { __scopegate_guard: ::scopegate::__private::Guard<#marker> })?;
    item.sig.inputs.insert(0, guard_arg);
    Ok(quote! {
        #spec_items
        #item
    })
}
