//! `#[oauth_api]` on a poem-openapi `#[OpenApi]` impl: wires the guard of every
//! `#[oauth_required]` operation in it.
//!
//! `#[OpenApi]` reads the signatures as written and generates code that extracts the parameters
//! in order before the method runs, so a method-level attribute (expanded after it) cannot put a
//! check first. This attribute sits above `#[OpenApi]` and is expanded before it: it moves the
//! operation's caller parameter to the first position as a `scopegate::__private::ApiGuard`
//! (which authenticates and checks the scopes) and converts it back at the top of the body.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, Meta, Pat, PatIdent, Type};

use crate::attr;
use crate::oauth_required::{caller_param, description, guard_items};

/// The argument `#[oauth_api]` leaves in the `#[oauth_required]` attributes it has handled.
pub const WIRED: &str = "__scopegate_wired";

/// True when the attribute's path ends in `name` (`OpenApi`, `poem_openapi::OpenApi`).
fn ends_with(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// The whole expansion. Errors of single operations are reported beside an impl whose other
/// operations are wired, so each misuse gives one error and nothing cascades.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new(
            attr.span(),
            "#[oauth_api] takes no arguments",
        ));
    }
    let mut imp: ItemImpl = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[oauth_api] goes on a poem-openapi `#[OpenApi] impl` block",
        )
    })?;
    if !imp.attrs.iter().any(|a| ends_with(a, "OpenApi")) {
        return Err(syn::Error::new(
            imp.impl_token.span,
            "#[oauth_api] must be placed above #[OpenApi] (attributes expand top-down, and the \
             guards must be in place before #[OpenApi] reads the signatures)",
        ));
    }
    let api_name = match &*imp.self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| "api".to_owned(), |s| s.ident.unraw().to_string()),
        _ => "api".to_owned(),
    };
    let mut out = TokenStream::new();
    for item in &mut imp.items {
        let ImplItem::Fn(f) = item else {
            continue;
        };
        let Some(pos) = f.attrs.iter().position(|a| ends_with(a, "oauth_required")) else {
            continue;
        };
        let guard_attr = f.attrs.remove(pos);
        match guard_operation(f, &guard_attr, &api_name) {
            Ok(tokens) => out.extend(tokens),
            Err(e) => out.extend(e.into_compile_error()),
        }
        // Leave the attribute in place, told that its work is done: it then expands to the
        // method unchanged, and the host's `use scopegate::oauth_required` stays used.
        let path = guard_attr.path();
        let wired = syn::Ident::new(WIRED, guard_attr.span());
        let attrs =
            syn::parse::Parser::parse2(syn::Attribute::parse_outer, quote! { #[#path(#wired)] })?;
        for (offset, attr) in attrs.into_iter().enumerate() {
            f.attrs.insert(pos + offset, attr);
        }
    }
    Ok(quote! {
        #out
        #imp
    })
}

/// Registers one operation and rewrites its signature; returns the registry items.
fn guard_operation(
    f: &mut ImplItemFn,
    guard_attr: &Attribute,
    api_name: &str,
) -> syn::Result<TokenStream> {
    let args = match &guard_attr.meta {
        Meta::List(list) if !list.tokens.is_empty() => list.tokens.clone(),
        _ => {
            return Err(syn::Error::new(
                guard_attr.span(),
                "#[oauth_required] needs `scope = \"...\"` or `scope_auto`",
            ));
        }
    };
    let scope = attr::parse(args)?;
    if !matches!(f.sig.inputs.first(), Some(FnArg::Receiver(_))) {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "a guarded operation is a `&self` method",
        ));
    }
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            f.sig.fn_token.span(),
            "a guarded operation must be `async fn`",
        ));
    }
    if !f.attrs.iter().any(|a| a.path().is_ident("oai")) {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "#[oauth_required] in an #[oauth_api] impl goes on an \
             #[oai(path = \"...\", method = \"...\")] operation",
        ));
    }
    let name = f.sig.ident.clone();
    let marker = format_ident!("__scopegate_guard_{}_{}", api_name, name.unraw());
    let items = guard_items(
        &marker,
        &f.vis,
        &scope,
        &description(&f.attrs),
        &name.to_string(),
        true,
    );
    let guard_ty: Type = syn::parse2(quote! { ::scopegate::__private::ApiGuard<#marker> })?;
    match caller_param(&f.sig)? {
        Some((index, binding)) => {
            if binding.by_ref.is_some() || binding.subpat.is_some() {
                return Err(syn::Error::new(
                    binding.span(),
                    "bind the caller parameter to a plain name, e.g. `caller: ApiCaller`",
                ));
            }
            let Some(FnArg::Typed(mut param)) = f.sig.inputs.iter().nth(index).cloned() else {
                return Err(syn::Error::new(
                    binding.span(),
                    "expected a typed parameter",
                ));
            };
            let user_ty = param.ty.clone();
            let ident = binding.ident.clone();
            let mutability = binding.mutability;
            param.pat = Box::new(Pat::Ident(PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: ident.clone(),
                subpat: None,
            }));
            param.ty = Box::new(guard_ty);
            // Rebuild the list: the guard right after `&self`, the rest in their order.
            let rest: Vec<FnArg> = f
                .sig
                .inputs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 0 && *i != index)
                .map(|(_, a)| a.clone())
                .collect();
            let receiver = f.sig.inputs.first().cloned();
            f.sig.inputs.clear();
            f.sig.inputs.extend(receiver);
            f.sig.inputs.push(FnArg::Typed(param));
            f.sig.inputs.extend(rest);
            let rebind: syn::Stmt = syn::parse2(quote! {
                #[allow(unused_variables)]
                let #mutability #ident: #user_ty = ::core::convert::From::from(#ident);
            })?;
            f.block.stmts.insert(0, rebind);
        }
        None => {
            let arg: FnArg = syn::parse2(quote! { __scopegate_guard: #guard_ty })?;
            f.sig.inputs.insert(1, arg);
        }
    }
    Ok(items)
}
