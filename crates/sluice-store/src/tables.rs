//! The table service's store (DynamoDB): tables as documents, items under
//! byte keys that sort as DynamoDB sorts key values, secondary-index
//! entries beside them, and the tables' change streams.
//!
//! The store does not interpret items or expressions. Writes are
//! optimistic: the service reads items with their versions, decides, and
//! commits writes that each expect the version it read (or the item's
//! absence); a commit whose expectation no longer holds changes nothing and
//! reports a [`CommitOutcome::Conflict`], and the service decides again. A
//! commit's items, index entries and stream records land in one
//! transaction, so a change and its stream record are never apart.

use serde_json::Value;

use crate::StoreResult;

/// A stored table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// Owning account.
    pub account_id: String,
    /// Table name (unique in the account).
    pub name: String,
    /// The table's id (`TableId`), the key of its items.
    pub table_id: String,
    /// The table's description as the service keeps it (key schema,
    /// attribute definitions, indexes, stream and TTL settings, tags).
    pub description: Value,
    /// Creation time (ms).
    pub created_at_ms: i64,
}

/// One stored item (or secondary-index entry) with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The key's hash part, as order bytes (the index's, for an entry).
    pub hash_key: Vec<u8>,
    /// The key's range part (empty without a range key).
    pub range_key: Vec<u8>,
    /// The base table's hash key of the item (same as `hash_key` in the table).
    pub base_hash_key: Vec<u8>,
    /// The base table's range key of the item.
    pub base_range_key: Vec<u8>,
    /// Where the hash key falls in the table's scan order (0 to 2^32 - 1).
    pub hash_point: i64,
    /// The version the item was written with (0 for index entries).
    pub version: i64,
    /// The item as the service stores it (JSON text).
    pub item: String,
}

/// What a write expects of the item it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The item does not exist.
    Absent,
    /// The item exists with this version.
    Version(i64),
}

/// An entry of a secondary index written with an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The index's name.
    pub index_name: String,
    /// The index's hash key (order bytes).
    pub hash_key: Vec<u8>,
    /// The index's range key (empty without one).
    pub range_key: Vec<u8>,
    /// Where the index hash key falls in the index's scan order.
    pub hash_point: i64,
    /// The projected item (JSON text).
    pub item: String,
}

/// The new state of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// The item (JSON text).
    pub item: String,
    /// Its new version (unique, so a delete and re-create is a change).
    pub version: i64,
    /// Its size as DynamoDB counts it.
    pub size_bytes: i64,
    /// Its entries in the table's secondary indexes.
    pub index_entries: Vec<IndexEntry>,
}

/// One item write of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemWrite {
    /// The table.
    pub table_id: String,
    /// The item's hash key.
    pub hash_key: Vec<u8>,
    /// The item's range key (empty without one).
    pub range_key: Vec<u8>,
    /// Where the hash key falls in scan order.
    pub hash_point: i64,
    /// What the write expects to find.
    pub expected: Expected,
    /// What the write does.
    pub action: WriteAction,
}

/// What one write of a commit does to its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAction {
    /// Stores the item (creating or replacing it).
    Put(NewItem),
    /// Deletes the item.
    Delete,
    /// Changes nothing; only the expectation must hold (a transaction's
    /// condition check).
    Check,
}

/// A stream record appended with a commit; the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    /// The table whose stream it joins.
    pub table_id: String,
    /// The stream (its label) the record belongs to.
    pub stream_label: String,
    /// When the change happened (ms).
    pub created_at_ms: i64,
    /// The record without its sequence number (JSON text).
    pub record: String,
}

/// A stored stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecordRow {
    /// Its sequence number: increasing per table in commit order.
    pub seq: i64,
    /// When the change happened (ms).
    pub created_at_ms: i64,
    /// The record without its sequence number (JSON text).
    pub record: String,
}

/// A table's stream as listed (it outlives a disabled stream or a deleted
/// table by the retention period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    /// The stream's ARN.
    pub stream_arn: String,
    /// Owning account.
    pub account_id: String,
    /// The table's name.
    pub table_name: String,
    /// The table's id.
    pub table_id: String,
    /// The stream's label (a timestamp).
    pub stream_label: String,
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// When it was enabled (ms).
    pub created_at_ms: i64,
    /// When it was disabled (ms), or the table deleted.
    pub disabled_at_ms: Option<i64>,
    /// The sequence number before its first record.
    pub first_seq: i64,
}

/// How a commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Every write and record landed.
    Committed,
    /// Write number `n` did not find what it expected; nothing landed.
    Conflict(usize),
}

/// Bounds of a range key (order bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Lower bound and whether it is included.
    pub lower: Option<(Vec<u8>, bool)>,
    /// Upper bound and whether it is included.
    pub upper: Option<(Vec<u8>, bool)>,
}

/// Where a page of a query or scan resumes: after this entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCursor {
    /// Hash point of the last entry (scans).
    pub hash_point: i64,
    /// Its hash key.
    pub hash_key: Vec<u8>,
    /// Its range key.
    pub range_key: Vec<u8>,
    /// Its base table hash key (indexes).
    pub base_hash_key: Vec<u8>,
    /// Its base table range key (indexes).
    pub base_range_key: Vec<u8>,
}

/// The store of the table service.
#[async_trait::async_trait]
pub trait TableStore: Send + Sync {
    /// Stores a new table; `AlreadyExists` if the account has one by that name.
    async fn create_table(&self, table: &TableRow) -> StoreResult<()>;
    /// A table.
    async fn get_table(&self, account_id: &str, name: &str) -> StoreResult<Option<TableRow>>;
    /// The account's tables after `after` (a name), by name, up to `limit`.
    async fn list_tables(&self, account_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<TableRow>>;
    /// Every table of every account (for the TTL sweep and stream consumers).
    async fn all_tables(&self) -> StoreResult<Vec<TableRow>>;
    /// Replaces a table's description; `NotFound` if missing.
    async fn update_table(&self, account_id: &str, name: &str, description: &Value) -> StoreResult<()>;
    /// Deletes a table with its items and index entries (its stream records
    /// stay until trimmed); `NotFound` if missing.
    async fn delete_table(&self, account_id: &str, name: &str) -> StoreResult<()>;
    /// How many items a table holds and their total size.
    async fn table_usage(&self, table_id: &str) -> StoreResult<(i64, i64)>;

    /// The items under these keys (hash, range), in the order asked; one
    /// consistent read.
    async fn get_items(&self, table_id: &str, keys: &[(Vec<u8>, Vec<u8>)]) -> StoreResult<Vec<Option<StoredItem>>>;
    /// Applies writes and appends stream records in one transaction, or
    /// nothing when a write does not find what it expects.
    async fn commit(&self, writes: &[ItemWrite], records: &[StreamAppend]) -> StoreResult<CommitOutcome>;
    /// Items (or one index's entries) under one hash key within `range`,
    /// in range-key order (`forward`) or reversed, after `after`.
    #[allow(clippy::too_many_arguments)]
    async fn query_items(
        &self,
        table_id: &str,
        index: Option<&str>,
        hash_key: &[u8],
        range: &KeyRange,
        forward: bool,
        after: Option<&ItemCursor>,
        limit: usize,
    ) -> StoreResult<Vec<StoredItem>>;
    /// Items (or one index's entries) with hash points in `[from, to)`, in
    /// scan order (hash point, hash key, range key), after `after`.
    async fn scan_items(
        &self,
        table_id: &str,
        index: Option<&str>,
        points: (i64, i64),
        after: Option<&ItemCursor>,
        limit: usize,
    ) -> StoreResult<Vec<StoredItem>>;
    /// Replaces every entry of one index (after an index is added or removed:
    /// `entries` empty drops it).
    async fn replace_index(
        &self,
        table_id: &str,
        index_name: &str,
        entries: &[(ItemCursor, String)],
    ) -> StoreResult<()>;

    /// Records a stream (enabled on a table).
    async fn create_stream(&self, stream: &StreamRow) -> StoreResult<()>;
    /// Marks a table's open streams disabled at `at_ms`.
    async fn disable_streams(&self, table_id: &str, at_ms: i64) -> StoreResult<()>;
    /// The account's streams (of one table, if named), newest first.
    async fn list_streams(&self, account_id: &str, table_name: Option<&str>) -> StoreResult<Vec<StreamRow>>;
    /// One stream.
    async fn get_stream(&self, stream_arn: &str) -> StoreResult<Option<StreamRow>>;
    /// A stream's records after sequence number `after`, oldest first.
    async fn stream_records(
        &self,
        table_id: &str,
        stream_label: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<StreamRecordRow>>;
    /// The table's latest sequence number (0 before any record).
    async fn last_sequence(&self, table_id: &str) -> StoreResult<i64>;
    /// Deletes stream records and streams older than `before_ms`.
    async fn trim_streams(&self, before_ms: i64) -> StoreResult<u64>;
}
