//! AppFlow on the event bus: every run's reports become events on the
//! account's default bus (source `aws.appflow`, detail-types "AppFlow Start
//! Flow Run Report", "AppFlow End Flow Run Report", "AppFlow Scheduled Flow
//! Deactivated"), and a rule's target can start a flow ([`FlowTargets`]).
//! Like AppFlow's, run report delivery is best effort: a report is
//! published after the run's record is final, and a crash in between loses
//! that report (never the run's record).

use serde_json::{json, Map, Value};
use sluice_bus::{EventBusService, FlowStarter, NewEvent, TargetError};
use sluice_engine::reports::{RunReport, RunReportKind, RunReports};
use sluice_model::appflow::flow::FlowSpec;
use sluice_model::appflow::ExecutionStatus;

use super::AppflowService;
use crate::ServiceError;

/// Publishes run reports on the default bus of each flow's account.
pub struct RunEvents {
    bus: EventBusService,
}

impl RunEvents {
    /// Reports of every account's flows go to that account's default bus
    /// on `bus` (the account is the one in the flow's ARN).
    pub fn new(bus: EventBusService) -> Self {
        Self { bus }
    }
}

/// The account in an AppFlow ARN (`arn:aws:appflow:REGION:ACCOUNT:flow/NAME`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| sluice_model::arn::is_account_id(a))
}

/// `2026-12-03T10:15:30.123Z`.
fn iso_time(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).unwrap_or_default()
}

/// The detail of a report's event, with AppFlow's field names.
pub fn report_detail(report: &RunReport) -> Value {
    let spec = FlowSpec::from_document(&report.flow.definition).ok();
    let mut detail = Map::new();
    detail.insert("flow-name".into(), json!(report.flow.name));
    detail.insert("flow-arn".into(), json!(report.flow.arn));
    if let Some(spec) = &spec {
        let source = &spec.source_flow_config;
        detail.insert("created-by".into(), json!(spec.created_by));
        detail.insert("source".into(), json!(source.connector_type.as_str()));
        if let Some(object) = spec.source_object() {
            detail.insert("source-object".into(), json!(object));
        }
        if let Some(destination) = spec.destination_flow_config_list.first() {
            detail.insert("destination".into(), json!(destination.connector_type.as_str()));
            if let Some(object) = spec.destination_object() {
                detail.insert("destination-object".into(), json!(object));
            }
        }
        detail.insert("trigger-type".into(), json!(spec.trigger_config.trigger_type.as_str()));
    }
    detail.insert("execution-id".into(), json!(report.execution_id));
    detail.insert("start-time".into(), json!(iso_time(report.started_at_ms)));
    match report.kind {
        RunReportKind::Started => {}
        RunReportKind::Ended => {
            let status = match report.status {
                Some(ExecutionStatus::Successful) => "Execution Successful",
                Some(ExecutionStatus::Canceled) => "Execution Canceled",
                _ => "Execution Failed",
            };
            detail.insert("status".into(), json!(status));
            if let Some(end) = report.ended_at_ms {
                detail.insert("end-time".into(), json!(iso_time(end)));
            }
            detail.insert("num-of-records-processed".into(), json!(report.records_processed.to_string()));
            detail.insert("num-of-records-filtered".into(), json!("0"));
            detail.insert("num-of-record-failures".into(), json!(report.records_refused.to_string()));
            detail.insert("total-bytes-processed".into(), json!(report.bytes_processed.to_string()));
            detail.insert("total-bytes-written".into(), json!(report.bytes_written.to_string()));
            if let Some(message) = &report.error_message {
                detail.insert("error-message".into(), json!(message));
            }
        }
        RunReportKind::ScheduledFlowDeactivated => {
            detail.insert("status".into(), json!("Deactivated"));
            if let Some(reason) = &report.deactivation_reason {
                detail.insert("deactivation-reason".into(), json!(reason));
            }
            if let Some(message) = &report.error_message {
                detail.insert("error-message".into(), json!(message));
            }
        }
    }
    Value::Object(detail)
}

#[async_trait::async_trait]
impl RunReports for RunEvents {
    async fn report(&self, report: RunReport) {
        let detail_type = match report.kind {
            RunReportKind::Started => "AppFlow Start Flow Run Report",
            RunReportKind::Ended => "AppFlow End Flow Run Report",
            RunReportKind::ScheduledFlowDeactivated => "AppFlow Scheduled Flow Deactivated",
        };
        let event = NewEvent {
            source: "aws.appflow".into(),
            detail_type: detail_type.into(),
            detail: report_detail(&report),
            resources: vec![report.flow.arn.clone()],
            time_ms: None,
        };
        let Some(account_id) = arn_account(&report.flow.arn) else {
            tracing::warn!(flow = %report.flow.name, arn = %report.flow.arn, "run report not published: the flow's ARN names no account");
            return;
        };
        if let Err(error) = self.bus.publish(account_id, None, vec![event]).await {
            tracing::warn!(%error, flow = %report.flow.name, execution_id = %report.execution_id, detail_type, "run report not published");
        }
    }
}

/// Starts flows for event-bus rules whose target is a flow ARN (of the
/// rule's own account: the bus checks that).
pub struct FlowTargets {
    appflow: AppflowService,
}

impl FlowTargets {
    /// Flow targets of every account of `appflow`.
    pub fn new(appflow: AppflowService) -> Self {
        Self { appflow }
    }
}

#[async_trait::async_trait]
impl FlowStarter for FlowTargets {
    async fn start_flow(&self, account_id: &str, flow_name: &str) -> Result<String, TargetError> {
        match self.appflow.for_account(account_id).start_flow(flow_name).await {
            Ok(started) => Ok(started.execution_id.unwrap_or_default()),
            Err(error) => {
                let (code, retryable) = match &error {
                    ServiceError::NotFound(_) => ("RESOURCE_NOT_FOUND", false),
                    ServiceError::Validation(_) | ServiceError::UnsupportedOperation(_) => ("INVALID_PARAMETER", false),
                    ServiceError::Conflict(_) => ("THROTTLING", true),
                    _ => ("INTERNAL_ERROR", true),
                };
                Err(TargetError::new(code, error.to_string(), retryable))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_with_milliseconds() {
        assert_eq!(iso_time(1_764_756_930_123), "2025-12-03T10:15:30.123Z");
    }
}
