//! The connector pipeline: reads the source page by page, applies the
//! flow's tasks to each Arrow batch, and streams the result into the
//! destination. Salesforce -> object storage (CSV, JSON lines, Parquet) is
//! the first path; other pairs fail with a message naming them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow_schema::{Field, Schema};
use serde::Deserialize;
use serde_json::{Map, Value};
use sluice_connectors::s3::{Buckets, OutputLayout, PendingObject};
use sluice_connectors::salesforce::client::SalesforceClient;
use sluice_connectors::salesforce::client::WriteOperation;
use sluice_connectors::salesforce::SalesforceConnector;
use sluice_connectors::{Connector, ConnectorSettings};
use sluice_model::appflow::{
    AggregationType, ConnectorType, DestinationFlowConfig, FileType, SalesforceDataTransferApi, SourceFlowConfig, Task,
    WriteOperationType,
};
use sluice_store::MetadataStore;
use sluice_transform::codec::{InputFormat, OutputFormat, RecordDecoder, RecordWriter};
use sluice_transform::TaskPlan;
use sluice_vault::Vault;

use crate::profiles::Profiles;
use crate::{FlowRunner, RunContext, RunError, RunProgress};

/// A Salesforce failure as the run's error.
fn salesforce_error(error: sluice_connectors::ConnectorError) -> RunError {
    RunError::Failed(format!("Salesforce: {error}"))
}

/// Rows per Arrow batch decoded from the source.
const BATCH_ROWS: usize = 2000;

/// The parts of a stored flow definition the pipeline reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowParts {
    source_flow_config: SourceFlowConfig,
    destination_flow_config_list: Vec<DestinationFlowConfig>,
    tasks: Vec<Task>,
}

/// Runs flows through connectors and tasks.
pub struct PipelineRunner {
    profiles: Profiles,
    buckets: Buckets,
    connector: SalesforceConnector,
    bulk_job_records: usize,
}

impl PipelineRunner {
    /// A runner reading profiles from `store` (credentials opened with
    /// `vault`, renewed ones saved back), writing buckets under `buckets`,
    /// with the server's connector `settings`.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        vault: Arc<Vault>,
        buckets: Buckets,
        settings: &ConnectorSettings,
    ) -> Self {
        Self {
            profiles: Profiles::new(store, vault),
            buckets,
            connector: SalesforceConnector::new(settings.salesforce_app.clone()),
            bulk_job_records: BULK_JOB_RECORDS,
        }
    }

    /// Sets how many records one Bulk API 2.0 ingest job takes at most
    /// (default [`BULK_JOB_RECORDS`]).
    pub fn with_bulk_job_records(mut self, records: usize) -> Self {
        self.bulk_job_records = records.max(1);
        self
    }

    /// A client for the Salesforce profile `name`. Refreshed tokens are
    /// saved to the profile; a refused refresh token marks it, and a marked
    /// profile is refused here without calling Salesforce.
    async fn salesforce_client(&self, name: &str) -> Result<SalesforceClient, RunError> {
        let opened = self.profiles.open(name).await.map_err(RunError::Failed)?;
        opened.ensure_authorized().map_err(RunError::Failed)?;
        let mut profile = self
            .connector
            .parse_profile(&opened.properties, opened.credentials.as_ref())
            .map_err(|problems| RunError::Failed(format!("connector profile '{name}': {problems}")))?;
        self.connector.set_keeper(&mut profile, opened.keeper.clone());
        Ok(profile.client(self.connector.http().clone()))
    }

    async fn salesforce_to_object_storage(
        &self,
        ctx: &RunContext,
        source: &SourceFlowConfig,
        destination: &DestinationFlowConfig,
        tasks: &[Task],
    ) -> Result<RunProgress, RunError> {
        let s3 = destination
            .destination_connector_properties
            .s3
            .as_ref()
            .ok_or_else(|| RunError::Failed("destinationConnectorProperties.S3 is missing".into()))?;
        let read = self.salesforce_read(source, tasks).await?;

        let format = s3
            .s3_output_format_config
            .as_ref()
            .and_then(|c| c.file_type)
            .map(OutputFormat::from)
            .unwrap_or(OutputFormat::from(FileType::Json));
        let layout = OutputLayout {
            bucket_prefix: s3.bucket_prefix.clone(),
            flow_name: ctx.flow.name.clone(),
            execution_id: ctx.execution_id.clone(),
            prefix_config: s3.s3_output_format_config.as_ref().and_then(|c| c.prefix_config.clone()),
            started_at: time::OffsetDateTime::from_unix_timestamp_nanos(ctx.started_at_ms as i128 * 1_000_000)
                .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
        };
        let bucket = self.buckets.bucket(&s3.bucket_name).map_err(|e| RunError::Failed(e.to_string()))?;
        if ctx.attempt > 1 && layout.folder().contains(&ctx.execution_id) {
            // An earlier attempt of this run died mid-way: its unfinished
            // uploads (never visible as objects) take disk space; drop them.
            let folder = layout.folder();
            match self.buckets.sweep_unfinished(&s3.bucket_name, &folder) {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(execution_id = %ctx.execution_id, removed, "unfinished uploads of an earlier attempt removed")
                }
                Err(e) => {
                    tracing::warn!(execution_id = %ctx.execution_id, error = %e, "cannot remove unfinished uploads")
                }
            }
        }
        let aggregation = s3.s3_output_format_config.as_ref().and_then(|c| c.aggregation_config.as_ref());
        let target_bytes = match aggregation.and_then(|a| a.aggregation_type) {
            Some(AggregationType::SingleFile) => None,
            _ => Some(
                aggregation
                    .and_then(|a| a.target_file_size)
                    .filter(|mb| *mb > 0)
                    .map(|mb| mb as u64 * 1024 * 1024)
                    .unwrap_or(DEFAULT_TARGET_FILE_BYTES),
            ),
        };
        let plan = &read.plan;
        let mut output = OutputFiles::new(bucket, layout, format, plan.output_schema(), target_bytes);
        let result = async {
            let mut decoder = RecordDecoder::new(InputFormat::JsonLines, read.read_schema.clone(), BATCH_ROWS)
                .map_err(|e| RunError::Failed(e.to_string()))?;
            let mut progress = RunProgress::default();
            let mut pages = read.pages(ctx).await?;
            while let Some((page, bytes_read)) = pages.next_page().await.map_err(salesforce_error)? {
                ctx.check_cancelled()?;
                let lines = json_lines(&page, &read.datetime_fields);
                progress.records_processed += page.len() as i64;
                // Bytes read: the CSV of a bulk page, the JSON records of a REST one.
                progress.bytes_processed += bytes_read.unwrap_or(lines.len()) as i64;
                for batch in decoder.decode(&lines).map_err(|e| RunError::Failed(e.to_string()))? {
                    let out = plan.apply(batch).map_err(|e| RunError::Failed(e.to_string()))?;
                    output.write(&out.batch).await?;
                }
                progress.bytes_written = output.bytes_written() as i64;
                ctx.report(progress).await;
            }
            for batch in decoder.finish().map_err(|e| RunError::Failed(e.to_string()))? {
                let out = plan.apply(batch).map_err(|e| RunError::Failed(e.to_string()))?;
                output.write(&out.batch).await?;
            }
            output.close_current().await?;
            progress.bytes_written = output.bytes_written() as i64;
            ctx.check_cancelled()?;
            Ok(progress)
        }
        .await;
        match result {
            Ok(progress) => {
                output.publish().await?;
                Ok(progress)
            }
            Err(error) => {
                // Nothing of a failed or cancelled run becomes visible.
                output.discard(&ctx.execution_id).await;
                Err(error)
            }
        }
    }
}

/// Output file size when aggregation is off and no `targetFileSize` is set.
pub const DEFAULT_TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// The output objects of one run. A file is closed once it reaches the
/// target size and the next one started (each with its own CSV header or
/// Parquet footer); every file stays an unfinished upload until
/// [`OutputFiles::publish`], so a failed run publishes none of them.
struct OutputFiles {
    bucket: Arc<dyn sluice_connectors::s3::ObjectStore>,
    layout: OutputLayout,
    format: OutputFormat,
    schema: arrow_schema::SchemaRef,
    target_bytes: Option<u64>,
    buffer: SharedBuffer,
    writer: Option<RecordWriter<SharedBuffer>>,
    current: Option<PendingObject>,
    closed: Vec<PendingObject>,
    bytes_written: u64,
}

impl OutputFiles {
    fn new(
        bucket: Arc<dyn sluice_connectors::s3::ObjectStore>,
        layout: OutputLayout,
        format: OutputFormat,
        schema: arrow_schema::SchemaRef,
        target_bytes: Option<u64>,
    ) -> Self {
        Self {
            bucket,
            layout,
            format,
            schema,
            target_bytes,
            buffer: SharedBuffer::default(),
            writer: None,
            current: None,
            closed: Vec::new(),
            bytes_written: 0,
        }
    }

    fn bytes_written(&self) -> u64 {
        self.bytes_written + self.current.as_ref().map(PendingObject::bytes_written).unwrap_or(0)
    }

    async fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), RunError> {
        let failed = |e: String| RunError::Failed(e);
        if self.writer.is_none() {
            let key = self.layout.object_key(self.closed.len(), self.format.extension());
            self.current = Some(PendingObject::start(&self.bucket, &key).await.map_err(|e| failed(e.to_string()))?);
            self.writer = Some(
                RecordWriter::new(self.format, self.schema.clone(), self.buffer.clone())
                    .map_err(|e| failed(e.to_string()))?,
            );
        }
        if let (Some(writer), Some(current)) = (self.writer.as_mut(), self.current.as_mut()) {
            writer.write(batch).map_err(|e| failed(e.to_string()))?;
            current.write(&self.buffer.take()).await.map_err(|e| failed(e.to_string()))?;
            if self.target_bytes.is_some_and(|target| current.bytes_written() >= target) {
                self.close_current().await?;
            }
        }
        Ok(())
    }

    /// Ends the current file (it stays unpublished). A run without any
    /// record still gets one file (a CSV header, an empty Parquet file).
    async fn close_current(&mut self) -> Result<(), RunError> {
        if let (Some(writer), Some(mut current)) = (self.writer.take(), self.current.take()) {
            writer.finish().map_err(|e| RunError::Failed(e.to_string()))?;
            current.write(&self.buffer.take()).await.map_err(|e| RunError::Failed(e.to_string()))?;
            self.bytes_written += current.bytes_written();
            self.closed.push(current);
        }
        Ok(())
    }

    /// Publishes every file of the run.
    async fn publish(mut self) -> Result<(), RunError> {
        if self.closed.is_empty() {
            let empty = arrow_array::RecordBatch::new_empty(self.schema.clone());
            self.write(&empty).await?;
            self.close_current().await?;
        }
        for file in self.closed.drain(..) {
            file.finish().await.map_err(|e| RunError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    /// Aborts every file of the run.
    async fn discard(mut self, execution_id: &str) {
        let files: Vec<PendingObject> = self.closed.drain(..).chain(self.current.take()).collect();
        for file in files {
            if let Err(e) = file.abort().await {
                tracing::warn!(%execution_id, error = %e, "cannot discard a partial output");
            }
        }
    }
}

/// How a Salesforce source is read: the client, the compiled tasks, the
/// schema of the queried fields, the SOQL and the API that runs it.
struct SalesforceRead {
    client: SalesforceClient,
    object: String,
    plan: TaskPlan,
    read_schema: arrow_schema::SchemaRef,
    soql: String,
    include_deleted: bool,
    datetime_fields: Vec<String>,
    /// `(name, Salesforce type)` of each queried field, in query order.
    field_types: Vec<(String, String)>,
    /// The flow's `dataTransferApi`.
    requested_api: Option<SalesforceDataTransferApi>,
}

/// The Salesforce API a source is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadApi {
    /// REST `query` / `queryAll` pages of 2,000 records.
    Rest,
    /// A Bulk API 2.0 query job, read in CSV pages.
    Bulk,
}

/// With `AUTOMATIC`, sources of at least this many records are read with
/// Bulk API 2.0 (AppFlow's threshold).
pub const BULK_READ_FROM: u64 = 1_000_000;
/// Records per CSV page read from a Bulk API 2.0 query job.
const BULK_PAGE_RECORDS: usize = 5_000;

/// Salesforce's compound field types, which Bulk API 2.0 does not return.
fn is_compound(salesforce_type: &str) -> bool {
    matches!(salesforce_type, "address" | "location")
}

/// Which API reads a source: as `requested`, or for `AUTOMATIC` by the
/// record count (asked for only then). Compound fields force REST (and
/// make `BULKV2` an error), since Bulk API 2.0 cannot return them.
async fn choose_read_api<F>(
    requested: Option<SalesforceDataTransferApi>,
    compound_fields: &[String],
    count: F,
) -> Result<ReadApi, RunError>
where
    F: std::future::Future<Output = Result<u64, RunError>>,
{
    match requested {
        Some(SalesforceDataTransferApi::RestSync) => Ok(ReadApi::Rest),
        Some(SalesforceDataTransferApi::Bulkv2) if !compound_fields.is_empty() => Err(RunError::Failed(format!(
            "Bulk API 2.0 (dataTransferApi BULKV2) cannot read compound fields: {}; use REST_SYNC or leave them out",
            compound_fields.join(", ")
        ))),
        Some(SalesforceDataTransferApi::Bulkv2) => Ok(ReadApi::Bulk),
        _ if !compound_fields.is_empty() => Ok(ReadApi::Rest),
        _ => Ok(if count.await? >= BULK_READ_FROM { ReadApi::Bulk } else { ReadApi::Rest }),
    }
}

impl SalesforceRead {
    /// Starts reading with the API the flow asks for (for `AUTOMATIC`, after
    /// counting the records): the first REST page is asked for on the first
    /// [`SourcePages::next_page`]; a Bulk API 2.0 job runs to completion here.
    async fn pages(&self, ctx: &RunContext) -> Result<SourcePages<'_>, RunError> {
        let compound: Vec<String> =
            self.field_types.iter().filter(|(_, t)| is_compound(t)).map(|(name, _)| name.clone()).collect();
        let count = async {
            let mut pager = self.client.query(&format!("SELECT COUNT() FROM {}", self.object), self.include_deleted);
            pager.next_page().await.map_err(salesforce_error)?;
            Ok(pager.total_size().unwrap_or(0))
        };
        Ok(match choose_read_api(self.requested_api, &compound, count).await? {
            ReadApi::Rest => SourcePages::Rest(self.client.query(&self.soql, self.include_deleted)),
            ReadApi::Bulk => {
                tracing::info!(soql = %self.soql, "reading with Bulk API 2.0");
                // A query job may run for minutes: a cancel does not wait for it.
                let job = ctx
                    .unless_cancelled(async {
                        self.client.bulk_query(&self.soql, self.include_deleted).await.map_err(salesforce_error)
                    })
                    .await?;
                SourcePages::Bulk(job, &self.field_types)
            }
        })
    }
}

/// Pages of source records, whichever API reads them: the same JSON values
/// either way (Bulk API 2.0's CSV cells typed by the object's describe, an
/// empty cell as null), so the output does not depend on the API.
enum SourcePages<'a> {
    Rest(sluice_connectors::salesforce::client::QueryPager<'a>),
    Bulk(sluice_connectors::salesforce::client::BulkQueryPages<'a>, &'a [(String, String)]),
}

impl SourcePages<'_> {
    /// The next page and, for CSV pages, the bytes they took, or `None` at
    /// the end.
    async fn next_page(
        &mut self,
    ) -> Result<Option<(Vec<Map<String, Value>>, Option<usize>)>, sluice_connectors::ConnectorError> {
        match self {
            SourcePages::Rest(pager) => Ok(pager.next_page().await?.map(|page| (page, None))),
            SourcePages::Bulk(pages, field_types) => {
                let Some(csv_text) = pages.next_page(BULK_PAGE_RECORDS).await? else { return Ok(None) };
                let records = bulk_csv_records(&csv_text, field_types)
                    .map_err(|message| sluice_connectors::ConnectorError::Protocol { system: "Salesforce", message })?;
                Ok(Some((records, Some(csv_text.len()))))
            }
        }
    }
}

/// The records of a Bulk API 2.0 CSV page as REST would give them.
fn bulk_csv_records(text: &str, field_types: &[(String, String)]) -> Result<Vec<Map<String, Value>>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("bulk query CSV: {e}"))?.iter().map(str::to_string).collect();
    let types: Vec<&str> = header
        .iter()
        .map(|name| field_types.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str()).unwrap_or("string"))
        .collect();
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| format!("bulk query CSV: {e}"))?;
        let mut record = Map::new();
        for ((name, salesforce_type), cell) in header.iter().zip(&types).zip(row.iter()) {
            record.insert(name.clone(), typed_cell(cell, salesforce_type));
        }
        records.push(record);
    }
    Ok(records)
}

/// A Bulk API 2.0 CSV cell as the JSON value REST gives for that type.
fn typed_cell(cell: &str, salesforce_type: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    let number = |value: Option<serde_json::Number>| value.map(Value::Number);
    let typed = match salesforce_type {
        "boolean" => cell.parse::<bool>().ok().map(Value::Bool),
        "int" | "long" => number(cell.parse::<i64>().ok().map(Into::into)),
        "double" | "currency" | "percent" => number(cell.parse::<f64>().ok().and_then(serde_json::Number::from_f64)),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(cell.to_string()))
}

impl PipelineRunner {
    /// Opens the source profile, describes the object, compiles the tasks
    /// against it and builds the query of the fields the tasks read.
    async fn salesforce_read(&self, source: &SourceFlowConfig, tasks: &[Task]) -> Result<SalesforceRead, RunError> {
        let salesforce_source = source
            .source_connector_properties
            .salesforce
            .as_ref()
            .ok_or_else(|| RunError::Failed("sourceConnectorProperties.Salesforce is missing".into()))?;
        let profile_name = source
            .connector_profile_name
            .as_deref()
            .ok_or_else(|| RunError::Failed("sourceFlowConfig.connectorProfileName is missing".into()))?;
        let client = self.salesforce_client(profile_name).await?;
        let object = &salesforce_source.object;
        let describe = client.describe(object).await.map_err(salesforce_error)?;
        let (schema, datetime_fields) = source_schema(&describe);
        let types = salesforce_types(&describe);
        let plan = TaskPlan::compile(tasks, &schema).map_err(|e| RunError::Failed(e.to_string()))?;
        let mut fields: Vec<String> = plan.source_fields().to_vec();
        if fields.is_empty() {
            // Every field, less compound ones: their parts are fields of
            // their own, and Bulk API 2.0 cannot return them, so the output
            // is the same whichever API reads it.
            fields = types.iter().filter(|(_, t)| !is_compound(t)).map(|(name, _)| name.clone()).collect();
        }
        let field_types: Vec<(String, String)> =
            fields.iter().filter_map(|name| types.iter().find(|(n, _)| n == name).cloned()).collect();
        let read_schema = Arc::new(Schema::new(
            fields.iter().filter_map(|name| schema.field_with_name(name).ok().cloned()).collect::<Vec<Field>>(),
        ));
        Ok(SalesforceRead {
            client,
            plan,
            read_schema,
            soql: format!("SELECT {} FROM {object}", fields.join(", ")),
            object: object.clone(),
            include_deleted: salesforce_source.include_deleted_records.unwrap_or(false),
            datetime_fields,
            field_types,
            requested_api: salesforce_source.data_transfer_api,
        })
    }

    /// Runs the source and the tasks of a flow on at most `limit` source
    /// records and returns the records the destination would get, writing
    /// nothing (Sluice's `sluice flow preview`).
    pub async fn preview(
        &self,
        flow: &sluice_store::FlowRecord,
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RunError> {
        let parts: FlowParts = serde_json::from_value(flow.definition.clone())
            .map_err(|e| RunError::Failed(format!("the stored flow definition is unreadable: {e}")))?;
        if parts.source_flow_config.connector_type != ConnectorType::Salesforce {
            return Err(RunError::Failed(format!(
                "preview reads Salesforce sources; this flow reads {}",
                parts.source_flow_config.connector_type
            )));
        }
        let read = self.salesforce_read(&parts.source_flow_config, &parts.tasks).await?;
        let soql = format!("{} LIMIT {}", read.soql, limit.clamp(1, 2000));
        let mut pages = read.client.query(&soql, read.include_deleted);
        let page = pages.next_page().await.map_err(salesforce_error)?.unwrap_or_default();
        let mut decoder = RecordDecoder::new(InputFormat::JsonLines, read.read_schema.clone(), BATCH_ROWS)
            .map_err(|e| RunError::Failed(e.to_string()))?;
        let mut batches =
            decoder.decode(&json_lines(&page, &read.datetime_fields)).map_err(|e| RunError::Failed(e.to_string()))?;
        batches.extend(decoder.finish().map_err(|e| RunError::Failed(e.to_string()))?);
        let mut records = Vec::new();
        for batch in batches {
            let out = read.plan.apply(batch).map_err(|e| RunError::Failed(e.to_string()))?;
            records.extend(batch_records(&out.batch, read.plan.output_schema())?);
        }
        Ok(records)
    }

    /// Reads CSV or JSON-lines objects under the source prefix chunk by
    /// chunk, applies the tasks and writes the records to Salesforce as
    /// they come (see [`SalesforceSink`]): memory stays bounded whatever the
    /// size of the input. Failed records go to the error bucket as CSV with
    /// their Salesforce error; with `failOnFirstDestinationError` the first
    /// failure ends the run.
    async fn object_storage_to_salesforce(
        &self,
        ctx: &RunContext,
        source: &SourceFlowConfig,
        destination: &DestinationFlowConfig,
        tasks: &[Task],
    ) -> Result<RunProgress, RunError> {
        let failed = |m: String| RunError::Failed(m);
        let s3 = source
            .source_connector_properties
            .s3
            .as_ref()
            .ok_or_else(|| failed("sourceConnectorProperties.S3 is missing".into()))?;
        let target = destination
            .destination_connector_properties
            .salesforce
            .as_ref()
            .ok_or_else(|| failed("destinationConnectorProperties.Salesforce is missing".into()))?;
        let profile_name = destination
            .connector_profile_name
            .as_deref()
            .ok_or_else(|| failed("the destination's connectorProfileName is missing".into()))?;
        let format = match s3.s3_input_format_config.as_ref().and_then(|c| c.s3_input_file_type) {
            Some(sluice_model::appflow::S3InputFileType::Json) => InputFormat::JsonLines,
            _ => InputFormat::Csv,
        };
        let operation = match target.write_operation_type.unwrap_or(WriteOperationType::Insert) {
            WriteOperationType::Insert => WriteOperation::Insert,
            WriteOperationType::Update => WriteOperation::Update,
            WriteOperationType::Delete => WriteOperation::Delete,
            WriteOperationType::Upsert => WriteOperation::Upsert {
                external_id_field: target
                    .id_field_names
                    .as_ref()
                    .and_then(|ids| ids.first().cloned())
                    .ok_or_else(|| failed("UPSERT needs idFieldNames".into()))?,
            },
        };
        // UPDATE and DELETE find records by their Salesforce Id, held in the
        // first of idFieldNames (default `Id`).
        let record_id_field = match operation {
            WriteOperation::Update | WriteOperation::Delete => {
                Some(target.id_field_names.as_ref().and_then(|ids| ids.first().cloned()).unwrap_or_else(|| "Id".into()))
            }
            _ => None,
        };
        let objects =
            self.buckets.list(&s3.bucket_name, s3.bucket_prefix.as_deref()).await.map_err(|e| failed(e.to_string()))?;
        let client = self.salesforce_client(profile_name).await?;
        let error_handling = target.error_handling_config.as_ref();
        let error_file = match error_handling.and_then(|c| c.bucket_name.as_deref()) {
            Some(bucket) => {
                let prefix = error_handling.and_then(|c| c.bucket_prefix.as_deref()).unwrap_or("").trim_matches('/');
                let folder = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
                let key = format!("{folder}{}/{}/errors.csv", ctx.flow.name, ctx.execution_id);
                Some((self.buckets.bucket(bucket).map_err(|e| failed(e.to_string()))?, key))
            }
            None => None,
        };
        let mut sink = SalesforceSink {
            ctx,
            client: &client,
            object: &target.object,
            operation,
            record_id_field,
            api: match target.data_transfer_api {
                Some(SalesforceDataTransferApi::Bulkv2) => Some(WriteApi::Bulk),
                Some(SalesforceDataTransferApi::RestSync) => Some(WriteApi::Collections),
                _ => None,
            },
            pending: Vec::new(),
            pending_bytes: 0,
            bulk_job_records: self.bulk_job_records,
            fail_fast: error_handling.and_then(|c| c.fail_on_first_destination_error).unwrap_or(false),
            errors: ErrorFile { target: error_file, columns: Vec::new(), upload: None },
            failed: 0,
            first_error: None,
            bytes_written: 0,
        };
        let mut progress = RunProgress::default();
        let mut plan: Option<TaskPlan> = None;
        let read = async {
            for object in &objects {
                let in_object = |e: String| failed(format!("{}: {e}", object.key));
                let mut chunks =
                    self.buckets.open(&s3.bucket_name, &object.key).await.map_err(|e| in_object(e.to_string()))?;
                // A sample for the schema: the first chunks up to SAMPLE_BYTES.
                let mut sample = Vec::new();
                let mut at_end = false;
                while sample.len() < SAMPLE_BYTES {
                    ctx.check_cancelled()?;
                    match chunks.next_chunk().await.map_err(|e| in_object(e.to_string()))? {
                        Some(chunk) => sample.extend_from_slice(&chunk),
                        None => {
                            at_end = true;
                            break;
                        }
                    }
                }
                let schema = Arc::new(
                    sluice_transform::codec::infer_schema(format, &sample, 1000, at_end)
                        .map_err(|e| in_object(e.to_string()))?,
                );
                if plan.is_none() {
                    let compiled = TaskPlan::compile(tasks, &schema).map_err(|e| failed(e.to_string()))?;
                    sink.errors.columns = compiled.output_schema().fields().iter().map(|f| f.name().clone()).collect();
                    plan = Some(compiled);
                }
                let Some(plan) = plan.as_ref() else { continue };
                let mut decoder =
                    RecordDecoder::new(format, schema, BATCH_ROWS).map_err(|e| in_object(e.to_string()))?;
                let mut chunk = Some(bytes::Bytes::from(sample));
                loop {
                    let batches = match &chunk {
                        Some(bytes) => {
                            progress.bytes_processed += bytes.len() as i64;
                            decoder.decode(bytes).map_err(|e| in_object(e.to_string()))?
                        }
                        None => decoder.finish().map_err(|e| in_object(e.to_string()))?,
                    };
                    // Chunks are small (kilobytes); progress is recorded per batch.
                    let decoded = !batches.is_empty();
                    for batch in batches {
                        ctx.check_cancelled()?;
                        progress.records_processed += batch.num_rows() as i64;
                        let out = plan.apply(batch).map_err(|e| failed(e.to_string()))?;
                        sink.push(batch_records(&out.batch, plan.output_schema())?).await?;
                        progress.bytes_written = sink.bytes_written;
                    }
                    if decoded {
                        ctx.report(progress).await;
                    }
                    if chunk.is_none() {
                        break;
                    }
                    chunk =
                        if at_end { None } else { chunks.next_chunk().await.map_err(|e| in_object(e.to_string()))? };
                    at_end = chunk.is_none();
                }
            }
            sink.finish().await
        }
        .await;
        // The error file holds every record Salesforce refused, whatever ended the run.
        let errors_saved = sink.errors.finish().await;
        progress.bytes_written = sink.bytes_written;
        if let Some(first) = &sink.first_error {
            tracing::warn!(execution_id = %ctx.execution_id, failed = sink.failed, first_error = %first, "records failed");
            let kept = match (&sink.errors.target, errors_saved.is_ok()) {
                (Some((_, key)), true) => format!(
                    "they are in {}/{key}",
                    error_handling.and_then(|c| c.bucket_name.as_deref()).unwrap_or_default()
                ),
                (Some(_), false) => "the error file could not be written".to_string(),
                (None, _) => "set errorHandlingConfig.bucketName to keep them".to_string(),
            };
            ctx.note_refused(crate::RefusedRecords {
                count: sink.failed as i64,
                message: format!("{} record(s) refused by Salesforce; first error: {first}; {kept}", sink.failed),
            });
        }
        read?;
        errors_saved?;
        ctx.report(progress).await;
        Ok(progress)
    }
}

/// Bytes of an object sampled to infer its schema.
const SAMPLE_BYTES: usize = 1024 * 1024;

/// With `AUTOMATIC`, runs writing at least this many records use Bulk API
/// 2.0, fewer use sObject collections (AppFlow's threshold).
pub const BULK_WRITE_FROM: usize = 1000;

/// Records per Bulk API 2.0 ingest job; more records make more jobs. The
/// sink holds one job's records (as JSON objects) while it fills.
pub const BULK_JOB_RECORDS: usize = 50_000;

/// CSV bytes one Bulk API 2.0 ingest job takes at most (Salesforce allows
/// 150 MB).
pub const BULK_JOB_BYTES: usize = 100 * 1024 * 1024;

/// How many of the first `pending` records make the next call or job: at
/// most `max_records`, and no more than `max_bytes` of CSV (but at least one
/// record); with their CSV bytes.
fn next_chunk(pending: &[Map<String, Value>], max_records: usize, max_bytes: usize) -> (usize, usize) {
    let mut take = 0;
    let mut bytes = 0;
    for record in pending.iter().take(max_records) {
        let record_bytes = csv_size(record);
        if take > 0 && bytes + record_bytes > max_bytes {
            break;
        }
        take += 1;
        bytes += record_bytes;
    }
    (take, bytes)
}

/// Roughly the bytes of a record as a CSV row.
fn csv_size(record: &Map<String, Value>) -> usize {
    record
        .values()
        .map(|value| match value {
            Value::String(text) => text.len() + 3,
            other => other.to_string().len() + 1,
        })
        .sum()
}

/// How records are sent to Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteApi {
    /// sObject collection calls of up to 200 records.
    Collections,
    /// Bulk API 2.0 ingest jobs of up to [`BULK_JOB_RECORDS`] records.
    Bulk,
}

/// Where records bound for Salesforce go. With `AUTOMATIC` it holds up to
/// [`BULK_WRITE_FROM`] records until it knows which API the run needs;
/// after that it writes as soon as a call's or a job's worth is pending, so
/// it never holds more than one bulk job of records (and its CSV).
struct SalesforceSink<'a> {
    ctx: &'a RunContext,
    client: &'a SalesforceClient,
    object: &'a str,
    operation: WriteOperation,
    /// For UPDATE and DELETE: the field holding each record's Salesforce Id.
    record_id_field: Option<String>,
    /// `None` while `AUTOMATIC` has not decided.
    api: Option<WriteApi>,
    pending: Vec<Map<String, Value>>,
    /// Roughly the CSV bytes of `pending`.
    pending_bytes: usize,
    bulk_job_records: usize,
    fail_fast: bool,
    errors: ErrorFile,
    failed: u64,
    first_error: Option<String>,
    bytes_written: i64,
}

impl SalesforceSink<'_> {
    async fn push(&mut self, records: Vec<Map<String, Value>>) -> Result<(), RunError> {
        match self.record_id_field.clone() {
            None => {
                self.pending_bytes += records.iter().map(csv_size).sum::<usize>();
                self.pending.extend(records);
            }
            Some(field) => {
                for mut record in records {
                    // Salesforce takes the Id as `Id`; a record without one is refused here.
                    match record.remove(&field).filter(|id| id.as_str().is_some_and(|id| !id.is_empty())) {
                        Some(id) => {
                            record.insert("Id".into(), id);
                            self.pending_bytes += csv_size(&record);
                            self.pending.push(record);
                        }
                        None => {
                            let error = format!("MISSING_ID: the record has no {field}, which UPDATE and DELETE need");
                            self.refused(&record, &error).await?;
                        }
                    }
                }
                self.stop_if_failing_fast()?;
            }
        }
        self.drain(false).await
    }

    /// With `failOnFirstDestinationError`, ends the run once a record failed.
    fn stop_if_failing_fast(&self) -> Result<(), RunError> {
        if self.fail_fast && self.failed > 0 {
            return Err(RunError::Failed(format!(
                "{} record(s) failed; first error: {}",
                self.failed,
                self.first_error.as_deref().unwrap_or("")
            )));
        }
        Ok(())
    }

    /// Writes what is pending, all of it at the end.
    async fn finish(&mut self) -> Result<(), RunError> {
        self.drain(true).await
    }

    async fn drain(&mut self, at_end: bool) -> Result<(), RunError> {
        let api = match self.api {
            Some(api) => api,
            None if self.pending.len() >= BULK_WRITE_FROM => WriteApi::Bulk,
            None if at_end => WriteApi::Collections,
            None => return Ok(()),
        };
        self.api = Some(api);
        let size = match api {
            WriteApi::Collections => sluice_connectors::salesforce::client::COLLECTION_LIMIT,
            WriteApi::Bulk => self.bulk_job_records,
        };
        let over_bytes = |sink: &Self| api == WriteApi::Bulk && sink.pending_bytes >= BULK_JOB_BYTES;
        while self.pending.len() >= size || over_bytes(self) || (at_end && !self.pending.is_empty()) {
            self.ctx.check_cancelled()?;
            let max_bytes = if api == WriteApi::Bulk { BULK_JOB_BYTES } else { usize::MAX };
            let (take, bytes) = next_chunk(&self.pending, size, max_bytes);
            let chunk: Vec<Map<String, Value>> = self.pending.drain(..take).collect();
            self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
            match api {
                WriteApi::Collections => self.write_collection(&chunk).await?,
                WriteApi::Bulk => self.write_bulk_job(&chunk).await?,
            }
            self.bytes_written += json_size(&chunk);
            self.stop_if_failing_fast()?;
        }
        Ok(())
    }

    async fn write_collection(&mut self, chunk: &[Map<String, Value>]) -> Result<(), RunError> {
        let results =
            self.client.write_collection(self.object, &self.operation, chunk).await.map_err(salesforce_error)?;
        for (record, result) in chunk.iter().zip(results) {
            if !result.success {
                self.refused(record, &result.errors.join("; ")).await?;
            }
        }
        Ok(())
    }

    async fn write_bulk_job(&mut self, chunk: &[Map<String, Value>]) -> Result<(), RunError> {
        // A cancel does not wait for the job (records it already took stay written).
        let ingest = async {
            self.client.bulk_ingest(self.object, &self.operation, records_csv(chunk)).await.map_err(salesforce_error)
        };
        let outcome = self.ctx.unless_cancelled(ingest).await?;
        if outcome.records_failed == 0 {
            return Ok(());
        }
        // failedResults: sf__Id, sf__Error, then the uploaded columns.
        let mut reader = csv::Reader::from_reader(outcome.failed_csv.as_bytes());
        let header: Vec<String> = reader.headers().map(|h| h.iter().map(str::to_string).collect()).unwrap_or_default();
        for row in reader.records().flatten() {
            let error = row.get(1).unwrap_or("").to_string();
            let record: Map<String, Value> =
                header.iter().zip(row.iter()).skip(2).map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
            self.refused(&record, &error).await?;
        }
        Ok(())
    }

    async fn refused(&mut self, record: &Map<String, Value>, error: &str) -> Result<(), RunError> {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
        self.errors.add(record, error).await
    }
}

/// The error file of a run (`errorHandlingConfig.bucketName`): refused
/// records with their error, streamed as they come, the columns being the
/// flow's output fields and `error`. Without a bucket, nothing is written.
struct ErrorFile {
    target: Option<(Arc<dyn sluice_connectors::s3::ObjectStore>, String)>,
    columns: Vec<String>,
    upload: Option<PendingObject>,
}

impl ErrorFile {
    async fn add(&mut self, record: &Map<String, Value>, error: &str) -> Result<(), RunError> {
        let failed = |e: String| RunError::Failed(format!("error file: {e}"));
        let Some((bucket, key)) = &self.target else { return Ok(()) };
        let mut rows = csv::Writer::from_writer(Vec::new());
        if self.upload.is_none() {
            self.upload = Some(PendingObject::start(bucket, key).await.map_err(|e| failed(e.to_string()))?);
            let mut header = self.columns.clone();
            header.push("error".into());
            rows.write_record(&header).map_err(|e| failed(e.to_string()))?;
        }
        let mut row: Vec<String> = self.columns.iter().map(|c| record.get(c).map(cell).unwrap_or_default()).collect();
        row.push(error.to_string());
        rows.write_record(&row).map_err(|e| failed(e.to_string()))?;
        let bytes = rows.into_inner().map_err(|e| failed(e.to_string()))?;
        if let Some(upload) = self.upload.as_mut() {
            upload.write(&bytes).await.map_err(|e| failed(e.to_string()))?;
        }
        Ok(())
    }

    /// Publishes the file, if any record was refused.
    async fn finish(&mut self) -> Result<(), RunError> {
        match self.upload.take() {
            Some(upload) => {
                upload.finish().await.map_err(|e| RunError::Failed(format!("error file: {e}")))?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The rows of a batch as JSON records (nulls left out).
fn batch_records(
    batch: &arrow_array::RecordBatch,
    schema: arrow_schema::SchemaRef,
) -> Result<Vec<Map<String, Value>>, RunError> {
    let buffer = SharedBuffer::default();
    let mut writer = RecordWriter::new(OutputFormat::JsonLines, schema, buffer.clone())
        .map_err(|e| RunError::Failed(e.to_string()))?;
    writer.write(batch).map_err(|e| RunError::Failed(e.to_string()))?;
    writer.finish().map_err(|e| RunError::Failed(e.to_string()))?;
    let bytes = buffer.take();
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<Map<String, Value>>(line).map_err(|e| RunError::Failed(e.to_string())))
        .collect()
}

/// Bytes of records as JSON, the measure of what was sent to Salesforce.
fn json_size(records: &[Map<String, Value>]) -> i64 {
    records.iter().map(|r| serde_json::to_vec(r).map(|b| b.len()).unwrap_or(0) as i64).sum()
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Records as CSV for Bulk API 2.0 (columns: every field seen, in order).
fn records_csv(records: &[Map<String, Value>]) -> Vec<u8> {
    let mut columns: Vec<String> = Vec::new();
    for record in records {
        for key in record.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&columns);
    for record in records {
        let _ = writer.write_record(columns.iter().map(|c| record.get(c).map(cell).unwrap_or_default()));
    }
    writer.into_inner().unwrap_or_default()
}

#[async_trait::async_trait]
impl FlowRunner for PipelineRunner {
    async fn run(&self, ctx: &RunContext) -> Result<RunProgress, RunError> {
        let parts: FlowParts = serde_json::from_value(ctx.flow.definition.clone())
            .map_err(|e| RunError::Failed(format!("the stored flow definition is unreadable: {e}")))?;
        let destination = parts
            .destination_flow_config_list
            .first()
            .ok_or_else(|| RunError::Failed("the flow has no destination".into()))?;
        match (parts.source_flow_config.connector_type, destination.connector_type) {
            (ConnectorType::Salesforce, ConnectorType::S3) => {
                self.salesforce_to_object_storage(ctx, &parts.source_flow_config, destination, &parts.tasks).await
            }
            (ConnectorType::S3, ConnectorType::Salesforce) => {
                self.object_storage_to_salesforce(ctx, &parts.source_flow_config, destination, &parts.tasks).await
            }
            (source, destination) => Err(RunError::Failed(format!(
                "moving data from {source} to {destination} is not available yet in this release"
            ))),
        }
    }
}

/// The Arrow schema of a Salesforce object from its describe, and which
/// fields are datetimes (their values need normalizing).
fn source_schema(describe: &Value) -> (Schema, Vec<String>) {
    let mut fields = Vec::new();
    let mut datetimes = Vec::new();
    for field in describe.get("fields").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = field.get("name").and_then(Value::as_str) else { continue };
        let sf_type = field.get("type").and_then(Value::as_str).unwrap_or("string");
        let data_type = sluice_transform::data_type::arrow_type_for(sf_type).unwrap_or(arrow_schema::DataType::Utf8);
        if sf_type == "datetime" {
            datetimes.push(name.to_string());
        }
        fields.push(Field::new(name, data_type, true));
    }
    (Schema::new(fields), datetimes)
}

/// `(name, Salesforce type)` of every field of an object's describe.
fn salesforce_types(describe: &Value) -> Vec<(String, String)> {
    describe
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|field| {
            let name = field.get("name").and_then(Value::as_str)?;
            Some((name.to_string(), field.get("type").and_then(Value::as_str).unwrap_or("string").to_string()))
        })
        .collect()
}

/// Records as JSON lines, with Salesforce datetimes
/// (`2024-01-31T10:00:00.000+0000`) rewritten in RFC 3339 (`...Z`).
fn json_lines(records: &[Map<String, Value>], datetime_fields: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        let mut record = record.clone();
        for name in datetime_fields {
            if let Some(Value::String(text)) = record.get_mut(name) {
                if let Some(head) = text.strip_suffix("+0000") {
                    *text = format!("{head}Z");
                }
            }
        }
        let _ = serde_json::to_writer(&mut out, &Value::Object(record));
        out.push(b'\n');
    }
    out
}

/// A `Write` sink whose bytes the pipeline drains into the output object
/// after each batch, so the whole output never sits in memory.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn salesforce_datetimes_become_rfc3339() {
        let record = json!({"Id": "001", "CreatedDate": "2024-01-31T10:00:00.000+0000"}).as_object().cloned().unwrap();
        let lines = String::from_utf8(json_lines(&[record], &["CreatedDate".into()])).unwrap();
        assert_eq!(lines, "{\"Id\":\"001\",\"CreatedDate\":\"2024-01-31T10:00:00.000Z\"}\n");
    }

    #[test]
    fn bulk_csv_cells_become_the_values_rest_gives() {
        let types: Vec<(String, String)> =
            [("Id", "id"), ("Paid", "boolean"), ("Seats", "int"), ("Revenue", "currency")]
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
        let records =
            bulk_csv_records("Id,Paid,Seats,Revenue\n001,true,12,1.5\n002,,,\n003,false,x,2\n", &types).unwrap();
        assert_eq!(Value::Object(records[0].clone()), json!({"Id": "001", "Paid": true, "Seats": 12, "Revenue": 1.5}));
        assert_eq!(
            Value::Object(records[1].clone()),
            json!({"Id": "002", "Paid": null, "Seats": null, "Revenue": null})
        );
        // A cell that does not parse as its type stays text (the decoder reports it).
        assert_eq!(records[2]["Seats"], json!("x"));
    }

    #[test]
    fn chunks_stop_at_the_record_or_byte_bound() {
        let record = |text: &str| json!({"Name": text}).as_object().cloned().unwrap();
        let pending = vec![record("aaaaaaa"), record("bbbbbbb"), record("ccccccc")]; // 10 CSV bytes each
        assert_eq!(next_chunk(&pending, 2, usize::MAX), (2, 20));
        assert_eq!(next_chunk(&pending, 10, 25), (2, 20));
        assert_eq!(next_chunk(&pending, 10, 5), (1, 10), "one record even when it alone is over the bound");
        assert_eq!(next_chunk(&[], 10, 5), (0, 0));
    }

    #[tokio::test]
    async fn the_read_api_follows_data_transfer_api_and_the_record_count() {
        let counted = |n: u64| async move { Ok::<u64, RunError>(n) };
        let never = async { panic!("the count is asked for only with AUTOMATIC") };
        assert_eq!(choose_read_api(Some(SalesforceDataTransferApi::RestSync), &[], never).await, Ok(ReadApi::Rest));
        let never = async { panic!("the count is asked for only with AUTOMATIC") };
        assert_eq!(choose_read_api(Some(SalesforceDataTransferApi::Bulkv2), &[], never).await, Ok(ReadApi::Bulk));
        assert_eq!(choose_read_api(None, &[], counted(999_999)).await, Ok(ReadApi::Rest));
        assert_eq!(
            choose_read_api(Some(SalesforceDataTransferApi::Automatic), &[], counted(1_000_000)).await,
            Ok(ReadApi::Bulk)
        );
        let compound = ["BillingAddress".to_string()];
        assert_eq!(choose_read_api(None, &compound, counted(5_000_000)).await, Ok(ReadApi::Rest));
        let refused = choose_read_api(Some(SalesforceDataTransferApi::Bulkv2), &compound, counted(1)).await;
        assert!(matches!(refused, Err(RunError::Failed(m)) if m.contains("BillingAddress")));
    }

    #[test]
    fn describe_types_map_to_arrow() {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"}, {"name": "AnnualRevenue", "type": "currency"},
            {"name": "CreatedDate", "type": "datetime"}, {"name": "Odd", "type": "somethingnew"}
        ]});
        let (schema, datetimes) = source_schema(&describe);
        assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Float64);
        assert_eq!(schema.field(3).data_type(), &arrow_schema::DataType::Utf8);
        assert_eq!(datetimes, ["CreatedDate"]);
    }
}
