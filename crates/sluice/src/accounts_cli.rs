//! `sluice account create | list | delete`: the server's accounts, managed
//! against its data directory and store (the root of the data directory's
//! account is the only one who may; other accounts' keys never reach here).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::datadir::{self, DataDir};

/// Where the accounts are kept.
#[derive(Args)]
pub struct AccountTarget {
    /// The server's data directory (its account id, root credentials and
    /// master key).
    #[arg(long, global = true, env = "SLUICE_DATA_DIR", default_value = "sluice-data")]
    data_dir: PathBuf,
    /// Metadata store URL; default is SQLite in the data directory.
    #[arg(long, global = true, env = "SLUICE_STORE_URL")]
    store: Option<String>,
}

/// What to do with accounts.
#[derive(Subcommand)]
pub enum AccountAction {
    /// Create an account; prints its id and root credentials (shown once).
    Create {
        /// Unique name (3-63 lower-case letters, digits, inner hyphens).
        name: String,
    },
    /// List the accounts.
    List,
    /// Delete an account (by id or name) with its users, roles and keys.
    Delete {
        /// Account id or name.
        account: String,
    },
}

/// Runs an account command.
pub async fn account(target: AccountTarget, action: AccountAction) -> Result<()> {
    let data = DataDir::open(&target.data_dir)?;
    let first = data.account_id()?;
    let (root, _) = data.root_credentials()?;
    let vault = Arc::new(sluice_vault::Vault::open_default(&data.root).context("cannot load the master key")?);
    let store_url = target.store.clone().unwrap_or_else(|| data.sqlite_url());
    let store = sluice_store::open_store(&store_url).await.context("cannot open the metadata store")?;
    let identity = sluice_iam::IdentityService::new(store, vault);
    identity
        .ensure_account(&first, datadir::FIRST_ACCOUNT_NAME, &root.access_key_id, root.secret_access_key.expose())
        .await?;
    match action {
        AccountAction::Create { name } => {
            let created = identity.create_account(&name).await?;
            println!("account {} ({}) created; its root credentials (shown once):", created.account.account_id, name);
            println!(
                "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}",
                created.access_key_id,
                created.secret_access_key.expose()
            );
        }
        AccountAction::List => {
            println!("{:<14} {:<24} CREATED", "ACCOUNT", "NAME");
            for account in identity.list_accounts().await? {
                let created = time::OffsetDateTime::from_unix_timestamp(account.created_at_ms / 1000)
                    .ok()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default();
                let marker = if account.account_id == first { " (this data directory's)" } else { "" };
                println!("{:<14} {:<24} {created}{marker}", account.account_id, account.name);
            }
        }
        AccountAction::Delete { account } => {
            let deleted = identity.delete_account(&account, &first).await?;
            println!("account {} ({}) deleted", deleted.account_id, deleted.name);
        }
    }
    Ok(())
}
