//! Flow definitions: validated against the connector catalog (only pairs
//! that can run are accepted) and the task rules a run applies, with the
//! profiles they name checked, and stored as [`FlowSpec`] documents.

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_model::appflow::checks::{check_flow, FlowParts};
use sluice_model::appflow::flow::FlowSpec;
use sluice_model::appflow::{
    ConnectorType, CreateFlowRequest, ExecutionDetails, ExecutionRecord, ExecutionStatus, FlowStatus, Task,
    UpdateFlowRequest,
};
use sluice_model::arn::{appflow_arn, AppflowResourceKind};
use sluice_model::wire::EpochSeconds;
use sluice_model::ValidationProblems;
use sluice_store::{FlowRecord, Page, PageRequest};

use super::{later_than, status, AppflowService};
use crate::ServiceError;

/// A stored flow with its definition parsed.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The stored record (name, ARN, status, times).
    pub record: FlowRecord,
    /// Its definition.
    pub spec: FlowSpec,
}

impl Flow {
    /// The flow's status.
    pub fn status(&self) -> Option<FlowStatus> {
        FlowStatus::from_wire(&self.record.status)
    }
}

fn flow_not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("flow '{name}' does not exist"))
}

impl AppflowService {
    /// The rules of a CreateFlow / UpdateFlow body the botocore model
    /// cannot express: the connector rules (supported types, the pair can
    /// run, union members, profiles, triggers, write operations) and, when
    /// every task parses, the task rules a run applies. Each part is parsed
    /// on its own, so a malformed part hides nothing else.
    pub fn flow_problems(&self, body: &Value) -> ValidationProblems {
        let parts = FlowParts::from_request(body);
        let mut problems = check_flow(self.catalog(), &parts);
        if let Some(tasks) = parts.tasks.iter().cloned().collect::<Option<Vec<Task>>>() {
            problems.extend(sluice_transform::check_tasks(&tasks));
        }
        problems
    }

    /// Profiles named by the flow must exist and be of the connector type
    /// the flow uses them for.
    async fn check_profile_types(&self, spec: &FlowSpec) -> Result<(), ServiceError> {
        let mut uses: Vec<(&str, ConnectorType)> = Vec::new();
        if let Some(name) = &spec.source_flow_config.connector_profile_name {
            uses.push((name, spec.source_flow_config.connector_type));
        }
        for destination in &spec.destination_flow_config_list {
            if let Some(name) = &destination.connector_profile_name {
                uses.push((name, destination.connector_type));
            }
        }
        let mut problems = ValidationProblems::new();
        for (name, wanted) in uses {
            let profile = self
                .store
                .get_profile(name)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("connector profile '{name}' does not exist")))?;
            if profile.connector_type != wanted.as_str() {
                problems.push(format!(
                    "connector profile '{name}' is a {} profile but is used for a {wanted} connector",
                    profile.connector_type
                ));
            }
        }
        problems.into_result().map_err(ServiceError::Validation)
    }

    /// CreateFlow by `caller` (an ARN). Returns the ARN and the status.
    pub async fn create_flow(
        &self,
        request: CreateFlowRequest,
        caller: &str,
    ) -> Result<(String, FlowStatus), ServiceError> {
        let spec = FlowSpec {
            version: 1,
            description: request.description,
            kms_arn: request.kms_arn,
            trigger_config: request.trigger_config,
            source_flow_config: request.source_flow_config,
            destination_flow_config_list: request.destination_flow_config_list,
            tasks: request.tasks,
            metadata_catalog_config: request.metadata_catalog_config,
            created_by: caller.to_string(),
            last_updated_by: caller.to_string(),
            flow_status_message: None,
        };
        self.check_profile_types(&spec).await?;
        self.ensure_partner_source(&spec).await?;
        let status = status::initial(spec.trigger_config.trigger_type);
        let arn = appflow_arn(AppflowResourceKind::Flow, &self.region, &self.account_id, &request.flow_name);
        let now = sluice_engine::now_ms();
        let record = FlowRecord {
            name: request.flow_name.clone(),
            arn: arn.clone(),
            status: status.as_str().to_string(),
            profile_names: spec.profile_names(),
            definition: spec.to_document(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store.create_flow(&record).await?;
        if let Some(tags) = request.tags.filter(|t| !t.is_empty()) {
            self.store.put_tags(&arn, &tags).await?;
        }
        tracing::info!(flow = %record.name, status = %record.status, "flow created");
        Ok((arn, status))
    }

    /// The flow called `name`.
    pub async fn flow(&self, name: &str) -> Result<Flow, ServiceError> {
        let record = self.store.get_flow(name).await?.ok_or_else(|| flow_not_found(name))?;
        flow_of(record)
    }

    /// Flows in name order, one page.
    pub async fn list_flows(&self, page: &PageRequest) -> Result<Page<Flow>, ServiceError> {
        let result = self.store.list_flows(page).await?;
        let items = result.items.into_iter().map(flow_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: result.next_cursor })
    }

    /// What the flow's most recent run did (DescribeFlow / ListFlows).
    pub async fn last_run(&self, flow_name: &str) -> Result<Option<ExecutionDetails>, ServiceError> {
        let latest = self.store.list_executions(flow_name, &PageRequest::first(1)).await?;
        let Some(row) = latest.items.first() else { return Ok(None) };
        let record: ExecutionRecord =
            serde_json::from_value(row.record.clone()).map_err(|e| ServiceError::corrupt("execution record", e))?;
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

    /// The tags of a resource.
    pub async fn resource_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ServiceError> {
        Ok(self.store.get_tags(arn).await?)
    }

    /// UpdateFlow by `caller`: the new definition, and the status the
    /// state machine gives it. Returns the status.
    pub async fn update_flow(&self, request: UpdateFlowRequest, caller: &str) -> Result<FlowStatus, ServiceError> {
        let current = self.flow(&request.flow_name).await?;
        let spec = FlowSpec {
            version: 1,
            description: request.description,
            kms_arn: current.spec.kms_arn.clone(),
            trigger_config: request.trigger_config,
            source_flow_config: request.source_flow_config,
            destination_flow_config_list: request.destination_flow_config_list,
            tasks: request.tasks,
            metadata_catalog_config: request.metadata_catalog_config,
            created_by: current.spec.created_by.clone(),
            last_updated_by: caller.to_string(),
            flow_status_message: None,
        };
        self.check_profile_types(&spec).await?;
        self.ensure_partner_source(&spec).await?;
        let status = status::after_update(spec.trigger_config.trigger_type, current.status());
        // An active flow whose trigger is unchanged keeps its next occurrence.
        let rearm = spec.trigger_config != current.spec.trigger_config || Some(status) != current.status();
        let mut record = current.record;
        record.status = status.as_str().to_string();
        record.profile_names = spec.profile_names();
        record.definition = spec.to_document();
        record.updated_at_ms = later_than(record.updated_at_ms);
        self.store.update_flow(&record).await?;
        if rearm {
            self.arm_trigger(&record, &spec, false).await?;
        }
        tracing::info!(flow = %record.name, status = %record.status, "flow updated");
        Ok(status)
    }

    /// DeleteFlow: refused while a run is in progress unless `force`.
    pub async fn delete_flow(&self, name: &str, force: bool) -> Result<(), ServiceError> {
        let flow = self.flow(name).await?;
        if !force {
            let recent = self.store.list_executions(name, &PageRequest::first(50)).await?;
            if recent.items.iter().any(|e| e.status == ExecutionStatus::InProgress.as_str()) {
                return Err(ServiceError::Conflict(format!(
                    "flow '{name}' has a run in progress; wait for it, cancel it, or pass forceDelete"
                )));
            }
        }
        self.store.delete_flow(&flow.record.name).await?;
        tracing::info!(flow = %name, "flow deleted");
        Ok(())
    }
}

/// A stored flow, parsed.
pub(crate) fn flow_of(record: FlowRecord) -> Result<Flow, ServiceError> {
    let spec = FlowSpec::from_document(&record.definition).map_err(|e| ServiceError::corrupt("flow definition", e))?;
    Ok(Flow { record, spec })
}
