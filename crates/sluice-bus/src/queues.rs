//! The queue service (SQS standard queues): what the SQS API, the event
//! bus's queue targets and dead-letter queues, and the CLI share.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_model::sqs::{Message, MessageAttributeValue, MessageSystemAttributeName};
use sluice_store::{MessageRow, MetadataStore, PageRequest, QueueRow, Redrive};
use tokio::sync::Notify;

use crate::arn::{queue_arn, TargetKind};
use crate::buses::now_ms;
use crate::error::{BusError, BusResult};
use crate::md5::{md5_hex, md5_of_attributes};
use crate::token;

/// The default (and largest) message size, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// How often a queue's expired messages are swept (on receive).
const RETENTION_SWEEP: Duration = Duration::from_secs(10);
/// How often a long poll looks again when no send on this server woke it.
const LONG_POLL_RECHECK: Duration = Duration::from_millis(200);

/// A settable queue attribute: its default and its range.
struct AttributeSpec {
    name: &'static str,
    default: Option<&'static str>,
    range: Option<(i64, i64)>,
}

const ATTRIBUTES: &[AttributeSpec] = &[
    AttributeSpec { name: "DelaySeconds", default: Some("0"), range: Some((0, 900)) },
    AttributeSpec { name: "MaximumMessageSize", default: Some("262144"), range: Some((1024, 262_144)) },
    AttributeSpec { name: "MessageRetentionPeriod", default: Some("345600"), range: Some((60, 1_209_600)) },
    AttributeSpec { name: "ReceiveMessageWaitTimeSeconds", default: Some("0"), range: Some((0, 20)) },
    AttributeSpec { name: "VisibilityTimeout", default: Some("30"), range: Some((0, 43_200)) },
    AttributeSpec { name: "RedrivePolicy", default: None, range: None },
    AttributeSpec { name: "RedriveAllowPolicy", default: None, range: None },
    AttributeSpec { name: "Policy", default: None, range: None },
    AttributeSpec { name: "KmsMasterKeyId", default: None, range: None },
    AttributeSpec { name: "KmsDataKeyReusePeriodSeconds", default: None, range: Some((60, 86_400)) },
    AttributeSpec { name: "SqsManagedSseEnabled", default: Some("false"), range: None },
];

/// Attributes SQS computes (readable, not settable).
const COMPUTED_ATTRIBUTES: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    /// The body.
    pub body: String,
    /// Seconds before it becomes visible (the queue's DelaySeconds if `None`).
    pub delay_seconds: Option<i32>,
    /// Message attributes.
    pub attributes: BTreeMap<String, MessageAttributeValue>,
}

/// What a send returns.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// Its id.
    pub message_id: String,
    /// MD5 of the body (hex).
    pub md5_of_body: String,
    /// MD5 of the message attributes (hex), when there are any.
    pub md5_of_attributes: Option<String>,
}

/// The queue service; cheap to clone.
#[derive(Clone)]
pub struct QueueService {
    store: Arc<dyn MetadataStore>,
    region: String,
    wakers: Arc<Mutex<HashMap<(String, String), Arc<Notify>>>>,
    swept: Arc<Mutex<HashMap<(String, String), i64>>>,
}

/// SQS's `MD5OfMessageAttributes` of these attributes.
pub fn attributes_digest(attributes: &BTreeMap<String, MessageAttributeValue>) -> String {
    md5_of_attributes(attributes)
}

/// `https://HOST/ACCOUNT/NAME` → (account, name).
pub fn parse_queue_url(url: &str) -> BusResult<(String, String)> {
    let path = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let mut parts = path.split('/').filter(|p| !p.is_empty()).collect::<Vec<_>>();
    let name = parts.pop();
    let account = parts.pop();
    match (account, name) {
        (Some(account), Some(name)) if sluice_model::arn::is_account_id(account) => {
            Ok((account.to_string(), name.to_string()))
        }
        _ => Err(BusError::QueueDoesNotExist("The specified queue does not exist.".into())),
    }
}

fn valid_queue_name(name: &str) -> bool {
    (1..=80).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether every character is one SQS accepts in a body.
fn valid_body(body: &str) -> bool {
    body.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

fn attribute_number(attributes: &Value, name: &str) -> i64 {
    attributes
        .get(name)
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .or_else(|| ATTRIBUTES.iter().find(|a| a.name == name).and_then(|a| a.default).and_then(|d| d.parse().ok()))
        .unwrap_or(0)
}

impl QueueService {
    /// The queue service on `store`.
    pub fn new(store: Arc<dyn MetadataStore>, region: &str) -> Self {
        Self {
            store,
            region: region.to_string(),
            wakers: Arc::new(Mutex::new(HashMap::new())),
            swept: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A queue's URL under `base_url` (`http://HOST:PORT`).
    pub fn queue_url(base_url: &str, account_id: &str, name: &str) -> String {
        format!("{}/{account_id}/{name}", base_url.trim_end_matches('/'))
    }

    /// Checks settable attributes (names and values), all problems at once
    /// for names, the first bad value otherwise.
    fn check_attributes(&self, account_id: &str, attributes: &BTreeMap<String, String>) -> BusResult<()> {
        for (name, value) in attributes {
            let Some(spec) = ATTRIBUTES.iter().find(|a| a.name == name) else {
                if name == "FifoQueue" || name == "ContentBasedDeduplication" {
                    return Err(BusError::InvalidAttributeName(format!(
                        "Unknown Attribute {name}: FIFO queues are not supported by this server."
                    )));
                }
                return Err(BusError::InvalidAttributeName(format!("Unknown Attribute {name}.")));
            };
            if let Some((low, high)) = spec.range {
                match value.parse::<i64>() {
                    Ok(n) if (low..=high).contains(&n) => {}
                    _ => {
                        return Err(BusError::InvalidAttributeValue(format!(
                            "Invalid value for the parameter {name}. Reason: must be an integer from {low} to {high}."
                        )))
                    }
                }
            }
            if name == "RedrivePolicy" && !value.is_empty() {
                self.parse_redrive(account_id, value)?;
            }
        }
        Ok(())
    }

    fn parse_redrive(&self, account_id: &str, text: &str) -> BusResult<Redrive> {
        let invalid = |reason: &str| {
            BusError::InvalidAttributeValue(format!(
                "Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}"
            ))
        };
        let value: Value =
            serde_json::from_str(text).map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
        let arn = value
            .get("deadLetterTargetArn")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn."))?;
        let count = match value.get("maxReceiveCount") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount."))?;
        if !(1..=1000).contains(&count) {
            return Err(invalid("Invalid value for maxReceiveCount: must be from 1 to 1000."));
        }
        match TargetKind::parse(arn) {
            Ok(TargetKind::Queue { account_id: owner, name }) if owner == account_id => {
                Ok(Redrive { dead_letter_queue: name, max_receive_count: count })
            }
            _ => Err(invalid("Dead-letter target must be a queue of the same account.")),
        }
    }

    /// CreateQueue; the same name with the same attributes returns the
    /// existing queue, as SQS does.
    pub async fn create_queue(
        &self,
        account_id: &str,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> BusResult<()> {
        if name.ends_with(".fifo") {
            return Err(BusError::InvalidParameterValue("FIFO queues are not supported by this server.".into()));
        }
        if !valid_queue_name(name) {
            return Err(BusError::InvalidParameterValue(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length".into(),
            ));
        }
        self.check_attributes(account_id, &attributes)?;
        if let Some(existing) = self.store.get_queue(account_id, name).await? {
            for (key, value) in &attributes {
                let current =
                    existing.attributes.get(key).and_then(Value::as_str).map(str::to_string).or_else(|| {
                        ATTRIBUTES.iter().find(|a| a.name == key).and_then(|a| a.default).map(str::to_string)
                    });
                if current.as_deref() != Some(value.as_str()) {
                    return Err(BusError::QueueNameExists(format!(
                        "A queue already exists with the same name and a different value for attribute {key}"
                    )));
                }
            }
            return Ok(());
        }
        let now = now_ms();
        let arn = queue_arn(&self.region, account_id, name);
        let row = QueueRow {
            account_id: account_id.to_string(),
            name: name.to_string(),
            arn: arn.clone(),
            attributes: json!(attributes),
            created_at_ms: now,
            updated_at_ms: now,
        };
        match self.store.create_queue(&row).await {
            Ok(()) | Err(sluice_store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if !tags.is_empty() {
            self.store.put_tags(&arn, &tags).await?;
        }
        Ok(())
    }

    /// The queue, which must exist.
    pub async fn queue(&self, account_id: &str, name: &str) -> BusResult<QueueRow> {
        self.store
            .get_queue(account_id, name)
            .await?
            .ok_or_else(|| BusError::QueueDoesNotExist("The specified queue does not exist.".into()))
    }

    /// The queue a URL names, which must be the caller's.
    pub async fn queue_at(&self, account_id: &str, url: &str) -> BusResult<QueueRow> {
        let (owner, name) = parse_queue_url(url)?;
        if owner != account_id {
            return Err(BusError::AccessDenied(format!("account {account_id} cannot use queue {name} of {owner}")));
        }
        self.queue(&owner, &name).await
    }

    /// ListQueues: names with the prefix, as URLs, a page at a time.
    pub async fn list_queues(
        &self,
        account_id: &str,
        prefix: &str,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> BusResult<(Vec<String>, Option<String>)> {
        if let Some(max) = max_results {
            if !(1..=1000).contains(&max) {
                return Err(BusError::InvalidParameterValue("MaxResults must be from 1 to 1000.".into()));
            }
        }
        // Without MaxResults SQS returns up to 1000 and no token.
        let page = token::page("ListQueues", max_results.or(Some(1000)), next_token, 1000)?;
        let queues = self.store.list_queues(account_id, prefix, &page).await?;
        let token = match max_results {
            Some(_) => queues.next_cursor.map(|c| token::encode("ListQueues", &c)),
            None => None,
        };
        Ok((queues.items.into_iter().map(|q| q.name).collect(), token))
    }

    /// DeleteQueue.
    pub async fn delete_queue(&self, account_id: &str, url: &str) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        self.store.delete_queue(account_id, &queue.name).await?;
        let keys: Vec<String> = self.store.get_tags(&queue.arn).await?.into_keys().collect();
        self.store.remove_tags(&queue.arn, &keys).await?;
        Ok(())
    }

    /// GetQueueAttributes (`All` or the names given).
    pub async fn get_attributes(
        &self,
        account_id: &str,
        url: &str,
        names: &[String],
    ) -> BusResult<BTreeMap<String, String>> {
        let queue = self.queue_at(account_id, url).await?;
        for name in names {
            if name != "All"
                && !ATTRIBUTES.iter().any(|a| a.name == name)
                && !COMPUTED_ATTRIBUTES.contains(&name.as_str())
            {
                return Err(BusError::InvalidAttributeName(format!("Unknown Attribute {name}.")));
            }
        }
        let wanted = |name: &str| names.iter().any(|n| n == "All" || n == name);
        let mut out = BTreeMap::new();
        for spec in ATTRIBUTES {
            let value = queue.attributes.get(spec.name).and_then(Value::as_str).map(str::to_string);
            if let Some(value) = value.or_else(|| spec.default.map(str::to_string)) {
                if wanted(spec.name) {
                    out.insert(spec.name.to_string(), value);
                }
            }
        }
        let counts = self.store.queue_counts(account_id, &queue.name, now_ms()).await?;
        let computed = [
            ("ApproximateNumberOfMessages", counts.visible.to_string()),
            ("ApproximateNumberOfMessagesNotVisible", counts.in_flight.to_string()),
            ("ApproximateNumberOfMessagesDelayed", counts.delayed.to_string()),
            ("CreatedTimestamp", (queue.created_at_ms / 1000).to_string()),
            ("LastModifiedTimestamp", (queue.updated_at_ms / 1000).to_string()),
            ("QueueArn", queue.arn.clone()),
        ];
        for (name, value) in computed {
            if wanted(name) {
                out.insert(name.to_string(), value);
            }
        }
        Ok(out)
    }

    /// SetQueueAttributes (an empty RedrivePolicy removes it).
    pub async fn set_attributes(
        &self,
        account_id: &str,
        url: &str,
        attributes: BTreeMap<String, String>,
    ) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        self.check_attributes(account_id, &attributes)?;
        let mut current = queue.attributes.as_object().cloned().unwrap_or_default();
        for (name, value) in attributes {
            if value.is_empty() && (name == "RedrivePolicy" || name == "Policy" || name == "RedriveAllowPolicy") {
                current.remove(&name);
            } else {
                current.insert(name, json!(value));
            }
        }
        self.store.set_queue_attributes(account_id, &queue.name, &Value::Object(current), now_ms()).await?;
        Ok(())
    }

    /// PurgeQueue.
    pub async fn purge(&self, account_id: &str, url: &str) -> BusResult<u64> {
        let queue = self.queue_at(account_id, url).await?;
        Ok(self.store.purge_queue(account_id, &queue.name).await?)
    }

    fn waker(&self, account_id: &str, name: &str) -> Arc<Notify> {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        wakers.entry((account_id.to_string(), name.to_string())).or_insert_with(|| Arc::new(Notify::new())).clone()
    }

    /// Sends messages to a queue (all stored, or none).
    pub async fn send(&self, queue: &QueueRow, messages: Vec<OutgoingMessage>) -> BusResult<Vec<SentMessage>> {
        let max_size = attribute_number(&queue.attributes, "MaximumMessageSize") as usize;
        let default_delay = attribute_number(&queue.attributes, "DelaySeconds");
        let now = now_ms();
        let mut rows = Vec::with_capacity(messages.len());
        let mut sent = Vec::with_capacity(messages.len());
        for message in messages {
            check_message(&message, max_size)?;
            let delay = message.delay_seconds.map(i64::from).unwrap_or(default_delay);
            if !(0..=900).contains(&delay) {
                return Err(BusError::InvalidParameterValue(
                    "Value for parameter DelaySeconds is invalid. Reason: must be from 0 to 900.".into(),
                ));
            }
            let md5_of_body = md5_hex(message.body.as_bytes());
            let md5_of_attributes = (!message.attributes.is_empty()).then(|| md5_of_attributes(&message.attributes));
            let message_id = uuid::Uuid::new_v4().to_string();
            rows.push(MessageRow {
                message_id: message_id.clone(),
                account_id: queue.account_id.clone(),
                queue_name: queue.name.clone(),
                body: message.body,
                attributes: json!({
                    "MessageAttributes": message.attributes,
                    "MD5OfBody": md5_of_body,
                    "MD5OfMessageAttributes": md5_of_attributes,
                    "SenderId": queue.account_id,
                }),
                sent_at_ms: now,
                visible_at_ms: now + delay * 1000,
                receive_count: 0,
                receipt_handle: None,
                first_received_at_ms: None,
            });
            sent.push(SentMessage { message_id, md5_of_body, md5_of_attributes });
        }
        self.store.send_messages(&rows).await?;
        self.waker(&queue.account_id, &queue.name).notify_waiters();
        Ok(sent)
    }

    /// Sends one message to a queue named by ARN, for the event bus
    /// (queue targets and dead-letter queues).
    pub async fn send_to_arn(
        &self,
        arn: &str,
        body: String,
        attributes: BTreeMap<String, MessageAttributeValue>,
    ) -> BusResult<SentMessage> {
        let Ok(TargetKind::Queue { account_id, name }) = TargetKind::parse(arn) else {
            return Err(BusError::validation(format!("'{arn}' is not an SQS queue ARN")));
        };
        let queue = self.queue(&account_id, &name).await?;
        let mut sent = self.send(&queue, vec![OutgoingMessage { body, delay_seconds: None, attributes }]).await?;
        sent.pop().ok_or_else(|| BusError::Internal("no message was sent".into()))
    }

    /// ReceiveMessage: up to `max` messages, waiting up to `wait_seconds`
    /// (the queue's ReceiveMessageWaitTimeSeconds if `None`) for the first.
    pub async fn receive(
        &self,
        account_id: &str,
        url: &str,
        max: Option<i32>,
        visibility_timeout: Option<i32>,
        wait_seconds: Option<i32>,
    ) -> BusResult<Vec<Message>> {
        let queue = self.queue_at(account_id, url).await?;
        let max = max.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(BusError::InvalidParameterValue(format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )));
        }
        let wait = wait_seconds
            .map(i64::from)
            .unwrap_or_else(|| attribute_number(&queue.attributes, "ReceiveMessageWaitTimeSeconds"));
        if !(0..=20).contains(&wait) {
            return Err(BusError::InvalidParameterValue(format!(
                "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )));
        }
        let visibility = visibility_timeout
            .map(i64::from)
            .unwrap_or_else(|| attribute_number(&queue.attributes, "VisibilityTimeout"));
        if !(0..=43_200).contains(&visibility) {
            return Err(BusError::InvalidParameterValue(
                "Value for parameter VisibilityTimeout is invalid. Reason: must be from 0 to 43200.".into(),
            ));
        }
        let redrive = match queue.attributes.get("RedrivePolicy").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => Some(self.parse_redrive(account_id, text)?),
            _ => None,
        };
        self.sweep_expired(&queue).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
        let waker = self.waker(account_id, &queue.name);
        loop {
            let notified = waker.notified();
            let rows = self
                .store
                .receive_messages(account_id, &queue.name, now_ms(), visibility * 1000, max as usize, redrive.as_ref())
                .await?;
            if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(rows.iter().map(message_wire).collect());
            }
            let recheck = (tokio::time::Instant::now() + LONG_POLL_RECHECK).min(deadline);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(recheck) => {}
            }
        }
    }

    async fn sweep_expired(&self, queue: &QueueRow) -> BusResult<()> {
        let now = now_ms();
        let key = (queue.account_id.clone(), queue.name.clone());
        {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            if swept.get(&key).is_some_and(|at| now - at < RETENTION_SWEEP.as_millis() as i64) {
                return Ok(());
            }
            swept.insert(key, now);
        }
        let retention = attribute_number(&queue.attributes, "MessageRetentionPeriod");
        let expired = self.store.expire_messages(&queue.account_id, &queue.name, now - retention * 1000).await?;
        if expired > 0 {
            tracing::info!(queue = %queue.arn, expired, "messages past the retention period deleted");
        }
        Ok(())
    }

    /// DeleteMessage. A handle of an older receive succeeds without
    /// deleting, as in SQS; a handle that is not one of ours is refused.
    pub async fn delete_message(&self, account_id: &str, url: &str, receipt_handle: &str) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        check_receipt_handle(receipt_handle)?;
        self.store.delete_message(account_id, &queue.name, receipt_handle).await?;
        Ok(())
    }

    /// ChangeMessageVisibility.
    pub async fn change_visibility(
        &self,
        account_id: &str,
        url: &str,
        receipt_handle: &str,
        visibility_timeout: i32,
    ) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        check_receipt_handle(receipt_handle)?;
        if !(0..=43_200).contains(&visibility_timeout) {
            return Err(BusError::InvalidParameterValue(
                "Value for parameter VisibilityTimeout is invalid. Reason: must be from 0 to 43200.".into(),
            ));
        }
        let changed = self
            .store
            .change_visibility(account_id, &queue.name, receipt_handle, now_ms() + i64::from(visibility_timeout) * 1000)
            .await?;
        if !changed {
            return Err(BusError::MessageNotInflight("The message referred to isn't in flight.".into()));
        }
        Ok(())
    }

    /// Messages waiting in a queue, oldest first, without receiving them
    /// (`sluice events dlq list`).
    pub async fn peek(&self, account_id: &str, name: &str, max: usize) -> BusResult<Vec<Message>> {
        let queue = self.queue(account_id, name).await?;
        let rows = self.store.peek_messages(account_id, &queue.name, max).await?;
        Ok(rows.iter().map(message_wire).collect())
    }

    /// Moves every message of `from` to `to` (a dead-letter queue redrive);
    /// returns how many moved.
    pub async fn redrive(&self, account_id: &str, from: &str, to: &str) -> BusResult<u64> {
        let source = self.queue(account_id, from).await?;
        let destination = self.queue(account_id, to).await?;
        let mut moved = 0;
        loop {
            let rows = self.store.peek_messages(account_id, &source.name, 500).await?;
            if rows.is_empty() {
                break;
            }
            let ids: Vec<String> = rows.into_iter().map(|m| m.message_id).collect();
            moved += self.store.move_messages(account_id, &source.name, &destination.name, &ids, now_ms()).await?;
        }
        self.waker(account_id, &destination.name).notify_waiters();
        Ok(moved)
    }

    /// Receives every visible message of a queue (hidden for a minute),
    /// with its receipt handle, for a redrive.
    pub async fn take_all(&self, account_id: &str, name: &str) -> BusResult<Vec<(Message, String)>> {
        let queue = self.queue(account_id, name).await?;
        let mut taken = Vec::new();
        loop {
            let rows = self.store.receive_messages(account_id, &queue.name, now_ms(), 60_000, 10, None).await?;
            if rows.is_empty() {
                return Ok(taken);
            }
            for row in &rows {
                taken.push((message_wire(row), row.receipt_handle.clone().unwrap_or_default()));
            }
        }
    }

    /// Makes a received message visible again at once.
    pub async fn make_visible(&self, account_id: &str, name: &str, receipt_handle: &str) -> BusResult<()> {
        self.store.change_visibility(account_id, name, receipt_handle, now_ms()).await?;
        Ok(())
    }

    /// Deletes a received message of a queue named by name.
    pub async fn delete_named(&self, account_id: &str, name: &str, receipt_handle: &str) -> BusResult<()> {
        self.store.delete_message(account_id, name, receipt_handle).await?;
        Ok(())
    }

    /// Tags of a queue.
    pub async fn tags(&self, account_id: &str, url: &str) -> BusResult<BTreeMap<String, String>> {
        let queue = self.queue_at(account_id, url).await?;
        Ok(self.store.get_tags(&queue.arn).await?)
    }

    /// Adds tags to a queue.
    pub async fn tag(&self, account_id: &str, url: &str, tags: &BTreeMap<String, String>) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        Ok(self.store.put_tags(&queue.arn, tags).await?)
    }

    /// Removes tags of a queue.
    pub async fn untag(&self, account_id: &str, url: &str, keys: &[String]) -> BusResult<()> {
        let queue = self.queue_at(account_id, url).await?;
        Ok(self.store.remove_tags(&queue.arn, keys).await?)
    }

    /// Queue names of an account (for the CLI).
    pub async fn names(&self, account_id: &str) -> BusResult<Vec<String>> {
        let page = self.store.list_queues(account_id, "", &PageRequest::first(1000)).await?;
        Ok(page.items.into_iter().map(|q| q.name).collect())
    }
}

/// Receipt handles are `TOKEN:MESSAGE_ID`, both made by this service.
fn check_receipt_handle(handle: &str) -> BusResult<()> {
    match handle.split_once(':') {
        Some((token, id)) if token.len() == 32 && !id.is_empty() => Ok(()),
        _ => Err(BusError::ReceiptHandleIsInvalid(format!(
            "The input receipt handle \"{handle}\" is not a valid receipt handle."
        ))),
    }
}

fn check_message(message: &OutgoingMessage, max_size: usize) -> BusResult<()> {
    if message.body.is_empty() {
        return Err(BusError::InvalidParameterValue("The request must contain the parameter MessageBody.".into()));
    }
    if !valid_body(&message.body) {
        return Err(BusError::InvalidMessageContents(
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
                .into(),
        ));
    }
    let attributes_size: usize = message
        .attributes
        .iter()
        .map(|(name, value)| {
            name.len()
                + value.data_type.len()
                + value.string_value.as_deref().map_or(0, str::len)
                + value.binary_value.as_deref().map_or(0, str::len)
        })
        .sum();
    if message.body.len() + attributes_size > max_size {
        return Err(BusError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    if message.attributes.len() > 10 {
        return Err(BusError::InvalidParameterValue("Number of message attributes cannot exceed 10.".into()));
    }
    for (name, value) in &message.attributes {
        let base = value.data_type.split('.').next().unwrap_or_default();
        let has_value = match base {
            "String" | "Number" => value.string_value.is_some(),
            "Binary" => value.binary_value.is_some(),
            _ => {
                return Err(BusError::InvalidParameterValue(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only the following \
                     supported type prefixes: Binary, Number, String."
                )))
            }
        };
        if !has_value {
            return Err(BusError::InvalidParameterValue(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            )));
        }
    }
    Ok(())
}

fn message_wire(row: &MessageRow) -> Message {
    let attributes: BTreeMap<String, MessageAttributeValue> =
        serde_json::from_value(row.attributes.get("MessageAttributes").cloned().unwrap_or(json!({})))
            .unwrap_or_default();
    let mut system = BTreeMap::new();
    system.insert(MessageSystemAttributeName::SentTimestamp, row.sent_at_ms.to_string());
    system.insert(MessageSystemAttributeName::ApproximateReceiveCount, row.receive_count.to_string());
    if let Some(first) = row.first_received_at_ms {
        system.insert(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp, first.to_string());
    }
    if let Some(sender) = row.attributes.get("SenderId").and_then(Value::as_str) {
        system.insert(MessageSystemAttributeName::SenderId, sender.to_string());
    }
    Message {
        message_id: Some(row.message_id.clone()),
        receipt_handle: row.receipt_handle.clone(),
        md5_of_body: Some(md5_hex(row.body.as_bytes())),
        body: Some(row.body.clone()),
        attributes: Some(system),
        md5_of_message_attributes: (!attributes.is_empty()).then(|| md5_of_attributes(&attributes)),
        message_attributes: (!attributes.is_empty()).then_some(attributes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_name_account_and_queue() {
        assert_eq!(
            parse_queue_url("http://127.0.0.1:7878/123456789012/work").unwrap(),
            ("123456789012".to_string(), "work".to_string())
        );
        assert!(parse_queue_url("http://host/work").is_err());
        assert!(valid_queue_name("a-b_C9"));
        assert!(!valid_queue_name("a.b"));
        assert!(!valid_body("bad \u{1} char"));
        assert!(valid_body("tab\tok ✓"));
    }
}
