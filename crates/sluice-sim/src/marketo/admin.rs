//! The simulator's admin API under `/__sim` (not part of Marketo): health,
//! settings, API clients, token expiry, usage counters, statistics and
//! generated leads.
//! Bind the simulator to a local address; this API has no authentication.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::MktoError;
use super::seed::generate_leads;
use super::state::{SimConfig, Usage};
use super::time_format::now_secs;
use super::MarketoSim;

/// Routes of the admin API.
pub fn routes() -> Router<MarketoSim> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/config", get(get_config).put(put_config))
        .route("/expire-tokens", post(expire_tokens))
        .route("/reset-usage", post(reset_usage))
        .route("/stats", get(stats))
        .route("/generate", post(generate))
        .route("/clients", post(add_client))
}

/// A LaunchPoint API client to add.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewClient {
    client_id: String,
    client_secret: String,
}

/// Adds (or replaces) an API client, so tests can use credentials of their own.
async fn add_client(State(sim): State<MarketoSim>, Json(client): Json<NewClient>) -> Json<Value> {
    let mut state = sim.lock();
    let api_user = super::state::DEMO_API_USER.to_string();
    state.clients.insert(
        client.client_id.clone(),
        super::state::ApiClient { client_id: client.client_id.clone(), client_secret: client.client_secret, api_user },
    );
    Json(json!({"clientId": client.client_id}))
}

async fn get_config(State(sim): State<MarketoSim>) -> Json<SimConfig> {
    Json(sim.lock().config.clone())
}

/// Merges the given members into the settings (unknown members are refused).
async fn put_config(State(sim): State<MarketoSim>, Json(changes): Json<Map<String, Value>>) -> Response {
    let mut state = sim.lock();
    let mut merged = match serde_json::to_value(&state.config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (name, value) in changes {
        if !merged.contains_key(&name) {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": format!("unknown setting '{name}'")})))
                .into_response();
        }
        merged.insert(name, value);
    }
    match serde_json::from_value::<SimConfig>(Value::Object(merged)) {
        Ok(config) => {
            tracing::info!(?config, "marketo simulator settings changed");
            state.config = config.clone();
            Json(config).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

#[derive(Deserialize, Default)]
struct ExpireRequest {
    /// Milliseconds the tokens keep working (0: expire now).
    #[serde(default)]
    after_ms: u64,
}

/// Makes every live token expire now or after `after_ms` (clients then get
/// 602 and must ask the identity endpoint for a new one).
async fn expire_tokens(State(sim): State<MarketoSim>, body: Option<Json<ExpireRequest>>) -> Json<Value> {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_millis(request.after_ms);
    let mut state = sim.lock();
    let mut count = 0;
    for token in state.tokens.values_mut().filter(|t| t.expires_at > deadline) {
        token.expires_at = deadline;
        count += 1;
    }
    Json(json!({"expired": count}))
}

/// Clears the rate-limit window, the daily count and the error counts.
async fn reset_usage(State(sim): State<MarketoSim>) -> StatusCode {
    let mut state = sim.lock();
    let tokens_issued = state.usage.tokens_issued;
    let in_flight = state.usage.in_flight;
    state.usage = Usage { tokens_issued, in_flight, ..Usage::default() };
    StatusCode::NO_CONTENT
}

async fn stats(State(sim): State<MarketoSim>) -> Json<Value> {
    let state = sim.lock();
    Json(json!({
        "leads": state.db.leads.len(),
        "activities": state.db.activities.len(),
        "exportJobs": state.exports.jobs.len(),
        "tokensIssued": state.usage.tokens_issued,
        "callsToday": state.usage.day_calls,
        "callsInWindow": state.usage.window.len(),
        "errors": state.usage.errors,
    }))
}

#[derive(Deserialize)]
struct GenerateRequest {
    count: usize,
    #[serde(default)]
    fields: Map<String, Value>,
}

/// Adds generated leads (with New Lead activities), optionally with some
/// field values fixed, e.g. `{"count": 450, "fields": {"region": "TEST"}}`.
async fn generate(State(sim): State<MarketoSim>, Json(request): Json<GenerateRequest>) -> Response {
    let mut state = sim.lock();
    match generate_leads(&mut state.db, request.count, &request.fields, now_secs()) {
        Ok(ids) => {
            state.dirty = true;
            let body = json!({"created": ids.len(), "firstId": ids.first(), "lastId": ids.last()});
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(MktoError { code, message }) => {
            (StatusCode::BAD_REQUEST, Json(json!({"error": message, "code": code}))).into_response()
        }
    }
}
