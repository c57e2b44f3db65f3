//! Event sources: a subscription to an app's stream of events (Salesforce
//! change data capture and platform events), which the engine's listener
//! reads between runs and hands to runs in micro-batches.
//!
//! Each event carries a checkpoint: the position to resubscribe from so
//! that the stream continues right after it. The engine stores the last
//! event's checkpoint only after the run that delivered it committed, and
//! resubscribes from it after a restart, so no event is lost or delivered
//! twice.

use std::time::Duration;

use serde_json::Value;

use crate::ConnectorError;

/// One event of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelEvent {
    /// Where to resubscribe to continue right after this event (Salesforce:
    /// `{"replayId": N}`).
    pub checkpoint: Value,
    /// The event as the source's runs read it (passed back in
    /// [`ReadRequest::events`](crate::plane::ReadRequest::events)).
    pub record: Value,
}

/// Where a subscription starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventStart {
    /// The checkpoint of the last event delivered and committed: the stream
    /// continues after it.
    pub checkpoint: Option<Value>,
    /// Without a checkpoint: every event still retained that happened at or
    /// after this time (ms; when the flow was activated).
    pub since_ms: Option<i64>,
}

/// A live subscription. Transient failures (a dropped connection, the
/// server forgetting the client) are handled inside: it reconnects with
/// backoff and resumes after the last event it delivered.
#[async_trait::async_trait]
pub trait EventSubscription: Send {
    /// The next event, waiting at most `wait`; `None` when none came in
    /// time. An error is final (refused credentials, a channel that does
    /// not exist).
    async fn next_event(&mut self, wait: Duration) -> Result<Option<ChannelEvent>, ConnectorError>;
}
