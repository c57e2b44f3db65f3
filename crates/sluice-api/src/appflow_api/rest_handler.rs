//! One handler per AppFlow operation.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_model::appflow::catalog::{connector_spec, SUPPORTED_CONNECTORS};
use sluice_model::appflow::checks::{check_connector_profile, check_flow, FlowParts};
use sluice_model::appflow::*;
use sluice_model::arn::{appflow_arn, parse_appflow_arn, AppflowResourceKind};
use sluice_model::wire::EpochSeconds;
use sluice_store::{ExecutionRow, FlowRecord, ProfileFilter, ProfileRecord};

use super::input::{body_json, check, encode_token, page_request, parse};
use super::stored::StoredFlow;
use crate::error::ApiError;
use crate::state::AppState;
use sluice_engine::now_ms;

type ApiResult = Result<Json<Value>, ApiError>;

fn reply<T: Serialize>(value: &T) -> ApiResult {
    serde_json::to_value(value).map(Json).map_err(|e| ApiError::Internal(format!("response did not serialize: {e}")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(what, error = %e, "stored document does not parse");
    ApiError::Internal(format!("stored {what} is unreadable; see the server log"))
}

fn credentials_arn(state: &AppState, profile_name: &str) -> String {
    format!("arn:aws:sluice-vault:{}:{}:connectorprofile/{profile_name}", state.region, state.account_id)
}

fn flow_not_found(name: &str) -> ApiError {
    ApiError::ResourceNotFound(format!("flow '{name}' does not exist"))
}

fn profile_not_found(name: &str) -> ApiError {
    ApiError::ResourceNotFound(format!("connector profile '{name}' does not exist"))
}

// ---------------------------------------------------------------- profiles

fn seal_credentials(
    state: &AppState,
    arn: &str,
    credentials: &ConnectorProfileCredentials,
) -> Result<String, ApiError> {
    let plaintext = zeroize::Zeroizing::new(
        serde_json::to_vec(credentials)
            .map_err(|e| ApiError::Internal(format!("credentials did not serialize: {e}")))?,
    );
    Ok(state.vault.seal(&plaintext, arn).to_text())
}

fn profile_view(state: &AppState, record: &ProfileRecord) -> Result<ConnectorProfile, ApiError> {
    Ok(ConnectorProfile {
        connector_profile_arn: Some(record.arn.clone()),
        connector_profile_name: Some(record.name.clone()),
        connector_type: ConnectorType::from_wire(&record.connector_type),
        connector_label: record.connector_label.clone(),
        connection_mode: ConnectionMode::from_wire(&record.connection_mode),
        credentials_arn: record.sealed_credentials.as_ref().map(|_| credentials_arn(state, &record.name)),
        connector_profile_properties: Some(
            serde_json::from_value(record.properties.clone())
                .map_err(|e| corrupt("connector profile properties", e))?,
        ),
        created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
        last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
        private_connection_provisioning_state: None,
    })
}

/// Keeps the credentials a connection check renewed, so the profile is
/// stored with them (a refresh during the check may rotate the refresh
/// token the request carried).
#[derive(Default)]
struct RenewedDuringCheck(std::sync::Mutex<Option<ConnectorProfileCredentials>>);

#[async_trait::async_trait]
impl sluice_connectors::CredentialsKeeper for RenewedDuringCheck {
    async fn renewed(&self, credentials: ConnectorProfileCredentials) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(credentials);
    }

    async fn refused(&self, _reason: &str) {}
}

/// Proves, as AppFlow does, that a profile connects before it is stored
/// (for connectors this build can reach) and returns the credentials to
/// store: the given ones, or those the check renewed.
async fn check_profile_connects(
    state: &AppState,
    connector_type: ConnectorType,
    properties: &ConnectorProfileProperties,
    credentials: Option<&ConnectorProfileCredentials>,
) -> Result<Option<ConnectorProfileCredentials>, ApiError> {
    let Some(connector) = sluice_connectors::connector_for(&state.connector_settings, connector_type) else {
        return Ok(credentials.cloned());
    };
    let renewed = std::sync::Arc::new(RenewedDuringCheck::default());
    let keeper: std::sync::Arc<dyn sluice_connectors::CredentialsKeeper> = renewed.clone();
    connector.check_connection(sluice_connectors::ProfileInput::new(properties, credentials).kept_by(&keeper)).await?;
    let renewed = renewed.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok(renewed.or_else(|| credentials.cloned()))
}

/// CreateConnectorProfile. The profile must connect (a Salesforce profile
/// makes one call with its tokens) before it is stored.
pub async fn create_connector_profile(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let mut checked = check::<CreateConnectorProfileRequest>("CreateConnectorProfile", body_json(&body)?);
    if let Some(r) = &checked.request {
        checked.problems.extend(check_connector_profile(
            r.connector_type,
            r.connection_mode,
            &r.connector_profile_config,
            true,
        ));
    }
    let request = checked.finish()?;
    let name = request.connector_profile_name;
    if state.store.get_profile(&name).await?.is_some() {
        return Err(sluice_store::StoreError::AlreadyExists { kind: "connector profile", name }.into());
    }
    let arn = appflow_arn(AppflowResourceKind::ConnectorProfile, &state.region, &state.account_id, &name);
    let config = &request.connector_profile_config;
    let credentials = check_profile_connects(
        &state,
        request.connector_type,
        &config.connector_profile_properties,
        config.connector_profile_credentials.as_ref(),
    )
    .await?;
    let sealed = credentials.as_ref().map(|c| seal_credentials(&state, &arn, c)).transpose()?;
    let now = now_ms();
    let record = ProfileRecord {
        name: name.clone(),
        arn: arn.clone(),
        connector_type: request.connector_type.as_str().to_string(),
        connector_label: request.connector_label,
        connection_mode: request.connection_mode.as_str().to_string(),
        properties: serde_json::to_value(&request.connector_profile_config.connector_profile_properties)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        sealed_credentials: sealed,
        created_at_ms: now,
        updated_at_ms: now,
        auth_error: None,
    };
    state.store.create_profile(&record).await?;
    tracing::info!(profile = %name, connector_type = %record.connector_type, "connector profile created");
    reply(&CreateConnectorProfileResponse { connector_profile_arn: Some(arn) })
}

/// DescribeConnectorProfiles.
pub async fn describe_connector_profiles(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeConnectorProfilesRequest = parse("DescribeConnectorProfiles", body_json(&body)?)?;
    let page = page_request("DescribeConnectorProfiles", request.max_results, request.next_token.as_deref())?;
    let filter = ProfileFilter {
        names: request.connector_profile_names.unwrap_or_default(),
        connector_type: request.connector_type.map(|t| t.as_str().to_string()),
        connector_label: request.connector_label,
    };
    let result = state.store.list_profiles(&filter, &page).await?;
    let details = result.items.iter().map(|r| profile_view(&state, r)).collect::<Result<Vec<_>, _>>()?;
    reply(&DescribeConnectorProfilesResponse {
        connector_profile_details: Some(details),
        next_token: result.next_cursor.map(|c| encode_token("DescribeConnectorProfiles", &c)),
    })
}

/// UpdateConnectorProfile. Omitted credentials keep the stored ones.
pub async fn update_connector_profile(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let mut checked = check::<UpdateConnectorProfileRequest>("UpdateConnectorProfile", body_json(&body)?);
    let existing = match &checked.request {
        Some(r) => state.store.get_profile(&r.connector_profile_name).await?,
        None => None,
    };
    if let (Some(r), Some(existing)) = (&checked.request, &existing) {
        match ConnectorType::from_wire(&existing.connector_type) {
            Some(t) => checked.problems.extend(check_connector_profile(
                t,
                r.connection_mode,
                &r.connector_profile_config,
                false,
            )),
            None => return Err(corrupt("connector type", &existing.connector_type)),
        }
    }
    if let (Some(r), None) = (&checked.request, &existing) {
        if checked.problems.is_empty() {
            return Err(profile_not_found(&r.connector_profile_name));
        }
    }
    let request = checked.finish()?;
    let mut record = existing.ok_or_else(|| profile_not_found(&request.connector_profile_name))?;
    let connector_type = ConnectorType::from_wire(&record.connector_type)
        .ok_or_else(|| corrupt("connector type", &record.connector_type))?;
    let config = &request.connector_profile_config;
    let given = config.connector_profile_credentials.clone();
    let stored = match &given {
        Some(_) => None,
        None => state.profiles().open_record(record.clone()).map_err(|e| corrupt("connector profile", e))?.credentials,
    };
    // The changed profile must connect too, with the new credentials or the stored ones.
    let checked_credentials = check_profile_connects(
        &state,
        connector_type,
        &config.connector_profile_properties,
        given.as_ref().or(stored.as_ref()),
    )
    .await?;
    let renewed = checked_credentials.filter(|c| given.is_some() || Some(c) != stored.as_ref());
    if let Some(credentials) = &renewed {
        record.sealed_credentials = Some(seal_credentials(&state, &record.arn, credentials)?);
        // New credentials end a "needs to be re-authorized" mark.
        record.auth_error = None;
    }
    record.connection_mode = request.connection_mode.as_str().to_string();
    record.properties = serde_json::to_value(&request.connector_profile_config.connector_profile_properties)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    record.updated_at_ms = now_ms().max(record.updated_at_ms + 1);
    state.store.update_profile(&record).await?;
    tracing::info!(profile = %record.name, "connector profile updated");
    reply(&UpdateConnectorProfileResponse { connector_profile_arn: Some(record.arn) })
}

/// DeleteConnectorProfile. Refused while flows use the profile unless
/// `forceDelete`.
pub async fn delete_connector_profile(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DeleteConnectorProfileRequest = parse("DeleteConnectorProfile", body_json(&body)?)?;
    state.store.delete_profile(&request.connector_profile_name, request.force_delete.unwrap_or(false)).await?;
    tracing::info!(profile = %request.connector_profile_name, "connector profile deleted");
    reply(&json!({}))
}

// ------------------------------------------------------------------- flows

fn load_stored(record: &FlowRecord) -> Result<StoredFlow, ApiError> {
    serde_json::from_value(record.definition.clone()).map_err(|e| corrupt("flow definition", e))
}

fn flow_status(record: &FlowRecord) -> Option<FlowStatus> {
    FlowStatus::from_wire(&record.status)
}

async fn last_run_details(state: &AppState, flow_name: &str) -> Result<Option<ExecutionDetails>, ApiError> {
    let latest = state.store.list_executions(flow_name, &sluice_store::PageRequest::first(1)).await?;
    let Some(row) = latest.items.first() else { return Ok(None) };
    let record: ExecutionRecord =
        serde_json::from_value(row.record.clone()).map_err(|e| corrupt("execution record", e))?;
    Ok(Some(ExecutionDetails {
        most_recent_execution_message: record
            .execution_result
            .as_ref()
            .and_then(|r| r.error_info.as_ref())
            .and_then(|e| e.execution_message.clone()),
        most_recent_execution_time: Some(EpochSeconds::from_millis(row.updated_at_ms)),
        most_recent_execution_status: record.execution_status,
    }))
}

async fn get_flow_record(state: &AppState, name: &str) -> Result<FlowRecord, ApiError> {
    state.store.get_flow(name).await?.ok_or_else(|| flow_not_found(name))
}

/// Semantic problems of a CreateFlow/UpdateFlow body: the connector rules
/// of the model crate plus the task rules of the transform crate (the same
/// checks a run applies), when every task parses.
fn flow_problems(body: &Value) -> sluice_model::ValidationProblems {
    let parts = FlowParts::from_request(body);
    let mut problems = check_flow(&parts);
    if let Some(tasks) = parts.tasks.iter().cloned().collect::<Option<Vec<Task>>>() {
        problems.extend(sluice_transform::check_tasks(&tasks));
    }
    problems
}

/// Profiles named by the flow must exist and be of the connector type the
/// flow uses them for.
async fn check_profile_types(state: &AppState, stored: &StoredFlow) -> Result<(), ApiError> {
    let mut uses: Vec<(&str, ConnectorType)> = Vec::new();
    if let Some(name) = &stored.source_flow_config.connector_profile_name {
        uses.push((name, stored.source_flow_config.connector_type));
    }
    for destination in &stored.destination_flow_config_list {
        if let Some(name) = &destination.connector_profile_name {
            uses.push((name, destination.connector_type));
        }
    }
    let mut problems = sluice_model::ValidationProblems::new();
    for (name, wanted) in uses {
        let profile = state.store.get_profile(name).await?.ok_or_else(|| profile_not_found(name))?;
        if profile.connector_type != wanted.as_str() {
            problems.push(format!(
                "connector profile '{name}' is a {} profile but is used for a {wanted} connector",
                profile.connector_type
            ));
        }
    }
    problems.into_result().map_err(ApiError::Validation)
}

/// CreateFlow.
pub async fn create_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let semantic = flow_problems(&body);
    let mut checked = check::<CreateFlowRequest>("CreateFlow", body);
    checked.problems.extend(semantic);
    let request = checked.finish()?;
    let caller = state.caller_arn();
    let stored = StoredFlow {
        version: 1,
        description: request.description,
        kms_arn: request.kms_arn,
        trigger_config: request.trigger_config,
        source_flow_config: request.source_flow_config,
        destination_flow_config_list: request.destination_flow_config_list,
        tasks: request.tasks,
        metadata_catalog_config: request.metadata_catalog_config,
        created_by: caller.clone(),
        last_updated_by: caller,
        flow_status_message: None,
    };
    check_profile_types(&state, &stored).await?;
    let status = match stored.trigger_config.trigger_type {
        TriggerType::OnDemand => FlowStatus::Active,
        TriggerType::Scheduled | TriggerType::Event => FlowStatus::Draft,
    };
    let arn = appflow_arn(AppflowResourceKind::Flow, &state.region, &state.account_id, &request.flow_name);
    let now = now_ms();
    let record = FlowRecord {
        name: request.flow_name.clone(),
        arn: arn.clone(),
        status: status.as_str().to_string(),
        profile_names: stored.profile_names(),
        definition: serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?,
        created_at_ms: now,
        updated_at_ms: now,
    };
    state.store.create_flow(&record).await?;
    if let Some(tags) = request.tags.filter(|t| !t.is_empty()) {
        state.store.put_tags(&arn, &tags).await?;
    }
    tracing::info!(flow = %record.name, status = %record.status, "flow created");
    reply(&CreateFlowResponse { flow_arn: Some(arn), flow_status: Some(status) })
}

/// DescribeFlow.
pub async fn describe_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeFlowRequest = parse("DescribeFlow", body_json(&body)?)?;
    let record = get_flow_record(&state, &request.flow_name).await?;
    let stored = load_stored(&record)?;
    let tags = state.store.get_tags(&record.arn).await?;
    reply(&DescribeFlowResponse {
        flow_arn: Some(record.arn.clone()),
        description: stored.description,
        flow_name: Some(record.name.clone()),
        kms_arn: stored.kms_arn,
        flow_status: flow_status(&record),
        flow_status_message: stored.flow_status_message,
        source_flow_config: Some(stored.source_flow_config),
        destination_flow_config_list: Some(stored.destination_flow_config_list),
        last_run_execution_details: last_run_details(&state, &record.name).await?,
        trigger_config: Some(stored.trigger_config),
        tasks: Some(stored.tasks),
        created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
        last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
        created_by: Some(stored.created_by),
        last_updated_by: Some(stored.last_updated_by),
        tags: Some(tags),
        metadata_catalog_config: stored.metadata_catalog_config,
        last_run_metadata_catalog_details: None,
        schema_version: Some(1),
    })
}

/// ListFlows.
pub async fn list_flows(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: ListFlowsRequest = parse("ListFlows", body_json(&body)?)?;
    let page = page_request("ListFlows", request.max_results, request.next_token.as_deref())?;
    let result = state.store.list_flows(&page).await?;
    let mut flows = Vec::with_capacity(result.items.len());
    for record in &result.items {
        let stored = load_stored(record)?;
        let destination = stored.destination_flow_config_list.first();
        flows.push(FlowDefinition {
            flow_arn: Some(record.arn.clone()),
            description: stored.description.clone(),
            flow_name: Some(record.name.clone()),
            flow_status: flow_status(record),
            source_connector_type: Some(stored.source_flow_config.connector_type),
            source_connector_label: None,
            destination_connector_type: destination.map(|d| d.connector_type),
            destination_connector_label: None,
            trigger_type: Some(stored.trigger_config.trigger_type),
            created_at: Some(EpochSeconds::from_millis(record.created_at_ms)),
            last_updated_at: Some(EpochSeconds::from_millis(record.updated_at_ms)),
            created_by: Some(stored.created_by.clone()),
            last_updated_by: Some(stored.last_updated_by.clone()),
            tags: Some(state.store.get_tags(&record.arn).await?),
            last_run_execution_details: last_run_details(&state, &record.name).await?,
        });
    }
    reply(&ListFlowsResponse {
        flows: Some(flows),
        next_token: result.next_cursor.map(|c| encode_token("ListFlows", &c)),
    })
}

/// UpdateFlow. A scheduled or event flow that was active goes back to
/// `Active` with the new definition; the trigger type may change.
pub async fn update_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let semantic = flow_problems(&body);
    let mut checked = check::<UpdateFlowRequest>("UpdateFlow", body);
    checked.problems.extend(semantic);
    let request = checked.finish()?;
    let mut record = get_flow_record(&state, &request.flow_name).await?;
    let previous = load_stored(&record)?;
    let stored = StoredFlow {
        version: 1,
        description: request.description,
        kms_arn: previous.kms_arn,
        trigger_config: request.trigger_config,
        source_flow_config: request.source_flow_config,
        destination_flow_config_list: request.destination_flow_config_list,
        tasks: request.tasks,
        metadata_catalog_config: request.metadata_catalog_config,
        created_by: previous.created_by,
        last_updated_by: state.caller_arn(),
        flow_status_message: None,
    };
    check_profile_types(&state, &stored).await?;
    let status = match (stored.trigger_config.trigger_type, flow_status(&record)) {
        (TriggerType::OnDemand, _) => FlowStatus::Active,
        (_, Some(FlowStatus::Active)) => FlowStatus::Active,
        (_, Some(FlowStatus::Suspended)) => FlowStatus::Suspended,
        _ => FlowStatus::Draft,
    };
    record.status = status.as_str().to_string();
    record.profile_names = stored.profile_names();
    record.definition = serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    record.updated_at_ms = now_ms().max(record.updated_at_ms + 1);
    state.store.update_flow(&record).await?;
    tracing::info!(flow = %record.name, status = %record.status, "flow updated");
    reply(&UpdateFlowResponse { flow_status: Some(status) })
}

/// DeleteFlow. Refused while a run is in progress unless `forceDelete`.
pub async fn delete_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DeleteFlowRequest = parse("DeleteFlow", body_json(&body)?)?;
    let record = get_flow_record(&state, &request.flow_name).await?;
    if !request.force_delete.unwrap_or(false) {
        let running = state.store.list_executions(&record.name, &sluice_store::PageRequest::first(50)).await?;
        if running.items.iter().any(|e| e.status == ExecutionStatus::InProgress.as_str()) {
            return Err(ApiError::Conflict(format!(
                "flow '{}' has a run in progress; wait for it, cancel it, or pass forceDelete",
                record.name
            )));
        }
    }
    state.store.delete_flow(&record.name).await?;
    tracing::info!(flow = %record.name, "flow deleted");
    reply(&json!({}))
}

// -------------------------------------------------------------- executions

/// StartFlow. Activates a scheduled or event flow; queues a run of an
/// on-demand flow for the engine's workers.
pub async fn start_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: StartFlowRequest = parse("StartFlow", body_json(&body)?)?;
    let mut record = get_flow_record(&state, &request.flow_name).await?;
    let stored = load_stored(&record)?;
    if stored.trigger_config.trigger_type != TriggerType::OnDemand {
        if flow_status(&record) == Some(FlowStatus::Active) {
            return Err(ApiError::Conflict(format!("flow '{}' is already active", record.name)));
        }
        record.status = FlowStatus::Active.as_str().to_string();
        record.updated_at_ms = now_ms().max(record.updated_at_ms + 1);
        state.store.update_flow(&record).await?;
        tracing::info!(flow = %record.name, "flow activated");
        return reply(&StartFlowResponse {
            flow_arn: Some(record.arn),
            flow_status: Some(FlowStatus::Active),
            execution_id: None,
        });
    }
    let execution_id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    state.store.insert_execution(&sluice_engine::new_execution(&execution_id, &record.name, now)).await?;
    state.store.enqueue_run(&execution_id, &record.name, now).await?;
    tracing::info!(flow = %record.name, %execution_id, "flow run queued");
    let status = flow_status(&record);
    reply(&StartFlowResponse { flow_arn: Some(record.arn), flow_status: status, execution_id: Some(execution_id) })
}

/// StopFlow. Deactivates a scheduled or event flow.
pub async fn stop_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: StopFlowRequest = parse("StopFlow", body_json(&body)?)?;
    let mut record = get_flow_record(&state, &request.flow_name).await?;
    let stored = load_stored(&record)?;
    if stored.trigger_config.trigger_type == TriggerType::OnDemand {
        return Err(ApiError::UnsupportedOperation(format!(
            "flow '{}' runs on demand; only scheduled and event-triggered flows can be stopped",
            record.name
        )));
    }
    if flow_status(&record) != Some(FlowStatus::Active) {
        return Err(ApiError::Conflict(format!("flow '{}' is not active (status {})", record.name, record.status)));
    }
    record.status = FlowStatus::Suspended.as_str().to_string();
    record.updated_at_ms = now_ms().max(record.updated_at_ms + 1);
    state.store.update_flow(&record).await?;
    tracing::info!(flow = %record.name, "flow suspended");
    reply(&StopFlowResponse { flow_arn: Some(record.arn), flow_status: Some(FlowStatus::Suspended) })
}

/// DescribeFlowExecutionRecords, most recent first.
pub async fn describe_flow_execution_records(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeFlowExecutionRecordsRequest = parse("DescribeFlowExecutionRecords", body_json(&body)?)?;
    let record = get_flow_record(&state, &request.flow_name).await?;
    let page = page_request("DescribeFlowExecutionRecords", request.max_results, request.next_token.as_deref())?;
    let result = state.store.list_executions(&record.name, &page).await?;
    let executions = result
        .items
        .iter()
        .map(|row| {
            serde_json::from_value::<ExecutionRecord>(row.record.clone()).map_err(|e| corrupt("execution record", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    reply(&DescribeFlowExecutionRecordsResponse {
        flow_executions: Some(executions),
        next_token: result.next_cursor.map(|c| encode_token("DescribeFlowExecutionRecords", &c)),
    })
}

/// CancelFlowExecutions. Ids that are unknown or not running come back in
/// `invalidExecutions`; without ids, every running execution is cancelled.
pub async fn cancel_flow_executions(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: CancelFlowExecutionsRequest = parse("CancelFlowExecutions", body_json(&body)?)?;
    let record = get_flow_record(&state, &request.flow_name).await?;
    let targets: Vec<ExecutionRow> = match &request.execution_ids {
        Some(ids) => {
            let mut rows = Vec::new();
            for id in ids {
                if let Some(row) = state.store.get_execution(&record.name, id).await? {
                    rows.push(row);
                }
            }
            rows
        }
        None => {
            let mut rows = Vec::new();
            let mut page = sluice_store::PageRequest::first(100);
            loop {
                let result = state.store.list_executions(&record.name, &page).await?;
                rows.extend(result.items);
                match result.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
            rows.retain(|r| r.status == ExecutionStatus::InProgress.as_str());
            rows
        }
    };
    let mut cancelled = Vec::new();
    for row in targets {
        if row.status != ExecutionStatus::InProgress.as_str() {
            continue;
        }
        sluice_engine::update_execution(&*state.store, &record.name, &row.execution_id, |execution| {
            execution.execution_status = Some(ExecutionStatus::CancelStarted);
        })
        .await?;
        // The worker running it sees the request and stops (status Canceled).
        state.store.request_cancel(&row.execution_id).await?;
        cancelled.push(row.execution_id);
    }
    let invalid: Vec<String> =
        request.execution_ids.unwrap_or_default().into_iter().filter(|id| !cancelled.contains(id)).collect();
    reply(&CancelFlowExecutionsResponse { invalid_executions: Some(invalid) })
}

/// Sluice extension `POST /preview-flow` `{"flowName", "limit"}`: the
/// records a run would deliver for the first `limit` source records (1 to
/// 2,000, default 10), with nothing written.
pub async fn preview_flow(State(state): State<AppState>, body: Bytes) -> ApiResult {
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
    let record = get_flow_record(&state, flow_name).await?;
    let pipeline = state
        .pipeline
        .as_ref()
        .ok_or_else(|| ApiError::UnsupportedOperation("this server has no pipeline to preview flows with".into()))?;
    let records =
        pipeline.preview(&record, limit as usize).await.map_err(|e| ApiError::ConnectorServer(e.to_string()))?;
    reply(&json!({"flowName": flow_name, "recordCount": records.len(), "records": records}))
}

// -------------------------------------------------------------- connectors

/// DescribeConnectors.
pub async fn describe_connectors(State(_state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeConnectorsRequest = parse("DescribeConnectors", body_json(&body)?)?;
    if request.next_token.is_some() {
        // Everything fits on one page; a token can only come from elsewhere.
        return Err(ApiError::validation("Invalid nextToken for DescribeConnectors"));
    }
    let wanted = request.connector_types.unwrap_or_default();
    let specs = SUPPORTED_CONNECTORS.iter().filter(|s| wanted.is_empty() || wanted.contains(&s.connector_type));
    let configurations: BTreeMap<ConnectorType, ConnectorConfiguration> =
        specs.clone().map(|s| (s.connector_type, s.configuration())).collect();
    reply(&DescribeConnectorsResponse {
        connector_configurations: Some(configurations),
        connectors: Some(specs.map(|s| s.detail()).collect()),
        next_token: None,
    })
}

/// DescribeConnector.
pub async fn describe_connector(State(_state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeConnectorRequest = parse("DescribeConnector", body_json(&body)?)?;
    let spec = connector_spec(request.connector_type).ok_or_else(|| {
        ApiError::ResourceNotFound(format!(
            "connector type '{}' is not available in Sluice; available: {}",
            request.connector_type,
            sluice_model::appflow::catalog::supported_names()
        ))
    })?;
    reply(&DescribeConnectorResponse { connector_configuration: Some(spec.configuration()) })
}

/// ListConnectors.
pub async fn list_connectors(State(_state): State<AppState>, body: Bytes) -> ApiResult {
    let request: ListConnectorsRequest = parse("ListConnectors", body_json(&body)?)?;
    if request.next_token.is_some() {
        return Err(ApiError::validation("Invalid nextToken for ListConnectors"));
    }
    reply(&ListConnectorsResponse {
        connectors: Some(SUPPORTED_CONNECTORS.iter().map(|s| s.detail()).collect()),
        next_token: None,
    })
}

/// The live connector and the opened profile (renewed credentials saved).
async fn profile_connector(
    state: &AppState,
    profile_name: Option<&str>,
    connector_type: Option<ConnectorType>,
) -> Result<(Box<dyn sluice_connectors::DynConnector>, sluice_engine::profiles::OpenedProfile), ApiError> {
    let name =
        profile_name.ok_or_else(|| ApiError::validation("connectorProfileName is required for this connector"))?;
    let record = state.store.get_profile(name).await?.ok_or_else(|| profile_not_found(name))?;
    let profile_type = ConnectorType::from_wire(&record.connector_type)
        .ok_or_else(|| corrupt("connector type", &record.connector_type))?;
    if let Some(wanted) = connector_type.filter(|t| *t != profile_type) {
        return Err(ApiError::validation(format!(
            "connector profile '{name}' is a {profile_type} profile, not {wanted}"
        )));
    }
    let connector = sluice_connectors::connector_for(&state.connector_settings, profile_type).ok_or_else(|| {
        ApiError::UnsupportedOperation(format!("the {profile_type} connector cannot browse entities in this build"))
    })?;
    let opened = state.profiles().open_record(record).map_err(|e| {
        tracing::error!(profile = %name, error = %e, "cannot open the connector profile");
        ApiError::Internal("the profile's credentials cannot be opened; see the server log".into())
    })?;
    Ok((connector, opened))
}

/// ListConnectorEntities: the objects of the profile's app, live.
pub async fn list_connector_entities(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: ListConnectorEntitiesRequest = parse("ListConnectorEntities", body_json(&body)?)?;
    if request.next_token.is_some() {
        return Err(ApiError::validation("Invalid nextToken for ListConnectorEntities"));
    }
    let (connector, profile) =
        profile_connector(&state, request.connector_profile_name.as_deref(), request.connector_type).await?;
    let entities = connector.list_entities(profile.input()).await?;
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
pub async fn describe_connector_entity(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let request: DescribeConnectorEntityRequest = parse("DescribeConnectorEntity", body_json(&body)?)?;
    let (connector, profile) =
        profile_connector(&state, request.connector_profile_name.as_deref(), request.connector_type).await?;
    let fields = connector.describe_entity(profile.input(), &request.connector_entity_name).await?;
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

/// Resolves a tagged resource's ARN, checking that the resource exists.
async fn tagged_resource(state: &AppState, raw_arn: &str) -> Result<String, ApiError> {
    let arn = percent_encoding::percent_decode_str(raw_arn).decode_utf8_lossy().into_owned();
    let parsed = parse_appflow_arn(&arn)
        .ok_or_else(|| ApiError::validation(format!("'{arn}' is not an AppFlow flow or connector profile ARN")))?;
    let missing = || ApiError::ResourceNotFound(format!("resource '{arn}' does not exist"));
    if parsed.region != state.region || parsed.account_id != state.account_id {
        return Err(missing());
    }
    let exists = match parsed.kind {
        AppflowResourceKind::Flow => state.store.get_flow(&parsed.name).await?.is_some_and(|f| f.arn == arn),
        AppflowResourceKind::ConnectorProfile => {
            state.store.get_profile(&parsed.name).await?.is_some_and(|p| p.arn == arn)
        }
    };
    if !exists {
        return Err(missing());
    }
    Ok(arn)
}

/// ListTagsForResource (`GET /tags/{resourceArn}`).
pub async fn list_tags_for_resource(State(state): State<AppState>, Path(raw_arn): Path<String>) -> ApiResult {
    let input = json!({ "resourceArn": percent_encoding::percent_decode_str(&raw_arn).decode_utf8_lossy() });
    let _: ListTagsForResourceRequest = parse("ListTagsForResource", input)?;
    let arn = tagged_resource(&state, &raw_arn).await?;
    reply(&ListTagsForResourceResponse { tags: Some(state.store.get_tags(&arn).await?) })
}

/// TagResource (`POST /tags/{resourceArn}`).
pub async fn tag_resource(State(state): State<AppState>, Path(raw_arn): Path<String>, body: Bytes) -> ApiResult {
    let mut input = body_json(&body)?;
    input["resourceArn"] =
        Value::String(percent_encoding::percent_decode_str(&raw_arn).decode_utf8_lossy().into_owned());
    let request: TagResourceRequest = parse("TagResource", input)?;
    let arn = tagged_resource(&state, &raw_arn).await?;
    let mut merged = state.store.get_tags(&arn).await?;
    merged.extend(request.tags.clone());
    if merged.len() > 50 {
        return Err(ApiError::validation(format!(
            "a resource can have at most 50 tags; this request would leave {}",
            merged.len()
        )));
    }
    state.store.put_tags(&arn, &request.tags).await?;
    reply(&json!({}))
}

/// UntagResource (`DELETE /tags/{resourceArn}?tagKeys=...`).
pub async fn untag_resource(
    State(state): State<AppState>,
    Path(raw_arn): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let keys: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "tagKeys")
        .map(|(_, v)| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
        .collect();
    let input = json!({
        "resourceArn": percent_encoding::percent_decode_str(&raw_arn).decode_utf8_lossy(),
        "tagKeys": keys,
    });
    let request: UntagResourceRequest = parse("UntagResource", input)?;
    let arn = tagged_resource(&state, &raw_arn).await?;
    state.store.remove_tags(&arn, &request.tag_keys).await?;
    reply(&json!({}))
}
