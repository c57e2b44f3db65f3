//! Runs: StartFlow (an on-demand flow's run is recorded and queued in one
//! transaction; a triggered flow is activated), StopFlow, execution
//! records, cancellation, previews.

use serde_json::{Map, Value};
use sluice_model::appflow::{ExecutionStatus, FlowStatus};
use sluice_store::{ExecutionRow, Page, PageRequest};

use super::status::{self, Start};
use super::{later_than, AppflowService};
use crate::ServiceError;

/// What StartFlow did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The flow's ARN.
    pub flow_arn: String,
    /// Its status now.
    pub flow_status: Option<FlowStatus>,
    /// The queued run of an on-demand flow.
    pub execution_id: Option<String>,
}

impl AppflowService {
    /// StartFlow: queues a run of an on-demand flow for the engine's
    /// workers (its execution record and its queue row are written in one
    /// transaction), or activates a scheduled or event flow.
    pub async fn start_flow(&self, name: &str) -> Result<Started, ServiceError> {
        let flow = self.flow(name).await?;
        match status::start(name, flow.spec.trigger_config.trigger_type, flow.status())? {
            Start::Activate => {
                self.check_partner_bus(&flow.spec).await?;
                let mut record = flow.record;
                let mut spec = flow.spec;
                // An errored flow starts afresh.
                spec.flow_status_message = None;
                record.definition = spec.to_document();
                record.status = FlowStatus::Active.as_str().to_string();
                record.updated_at_ms = later_than(record.updated_at_ms);
                self.store.update_flow(&record).await?;
                self.arm_trigger(&record, &spec, true).await?;
                tracing::info!(flow = %record.name, "flow activated");
                Ok(Started { flow_arn: record.arn, flow_status: Some(FlowStatus::Active), execution_id: None })
            }
            Start::Run => {
                let execution_id = uuid::Uuid::new_v4().to_string();
                let now = sluice_engine::now_ms();
                self.store.start_run(&sluice_engine::new_execution(&execution_id, name, now), None).await?;
                tracing::info!(flow = %name, %execution_id, "flow run queued");
                Ok(Started {
                    flow_status: FlowStatus::from_wire(&flow.record.status),
                    flow_arn: flow.record.arn,
                    execution_id: Some(execution_id),
                })
            }
        }
    }

    /// StopFlow: suspends an active scheduled or event flow. Returns the
    /// ARN and the new status.
    pub async fn stop_flow(&self, name: &str) -> Result<(String, FlowStatus), ServiceError> {
        let flow = self.flow(name).await?;
        let new_status = status::stop(name, flow.spec.trigger_config.trigger_type, flow.status())?;
        let mut record = flow.record;
        record.status = new_status.as_str().to_string();
        record.updated_at_ms = later_than(record.updated_at_ms);
        self.store.update_flow(&record).await?;
        self.arm_trigger(&record, &flow.spec, false).await?;
        tracing::info!(flow = %record.name, "flow suspended");
        Ok((record.arn, new_status))
    }

    /// Sets when an active scheduled flow next runs: its first occurrence
    /// from now, so a rate's first run goes now (or at its
    /// `scheduleStartTime`); `reset_failures` zeroes its failed runs in a
    /// row. An event flow is marked as wanting a listener while active.
    pub(crate) async fn arm_trigger(
        &self,
        record: &sluice_store::FlowRecord,
        spec: &sluice_model::appflow::flow::FlowSpec,
        reset_failures: bool,
    ) -> Result<(), ServiceError> {
        let now = sluice_engine::now_ms();
        let active = FlowStatus::from_wire(&record.status) == Some(FlowStatus::Active);
        if spec.trigger_config.trigger_type == sluice_model::appflow::TriggerType::Event {
            // An event flow's listener subscribes from its last committed
            // event, or (first activation) from now.
            if active || self.store.get_trigger(&record.name).await?.is_some() {
                let initial = sluice_engine::listener::initial_event_state(now);
                self.store.set_listening(&record.name, active, Some(&initial), now).await?;
            }
            return Ok(());
        }
        let next = match FlowStatus::from_wire(&record.status) {
            Some(FlowStatus::Active) => sluice_engine::trigger::next_occurrence(spec, now, now),
            _ => None,
        };
        if next.is_some() || self.store.get_trigger(&record.name).await?.is_some() {
            self.store.schedule_trigger(&record.name, next, reset_failures, now).await?;
        }
        Ok(())
    }

    /// Sluice's backfill: one run of a flow over `[start_ms, end_ms)` (a
    /// datetime-window source reads only that window) that does not move the
    /// flow's incremental position. Returns the execution id.
    pub async fn backfill_flow(&self, name: &str, start_ms: i64, end_ms: i64) -> Result<String, ServiceError> {
        let flow = self.flow(name).await?;
        let now = sluice_engine::now_ms();
        let mut problems = sluice_model::ValidationProblems::new();
        if start_ms >= end_ms {
            problems.push("a backfill window must start before it ends");
        }
        if end_ms > now {
            problems.push("a backfill window must end in the past");
        }
        if flow.spec.trigger_config.trigger_type != sluice_model::appflow::TriggerType::Scheduled {
            let trigger = flow.spec.trigger_config.trigger_type.as_str();
            problems.push(format!("flow '{name}' has trigger type {trigger}; backfills are for scheduled flows"));
        }
        problems.into_result().map_err(ServiceError::Validation)?;
        let execution_id = uuid::Uuid::new_v4().to_string();
        let request = sluice_engine::trigger::RunRequest::Backfill { start_ms, end_ms }.to_value();
        self.store.start_run(&sluice_engine::new_execution(&execution_id, name, now), Some(&request)).await?;
        tracing::info!(flow = %name, %execution_id, start_ms, end_ms, "backfill run queued");
        Ok(execution_id)
    }

    /// A flow's execution records, most recent first, one page.
    pub async fn executions(&self, flow_name: &str, page: &PageRequest) -> Result<Page<ExecutionRow>, ServiceError> {
        let flow = self.flow(flow_name).await?;
        Ok(self.store.list_executions(&flow.record.name, page).await?)
    }

    /// CancelFlowExecutions: asks the workers running the given runs (all
    /// running ones when `ids` is `None`) to stop. Returns the ids that are
    /// unknown or not running.
    pub async fn cancel_executions(
        &self,
        flow_name: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<String>, ServiceError> {
        let flow = self.flow(flow_name).await?;
        let name = flow.record.name;
        let targets: Vec<ExecutionRow> = match &ids {
            Some(ids) => {
                let mut rows = Vec::new();
                for id in ids {
                    if let Some(row) = self.store.get_execution(&name, id).await? {
                        rows.push(row);
                    }
                }
                rows
            }
            None => {
                let mut rows = Vec::new();
                let mut page = PageRequest::first(100);
                loop {
                    let result = self.store.list_executions(&name, &page).await?;
                    rows.extend(result.items);
                    match result.next_cursor {
                        Some(cursor) => page.cursor = Some(cursor),
                        None => break,
                    }
                }
                rows
            }
        };
        let mut cancelled = Vec::new();
        for row in targets {
            if row.status != ExecutionStatus::InProgress.as_str() {
                continue;
            }
            sluice_engine::update_execution(&*self.store, &name, &row.execution_id, |execution| {
                execution.execution_status = Some(ExecutionStatus::CancelStarted);
            })
            .await?;
            // The worker running it sees the request and stops (status Canceled).
            self.store.request_cancel(&row.execution_id).await?;
            cancelled.push(row.execution_id);
        }
        Ok(ids.unwrap_or_default().into_iter().filter(|id| !cancelled.contains(id)).collect())
    }

    /// The records a run of the flow would deliver for its first `limit`
    /// source records (1 to 2,000), with nothing written.
    pub async fn preview(&self, flow_name: &str, limit: usize) -> Result<Vec<Map<String, Value>>, ServiceError> {
        let flow = self.flow(flow_name).await?;
        let pipeline = self.pipeline.as_ref().ok_or_else(|| {
            ServiceError::UnsupportedOperation("this server has no pipeline to preview flows with".into())
        })?;
        pipeline
            .preview(&self.account_id, &flow.record, limit.clamp(1, 2000))
            .await
            .map_err(|e| ServiceError::ConnectorServer(e.to_string()))
    }
}
