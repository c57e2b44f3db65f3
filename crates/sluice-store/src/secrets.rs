//! The store of Secrets Manager: one row per secret holding its document
//! (metadata and versions with sealed values; the store never sees a value
//! in the clear) and a revision for optimistic updates.

use crate::StoreResult;

/// A stored secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Owning account.
    pub account_id: String,
    /// The secret's name (unique in the account).
    pub name: String,
    /// Its document as the service keeps it (JSON text).
    pub document: String,
    /// Bumped by every change.
    pub revision: i64,
}

/// The secrets' store.
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a new secret (revision 1); `AlreadyExists` if the account has one by that name.
    async fn create_secret(&self, account_id: &str, name: &str, document: &str) -> StoreResult<()>;
    /// A secret.
    async fn get_secret(&self, account_id: &str, name: &str) -> StoreResult<Option<SecretRow>>;
    /// How many secrets the account has (for its quota).
    async fn count_secrets(&self, account_id: &str) -> StoreResult<usize>;
    /// The account's secrets, by name.
    async fn list_secrets(&self, account_id: &str) -> StoreResult<Vec<SecretRow>>;
    /// Replaces a secret's document if it still has `revision`; false if it changed meanwhile (or is gone).
    async fn update_secret(&self, account_id: &str, name: &str, document: &str, revision: i64) -> StoreResult<bool>;
    /// Deletes a secret; `NotFound` if missing.
    async fn delete_secret(&self, account_id: &str, name: &str) -> StoreResult<()>;
}
