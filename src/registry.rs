//! The compile-time scope registry: every `#[oauth_required]` handler submits one
//! [`GuardEntry`] through `inventory`, and [`entries`] / [`scopes`] read them back at run time
//! (for `syncscopes`, the OpenAPI document and the guard itself).
//!
//! A registry built from link-time sections silently loses entries of code that is never
//! linked; the test suite checks that every guarded handler of the demo is present.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::core::scope::ScopeSet;

/// How a guard names its scopes.
#[derive(Debug, Clone, Copy)]
pub enum ScopeSpec {
    /// `scope = "a b"`: checked by the macro at compile time.
    Explicit(&'static [&'static str]),
    /// `scope_auto`: `<last segment of module_path!()>:<function name>`.
    Auto,
}

/// What a guard is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// A `#[poem::handler]` function.
    Handler,
    /// A poem-openapi operation (it also appears in `/openapi.json`).
    Operation,
}

/// One guarded handler, as the macro registered it.
#[derive(Debug)]
pub struct GuardEntry {
    spec: ScopeSpec,
    /// The first line of the handler's doc comment.
    pub description: &'static str,
    /// `module_path!()` where the handler is defined.
    pub module_path: &'static str,
    /// The handler's function name.
    pub function: &'static str,
    /// Handler or operation.
    pub kind: GuardKind,
    resolved: OnceLock<ScopeSet>,
    text: OnceLock<String>,
}

impl GuardEntry {
    /// Used by the macro's output only.
    #[doc(hidden)]
    pub const fn new(
        spec: ScopeSpec,
        description: &'static str,
        module_path: &'static str,
        function: &'static str,
        kind: GuardKind,
    ) -> Self {
        Self {
            spec,
            description,
            module_path,
            function,
            kind,
            resolved: OnceLock::new(),
            text: OnceLock::new(),
        }
    }

    /// The scopes this handler requires (all of them), computed once.
    pub fn scopes(&self) -> &ScopeSet {
        self.resolved.get_or_init(|| match self.spec {
            ScopeSpec::Explicit(tokens) => tokens.iter().copied().collect(),
            ScopeSpec::Auto => {
                std::iter::once(auto_scope(self.module_path, self.function)).collect()
            }
        })
    }

    /// [`Self::scopes`] as one space-separated string, computed once (the guard's metric label).
    pub fn scopes_text(&self) -> &str {
        self.text.get_or_init(|| self.scopes().to_string())
    }
}

/// The `scope_auto` rule, as oauthost applies it to a Django view (`polls.views.results` in app
/// `polls` becomes `polls:results`): the last segment of the module path, a colon, and the
/// function name. A handler in the crate root takes the crate name.
///
/// ```
/// use scopegate::registry::auto_scope;
/// assert_eq!(auto_scope("polls::polls", "results"), "polls:results");
/// assert_eq!(auto_scope("polls", "index"), "polls:index");
/// assert_eq!(auto_scope("shop::api::orders", "r#list"), "orders:list");
/// ```
pub fn auto_scope(module_path: &str, function: &str) -> String {
    let module = module_path.rsplit("::").next().unwrap_or(module_path);
    let function = function.strip_prefix("r#").unwrap_or(function);
    format!("{module}:{function}")
}

/// Wraps an entry for `inventory`; the macro submits one per guarded handler.
#[doc(hidden)]
pub struct Registered(pub fn() -> &'static GuardEntry);

inventory::collect!(Registered);

/// Every guarded handler linked into this program, sorted by module and function.
pub fn entries() -> Vec<&'static GuardEntry> {
    let mut all: Vec<&'static GuardEntry> = inventory::iter::<Registered>
        .into_iter()
        .map(|r| (r.0)())
        .collect();
    all.sort_by_key(|e| (e.module_path, e.function));
    all
}

/// Every registered scope with its description: the first non-empty description among the
/// handlers that require it (in module and function order).
pub fn scopes() -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for entry in entries() {
        for scope in entry.scopes().iter() {
            let slot = out.entry(scope.to_owned()).or_default();
            if slot.is_empty() {
                entry.description.clone_into(slot);
            }
        }
    }
    out
}

/// The part of a scope before its first `:` (the "app" `syncscopes APP` selects by).
pub fn app_of(scope: &str) -> &str {
    scope.split_once(':').map_or(scope, |(app, _)| app)
}
