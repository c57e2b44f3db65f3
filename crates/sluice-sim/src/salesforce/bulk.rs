//! Bulk API 2.0: ingest jobs (CSV upload, UploadComplete, results) and
//! query jobs (CSV results paged with `Sforce-Locator`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::auth::bearer_session;
use super::error::SfError;
use super::org::{format_datetime, Org, UpsertOutcome};
use super::soql;
use super::SalesforceSim;

type SfResult = Result<Response, SfError>;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Loads records from uploaded CSV.
    Ingest,
    /// Extracts records as CSV.
    Query,
}

/// A Bulk API 2.0 job.
#[derive(Debug, Clone)]
pub struct BulkJob {
    /// Ingest or query.
    pub kind: JobKind,
    /// The JobInfo as returned to clients (state, counters, settings).
    pub info: Map<String, Value>,
    /// Uploaded CSV (ingest).
    pub upload: Vec<u8>,
    /// The uploaded rows once processed (ingest); results point into it.
    pub upload_rows: Vec<Vec<String>>,
    /// `(upload row, record id, created)` of each successful record (ingest).
    pub successful: Vec<(usize, String, bool)>,
    /// `(upload row, error)` of each failed record (ingest).
    pub failed: Vec<(usize, String)>,
    /// Rows never processed (ingest, aborted jobs).
    pub unprocessed: Vec<Vec<String>>,
    /// Header of the uploaded CSV (ingest).
    pub upload_header: Vec<String>,
    /// Header of the result CSV (query).
    pub result_header: Vec<String>,
    /// Result rows (query).
    pub result_rows: Vec<Vec<String>>,
}

fn job_error(code: &'static str, message: impl Into<String>) -> SfError {
    SfError::bad_request(code, message)
}

fn not_found_job(id: &str) -> SfError {
    SfError {
        status: StatusCode::NOT_FOUND,
        ..job_error("NOT_FOUND", format!("The requested resource does not exist: job {id}"))
    }
}

fn now() -> String {
    format_datetime(time::OffsetDateTime::now_utc())
}

fn delimiter(info: &Map<String, Value>) -> u8 {
    match info.get("columnDelimiter").and_then(Value::as_str).unwrap_or("COMMA") {
        "TAB" => b'\t',
        "PIPE" => b'|',
        "SEMICOLON" => b';',
        "CARET" => b'^',
        "BACKQUOTE" => b'`',
        _ => b',',
    }
}

fn line_ending(info: &Map<String, Value>) -> &'static str {
    if info.get("lineEnding").and_then(Value::as_str) == Some("CRLF") {
        "\r\n"
    } else {
        "\n"
    }
}

fn write_csv(info: &Map<String, Value>, header: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let terminator = if line_ending(info) == "\r\n" { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter(info))
        .terminator(terminator)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(row);
    }
    writer.into_inner().unwrap_or_default()
}

fn csv_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/csv")], body).into_response()
}

fn settings(body: &Value, info: &mut Map<String, Value>) -> Result<(), SfError> {
    let delimiter = body.get("columnDelimiter").and_then(Value::as_str).unwrap_or("COMMA");
    if !["COMMA", "TAB", "PIPE", "SEMICOLON", "CARET", "BACKQUOTE"].contains(&delimiter) {
        return Err(job_error("INVALIDJOB", format!("Invalid columnDelimiter: {delimiter}")));
    }
    let ending = body.get("lineEnding").and_then(Value::as_str).unwrap_or("LF");
    if !["LF", "CRLF"].contains(&ending) {
        return Err(job_error("INVALIDJOB", format!("Invalid lineEnding: {ending}")));
    }
    if let Some(content) = body.get("contentType").and_then(Value::as_str) {
        if content != "CSV" {
            return Err(job_error("INVALIDJOB", format!("Invalid contentType: {content}; only CSV is supported")));
        }
    }
    info.insert("columnDelimiter".into(), json!(delimiter));
    info.insert("lineEnding".into(), json!(ending));
    info.insert("contentType".into(), json!("CSV"));
    Ok(())
}

fn new_job_info(state_org: &mut Org, user: &str, version: &str) -> (String, Map<String, Value>) {
    let id = super::ids::make_id("750", state_org.next_id);
    state_org.next_id += 1;
    let stamp = now();
    let mut info = Map::new();
    info.insert("id".into(), json!(id));
    info.insert("createdById".into(), json!(user));
    info.insert("createdDate".into(), json!(stamp));
    info.insert("systemModstamp".into(), json!(stamp));
    info.insert("concurrencyMode".into(), json!("Parallel"));
    info.insert("apiVersion".into(), json!(version.trim_start_matches('v').parse::<f64>().unwrap_or(62.0)));
    info.insert("jobType".into(), json!("V2Ingest"));
    info.insert("numberRecordsProcessed".into(), json!(0));
    info.insert("numberRecordsFailed".into(), json!(0));
    info.insert("retries".into(), json!(0));
    info.insert("totalProcessingTime".into(), json!(0));
    info.insert("apiActiveProcessingTime".into(), json!(0));
    info.insert("apexProcessingTime".into(), json!(0));
    (id, info)
}

fn set_state(job: &mut BulkJob, state: &str) {
    job.info.insert("state".into(), json!(state));
    job.info.insert("systemModstamp".into(), json!(now()));
}

fn job_state(job: &BulkJob) -> &str {
    job.info.get("state").and_then(Value::as_str).unwrap_or("")
}

// ------------------------------------------------------------------ ingest

/// `POST /jobs/ingest`.
pub async fn create_ingest_job(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let (user, _) = bearer_session(&sim, &headers)?;
    let body: Value = serde_json::from_str(&body).map_err(|e| job_error("JSON_PARSER_ERROR", e.to_string()))?;
    let object =
        body.get("object").and_then(Value::as_str).ok_or_else(|| job_error("INVALIDJOB", "object is required"))?;
    let operation = body.get("operation").and_then(Value::as_str).unwrap_or("");
    if !["insert", "update", "upsert", "delete", "hardDelete"].contains(&operation) {
        return Err(job_error("INVALIDJOB", format!("Invalid operation: {operation}")));
    }
    let mut state = sim.lock();
    let object_name = state
        .org
        .object(object)
        .map_err(|_| job_error("INVALIDJOB", format!("Unknown object: {object}")))?
        .def
        .name
        .clone();
    let external_id = body.get("externalIdFieldName").and_then(Value::as_str);
    if operation == "upsert" {
        let field = external_id.ok_or_else(|| job_error("INVALIDJOB", "externalIdFieldName is required for upsert"))?;
        let store = state.org.object(&object_name)?;
        let (_, def) =
            store.def.field(field).ok_or_else(|| job_error("INVALIDJOB", format!("Unknown field: {field}")))?;
        if !def.external_id && def.name != "Id" {
            return Err(job_error("INVALIDJOB", format!("{field} is not an external id field")));
        }
    }
    let (id, mut info) = new_job_info(&mut state.org, &user, &version);
    settings(&body, &mut info)?;
    info.insert("operation".into(), json!(operation));
    info.insert("object".into(), json!(object_name));
    if let Some(field) = external_id {
        info.insert("externalIdFieldName".into(), json!(field));
    }
    info.insert("state".into(), json!("Open"));
    info.insert("contentUrl".into(), json!(format!("services/data/{version}/jobs/ingest/{id}/batches")));
    let job = BulkJob {
        kind: JobKind::Ingest,
        info: info.clone(),
        upload: Vec::new(),
        upload_rows: Vec::new(),
        successful: Vec::new(),
        failed: Vec::new(),
        unprocessed: Vec::new(),
        upload_header: Vec::new(),
        result_header: Vec::new(),
        result_rows: Vec::new(),
    };
    state.bulk_jobs.insert(id, job);
    Ok(Json(Value::Object(info)).into_response())
}

/// Most CSV bytes one ingest job takes (Salesforce's limit).
pub const MAX_UPLOAD_BYTES: usize = 150 * 1024 * 1024;

/// `PUT /jobs/ingest/{id}/batches`: the CSV data (one upload per job).
pub async fn upload_batch(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> SfResult {
    bearer_session(&sim, &headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("text/csv") {
        return Err(job_error("INVALIDJOB", format!("Content-Type must be text/csv, not '{content_type}'")));
    }
    let mut state = sim.lock();
    let job = state.bulk_jobs.get_mut(&id).filter(|j| j.kind == JobKind::Ingest).ok_or_else(|| not_found_job(&id))?;
    if job_state(job) != "Open" {
        return Err(job_error(
            "INVALIDJOBSTATE",
            format!("Job {id} is not Open; data can only be uploaded to an Open job"),
        ));
    }
    if !job.upload.is_empty() {
        return Err(job_error(
            "INVALIDJOBSTATE",
            "Data was already uploaded to this job; create a new job for more data",
        ));
    }
    job.upload = body.to_vec();
    Ok(StatusCode::CREATED.into_response())
}

/// `PATCH /jobs/ingest/{id}` with `{"state": "UploadComplete" | "Aborted"}`.
pub async fn patch_ingest_job(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let (user, _) = bearer_session(&sim, &headers)?;
    let wanted = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("state").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| job_error("INVALIDJOB", "state is required"))?;
    let mut state = sim.lock();
    let job = state.bulk_jobs.get_mut(&id).filter(|j| j.kind == JobKind::Ingest).ok_or_else(|| not_found_job(&id))?;
    let current = job_state(job).to_string();
    match (current.as_str(), wanted.as_str()) {
        ("Open", "UploadComplete") => {
            set_state(job, "UploadComplete");
            let info = job.info.clone();
            drop(state);
            let worker = sim.clone();
            let job_id = id.clone();
            tokio::spawn(async move { process_ingest(&worker, &job_id, &user) });
            Ok(Json(Value::Object(info)).into_response())
        }
        ("Open" | "UploadComplete" | "InProgress", "Aborted") => {
            set_state(job, "Aborted");
            Ok(Json(Value::Object(job.info.clone())).into_response())
        }
        _ => {
            Err(job_error("INVALIDJOBSTATE", format!("Cannot change the state of job {id} from {current} to {wanted}")))
        }
    }
}

/// Runs an uploaded ingest job: InProgress, then JobComplete (or Failed
/// when the CSV itself is unusable, or left Aborted if aborted meanwhile).
fn process_ingest(sim: &SalesforceSim, id: &str, user: &str) {
    let started = std::time::Instant::now();
    let mut state = sim.lock();
    let Some(job) = state.bulk_jobs.get_mut(id) else { return };
    if job_state(job) != "UploadComplete" {
        return;
    }
    set_state(job, "InProgress");
    let info = job.info.clone();
    let upload = std::mem::take(&mut job.upload);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter(&info)).flexible(false).from_reader(upload.as_slice());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            fail_job(job, &format!("InvalidBatch : Failed to parse CSV header: {e}"));
            return;
        }
    };
    let rows: Vec<Vec<String>> =
        match reader.records().map(|r| r.map(|r| r.iter().map(str::to_string).collect())).collect() {
            Ok(rows) => rows,
            Err(e) => {
                fail_job(job, &format!("InvalidBatch : Failed to parse CSV: {e}"));
                return;
            }
        };
    let object = info.get("object").and_then(Value::as_str).unwrap_or("").to_string();
    let operation = info.get("operation").and_then(Value::as_str).unwrap_or("").to_string();
    let external_id = info.get("externalIdFieldName").and_then(Value::as_str).map(str::to_string);
    let version =
        info.get("apiVersion").and_then(Value::as_f64).map(|v| format!("{v:.1}")).unwrap_or_else(|| "62.0".into());
    let origin = super::change_events::change_origin("bulkapi", &version, None);
    let mut successful = Vec::with_capacity(rows.len());
    let mut failed = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let fields = row_fields(&header, row);
        let result = state
            .org
            .as_origin(origin.clone(), |org| apply_row(org, &object, &operation, external_id.as_deref(), fields, user));
        match result {
            Ok((record_id, created)) => successful.push((index, record_id, created)),
            Err(error) => {
                failed.push((index, format!("{}:{}:{} --", error.code, error.message, error.fields.join(","))))
            }
        }
    }
    state.dirty = true;
    let Some(job) = state.bulk_jobs.get_mut(id) else { return };
    job.upload_header = header;
    job.info.insert("numberRecordsProcessed".into(), json!(successful.len() + failed.len()));
    job.info.insert("numberRecordsFailed".into(), json!(failed.len()));
    let elapsed = started.elapsed().as_millis() as u64;
    job.info.insert("totalProcessingTime".into(), json!(elapsed));
    job.info.insert("apiActiveProcessingTime".into(), json!(elapsed));
    job.successful = successful;
    job.failed = failed;
    job.upload_rows = rows;
    set_state(job, "JobComplete");
}

fn fail_job(job: &mut BulkJob, message: &str) {
    job.info.insert("errorMessage".into(), json!(message));
    set_state(job, "Failed");
}

/// A CSV row as record fields: empty cells are left out, `#N/A` means null.
fn row_fields(header: &[String], row: &[String]) -> Map<String, Value> {
    header
        .iter()
        .zip(row)
        .filter(|(_, v)| !v.is_empty())
        .map(|(h, v)| (h.clone(), if v == "#N/A" { Value::Null } else { Value::String(v.clone()) }))
        .collect()
}

fn apply_row(
    org: &mut Org,
    object: &str,
    operation: &str,
    external_id: Option<&str>,
    mut fields: Map<String, Value>,
    user: &str,
) -> Result<(String, bool), SfError> {
    let take_id = |fields: &mut Map<String, Value>| -> Result<String, SfError> {
        let key = fields.keys().find(|k| k.eq_ignore_ascii_case("Id")).cloned();
        key.and_then(|k| fields.remove(&k)).and_then(|v| v.as_str().map(str::to_string)).ok_or_else(|| {
            SfError::bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
                .with_fields(vec!["Id".into()])
        })
    };
    match operation {
        "insert" => org.create(object, &fields, Some(user)).map(|id| (id, true)),
        "update" => {
            let id = take_id(&mut fields)?;
            org.update(object, &id, &fields, Some(user))?;
            Ok((super::ids::to_18(&id).unwrap_or(id), false))
        }
        "upsert" => {
            let field = external_id.unwrap_or("Id");
            let key = fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
                .ok_or_else(|| SfError::bad_request("MISSING_ARGUMENT", format!("{field} not specified")))?;
            match org.upsert(object, field, &key, &fields, Some(user))? {
                UpsertOutcome::Created(id) => Ok((id, true)),
                UpsertOutcome::Updated(id) => Ok((id, false)),
            }
        }
        "delete" | "hardDelete" => {
            let id = take_id(&mut fields)?;
            org.delete(object, &id, Some(user))?;
            Ok((super::ids::to_18(&id).unwrap_or(id), false))
        }
        other => Err(SfError::bad_request("INVALIDJOB", format!("Invalid operation: {other}"))),
    }
}

fn ingest_job<'a>(state: &'a super::state::SimState, id: &str) -> Result<&'a BulkJob, SfError> {
    state.bulk_jobs.get(id).filter(|j| j.kind == JobKind::Ingest).ok_or_else(|| not_found_job(id))
}

/// `GET /jobs/ingest/{id}`.
pub async fn get_ingest_job(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    Ok(Json(Value::Object(ingest_job(&state, &id)?.info.clone())).into_response())
}

/// A results CSV: `sf__Id`, the given second column, then the uploaded columns.
/// A results CSV: `sf__Id`, the second column, then the uploaded row.
fn result_csv<'a>(
    job: &BulkJob,
    second_column: &str,
    results: impl Iterator<Item = (usize, &'a str, String)>,
) -> Response {
    let mut header = vec!["sf__Id".to_string(), second_column.to_string()];
    header.extend(job.upload_header.iter().cloned());
    let rows: Vec<Vec<String>> = results
        .map(|(index, id, second)| {
            let mut row = vec![id.to_string(), second];
            row.extend(job.upload_rows.get(index).into_iter().flatten().cloned());
            row
        })
        .collect();
    csv_response(write_csv(&job.info, &header, &rows))
}

/// `GET /jobs/ingest/{id}/successfulResults`.
pub async fn successful_results(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    let job = ingest_job(&state, &id)?;
    Ok(result_csv(
        job,
        "sf__Created",
        job.successful.iter().map(|(i, id, created)| (*i, id.as_str(), created.to_string())),
    ))
}

/// `GET /jobs/ingest/{id}/failedResults`.
pub async fn failed_results(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    let job = ingest_job(&state, &id)?;
    Ok(result_csv(job, "sf__Error", job.failed.iter().map(|(i, error)| (*i, "", error.clone()))))
}

/// `GET /jobs/ingest/{id}/unprocessedrecords`: rows of an aborted job.
pub async fn unprocessed_records(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    let job = ingest_job(&state, &id)?;
    if job_state(job) == "Aborted" && !job.upload.is_empty() {
        return Ok(csv_response(job.upload.clone()));
    }
    Ok(csv_response(write_csv(&job.info, &job.upload_header, &job.unprocessed)))
}

/// `DELETE /jobs/ingest/{id}` and `DELETE /jobs/query/{id}`.
pub async fn delete_job(State(sim): State<SalesforceSim>, Path((_version, id)): Path<(String, String)>) -> SfResult {
    let mut state = sim.lock();
    let job = state.bulk_jobs.get(&id).ok_or_else(|| not_found_job(&id))?;
    if matches!(job_state(job), "Open" | "InProgress") {
        return Err(job_error("INVALIDJOBSTATE", format!("Job {id} must be closed or aborted before it is deleted")));
    }
    state.bulk_jobs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn list_jobs(sim: &SalesforceSim, kind: JobKind) -> Response {
    let state = sim.lock();
    let mut records: Vec<&BulkJob> = state.bulk_jobs.values().filter(|j| j.kind == kind).collect();
    records.sort_by(|a, b| {
        a.info.get("createdDate").map(Value::to_string).cmp(&b.info.get("createdDate").map(Value::to_string))
    });
    let records: Vec<Value> = records.into_iter().map(|j| Value::Object(j.info.clone())).collect();
    Json(json!({"done": true, "records": records, "nextRecordsUrl": null})).into_response()
}

/// `GET /jobs/ingest`.
pub async fn list_ingest_jobs(State(sim): State<SalesforceSim>) -> Response {
    list_jobs(&sim, JobKind::Ingest)
}

/// `GET /jobs/query`.
pub async fn list_query_jobs(State(sim): State<SalesforceSim>) -> Response {
    list_jobs(&sim, JobKind::Query)
}

// ------------------------------------------------------------------- query

/// `POST /jobs/query`: runs the SOQL at once and keeps the CSV rows.
pub async fn create_query_job(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let (user, _) = bearer_session(&sim, &headers)?;
    let body: Value = serde_json::from_str(&body).map_err(|e| job_error("JSON_PARSER_ERROR", e.to_string()))?;
    let operation = body.get("operation").and_then(Value::as_str).unwrap_or("query");
    if !["query", "queryAll"].contains(&operation) {
        return Err(job_error("INVALIDJOB", format!("Invalid operation: {operation}")));
    }
    let text = body.get("query").and_then(Value::as_str).ok_or_else(|| job_error("INVALIDJOB", "query is required"))?;
    let parsed = soql::parse(text).map_err(|e| SfError::bad_request("API_ERROR", e.message))?;
    if parsed.select.iter().any(|s| matches!(s, soql::SelectItem::Count)) {
        return Err(job_error("API_ERROR", "Aggregate queries are not supported by Bulk API 2.0"));
    }
    let mut state = sim.lock();
    let result = super::rest::select_rows(&state.org, &parsed, text, operation == "queryAll")?;
    let (id, mut info) = new_job_info(&mut state.org, &user, &version);
    settings(&body, &mut info)?;
    info.insert("jobType".into(), json!("V2Query"));
    info.insert("operation".into(), json!(operation));
    info.insert("object".into(), json!(result.object));
    info.insert("state".into(), json!("UploadComplete"));
    let store = state.org.object(&result.object)?;
    let header: Vec<String> = result.columns.iter().map(|&c| store.def.fields[c].name.clone()).collect();
    let rows: Vec<Vec<String>> =
        result.rows.iter().map(|&r| result.columns.iter().map(|&c| csv_cell(&store.rows[r][c])).collect()).collect();
    let job = BulkJob {
        kind: JobKind::Query,
        info: info.clone(),
        upload: Vec::new(),
        upload_rows: Vec::new(),
        successful: Vec::new(),
        failed: Vec::new(),
        unprocessed: Vec::new(),
        upload_header: Vec::new(),
        result_header: header,
        result_rows: rows,
    };
    state.bulk_jobs.insert(id.clone(), job);
    drop(state);
    let worker = sim.clone();
    tokio::spawn(async move {
        let mut state = worker.lock();
        if let Some(job) = state.bulk_jobs.get_mut(&id) {
            if job_state(job) == "UploadComplete" {
                let count = job.result_rows.len();
                job.info.insert("numberRecordsProcessed".into(), json!(count));
                set_state(job, "JobComplete");
            }
        }
    });
    Ok(Json(Value::Object(info)).into_response())
}

fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn query_job<'a>(state: &'a super::state::SimState, id: &str) -> Result<&'a BulkJob, SfError> {
    state.bulk_jobs.get(id).filter(|j| j.kind == JobKind::Query).ok_or_else(|| not_found_job(id))
}

/// `GET /jobs/query/{id}`.
pub async fn get_query_job(State(sim): State<SalesforceSim>, Path((_version, id)): Path<(String, String)>) -> SfResult {
    let state = sim.lock();
    Ok(Json(Value::Object(query_job(&state, &id)?.info.clone())).into_response())
}

/// `PATCH /jobs/query/{id}` with `{"state": "Aborted"}`.
pub async fn patch_query_job(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
    body: String,
) -> SfResult {
    let wanted = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("state").and_then(Value::as_str).map(str::to_string));
    let mut state = sim.lock();
    let job = state.bulk_jobs.get_mut(&id).filter(|j| j.kind == JobKind::Query).ok_or_else(|| not_found_job(&id))?;
    if wanted.as_deref() != Some("Aborted") {
        return Err(job_error("INVALIDJOBSTATE", "A query job can only be changed to Aborted"));
    }
    if matches!(job_state(job), "JobComplete" | "Failed" | "Aborted") {
        return Err(job_error("INVALIDJOBSTATE", format!("Job {id} is already finished")));
    }
    set_state(job, "Aborted");
    Ok(Json(Value::Object(job.info.clone())).into_response())
}

fn encode_locator(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(locator).ok()?;
    String::from_utf8(bytes).ok()?.parse().ok()
}

/// `GET /jobs/query/{id}/results?locator=&maxRecords=`.
pub async fn query_results(
    State(sim): State<SalesforceSim>,
    Path((_version, id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> SfResult {
    let state = sim.lock();
    let job = query_job(&state, &id)?;
    if job_state(job) != "JobComplete" {
        return Err(job_error("INVALIDJOBSTATE", format!("Job {id} is not complete (state {})", job_state(job))));
    }
    let offset = match params.get("locator").filter(|l| !l.is_empty()) {
        Some(locator) => decode_locator(locator)
            .ok_or_else(|| job_error("INVALID_LOCATOR", format!("Invalid locator: {locator}")))?,
        None => 0,
    };
    let max_records =
        params.get("maxRecords").and_then(|m| m.parse::<usize>().ok()).filter(|m| *m > 0).unwrap_or(50_000);
    let end = (offset + max_records).min(job.result_rows.len());
    let rows = &job.result_rows[offset.min(end)..end];
    let body = write_csv(&job.info, &job.result_header, rows);
    let mut response = csv_response(body);
    let next = if end < job.result_rows.len() { encode_locator(end) } else { "null".to_string() };
    let headers = response.headers_mut();
    headers.insert("Sforce-Locator", HeaderValue::from_str(&next).unwrap_or(HeaderValue::from_static("null")));
    headers.insert("Sforce-NumberOfRecords", HeaderValue::from(rows.len()));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_cells_are_skipped_and_na_is_null() {
        let header = vec!["LastName".to_string(), "Title".to_string(), "Phone".to_string()];
        let fields = row_fields(&header, &["Lee".into(), "".into(), "#N/A".into()]);
        assert_eq!(fields.get("LastName"), Some(&json!("Lee")));
        assert!(!fields.contains_key("Title"));
        assert_eq!(fields.get("Phone"), Some(&Value::Null));
    }

    #[test]
    fn locators_round_trip() {
        assert_eq!(decode_locator(&encode_locator(40_000)), Some(40_000));
        assert_eq!(decode_locator("***"), None);
    }

    #[test]
    fn csv_is_quoted_with_the_job_delimiter() {
        let mut info = Map::new();
        info.insert("columnDelimiter".into(), json!("PIPE"));
        let out = write_csv(&info, &["a".into(), "b".into()], &[vec!["x|y".into(), "z".into()]]);
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\"|\"b\"\n\"x|y\"|\"z\"\n");
    }
}
