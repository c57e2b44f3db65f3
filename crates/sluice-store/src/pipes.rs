//! The store of EventBridge Pipes: a pipe's definition and desired state,
//! its source position, and a lease so that one server at a time moves
//! records through it (several servers on one PostgreSQL share the pipes).

use crate::StoreResult;

/// A stored pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeRow {
    /// Owning account.
    pub account_id: String,
    /// The pipe's name (unique in the account).
    pub name: String,
    /// The pipe's definition as the service keeps it (JSON text).
    pub document: String,
    /// `RUNNING` or `STOPPED`.
    pub desired_state: String,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last change of definition or state (ms).
    pub updated_at_ms: i64,
    /// Where its source has been read to (none before its first batch).
    pub position: Option<String>,
    /// The server holding its lease.
    pub lease_owner: Option<String>,
    /// Until when (ms).
    pub lease_until_ms: i64,
}

/// The pipes' store.
#[async_trait::async_trait]
pub trait PipeStore: Send + Sync {
    /// Stores a new pipe; `AlreadyExists` if the account has one by that name.
    async fn create_pipe(&self, pipe: &PipeRow) -> StoreResult<()>;
    /// A pipe.
    async fn get_pipe(&self, account_id: &str, name: &str) -> StoreResult<Option<PipeRow>>;
    /// The account's pipes, by name.
    async fn list_pipes(&self, account_id: &str) -> StoreResult<Vec<PipeRow>>;
    /// Replaces a pipe's definition and desired state; with `reset` its
    /// position is forgotten (a new source). `NotFound` if missing.
    async fn update_pipe(
        &self,
        account_id: &str,
        name: &str,
        document: &str,
        desired_state: &str,
        reset: bool,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Deletes a pipe; `NotFound` if missing.
    async fn delete_pipe(&self, account_id: &str, name: &str) -> StoreResult<()>;
    /// Every account's pipes that should be running.
    async fn running_pipes(&self) -> StoreResult<Vec<PipeRow>>;
    /// Takes (or renews) a pipe's lease for `owner` until `until_ms`, if
    /// nobody else holds an unexpired one; the pipe as it is now, if taken.
    async fn lease_pipe(
        &self,
        account_id: &str,
        name: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Option<PipeRow>>;
    /// Records how far the pipe's source was read, if `owner` still holds
    /// its lease (false otherwise: another server took it).
    async fn save_pipe_position(&self, account_id: &str, name: &str, owner: &str, position: &str) -> StoreResult<bool>;
    /// Gives a lease back (the pipe stopped, or the server is stopping).
    async fn release_pipe(&self, account_id: &str, name: &str, owner: &str) -> StoreResult<()>;
}
