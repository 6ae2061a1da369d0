//! `syncscopes [APP...] [--dry-run] [--prune]`: pushes the compile-time scope registry to the
//! database, the way oauthost's `manage.py syncscopes polls` does.

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;

use super::{CommandError, block_on, open_store};
use crate::core::store::StoreError;
use crate::core::store::prelude::*;
use crate::registry::app_of;
use crate::settings::Settings;

/// Arguments of `syncscopes`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Only touch scopes whose prefix (the part before `:`) is one of these apps.
    apps: Vec<String>,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also remove scopes that `syncscopes` created earlier and no handler guards any more
    /// (scopes created by hand are never removed).
    #[arg(long)]
    prune: bool,
}

/// What a sync did (or, with `dry_run`, would do), scope names in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// New scopes.
    pub created: Vec<String>,
    /// Scopes whose description changed.
    pub updated: Vec<String>,
    /// Scopes already as the code says.
    pub kept: Vec<String>,
    /// Scopes removed by `--prune`.
    pub removed: Vec<String>,
}

impl SyncReport {
    /// True when the database was (or would be) changed.
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }
}

/// Why a sync refused to run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An APP argument names no app of the registry or the database.
    #[error("unknown app {0:?}: no guarded scope starts with \"{0}:\" (known apps: {1})")]
    UnknownApp(String, String),
    /// The database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Brings the database's scopes in line with `registry` (scope name to description), limited to
/// `apps` when any are named. Idempotent: a second run reports everything as kept.
pub async fn sync(
    store: &dyn Store,
    registry: &BTreeMap<String, String>,
    apps: &[String],
    dry_run: bool,
    prune: bool,
) -> Result<SyncReport, SyncError> {
    let existing = store.list_scopes().await?;
    let known_apps: BTreeSet<&str> = registry
        .keys()
        .map(|s| app_of(s))
        .chain(
            existing
                .iter()
                .filter(|s| s.from_code)
                .map(|s| app_of(&s.name)),
        )
        .collect();
    for app in apps {
        if !known_apps.contains(app.as_str()) {
            let known: Vec<&str> = known_apps.iter().copied().collect();
            return Err(SyncError::UnknownApp(app.clone(), known.join(", ")));
        }
    }
    let selected = |name: &str| apps.is_empty() || apps.iter().any(|a| a == app_of(name));
    let mut report = SyncReport::default();
    let now = crate::core::now();
    for (name, description) in registry.iter().filter(|(n, _)| selected(n)) {
        match existing.iter().find(|s| &s.name == name) {
            None => {
                if !dry_run {
                    store.create_scope(name, description, true, now).await?;
                }
                report.created.push(name.clone());
            }
            Some(found) if found.description != *description => {
                if !dry_run {
                    store.update_scope_description(name, description).await?;
                }
                report.updated.push(name.clone());
            }
            Some(_) => report.kept.push(name.clone()),
        }
    }
    if prune {
        for scope in existing
            .iter()
            .filter(|s| s.from_code && selected(&s.name) && !registry.contains_key(&s.name))
        {
            if !dry_run {
                store.delete_code_scope(&scope.name).await?;
            }
            report.removed.push(scope.name.clone());
        }
    }
    Ok(report)
}

/// Runs the command and prints one line per scope, then a summary.
pub fn run(settings: &Settings, args: SyncArgs) -> Result<(), CommandError> {
    for app in &args.apps {
        if app.is_empty() || !crate::core::scope::is_scope_token(app) || app.contains(':') {
            return Err(CommandError::Usage(format!(
                "{app:?} is not an app name: give the part of a scope before ':', e.g. polls"
            )));
        }
    }
    let store = open_store(settings)?;
    let registry = crate::registry::scopes();
    let report = block_on(sync(
        &store,
        &registry,
        &args.apps,
        args.dry_run,
        args.prune,
    ))?
    .map_err(|e| match e {
        SyncError::UnknownApp(..) => CommandError::Usage(e.to_string()),
        SyncError::Store(e) => CommandError::Failed(e.to_string()),
    })?;
    let verb =
        |done: &'static str, planned: &'static str| if args.dry_run { planned } else { done };
    for (names, label) in [
        (&report.created, verb("created", "would create")),
        (&report.updated, verb("updated", "would update")),
        (&report.kept, "kept"),
        (&report.removed, verb("removed", "would remove")),
    ] {
        for name in names {
            let desc = registry.get(name).map(String::as_str).unwrap_or("");
            println!("{label:<13} {name:<30} {desc}");
        }
    }
    println!(
        "{}{} created, {} updated, {} kept, {} removed",
        if args.dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        report.created.len(),
        report.updated.len(),
        report.kept.len(),
        report.removed.len()
    );
    Ok(())
}
