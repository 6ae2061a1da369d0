//! `migrate`, `createsuperuser` and `createuser`.

use std::io::{BufRead, IsTerminal};

use clap::Args;

use super::{CommandError, block_on, open_store};
use crate::core::model::NewUser;
use crate::core::secret::hash_password;
use crate::core::store::StoreError;
use crate::core::store::prelude::*;
use crate::settings::Settings;

/// Arguments of `createuser` and `createsuperuser`.
#[derive(Args, Debug)]
pub struct UserArgs {
    /// Login name: letters, digits and @ . + - _ (at most 150).
    #[arg(long)]
    username: String,
    /// Email address.
    #[arg(long, default_value = "")]
    email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

pub(super) fn migrate(settings: &Settings) -> Result<(), CommandError> {
    let store = super::connect(settings, 1)?;
    let applied = store
        .migrate()
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    if applied.is_empty() {
        println!("No migrations to apply.");
    } else {
        for name in applied {
            println!("Applied {name}");
        }
    }
    Ok(())
}

fn valid_username(name: &str) -> bool {
    (1..=150).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
}

fn read_password(from_stdin: bool) -> Result<String, CommandError> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CommandError::Usage(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| CommandError::Usage(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Password (again): ")
            .map_err(|e| CommandError::Usage(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(CommandError::Usage("the passwords do not match".into()));
        }
        first
    };
    if password.chars().count() < 8 {
        return Err(CommandError::Usage(
            "the password must have at least 8 characters".into(),
        ));
    }
    Ok(password)
}

pub(super) fn create(
    settings: &Settings,
    args: UserArgs,
    superuser: bool,
) -> Result<(), CommandError> {
    if !valid_username(&args.username) {
        return Err(CommandError::Usage(format!(
            "invalid username {:?}: use letters, digits and @ . + - _ (at most 150)",
            args.username
        )));
    }
    if !args.email.is_empty() && !args.email.contains('@') {
        return Err(CommandError::Usage(format!(
            "invalid email {:?}",
            args.email
        )));
    }
    let password = read_password(args.password_stdin)?;
    let password_hash = hash_password(&password).map_err(CommandError::Failed)?;
    let store = open_store(settings)?;
    let created = block_on(store.create_user(NewUser {
        username: args.username.clone(),
        email: args.email,
        password_hash,
        is_superuser: superuser,
    }))?;
    match created {
        Ok(user) => {
            let kind = if superuser { "Superuser" } else { "User" };
            println!("{kind} {:?} created.", user.username);
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Err(CommandError::Usage(format!(
            "a user named {:?} already exists",
            args.username
        ))),
        Err(e) => Err(CommandError::Failed(e.to_string())),
    }
}
