//! Dead-letter queues, seen from the bus: the events a target gave up on,
//! with why, and redriving them to the target they were meant for (`sluice
//! events dlq list | redrive`).

use serde::Serialize;
use serde_json::Value;
use sluice_model::sqs::Message;

use crate::arn::{parse_arn, DEFAULT_BUS};
use crate::buses::{now_ms, EventBusService};
use crate::error::BusResult;
use crate::put_events::new_delivery;

/// One dead-lettered event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetter {
    /// The SQS message id.
    pub message_id: String,
    /// The event (JSON), if the body is one.
    pub event: Value,
    /// The rule that matched it.
    pub rule_arn: Option<String>,
    /// The target that gave up.
    pub target_arn: Option<String>,
    /// Why (`ERROR_CODE`).
    pub error_code: Option<String>,
    /// Why (`ERROR_MESSAGE`).
    pub error_message: Option<String>,
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RedriveOutcome {
    /// Events queued again for their target (and removed from the queue).
    pub redriven: u64,
    /// Messages left in the queue: not an event with a rule and a target
    /// that still exist.
    pub skipped: u64,
}

fn attribute(message: &Message, name: &str) -> Option<String> {
    message.message_attributes.as_ref()?.get(name)?.string_value.clone()
}

fn dead_letter(message: &Message) -> DeadLetter {
    DeadLetter {
        message_id: message.message_id.clone().unwrap_or_default(),
        event: message.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null),
        rule_arn: attribute(message, "RULE_ARN"),
        target_arn: attribute(message, "TARGET_ARN"),
        error_code: attribute(message, "ERROR_CODE"),
        error_message: attribute(message, "ERROR_MESSAGE"),
    }
}

impl EventBusService {
    /// The events in a dead-letter queue of `account_id`, oldest first,
    /// without receiving them.
    pub async fn dead_letters(&self, account_id: &str, queue: &str, max: usize) -> BusResult<Vec<DeadLetter>> {
        Ok(self.queues().peek(account_id, queue, max).await?.iter().map(dead_letter).collect())
    }

    /// Queues each dead-lettered event again for the target it failed at
    /// (found by its RULE_ARN and TARGET_ARN), with a fresh retry budget,
    /// and removes it from the queue.
    pub async fn redrive_dead_letters(&self, account_id: &str, queue: &str) -> BusResult<RedriveOutcome> {
        let mut outcome = RedriveOutcome::default();
        let messages = self.queues().take_all(account_id, queue).await?;
        for (message, handle) in messages {
            let letter = dead_letter(&message);
            let rows = match self.delivery_for(account_id, &letter).await? {
                Some(row) => vec![row],
                None => {
                    outcome.skipped += 1;
                    self.queues().make_visible(account_id, queue, &handle).await?;
                    continue;
                }
            };
            self.commit(crate::put_events::Routed { deliveries: rows, archived: Vec::new() }).await?;
            self.queues().delete_named(account_id, queue, &handle).await?;
            outcome.redriven += 1;
        }
        Ok(outcome)
    }

    async fn delivery_for(
        &self,
        account_id: &str,
        letter: &DeadLetter,
    ) -> BusResult<Option<sluice_store::DeliveryRow>> {
        let (Some(rule_arn), Some(target_arn)) = (&letter.rule_arn, &letter.target_arn) else { return Ok(None) };
        if !letter.event.is_object() {
            return Ok(None);
        }
        let Some(arn) = parse_arn(rule_arn) else { return Ok(None) };
        if arn.account_id != account_id {
            return Ok(None);
        }
        let Some(rest) = arn.resource.strip_prefix("rule/") else { return Ok(None) };
        let (bus, rule) = rest.split_once('/').unwrap_or((DEFAULT_BUS, rest));
        let targets = self.store().list_targets(account_id, bus, rule).await?;
        let Some(target) = targets.into_iter().find(|t| &t.arn == target_arn) else { return Ok(None) };
        Ok(Some(new_delivery(&target, rule_arn, letter.event.clone(), now_ms())))
    }
}
