//! `sluice events ...`: the event bus for humans, over the same signed
//! EventBridge API boto3 uses (plus Sluice's dead-letter operations).

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::commands::{client, print_json, text, ClientArgs};

/// `sluice events ...`.
#[derive(Subcommand)]
pub enum EventsAction {
    /// Put one event on a bus.
    Put {
        /// The event's source (not `aws.*`).
        #[arg(long)]
        source: String,
        /// The event's detail-type.
        #[arg(long)]
        detail_type: String,
        /// The event's detail: a JSON object.
        #[arg(long, default_value = "{}")]
        detail: String,
        /// Bus name or ARN (default: `default`).
        #[arg(long)]
        bus: Option<String>,
        /// Resource ARNs the event concerns.
        #[arg(long = "resource")]
        resources: Vec<String>,
    },
    /// List a bus's rules.
    Rules {
        /// Bus name (default: `default`).
        #[arg(long)]
        bus: Option<String>,
    },
    /// List a rule's targets.
    Targets {
        /// The rule.
        rule: String,
        /// Its bus (default: `default`).
        #[arg(long)]
        bus: Option<String>,
    },
    /// Dead-letter queues of targets.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

/// `sluice events dlq ...`.
#[derive(Subcommand)]
pub enum DlqAction {
    /// Show the events a dead-letter queue holds and why they failed.
    List {
        /// The queue's name.
        queue: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        max: u32,
    },
    /// Queue each dead-lettered event again for the target it failed at.
    Redrive {
        /// The queue's name.
        queue: String,
    },
}

/// Runs `sluice events ACTION`.
pub async fn events(target: ClientArgs, action: EventsAction) -> Result<()> {
    let api = client(&target)?;
    match action {
        EventsAction::Put { source, detail_type, detail, bus, resources } => {
            if serde_json::from_str::<Value>(&detail).map(|d| !d.is_object()).unwrap_or(true) {
                bail!("--detail must be a JSON object");
            }
            let mut entry =
                json!({"Source": source, "DetailType": detail_type, "Detail": detail, "Resources": resources});
            if let Some(bus) = bus {
                entry["EventBusName"] = json!(bus);
            }
            let answer = api.events("PutEvents", &json!({"Entries": [entry]})).await?;
            let result = answer.get("Entries").and_then(|e| e.get(0)).cloned().unwrap_or(Value::Null);
            if let Some(code) = result.get("ErrorCode").and_then(Value::as_str) {
                bail!("{code}: {}", text(&result, "ErrorMessage"));
            }
            println!("{}", text(&result, "EventId"));
        }
        EventsAction::Rules { bus } => {
            let mut request = json!({});
            if let Some(bus) = &bus {
                request["EventBusName"] = json!(bus);
            }
            println!("{:<32} {:<9} {}", "NAME", "STATE", "PATTERN / SCHEDULE");
            loop {
                let page = api.events("ListRules", &request).await?;
                for rule in page.get("Rules").and_then(Value::as_array).into_iter().flatten() {
                    let what = rule
                        .get("EventPattern")
                        .or_else(|| rule.get("ScheduleExpression"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    println!("{:<32} {:<9} {}", text(rule, "Name"), text(rule, "State"), what);
                }
                match page.get("NextToken").and_then(Value::as_str) {
                    Some(token) => request["NextToken"] = json!(token),
                    None => break,
                }
            }
        }
        EventsAction::Targets { rule, bus } => {
            let mut request = json!({"Rule": rule});
            if let Some(bus) = &bus {
                request["EventBusName"] = json!(bus);
            }
            let answer = api.events("ListTargetsByRule", &request).await?;
            println!("{:<24} {:<64} {}", "ID", "ARN", "DEAD-LETTER QUEUE");
            for target in answer.get("Targets").and_then(Value::as_array).into_iter().flatten() {
                let dlq = target.pointer("/DeadLetterConfig/Arn").and_then(Value::as_str).unwrap_or("-");
                println!("{:<24} {:<64} {}", text(target, "Id"), text(target, "Arn"), dlq);
            }
        }
        EventsAction::Dlq { action: DlqAction::List { queue, max } } => {
            let answer = api.events("SluiceListDeadLetters", &json!({"QueueName": queue, "MaxResults": max})).await?;
            let letters = answer.get("DeadLetters").and_then(Value::as_array).cloned().unwrap_or_default();
            if letters.is_empty() {
                println!("no dead-lettered events in {queue}");
            }
            for letter in &letters {
                print_json(letter);
            }
        }
        EventsAction::Dlq { action: DlqAction::Redrive { queue } } => {
            let answer = api.events("SluiceRedriveDeadLetters", &json!({"QueueName": queue})).await?;
            println!(
                "redriven {} event(s) from {queue}; {} message(s) left (no rule or target to send them to)",
                answer.get("Redriven").and_then(Value::as_u64).unwrap_or(0),
                answer.get("Skipped").and_then(Value::as_u64).unwrap_or(0)
            );
        }
    }
    Ok(())
}
