//! The Streaming API (CometD / Bayeux 1.0 long polling with the replay
//! extension) as an [`EventSubscription`]: one task per subscription
//! handshakes, subscribes to the channel from a replay id and keeps a
//! `/meta/connect` long poll open, handing events over a bounded channel
//! (when the engine falls behind, the poll waits and Salesforce keeps the
//! events). A connection that drops or a server that forgets the client
//! (`403::Unknown client`, advice `handshake`) is handled by handshaking
//! again and resubscribing after the last event delivered, so nothing is
//! skipped or repeated; failures back off from 1 s to a minute.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::client::{SalesforceClient, API_VERSION};
use crate::events::{ChannelEvent, EventStart, EventSubscription};
use crate::ConnectorError;

const SYSTEM: &str = "Salesforce";
/// How long a `/meta/connect` may be held (Salesforce holds it up to 110 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(130);
/// Other Bayeux calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Events delivered but not yet taken by the engine.
const BUFFERED_EVENTS: usize = 2_000;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The replay option for "every retained event".
pub const REPLAY_ALL_RETAINED: i64 = -2;

/// A subscription to a Streaming API channel.
pub struct CometdSubscription {
    events: mpsc::Receiver<Result<ChannelEvent, ConnectorError>>,
    task: tokio::task::JoinHandle<()>,
}

impl CometdSubscription {
    /// Subscribes to `channel` (`/data/AccountChangeEvent`,
    /// `/event/Holiday_Event__e`) from `start`: after its replay id, or
    /// every retained event at or after `since_ms`.
    pub fn start(client: Arc<SalesforceClient>, channel: String, start: EventStart) -> Self {
        let replay = start.checkpoint.as_ref().and_then(|c| c.get("replayId")).and_then(Value::as_i64);
        let session = Session {
            client,
            channel,
            replay: replay.unwrap_or(REPLAY_ALL_RETAINED),
            since_ms: if replay.is_some() { None } else { start.since_ms },
        };
        let (sender, events) = mpsc::channel(BUFFERED_EVENTS);
        let task = tokio::spawn(session.run(sender));
        Self { events, task }
    }
}

impl Drop for CometdSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait::async_trait]
impl EventSubscription for CometdSubscription {
    async fn next_event(&mut self, wait: Duration) -> Result<Option<ChannelEvent>, ConnectorError> {
        match tokio::time::timeout(wait, self.events.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(event)) => event.map(Some),
            Ok(None) => Err(ConnectorError::Protocol { system: SYSTEM, message: "the subscription ended".into() }),
        }
    }
}

/// Why a session ended.
enum Ended {
    /// The engine dropped the subscription.
    Closed,
    /// The server forgot the client: handshake again at once.
    Rehandshake,
    /// A transient failure: handshake again after a backoff.
    Failed(ConnectorError),
    /// A failure retrying cannot fix.
    Fatal(ConnectorError),
}

struct Session {
    client: Arc<SalesforceClient>,
    channel: String,
    /// The replay id of the last event delivered (or a replay option).
    replay: i64,
    /// Events before this time are not delivered (ms).
    since_ms: Option<i64>,
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Protocol { system: SYSTEM, message: message.into() }
}

fn path() -> String {
    format!("/cometd/{API_VERSION}")
}

/// The answer to the message with `channel` in a Bayeux response.
fn reply<'a>(messages: &'a [Value], channel: &str) -> Option<&'a Value> {
    messages.iter().find(|m| m.get("channel").and_then(Value::as_str) == Some(channel))
}

fn successful(message: &Value) -> bool {
    message.get("successful").and_then(Value::as_bool).unwrap_or(false)
}

fn error_text(message: &Value) -> String {
    message.get("error").and_then(Value::as_str).unwrap_or("no error given").to_string()
}

fn advises_handshake(message: &Value) -> bool {
    message.pointer("/advice/reconnect").and_then(Value::as_str) == Some("handshake")
        || error_text(message).starts_with("403::Unknown client")
}

/// When an event happened (ms): a change event's commit, a platform event's creation.
fn event_time_ms(data: &Value) -> Option<i64> {
    let payload = data.get("payload")?;
    if let Some(commit) = payload.pointer("/ChangeEventHeader/commitTimestamp").and_then(Value::as_i64) {
        return Some(commit);
    }
    let created = payload.get("CreatedDate").and_then(Value::as_str)?;
    parse_datetime(created).map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// `2026-12-01T12:00:00.000+0000` (Salesforce's form) or RFC 3339.
fn parse_datetime(text: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let split = text.len().checked_sub(5)?;
    let (head, offset) = text.split_at(split);
    if !(offset.starts_with('+') || offset.starts_with('-')) {
        return None;
    }
    time::OffsetDateTime::parse(&format!("{head}{}:{}", &offset[..3], &offset[3..]), &Rfc3339).ok()
}

impl Session {
    async fn run(mut self, sender: mpsc::Sender<Result<ChannelEvent, ConnectorError>>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.session(&sender, &mut backoff).await {
                Ended::Closed => return,
                Ended::Rehandshake => {
                    tracing::info!(channel = %self.channel, replay = self.replay, "streaming client forgotten; handshaking again");
                }
                Ended::Failed(error) => {
                    tracing::warn!(channel = %self.channel, error = %error, retry_in_s = backoff.as_secs(), "streaming connection failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Ended::Fatal(error) => {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            }
        }
    }

    async fn call(&self, messages: Value, timeout: Duration) -> Result<Vec<Value>, Ended> {
        match self.client.post_json_once(&path(), &messages, timeout).await {
            Ok(Value::Array(messages)) => Ok(messages),
            Ok(other) => Err(Ended::Failed(protocol(format!("a Bayeux answer that is not a list: {other}")))),
            Err(error @ (ConnectorError::ReauthRequired(_) | ConnectorError::Authentication(_))) => {
                Err(Ended::Fatal(error))
            }
            Err(error) => Err(Ended::Failed(error)),
        }
    }

    /// One client session: handshake, subscribe, connect until it ends.
    async fn session(
        &mut self,
        sender: &mpsc::Sender<Result<ChannelEvent, ConnectorError>>,
        backoff: &mut Duration,
    ) -> Ended {
        let handshake = json!([{"channel": "/meta/handshake", "version": "1.0", "minimumVersion": "1.0",
                                "supportedConnectionTypes": ["long-polling"], "ext": {"replay": true}}]);
        let answer = match self.call(handshake, CALL_TIMEOUT).await {
            Ok(answer) => answer,
            Err(ended) => return ended,
        };
        let Some(shake) = reply(&answer, "/meta/handshake").filter(|m| successful(m)) else {
            let error = reply(&answer, "/meta/handshake").map(error_text).unwrap_or_default();
            return Ended::Failed(protocol(format!("handshake refused: {error}")));
        };
        let Some(client_id) = shake.get("clientId").and_then(Value::as_str).map(str::to_string) else {
            return Ended::Failed(protocol("handshake without a clientId"));
        };
        if let Err(ended) = self.subscribe(&client_id).await {
            return ended;
        }
        tracing::info!(channel = %self.channel, replay = self.replay, "subscribed to the streaming channel");
        loop {
            let connect =
                json!([{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling"}]);
            let answer = match self.call(connect, CONNECT_TIMEOUT).await {
                Ok(answer) => answer,
                Err(ended) => return ended,
            };
            for message in &answer {
                let channel = message.get("channel").and_then(Value::as_str).unwrap_or("");
                if channel == "/meta/connect" {
                    if !successful(message) {
                        if advises_handshake(message) {
                            return Ended::Rehandshake;
                        }
                        return Ended::Failed(protocol(format!("connect refused: {}", error_text(message))));
                    }
                    *backoff = FIRST_BACKOFF;
                    continue;
                }
                if channel != self.channel {
                    continue;
                }
                let Some(data) = message.get("data") else { continue };
                let Some(replay_id) = data.pointer("/event/replayId").and_then(Value::as_i64) else {
                    return Ended::Fatal(protocol(format!("an event on {channel} without a replay id")));
                };
                if replay_id <= self.replay && self.replay >= 0 {
                    continue; // already delivered (a resubscription's overlap)
                }
                self.replay = replay_id;
                if let (Some(since), Some(at)) = (self.since_ms, event_time_ms(data)) {
                    if at < since {
                        continue; // before the flow was activated
                    }
                }
                let event = ChannelEvent { checkpoint: json!({"replayId": replay_id}), record: data.clone() };
                if sender.send(Ok(event)).await.is_err() {
                    return Ended::Closed;
                }
            }
        }
    }

    async fn subscribe(&mut self, client_id: &str) -> Result<(), Ended> {
        loop {
            let message = json!([{"channel": "/meta/subscribe", "clientId": client_id, "subscription": self.channel,
                                  "ext": {"replay": {self.channel.clone(): self.replay}}}]);
            let answer = self.call(message, CALL_TIMEOUT).await?;
            let Some(reply) = reply(&answer, "/meta/subscribe") else {
                return Err(Ended::Failed(protocol("no answer to the subscription")));
            };
            if successful(reply) {
                return Ok(());
            }
            let error = error_text(reply);
            if advises_handshake(reply) {
                return Err(Ended::Rehandshake);
            }
            if error.contains("replayId") && self.replay >= 0 {
                // Salesforce keeps events 72 hours: what came after this id and
                // was not delivered before it expired cannot be read any more.
                tracing::error!(channel = %self.channel, replay = self.replay, %error,
                    "the last delivered replay id is no longer retained; resubscribing to every retained event (events in between are lost)");
                self.replay = REPLAY_ALL_RETAINED;
                continue;
            }
            return Err(Ended::Fatal(ConnectorError::Invalid(format!(
                "cannot subscribe to {}: {error}",
                self.channel
            ))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_come_from_the_commit_or_the_creation() {
        let change = json!({"payload": {"ChangeEventHeader": {"commitTimestamp": 1_700_000_000_123_i64}}});
        assert_eq!(event_time_ms(&change), Some(1_700_000_000_123));
        let platform = json!({"payload": {"CreatedDate": "2026-12-01T12:00:00.000+0000"}});
        assert_eq!(event_time_ms(&platform), Some(1_796_126_400_000));
        assert_eq!(event_time_ms(&json!({"payload": {}})), None);
    }

    #[test]
    fn the_server_forgetting_a_client_means_a_new_handshake() {
        assert!(advises_handshake(&json!({"successful": false, "error": "403::Unknown client"})));
        assert!(advises_handshake(&json!({"successful": false, "advice": {"reconnect": "handshake"}})));
        assert!(!advises_handshake(&json!({"successful": false, "error": "400::bad"})));
    }
}
