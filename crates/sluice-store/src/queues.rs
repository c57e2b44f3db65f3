//! The queue service's store (SQS): queues with their attributes, and
//! messages with their visibility, receive counts and receipt handles.

use serde_json::Value;

use crate::{Page, PageRequest, StoreResult};

/// A stored queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    /// Owning account.
    pub account_id: String,
    /// Queue name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The queue's settable attributes (SQS names and string values).
    pub attributes: Value,
    /// Creation time (ms).
    pub created_at_ms: i64,
    /// Last attribute change (ms).
    pub updated_at_ms: i64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Unique message id.
    pub message_id: String,
    /// Owning account.
    pub account_id: String,
    /// The queue it is in.
    pub queue_name: String,
    /// The body as sent.
    pub body: String,
    /// Message attributes, digests and the sender, as JSON.
    pub attributes: Value,
    /// When it was sent (ms).
    pub sent_at_ms: i64,
    /// When it becomes visible again (ms).
    pub visible_at_ms: i64,
    /// How many times it was received.
    pub receive_count: i64,
    /// The handle of its latest receive.
    pub receipt_handle: Option<String>,
    /// When it was first received (ms).
    pub first_received_at_ms: Option<i64>,
}

/// Where messages received too often go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The dead-letter queue's name (same account).
    pub dead_letter_queue: String,
    /// Receives after which a message moves there instead of being returned.
    pub max_receive_count: i64,
}

/// Counts of a queue's messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Visible now.
    pub visible: u64,
    /// Received and not yet visible again.
    pub in_flight: u64,
    /// Sent with a delay that has not passed.
    pub delayed: u64,
}

/// The store of the queue service.
#[async_trait::async_trait]
pub trait QueueStore: Send + Sync {
    /// Stores a new queue; `AlreadyExists` if the name is taken.
    async fn create_queue(&self, queue: &QueueRow) -> StoreResult<()>;
    /// A queue.
    async fn get_queue(&self, account_id: &str, name: &str) -> StoreResult<Option<QueueRow>>;
    /// Queues whose names start with `prefix`, by name, a page at a time.
    async fn list_queues(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<QueueRow>>;
    /// Replaces a queue's attributes; `NotFound` if missing.
    async fn set_queue_attributes(
        &self,
        account_id: &str,
        name: &str,
        attributes: &Value,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Deletes a queue and its messages; `NotFound` if missing.
    async fn delete_queue(&self, account_id: &str, name: &str) -> StoreResult<()>;

    /// Stores messages in one transaction.
    async fn send_messages(&self, messages: &[MessageRow]) -> StoreResult<()>;
    /// Receives up to `max` visible messages, oldest first, hiding each
    /// until `now_ms + visibility_ms` under a new receipt handle. With a
    /// `redrive`, a message already received `max_receive_count` times
    /// moves to the dead-letter queue instead. Concurrent receivers never
    /// get the same message while it is hidden.
    async fn receive_messages(
        &self,
        account_id: &str,
        queue_name: &str,
        now_ms: i64,
        visibility_ms: i64,
        max: usize,
        redrive: Option<&Redrive>,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Deletes the message last received with this handle; false when no
    /// message has it (deleted already, or received again since).
    async fn delete_message(&self, account_id: &str, queue_name: &str, receipt_handle: &str) -> StoreResult<bool>;
    /// Sets when the message last received with this handle becomes
    /// visible; false when no message has it.
    async fn change_visibility(
        &self,
        account_id: &str,
        queue_name: &str,
        receipt_handle: &str,
        visible_at_ms: i64,
    ) -> StoreResult<bool>;
    /// Deletes every message of a queue.
    async fn purge_queue(&self, account_id: &str, queue_name: &str) -> StoreResult<u64>;
    /// Deletes a queue's messages sent before `sent_before_ms` (retention).
    async fn expire_messages(&self, account_id: &str, queue_name: &str, sent_before_ms: i64) -> StoreResult<u64>;
    /// A queue's message counts at `now_ms`.
    async fn queue_counts(&self, account_id: &str, queue_name: &str, now_ms: i64) -> StoreResult<QueueCounts>;
    /// Messages of a queue without receiving them (oldest first), for
    /// operators: `dlq list`.
    async fn peek_messages(&self, account_id: &str, queue_name: &str, max: usize) -> StoreResult<Vec<MessageRow>>;
    /// Moves messages to another queue, visible at once and counted as never
    /// received (a redrive); returns how many moved.
    async fn move_messages(
        &self,
        account_id: &str,
        from_queue: &str,
        to_queue: &str,
        message_ids: &[String],
        now_ms: i64,
    ) -> StoreResult<u64>;
}
