//! REST handlers under `/rest/v1`: lead describe, query by filter (also as
//! `POST ... _method=GET`), get by id, sync, push, delete; activity types,
//! paging tokens, activities, lead changes, deleted leads; daily usage.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::activity::{self, Activity, CHANGE_DATA_VALUE, DELETE_LEAD, NEW_LEAD};
use super::db::{SyncAction, SyncOutcome, API_SOURCE, MAX_BATCH, MAX_FILTER_MATCHES};
use super::error::{success, success_without_result, MktoError};
use super::paging::{activity_token, lead_token, parse_activity_token, parse_lead_token, ActivityPosition};
use super::params::Params;
use super::schema::{self, lead_field, resolve_fields, searchable_field, DataType, LeadField, DEFAULT_FIELDS};
use super::state::{SimState, DEMO_API_USER};
use super::time_format::{now_secs, parse_datetime};
use super::MarketoSim;

type MktoResult = Result<Response, MktoError>;

fn respond(result: MktoResult) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Other,
}

/// What kind of body a request carries, from its Content-Type.
pub(crate) fn body_kind(headers: &HeaderMap) -> BodyKind {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => BodyKind::Json,
        Some(v) if v.starts_with("application/json") => BodyKind::Json,
        Some(v) if v.starts_with("application/x-www-form-urlencoded") => BodyKind::Form,
        Some(_) => BodyKind::Other,
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, MktoError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(MktoError::invalid_json()),
    }
}

/// `batchSize`: 300 when absent, zero or larger than 300.
pub fn batch_size(params: &Params) -> Result<usize, MktoError> {
    match params.non_blank("batchSize") {
        None => Ok(MAX_BATCH),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n == 0 || n > MAX_BATCH => Ok(MAX_BATCH),
            Ok(n) => Ok(n),
            Err(_) => Err(MktoError::invalid_value(text, "integer")),
        },
    }
}

fn integer_list(params: &Params, name: &str) -> Result<Vec<i64>, MktoError> {
    params.list(name).iter().map(|v| v.parse::<i64>().map_err(|_| MktoError::invalid_value(v, "integer"))).collect()
}

fn requested_fields(params: &Params) -> Result<Vec<&'static LeadField>, MktoError> {
    let names = params.list("fields");
    if names.is_empty() {
        return Ok(DEFAULT_FIELDS.iter().filter_map(|n| lead_field(n)).collect());
    }
    resolve_fields(&names.join(","))
}

/// `GET /rest/v1/leads/describe.json`.
pub async fn describe() -> Json<Value> {
    Json(success(schema::describe()))
}

/// `GET /rest/v1/leads/describe2.json`.
pub async fn describe2() -> Json<Value> {
    Json(success(vec![schema::describe2()]))
}

/// Get Leads by Filter Type over merged query and form parameters.
pub fn get_leads(state: &SimState, params: &Params) -> Result<Value, MktoError> {
    let filter_type = params.non_blank("filterType").ok_or_else(|| MktoError::missing_parameter("filterType"))?;
    let field = searchable_field(filter_type)?;
    let values = params.list("filterValues");
    if values.is_empty() {
        return Err(MktoError::missing_parameter("filterValues"));
    }
    if values.len() > MAX_BATCH {
        return Err(MktoError::invalid(format!("Number of filterValues exceeds the limit of {MAX_BATCH}")));
    }
    if field.data_type == DataType::Integer {
        if let Some(bad) = values.iter().find(|v| v.parse::<i64>().is_err()) {
            return Err(MktoError::invalid_value(bad, "integer"));
        }
    }
    let fields = requested_fields(params)?;
    let batch = batch_size(params)?;
    let after = match params.non_blank("nextPageToken") {
        Some(token) => parse_lead_token(token).ok_or_else(|| MktoError::invalid_paging_token(token))?,
        None => 0,
    };
    let ids = state.db.filter(field, &values);
    if ids.len() > MAX_FILTER_MATCHES {
        return Err(MktoError::invalid("Too many results match the filter"));
    }
    let remaining: Vec<i64> = ids.into_iter().filter(|id| *id > after).collect();
    let page = &remaining[..remaining.len().min(batch)];
    let result: Vec<Value> =
        page.iter().filter_map(|id| state.db.leads.get(id)).map(|lead| lead.to_json(&fields)).collect();
    let mut body = success(result);
    if let (true, Some(last)) = (remaining.len() > page.len(), page.last()) {
        body["moreResult"] = json!(true);
        body["nextPageToken"] = json!(lead_token(*last));
    }
    Ok(body)
}

/// `GET /rest/v1/leads.json`.
pub async fn leads_get(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let state = sim.lock();
    respond(get_leads(&state, &params).map(|b| Json(b).into_response()))
}

/// `POST /rest/v1/leads.json`: a sync call, or a query with `_method=GET`
/// (parameters in a form body).
pub async fn leads_post(
    State(sim): State<MarketoSim>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = Params::from_query(query.as_deref());
    let kind = body_kind(&headers);
    if kind == BodyKind::Form {
        params.extend(Params::from_form(&body));
    }
    if params.get("_method") == Some("GET") {
        let state = sim.lock();
        return respond(get_leads(&state, &params).map(|b| Json(b).into_response()));
    }
    if kind != BodyKind::Json {
        return MktoError::invalid_content_type().into_response();
    }
    respond(json_object(&body).and_then(|request| sync(&sim, &request, false)))
}

fn sync(sim: &MarketoSim, request: &Map<String, Value>, push: bool) -> MktoResult {
    let action = match request.get("action").and_then(Value::as_str) {
        _ if push => SyncAction::CreateOrUpdate,
        None => SyncAction::CreateOrUpdate,
        Some(name) => SyncAction::parse(name).ok_or_else(|| MktoError::invalid(format!("Invalid action '{name}'")))?,
    };
    if push && request.get("programName").and_then(Value::as_str).is_none_or(|p| p.trim().is_empty()) {
        return Err(MktoError::missing_parameter("programName"));
    }
    let lookup = searchable_field(request.get("lookupField").and_then(Value::as_str).unwrap_or("email"))?;
    let input = match request.get("input") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Array(_)) => return Err(MktoError::missing_parameter("input")),
        Some(_) => return Err(MktoError::invalid_data()),
    };
    if input.len() > MAX_BATCH {
        return Err(MktoError::invalid(format!("Batch size exceeds the limit of {MAX_BATCH}")));
    }
    let mut state = sim.lock();
    let outcomes = state.db.sync(action, lookup, input, now_secs(), API_SOURCE);
    if outcomes.iter().any(|o| !matches!(o, SyncOutcome::Skipped(_))) {
        state.dirty = true;
    }
    Ok(Json(success(outcomes.iter().map(SyncOutcome::to_json).collect())).into_response())
}

/// `POST /rest/v1/leads/push.json`: create or update leads for a program.
pub async fn push(State(sim): State<MarketoSim>, body: Bytes) -> Response {
    respond(json_object(&body).and_then(|request| sync(&sim, &request, true)))
}

fn delete_ids(sim: &MarketoSim, ids: Vec<i64>) -> MktoResult {
    if ids.is_empty() {
        return Err(MktoError::missing_parameter("input"));
    }
    if ids.len() > MAX_BATCH {
        return Err(MktoError::invalid(format!("Batch size exceeds the limit of {MAX_BATCH}")));
    }
    let mut state = sim.lock();
    let now = now_secs();
    let result = ids
        .into_iter()
        .map(|id| {
            if state.db.delete(id, now) {
                state.dirty = true;
                json!({"id": id, "status": "deleted"})
            } else {
                json!({"id": id, "status": "skipped", "reasons": [MktoError::lead_not_found().as_reason()]})
            }
        })
        .collect();
    Ok(Json(success(result)).into_response())
}

fn ids_of_input(body: &[u8]) -> Result<Vec<i64>, MktoError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let request = json_object(body)?;
    let Some(Value::Array(items)) = request.get("input") else { return Ok(Vec::new()) };
    items
        .iter()
        .map(|item| {
            let id = item.get("id").unwrap_or(&Value::Null);
            id.as_i64()
                .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| MktoError::invalid_value(&schema::value_text(id), "integer"))
        })
        .collect()
}

/// `POST /rest/v1/leads/delete.json` and `DELETE /rest/v1/leads.json`
/// (ids in `input` or in the `id` query parameter).
pub async fn delete(State(sim): State<MarketoSim>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = Params::from_query(query.as_deref());
    let ids = integer_list(&params, "id").and_then(|mut ids| {
        ids.extend(ids_of_input(&body)?);
        Ok(ids)
    });
    respond(ids.and_then(|ids| delete_ids(&sim, ids)))
}

/// `GET /rest/v1/lead/{id}.json`.
pub async fn lead_by_id(
    State(sim): State<MarketoSim>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::from_query(query.as_deref());
    let result = (|| {
        let Some(text) = file.strip_suffix(".json") else { return Err(MktoError::resource_not_found()) };
        let id = text.parse::<i64>().map_err(|_| MktoError::invalid_value(text, "integer"))?;
        let fields = requested_fields(&params)?;
        let state = sim.lock();
        let result = state.db.leads.get(&id).map(|lead| lead.to_json(&fields)).into_iter().collect();
        Ok(Json(success(result)).into_response())
    })();
    respond(result)
}

/// `GET /rest/v1/activities/types.json`.
pub async fn activity_types() -> Json<Value> {
    Json(success(activity::describe_types()))
}

/// `GET /rest/v1/activities/pagingtoken.json?sinceDatetime=...`.
pub async fn paging_token(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let result = (|| {
        let text = params.non_blank("sinceDatetime").ok_or_else(|| MktoError::missing_parameter("sinceDatetime"))?;
        let since = parse_datetime(text).ok_or_else(|| MktoError::invalid_value(text, "datetime"))?;
        let position = sim.lock().db.position_at(since);
        let mut body = success_without_result();
        body["nextPageToken"] = json!(activity_token(position));
        Ok(Json(body).into_response())
    })();
    respond(result)
}

fn start_position(params: &Params) -> Result<ActivityPosition, MktoError> {
    let token = params.non_blank("nextPageToken").ok_or_else(|| MktoError::missing_parameter("nextPageToken"))?;
    parse_activity_token(token).ok_or_else(|| MktoError::invalid_paging_token(token))
}

fn activity_response(
    sim: &MarketoSim,
    params: &Params,
    wanted: impl Fn(&Activity) -> bool,
    render: fn(&Activity) -> Value,
) -> MktoResult {
    let from = start_position(params)?;
    let batch = batch_size(params)?;
    let lead_ids = integer_list(params, "leadIds")?;
    if lead_ids.len() > 30 {
        return Err(MktoError::invalid("Number of leadIds exceeds the limit of 30"));
    }
    let page = {
        let state = sim.lock();
        state.db.activity_page(from, batch, |a| (lead_ids.is_empty() || lead_ids.contains(&a.lead_id)) && wanted(a))
    };
    let mut body = success_without_result();
    if !page.activities.is_empty() {
        body["result"] = page.activities.iter().map(render).collect();
    }
    body["nextPageToken"] = json!(activity_token(page.next));
    body["moreResult"] = json!(page.more);
    Ok(Json(body).into_response())
}

/// `GET /rest/v1/activities.json?nextPageToken=..&activityTypeIds=..[&leadIds=..]`.
pub async fn activities(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let result = integer_list(&params, "activityTypeIds").and_then(|types| {
        if types.is_empty() {
            return Err(MktoError::missing_parameter("activityTypeIds"));
        }
        if types.len() > 10 {
            return Err(MktoError::invalid("Number of activityTypeIds exceeds the limit of 10"));
        }
        activity_response(&sim, &params, |a| types.contains(&a.type_id), Activity::to_json)
    });
    respond(result)
}

/// `GET /rest/v1/activities/leadchanges.json?nextPageToken=..&fields=..`:
/// New Lead activities and Change Data Value activities of the fields.
pub async fn lead_changes(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    let result = (|| {
        let names = params.list("fields");
        if names.is_empty() {
            return Err(MktoError::missing_parameter("fields"));
        }
        let fields = resolve_fields(&names.join(","))?;
        let wanted = |a: &Activity| {
            a.type_id == NEW_LEAD
                || (a.type_id == CHANGE_DATA_VALUE
                    && a.changed_field().is_some_and(|f| fields.iter().any(|w| w.name == f)))
        };
        activity_response(&sim, &params, wanted, Activity::to_lead_change_json)
    })();
    respond(result)
}

/// `GET /rest/v1/activities/deletedleads.json?nextPageToken=..`.
pub async fn deleted_leads(State(sim): State<MarketoSim>, RawQuery(query): RawQuery) -> Response {
    let params = Params::from_query(query.as_deref());
    respond(activity_response(&sim, &params, |a| a.type_id == DELETE_LEAD, Activity::to_json))
}

/// `GET /rest/v1/stats/usage.json`: today's calls.
pub async fn daily_usage(State(sim): State<MarketoSim>) -> Json<Value> {
    let state = sim.lock();
    let calls = state.usage.day_calls;
    Json(success(vec![json!({
        "date": state.usage.day,
        "total": calls,
        "users": [{"userId": DEMO_API_USER, "count": calls}],
    })]))
}

#[cfg(test)]
mod tests {
    use super::super::db::LeadDatabase;
    use super::super::state::SimConfig;
    use super::*;

    fn state_with_region_leads(count: usize) -> SimState {
        let mut db = LeadDatabase::new();
        for i in 0..count {
            let values = Map::from_iter([
                ("email".to_string(), json!(format!("lead{i}@x.com"))),
                ("region".to_string(), json!(if i % 2 == 0 { "EMEA" } else { "APAC" })),
            ]);
            db.create(values, 1_706_695_200, API_SOURCE);
        }
        SimState::new(db, SimConfig::default())
    }

    fn query(text: &str) -> Params {
        Params::parse(text)
    }

    #[test]
    fn filter_pages_follow_tokens_to_the_end() {
        let state = state_with_region_leads(14);
        let first = get_leads(&state, &query("filterType=region&filterValues=EMEA&batchSize=3&fields=email,region"))
            .unwrap_or_default();
        assert_eq!(first["result"].as_array().map(Vec::len), Some(3));
        assert_eq!(first["result"][0], json!({"id": 1, "email": "lead0@x.com", "region": "EMEA"}));
        assert_eq!(first["moreResult"], true);
        let mut token = first["nextPageToken"].as_str().map(str::to_string);
        let mut ids: Vec<i64> =
            first["result"].as_array().into_iter().flatten().filter_map(|l| l["id"].as_i64()).collect();
        while let Some(t) = token {
            let page = get_leads(
                &state,
                &query(&format!("filterType=region&filterValues=EMEA&batchSize=3&nextPageToken={t}")),
            )
            .unwrap_or_default();
            ids.extend(page["result"].as_array().into_iter().flatten().filter_map(|l| l["id"].as_i64()));
            token = page["nextPageToken"].as_str().map(str::to_string);
        }
        assert_eq!(ids, vec![1, 3, 5, 7, 9, 11, 13]);
    }

    #[test]
    fn filter_errors_use_marketo_codes() {
        let state = state_with_region_leads(3);
        let code = |q: &str| get_leads(&state, &query(q)).err().map(|e| (e.code, e.message));
        assert_eq!(
            code("filterValues=a"),
            Some(("1002", "Missing value for the required parameter 'filterType'".into()))
        );
        assert_eq!(code("filterType=foo&filterValues=a"), Some(("1006", "Field 'foo' not found".into())));
        assert_eq!(
            code("filterType=firstName&filterValues=a"),
            Some(("1011", "Field 'firstName' not supported".into()))
        );
        assert_eq!(
            code("filterType=email&filterValues=a&fields=nope"),
            Some(("1006", "Field 'nope' not found".into()))
        );
        assert_eq!(
            code("filterType=id&filterValues=1,x"),
            Some(("1001", "Invalid value 'x'. Required of type 'integer'".into()))
        );
        assert_eq!(
            code("filterType=email&filterValues=a&nextPageToken=zzz"),
            Some(("1003", "Invalid nextPageToken 'zzz'".into()))
        );
    }

    #[test]
    fn too_many_matches_is_refused() {
        let state = state_with_region_leads(2004);
        let error = get_leads(&state, &query("filterType=region&filterValues=EMEA,APAC")).err();
        assert_eq!(error, Some(MktoError::invalid("Too many results match the filter")));
        let ok = get_leads(&state, &query("filterType=region&filterValues=EMEA"));
        assert!(ok.is_err(), "1002 EMEA leads are still too many");
        assert_eq!(batch_size(&query("batchSize=1000")), Ok(300));
        assert_eq!(batch_size(&query("batchSize=x")), Err(MktoError::invalid_value("x", "integer")));
    }
}
