//! REST API handlers: versions, limits, describe, record CRUD and upsert,
//! SOQL query with paging, and sObject collections.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::bearer_session;
use super::error::SfError;
use super::org::{Org, UpsertOutcome};
use super::schema::{FieldType, ObjectDef, ObjectKind};
use super::soql::{self, FieldKind, FieldResolver, SelectItem};
use super::state::{random_token, QueryCursor, SimState};
use super::{SalesforceSim, API_VERSIONS};

type SfResult = Result<Response, SfError>;

/// Largest page of query results, and the default.
pub const MAX_BATCH_SIZE: usize = 2000;
/// Smallest page a client may ask for with `Sforce-Query-Options`.
pub const MIN_BATCH_SIZE: usize = 200;
/// Most records in one sObject collection call.
pub const MAX_COLLECTION_RECORDS: usize = 200;

fn version_number(version: &str) -> String {
    version.trim_start_matches('v').to_string()
}

fn user_of(sim: &SalesforceSim, headers: &HeaderMap) -> Result<String, SfError> {
    bearer_session(sim, headers).map(|(user_id, _)| user_id)
}

fn json_body(body: &str) -> Result<Value, SfError> {
    serde_json::from_str(body)
        .map_err(|e| SfError::bad_request("JSON_PARSER_ERROR", format!("Unexpected character: {e}")))
}

fn object_body(body: &str) -> Result<Map<String, Value>, SfError> {
    match json_body(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(SfError::bad_request("JSON_PARSER_ERROR", "Expected a JSON object")),
    }
}

/// `GET /services/data`.
pub async fn versions(State(sim): State<SalesforceSim>) -> Json<Value> {
    let _ = sim;
    Json(Value::Array(
        API_VERSIONS
            .map(|v| json!({"label": format!("Release {v}"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
            .collect(),
    ))
}

/// `GET /services/data/vXX.X`.
pub async fn resources(Path(version): Path<String>) -> Json<Value> {
    let base = format!("/services/data/{version}");
    Json(json!({
        "sobjects": format!("{base}/sobjects"),
        "query": format!("{base}/query"),
        "queryAll": format!("{base}/queryAll"),
        "limits": format!("{base}/limits"),
        "composite": format!("{base}/composite"),
    }))
}

/// `GET /limits`.
pub async fn limits(State(sim): State<SalesforceSim>) -> Json<Value> {
    let state = sim.lock();
    let max = state.config.daily_api_requests;
    let remaining = max.saturating_sub(state.api_calls);
    Json(json!({
        "DailyApiRequests": {"Max": max, "Remaining": remaining},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        "DailyStreamingApiEvents": {"Max": 1000000, "Remaining": 1000000},
        "HourlyPublishedPlatformEvents": {"Max": 250000, "Remaining": 250000},
        "ConcurrentRESTApiRequests": {"Max": 25, "Remaining": 25},
    }))
}

/// `GET /sobjects`.
pub async fn global_describe(State(sim): State<SalesforceSim>, Path(version): Path<String>) -> Json<Value> {
    let state = sim.lock();
    let version = version_number(&version);
    let mut objects: Vec<&ObjectDef> = state.org.objects.values().map(|s| s.def.as_ref()).collect();
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    Json(json!({
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": objects.iter().map(|o| o.summary(&version)).collect::<Vec<_>>(),
    }))
}

/// `GET /sobjects/{object}`.
pub async fn object_info(
    State(sim): State<SalesforceSim>,
    Path((version, object)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    let store = state.org.object(&object)?;
    Ok(Json(json!({"objectDescribe": store.def.summary(&version_number(&version)), "recentItems": []})).into_response())
}

/// `GET /sobjects/{object}/describe`.
pub async fn describe_object(
    State(sim): State<SalesforceSim>,
    Path((version, object)): Path<(String, String)>,
) -> SfResult {
    let state = sim.lock();
    let store = state.org.object(&object)?;
    Ok(Json(store.def.describe(&version_number(&version))).into_response())
}

/// `changeOrigin` of a REST call at `version`.
fn rest_origin(version: &str, headers: &HeaderMap) -> String {
    let options = headers.get("sforce-call-options").and_then(|v| v.to_str().ok());
    super::change_events::change_origin("rest", version, options)
}

fn created_body(id: &str) -> Value {
    json!({"id": id, "success": true, "errors": []})
}

/// `POST /sobjects/{object}`: create a record or publish a platform event.
pub async fn create_record(
    State(sim): State<SalesforceSim>,
    Path((version, object)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let fields = object_body(&body)?;
    let mut state = sim.lock();
    let id = state.org.as_origin(rest_origin(&version, &headers), |org| org.create(&object, &fields, Some(&user)))?;
    state.dirty = true;
    Ok((StatusCode::CREATED, Json(created_body(&id))).into_response())
}

fn columns_for(def: &ObjectDef, fields: Option<&str>) -> Result<Option<Vec<usize>>, SfError> {
    let Some(list) = fields else { return Ok(None) };
    let mut columns = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let (i, _) = def.field(name).ok_or_else(|| SfError::unknown_field(&def.name, name))?;
        columns.push(i);
    }
    Ok(Some(columns))
}

/// `GET /sobjects/{object}/{id}?fields=...`.
pub async fn get_record(
    State(sim): State<SalesforceSim>,
    Path((version, object, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> SfResult {
    let state = sim.lock();
    let store = state.org.object(&object)?;
    let index = state.org.live_index(&object, &id)?;
    let columns = columns_for(&store.def, query.get("fields").map(String::as_str))?;
    Ok(Json(state.org.record_json(store, &store.rows[index], columns.as_deref(), &version_number(&version)))
        .into_response())
}

/// `PATCH /sobjects/{object}/{id}`.
pub async fn update_record(
    State(sim): State<SalesforceSim>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let fields = object_body(&body)?;
    let mut state = sim.lock();
    state.org.as_origin(rest_origin(&version, &headers), |org| org.update(&object, &id, &fields, Some(&user)))?;
    state.dirty = true;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /sobjects/{object}/{id}`.
pub async fn delete_record(
    State(sim): State<SalesforceSim>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let mut state = sim.lock();
    state.org.as_origin(rest_origin(&version, &headers), |org| org.delete(&object, &id, Some(&user)))?;
    state.dirty = true;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /sobjects/{object}/{field}/{value}`: read by external id.
pub async fn get_by_external_id(
    State(sim): State<SalesforceSim>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> SfResult {
    let state = sim.lock();
    let ids = state.org.find_by_field(&object, &field, &value)?;
    let store = state.org.object(&object)?;
    let version = version_number(&version);
    match ids.as_slice() {
        [] => Err(SfError::not_found()),
        [id] => {
            let columns = columns_for(&store.def, query.get("fields").map(String::as_str))?;
            let row = &store.rows[store.by_id[id]];
            Ok(Json(state.org.record_json(store, row, columns.as_deref(), &version)).into_response())
        }
        many => {
            let urls: Vec<String> =
                many.iter().map(|id| format!("/services/data/v{version}/sobjects/{}/{id}", store.def.name)).collect();
            Ok((StatusCode::MULTIPLE_CHOICES, Json(json!(urls))).into_response())
        }
    }
}

/// `PATCH /sobjects/{object}/{field}/{value}`: upsert by external id.
/// 201 with `created: true` when a record was made, 200 with `created:
/// false` when one was updated (the behaviour of API v46.0 and later, which
/// covers every version served; older versions answered 204), 300 when
/// several match.
pub async fn upsert_record(
    State(sim): State<SalesforceSim>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let fields = object_body(&body)?;
    let mut state = sim.lock();
    let outcome = state
        .org
        .as_origin(rest_origin(&version, &headers), |org| org.upsert(&object, &field, &value, &fields, Some(&user)));
    let version = version_number(&version);
    match outcome {
        Ok(UpsertOutcome::Created(id)) => {
            state.dirty = true;
            Ok((StatusCode::CREATED, Json(json!({"id": id, "success": true, "errors": [], "created": true})))
                .into_response())
        }
        Ok(UpsertOutcome::Updated(id)) => {
            state.dirty = true;
            Ok((StatusCode::OK, Json(json!({"id": id, "success": true, "errors": [], "created": false})))
                .into_response())
        }
        Err(error) if error.status == StatusCode::MULTIPLE_CHOICES => {
            let ids = state.org.find_by_field(&object, &field, &value)?;
            let name = state.org.object(&object)?.def.name.clone();
            let urls: Vec<String> =
                ids.iter().map(|id| format!("/services/data/v{version}/sobjects/{name}/{id}")).collect();
            Ok((StatusCode::MULTIPLE_CHOICES, Json(json!(urls))).into_response())
        }
        Err(error) => Err(error),
    }
}

// ----------------------------------------------------------------- queries

struct ObjectFields<'a>(&'a ObjectDef);

impl FieldResolver for ObjectFields<'_> {
    fn resolve(&self, name: &str) -> Option<(String, FieldKind)> {
        let (_, field) = self.0.field(name)?;
        let kind = match field.field_type {
            FieldType::Id => FieldKind::Id,
            FieldType::Reference => FieldKind::Reference,
            FieldType::Boolean => FieldKind::Boolean,
            FieldType::Date => FieldKind::Date,
            FieldType::Datetime => FieldKind::DateTime,
            t if t.is_number() => FieldKind::Number,
            _ => FieldKind::String,
        };
        Some((field.name.clone(), kind))
    }
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("Sforce-Query-Options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|part| part.trim().strip_prefix("batchSize=")))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map(|n| n.clamp(MIN_BATCH_SIZE, MAX_BATCH_SIZE))
        .unwrap_or(MAX_BATCH_SIZE)
}

/// `GET /query?q=...`.
pub async fn query(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> SfResult {
    run_query(&sim, &version, &params, &headers, false)
}

/// `GET /queryAll?q=...`: also returns deleted records.
pub async fn query_all(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> SfResult {
    run_query(&sim, &version, &params, &headers, true)
}

fn run_query(
    sim: &SalesforceSim,
    version: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    query_all: bool,
) -> SfResult {
    let text =
        params.get("q").ok_or_else(|| SfError::bad_request("MALFORMED_QUERY", "A query string has to be specified"))?;
    let parsed = soql::parse(text).map_err(|e| SfError::bad_request(e.code, e.message))?;
    let mut state = sim.lock();
    state.expire_cursors();
    let selection = select_rows(&state.org, &parsed, text, query_all)?;
    if selection.count_only {
        return Ok(Json(json!({"totalSize": selection.rows.len(), "done": true, "records": []})).into_response());
    }
    let version = version_number(version);
    let cursor = QueryCursor {
        object: selection.object,
        columns: selection.columns,
        rows: selection.rows,
        batch_size: batch_size(headers),
        version: version.clone(),
        query_all,
        touched: Instant::now(),
    };
    Ok(page(&mut state, cursor, 0))
}

/// The rows a SOQL query selects, in result order.
pub struct Selection {
    /// Object queried (canonical name).
    pub object: String,
    /// Selected columns, in SELECT order.
    pub columns: Vec<usize>,
    /// Matching row indexes after ORDER BY, OFFSET and LIMIT.
    pub rows: Vec<usize>,
    /// `SELECT COUNT()`.
    pub count_only: bool,
}

/// Validates a parsed query against the org and evaluates it.
pub fn select_rows(org: &Org, parsed: &soql::Query, text: &str, query_all: bool) -> Result<Selection, SfError> {
    let store = org.object(&parsed.object).map_err(|_| {
        SfError::bad_request(
            "INVALID_TYPE",
            format!(
                "\n{text}\n^\nERROR at Row:1:Column:1\nsObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                parsed.object
            ),
        )
    })?;
    if store.def.kind == ObjectKind::PlatformEvent {
        return Err(SfError::bad_request(
            "INVALID_TYPE",
            format!("entity type {} does not support query", store.def.name),
        ));
    }
    let resolver = ObjectFields(&store.def);
    soql::validate(parsed, &resolver).map_err(|e| SfError::bad_request(e.code, e.message))?;
    let mut columns = Vec::new();
    let mut count_only = false;
    for item in &parsed.select {
        match item {
            SelectItem::Count => count_only = true,
            SelectItem::Field(path) if path.0.len() == 1 => {
                let (i, _) =
                    store.def.field(&path.0[0]).ok_or_else(|| SfError::unknown_field(&store.def.name, &path.0[0]))?;
                if !columns.contains(&i) {
                    columns.push(i);
                }
            }
            SelectItem::Field(path) => {
                return Err(SfError::bad_request(
                    "INVALID_FIELD",
                    format!("relationship fields such as '{path}' are not supported by the Sluice simulator"),
                ));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let deleted_col = store.column("IsDeleted");
    let referenced = referenced_columns(parsed, &store.def);
    let mut rows: Vec<usize> = Vec::new();
    for (index, row) in store.rows.iter().enumerate() {
        if !query_all && deleted_col.is_some_and(|c| row[c].as_bool() == Some(true)) {
            continue;
        }
        if let Some(filter) = &parsed.filter {
            let view = row_view(&store.def, row, &referenced);
            if !soql::matches(filter, &view, &resolver, now) {
                continue;
            }
        }
        rows.push(index);
    }
    if !parsed.order_by.is_empty() {
        let views: HashMap<usize, Map<String, Value>> =
            rows.iter().map(|&i| (i, row_view(&store.def, &store.rows[i], &referenced))).collect();
        rows.sort_by(|a, b| soql::compare_records(&parsed.order_by, &views[a], &views[b], &resolver));
    }
    let offset = parsed.offset.unwrap_or(0) as usize;
    if offset > 2000 {
        return Err(SfError::bad_request("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"));
    }
    let rows: Vec<usize> =
        rows.into_iter().skip(offset).take(parsed.limit.map(|l| l as usize).unwrap_or(usize::MAX)).collect();
    Ok(Selection { object: store.def.name.clone(), columns, rows, count_only })
}

/// Columns a query's filter and ordering read.
fn referenced_columns(query: &soql::Query, def: &ObjectDef) -> Vec<usize> {
    let mut names = Vec::new();
    if let Some(filter) = &query.filter {
        collect_condition_fields(filter, &mut names);
    }
    names.extend(query.order_by.iter().map(|o| o.field.0.join(".")));
    let mut columns: Vec<usize> = names.iter().filter_map(|n| def.field(n).map(|(i, _)| i)).collect();
    columns.sort_unstable();
    columns.dedup();
    columns
}

fn collect_condition_fields(condition: &soql::Condition, names: &mut Vec<String>) {
    use soql::Condition::*;
    match condition {
        And(a, b) | Or(a, b) => {
            collect_condition_fields(a, names);
            collect_condition_fields(b, names);
        }
        Not(inner) => collect_condition_fields(inner, names),
        Compare { field, .. } | Like { field, .. } | In { field, .. } => names.push(field.0.join(".")),
    }
}

fn row_view(def: &ObjectDef, row: &[Value], columns: &[usize]) -> Map<String, Value> {
    columns.iter().map(|&c| (def.fields[c].name.clone(), row[c].clone())).collect()
}

/// Renders the page of `cursor` starting at `offset` straight to JSON
/// bytes (query pages are the hot path), keeping the cursor when more rows
/// follow. Keys come in Salesforce's order: totalSize, done,
/// nextRecordsUrl, records.
fn page(state: &mut SimState, cursor: QueryCursor, offset: usize) -> Response {
    let total = cursor.rows.len();
    let end = (offset + cursor.batch_size).min(total);
    let mut out = Vec::with_capacity(256 + (end.saturating_sub(offset)) * 64 * (cursor.columns.len() + 2));
    out.extend_from_slice(format!("{{\"totalSize\":{total},\"done\":{}", end >= total).as_bytes());
    if end < total {
        let locator = format!("01g{}", random_token(15).replace(['.', '_'], "x"));
        let resource = if cursor.query_all { "queryAll" } else { "query" };
        out.extend_from_slice(
            format!(",\"nextRecordsUrl\":\"/services/data/v{}/{resource}/{locator}-{end}\"", cursor.version).as_bytes(),
        );
        render_records(&state.org, &cursor, offset, end, &mut out);
        state.cursors.insert(locator, QueryCursor { touched: Instant::now(), ..cursor });
    } else {
        render_records(&state.org, &cursor, offset, end, &mut out);
    }
    out.push(b'}');
    ([(axum::http::header::CONTENT_TYPE, "application/json;charset=UTF-8")], out).into_response()
}

/// Appends `,"records":[...]` for rows `offset..end` of the cursor.
fn render_records(org: &Org, cursor: &QueryCursor, offset: usize, end: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"records\":[");
    if let Ok(store) = org.object(&cursor.object) {
        let id_column = store.column("Id");
        let names: Vec<Vec<u8>> =
            cursor.columns.iter().map(|&c| serde_json::to_vec(&store.def.fields[c].name).unwrap_or_default()).collect();
        let prefix = format!(
            "{{\"attributes\":{{\"type\":{},\"url\":\"/services/data/v{}/sobjects/{}/",
            serde_json::to_string(&store.def.name).unwrap_or_default(),
            cursor.version,
            store.def.name
        );
        for (n, row) in cursor.rows[offset.min(end)..end].iter().filter_map(|&i| store.rows.get(i)).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(prefix.as_bytes());
            if let Some(id) = id_column.and_then(|c| row[c].as_str()) {
                out.extend_from_slice(id.as_bytes());
            }
            out.extend_from_slice(b"\"}");
            for (name, &column) in names.iter().zip(&cursor.columns) {
                out.push(b',');
                out.extend_from_slice(name);
                out.push(b':');
                let _ = serde_json::to_writer(&mut *out, &row[column]);
            }
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"]");
}

/// `GET /query/{locator}-{offset}`: the next page.
pub async fn query_more(
    State(sim): State<SalesforceSim>,
    Path((_version, locator)): Path<(String, String)>,
) -> SfResult {
    let invalid = || SfError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let mut state = sim.lock();
    state.expire_cursors();
    let cursor = state.cursors.remove(id).ok_or_else(invalid)?;
    if offset > cursor.rows.len() {
        return Err(invalid());
    }
    Ok(page(&mut state, cursor, offset))
}

// ------------------------------------------------------------- collections

fn collection_records(body: &Value) -> Result<(bool, Vec<Map<String, Value>>), SfError> {
    let all_or_none = body.get("allOrNone").and_then(Value::as_bool).unwrap_or(false);
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| SfError::bad_request("JSON_PARSER_ERROR", "records is required"))?;
    if records.len() > MAX_COLLECTION_RECORDS {
        return Err(SfError::bad_request(
            "EXCEEDED_ID_LIMIT",
            format!("record limit reached. cannot submit more than {MAX_COLLECTION_RECORDS} records into this call"),
        ));
    }
    let records = records
        .iter()
        .map(|r| {
            r.as_object()
                .cloned()
                .ok_or_else(|| SfError::bad_request("JSON_PARSER_ERROR", "each record must be an object"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((all_or_none, records))
}

fn record_type(record: &Map<String, Value>) -> Result<String, SfError> {
    record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| SfError::bad_request("INVALID_TYPE", "Must specify a type in the attributes of each record"))
}

/// Runs one operation per record; with `allOrNone`, any failure rolls back
/// every change of the call and marks the others
/// `ALL_OR_NONE_OPERATION_ROLLED_BACK`.
fn run_collection<F>(sim: &SalesforceSim, all_or_none: bool, count: usize, mut op: F) -> Vec<Value>
where
    F: FnMut(&mut Org, usize) -> Result<Value, SfError>,
{
    let mut state = sim.lock();
    let backup = if all_or_none { Some(state.org.clone()) } else { None };
    let results: Vec<Result<Value, SfError>> = (0..count).map(|i| op(&mut state.org, i)).collect();
    let failed = results.iter().any(Result::is_err);
    if failed {
        if let Some(backup) = backup {
            state.org = backup;
            return results
                .into_iter()
                .map(|r| {
                    let error = match r {
                        Err(e) => e.as_collection_error(),
                        Ok(_) => json!({
                            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                            "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                            "fields": [],
                        }),
                    };
                    json!({"id": null, "success": false, "errors": [error]})
                })
                .collect();
        }
    }
    if results.iter().any(Result::is_ok) {
        state.dirty = true;
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| json!({"id": null, "success": false, "errors": [e.as_collection_error()]})))
        .collect()
}

/// `POST /composite/sobjects`: create up to 200 records.
pub async fn collection_create(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let origin = rest_origin(&version, &headers);
    let (all_or_none, records) = collection_records(&json_body(&body)?)?;
    let results = run_collection(&sim, all_or_none, records.len(), |org, i| {
        let object = record_type(&records[i])?;
        let id = org.as_origin(origin.clone(), |org| org.create(&object, &records[i], Some(&user)))?;
        Ok(created_body(&id))
    });
    Ok(Json(Value::Array(results)).into_response())
}

/// `PATCH /composite/sobjects`: update up to 200 records by id.
pub async fn collection_update(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let origin = rest_origin(&version, &headers);
    let (all_or_none, records) = collection_records(&json_body(&body)?)?;
    let results = run_collection(&sim, all_or_none, records.len(), |org, i| {
        let object = record_type(&records[i])?;
        let id = records[i]
            .get("id")
            .or_else(|| records[i].get("Id"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SfError::bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
                    .with_fields(vec!["Id".into()])
            })?
            .to_string();
        let mut fields = records[i].clone();
        fields.remove("id");
        org.as_origin(origin.clone(), |org| org.update(&object, &id, &fields, Some(&user)))?;
        let full = super::ids::to_18(&id).unwrap_or(id);
        Ok(json!({"id": full, "success": true, "errors": []}))
    });
    Ok(Json(Value::Array(results)).into_response())
}

/// `PATCH /composite/sobjects/{object}/{field}`: upsert up to 200 records.
pub async fn collection_upsert(
    State(sim): State<SalesforceSim>,
    Path((version, object, field)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let origin = rest_origin(&version, &headers);
    let (all_or_none, records) = collection_records(&json_body(&body)?)?;
    {
        let state = sim.lock();
        let store = state.org.object(&object)?;
        let (_, def) = store.def.field(&field).ok_or_else(|| SfError::unknown_field(&store.def.name, &field))?;
        if !def.external_id && def.field_type != FieldType::Id {
            return Err(SfError::bad_request(
                "INVALID_FIELD",
                format!("Field {field} is not an external id field on {object}"),
            ));
        }
    }
    let results = run_collection(&sim, all_or_none, records.len(), |org, i| {
        let key = records[i]
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&field))
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| {
                SfError::bad_request("MISSING_ARGUMENT", format!("{field} not specified"))
                    .with_fields(vec![field.clone()])
            })?;
        match org.as_origin(origin.clone(), |org| org.upsert(&object, &field, &key, &records[i], Some(&user)))? {
            UpsertOutcome::Created(id) => Ok(json!({"id": id, "success": true, "errors": [], "created": true})),
            UpsertOutcome::Updated(id) => Ok(json!({"id": id, "success": true, "errors": [], "created": false})),
        }
    });
    Ok(Json(Value::Array(results)).into_response())
}

/// `DELETE /composite/sobjects?ids=...&allOrNone=...`.
pub async fn collection_delete(
    State(sim): State<SalesforceSim>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> SfResult {
    let user = user_of(&sim, &headers)?;
    let origin = rest_origin(&version, &headers);
    let ids: Vec<String> = params
        .get("ids")
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    if ids.len() > MAX_COLLECTION_RECORDS {
        return Err(SfError::bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    let all_or_none = params.get("allOrNone").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let results = run_collection(&sim, all_or_none, ids.len(), |org, i| {
        let object = object_of_id(org, &ids[i])?;
        org.as_origin(origin.clone(), |org| org.delete(&object, &ids[i], Some(&user)))?;
        Ok(json!({"id": super::ids::to_18(&ids[i]).unwrap_or_else(|| ids[i].clone()), "success": true, "errors": []}))
    });
    Ok(Json(Value::Array(results)).into_response())
}

fn object_of_id(org: &Org, id: &str) -> Result<String, SfError> {
    let malformed = || SfError::bad_request("MALFORMED_ID", format!("malformed id {id}"));
    let full = super::ids::to_18(id).ok_or_else(malformed)?;
    org.objects.values().find(|s| s.by_id.contains_key(&full)).map(|s| s.def.name.clone()).ok_or_else(|| SfError {
        status: StatusCode::NOT_FOUND,
        code: "INVALID_CROSS_REFERENCE_KEY",
        message: "invalid cross reference id".into(),
        fields: Vec::new(),
    })
}

/// `GET /composite/sobjects/{object}?ids=...&fields=...`.
pub async fn collection_retrieve(
    State(sim): State<SalesforceSim>,
    Path((version, object)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> SfResult {
    let ids: Vec<String> =
        params.get("ids").map(|s| s.split(',').map(|x| x.trim().to_string()).collect()).unwrap_or_default();
    retrieve(&sim, &version, &object, &ids, params.get("fields").map(String::as_str))
}

/// `POST /composite/sobjects/{object}` with `{"ids": [...], "fields": [...]}`.
pub async fn collection_retrieve_post(
    State(sim): State<SalesforceSim>,
    Path((version, object)): Path<(String, String)>,
    body: String,
) -> SfResult {
    let body = json_body(&body)?;
    let list = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let fields = list("fields").join(",");
    retrieve(&sim, &version, &object, &list("ids"), Some(&fields))
}

fn retrieve(sim: &SalesforceSim, version: &str, object: &str, ids: &[String], fields: Option<&str>) -> SfResult {
    let state = sim.lock();
    let store = state.org.object(object)?;
    let columns = columns_for(&store.def, fields.filter(|f| !f.is_empty()))?
        .ok_or_else(|| SfError::bad_request("MISSING_ARGUMENT", "fields is required"))?;
    let version = version_number(version);
    let records: Vec<Value> = ids
        .iter()
        .map(|id| match state.org.live_index(object, id) {
            Ok(i) => state.org.record_json(store, &store.rows[i], Some(&columns), &version),
            Err(_) => Value::Null,
        })
        .collect();
    Ok(Json(Value::Array(records)).into_response())
}
