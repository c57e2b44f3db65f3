//! A Salesforce object as a flow's destination: records are written as
//! they come with INSERT, UPSERT (by an external id), UPDATE or DELETE (by
//! the Salesforce Id), through sObject collections of 200 or Bulk API 2.0
//! ingest jobs, as `dataTransferApi` says. With `AUTOMATIC` the sink holds
//! up to [`BULK_WRITE_FROM`] records to learn whether the run reaches
//! AppFlow's Bulk threshold, then writes as soon as a call's or a job's
//! worth is pending: it never holds more than one job's CSV.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema, SchemaRef};
use serde_json::{Map, Value};
use sluice_model::appflow::SalesforceDataTransferApi;
use sluice_transform::codec::json_objects;

use super::client::{SalesforceClient, WriteOperation, COLLECTION_LIMIT};
use crate::plane::{DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// With `AUTOMATIC`, runs writing at least this many records use Bulk API
/// 2.0, fewer use sObject collections (AppFlow's threshold).
pub const BULK_WRITE_FROM: usize = 1000;
/// Records per Bulk API 2.0 ingest job; more records make more jobs.
pub const BULK_JOB_RECORDS: usize = 50_000;
/// CSV bytes one Bulk API 2.0 ingest job takes at most (Salesforce allows
/// 150 MB).
pub const BULK_JOB_BYTES: usize = 100 * 1024 * 1024;
/// Ingest jobs in flight at once: while Salesforce processes one, the next
/// is gathered and uploaded, so neither side waits for the other.
pub const JOBS_IN_FLIGHT: usize = 2;

/// How records are sent to Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteApi {
    /// sObject collection calls of up to 200 records.
    Collections,
    /// Bulk API 2.0 ingest jobs.
    Bulk,
}

/// The write settings of a Salesforce destination.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// The object written.
    pub object: String,
    /// How.
    pub operation: WriteOperation,
    /// For UPDATE and DELETE: the field holding each record's Salesforce Id.
    pub record_id_field: Option<String>,
    /// `dataTransferApi`.
    pub api: Option<SalesforceDataTransferApi>,
    /// Records per Bulk API 2.0 ingest job at most.
    pub bulk_job_records: usize,
}

/// The records of one Bulk API 2.0 ingest job, as CSV, while they gather.
#[derive(Default)]
struct BulkJobCsv {
    csv: Vec<u8>,
    records: usize,
}

/// Records bound for a Salesforce object.
pub struct SalesforceSink {
    client: Arc<SalesforceClient>,
    settings: SinkSettings,
    /// The batches' schema with the record id field named `Id` (UPDATE, DELETE).
    send_schema: SchemaRef,
    /// `None` while `AUTOMATIC` has not decided.
    api: Option<WriteApi>,
    /// Records not yet sent (collections, or an undecided `AUTOMATIC`).
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    job: BulkJobCsv,
    /// Ingest jobs uploaded and not yet seen finished, oldest first.
    in_flight: std::collections::VecDeque<IngestTask>,
    refused: Vec<RefusedRecord>,
    scope: RunScope,
    bytes_written: u64,
}

type IngestTask = tokio::task::JoinHandle<Result<super::client::IngestOutcome, ConnectorError>>;

impl Drop for SalesforceSink {
    /// A run that ends early stops following its jobs (what Salesforce
    /// already took stays written, as with a cancel).
    fn drop(&mut self) {
        for task in self.in_flight.drain(..) {
            task.abort();
        }
    }
}

impl SalesforceSink {
    /// A sink for batches of `schema`.
    pub fn new(client: Arc<SalesforceClient>, settings: SinkSettings, schema: SchemaRef, scope: &RunScope) -> Self {
        let send_schema = match &settings.record_id_field {
            Some(id_field) => Arc::new(Schema::new(
                schema
                    .fields()
                    .iter()
                    .filter(|f| f.name() != "Id" || id_field == "Id")
                    .map(|f| {
                        if f.name() == id_field {
                            Arc::new(Field::new("Id", f.data_type().clone(), true))
                        } else {
                            f.clone()
                        }
                    })
                    .collect::<Vec<_>>(),
            )),
            None => schema,
        };
        let api = match settings.api {
            Some(SalesforceDataTransferApi::Bulkv2) => Some(WriteApi::Bulk),
            Some(SalesforceDataTransferApi::RestSync) => Some(WriteApi::Collections),
            _ => None,
        };
        Self {
            client,
            settings,
            send_schema,
            api,
            pending: Vec::new(),
            pending_rows: 0,
            job: BulkJobCsv::default(),
            in_flight: std::collections::VecDeque::new(),
            refused: Vec::new(),
            scope: scope.clone(),
            bytes_written: 0,
        }
    }

    /// Keeps the records that can be sent (with their Id as `Id` for UPDATE
    /// and DELETE); a record without an Id is refused here.
    fn take(&mut self, batch: RecordBatch) -> Result<(), ConnectorError> {
        let batch = match self.settings.record_id_field.clone() {
            None => batch,
            Some(id_field) => self.with_ids(batch, &id_field)?,
        };
        if batch.num_rows() > 0 {
            self.pending_rows += batch.num_rows();
            self.pending.push(batch);
        }
        Ok(())
    }

    fn with_ids(&mut self, batch: RecordBatch, id_field: &str) -> Result<RecordBatch, ConnectorError> {
        let invalid = |e: arrow_schema::ArrowError| ConnectorError::Invalid(format!("records for Salesforce: {e}"));
        let ids: Option<ArrayRef> = batch
            .column_by_name(id_field)
            .map(|c| arrow_cast::cast(c, &arrow_schema::DataType::Utf8))
            .transpose()
            .map_err(invalid)?;
        let has_id: arrow_array::BooleanArray =
            match ids.as_ref().and_then(|c| c.as_any().downcast_ref::<StringArray>()) {
                Some(ids) => ids.iter().map(|id| Some(id.is_some_and(|id| !id.is_empty()))).collect(),
                None => std::iter::repeat_n(Some(false), batch.num_rows()).collect(),
            };
        let missing = arrow_arith::boolean::not(&has_id).map_err(invalid)?;
        let without = arrow_select::filter::filter_record_batch(&batch, &missing).map_err(invalid)?;
        if without.num_rows() > 0 {
            let error = format!("MISSING_ID: the record has no {id_field}, which UPDATE and DELETE need");
            for cells in row_cells(&without)? {
                self.refused.push(RefusedRecord { cells, error: error.clone() });
            }
        }
        let with = arrow_select::filter::filter_record_batch(&batch, &has_id).map_err(invalid)?;
        let columns: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .zip(with.columns())
            .filter(|(f, _)| f.name() != "Id" || id_field == "Id")
            .map(|(_, c)| c.clone())
            .collect();
        RecordBatch::try_new(self.send_schema.clone(), columns).map_err(invalid)
    }

    /// Sends what is pending: with `at_end`, all of it.
    async fn drain(&mut self, at_end: bool) -> Result<(), ConnectorError> {
        let api = match self.api {
            Some(api) => api,
            None if self.pending_rows >= BULK_WRITE_FROM => WriteApi::Bulk,
            None if at_end => WriteApi::Collections,
            None => return Ok(()),
        };
        self.api = Some(api);
        match api {
            WriteApi::Collections => {
                while self.pending_rows >= COLLECTION_LIMIT || (at_end && self.pending_rows > 0) {
                    self.scope.check_cancelled()?;
                    let chunk = self.take_rows(COLLECTION_LIMIT);
                    self.write_collection(&chunk).await?;
                }
            }
            WriteApi::Bulk => {
                for batch in std::mem::take(&mut self.pending) {
                    self.add_to_job(batch).await?;
                }
                self.pending_rows = 0;
                if at_end {
                    self.run_job().await?;
                    while !self.in_flight.is_empty() {
                        self.collect_oldest_job().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The first `rows` pending records.
    fn take_rows(&mut self, rows: usize) -> Vec<RecordBatch> {
        let mut taken = Vec::new();
        let mut wanted = rows;
        while wanted > 0 && !self.pending.is_empty() {
            let first = &self.pending[0];
            if first.num_rows() <= wanted {
                wanted -= first.num_rows();
                taken.push(self.pending.remove(0));
            } else {
                taken.push(first.slice(0, wanted));
                self.pending[0] = first.slice(wanted, first.num_rows() - wanted);
                wanted = 0;
            }
        }
        self.pending_rows -= rows - wanted;
        taken
    }

    async fn write_collection(&mut self, batches: &[RecordBatch]) -> Result<(), ConnectorError> {
        let mut records: Vec<Map<String, Value>> = Vec::new();
        for batch in batches {
            records.extend(json_objects(batch).map_err(|e| ConnectorError::Invalid(e.to_string()))?);
        }
        self.bytes_written +=
            records.iter().map(|r| serde_json::to_vec(r).map(|b| b.len()).unwrap_or(0) as u64).sum::<u64>();
        let results = self.client.write_collection(&self.settings.object, &self.settings.operation, &records).await?;
        for (record, result) in records.iter().zip(results) {
            if !result.success {
                let cells = record.iter().map(|(k, v)| (self.original_name(k), cell(v))).collect();
                self.refused.push(RefusedRecord { cells, error: result.errors.join("; ") });
            }
        }
        Ok(())
    }

    /// Adds a batch to the ingest job being gathered, running the job
    /// whenever it is full (by records or by CSV bytes).
    async fn add_to_job(&mut self, mut batch: RecordBatch) -> Result<(), ConnectorError> {
        let limit = self.settings.bulk_job_records.max(1);
        while batch.num_rows() > 0 {
            let room = limit - self.job.records;
            let part = batch.slice(0, room.min(batch.num_rows()));
            batch = batch.slice(part.num_rows(), batch.num_rows() - part.num_rows());
            let csv = csv_rows(&part, self.job.records == 0)?;
            if self.job.records > 0 && self.job.csv.len() + csv.len() > BULK_JOB_BYTES {
                self.run_job().await?;
                self.job.csv = csv_rows(&part, true)?;
            } else {
                self.job.csv.extend_from_slice(&csv);
            }
            self.job.records += part.num_rows();
            if self.job.records >= limit || self.job.csv.len() >= BULK_JOB_BYTES {
                self.run_job().await?;
            }
        }
        Ok(())
    }

    /// Uploads the gathered job and lets Salesforce process it while the
    /// next one gathers; with [`JOBS_IN_FLIGHT`] jobs out, waits for the oldest.
    async fn run_job(&mut self) -> Result<(), ConnectorError> {
        let job = std::mem::take(&mut self.job);
        if job.records == 0 {
            return Ok(());
        }
        while self.in_flight.len() >= JOBS_IN_FLIGHT {
            self.collect_oldest_job().await?;
        }
        self.scope.check_cancelled()?;
        self.bytes_written += job.csv.len() as u64;
        let client = self.client.clone();
        let object = self.settings.object.clone();
        let operation = self.settings.operation.clone();
        self.in_flight.push_back(tokio::spawn(async move { client.bulk_ingest(&object, &operation, job.csv).await }));
        Ok(())
    }

    /// Waits for the oldest job in flight and takes its refused records.
    async fn collect_oldest_job(&mut self) -> Result<(), ConnectorError> {
        let Some(task) = self.in_flight.pop_front() else { return Ok(()) };
        // A cancel does not wait for the job (records it already took stay written).
        let outcome = self
            .scope
            .unless_cancelled(async {
                task.await.map_err(|e| ConnectorError::Protocol {
                    system: "Salesforce",
                    message: format!("bulk ingest task failed: {e}"),
                })?
            })
            .await?;
        if outcome.records_failed == 0 {
            return Ok(());
        }
        // failedResults: sf__Id, sf__Error, then the uploaded columns.
        let mut reader = csv::Reader::from_reader(outcome.failed_csv.as_bytes());
        let header: Vec<String> = reader.headers().map(|h| h.iter().map(str::to_string).collect()).unwrap_or_default();
        for row in reader.records().flatten() {
            let error = row.get(1).unwrap_or("").to_string();
            let cells =
                header.iter().zip(row.iter()).skip(2).map(|(k, v)| (self.original_name(k), v.to_string())).collect();
            self.refused.push(RefusedRecord { cells, error });
        }
        Ok(())
    }

    /// The flow's name of a field sent as `name` (the record id field is sent as `Id`).
    fn original_name(&self, name: &str) -> String {
        match &self.settings.record_id_field {
            Some(id_field) if name == "Id" => id_field.clone(),
            _ => name.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl DataSink for SalesforceSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.take(batch)?;
        self.drain(false).await?;
        Ok(std::mem::take(&mut self.refused))
    }

    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.drain(true).await?;
        Ok(std::mem::take(&mut self.refused))
    }

    async fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn abort(self: Box<Self>) {}

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

/// A JSON value as an error file cell.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Each row of a batch as `(field, text)` cells (null fields left out).
fn row_cells(batch: &RecordBatch) -> Result<Vec<Vec<(String, String)>>, ConnectorError> {
    let records = json_objects(batch).map_err(|e| ConnectorError::Invalid(e.to_string()))?;
    Ok(records.into_iter().map(|r| r.iter().map(|(k, v)| (k.clone(), cell(v))).collect()).collect())
}

/// A batch as Bulk API 2.0 CSV rows (with the header row when `header`).
/// A null is an empty cell, which Salesforce leaves unchanged on updates.
fn csv_rows(batch: &RecordBatch, header: bool) -> Result<Vec<u8>, ConnectorError> {
    let mut writer = arrow_csv::WriterBuilder::new().with_header(header).build(Vec::new());
    writer.write(batch).map_err(|e| ConnectorError::Invalid(format!("records for Salesforce: {e}")))?;
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use arrow_array::Int64Array;
    use arrow_schema::DataType;

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("sfid", DataType::Utf8, true),
            Field::new("Name", DataType::Utf8, true),
            Field::new("Seats", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("001A"), None, Some(""), Some("001D")])),
                Arc::new(StringArray::from(vec![Some("a, \"b\""), Some("b"), Some("c"), None])),
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(4)])),
            ],
        )
        .unwrap()
    }

    fn sink(operation: WriteOperation, record_id_field: Option<&str>) -> SalesforceSink {
        let client = Arc::new(SalesforceClient::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9",
            None,
            super::super::client::Tokens::default(),
        ));
        let settings = SinkSettings {
            object: "Account".into(),
            operation,
            record_id_field: record_id_field.map(str::to_string),
            api: None,
            bulk_job_records: 10,
        };
        let scope = RunScope::new("f", "e", time::OffsetDateTime::now_utc(), 1);
        SalesforceSink::new(client, settings, batch().schema(), &scope)
    }

    #[test]
    fn records_without_an_id_are_refused_and_the_id_is_sent_as_id() {
        crate::install_tls_provider();
        let mut sink = sink(WriteOperation::Update, Some("sfid"));
        sink.take(batch()).unwrap();
        assert_eq!(sink.pending_rows, 2);
        assert_eq!(sink.pending[0].schema().field(0).name(), "Id");
        assert_eq!(sink.refused.len(), 2);
        assert!(sink.refused.iter().all(|r| r.error.starts_with("MISSING_ID")));
        assert_eq!(
            sink.refused[0].cells,
            [("Name".to_string(), "b".to_string()), ("Seats".to_string(), "2".to_string())]
        );
        assert_eq!(sink.original_name("Id"), "sfid");
    }

    #[test]
    fn pending_records_are_taken_across_batches() {
        crate::install_tls_provider();
        let mut sink = sink(WriteOperation::Insert, None);
        sink.take(batch()).unwrap();
        sink.take(batch()).unwrap();
        let taken = sink.take_rows(5);
        assert_eq!(taken.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [4, 1]);
        assert_eq!(sink.pending_rows, 3);
        assert_eq!(sink.pending[0].num_rows(), 3);
    }

    #[test]
    fn bulk_csv_has_every_column_and_quotes_text() {
        let csv = String::from_utf8(csv_rows(&batch(), true).unwrap()).unwrap();
        assert_eq!(csv, "sfid,Name,Seats\n001A,\"a, \"\"b\"\"\",1\n,b,2\n,c,\n001D,,4\n");
        assert!(!String::from_utf8(csv_rows(&batch(), false).unwrap()).unwrap().starts_with("sfid"));
    }
}
