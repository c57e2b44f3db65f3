//! The simulator's admin API under `/__sim` (not part of Salesforce): fault
//! injection, settings, custom objects, users, connected apps, token
//! minting and expiry, and synthetic data. Bind the simulator to a local
//! address; this API has no authentication.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::SfError;
use super::schema::CustomObjectSpec;
use super::state::{ConnectedApp, FaultRule, SimConfig, SimUser};
use super::SalesforceSim;

/// Routes of the admin API.
pub fn routes() -> Router<SalesforceSim> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/config", get(get_config).put(put_config))
        .route("/faults", get(get_faults).put(put_faults).delete(clear_faults))
        .route("/objects", post(define_object))
        .route("/users", post(add_user))
        .route("/apps", post(add_app))
        .route("/tokens", post(mint_tokens))
        .route("/expire-sessions", post(expire_sessions))
        .route("/reset-api-usage", post(reset_api_usage))
        .route("/generate", post(generate))
        .route("/events", get(list_events))
}

async fn get_config(State(sim): State<SalesforceSim>) -> Json<SimConfig> {
    Json(sim.lock().config.clone())
}

async fn put_config(State(sim): State<SalesforceSim>, Json(config): Json<SimConfig>) -> Json<SimConfig> {
    sim.lock().config = config.clone();
    Json(config)
}

async fn get_faults(State(sim): State<SalesforceSim>) -> Json<Vec<FaultRule>> {
    Json(sim.lock().faults.clone())
}

async fn put_faults(State(sim): State<SalesforceSim>, Json(rules): Json<Vec<FaultRule>>) -> Json<Vec<FaultRule>> {
    sim.lock().faults = rules.clone();
    Json(rules)
}

async fn clear_faults(State(sim): State<SalesforceSim>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn define_object(State(sim): State<SalesforceSim>, Json(spec): Json<CustomObjectSpec>) -> Response {
    let mut state = sim.lock();
    match state.org.define_custom_object(spec) {
        Ok(def) => {
            let body = def.describe("62.0");
            state.dirty = true;
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    security_token: String,
    #[serde(default)]
    first_name: Option<String>,
    last_name: String,
    email: String,
}

async fn add_user(State(sim): State<SalesforceSim>, Json(user): Json<NewUser>) -> Response {
    let mut state = sim.lock();
    let mut fields = Map::new();
    fields.insert("Username".into(), json!(user.username));
    fields.insert("LastName".into(), json!(user.last_name));
    fields.insert("FirstName".into(), json!(user.first_name));
    fields.insert("Email".into(), json!(user.email));
    match state.org.create("User", &fields, None) {
        Ok(user_id) => {
            let record = SimUser {
                username: user.username.clone(),
                password: user.password,
                security_token: user.security_token,
                user_id: user_id.clone(),
            };
            state.users.insert(user.username.to_ascii_lowercase(), record);
            state.dirty = true;
            (StatusCode::CREATED, Json(json!({"id": user_id}))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn add_app(State(sim): State<SalesforceSim>, Json(app): Json<ConnectedApp>) -> StatusCode {
    sim.lock().apps.insert(app.client_id.clone(), app);
    StatusCode::CREATED
}

#[derive(Deserialize)]
struct MintRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    /// Use this access token value instead of a random one.
    #[serde(default)]
    access_token: Option<String>,
    /// Use this refresh token value instead of a random one.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Mints an access token and a refresh token, as an authorization-code
/// login would, without the browser step (with the values asked for, if any).
async fn mint_tokens(State(sim): State<SalesforceSim>, Json(request): Json<MintRequest>) -> Response {
    let mut state = sim.lock();
    let username = request.username.unwrap_or_else(|| super::state::DEMO_USERNAME.to_string());
    let client_id = request.client_id.unwrap_or_else(|| super::state::DEMO_CLIENT_ID.to_string());
    let Some(user) = state.users.get(&username.to_ascii_lowercase()).cloned() else {
        return SfError::bad_request("INVALID_LOGIN", format!("no user {username}")).into_response();
    };
    if !state.apps.contains_key(&client_id) {
        return SfError::bad_request("INVALID_CLIENT", format!("no connected app {client_id}")).into_response();
    }
    let access_token = match request.access_token {
        Some(token) => state.add_session(token, &user),
        None => state.new_session(&user),
    };
    let refresh_token = match request.refresh_token {
        Some(token) => state.add_refresh_token(token, &user.username, &client_id),
        None => state.new_refresh_token(&user.username, &client_id),
    };
    let base = sim.base_url();
    Json(json!({"access_token": access_token, "refresh_token": refresh_token, "instance_url": base})).into_response()
}

/// Ends every session now (clients then get `INVALID_SESSION_ID`).
async fn expire_sessions(State(sim): State<SalesforceSim>) -> Json<Value> {
    let mut state = sim.lock();
    let count = state.sessions.len();
    state.sessions.clear();
    Json(json!({"expired": count}))
}

async fn reset_api_usage(State(sim): State<SalesforceSim>) -> StatusCode {
    sim.lock().api_calls = 0;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct GenerateRequest {
    object: String,
    count: usize,
}

async fn generate(State(sim): State<SalesforceSim>, Json(request): Json<GenerateRequest>) -> Response {
    let mut state = sim.lock();
    let result = match request.object.to_ascii_lowercase().as_str() {
        "lead" => Ok(super::seed::generate_leads(&mut state.org, request.count)),
        _ => Err(SfError::bad_request("INVALID_TYPE", "the generator makes Lead records")),
    };
    match result {
        Ok(count) => {
            state.dirty = true;
            (StatusCode::CREATED, Json(json!({"created": count}))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn list_events(State(sim): State<SalesforceSim>) -> Json<Value> {
    let state = sim.lock();
    let events: Vec<Value> = state
        .org
        .events
        .iter()
        .rev()
        .take(100)
        .map(|e| json!({"replayId": e.replay_id, "channel": e.channel, "payload": e.payload()}))
        .collect();
    Json(Value::Array(events))
}
