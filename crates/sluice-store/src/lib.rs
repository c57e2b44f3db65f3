//! The metadata store: connector profiles, flows, flow executions and tags;
//! the event bus ([`BusStore`]) and queues ([`QueueStore`]).
//!
//! [`MetadataStore`] is the interface the rest of Sluice uses. [`SqlStore`]
//! implements it on SQLite (the embedded default, one file in the data
//! directory) and on PostgreSQL (the shared store for several Sluice
//! processes), chosen by URL scheme in [`open_store`]. Both run the same
//! embedded migrations and the same runtime queries through sqlx's `Any`
//! driver, and one test suite (`tests/store_suite.rs`) runs against both.
//!
//! The store keeps documents (profile properties, flow definitions,
//! execution records) as JSON text and does not interpret them; credentials
//! arrive already sealed by `sluice-vault`.

pub mod archives;
pub mod buckets;
pub mod bus;
pub mod identity;
pub mod pipes;
pub mod queues;
mod records;
pub mod secrets;
mod sql;
mod sql_archives;
mod sql_buckets;
mod sql_bus;
mod sql_identity;
mod sql_pipes;
mod sql_queues;
mod sql_secrets;
mod sql_tables;
mod sql_triggers;
pub mod tables;
#[cfg(feature = "test-support")]
pub mod test_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub use archives::{ArchivePosition, ArchiveStore, ArchivedEventRow, ReplayRow, ACTIVE_REPLAY_STATES};
pub use buckets::BucketStore;
pub use bus::{BusResourceRow, BusRow, BusStore, DeliveryRow, RuleRow, TargetRow};
pub use identity::{AccessKeyRow, AccountRow, IdentityStore, KeyKind, PrincipalKind, PrincipalRow};
pub use pipes::{PipeRow, PipeStore};
pub use queues::{MessageRow, QueueCounts, QueueRow, QueueStore, Redrive};
pub use records::*;
pub use secrets::{SecretRow, SecretStore};
pub use sql::SqlStore;
pub use tables::TableStore;

/// Milliseconds since the Unix epoch: the unit of every time the store
/// keeps, and the one clock reading the services share.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A resource with that name already exists.
    #[error("{kind} '{name}' already exists")]
    AlreadyExists {
        /// Resource kind ("flow", "connector profile").
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// No resource with that name.
    #[error("{kind} '{name}' does not exist")]
    NotFound {
        /// Resource kind.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A connector profile cannot be deleted while flows use it.
    #[error("connector profile '{profile}' is used by flows: {}", flows.join(", "))]
    ProfileInUse {
        /// The profile.
        profile: String,
        /// Flows that reference it.
        flows: Vec<String>,
    },
    /// A paging cursor that this store did not issue.
    #[error("invalid pagination cursor")]
    InvalidCursor,
    /// The store URL is not understood.
    #[error("unsupported store url '{0}': use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A stored document does not parse.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which document.
        what: String,
        /// Parser message.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// The trigger state of scheduled flows: occurrences claimed by
/// compare-and-set (several servers on one store fire each once) and the
/// incremental position, moved only after a run committed.
#[async_trait::async_trait]
pub trait TriggerStore: Send + Sync {
    /// Sets when a flow's next occurrence is due (`None`: no more), creating
    /// its trigger state if needed and keeping its incremental position;
    /// `reset_failures` zeroes the count of failed runs in a row.
    async fn schedule_trigger(
        &self,
        flow_name: &str,
        next_fire_ms: Option<i64>,
        reset_failures: bool,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// A flow's trigger state.
    async fn get_trigger(&self, flow_name: &str) -> StoreResult<Option<TriggerRow>>;
    /// Trigger states whose next occurrence is due at `now_ms`, oldest first.
    async fn due_triggers(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<TriggerRow>>;
    /// Claims the occurrence due at `due_ms`: moves the next occurrence to
    /// `next_fire_ms` only if it is still `due_ms`, and in the same
    /// transaction records and queues `run` (its execution and request), if
    /// given. False when another server claimed the occurrence first.
    async fn fire_trigger(
        &self,
        flow_name: &str,
        due_ms: i64,
        next_fire_ms: Option<i64>,
        run: Option<(&ExecutionRow, &Value)>,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// After a triggered run: a success moves the watermark and the source
    /// state (when given) and zeroes the failures; a failure counts one
    /// more. Returns the failures in a row.
    async fn record_trigger_outcome(
        &self,
        flow_name: &str,
        succeeded: bool,
        watermark_ms: Option<i64>,
        source_state: Option<&Value>,
        now_ms: i64,
    ) -> StoreResult<i64>;
    /// Whether a run of the flow is queued or running.
    async fn run_in_flight(&self, flow_name: &str) -> StoreResult<bool>;

    /// Marks an event flow as wanting a listener (or not), creating its
    /// trigger state if needed; `initial_state` becomes its source state
    /// when it has none (an event flow's first subscription starts there).
    /// Turning it off ends any listener's lease.
    async fn set_listening(
        &self,
        flow_name: &str,
        listen: bool,
        initial_state: Option<&Value>,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// The flows that want a listener, with who holds each.
    async fn listening_flows(&self) -> StoreResult<Vec<ListenerRow>>;
    /// Takes or renews the listener lease of a flow for `owner` until
    /// `now_ms + lease_ms`: granted when nobody holds it, `owner` does, or
    /// the holder's lease expired (and the flow still wants a listener).
    async fn claim_listener(&self, flow_name: &str, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<bool>;
    /// Gives a listener lease back (nothing if `owner` does not hold it).
    async fn release_listener(&self, flow_name: &str, owner: &str) -> StoreResult<()>;
    /// Records and queues a run of the events a listener collected, in one
    /// transaction, only while `owner` holds the flow's listener lease and
    /// no other run of the flow is queued or running. False otherwise
    /// (nothing is written).
    async fn queue_listener_run(
        &self,
        flow_name: &str,
        owner: &str,
        now_ms: i64,
        execution: &ExecutionRow,
        request: &Value,
    ) -> StoreResult<bool>;
}

/// The metadata store interface.
#[async_trait::async_trait]
pub trait MetadataStore:
    TriggerStore
    + BusStore
    + ArchiveStore
    + QueueStore
    + IdentityStore
    + BucketStore
    + TableStore
    + PipeStore
    + SecretStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is ("sqlite" or "postgres").
    fn backend_name(&self) -> &'static str;

    /// The same store, its AppFlow resources (profiles, flows, runs,
    /// triggers) those of `account_id`: every name-keyed call of the view
    /// reads and writes that account's only. The queue-wide calls
    /// (`claim_run`, `due_triggers`, `listening_flows`, leases) see every
    /// account and say which one a row is; work on it goes through
    /// `for_account` of that account.
    fn for_account(&self, account_id: &str) -> std::sync::Arc<dyn MetadataStore>;
    /// The account this view is of (`""` for a store just opened, which
    /// holds no account's AppFlow resources but those from before accounts).
    fn account_scope(&self) -> &str;
    /// Gives the AppFlow resources that belong to no account (stored before
    /// accounts existed) to `account_id`; how many rows moved.
    async fn adopt_unowned(&self, account_id: &str) -> StoreResult<u64>;

    /// Stores a new connector profile; `AlreadyExists` if the name is taken.
    async fn create_profile(&self, profile: &ProfileRecord) -> StoreResult<()>;
    /// The profile with that name.
    async fn get_profile(&self, name: &str) -> StoreResult<Option<ProfileRecord>>;
    /// Profiles matching `filter`, ordered by name, one page at a time.
    async fn list_profiles(&self, filter: &ProfileFilter, page: &PageRequest) -> StoreResult<Page<ProfileRecord>>;
    /// Replaces a stored profile; `NotFound` if missing.
    async fn update_profile(&self, profile: &ProfileRecord) -> StoreResult<()>;
    /// Replaces only the sealed credentials of a profile (e.g. OAuth tokens
    /// a connector renewed during a run) and clears its `auth_error`;
    /// `NotFound` if missing.
    async fn save_profile_credentials(&self, name: &str, sealed: &str, now_ms: i64) -> StoreResult<()>;
    /// Records why a profile needs new credentials (`None` clears it);
    /// `NotFound` if missing.
    async fn set_profile_auth_error(&self, name: &str, auth_error: Option<&str>) -> StoreResult<()>;
    /// Deletes a profile and its tags. Without `force`, fails with
    /// `ProfileInUse` while flows reference it.
    async fn delete_profile(&self, name: &str, force: bool) -> StoreResult<()>;

    /// Stores a new flow and its references to profiles. Fails with
    /// `NotFound` if a referenced profile does not exist, `AlreadyExists` if
    /// the name is taken.
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()>;
    /// The flow with that name.
    async fn get_flow(&self, name: &str) -> StoreResult<Option<FlowRecord>>;
    /// Flows ordered by name, one page at a time.
    async fn list_flows(&self, page: &PageRequest) -> StoreResult<Page<FlowRecord>>;
    /// Replaces a stored flow (definition, status, profile references).
    async fn update_flow(&self, flow: &FlowRecord) -> StoreResult<()>;
    /// Deletes a flow with its executions and tags.
    async fn delete_flow(&self, name: &str) -> StoreResult<()>;

    /// Stores a new execution record.
    async fn insert_execution(&self, execution: &ExecutionRow) -> StoreResult<()>;
    /// Replaces an execution record; `NotFound` if missing.
    async fn update_execution(&self, execution: &ExecutionRow) -> StoreResult<()>;
    /// One execution of a flow.
    async fn get_execution(&self, flow_name: &str, execution_id: &str) -> StoreResult<Option<ExecutionRow>>;
    /// Executions of a flow, most recent first, one page at a time.
    async fn list_executions(&self, flow_name: &str, page: &PageRequest) -> StoreResult<Page<ExecutionRow>>;

    /// Queues a run for the workers.
    async fn enqueue_run(&self, execution_id: &str, flow_name: &str, now_ms: i64) -> StoreResult<()>;
    /// Stores a new run's execution record and queues the run (with what it
    /// is for, `request`), in one transaction: either both are written or
    /// neither is (a run can never be recorded `InProgress` without being
    /// queued).
    async fn start_run(&self, execution: &ExecutionRow, request: Option<&Value>) -> StoreResult<()>;
    /// Claims the oldest run that no live lease holds, for `lease_ms`.
    /// Several workers (processes sharing a PostgreSQL store) never get the
    /// same run while its lease is live.
    async fn claim_run(&self, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<Option<ClaimedRun>>;
    /// Extends `owner`'s lease, also one that expired while no other worker
    /// claimed the run; false when the lease was lost (another worker
    /// claimed the run, or it is gone).
    async fn renew_lease(&self, execution_id: &str, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<bool>;
    /// Gives a claimed run back (its worker is stopping), so any worker can
    /// claim it at once instead of after the lease expires.
    async fn release_run(&self, execution_id: &str, owner: &str) -> StoreResult<bool>;
    /// Removes a finished run from the queue (only by its lease owner).
    async fn finish_run(&self, execution_id: &str, owner: &str) -> StoreResult<bool>;
    /// Asks the worker running `execution_id` to stop; false if not queued.
    async fn request_cancel(&self, execution_id: &str) -> StoreResult<bool>;
    /// Whether a cancel was asked for.
    async fn cancel_requested(&self, execution_id: &str) -> StoreResult<bool>;

    /// Tags of a resource.
    async fn get_tags(&self, resource_arn: &str) -> StoreResult<BTreeMap<String, String>>;
    /// Adds or overwrites tags of a resource.
    async fn put_tags(&self, resource_arn: &str, tags: &BTreeMap<String, String>) -> StoreResult<()>;
    /// Removes tags of a resource; missing keys are ignored.
    async fn remove_tags(&self, resource_arn: &str, keys: &[String]) -> StoreResult<()>;
}

/// Opens the store named by `url` (`sqlite://PATH` or `postgres://...`)
/// and applies pending migrations.
pub async fn open_store(url: &str) -> StoreResult<Arc<dyn MetadataStore>> {
    Ok(Arc::new(SqlStore::connect(url).await?))
}
