//! Streaming API: CometD (Bayeux 1.0) long polling at `/cometd/{version}`,
//! with the replay extension, for change data capture channels
//! (`/data/ChangeEvents`, `/data/{Object}ChangeEvent`) and platform events
//! (`/event/{Name}__e`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::bearer_session;
use super::org::{Org, StoredEvent};
use super::state::random_token;
use super::SalesforceSim;

/// How long a `/meta/connect` waits for events before answering empty.
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(20);
/// A client that has not connected for this long is forgotten.
pub const CLIENT_IDLE_LIFETIME: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// One CometD client (after handshake).
#[derive(Debug, Clone)]
pub struct CometdClient {
    /// Subscribed channel -> replay id of the last event delivered.
    pub subscriptions: HashMap<String, u64>,
    /// Last request seen.
    pub touched: Instant,
    /// Whether the client has connected since its handshake (the first
    /// `/meta/connect` is answered at once, as CometD servers do).
    pub connected: bool,
}

fn advice() -> Value {
    json!({"reconnect": "retry", "interval": 0, "timeout": LONG_POLL_TIMEOUT.as_millis() as u64})
}

fn reply(message: &Value, extra: Value) -> Value {
    let mut out = json!({"channel": message.get("channel").cloned().unwrap_or(Value::Null)});
    if let Some(id) = message.get("id") {
        out["id"] = id.clone();
    }
    if let Some(client) = message.get("clientId") {
        out["clientId"] = client.clone();
    }
    if let (Value::Object(target), Value::Object(fields)) = (&mut out, extra) {
        target.extend(fields);
    }
    out
}

fn failure(message: &Value, error: &str, reconnect: Option<&str>) -> Value {
    let mut out = reply(message, json!({"successful": false, "error": error}));
    if let Some(reconnect) = reconnect {
        out["advice"] = json!({"reconnect": reconnect, "interval": 0});
    }
    if let Some(subscription) = message.get("subscription") {
        out["subscription"] = subscription.clone();
    }
    out
}

/// Whether `channel` is one a client may subscribe to in this org.
fn channel_exists(org: &Org, channel: &str) -> bool {
    if channel == "/data/ChangeEvents" {
        return true;
    }
    if let Some(entity) = channel.strip_prefix("/data/").and_then(|c| c.strip_suffix("ChangeEvent")) {
        let object = entity.strip_suffix("__").map(|base| format!("{base}__c")).unwrap_or_else(|| entity.to_string());
        return org.object(&object).is_ok();
    }
    if let Some(event) = channel.strip_prefix("/event/") {
        return event.ends_with("__e") && org.object(event).is_ok();
    }
    false
}

fn delivers(subscription: &str, event: &StoredEvent) -> bool {
    event.channel == subscription || (subscription == "/data/ChangeEvents" && event.channel.starts_with("/data/"))
}

/// Where delivery starts for a replay option: -1 new events only, -2 every
/// retained event, N the events after N (N must be retained).
fn replay_start(org: &Org, replay: i64) -> Result<u64, String> {
    let latest = org.next_replay_id.saturating_sub(1);
    let oldest = org.events.front().map(|e| e.replay_id).unwrap_or(org.next_replay_id);
    match replay {
        -1 => Ok(latest),
        -2 => Ok(oldest.saturating_sub(1)),
        n if n >= 0 && (n as u64) <= latest && (n as u64) + 1 >= oldest => Ok(n as u64),
        n => Err(format!(
            "400::The replayId {{{n}}} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
        )),
    }
}

fn event_message(subscription: &str, event: &StoredEvent) -> Value {
    let mut payload = event.payload();
    let schema = format!("sluice-{}", event.channel.trim_start_matches('/').replace('/', "-"));
    let mut event_info = json!({"replayId": event.replay_id});
    if let Some(uuid) = payload.get("EventUuid").cloned() {
        event_info["EventUuid"] = uuid;
        if let Value::Object(map) = &mut payload {
            map.remove("EventUuid");
        }
    }
    json!({
        "channel": subscription,
        "data": {"schema": schema, "payload": payload, "event": event_info},
    })
}

/// `POST /cometd/{version}`: a batch of Bayeux messages.
pub async fn cometd(State(sim): State<SalesforceSim>, headers: HeaderMap, body: String) -> Response {
    if bearer_session(&sim, &headers).is_err() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!([{"error": "401::Authentication invalid", "successful": false}])),
        )
            .into_response();
    }
    let messages: Vec<Value> = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        Ok(single @ Value::Object(_)) => vec![single],
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!([{"error": "400::Malformed Bayeux message", "successful": false}])),
            )
                .into_response()
        }
    };
    let mut out = Vec::new();
    for message in &messages {
        let channel = message.get("channel").and_then(Value::as_str).unwrap_or("");
        match channel {
            "/meta/handshake" => out.push(handshake(&sim, message)),
            "/meta/subscribe" => out.push(subscribe(&sim, message)),
            "/meta/unsubscribe" => out.push(unsubscribe(&sim, message)),
            "/meta/disconnect" => {
                if let Some(client) = message.get("clientId").and_then(Value::as_str) {
                    sim.lock().cometd_clients.remove(client);
                }
                out.push(reply(message, json!({"successful": true})));
            }
            "/meta/connect" => out.extend(connect(&sim, message).await),
            other => out.push(failure(message, &format!("403::Publishing to {other} is not supported"), None)),
        }
    }
    Json(Value::Array(out)).into_response()
}

fn handshake(sim: &SalesforceSim, message: &Value) -> Value {
    let client_id = random_token(28).replace(['.', '_'], "x");
    let mut state = sim.lock();
    state.cometd_clients.retain(|_, c| c.touched.elapsed() < CLIENT_IDLE_LIFETIME);
    state.cometd_clients.insert(
        client_id.clone(),
        CometdClient { subscriptions: HashMap::new(), touched: Instant::now(), connected: false },
    );
    let mut out = reply(
        message,
        json!({
            "version": "1.0",
            "minimumVersion": "1.0",
            "supportedConnectionTypes": ["long-polling"],
            "successful": true,
            "clientId": client_id,
            "advice": advice(),
            "ext": {"replay": true, "payload.format": true},
        }),
    );
    out["clientId"] = json!(client_id);
    out
}

fn subscribe(sim: &SalesforceSim, message: &Value) -> Value {
    let client_id = message.get("clientId").and_then(Value::as_str).unwrap_or("");
    let Some(subscription) = message.get("subscription").and_then(Value::as_str) else {
        return failure(message, "400::subscription is required", None);
    };
    let mut state = sim.lock();
    if !state.cometd_clients.contains_key(client_id) {
        return failure(message, "403::Unknown client", Some("handshake"));
    }
    if !channel_exists(&state.org, subscription) {
        return failure(
            message,
            &format!("400::The channel you requested to subscribe to does not exist {{{subscription}}}"),
            None,
        );
    }
    let replay = message
        .get("ext")
        .and_then(|e| e.get("replay"))
        .and_then(|r| r.get(subscription))
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    let start = match replay_start(&state.org, replay) {
        Ok(start) => start,
        Err(error) => return failure(message, &error, None),
    };
    if let Some(client) = state.cometd_clients.get_mut(client_id) {
        client.subscriptions.insert(subscription.to_string(), start);
        client.touched = Instant::now();
    }
    reply(message, json!({"successful": true, "subscription": subscription}))
}

fn unsubscribe(sim: &SalesforceSim, message: &Value) -> Value {
    let client_id = message.get("clientId").and_then(Value::as_str).unwrap_or("");
    let subscription = message.get("subscription").and_then(Value::as_str).unwrap_or("");
    let mut state = sim.lock();
    match state.cometd_clients.get_mut(client_id) {
        Some(client) => {
            client.subscriptions.remove(subscription);
            reply(message, json!({"successful": true, "subscription": subscription}))
        }
        None => failure(message, "403::Unknown client", Some("handshake")),
    }
}

/// Collects undelivered events for a client and advances its positions.
fn take_events(sim: &SalesforceSim, client_id: &str) -> Option<Vec<Value>> {
    let mut state = sim.lock();
    let state = &mut *state;
    let client = state.cometd_clients.get_mut(client_id)?;
    client.touched = Instant::now();
    let mut messages = Vec::new();
    for (subscription, position) in client.subscriptions.iter_mut() {
        let from = *position;
        for event in state.org.events.iter().filter(|e| e.replay_id > from && delivers(subscription, e)) {
            messages.push((event.replay_id, event_message(subscription, event)));
            *position = (*position).max(event.replay_id);
        }
    }
    messages.sort_by_key(|(replay_id, _)| *replay_id);
    Some(messages.into_iter().map(|(_, m)| m).collect())
}

/// `/meta/connect`: held until events come or the long poll ends. A
/// client's first connect after its handshake is answered at once (clients
/// wait for it before they subscribe), and a connect whose
/// `advice.timeout` is shorter (the CometD JavaScript client sends `0`) is
/// held that long at most.
async fn connect(sim: &SalesforceSim, message: &Value) -> Vec<Value> {
    let client_id = message.get("clientId").and_then(Value::as_str).unwrap_or("").to_string();
    let first = match sim.lock().cometd_clients.get_mut(&client_id) {
        Some(client) => !std::mem::replace(&mut client.connected, true),
        None => false,
    };
    let hold = message
        .pointer("/advice/timeout")
        .and_then(Value::as_u64)
        .map(|ms| Duration::from_millis(ms).min(LONG_POLL_TIMEOUT))
        .unwrap_or(if first { Duration::ZERO } else { LONG_POLL_TIMEOUT });
    let deadline = Instant::now() + hold;
    loop {
        let Some(events) = take_events(sim, &client_id) else {
            return vec![failure(message, "403::Unknown client", Some("handshake"))];
        };
        if !events.is_empty() || Instant::now() >= deadline {
            let mut out = events;
            out.push(reply(message, json!({"successful": true, "advice": advice()})));
            return out;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_options() {
        let mut org = Org::new();
        let now = time::OffsetDateTime::now_utc();
        for _ in 0..3 {
            org.publish("/event/X__e".into(), json!({}), now);
        }
        let latest = org.next_replay_id - 1;
        assert_eq!(replay_start(&org, -1), Ok(latest));
        assert_eq!(replay_start(&org, -2), Ok(org.events.front().unwrap().replay_id - 1));
        assert_eq!(replay_start(&org, latest as i64 - 1), Ok(latest - 1));
        assert!(replay_start(&org, latest as i64 + 5).unwrap_err().starts_with("400::The replayId"));
    }

    #[test]
    fn change_event_channels() {
        let mut org = Org::new();
        super::super::seed::define_demo_objects(&mut org);
        assert!(channel_exists(&org, "/data/ChangeEvents"));
        assert!(channel_exists(&org, "/data/AccountChangeEvent"));
        assert!(channel_exists(&org, "/data/Holiday__ChangeEvent"));
        assert!(channel_exists(&org, "/event/Holiday_Event__e"));
        assert!(!channel_exists(&org, "/data/ShoeChangeEvent"));
        assert!(!channel_exists(&org, "/topic/whatever"));
        let event = StoredEvent {
            replay_id: 1,
            channel: "/data/AccountChangeEvent".into(),
            payload: serde_json::value::to_raw_value(&json!({})).unwrap(),
            created_ms: 0,
        };
        assert!(delivers("/data/ChangeEvents", &event));
        assert!(!delivers("/data/ContactChangeEvent", &event));
    }
}
