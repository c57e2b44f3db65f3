//! What a triggered run reads and what its outcome moves: the request a
//! run was queued with (a scheduled occurrence, a backfill window), the
//! plan the worker makes of it (the incremental window `[watermark,
//! now - settle lag)` and the source's previous state), and after the run
//! the trigger state (the watermark and source state move only after a
//! success; failures in a row deactivate a flow at its threshold).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_connectors::plane::DatetimeWindow;
use sluice_model::appflow::flow::FlowSpec;
use sluice_model::appflow::{DataPullMode, FlowStatus, ScheduledTriggerProperties, TriggerType};
use sluice_model::schedule::{parse_schedule_expression, Schedule};
use sluice_store::{FlowRecord, MetadataStore};
use time::OffsetDateTime;

use crate::EngineError;

/// How far back the first incremental run of a flow without
/// `firstExecutionFrom` reads: AppFlow pulls the past 30 days.
pub const FIRST_PULL_DAYS: i64 = 30;

/// What a queued run is for (kept with the queue row as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum RunRequest {
    /// The scheduled occurrence due at `fireMs`.
    Scheduled {
        /// When the occurrence was due (ms).
        #[serde(rename = "fireMs")]
        fire_ms: i64,
    },
    /// Events an event trigger collected; `checkpoint` (the last event's)
    /// becomes the flow's position once the run committed.
    Events {
        /// The events, as the subscription delivered them.
        events: Vec<Value>,
        /// Where the subscription continues after them.
        checkpoint: Value,
    },
    /// A one-off read of `[startMs, endMs)` that does not move the watermark.
    Backfill {
        /// Inclusive start (ms).
        #[serde(rename = "startMs")]
        start_ms: i64,
        /// Exclusive end (ms).
        #[serde(rename = "endMs")]
        end_ms: i64,
    },
}

impl RunRequest {
    /// The JSON kept in the queue.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What a run reads, decided when a worker starts it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPlan {
    /// Only records in this window (datetime-window sources).
    pub window: Option<DatetimeWindow>,
    /// The source state the last committed incremental run ended with.
    pub previous_state: Option<Value>,
    /// An incremental or backfill read: when it finds nothing, nothing is
    /// written (no empty file).
    pub partial: bool,
    /// A success moves the flow's watermark and source state.
    pub moves_position: bool,
    /// The schedule fired it: its outcome counts toward deactivation.
    pub scheduled: bool,
    /// The events of an event-triggered run.
    pub events: Option<Vec<Value>>,
    /// The position an event-triggered run moves the flow to.
    pub event_checkpoint: Option<Value>,
}

fn datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn scheduled_properties(spec: &FlowSpec) -> Option<&ScheduledTriggerProperties> {
    spec.trigger_config.trigger_properties.as_ref().and_then(|p| p.scheduled.as_ref())
}

/// The plan of a run of `flow` queued with `request`, at `now_ms`, with
/// windows ending `settle_lag_ms` before now (whole seconds: records written
/// late within the lag are read by the next window, and ties on the
/// boundary fall on one side only).
pub async fn plan_run(
    store: &dyn MetadataStore,
    flow: &FlowRecord,
    request: Option<&Value>,
    now_ms: i64,
    settle_lag_ms: i64,
) -> Result<RunPlan, EngineError> {
    let Some(request) = request else { return Ok(RunPlan::default()) };
    let request: RunRequest = serde_json::from_value(request.clone())
        .map_err(|e| EngineError::Corrupt("queued run request", e.to_string()))?;
    let spec = FlowSpec::from_document(&flow.definition).map_err(|e| EngineError::Corrupt("flow definition", e))?;
    let field =
        spec.source_flow_config.incremental_pull_config.as_ref().and_then(|c| c.datetime_type_field_name.clone());
    match request {
        RunRequest::Backfill { start_ms, end_ms } => Ok(RunPlan {
            window: Some(DatetimeWindow { field, start: Some(datetime(start_ms)), end: datetime(end_ms) }),
            previous_state: None,
            partial: true,
            moves_position: false,
            ..RunPlan::default()
        }),
        RunRequest::Events { events, checkpoint } => Ok(RunPlan {
            events: Some(events),
            event_checkpoint: Some(checkpoint),
            moves_position: true,
            ..RunPlan::default()
        }),
        RunRequest::Scheduled { .. } => {
            let properties = scheduled_properties(&spec);
            let incremental = properties.and_then(|p| p.data_pull_mode) == Some(DataPullMode::Incremental);
            if !incremental {
                return Ok(RunPlan { scheduled: true, ..RunPlan::default() });
            }
            let trigger = store.get_trigger(&flow.name).await?;
            let start_ms = trigger
                .as_ref()
                .and_then(|t| t.watermark_ms)
                .or_else(|| properties.and_then(|p| p.first_execution_from).map(|t| t.as_millis()))
                .unwrap_or(now_ms - FIRST_PULL_DAYS * 86_400_000);
            let end_ms = ((now_ms - settle_lag_ms) / 1000 * 1000).max(start_ms);
            Ok(RunPlan {
                window: Some(DatetimeWindow { field, start: Some(datetime(start_ms)), end: datetime(end_ms) }),
                previous_state: trigger.and_then(|t| t.source_state),
                partial: true,
                moves_position: true,
                scheduled: true,
                ..RunPlan::default()
            })
        }
    }
}

/// Records a triggered run's outcome: a success moves the position (the
/// window's end, the source's checkpoint); a failure counts toward the
/// flow's `flowErrorDeactivationThreshold`, and reaching it deactivates the
/// flow (status `Errored`, no further occurrence). Returns whether the flow
/// was deactivated.
pub async fn record_outcome(
    store: &dyn MetadataStore,
    flow: &FlowRecord,
    plan: &RunPlan,
    succeeded: bool,
    checkpoint: Option<&Value>,
    now_ms: i64,
) -> Result<bool, EngineError> {
    if !plan.moves_position && !plan.scheduled {
        return Ok(false);
    }
    let watermark = if plan.moves_position && succeeded {
        plan.window.as_ref().map(|w| (w.end.unix_timestamp_nanos() / 1_000_000) as i64)
    } else {
        None
    };
    let checkpoint = match (plan.moves_position && succeeded, &plan.event_checkpoint) {
        (false, _) => None,
        (true, Some(events)) => Some(events),
        (true, None) => checkpoint,
    };
    let failures = store.record_trigger_outcome(&flow.name, succeeded, watermark, checkpoint, now_ms).await?;
    if succeeded || !plan.scheduled {
        return Ok(false);
    }
    let Some(mut current) = store.get_flow(&flow.name).await? else { return Ok(false) };
    let mut spec =
        FlowSpec::from_document(&current.definition).map_err(|e| EngineError::Corrupt("flow definition", e))?;
    let threshold = scheduled_properties(&spec).and_then(|p| p.flow_error_deactivation_threshold);
    let Some(threshold) = threshold.filter(|t| failures >= i64::from(*t)) else { return Ok(false) };
    spec.flow_status_message = Some(format!(
        "deactivated after {failures} failed runs in a row (flowErrorDeactivationThreshold {threshold}); \
         StartFlow activates it again"
    ));
    current.status = FlowStatus::Errored.as_str().to_string();
    current.definition = spec.to_document();
    current.updated_at_ms = now_ms.max(current.updated_at_ms + 1);
    store.update_flow(&current).await?;
    store.schedule_trigger(&flow.name, None, false, now_ms).await?;
    tracing::warn!(flow = %flow.name, failures, threshold, "scheduled flow deactivated after failed runs");
    Ok(true)
}

/// The first occurrence of a scheduled flow at or after `not_before_ms`
/// (`None`: not a scheduled flow, or its schedule has ended). A rate runs
/// from `scheduleStartTime`, or from `anchor_ms` (when the flow was
/// activated) without one; `scheduleOffset` shifts every occurrence.
pub fn next_occurrence(spec: &FlowSpec, not_before_ms: i64, anchor_ms: i64) -> Option<i64> {
    if spec.trigger_config.trigger_type != TriggerType::Scheduled {
        return None;
    }
    let properties = scheduled_properties(spec)?;
    let schedule: Schedule = parse_schedule_expression(&properties.schedule_expression).ok()?;
    let start_ms = properties.schedule_start_time.map(|t| t.as_millis());
    let anchor = datetime(start_ms.unwrap_or(anchor_ms));
    let not_before = datetime(not_before_ms.max(start_ms.unwrap_or(i64::MIN)));
    let next = schedule.first_at_or_after(not_before, anchor, properties.schedule_offset.unwrap_or(0))?;
    let next_ms = (next.unix_timestamp_nanos() / 1_000_000) as i64;
    match properties.schedule_end_time.map(|t| t.as_millis()) {
        Some(end) if next_ms > end => None,
        _ => Some(next_ms),
    }
}

/// The occurrence after the one due at `fired_ms`, fired at `now_ms`: the
/// first one after now, on the fired one's grid (a rate keeps the grid it
/// was armed on; after downtime the missed occurrences are passed over).
pub fn occurrence_after(spec: &FlowSpec, fired_ms: i64, now_ms: i64) -> Option<i64> {
    let offset_ms = scheduled_properties(spec).and_then(|p| p.schedule_offset).unwrap_or(0) * 1000;
    next_occurrence(spec, now_ms.max(fired_ms) + 1, fired_ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(scheduled: Value) -> FlowSpec {
        serde_json::from_value(json!({
            "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": scheduled}},
            "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "in"}}},
            "destinationFlowConfigList": [],
            "tasks": [],
        }))
        .unwrap()
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn occurrences_follow_the_schedule_start_end_and_offset() {
        let activated = 1_800_000_000_000; // 2027-01-15T08:00:00Z
        let hourly = spec(json!({"scheduleExpression": "rate(1hours)"}));
        assert_eq!(next_occurrence(&hourly, activated, activated), Some(activated), "the first run at activation");
        assert_eq!(next_occurrence(&hourly, activated + 1, activated), Some(activated + HOUR));
        let later =
            spec(json!({"scheduleExpression": "rate(1hours)", "scheduleStartTime": (activated + 10 * HOUR) / 1000,
                                "scheduleEndTime": (activated + 12 * HOUR) / 1000, "scheduleOffset": 90}));
        assert_eq!(next_occurrence(&later, activated, activated), Some(activated + 10 * HOUR + 90_000));
        assert_eq!(next_occurrence(&later, activated + 11 * HOUR + 90_001, activated), None, "past the end");
        let daily = spec(json!({"scheduleExpression": "cron(30 6 * * ? *)"}));
        assert_eq!(next_occurrence(&daily, activated, activated), Some(activated + 22 * HOUR + 30 * 60_000));
        let on_demand: FlowSpec = serde_json::from_value(json!({
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {"bucketName": "in"}}},
            "destinationFlowConfigList": [], "tasks": [],
        }))
        .unwrap();
        assert_eq!(next_occurrence(&on_demand, activated, activated), None);
    }

    #[test]
    fn the_next_occurrence_keeps_the_grid_of_the_fired_one() {
        let armed = 1_800_000_000_000;
        let offset = spec(json!({"scheduleExpression": "rate(1hours)", "scheduleOffset": 90}));
        let first = next_occurrence(&offset, armed, armed).unwrap();
        assert_eq!(first, armed + 90_000);
        assert_eq!(
            occurrence_after(&offset, first, first + 5),
            Some(armed + HOUR + 90_000),
            "the offset is not added twice"
        );
        assert_eq!(
            occurrence_after(&offset, first, first + 5 * HOUR),
            Some(armed + 6 * HOUR + 90_000),
            "missed ones are passed over"
        );
        let hourly = spec(json!({"scheduleExpression": "rate(1hours)"}));
        assert_eq!(
            occurrence_after(&hourly, armed, armed + HOUR),
            Some(armed + 2 * HOUR),
            "an occurrence due now is the one firing"
        );
    }

    #[test]
    fn run_requests_round_trip() {
        let scheduled = RunRequest::Scheduled { fire_ms: 5 };
        assert_eq!(scheduled.to_value(), json!({"kind": "Scheduled", "fireMs": 5}));
        let backfill: RunRequest =
            serde_json::from_value(json!({"kind": "Backfill", "startMs": 1, "endMs": 2})).unwrap();
        assert_eq!(backfill, RunRequest::Backfill { start_ms: 1, end_ms: 2 });
    }
}
