//! One handler per AppFlow operation. Each translates the wire request
//! (checked against the botocore model, every problem listed together with
//! the service's own rules) into a call to the [`AppflowService`] and its
//! answer into the wire response.
//!
//! [`AppflowService`]: sluice_service::appflow::AppflowService

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_iam::Caller;
use sluice_model::appflow::*;
use sluice_model::wire::EpochSeconds;
use sluice_service::appflow::flows::Flow;
use sluice_store::{ProfileFilter, ProfileRecord};

use super::input::{body_json, check, encode_token, page_request, parse};
use crate::error::ApiError;
use crate::state::{AppState, CallerAppflow};
use sluice_service::appflow::AppflowService;

type ApiResult = Result<Json<Value>, ApiError>;

fn reply<T: Serialize>(value: &T) -> ApiResult {
    serde_json::to_value(value).map(Json).map_err(|e| ApiError::Internal(format!("response did not serialize: {e}")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(what, error = %e, "stored document does not parse");
    ApiError::Internal(format!("stored {what} is unreadable; see the server log"))
}

// ---------------------------------------------------------------- profiles

fn profile_view(appflow: &AppflowService, record: &ProfileRecord) -> Result<ConnectorProfile, ApiError> {
    Ok(ConnectorProfile {
        connector_profile_arn: Some(record.arn.clone()),
        connector_profile_name: Some(record.name.clone()),
        connector_type: ConnectorType::from_wire(&record.connector_type),
        connector_label: record.connector_label.clone(),
        connection_mode: ConnectionMode::from_wire(&record.connection_mode),
        credentials_arn: record.sealed_credentials.as_ref().map(|_| appflow.credentials_arn(&record.name)),
        connector_profile_properties: Some(
            serde_json::from_value(record.properties.clone())
                .map_err(|e| corrupt("connector profile properties", e))?,
        ),
        created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
        last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
        private_connection_provisioning_state: None,
    })
}

/// CreateConnectorProfile. The profile must connect (a Salesforce profile
/// makes one call with its tokens) before it is stored.
pub async fn create_connector_profile(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let mut checked = check::<CreateConnectorProfileRequest>("CreateConnectorProfile", body_json(&body)?);
    if let Some(r) = &checked.request {
        checked.problems.extend(appflow.profile_problems(
            r.connector_type,
            r.connection_mode,
            &r.connector_profile_config,
            true,
        ));
    }
    let arn = appflow.create_profile(checked.finish()?).await?;
    reply(&CreateConnectorProfileResponse { connector_profile_arn: Some(arn) })
}

/// DescribeConnectorProfiles.
pub async fn describe_connector_profiles(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeConnectorProfilesRequest = parse("DescribeConnectorProfiles", body_json(&body)?)?;
    let page = page_request("DescribeConnectorProfiles", request.max_results, request.next_token.as_deref())?;
    let filter = ProfileFilter {
        names: request.connector_profile_names.unwrap_or_default(),
        connector_type: request.connector_type.map(|t| t.as_str().to_string()),
        connector_label: request.connector_label,
    };
    let result = appflow.list_profiles(&filter, &page).await?;
    let details = result.items.iter().map(|r| profile_view(&appflow, r)).collect::<Result<Vec<_>, _>>()?;
    reply(&DescribeConnectorProfilesResponse {
        connector_profile_details: Some(details),
        next_token: result.next_cursor.map(|c| encode_token("DescribeConnectorProfiles", &c)),
    })
}

/// UpdateConnectorProfile. Omitted credentials keep the stored ones.
pub async fn update_connector_profile(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let mut checked = check::<UpdateConnectorProfileRequest>("UpdateConnectorProfile", body_json(&body)?);
    if let Some(r) = &checked.request {
        checked.problems.extend(appflow.update_profile_problems(r).await?);
    }
    let arn = appflow.update_profile(checked.finish()?).await?;
    reply(&UpdateConnectorProfileResponse { connector_profile_arn: Some(arn) })
}

/// DeleteConnectorProfile. Refused while flows use the profile unless
/// `forceDelete`.
pub async fn delete_connector_profile(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DeleteConnectorProfileRequest = parse("DeleteConnectorProfile", body_json(&body)?)?;
    appflow.delete_profile(&request.connector_profile_name, request.force_delete.unwrap_or(false)).await?;
    reply(&json!({}))
}

// ------------------------------------------------------------------- flows

/// CreateFlow.
pub async fn create_flow(
    CallerAppflow(appflow): CallerAppflow,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let semantic = appflow.flow_problems(&body);
    let mut checked = check::<CreateFlowRequest>("CreateFlow", body);
    checked.problems.extend(semantic);
    let (arn, status) = appflow.create_flow(checked.finish()?, &caller.arn()).await?;
    reply(&CreateFlowResponse { flow_arn: Some(arn), flow_status: Some(status) })
}

/// DescribeFlow.
pub async fn describe_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeFlowRequest = parse("DescribeFlow", body_json(&body)?)?;
    let flow = appflow.flow(&request.flow_name).await?;
    let tags = appflow.resource_tags(&flow.record.arn).await?;
    let last_run = appflow.last_run(&flow.record.name).await?;
    let status = flow.status();
    let Flow { record, spec } = flow;
    reply(&DescribeFlowResponse {
        flow_arn: Some(record.arn.clone()),
        description: spec.description,
        flow_name: Some(record.name.clone()),
        kms_arn: spec.kms_arn,
        flow_status: status,
        flow_status_message: spec.flow_status_message,
        source_flow_config: Some(spec.source_flow_config),
        destination_flow_config_list: Some(spec.destination_flow_config_list),
        last_run_execution_details: last_run,
        trigger_config: Some(spec.trigger_config),
        tasks: Some(spec.tasks),
        created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
        last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
        created_by: Some(spec.created_by),
        last_updated_by: Some(spec.last_updated_by),
        tags: Some(tags),
        metadata_catalog_config: spec.metadata_catalog_config,
        last_run_metadata_catalog_details: None,
        schema_version: Some(1),
    })
}

/// ListFlows.
pub async fn list_flows(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: ListFlowsRequest = parse("ListFlows", body_json(&body)?)?;
    let page = page_request("ListFlows", request.max_results, request.next_token.as_deref())?;
    let result = appflow.list_flows(&page).await?;
    let mut flows = Vec::with_capacity(result.items.len());
    for flow in &result.items {
        let (record, spec) = (&flow.record, &flow.spec);
        flows.push(FlowDefinition {
            flow_arn: Some(record.arn.clone()),
            description: spec.description.clone(),
            flow_name: Some(record.name.clone()),
            flow_status: flow.status(),
            source_connector_type: Some(spec.source_flow_config.connector_type),
            source_connector_label: None,
            destination_connector_type: spec.destination().map(|d| d.connector_type),
            destination_connector_label: None,
            trigger_type: Some(spec.trigger_config.trigger_type),
            created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
            last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
            created_by: Some(spec.created_by.clone()),
            last_updated_by: Some(spec.last_updated_by.clone()),
            tags: Some(appflow.resource_tags(&record.arn).await?),
            last_run_execution_details: appflow.last_run(&record.name).await?,
        });
    }
    reply(&ListFlowsResponse {
        flows: Some(flows),
        next_token: result.next_cursor.map(|c| encode_token("ListFlows", &c)),
    })
}

/// UpdateFlow. A scheduled or event flow that was active goes back to
/// `Active` with the new definition; the trigger type may change.
pub async fn update_flow(
    CallerAppflow(appflow): CallerAppflow,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let semantic = appflow.flow_problems(&body);
    let mut checked = check::<UpdateFlowRequest>("UpdateFlow", body);
    checked.problems.extend(semantic);
    let status = appflow.update_flow(checked.finish()?, &caller.arn()).await?;
    reply(&UpdateFlowResponse { flow_status: Some(status) })
}

/// DeleteFlow. Refused while a run is in progress unless `forceDelete`.
pub async fn delete_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DeleteFlowRequest = parse("DeleteFlow", body_json(&body)?)?;
    appflow.delete_flow(&request.flow_name, request.force_delete.unwrap_or(false)).await?;
    reply(&json!({}))
}

// -------------------------------------------------------------- executions

/// StartFlow. Activates a scheduled or event flow; queues a run of an
/// on-demand flow for the engine's workers.
pub async fn start_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: StartFlowRequest = parse("StartFlow", body_json(&body)?)?;
    let started = appflow.start_flow(&request.flow_name).await?;
    reply(&StartFlowResponse {
        flow_arn: Some(started.flow_arn),
        flow_status: started.flow_status,
        execution_id: started.execution_id,
    })
}

/// StopFlow. Deactivates a scheduled or event flow.
pub async fn stop_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: StopFlowRequest = parse("StopFlow", body_json(&body)?)?;
    let (arn, status) = appflow.stop_flow(&request.flow_name).await?;
    reply(&StopFlowResponse { flow_arn: Some(arn), flow_status: Some(status) })
}

/// An execution record as AppFlow renders it, with Sluice's count of
/// retried calls (a member AWS SDKs ignore).
fn execution_view(stored: &Value) -> Result<Value, ApiError> {
    let record: ExecutionRecord = serde_json::from_value(stored.clone()).map_err(|e| corrupt("execution record", e))?;
    let mut view = serde_json::to_value(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let (Some(retried), Some(result)) =
        (sluice_engine::stored_retried_calls(stored), view.get_mut("executionResult").and_then(Value::as_object_mut))
    {
        result.insert(sluice_engine::RETRIED_CALLS_MEMBER.to_string(), Value::from(retried));
    }
    Ok(view)
}

/// DescribeFlowExecutionRecords, most recent first.
pub async fn describe_flow_execution_records(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeFlowExecutionRecordsRequest = parse("DescribeFlowExecutionRecords", body_json(&body)?)?;
    let page = page_request("DescribeFlowExecutionRecords", request.max_results, request.next_token.as_deref())?;
    let result = appflow.executions(&request.flow_name, &page).await?;
    let executions = result.items.iter().map(|row| execution_view(&row.record)).collect::<Result<Vec<_>, _>>()?;
    let mut response = json!({ "flowExecutions": executions });
    if let Some(cursor) = result.next_cursor {
        response["nextToken"] = json!(encode_token("DescribeFlowExecutionRecords", &cursor));
    }
    Ok(Json(response))
}

/// CancelFlowExecutions. Ids that are unknown or not running come back in
/// `invalidExecutions`; without ids, every running execution is cancelled.
pub async fn cancel_flow_executions(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: CancelFlowExecutionsRequest = parse("CancelFlowExecutions", body_json(&body)?)?;
    let invalid = appflow.cancel_executions(&request.flow_name, request.execution_ids).await?;
    reply(&CancelFlowExecutionsResponse { invalid_executions: Some(invalid) })
}

/// Sluice extension `POST /preview-flow` `{"flowName", "limit"}`: the
/// records a run would deliver for the first `limit` source records (1 to
/// 2,000, default 10), with nothing written.
pub async fn preview_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut problems = sluice_model::ValidationProblems::new();
    let flow_name = body.get("flowName").and_then(Value::as_str);
    if flow_name.is_none() {
        problems.push("Value null at 'flowName' failed to satisfy constraint: Member must not be null");
    }
    let limit = match body.get("limit") {
        None | Some(Value::Null) => Some(10),
        Some(value) => value.as_u64().filter(|n| (1..=2000).contains(n)),
    };
    if limit.is_none() {
        problems.push("limit must be a whole number from 1 to 2000");
    }
    problems.into_result().map_err(ApiError::Validation)?;
    let (Some(flow_name), Some(limit)) = (flow_name, limit) else {
        return Err(ApiError::validation("invalid request"));
    };
    let records = appflow.preview(flow_name, limit as usize).await?;
    reply(&json!({"flowName": flow_name, "recordCount": records.len(), "records": records}))
}

/// Sluice extension `POST /backfill-flow` `{"flowName", "startTime",
/// "endTime"}` (epoch seconds, as AWS timestamps travel): one run of a
/// scheduled flow over `[startTime, endTime)` that does not move its
/// incremental position. Answers `{"executionId"}`.
pub async fn backfill_flow(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut problems = sluice_model::ValidationProblems::new();
    let flow_name = body.get("flowName").and_then(Value::as_str);
    if flow_name.is_none() {
        problems.push("Value null at 'flowName' failed to satisfy constraint: Member must not be null");
    }
    let time = |key: &str, problems: &mut sluice_model::ValidationProblems| match body.get(key).and_then(Value::as_f64)
    {
        Some(seconds) => Some((seconds * 1000.0).round() as i64),
        None => {
            problems.push(format!("{key} must be a timestamp (seconds since the epoch)"));
            None
        }
    };
    let start = time("startTime", &mut problems);
    let end = time("endTime", &mut problems);
    problems.into_result().map_err(ApiError::Validation)?;
    let (Some(flow_name), Some(start), Some(end)) = (flow_name, start, end) else {
        return Err(ApiError::validation("invalid request"));
    };
    let execution_id = appflow.backfill_flow(flow_name, start, end).await?;
    reply(&json!({"flowName": flow_name, "executionId": execution_id}))
}

// -------------------------------------------------------------- connectors

/// DescribeConnectors.
pub async fn describe_connectors(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeConnectorsRequest = parse("DescribeConnectors", body_json(&body)?)?;
    if request.next_token.is_some() {
        // Everything fits on one page; a token can only come from elsewhere.
        return Err(ApiError::validation("Invalid nextToken for DescribeConnectors"));
    }
    let catalog = appflow.catalog();
    let wanted = request.connector_types.unwrap_or_default();
    let specs: Vec<_> =
        catalog.specs().iter().filter(|s| wanted.is_empty() || wanted.contains(&s.connector_type)).collect();
    let configurations: BTreeMap<ConnectorType, ConnectorConfiguration> =
        specs.iter().map(|s| (s.connector_type, catalog.configuration(s))).collect();
    reply(&DescribeConnectorsResponse {
        connector_configurations: Some(configurations),
        connectors: Some(specs.iter().map(|s| s.detail()).collect()),
        next_token: None,
    })
}

/// DescribeConnector.
pub async fn describe_connector(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeConnectorRequest = parse("DescribeConnector", body_json(&body)?)?;
    let catalog = appflow.catalog();
    let spec = catalog.spec(request.connector_type).ok_or_else(|| {
        ApiError::ResourceNotFound(format!(
            "connector type '{}' is not available in Sluice; available: {}",
            request.connector_type,
            catalog.supported_names()
        ))
    })?;
    reply(&DescribeConnectorResponse { connector_configuration: Some(catalog.configuration(spec)) })
}

/// ListConnectors.
pub async fn list_connectors(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: ListConnectorsRequest = parse("ListConnectors", body_json(&body)?)?;
    if request.next_token.is_some() {
        return Err(ApiError::validation("Invalid nextToken for ListConnectors"));
    }
    reply(&ListConnectorsResponse {
        connectors: Some(appflow.catalog().specs().iter().map(|s| s.detail()).collect()),
        next_token: None,
    })
}

/// ListConnectorEntities: the objects of the profile's app, live.
pub async fn list_connector_entities(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: ListConnectorEntitiesRequest = parse("ListConnectorEntities", body_json(&body)?)?;
    if request.next_token.is_some() {
        return Err(ApiError::validation("Invalid nextToken for ListConnectorEntities"));
    }
    let entities = appflow.list_entities(request.connector_profile_name.as_deref(), request.connector_type).await?;
    let entities: Vec<ConnectorEntity> = entities
        .into_iter()
        .map(|e| ConnectorEntity { name: e.name, label: Some(e.label), has_nested_entities: Some(e.has_children) })
        .collect();
    reply(&ListConnectorEntitiesResponse {
        connector_entity_map: BTreeMap::from([("Objects".to_string(), entities)]),
        next_token: None,
    })
}

/// DescribeConnectorEntity: the fields of one object, live.
pub async fn describe_connector_entity(CallerAppflow(appflow): CallerAppflow, body: Bytes) -> ApiResult {
    let request: DescribeConnectorEntityRequest = parse("DescribeConnectorEntity", body_json(&body)?)?;
    let fields = appflow
        .describe_entity(
            request.connector_profile_name.as_deref(),
            request.connector_type,
            &request.connector_entity_name,
        )
        .await?;
    let fields = fields
        .into_iter()
        .map(|f| ConnectorEntityField {
            identifier: f.name.clone(),
            label: Some(f.label),
            is_primary_key: Some(f.data_type == "id"),
            supported_field_type_details: Some(SupportedFieldTypeDetails {
                v1: FieldTypeDetails {
                    field_type: f.data_type,
                    filter_operators: Vec::new(),
                    supported_values: (!f.picklist_values.is_empty()).then_some(f.picklist_values),
                    value_regex_pattern: None,
                    supported_date_format: None,
                    field_value_range: None,
                    field_length_range: None,
                },
            }),
            source_properties: Some(SourceFieldProperties {
                is_retrievable: Some(true),
                is_queryable: Some(true),
                is_timestamp_field_for_incremental_queries: Some(matches!(
                    f.name.as_str(),
                    "SystemModstamp" | "LastModifiedDate" | "CreatedDate"
                )),
            }),
            destination_properties: Some(DestinationFieldProperties {
                is_creatable: Some(f.creatable),
                is_nullable: Some(f.nullable),
                is_upsertable: Some(f.external_id || f.creatable),
                is_updatable: Some(f.updatable),
                is_defaulted_on_create: None,
                supported_write_operations: None,
            }),
            parent_identifier: None,
            default_value: None,
            is_deprecated: Some(false),
            description: None,
            custom_properties: None,
        })
        .collect();
    reply(&DescribeConnectorEntityResponse { connector_entity_fields: fields })
}

/// Operations Sluice does not offer (custom connector registration).
pub fn not_supported(operation: &'static str) -> impl Fn() -> std::future::Ready<ApiError> + Clone {
    move || {
        std::future::ready(ApiError::UnsupportedOperation(format!(
            "{operation} is not supported: Sluice's connectors are built in"
        )))
    }
}

// -------------------------------------------------------------------- tags

fn decoded_arn(raw_arn: &str) -> String {
    percent_encoding::percent_decode_str(raw_arn).decode_utf8_lossy().into_owned()
}

/// The `tagKeys` of an UntagResource query.
fn tag_keys(query: Option<String>) -> Vec<String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "tagKeys")
        .map(|(_, v)| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
        .collect()
}

/// ListTagsForResource (`GET /tags/{resourceArn}`); a pipe's are the
/// pipes service's (the same route serves both APIs).
pub async fn list_tags_for_resource(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_arn): Path<String>,
) -> Response {
    let arn = decoded_arn(&raw_arn);
    if crate::pipes_api::is_pipe_arn(&arn) {
        return crate::pipes_api::list_tags(&state, &caller, &arn).await;
    }
    let run = async {
        let appflow = state.appflow.for_account(&caller.account_id);
        let _: ListTagsForResourceRequest = parse("ListTagsForResource", json!({ "resourceArn": arn }))?;
        reply(&ListTagsForResourceResponse { tags: Some(appflow.list_tags(&arn).await?) })
    };
    run.await.into_response()
}

/// TagResource (`POST /tags/{resourceArn}`).
pub async fn tag_resource(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_arn): Path<String>,
    body: Bytes,
) -> Response {
    let arn = decoded_arn(&raw_arn);
    if crate::pipes_api::is_pipe_arn(&arn) {
        return crate::pipes_api::tag(&state, &caller, &arn, &body).await;
    }
    let run = async {
        let appflow = state.appflow.for_account(&caller.account_id);
        let mut input = body_json(&body)?;
        input["resourceArn"] = Value::String(arn.clone());
        let request: TagResourceRequest = parse("TagResource", input)?;
        appflow.tag(&arn, &request.tags).await?;
        reply(&json!({}))
    };
    run.await.into_response()
}

/// UntagResource (`DELETE /tags/{resourceArn}?tagKeys=...`).
pub async fn untag_resource(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(raw_arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let arn = decoded_arn(&raw_arn);
    let keys = tag_keys(query);
    if crate::pipes_api::is_pipe_arn(&arn) {
        return crate::pipes_api::untag(&state, &caller, &arn, keys).await;
    }
    let run = async {
        let appflow = state.appflow.for_account(&caller.account_id);
        let request: UntagResourceRequest = parse("UntagResource", json!({ "resourceArn": arn, "tagKeys": keys }))?;
        appflow.untag(&arn, &request.tag_keys).await?;
        reply(&json!({}))
    };
    run.await.into_response()
}
