//! SQS's JSON 1.0 API (botocore model `sqs` 2012-11-05, see
//! `crates/sluice-model/models/README.md`): `X-Amz-Target:
//! AmazonSQS.<Operation>`, each a call to the
//! [`QueueService`](sluice_bus::QueueService). Queue URLs are
//! `http://HOST/ACCOUNT/NAME` on this server's address.

mod error;

use std::collections::{BTreeMap, HashSet};

use axum::body::Bytes;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_bus::queues::OutgoingMessage;
use sluice_bus::{BusError, QueueService};
use sluice_iam::Caller;
use sluice_model::sqs::*;

use crate::json_protocol::{answer, body_json, parse};
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// Largest total size of a SendMessageBatch's bodies.
const MAX_BATCH_BYTES: usize = 262_144;

fn ok<T: Serialize>(value: &T) -> Result<Response, BusError> {
    Ok(answer(CONTENT_TYPE, value))
}

fn empty() -> Result<Response, BusError> {
    Ok(answer(CONTENT_TYPE, &json!({})))
}

/// Runs one SQS operation and renders its answer or error.
pub async fn handle(state: &AppState, caller: &Caller, operation: &str, body: &Bytes, base_url: &str) -> Response {
    match run(state, &caller.account_id, operation, body, base_url).await {
        Ok(response) => response,
        Err(e) => error::render(e),
    }
}

/// Takes a string map member out of the request (attribute names are open
/// text for SQS: an unknown one is `InvalidAttributeName`, not a shape error).
fn take_string_map(value: &mut Value, member: &str) -> Result<BTreeMap<String, String>, BusError> {
    match value.as_object_mut().and_then(|m| m.remove(member)) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(BusError::InvalidAttributeValue(format!("Value of attribute {k} must be a string."))),
            })
            .collect(),
        Some(_) => Err(BusError::validation(format!("{member} must be a map of strings"))),
    }
}

fn take_string_list(value: &mut Value, member: &str) -> Vec<String> {
    match value.as_object_mut().and_then(|m| m.remove(member)) {
        Some(Value::Array(items)) => items.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn check_batch<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), BusError> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Err(BusError::EmptyBatchRequest(
            "There should be at least one SendMessageBatchRequestEntry in the request.".into(),
        ));
    }
    if ids.len() > 10 {
        return Err(BusError::TooManyEntriesInBatchRequest(format!(
            "Maximum number of entries per request are 10. You have sent {}.",
            ids.len()
        )));
    }
    let mut seen = HashSet::new();
    for id in &ids {
        if id.is_empty() || id.len() > 80 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(BusError::InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.".into(),
            ));
        }
        if !seen.insert(*id) {
            return Err(BusError::BatchEntryIdsNotDistinct(format!("Id {id} repeated.")));
        }
    }
    Ok(())
}

fn batch_error(id: &str, error: &BusError) -> BatchResultErrorEntry {
    let (shape, legacy, status) = error::code_of(error);
    let _ = shape;
    BatchResultErrorEntry {
        id: id.to_string(),
        sender_fault: status.is_client_error(),
        code: legacy.to_string(),
        message: Some(error.to_string()),
    }
}

/// Keeps the message attributes and system attributes a receive asked for.
fn filter_message(mut message: Message, attribute_names: &[String], system_names: &[String]) -> Message {
    let wanted = |name: &str| {
        attribute_names
            .iter()
            .any(|n| n == "All" || n == ".*" || n == name || n.strip_suffix(".*").is_some_and(|p| name.starts_with(p)))
    };
    if let Some(attributes) = message.message_attributes.take() {
        let kept: BTreeMap<_, _> = attributes.into_iter().filter(|(name, _)| wanted(name)).collect();
        if kept.is_empty() {
            message.md5_of_message_attributes = None;
        } else {
            message.md5_of_message_attributes = Some(sluice_bus::queues::attributes_digest(&kept));
            message.message_attributes = Some(kept);
        }
    }
    if let Some(system) = message.attributes.take() {
        let kept: BTreeMap<_, _> = system
            .into_iter()
            .filter(|(name, _)| system_names.iter().any(|n| n == "All" || n == name.as_str()))
            .collect();
        if !kept.is_empty() {
            message.attributes = Some(kept);
        }
    }
    message
}

async fn run(
    state: &AppState,
    account: &str,
    operation: &str,
    body: &Bytes,
    base_url: &str,
) -> Result<Response, BusError> {
    let queues = state.bus().queues().clone();
    let account = account.to_string();
    let mut value = body_json(body).map_err(BusError::Validation)?;
    let model = service_model();
    macro_rules! request {
        () => {
            parse(model, operation, value).map_err(BusError::Validation)?
        };
    }
    let url = |name: &str| QueueService::queue_url(base_url, &account, name);
    match operation {
        "CreateQueue" => {
            let attributes = take_string_map(&mut value, "Attributes")?;
            let tags = take_string_map(&mut value, "tags")?;
            let r: CreateQueueRequest = request!();
            queues.create_queue(&account, &r.queue_name, attributes, tags).await?;
            ok(&CreateQueueResult { queue_url: Some(url(&r.queue_name)) })
        }
        "GetQueueUrl" => {
            let r: GetQueueUrlRequest = request!();
            let owner = r.queue_owner_aws_account_id.unwrap_or_else(|| account.clone());
            if owner != account {
                return Err(BusError::QueueDoesNotExist("The specified queue does not exist.".into()));
            }
            queues.queue(&account, &r.queue_name).await?;
            ok(&GetQueueUrlResult { queue_url: Some(url(&r.queue_name)) })
        }
        "ListQueues" => {
            let r: ListQueuesRequest = request!();
            let (names, next_token) = queues
                .list_queues(
                    &account,
                    r.queue_name_prefix.as_deref().unwrap_or(""),
                    r.max_results,
                    r.next_token.as_deref(),
                )
                .await?;
            let urls: Vec<String> = names.iter().map(|n| url(n)).collect();
            ok(&ListQueuesResult { queue_urls: (!urls.is_empty()).then_some(urls), next_token })
        }
        "DeleteQueue" => {
            let r: DeleteQueueRequest = request!();
            queues.delete_queue(&account, &r.queue_url).await?;
            empty()
        }
        "GetQueueAttributes" => {
            let names = take_string_list(&mut value, "AttributeNames");
            let r: GetQueueAttributesRequest = request!();
            let attributes = queues.get_attributes(&account, &r.queue_url, &names).await?;
            ok(&json!({ "Attributes": attributes }))
        }
        "SetQueueAttributes" => {
            let attributes = take_string_map(&mut value, "Attributes")?;
            value["Attributes"] = json!({});
            let r: SetQueueAttributesRequest = request!();
            queues.set_attributes(&account, &r.queue_url, attributes).await?;
            empty()
        }
        "PurgeQueue" => {
            let r: PurgeQueueRequest = request!();
            queues.purge(&account, &r.queue_url).await?;
            empty()
        }
        "SendMessage" => {
            let r: SendMessageRequest = request!();
            let queue = queues.queue_at(&account, &r.queue_url).await?;
            let message = OutgoingMessage {
                body: r.message_body,
                delay_seconds: r.delay_seconds,
                attributes: r.message_attributes.unwrap_or_default(),
            };
            let sent = queues
                .send(&queue, vec![message])
                .await?
                .pop()
                .ok_or_else(|| BusError::Internal("no message sent".into()))?;
            ok(&SendMessageResult {
                md5_of_message_body: Some(sent.md5_of_body),
                md5_of_message_attributes: sent.md5_of_attributes,
                md5_of_message_system_attributes: None,
                message_id: Some(sent.message_id),
                sequence_number: None,
            })
        }
        "SendMessageBatch" => {
            let r: SendMessageBatchRequest = request!();
            check_batch(r.entries.iter().map(|e| e.id.as_str()))?;
            let total: usize = r.entries.iter().map(|e| e.message_body.len()).sum();
            if total > MAX_BATCH_BYTES {
                return Err(BusError::BatchRequestTooLong(format!(
                    "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
                )));
            }
            let queue = queues.queue_at(&account, &r.queue_url).await?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for entry in r.entries {
                let message = OutgoingMessage {
                    body: entry.message_body,
                    delay_seconds: entry.delay_seconds,
                    attributes: entry.message_attributes.unwrap_or_default(),
                };
                match queues.send(&queue, vec![message]).await {
                    Ok(mut sent) => {
                        if let Some(sent) = sent.pop() {
                            successful.push(SendMessageBatchResultEntry {
                                id: entry.id,
                                message_id: sent.message_id,
                                md5_of_message_body: sent.md5_of_body,
                                md5_of_message_attributes: sent.md5_of_attributes,
                                md5_of_message_system_attributes: None,
                                sequence_number: None,
                            });
                        }
                    }
                    Err(e @ (BusError::Store(_) | BusError::Internal(_))) => return Err(e),
                    Err(e) => failed.push(batch_error(&entry.id, &e)),
                }
            }
            ok(&SendMessageBatchResult { successful, failed })
        }
        "ReceiveMessage" => {
            let attribute_names = take_string_list(&mut value, "MessageAttributeNames");
            let mut system_names = take_string_list(&mut value, "MessageSystemAttributeNames");
            system_names.extend(take_string_list(&mut value, "AttributeNames"));
            let r: ReceiveMessageRequest = request!();
            let messages = queues
                .receive(&account, &r.queue_url, r.max_number_of_messages, r.visibility_timeout, r.wait_time_seconds)
                .await?;
            let messages: Vec<Message> =
                messages.into_iter().map(|m| filter_message(m, &attribute_names, &system_names)).collect();
            ok(&ReceiveMessageResult { messages: (!messages.is_empty()).then_some(messages) })
        }
        "DeleteMessage" => {
            let r: DeleteMessageRequest = request!();
            queues.delete_message(&account, &r.queue_url, &r.receipt_handle).await?;
            empty()
        }
        "DeleteMessageBatch" => {
            let r: DeleteMessageBatchRequest = request!();
            check_batch(r.entries.iter().map(|e| e.id.as_str()))?;
            queues.queue_at(&account, &r.queue_url).await?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for entry in r.entries {
                match queues.delete_message(&account, &r.queue_url, &entry.receipt_handle).await {
                    Ok(()) => successful.push(DeleteMessageBatchResultEntry { id: entry.id }),
                    Err(e @ (BusError::Store(_) | BusError::Internal(_))) => return Err(e),
                    Err(e) => failed.push(batch_error(&entry.id, &e)),
                }
            }
            ok(&DeleteMessageBatchResult { successful, failed })
        }
        "ChangeMessageVisibility" => {
            let r: ChangeMessageVisibilityRequest = request!();
            queues.change_visibility(&account, &r.queue_url, &r.receipt_handle, r.visibility_timeout).await?;
            empty()
        }
        "ChangeMessageVisibilityBatch" => {
            let r: ChangeMessageVisibilityBatchRequest = request!();
            check_batch(r.entries.iter().map(|e| e.id.as_str()))?;
            queues.queue_at(&account, &r.queue_url).await?;
            let mut successful = Vec::new();
            let mut failed = Vec::new();
            for entry in r.entries {
                let timeout = entry.visibility_timeout.unwrap_or(0);
                match queues.change_visibility(&account, &r.queue_url, &entry.receipt_handle, timeout).await {
                    Ok(()) => successful.push(ChangeMessageVisibilityBatchResultEntry { id: entry.id }),
                    Err(e @ (BusError::Store(_) | BusError::Internal(_))) => return Err(e),
                    Err(e) => failed.push(batch_error(&entry.id, &e)),
                }
            }
            ok(&ChangeMessageVisibilityBatchResult { successful, failed })
        }
        "TagQueue" => {
            let tags = take_string_map(&mut value, "Tags")?;
            value["Tags"] = json!({});
            let r: TagQueueRequest = request!();
            queues.tag(&account, &r.queue_url, &tags).await?;
            empty()
        }
        "UntagQueue" => {
            let r: UntagQueueRequest = request!();
            queues.untag(&account, &r.queue_url, &r.tag_keys).await?;
            empty()
        }
        "ListQueueTags" => {
            let r: ListQueueTagsRequest = request!();
            let tags = queues.tags(&account, &r.queue_url).await?;
            ok(&ListQueueTagsResult { tags: (!tags.is_empty()).then_some(tags) })
        }
        "ListDeadLetterSourceQueues" => {
            let r: ListDeadLetterSourceQueuesRequest = request!();
            let target = queues.queue_at(&account, &r.queue_url).await?;
            let mut sources = Vec::new();
            for name in queues.names(&account).await? {
                let queue = queues.queue(&account, &name).await?;
                let redrive = queue.attributes.get("RedrivePolicy").and_then(Value::as_str).unwrap_or_default();
                let dlq =
                    serde_json::from_str::<Value>(redrive).ok().and_then(|v| v.get("deadLetterTargetArn").cloned());
                if dlq.as_ref().and_then(Value::as_str) == Some(target.arn.as_str()) {
                    sources.push(url(&name));
                }
            }
            ok(&ListDeadLetterSourceQueuesResult { queue_urls: sources, next_token: None })
        }
        other if model.input_shape(other).is_some() => {
            Err(BusError::Unsupported(format!("SQS operation {other} is not supported by this server yet")))
        }
        other => Err(BusError::UnknownOperation(format!("unknown SQS operation '{other}'"))),
    }
}
