//! The event bus's archives and replays: the events an archive kept (with
//! their expiry) and the replays that send them back to their bus, each
//! worked by one server at a time through a lease. An archive's own
//! settings are a bus resource of kind `archive` ([`crate::BusStore`]).

use serde_json::Value;

use crate::{Page, PageRequest, StoreResult};

/// An event an archive kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedEventRow {
    /// Owning account (the archive's).
    pub account_id: String,
    /// The archive.
    pub archive_name: String,
    /// The event's id.
    pub event_id: String,
    /// The event's time (ms): what a replay's time window selects on.
    pub event_time_ms: i64,
    /// When it was archived (ms).
    pub archived_at_ms: i64,
    /// When retention removes it (ms); `None` keeps it for ever.
    pub expires_at_ms: Option<i64>,
    /// Its size in bytes as stored.
    pub size_bytes: i64,
    /// The event envelope as JSON.
    pub event: Value,
}

/// A replay of an archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    /// Owning account.
    pub account_id: String,
    /// Replay name, unique per account.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The archive it replays.
    pub archive_name: String,
    /// `STARTING`, `RUNNING`, `CANCELLING`, `COMPLETED`, `CANCELLED` or
    /// `FAILED`.
    pub state: String,
    /// Window, destination, progress and times, as JSON.
    pub document: Value,
    /// The server working it, if any.
    pub lease_owner: Option<String>,
    /// Until when (ms).
    pub lease_expires_at_ms: Option<i64>,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
}

/// Replay states a server still has work to do in.
pub const ACTIVE_REPLAY_STATES: [&str; 3] = ["STARTING", "RUNNING", "CANCELLING"];

/// Where a replay has got to: the last event it sent, by (time, id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArchivePosition {
    /// Event time (ms) of the last event sent.
    pub event_time_ms: i64,
    /// Its id (events of one time are ordered by id).
    pub event_id: String,
}

/// The store of archives and replays.
#[async_trait::async_trait]
pub trait ArchiveStore: Send + Sync {
    /// Events of an archive with `from_ms <= time < until_ms` after
    /// `after` (exclusive), in (time, id) order, at most `limit`.
    async fn archived_events(
        &self,
        account_id: &str,
        archive_name: &str,
        from_ms: i64,
        until_ms: i64,
        after: Option<&ArchivePosition>,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEventRow>>;
    /// How many events an archive holds and their bytes.
    async fn archive_totals(&self, account_id: &str, archive_name: &str) -> StoreResult<(i64, i64)>;
    /// Removes every event of an archive (it is being deleted).
    async fn delete_archived_events(&self, account_id: &str, archive_name: &str) -> StoreResult<u64>;
    /// Gives an archive's events a new retention (`None`: for ever),
    /// counted from when each was archived.
    async fn set_archive_retention(
        &self,
        account_id: &str,
        archive_name: &str,
        retention_ms: Option<i64>,
    ) -> StoreResult<()>;
    /// Removes events whose retention ended before `now_ms`, at most `limit`.
    async fn expire_archived_events(&self, now_ms: i64, limit: usize) -> StoreResult<u64>;

    /// Stores a new replay; `AlreadyExists` if the name is taken.
    async fn create_replay(&self, replay: &ReplayRow) -> StoreResult<()>;
    /// A replay.
    async fn get_replay(&self, account_id: &str, name: &str) -> StoreResult<Option<ReplayRow>>;
    /// Replays whose names start with `prefix`, by name, a page at a time.
    async fn list_replays(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<ReplayRow>>;
    /// Replays of an account in an active state.
    async fn active_replays(&self, account_id: &str) -> StoreResult<u64>;
    /// Claims up to `limit` active replays held by no live lease, for
    /// `owner` until `now_ms + lease_ms`.
    async fn claim_replays(&self, owner: &str, now_ms: i64, lease_ms: i64, limit: usize)
        -> StoreResult<Vec<ReplayRow>>;
    /// Replaces a replay's state, document, lease and update time, only
    /// while its state is still `expected_state` (and, with `owner`, while
    /// `owner` holds it). False when either changed.
    async fn update_replay(&self, replay: &ReplayRow, expected_state: &str, owner: Option<&str>) -> StoreResult<bool>;
}
