//! The data plane: what every source and sink offers the engine, which
//! runs `source -> tasks -> sink` for any pair without knowing either side.
//!
//! - A [`DataSource`] is a flow's source, opened: it knows the fields it can
//!   give (an Arrow schema) and reads the ones asked for as a
//!   [`BatchStream`] of record batches.
//! - A [`DataSink`] takes the batches the tasks produce, says which records
//!   the destination refused, and at the end commits (object storage
//!   publishes its files) or aborts (nothing becomes visible).
//! - A [`RefusedRecordSink`] keeps refused records with their error (the
//!   destination's `errorHandlingConfig` bucket).
//!
//! Everything a connector needs to know about the run it serves comes in a
//! [`RunScope`].

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::retry::{Retries, RetryCounter, RetryPolicy};
use crate::ConnectorError;

/// The run a source or sink serves.
#[derive(Debug, Clone)]
pub struct RunScope {
    /// The flow.
    pub flow_name: String,
    /// The run (outputs and error files are filed under it).
    pub execution_id: String,
    /// When StartFlow queued the run: the same for every attempt, so paths
    /// built from it do not move when another worker takes the run over.
    pub started_at: OffsetDateTime,
    /// 1 for the first attempt, more after a takeover.
    pub attempt: i64,
    /// Set when the run must stop; long waits race it.
    pub cancel: CancellationToken,
    /// How transient failures are retried within the run, and their count.
    pub retries: Retries,
    /// The object the run reads (its source's `object`), for destinations
    /// that name what they write after it (EventBridge's detail-type).
    pub source_object: Option<String>,
    /// The account the flow belongs to (`""`: none; tests and tools). The
    /// buckets a run uses must be that account's.
    pub account_id: String,
}

impl RunScope {
    /// The scope of a run of `flow_name`.
    pub fn new(flow_name: &str, execution_id: &str, started_at: OffsetDateTime, attempt: i64) -> Self {
        let cancel = CancellationToken::new();
        Self {
            flow_name: flow_name.to_string(),
            execution_id: execution_id.to_string(),
            started_at,
            attempt,
            retries: Retries {
                policy: RetryPolicy::default(),
                counter: Arc::new(RetryCounter::default()),
                cancel: cancel.clone(),
            },
            cancel,
            source_object: None,
            account_id: String::new(),
        }
    }

    /// The scope of a run of a flow of `account_id`.
    pub fn in_account(mut self, account_id: &str) -> Self {
        self.account_id = account_id.to_string();
        self
    }

    /// The scope of a run reading `object`.
    pub fn reading(mut self, object: Option<String>) -> Self {
        self.source_object = object;
        self
    }

    /// Calls that retry no failure (previews and other interactive reads).
    pub fn without_retries(mut self) -> Self {
        self.retries.policy = RetryPolicy::none();
        self
    }

    /// Runs `work` unless the run is cancelled first.
    pub async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        tokio::select! {
            result = work => result,
            _ = self.cancel.cancelled() => Err(ConnectorError::Cancelled),
        }
    }

    /// `Err(Cancelled)` once the run was asked to stop.
    pub fn check_cancelled(&self) -> Result<(), ConnectorError> {
        if self.cancel.is_cancelled() {
            Err(ConnectorError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What a source can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceCapabilities {
    /// Reading ends (a query, a set of objects); false for a stream of events.
    pub bounded: bool,
    /// Records can be selected by a datetime field ([`ReadRequest::window`]),
    /// for incremental pulls.
    pub datetime_window: bool,
    /// Deleted records can be read too.
    pub deleted_records: bool,
    /// Reads can skip what earlier runs read, given the state a read ends
    /// with ([`BatchStream::checkpoint`], passed back as
    /// [`ReadRequest::previous_state`]).
    pub incremental_state: bool,
    /// The source reads the events an event trigger delivered
    /// ([`ReadRequest::events`]) rather than querying.
    pub events: bool,
}

/// Records whose datetime field falls in `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatetimeWindow {
    /// The datetime field compared (`None`: the source's own choice, e.g.
    /// when the record was last changed).
    pub field: Option<String>,
    /// Inclusive start; `None` reads from the beginning.
    pub start: Option<OffsetDateTime>,
    /// Exclusive end.
    pub end: OffsetDateTime,
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadRequest {
    /// The fields, in the order the batches carry them.
    pub fields: Vec<String>,
    /// At most this many records (previews).
    pub limit: Option<usize>,
    /// Only records in this window (sources with `datetime_window`).
    pub window: Option<DatetimeWindow>,
    /// The state an earlier committed read ended with (sources with
    /// `incremental_state`): only what it did not cover is read.
    pub previous_state: Option<serde_json::Value>,
    /// The events of an event-triggered run (sources with `events`), as
    /// their subscription delivered them ([`crate::events::ChannelEvent::record`]).
    pub events: Option<Vec<serde_json::Value>>,
}

/// The fields named `names`, in that order, of `schema` (a read's
/// projection); `what` names the source in the error for a missing one.
pub fn project_schema(schema: &SchemaRef, names: &[String], what: &str) -> Result<SchemaRef, ConnectorError> {
    let mut fields = Vec::with_capacity(names.len());
    for name in names {
        let field =
            schema.field_with_name(name).map_err(|_| ConnectorError::Invalid(format!("{what} has no field {name}")))?;
        fields.push(field.clone());
    }
    Ok(Arc::new(arrow_schema::Schema::new(fields)))
}

/// A batch read from a source, with the bytes that were read for it.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    /// The records.
    pub batch: RecordBatch,
    /// Bytes read from the source for them (an execution's `bytesProcessed`).
    pub bytes_read: u64,
}

/// A flow's source, opened (the object described, the objects listed).
#[async_trait::async_trait]
pub trait DataSource: Send + Sync {
    /// Every field the source can give, or `None` when there is nothing to
    /// read and so no schema to learn (an empty folder).
    fn schema(&self) -> Option<SchemaRef>;
    /// The fields read when the tasks name none (`Map_all`): every field
    /// of the schema unless the source says otherwise.
    fn default_fields(&self) -> Vec<String> {
        self.schema().map(|schema| schema.fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default()
    }
    /// What the source can do.
    fn capabilities(&self) -> SourceCapabilities;
    /// Starts reading.
    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError>;
}

/// Batches of a source being read.
#[async_trait::async_trait]
pub trait BatchStream: Send {
    /// The next batch, or `None` at the end. After an error, the stream is
    /// done.
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError>;

    /// After the end: the state to pass as the next incremental read's
    /// [`ReadRequest::previous_state`] once this run committed.
    fn checkpoint(&self) -> Option<serde_json::Value> {
        None
    }
}

/// A stream without batches (a source with nothing to read).
pub struct NoBatches;

#[async_trait::async_trait]
impl BatchStream for NoBatches {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        Ok(None)
    }
}

/// A record the destination refused, as text cells by field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecord {
    /// `(field, value)` of the record as it was sent.
    pub cells: Vec<(String, String)>,
    /// What the destination said.
    pub error: String,
}

/// A flow's destination, opened for one run.
#[async_trait::async_trait]
pub trait DataSink: Send {
    /// Takes a batch of the flow's output schema; returns the records the
    /// destination refused (now or from earlier batches).
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError>;
    /// Ends the input: writes what is still held and returns the last
    /// refused records.
    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError>;
    /// Makes what was written visible (object storage publishes its files).
    async fn commit(self: Box<Self>) -> Result<(), ConnectorError>;
    /// Discards what was written where it can be (unpublished files).
    async fn abort(self: Box<Self>);
    /// Bytes sent to the destination so far.
    fn bytes_written(&self) -> u64;
}

/// The rows of a batch as JSON objects (column name -> value; nulls left
/// out), as the JSON destinations send them.
#[cfg(any(feature = "marketo", feature = "eventbridge"))]
pub fn json_rows(batch: &RecordBatch) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, ConnectorError> {
    let invalid = |e: &dyn std::fmt::Display| ConnectorError::Invalid(format!("cannot write a record as JSON: {e}"));
    let mut writer = arrow_json::ArrayWriter::new(Vec::new());
    writer.write(batch).map_err(|e| invalid(&e))?;
    writer.finish().map_err(|e| invalid(&e))?;
    let text = writer.into_inner();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&text).map_err(|e| invalid(&e))
}

/// Where refused records are kept (AppFlow's error handling bucket).
#[async_trait::async_trait]
pub trait RefusedRecordSink: Send {
    /// Adds records.
    async fn add(&mut self, records: &[RefusedRecord]) -> Result<(), ConnectorError>;
    /// Publishes what was added (nothing when nothing was).
    async fn finish(&mut self) -> Result<(), ConnectorError>;
    /// Where the records go, for messages (`bucket/key`).
    fn location(&self) -> String;
}
