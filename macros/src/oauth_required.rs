//! `#[oauth_required]`: checks its arguments, registers the guarded scopes, and wires the guard
//! into a poem handler (an extra first extractor) or a poem-openapi operation (a check on the
//! caller parameter before the body runs).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, Type};

use crate::attr::{self, ScopeArg};

/// The first non-empty line of the doc comment, trimmed (empty when there is none).
fn description(item: &ItemFn) -> String {
    for attr in &item.attrs {
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

/// The name bound to a `Caller` / `ApiCaller` parameter, if there is one.
fn caller_param(item: &ItemFn) -> syn::Result<Option<syn::Ident>> {
    for input in &item.sig.inputs {
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
            Pat::Ident(ident) => Ok(Some(ident.ident.clone())),
            other => Err(syn::Error::new(
                other.span(),
                "bind the caller parameter to a plain name, e.g. `caller: ApiCaller`",
            )),
        };
    }
    Ok(None)
}

/// The whole expansion; every failure is a `syn::Error` at the offending tokens.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let scope = attr::parse(attr)?;
    let mut item: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[oauth_required] goes on a #[poem::handler] function or a poem-openapi #[oai] \
             operation",
        )
    })?;
    let name = item.sig.ident.clone();
    let name_str = name.to_string();
    let desc = description(&item);
    let scopes = match &scope {
        ScopeArg::Explicit(tokens) => {
            quote! { ::scopegate::__private::ScopeSpec::Explicit(&[#(#tokens),*]) }
        }
        ScopeArg::Auto => quote! { ::scopegate::__private::ScopeSpec::Auto },
    };
    let is_method = matches!(item.sig.inputs.first(), Some(FnArg::Receiver(_)));
    let marker = format_ident!("__scopegate_guard_{}", name);
    let kind = if is_method {
        quote! { ::scopegate::__private::GuardKind::Operation }
    } else {
        quote! { ::scopegate::__private::GuardKind::Handler }
    };
    // Inside a method body the marker is local; beside a handler it shares the handler's
    // visibility so a `pub` handler's signature names no private type.
    let vis = if is_method {
        quote! {}
    } else {
        let v = &item.vis;
        quote! { #v }
    };
    let spec_items = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;
        impl ::scopegate::__private::GuardSpec for #marker {
            fn entry() -> &'static ::scopegate::__private::GuardEntry {
                static ENTRY: ::scopegate::__private::GuardEntry =
                    ::scopegate::__private::GuardEntry::new(
                        #scopes, #desc, ::core::module_path!(), #name_str, #kind,
                    );
                &ENTRY
            }
        }
        ::scopegate::__private::inventory::submit! {
            ::scopegate::__private::Registered(<#marker as ::scopegate::__private::GuardSpec>::entry)
        }
    };

    if is_method {
        let Some(caller) = caller_param(&item)? else {
            return Err(syn::Error::new(
                item.sig.ident.span(),
                "a guarded poem-openapi operation needs a `caller: scopegate::ApiCaller` \
                 parameter: the guard reads the token through it",
            ));
        };
        if item.sig.asyncness.is_none() {
            return Err(syn::Error::new(
                item.sig.fn_token.span(),
                "a guarded operation must be `async fn`",
            ));
        }
        let body = &item.block;
        // parse2, not parse_quote!: the macro reports errors, it never panics.
        let new_body: syn::Block = syn::parse2(quote! {{
            #spec_items
            ::scopegate::__private::require::<#marker>(&#caller)?;
            #body
        }})?;
        *item.block = new_body;
        return Ok(quote! { #item });
    }

    if !has_handler_attr(&item) {
        return Err(syn::Error::new(
            item.sig.ident.span(),
            "#[oauth_required] must be placed above #[poem::handler] (or on a `&self` method of \
             a poem-openapi #[OpenApi] impl)",
        ));
    }
    let guard_arg: FnArg =
        syn::parse2(quote! { __scopegate_guard: ::scopegate::__private::Guard<#marker> })?;
    item.sig.inputs.insert(0, guard_arg);
    Ok(quote! {
        #spec_items
        #item
    })
}
