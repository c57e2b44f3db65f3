//! A pipe's definition as the service keeps it: its source (a table
//! stream) with batching, retry and dead-letter settings, its filters, its
//! target (a queue or an event bus) with the target's parameters; checked
//! as Pipes checks them, with the limits of a DynamoDB stream source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_bus::arn::TargetKind;
use sluice_model::events::pattern::EventPattern;
use sluice_model::pipes as wire;
use sluice_model::wire::{EpochSeconds, SecretString};

use crate::error::{PipesError, PipesResult};

/// Most filters of a pipe.
const MAX_FILTERS: usize = 5;

/// Where a pipe's target is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An SQS queue of the pipe's account.
    Queue {
        /// The queue's name.
        name: String,
    },
    /// An event bus of the pipe's account.
    Bus {
        /// The bus's ARN.
        arn: String,
    },
}

/// The settings of a table-stream source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// Records per batch (1 to 10,000; 100 by default).
    pub batch_size: usize,
    /// Seconds to wait for a batch to fill (0 to 300).
    pub batching_window_s: i64,
    /// Records older than this are dropped (-1: never).
    pub maximum_record_age_s: i64,
    /// Retries of a failing batch (-1: until its records expire).
    pub maximum_retry_attempts: i64,
    /// Whether a failing batch is halved and retried (AUTOMATIC_BISECT).
    pub bisect: bool,
    /// Where batches that failed for good go (an SQS queue ARN).
    pub dead_letter_arn: Option<String>,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
}

/// Everything the service keeps about a pipe (stored as JSON, `v` 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipeDefinition {
    /// Format version of this document.
    pub v: u32,
    /// The pipe's ARN.
    pub arn: String,
    /// Its description.
    pub description: Option<String>,
    /// The source: a table stream's ARN.
    pub source: String,
    /// The source parameters as given (returned by DescribePipe).
    pub source_parameters: wire::PipeSourceParameters,
    /// The target's ARN.
    pub target: String,
    /// The target parameters as given.
    pub target_parameters: Option<wire::PipeTargetParameters>,
    /// The role the pipe acts as (recorded; the pipe acts in its account).
    pub role_arn: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Why the pipe stopped on its own, if it did.
    pub state_reason: Option<String>,
}

fn number(value: Option<i32>, default: i64, range: std::ops::RangeInclusive<i64>, name: &str) -> PipesResult<i64> {
    let value = value.map(i64::from).unwrap_or(default);
    if value == -1 && *range.start() == -1 {
        return Ok(value);
    }
    if !range.contains(&value) {
        return Err(PipesError::validation(format!(
            "{name} must be between {} and {}, got {value}",
            range.start(),
            range.end()
        )));
    }
    Ok(value)
}

/// Whether `arn` is a DynamoDB stream's.
pub fn is_stream_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:dynamodb:") && arn.contains(":table/") && arn.contains("/stream/")
}

impl PipeDefinition {
    /// The source settings (checked when the pipe was made).
    pub fn stream_settings(&self) -> PipesResult<StreamSettings> {
        let parameters = self.source_parameters.dynamo_db_stream_parameters.as_ref().ok_or_else(|| {
            PipesError::validation("SourceParameters.DynamoDBStreamParameters is required for a DynamoDB stream source")
        })?;
        Ok(StreamSettings {
            batch_size: number(parameters.batch_size, 100, 1..=10_000, "BatchSize")? as usize,
            batching_window_s: number(
                parameters.maximum_batching_window_in_seconds,
                0,
                0..=300,
                "MaximumBatchingWindowInSeconds",
            )?,
            maximum_record_age_s: number(
                parameters.maximum_record_age_in_seconds,
                -1,
                -1..=604_800,
                "MaximumRecordAgeInSeconds",
            )
            .and_then(|age| {
                if age != -1 && age < 60 {
                    Err(PipesError::validation("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800"))
                } else {
                    Ok(age)
                }
            })?,
            maximum_retry_attempts: number(parameters.maximum_retry_attempts, -1, -1..=10_000, "MaximumRetryAttempts")?,
            bisect: parameters.on_partial_batch_item_failure.is_some(),
            dead_letter_arn: parameters.dead_letter_config.as_ref().and_then(|d| d.arn.clone()),
            starting_position: parameters.starting_position.as_str().to_string(),
        })
    }

    /// The compiled filters (none: every record passes).
    pub fn filters(&self) -> PipesResult<Vec<EventPattern>> {
        let filters = self.source_parameters.filter_criteria.as_ref().and_then(|f| f.filters.as_ref());
        let filters = filters.map(Vec::as_slice).unwrap_or_default();
        if filters.len() > MAX_FILTERS {
            return Err(PipesError::validation(format!(
                "FilterCriteria.Filters can have at most {MAX_FILTERS} filters"
            )));
        }
        filters
            .iter()
            .filter_map(|f| f.pattern.as_ref())
            .map(|p| {
                EventPattern::parse(p.expose())
                    .map_err(|e| PipesError::validation(format!("Invalid filter pattern: {}", e.reason())))
            })
            .collect()
    }

    /// The target, which must be a queue or a bus of `account_id`.
    pub fn target_of(&self, account_id: &str) -> PipesResult<Target> {
        let unsupported = || {
            PipesError::validation(format!(
                "Target {} is not supported by this server: a pipe's target is an SQS queue or an event bus of its \
                 account",
                self.target
            ))
        };
        match TargetKind::parse(&self.target).map_err(|_| unsupported())? {
            TargetKind::Queue { account_id: owner, name } if owner == account_id => Ok(Target::Queue { name }),
            TargetKind::Bus { account_id: owner, .. } if owner == account_id => {
                Ok(Target::Bus { arn: self.target.clone() })
            }
            _ => Err(unsupported()),
        }
    }

    /// Checks the whole definition (source settings, filters, target and
    /// its parameters, dead-letter queue) for a pipe of `account_id`.
    pub fn check(&self, account_id: &str) -> PipesResult<()> {
        if !is_stream_arn(&self.source) {
            return Err(PipesError::validation(format!(
                "Source {} is not supported by this server: a pipe's source is a DynamoDB stream",
                self.source
            )));
        }
        let settings = self.stream_settings()?;
        if let Some(dlq) = &settings.dead_letter_arn {
            match TargetKind::parse(dlq) {
                Ok(TargetKind::Queue { account_id: owner, .. }) if owner == account_id => {}
                _ => {
                    return Err(PipesError::validation(format!(
                        "DeadLetterConfig.Arn {dlq} must be an SQS queue of the pipe's account"
                    )))
                }
            }
        }
        self.filters()?;
        let target = self.target_of(account_id)?;
        if let Some(parameters) = &self.target_parameters {
            if parameters.input_template.is_some() {
                return Err(PipesError::validation("TargetParameters.InputTemplate is not supported by this server"));
            }
            if let Some(sqs) = &parameters.sqs_queue_parameters {
                if sqs.message_group_id.is_some() || sqs.message_deduplication_id.is_some() {
                    return Err(PipesError::validation(
                        "MessageGroupId and MessageDeduplicationId are for FIFO queues, which this server does not have",
                    ));
                }
            }
            let bus_parameters = parameters.event_bridge_event_bus_parameters.is_some();
            if bus_parameters && !matches!(target, Target::Bus { .. }) {
                return Err(PipesError::validation(
                    "TargetParameters.EventBridgeEventBusParameters is only for an event bus target",
                ));
            }
        }
        Ok(())
    }

    /// The pipe as ListPipes shows it.
    pub fn summary(&self, name: &str, desired: &str, created_ms: i64, updated_ms: i64) -> wire::Pipe {
        wire::Pipe {
            name: Some(name.to_string()),
            arn: Some(self.arn.clone()),
            desired_state: wire::RequestedPipeState::from_wire(desired),
            current_state: wire::PipeState::from_wire(desired),
            state_reason: self.state_reason.clone(),
            creation_time: Some(EpochSeconds::from_millis(created_ms)),
            last_modified_time: Some(EpochSeconds::from_millis(updated_ms)),
            source: Some(self.source.clone()),
            target: Some(self.target.clone()),
            enrichment: None,
        }
    }

    /// The pipe as DescribePipe shows it.
    pub fn describe(&self, name: &str, desired: &str, created_ms: i64, updated_ms: i64) -> wire::DescribePipeResponse {
        wire::DescribePipeResponse {
            arn: Some(self.arn.clone()),
            name: Some(name.to_string()),
            description: self.description.clone().map(SecretString::new),
            desired_state: wire::RequestedPipeStateDescribeResponse::from_wire(desired),
            current_state: wire::PipeState::from_wire(desired),
            state_reason: self.state_reason.clone(),
            source: Some(self.source.clone()),
            source_parameters: Some(self.source_parameters.clone()),
            target: Some(self.target.clone()),
            target_parameters: self.target_parameters.clone(),
            role_arn: Some(self.role_arn.clone()),
            tags: Some(self.tags.iter().map(|(k, v)| (k.clone(), SecretString::new(v.clone()))).collect()),
            creation_time: Some(EpochSeconds::from_millis(created_ms)),
            last_modified_time: Some(EpochSeconds::from_millis(updated_ms)),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(json: serde_json::Value) -> PipeDefinition {
        let mut base = serde_json::json!({
            "v": 1, "arn": "arn:aws:pipes:us-east-1:111111111111:pipe/p", "description": null,
            "source": "arn:aws:dynamodb:us-east-1:111111111111:table/t/stream/2026-12-06T00:00:00.000",
            "source_parameters": {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}},
            "target": "arn:aws:sqs:us-east-1:111111111111:q", "target_parameters": null,
            "role_arn": "arn:aws:iam::111111111111:role/r", "tags": {}, "state_reason": null
        });
        for (k, v) in json.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn definitions_are_checked_as_pipes_checks_them() {
        let ok = definition(serde_json::json!({}));
        ok.check("111111111111").unwrap();
        let settings = ok.stream_settings().unwrap();
        assert_eq!((settings.batch_size, settings.maximum_retry_attempts, settings.bisect), (100, -1, false));
        assert_eq!(ok.target_of("111111111111").unwrap(), Target::Queue { name: "q".into() });

        let message = |d: PipeDefinition| d.check("111111111111").unwrap_err().to_string();
        assert!(message(definition(serde_json::json!({"source": "arn:aws:sqs:us-east-1:111111111111:q"})))
            .contains("a pipe's source is a DynamoDB stream"));
        assert!(message(definition(serde_json::json!({"target": "arn:aws:sqs:us-east-1:222222222222:q"})))
            .contains("of its account"));
        assert!(message(definition(serde_json::json!({"source_parameters":
            {"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 20000}}})))
        .contains("BatchSize must be between 1 and 10000"));
        assert!(message(definition(serde_json::json!({"source_parameters":
            {"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 10}}})))
        .contains("MaximumRecordAgeInSeconds"));
        assert!(message(definition(serde_json::json!({"source_parameters":
            {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}, "FilterCriteria": {"Filters": [{"Pattern": "{\"a\": 1}"}]}}})))
            .contains("Invalid filter pattern"));
        let bus = definition(serde_json::json!({"target": "arn:aws:events:us-east-1:111111111111:event-bus/default"}));
        assert!(matches!(bus.target_of("111111111111").unwrap(), Target::Bus { .. }));
    }
}
