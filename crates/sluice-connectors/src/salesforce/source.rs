//! A Salesforce object as a flow's source: its describe as an Arrow schema,
//! read with the API `dataTransferApi` asks for. REST pages are fetched one
//! ahead of the engine (the next page travels while the last one is
//! processed) and decoded straight into Arrow; a Bulk API 2.0 query job is
//! read in CSV pages typed by the describe, so both APIs give the same
//! records.

use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};
use serde_json::Value;
use sluice_model::appflow::SalesforceDataTransferApi;
use time::format_description::well_known::Rfc3339;

use super::client::{BulkJob, SalesforceClient};
use super::decode::{decode_bulk_page, decode_query_page};
use crate::plane::{BatchStream, DataSource, DatetimeWindow, ReadRequest, RunScope, SourceBatch, SourceCapabilities};
use crate::ConnectorError;

/// With `AUTOMATIC`, sources of at least this many records are read with
/// Bulk API 2.0 (AppFlow's threshold).
pub const BULK_READ_FROM: u64 = 1_000_000;
/// Records per CSV page read from a Bulk API 2.0 query job.
pub const BULK_PAGE_RECORDS: usize = 5_000;

/// The Salesforce API a source is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadApi {
    /// REST `query` / `queryAll` pages of 2,000 records.
    Rest,
    /// A Bulk API 2.0 query job, read in CSV pages.
    Bulk,
}

/// Salesforce's compound field types, which Bulk API 2.0 does not return.
fn is_compound(salesforce_type: &str) -> bool {
    matches!(salesforce_type, "address" | "location")
}

/// Which API reads a source: as `requested`, or for `AUTOMATIC` by the
/// record count (asked for only then). Compound fields force REST (and
/// make `BULKV2` an error), since Bulk API 2.0 cannot return them.
pub async fn choose_read_api<F>(
    requested: Option<SalesforceDataTransferApi>,
    compound_fields: &[String],
    count: F,
) -> Result<ReadApi, ConnectorError>
where
    F: std::future::Future<Output = Result<u64, ConnectorError>>,
{
    match requested {
        Some(SalesforceDataTransferApi::RestSync) => Ok(ReadApi::Rest),
        Some(SalesforceDataTransferApi::Bulkv2) if !compound_fields.is_empty() => {
            Err(ConnectorError::Invalid(format!(
            "Bulk API 2.0 (dataTransferApi BULKV2) cannot read compound fields: {}; use REST_SYNC or leave them out",
            compound_fields.join(", ")
        )))
        }
        Some(SalesforceDataTransferApi::Bulkv2) => Ok(ReadApi::Bulk),
        _ if !compound_fields.is_empty() => Ok(ReadApi::Rest),
        _ => Ok(if count.await? >= BULK_READ_FROM { ReadApi::Bulk } else { ReadApi::Rest }),
    }
}

/// The Arrow schema of an object's describe, with each field's Salesforce
/// type (in describe order).
pub fn describe_schema(describe: &Value) -> (Schema, Vec<(String, String)>) {
    let mut fields = Vec::new();
    let mut types = Vec::new();
    for field in describe.get("fields").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = field.get("name").and_then(Value::as_str) else { continue };
        let salesforce_type = field.get("type").and_then(Value::as_str).unwrap_or("string");
        let data_type =
            sluice_transform::data_type::arrow_type_for(salesforce_type).unwrap_or(arrow_schema::DataType::Utf8);
        fields.push(Field::new(name, data_type, true));
        types.push((name.to_string(), salesforce_type.to_string()));
    }
    (Schema::new(fields), types)
}

/// A described Salesforce object, ready to be read.
pub struct SalesforceSource {
    client: Arc<SalesforceClient>,
    object: String,
    schema: SchemaRef,
    /// `(name, Salesforce type)` of every field, in describe order.
    field_types: Vec<(String, String)>,
    include_deleted: bool,
    requested_api: Option<SalesforceDataTransferApi>,
    scope: RunScope,
}

impl SalesforceSource {
    /// Describes `object` and returns the source.
    pub async fn open(
        client: Arc<SalesforceClient>,
        object: &str,
        include_deleted: bool,
        requested_api: Option<SalesforceDataTransferApi>,
        scope: &RunScope,
    ) -> Result<Self, ConnectorError> {
        let describe = client.describe(object).await?;
        let (schema, field_types) = describe_schema(&describe);
        Ok(Self {
            client,
            object: object.to_string(),
            schema: Arc::new(schema),
            field_types,
            include_deleted,
            requested_api,
            scope: scope.clone(),
        })
    }

    fn soql(&self, fields: &[String], request: &ReadRequest) -> Result<String, ConnectorError> {
        let mut soql = format!("SELECT {} FROM {}", fields.join(", "), self.object);
        if let Some(window) = &request.window {
            soql.push_str(&window_condition(window)?);
        }
        if let Some(limit) = request.limit {
            soql.push_str(&format!(" LIMIT {}", limit.max(1)));
        }
        Ok(soql)
    }

    /// A window on the source's own field when none is named: when the
    /// record last changed (`SystemModstamp`, else `LastModifiedDate`, else
    /// `CreatedDate`).
    fn resolve_window(&self, window: Option<DatetimeWindow>) -> Result<Option<DatetimeWindow>, ConnectorError> {
        let Some(mut window) = window else { return Ok(None) };
        let field = match window.field.take() {
            Some(field) => field,
            None => ["SystemModstamp", "LastModifiedDate", "CreatedDate"]
                .into_iter()
                .find(|f| self.field_types.iter().any(|(name, _)| name == f))
                .map(str::to_string)
                .ok_or_else(|| {
                    ConnectorError::Invalid(format!(
                        "{} has no timestamp to pull incrementally by; set incrementalPullConfig.datetimeTypeFieldName",
                        self.object
                    ))
                })?,
        };
        match self.field_types.iter().find(|(name, _)| *name == field) {
            Some((_, kind)) if kind == "datetime" => {}
            Some((_, kind)) => {
                return Err(ConnectorError::Invalid(format!(
                    "{}.{field} is a {kind} field; incremental pulls need a datetime field",
                    self.object
                )))
            }
            None => return Err(ConnectorError::Invalid(format!("{} has no field {field}", self.object))),
        }
        window.field = Some(field);
        Ok(Some(window))
    }

    async fn count(&self, request: &ReadRequest) -> Result<u64, ConnectorError> {
        let mut soql = format!("SELECT COUNT() FROM {}", self.object);
        if let Some(window) = &request.window {
            soql.push_str(&window_condition(window)?);
        }
        let mut pager = self.client.query(&soql, self.include_deleted);
        pager.next_page().await?;
        Ok(pager.total_size().unwrap_or(0))
    }
}

/// ` WHERE field >= start AND field < end` in SOQL datetime literals.
fn window_condition(window: &DatetimeWindow) -> Result<String, ConnectorError> {
    let literal = |t: time::OffsetDateTime| {
        t.to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .ok_or_else(|| ConnectorError::Invalid(format!("the pull window of {:?} is out of range", window.field)))
    };
    let field = window.field.as_deref().unwrap_or("SystemModstamp");
    let mut condition = format!(" WHERE {field} < {}", literal(window.end)?);
    if let Some(start) = window.start {
        condition.push_str(&format!(" AND {field} >= {}", literal(start)?));
    }
    Ok(condition)
}

#[async_trait::async_trait]
impl DataSource for SalesforceSource {
    fn schema(&self) -> Option<SchemaRef> {
        Some(self.schema.clone())
    }

    /// Every field but compound ones: their parts are fields of their own,
    /// and Bulk API 2.0 cannot return them, so the output is the same
    /// whichever API reads it.
    fn default_fields(&self) -> Vec<String> {
        self.field_types.iter().filter(|(_, t)| !is_compound(t)).map(|(name, _)| name.clone()).collect()
    }

    fn capabilities(&self) -> SourceCapabilities {
        SourceCapabilities {
            bounded: true,
            datetime_window: true,
            deleted_records: true,
            incremental_state: false,
            events: false,
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError> {
        let mut fields = Vec::new();
        let mut unknown = Vec::new();
        for name in &request.fields {
            match self.schema.field_with_name(name) {
                Ok(field) => fields.push(field.clone()),
                Err(_) => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(ConnectorError::Invalid(format!("{} has no field {}", self.object, unknown.join(", "))));
        }
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let read_schema = Arc::new(Schema::new(fields));
        let request = ReadRequest { window: self.resolve_window(request.window.clone())?, ..request };
        let soql = self.soql(&names, &request)?;
        let compound: Vec<String> = self
            .field_types
            .iter()
            .filter(|(name, t)| is_compound(t) && names.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        // A preview (a limit) reads one REST page; a run as dataTransferApi says.
        let requested =
            if request.limit.is_some() { Some(SalesforceDataTransferApi::RestSync) } else { self.requested_api };
        match choose_read_api(requested, &compound, self.count(&request)).await? {
            ReadApi::Rest => {
                let first = SalesforceClient::query_path(&soql, self.include_deleted);
                Ok(Box::new(RestPages::start(self.client.clone(), read_schema, first)))
            }
            ReadApi::Bulk => {
                tracing::info!(%soql, "reading with Bulk API 2.0");
                // A query job may run for minutes: a cancel does not wait for it.
                let job = self.scope.unless_cancelled(self.client.bulk_query_job(&soql, self.include_deleted)).await?;
                Ok(Box::new(BulkPages { client: self.client.clone(), schema: read_schema, job, done: false }))
            }
        }
    }
}

type PendingPage = tokio::task::JoinHandle<Result<(super::decode::QueryPage, u64), ConnectorError>>;

/// REST query pages, each fetched while the one before is being processed.
struct RestPages {
    client: Arc<SalesforceClient>,
    schema: SchemaRef,
    pending: Option<PendingPage>,
}

impl RestPages {
    fn start(client: Arc<SalesforceClient>, schema: SchemaRef, first: String) -> Self {
        let mut pages = Self { client, schema, pending: None };
        pages.fetch(first);
        pages
    }

    fn fetch(&mut self, path: String) {
        let client = self.client.clone();
        let schema = self.schema.clone();
        self.pending = Some(tokio::spawn(async move {
            let body = client.get_bytes(&path).await?;
            let page = decode_query_page(&body, &schema)?;
            Ok((page, body.len() as u64))
        }));
    }
}

impl Drop for RestPages {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.abort();
        }
    }
}

#[async_trait::async_trait]
impl BatchStream for RestPages {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        while let Some(pending) = self.pending.take() {
            let (page, bytes_read) = pending.await.map_err(|e| ConnectorError::Protocol {
                system: "Salesforce",
                message: format!("query page task failed: {e}"),
            })??;
            if let Some(next) = page.next_records_url {
                self.fetch(next);
            }
            if let Some(batch) = page.batch {
                return Ok(Some(SourceBatch { batch, bytes_read }));
            }
        }
        Ok(None)
    }
}

/// CSV pages of a finished Bulk API 2.0 query job.
struct BulkPages {
    client: Arc<SalesforceClient>,
    schema: SchemaRef,
    job: BulkJob,
    done: bool,
}

#[async_trait::async_trait]
impl BatchStream for BulkPages {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        while !self.done {
            let Some(csv) = self.client.bulk_results_page(&mut self.job, BULK_PAGE_RECORDS).await? else {
                self.done = true;
                break;
            };
            if let Some(batch) = decode_bulk_page(csv.as_bytes(), &self.schema)? {
                return Ok(Some(SourceBatch { batch, bytes_read: csv.len() as u64 }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn the_read_api_follows_data_transfer_api_and_the_record_count() {
        let counted = |n: u64| async move { Ok::<u64, ConnectorError>(n) };
        let never = async { panic!("the count is asked for only with AUTOMATIC") };
        assert_eq!(
            choose_read_api(Some(SalesforceDataTransferApi::RestSync), &[], never).await.unwrap(),
            ReadApi::Rest
        );
        let never = async { panic!("the count is asked for only with AUTOMATIC") };
        assert_eq!(choose_read_api(Some(SalesforceDataTransferApi::Bulkv2), &[], never).await.unwrap(), ReadApi::Bulk);
        assert_eq!(choose_read_api(None, &[], counted(999_999)).await.unwrap(), ReadApi::Rest);
        assert_eq!(
            choose_read_api(Some(SalesforceDataTransferApi::Automatic), &[], counted(1_000_000)).await.unwrap(),
            ReadApi::Bulk
        );
        let compound = ["BillingAddress".to_string()];
        assert_eq!(choose_read_api(None, &compound, counted(5_000_000)).await.unwrap(), ReadApi::Rest);
        let refused = choose_read_api(Some(SalesforceDataTransferApi::Bulkv2), &compound, counted(1)).await;
        assert!(matches!(refused, Err(ConnectorError::Invalid(m)) if m.contains("BillingAddress")));
    }

    #[test]
    fn describe_types_map_to_arrow() {
        let describe = json!({"fields": [
            {"name": "Id", "type": "id"}, {"name": "AnnualRevenue", "type": "currency"},
            {"name": "CreatedDate", "type": "datetime"}, {"name": "Odd", "type": "somethingnew"}
        ]});
        let (schema, types) = describe_schema(&describe);
        assert_eq!(schema.field(1).data_type(), &arrow_schema::DataType::Float64);
        assert_eq!(schema.field(2).data_type(), &sluice_transform::data_type::datetime_type());
        assert_eq!(schema.field(3).data_type(), &arrow_schema::DataType::Utf8);
        assert_eq!(types[2], ("CreatedDate".to_string(), "datetime".to_string()));
    }

    #[test]
    fn windows_become_soql_conditions() {
        let window = DatetimeWindow {
            field: Some("LastModifiedDate".into()),
            start: Some(time::macros::datetime!(2026-11-01 00:00:00.250 UTC)),
            end: time::macros::datetime!(2026-11-02 06:30:00 +01:00),
        };
        assert_eq!(
            window_condition(&window).unwrap(),
            " WHERE LastModifiedDate < 2026-11-02T05:30:00Z AND LastModifiedDate >= 2026-11-01T00:00:00Z"
        );
    }
}
