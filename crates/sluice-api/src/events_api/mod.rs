//! EventBridge's JSON 1.1 API (botocore model `events` 2015-10-07):
//! `X-Amz-Target: AWSEvents.<Operation>`, each operation a call to the
//! [`EventBusService`](sluice_bus::EventBusService).

mod error;

use axum::body::Bytes;
use axum::response::Response;
use serde::Serialize;
use serde_json::json;
use sluice_bus::BusError;
use sluice_iam::Caller;
use sluice_model::events::*;

use crate::json_protocol::{answer, body_json, parse};
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

fn ok<T: Serialize>(value: &T) -> Result<Response, BusError> {
    Ok(answer(CONTENT_TYPE, value))
}

fn empty() -> Result<Response, BusError> {
    Ok(answer(CONTENT_TYPE, &json!({})))
}

/// `QueueName` of a Sluice dead-letter operation.
fn queue_name(value: &serde_json::Value) -> Result<String, BusError> {
    value
        .get("QueueName")
        .and_then(serde_json::Value::as_str)
        .filter(|q| !q.is_empty())
        .map(str::to_string)
        .ok_or_else(|| BusError::validation("QueueName is required"))
}

/// Runs one EventBridge operation and renders its answer or error.
pub async fn handle(state: &AppState, caller: &Caller, operation: &str, body: &Bytes) -> Response {
    match run(state, &caller.account_id, operation, body).await {
        Ok(response) => response,
        Err(error) => error::render(error),
    }
}

async fn run(state: &AppState, account: &str, operation: &str, body: &Bytes) -> Result<Response, BusError> {
    let bus = state.bus();
    let account = account.to_string();
    let value = body_json(body).map_err(BusError::Validation)?;
    let model = service_model();
    macro_rules! request {
        () => {
            parse(model, operation, value).map_err(BusError::Validation)?
        };
    }
    match operation {
        "CreateEventBus" => ok(&bus.create_event_bus(&account, request!()).await?),
        "DescribeEventBus" => ok(&bus.describe_event_bus(&account, request!()).await?),
        "ListEventBuses" => ok(&bus.list_event_buses(&account, request!()).await?),
        "DeleteEventBus" => {
            bus.delete_event_bus(&account, request!()).await?;
            empty()
        }
        "PutRule" => ok(&bus.put_rule(&account, &account, request!()).await?),
        "DescribeRule" => ok(&bus.describe_rule(&account, request!()).await?),
        "ListRules" => ok(&bus.list_rules(&account, request!()).await?),
        "EnableRule" | "DisableRule" => {
            let r: EnableRuleRequest = request!();
            let state = if operation == "EnableRule" { RuleState::Enabled } else { RuleState::Disabled };
            bus.set_rule_state(&account, r.event_bus_name.as_deref(), &r.name, state).await?;
            empty()
        }
        "DeleteRule" => {
            bus.delete_rule(&account, request!()).await?;
            empty()
        }
        "ListRuleNamesByTarget" => ok(&bus.list_rule_names_by_target(&account, request!()).await?),
        "PutTargets" => ok(&bus.put_targets(&account, request!()).await?),
        "RemoveTargets" => ok(&bus.remove_targets(&account, request!()).await?),
        "ListTargetsByRule" => ok(&bus.list_targets_by_rule(&account, request!()).await?),
        "PutEvents" => ok(&bus.put_events(&account, request!()).await?),
        "TestEventPattern" => ok(&bus.test_event_pattern(request!())?),
        "PutPermission" => {
            bus.put_permission(&account, request!()).await?;
            empty()
        }
        "RemovePermission" => {
            bus.remove_permission(&account, request!()).await?;
            empty()
        }
        "CreateConnection" => ok(&bus.create_connection(&account, request!()).await?),
        "DescribeConnection" => {
            let r: DescribeConnectionRequest = request!();
            ok(&bus.describe_connection(&account, &r.name).await?)
        }
        "ListConnections" => ok(&bus.list_connections(&account, request!()).await?),
        "UpdateConnection" => ok(&bus.update_connection(&account, request!()).await?),
        "DeleteConnection" => {
            let r: DeleteConnectionRequest = request!();
            ok(&bus.delete_connection(&account, &r.name).await?)
        }
        "CreateApiDestination" => ok(&bus.create_api_destination(&account, request!()).await?),
        "DescribeApiDestination" => {
            let r: DescribeApiDestinationRequest = request!();
            ok(&bus.describe_api_destination(&account, &r.name).await?)
        }
        "ListApiDestinations" => ok(&bus.list_api_destinations(&account, request!()).await?),
        "UpdateApiDestination" => ok(&bus.update_api_destination(&account, request!()).await?),
        "DeleteApiDestination" => {
            let r: DeleteApiDestinationRequest = request!();
            bus.delete_api_destination(&account, &r.name).await?;
            empty()
        }
        "DescribeEventSource" => {
            let r: DescribeEventSourceRequest = request!();
            ok(&bus.describe_event_source(&account, &r.name).await?)
        }
        "ListEventSources" => ok(&bus.list_event_sources(&account, request!()).await?),
        "CreateArchive" => ok(&bus.create_archive(&account, request!()).await?),
        "DescribeArchive" => {
            let r: DescribeArchiveRequest = request!();
            ok(&bus.describe_archive(&account, &r.archive_name).await?)
        }
        "ListArchives" => ok(&bus.list_archives(&account, request!()).await?),
        "UpdateArchive" => ok(&bus.update_archive(&account, request!()).await?),
        "DeleteArchive" => {
            let r: DeleteArchiveRequest = request!();
            bus.delete_archive(&account, &r.archive_name).await?;
            empty()
        }
        "StartReplay" => ok(&bus.start_replay(&account, request!()).await?),
        "DescribeReplay" => {
            let r: DescribeReplayRequest = request!();
            ok(&bus.describe_replay(&account, &r.replay_name).await?)
        }
        "ListReplays" => ok(&bus.list_replays(&account, request!()).await?),
        "CancelReplay" => {
            let r: CancelReplayRequest = request!();
            ok(&bus.cancel_replay(&account, &r.replay_name).await?)
        }
        "TagResource" => {
            bus.tag_resource(&account, request!()).await?;
            empty()
        }
        "UntagResource" => {
            bus.untag_resource(&account, request!()).await?;
            empty()
        }
        "ListTagsForResource" => ok(&bus.list_tags_for_resource(&account, request!()).await?),
        // Sluice's own operations (not EventBridge's): dead-letter queues.
        "SluiceListDeadLetters" => {
            let queue = queue_name(&value)?;
            let max = value.get("MaxResults").and_then(serde_json::Value::as_u64).unwrap_or(100).clamp(1, 1000);
            ok(&json!({ "DeadLetters": bus.dead_letters(&account, &queue, max as usize).await? }))
        }
        "SluiceRedriveDeadLetters" => {
            let queue = queue_name(&value)?;
            ok(&bus.redrive_dead_letters(&account, &queue).await?)
        }
        other if model.input_shape(other).is_some() => {
            Err(BusError::Unsupported(format!("EventBridge operation {other} is not supported by this server yet")))
        }
        other => Err(BusError::UnknownOperation(format!("unknown EventBridge operation '{other}'"))),
    }
}
