//! Marketo as a flow's source: leads through the Bulk Lead Extract API and
//! activities through paging tokens.
//!
//! - Leads: one export job per window of at most [`EXPORT_WINDOW_DAYS`]
//!   days (Marketo takes at most 31) on `createdAt` or `updatedAt`
//!   (`incrementalPullConfig.datetimeTypeFieldName`; `updatedAt` by
//!   default), each created, enqueued, polled and its CSV file read into
//!   Arrow with the describe's types. A run without a window (Complete)
//!   reads every lead by `createdAt` from the creation of the instance's
//!   first leads: Marketo numbers leads in creation order, so the earliest
//!   `createdAt` of leads 1-300 starts the first window (from
//!   [`MARKETO_EPOCH`] when none of them is left).
//! - Activities: the activity types, then for each ten of them a paging
//!   token from the window's start and the pages after it, keeping those
//!   before the window's end.
//!
//! Windows are half-open `[start, end)` on whole seconds: Marketo's filters
//! include both ends, so a job asks for `[start, end - 1 s]`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::client::MarketoClient;
use crate::plane::{project_schema, BatchStream, DataSource, ReadRequest, RunScope, SourceBatch, SourceCapabilities};
use crate::ConnectorError;

/// The longest window of one export job, in days.
pub const EXPORT_WINDOW_DAYS: i64 = 31;
/// No lead is older (Marketo was founded in 2006): where a Complete read starts.
pub const MARKETO_EPOCH: i64 = 1_136_073_600; // 2006-01-01T00:00:00Z
/// What both Marketo sources can do: bounded reads of a datetime window.
const WINDOWED: SourceCapabilities = SourceCapabilities {
    bounded: true,
    datetime_window: true,
    deleted_records: false,
    incremental_state: false,
    events: false,
};
/// Rows per batch of an export file.
const EXPORT_BATCH_ROWS: usize = 8192;
/// Activity types per activities call (Marketo takes at most ten).
const TYPES_PER_CALL: usize = 10;
/// Activities per page.
const ACTIVITY_PAGE: &str = "300";
/// The first wait between export status polls, and the longest.
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(10);

/// Arrow's type for a Marketo `dataType`.
pub fn arrow_type(marketo_type: &str) -> DataType {
    match marketo_type {
        "integer" => DataType::Int64,
        "float" | "currency" | "percent" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "datetime" => DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        "date" => DataType::Date32,
        _ => DataType::Utf8,
    }
}

fn text_time(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// `[start, end)` cut into windows of at most [`EXPORT_WINDOW_DAYS`] days.
pub fn export_windows(start: i64, end: i64) -> Vec<(i64, i64)> {
    let step = EXPORT_WINDOW_DAYS * 86_400;
    let mut windows = Vec::new();
    let mut from = start;
    while from < end {
        let to = (from + step).min(end);
        windows.push((from, to));
        from = to;
    }
    windows
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Protocol { system: super::client::SYSTEM, message: message.into() }
}

/// Marketo leads, described.
pub struct MarketoLeads {
    client: Arc<MarketoClient>,
    schema: SchemaRef,
    scope: RunScope,
}

impl MarketoLeads {
    /// Describes leads.
    pub async fn open(client: Arc<MarketoClient>, scope: &RunScope) -> Result<Self, ConnectorError> {
        let body = client.get("/rest/v1/leads/describe.json", &[]).await?;
        let mut fields = Vec::new();
        for item in body.get("result").and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = item.pointer("/rest/name").and_then(Value::as_str) else { continue };
            let data_type = item.get("dataType").and_then(Value::as_str).unwrap_or("string");
            fields.push(Field::new(name, arrow_type(data_type), true));
        }
        if fields.is_empty() {
            return Err(protocol("the leads describe lists no fields"));
        }
        Ok(Self { client, schema: Arc::new(Schema::new(fields)), scope: scope.clone() })
    }
}

#[async_trait::async_trait]
impl DataSource for MarketoLeads {
    fn schema(&self) -> Option<SchemaRef> {
        Some(self.schema.clone())
    }

    fn capabilities(&self) -> SourceCapabilities {
        WINDOWED
    }

    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError> {
        let schema = project_schema(&self.schema, &request.fields, "Marketo leads")?;
        let (filter, start, end) = match &request.window {
            Some(window) => {
                let field = window.field.clone().unwrap_or_else(|| "updatedAt".to_string());
                if field != "createdAt" && field != "updatedAt" {
                    return Err(ConnectorError::Invalid(format!(
                        "Marketo exports leads by createdAt or updatedAt, not {field}"
                    )));
                }
                (field, window.start.map(seconds).unwrap_or(MARKETO_EPOCH), seconds(window.end))
            }
            None => {
                let start = earliest_lead(&self.client).await?.unwrap_or(MARKETO_EPOCH);
                ("createdAt".to_string(), start, seconds(OffsetDateTime::now_utc()) + 1)
            }
        };
        Ok(Box::new(LeadExports {
            client: self.client.clone(),
            schema,
            filter,
            windows: export_windows(start, end).into(),
            reading: None,
            left: request.limit,
            scope: self.scope.clone(),
        }))
    }
}

/// When the instance's first leads were created (the lowest ids; whole
/// seconds), or `None` when none of ids 1-300 is left.
async fn earliest_lead(client: &MarketoClient) -> Result<Option<i64>, ConnectorError> {
    let ids: Vec<String> = (1..=300).map(|id: i32| id.to_string()).collect();
    let query =
        [("filterType", "id".to_string()), ("filterValues", ids.join(",")), ("fields", "id,createdAt".to_string())];
    let body = client.get("/rest/v1/leads.json", &query).await?;
    Ok(body
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|lead| lead.get("createdAt")?.as_str())
        .filter_map(|text| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok())
        .map(seconds)
        .min())
}

/// The export jobs of a read, one window after another.
struct LeadExports {
    client: Arc<MarketoClient>,
    schema: SchemaRef,
    filter: String,
    windows: VecDeque<(i64, i64)>,
    /// The export file being read, streamed through a CSV decoder.
    reading: Option<ExportFile<reqwest::Response>>,
    left: Option<usize>,
    scope: RunScope,
}

/// Where an export file's bytes come from, a chunk at a time.
#[async_trait::async_trait]
trait Chunks: Send {
    /// The next chunk; `None` at the end.
    async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ConnectorError>;
}

#[async_trait::async_trait]
impl Chunks for reqwest::Response {
    async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ConnectorError> {
        reqwest::Response::chunk(self).await.map_err(|e| ConnectorError::Unreachable {
            system: super::client::SYSTEM,
            message: format!("lead export file: {}", e.without_url()),
        })
    }
}

/// An export file as it downloads: its chunks go through a CSV decoder, so
/// memory holds one chunk and one batch, whatever the file's size.
struct ExportFile<B: Chunks> {
    body: B,
    decoder: arrow_csv::reader::Decoder,
    /// The part of the last chunk the decoder has not taken yet.
    rest: bytes::Bytes,
    ended: bool,
    bytes_read: u64,
}

impl<B: Chunks> ExportFile<B> {
    fn new(body: B, schema: &SchemaRef, batch_rows: usize) -> Result<Self, ConnectorError> {
        let null = regex::Regex::new("^(null)?$").map_err(|e| protocol(e.to_string()))?;
        let decoder = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .with_null_regex(null)
            .with_batch_size(batch_rows)
            .build_decoder();
        Ok(Self { body, decoder, rest: bytes::Bytes::new(), ended: false, bytes_read: 0 })
    }

    /// The next batch of the file; `None` at its end.
    async fn next(&mut self) -> Result<Option<(RecordBatch, u64)>, ConnectorError> {
        let csv = |e: arrow_schema::ArrowError| protocol(format!("lead export file: {e}"));
        loop {
            while !self.rest.is_empty() {
                let taken = self.decoder.decode(&self.rest).map_err(csv)?;
                self.rest = self.rest.slice(taken..);
                if self.decoder.capacity() == 0 {
                    break;
                }
            }
            if self.decoder.capacity() == 0 || (self.ended && self.rest.is_empty()) {
                let read = std::mem::take(&mut self.bytes_read);
                return match self.decoder.flush().map_err(csv)? {
                    Some(batch) if batch.num_rows() > 0 => Ok(Some((batch, read))),
                    _ if self.ended => Ok(None),
                    _ => continue,
                };
            }
            match self.body.chunk().await? {
                Some(chunk) => {
                    self.bytes_read += chunk.len() as u64;
                    self.rest = chunk;
                }
                None => {
                    // An empty input ends the last line.
                    self.decoder.decode(&[]).map_err(csv)?;
                    self.ended = true;
                }
            }
        }
    }
}

impl LeadExports {
    /// Runs the export of `[start, end)` and opens its file.
    async fn export(&self, start: i64, end: i64) -> Result<reqwest::Response, ConnectorError> {
        let fields: Vec<&String> = self.schema.fields().iter().map(|f| f.name()).collect();
        let body = json!({
            "fields": fields,
            "format": "CSV",
            "filter": {self.filter.clone(): {"startAt": text_time(start), "endAt": text_time(end - 1)}},
        });
        let created = self.client.post("/bulk/v1/leads/export/create.json", Some(&body)).await?;
        let id = created
            .pointer("/result/0/exportId")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol("an export job without an exportId"))?
            .to_string();
        self.client.post(&format!("/bulk/v1/leads/export/{id}/enqueue.json"), None).await?;
        let mut wait = FIRST_POLL;
        loop {
            let status = self.client.get(&format!("/bulk/v1/leads/export/{id}/status.json"), &[]).await?;
            let state = status.pointer("/result/0/status").and_then(Value::as_str).unwrap_or("");
            match state {
                "Completed" => break,
                "Failed" | "Cancelled" => {
                    let message = status.pointer("/result/0/errorMsg").and_then(Value::as_str).unwrap_or("");
                    return Err(ConnectorError::Remote {
                        system: super::client::SYSTEM,
                        code: state.to_string(),
                        message: format!("the lead export {id} ended {state} {message}"),
                        status: 500,
                    });
                }
                _ => {}
            }
            self.scope.unless_cancelled(async { Ok(tokio::time::sleep(wait).await) }).await?;
            wait = (wait * 2).min(MAX_POLL);
        }
        self.client.get_file(&format!("/bulk/v1/leads/export/{id}/file.json")).await
    }
}

#[async_trait::async_trait]
impl BatchStream for LeadExports {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        loop {
            if self.left == Some(0) {
                return Ok(None);
            }
            self.scope.check_cancelled()?;
            if let Some(file) = self.reading.as_mut() {
                match file.next().await? {
                    Some((mut batch, bytes_read)) => {
                        if let Some(left) = self.left.as_mut() {
                            if batch.num_rows() > *left {
                                batch = batch.slice(0, *left);
                            }
                            *left -= batch.num_rows();
                        }
                        return Ok(Some(SourceBatch { batch, bytes_read }));
                    }
                    None => self.reading = None,
                }
            }
            let Some((start, end)) = self.windows.pop_front() else { return Ok(None) };
            let body = self.export(start, end).await?;
            tracing::info!(filter = %self.filter, start = %text_time(start), end = %text_time(end), "lead export ready");
            self.reading = Some(ExportFile::new(body, &self.schema, EXPORT_BATCH_ROWS)?);
        }
    }
}

/// The fields of an activity, as [`MarketoActivities`] gives them.
pub fn activity_schema() -> SchemaRef {
    let field = |name: &str, data_type: DataType| Field::new(name, data_type, true);
    Arc::new(Schema::new(vec![
        field("id", DataType::Int64),
        field("marketoGUID", DataType::Utf8),
        field("leadId", DataType::Int64),
        field("activityDate", arrow_type("datetime")),
        field("activityTypeId", DataType::Int64),
        field("campaignId", DataType::Int64),
        field("primaryAttributeValueId", DataType::Int64),
        field("primaryAttributeValue", DataType::Utf8),
        field("attributes", DataType::Utf8),
    ]))
}

/// Marketo activities.
pub struct MarketoActivities {
    client: Arc<MarketoClient>,
    scope: RunScope,
}

impl MarketoActivities {
    /// The activities of the instance.
    pub fn open(client: Arc<MarketoClient>, scope: &RunScope) -> Self {
        Self { client, scope: scope.clone() }
    }
}

#[async_trait::async_trait]
impl DataSource for MarketoActivities {
    fn schema(&self) -> Option<SchemaRef> {
        Some(activity_schema())
    }

    fn capabilities(&self) -> SourceCapabilities {
        WINDOWED
    }

    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError> {
        let schema = project_schema(&activity_schema(), &request.fields, "Marketo activities")?;
        if let Some(field) = request.window.as_ref().and_then(|w| w.field.as_deref()) {
            if field != "activityDate" {
                return Err(ConnectorError::Invalid(format!(
                    "Marketo activities are read by activityDate, not {field}"
                )));
            }
        }
        let start = request.window.as_ref().and_then(|w| w.start).map(seconds).unwrap_or(MARKETO_EPOCH);
        let end = request.window.as_ref().map(|w| seconds(w.end));
        let types = self.client.get("/rest/v1/activities/types.json", &[]).await?;
        let ids: Vec<String> = types
            .get("result")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("id").and_then(Value::as_i64))
            .map(|id| id.to_string())
            .collect();
        let groups: VecDeque<String> = ids.chunks(TYPES_PER_CALL).map(|c| c.join(",")).collect();
        Ok(Box::new(ActivityPages {
            client: self.client.clone(),
            schema,
            groups,
            token: None,
            start,
            end,
            left: request.limit,
            scope: self.scope.clone(),
        }))
    }
}

/// Pages of activities, one group of types after another.
struct ActivityPages {
    client: Arc<MarketoClient>,
    schema: SchemaRef,
    groups: VecDeque<String>,
    /// The next page of the first group.
    token: Option<String>,
    start: i64,
    end: Option<i64>,
    left: Option<usize>,
    scope: RunScope,
}

fn activity_time(activity: &Value) -> Option<i64> {
    let text = activity.get("activityDate")?.as_str()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().map(seconds)
}

#[async_trait::async_trait]
impl BatchStream for ActivityPages {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        loop {
            if self.left == Some(0) {
                return Ok(None);
            }
            self.scope.check_cancelled()?;
            let Some(types) = self.groups.front().cloned() else { return Ok(None) };
            let token = match self.token.take() {
                Some(token) => token,
                None => {
                    let body = self
                        .client
                        .get("/rest/v1/activities/pagingtoken.json", &[("sinceDatetime", text_time(self.start))])
                        .await?;
                    body.get("nextPageToken")
                        .and_then(Value::as_str)
                        .ok_or_else(|| protocol("no paging token"))?
                        .to_string()
                }
            };
            let page = self
                .client
                .get(
                    "/rest/v1/activities.json",
                    &[("nextPageToken", token), ("activityTypeIds", types), ("batchSize", ACTIVITY_PAGE.to_string())],
                )
                .await?;
            let more = page.get("moreResult").and_then(Value::as_bool).unwrap_or(false);
            let next = page.get("nextPageToken").and_then(Value::as_str).map(str::to_string);
            let mut past_end = false;
            let mut records = Vec::new();
            for activity in page.get("result").and_then(Value::as_array).into_iter().flatten() {
                let at = activity_time(activity);
                if let (Some(end), Some(at)) = (self.end, at) {
                    if at >= end {
                        past_end = true;
                        continue;
                    }
                }
                let mut record = activity.clone();
                if let Some(attributes) = record.get("attributes").cloned() {
                    record["attributes"] = Value::String(attributes.to_string());
                }
                records.push(record);
            }
            if more && !past_end {
                self.token = next;
            } else {
                self.groups.pop_front();
            }
            if records.is_empty() {
                continue;
            }
            if let Some(left) = self.left.as_mut() {
                records.truncate(*left);
                *left -= records.len();
            }
            let body = serde_json::to_vec(&records).unwrap_or_default();
            let batch = decode_activities(&records, &self.schema)?;
            return Ok(Some(SourceBatch { batch, bytes_read: body.len() as u64 }));
        }
    }
}

fn decode_activities(records: &[Value], schema: &SchemaRef) -> Result<RecordBatch, ConnectorError> {
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_coerce_primitive(true)
        .build_decoder()
        .map_err(|e| protocol(format!("activities: {e}")))?;
    decoder.serialize(records).map_err(|e| protocol(format!("activities: {e}")))?;
    decoder
        .flush()
        .map_err(|e| protocol(format!("activities: {e}")))?
        .ok_or_else(|| protocol("activities decode to nothing"))
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;

    use super::*;

    #[test]
    fn windows_are_cut_at_31_days() {
        let day = 86_400;
        assert_eq!(export_windows(0, 10 * day), vec![(0, 10 * day)]);
        assert_eq!(
            export_windows(0, 62 * day + 5),
            vec![(0, 31 * day), (31 * day, 62 * day), (62 * day, 62 * day + 5)]
        );
        assert!(export_windows(5, 5).is_empty());
    }

    /// Chunks cut wherever a download may cut them.
    struct Pieces(VecDeque<bytes::Bytes>);

    #[async_trait::async_trait]
    impl Chunks for Pieces {
        async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ConnectorError> {
            Ok(self.0.pop_front())
        }
    }

    #[tokio::test]
    async fn export_files_stream_into_batches_with_their_types_and_nulls() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", arrow_type("integer"), true),
            Field::new("email", arrow_type("email"), true),
            Field::new("score", arrow_type("float"), true),
            Field::new("unsubscribed", arrow_type("boolean"), true),
            Field::new("createdAt", arrow_type("datetime"), true),
        ]));
        let file: &[u8] = b"id,email,score,unsubscribed,createdAt\n1,a@x.com,1.5,false,2024-01-31T10:00:00Z\n\
                            2,null,null,true,null\n3,c@x.com,3,true,2024-02-01T00:00:00Z";
        // Cut mid-row and mid-value, batches of two rows.
        let pieces = [&file[..20], &file[20..61], &file[61..]].map(bytes::Bytes::copy_from_slice);
        let mut export = ExportFile::new(Pieces(pieces.into_iter().collect()), &schema, 2).unwrap();
        let (first, read) = export.next().await.unwrap().unwrap();
        assert_eq!(first.num_rows(), 2);
        assert!(read > 0);
        assert!(first.column(1).is_null(1) && first.column(2).is_null(1) && first.column(4).is_null(1));
        let created = first.column(4).as_any().downcast_ref::<arrow_array::TimestampMillisecondArray>().unwrap();
        assert_eq!(created.value(0), 1_706_695_200_000);
        let (last, _) = export.next().await.unwrap().unwrap();
        assert_eq!(last.num_rows(), 1, "the last line has no line break");
        assert!(export.next().await.unwrap().is_none());
        let header_only = Pieces([bytes::Bytes::from_static(b"id,email,score,unsubscribed,createdAt\n")].into());
        let mut empty = ExportFile::new(header_only, &schema, 2).unwrap();
        assert!(empty.next().await.unwrap().is_none());
    }
}
