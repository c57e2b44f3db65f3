//! Rows kept by the store and paging types.

use serde_json::Value;

/// A stored connector profile. Credentials are sealed by the vault before
/// they get here and are never interpreted by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRecord {
    /// Unique name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// AppFlow connector type, e.g. `Salesforce`.
    pub connector_type: String,
    /// Label of a custom connector, if any.
    pub connector_label: Option<String>,
    /// `Public` or `Private`.
    pub connection_mode: String,
    /// `ConnectorProfileProperties` as JSON.
    pub properties: Value,
    /// Sealed credentials (vault text form).
    pub sealed_credentials: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Last update time, ms since the epoch.
    pub updated_at_ms: i64,
    /// Why the profile needs new credentials (the app refused to renew
    /// them); `None` while they work.
    pub auth_error: Option<String>,
}

/// A stored flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// Unique name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// AppFlow `FlowStatus`, e.g. `Active`.
    pub status: String,
    /// The flow definition as JSON (everything CreateFlow/UpdateFlow carry
    /// that DescribeFlow returns, plus bookkeeping the API layer adds).
    pub definition: Value,
    /// Names of the connector profiles the flow uses.
    pub profile_names: Vec<String>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Last update time, ms since the epoch.
    pub updated_at_ms: i64,
}

/// A stored flow execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    /// Unique execution id.
    pub execution_id: String,
    /// Flow it belongs to.
    pub flow_name: String,
    /// AppFlow `ExecutionStatus`, e.g. `InProgress`.
    pub status: String,
    /// The AppFlow `ExecutionRecord` as JSON.
    pub record: Value,
    /// Start time, ms since the epoch.
    pub started_at_ms: i64,
    /// Last update time, ms since the epoch.
    pub updated_at_ms: i64,
}

/// Which profiles to list.
#[derive(Debug, Clone, Default)]
pub struct ProfileFilter {
    /// Only these names (empty: all).
    pub names: Vec<String>,
    /// Only this connector type.
    pub connector_type: Option<String>,
    /// Only this connector label.
    pub connector_label: Option<String>,
}

/// One page request: resume after `cursor`, return at most `limit` rows.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Cursor from the previous page's [`Page::next_cursor`].
    pub cursor: Option<String>,
    /// Maximum rows to return (at least 1).
    pub limit: usize,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: usize) -> Self {
        Self { cursor: None, limit }
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Cursor of the next page, `None` when this is the last one.
    pub next_cursor: Option<String>,
}

/// A queued run a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRun {
    /// The execution.
    pub execution_id: String,
    /// The account of its flow.
    pub account_id: String,
    /// Its flow.
    pub flow_name: String,
    /// How many times it has been claimed, this claim included.
    pub attempts: i64,
    /// What the run is for (a scheduled occurrence, a backfill), as queued.
    pub request: Option<Value>,
}

/// An event flow that wants a listener, and who holds its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRow {
    /// The account of the flow.
    pub account_id: String,
    /// The event flow.
    pub flow_name: String,
    /// The server holding its listener lease, if any.
    pub owner: Option<String>,
    /// Until when (ms).
    pub until_ms: Option<i64>,
}

/// A scheduled or event flow's trigger state.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRow {
    /// The account of the flow.
    pub account_id: String,
    /// The flow.
    pub flow_name: String,
    /// When the next occurrence is due (ms); `None`: no further occurrence
    /// (the flow is not active, or its schedule ended).
    pub next_fire_ms: Option<i64>,
    /// End of the last committed incremental window (ms).
    pub watermark_ms: Option<i64>,
    /// The source's incremental state after the last committed run (e.g.
    /// the objects an object-storage source has read).
    pub source_state: Option<Value>,
    /// Runs that failed in a row.
    pub consecutive_failures: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
}
