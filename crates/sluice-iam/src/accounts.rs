//! Accounts and their root keys. The server's data directory holds the
//! first account (its id and root credentials); more are made with
//! `sluice account create`, each with a new root key printed once.

use sluice_store::{AccessKeyRow, AccountRow, KeyKind, StoreError};

use crate::{new_id, new_secret, now_ms, IamError, IamResult, IdentityService};

/// How a root key registered from the data directory is marked.
const DATA_DIRECTORY_SOURCE: &str = "data-directory";

/// A new account's root credentials (the secret is shown once).
#[derive(Debug)]
pub struct NewRootKey {
    /// The account.
    pub account: AccountRow,
    /// Its root access key id.
    pub access_key_id: String,
    /// Its root secret access key.
    pub secret_access_key: sluice_model::wire::SecretString,
}

/// Account names: what IAM allows in an account alias.
fn check_name(name: &str) -> IamResult<()> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(IamError::Validation(format!(
            "account name {name:?} must be 3 to 63 lower-case letters, digits or inner hyphens"
        )))
    }
}

impl IdentityService {
    /// Makes sure the data directory's account exists with its root key
    /// (the server's first account; a data directory from before accounts
    /// existed opens as it). A changed root secret (from the environment)
    /// replaces the stored one.
    pub async fn ensure_account(
        &self,
        account_id: &str,
        name: &str,
        root_access_key_id: &str,
        root_secret: &str,
    ) -> IamResult<()> {
        if self.store.get_account(account_id).await?.is_none() {
            let account = AccountRow { account_id: account_id.into(), name: name.into(), created_at_ms: now_ms() };
            match self.store.create_account(&account).await {
                Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match self.store.get_access_key(root_access_key_id).await? {
            Some(row) if row.account_id != account_id || row.kind != KeyKind::Root => {
                return Err(IamError::Validation(format!(
                    "access key {root_access_key_id} belongs to another identity; it cannot be account \
                     {account_id}'s root key"
                )))
            }
            Some(row) => {
                let same = self.resolve(root_access_key_id).await.map(|k| k.secret.expose() == root_secret);
                if same.unwrap_or(false) {
                    return Ok(());
                }
                self.store.delete_access_key(&row.account_id, root_access_key_id).await?;
                self.forget_key(root_access_key_id);
            }
            None => {}
        }
        // The data directory's earlier root key (another id: the environment's
        // now, or the file's before) stops working; root keys made with
        // CreateAccessKey stay.
        for old in self.store.list_access_keys(account_id, KeyKind::Root, "").await? {
            let from_data_dir = old.session.as_ref().and_then(|s| s.get("Source")).and_then(|s| s.as_str())
                == Some(DATA_DIRECTORY_SOURCE);
            if from_data_dir && old.access_key_id != root_access_key_id {
                self.store.delete_access_key(account_id, &old.access_key_id).await?;
                self.forget_key(&old.access_key_id);
                tracing::info!(access_key_id = %old.access_key_id, "the data directory's earlier root key was replaced");
            }
        }
        self.insert_root_key(account_id, root_access_key_id, root_secret, Some(DATA_DIRECTORY_SOURCE)).await
    }

    async fn insert_root_key(
        &self,
        account_id: &str,
        access_key_id: &str,
        secret: &str,
        source: Option<&str>,
    ) -> IamResult<()> {
        let row = AccessKeyRow {
            access_key_id: access_key_id.into(),
            account_id: account_id.into(),
            kind: KeyKind::Root,
            principal: String::new(),
            sealed_secret: self.seal_secret(access_key_id, secret),
            status: "Active".into(),
            session: source.map(|source| serde_json::json!({ "Source": source })),
            expires_at_ms: None,
            created_at_ms: now_ms(),
        };
        match self.store.insert_access_key(&row).await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates an account named `name` with a new 12-digit id and root key.
    pub async fn create_account(&self, name: &str) -> IamResult<NewRootKey> {
        check_name(name)?;
        if self.store.list_accounts().await?.iter().any(|a| a.name == name) {
            return Err(IamError::EntityAlreadyExists(format!("Account with name {name} already exists.")));
        }
        let account_id: String = {
            use rand::RngExt;
            let mut rng = rand::rng();
            (0..12).map(|i| char::from(b'0' + rng.random_range(if i == 0 { 1 } else { 0 }..10u8))).collect()
        };
        let account = AccountRow { account_id: account_id.clone(), name: name.into(), created_at_ms: now_ms() };
        self.store.create_account(&account).await.map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                IamError::EntityAlreadyExists(format!("Account with name {name} already exists."))
            }
            other => other.into(),
        })?;
        let access_key_id = new_id("AKIA");
        let secret = new_secret(40);
        self.insert_root_key(&account_id, &access_key_id, &secret, None).await?;
        Ok(NewRootKey { account, access_key_id, secret_access_key: sluice_model::wire::SecretString::new(secret) })
    }

    /// Every account, by name.
    pub async fn list_accounts(&self) -> IamResult<Vec<AccountRow>> {
        Ok(self.store.list_accounts().await?)
    }

    /// Deletes an account (by id or name) with its users, roles, policies
    /// and keys; `protected` (the server's first account) cannot be.
    pub async fn delete_account(&self, id_or_name: &str, protected: &str) -> IamResult<AccountRow> {
        let account = self
            .store
            .list_accounts()
            .await?
            .into_iter()
            .find(|a| a.account_id == id_or_name || a.name == id_or_name)
            .ok_or_else(|| IamError::NoSuchEntity(format!("The account {id_or_name} cannot be found.")))?;
        if account.account_id == protected {
            return Err(IamError::Validation(format!(
                "account {} is the server's own account (its data directory's); it cannot be deleted",
                account.account_id
            )));
        }
        self.store.delete_account(&account.account_id).await?;
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (_, k)| k.caller.account_id != account.account_id);
        Ok(account)
    }
}
