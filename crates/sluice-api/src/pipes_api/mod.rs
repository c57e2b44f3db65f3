//! EventBridge Pipes' REST-JSON API (botocore model `pipes` 2015-10-07, see
//! `crates/sluice-model/models/README.md`) under `/v1/pipes`, signed for
//! `pipes`: each route a call to the [`PipeService`](sluice_pipes::PipeService)
//! in the caller's account.

mod error;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_iam::Caller;
use sluice_model::pipes::{self as wire, service_model};
use sluice_pipes::PipesError;

use crate::json_protocol::{answer, body_json, parse};
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/json";

/// The Pipes routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/pipes", get(list_pipes))
        .route("/v1/pipes/{name}", post(create_pipe).get(describe_pipe).put(update_pipe).delete(delete_pipe))
        .route("/v1/pipes/{name}/start", post(start_pipe))
        .route("/v1/pipes/{name}/stop", post(stop_pipe))
}

fn respond<T: Serialize>(result: Result<T, PipesError>) -> Response {
    match result {
        Ok(value) => answer(CONTENT_TYPE, &value),
        Err(e) => error::render(e),
    }
}

fn request<T: serde::de::DeserializeOwned>(operation: &str, value: Value) -> Result<T, PipesError> {
    parse(service_model(), operation, value).map_err(|p| PipesError::Validation(p.to_string()))
}

fn with_name(body: &Bytes, name: &str) -> Result<Value, PipesError> {
    let mut value = body_json(body).map_err(|p| PipesError::Validation(p.to_string()))?;
    value["Name"] = Value::String(name.to_string());
    Ok(value)
}

async fn create_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let run = async {
        let input: wire::CreatePipeRequest = request("CreatePipe", with_name(&body, &name)?)?;
        state.pipes().create_pipe(&caller.account_id, input).await
    };
    respond(run.await)
}

async fn describe_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = async {
        let _: wire::DescribePipeRequest = request("DescribePipe", json!({"Name": name}))?;
        state.pipes().describe_pipe(&caller.account_id, &name).await
    };
    respond(run.await)
}

async fn update_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let run = async {
        let input: wire::UpdatePipeRequest = request("UpdatePipe", with_name(&body, &name)?)?;
        state.pipes().update_pipe(&caller.account_id, input).await
    };
    respond(run.await)
}

async fn delete_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = async {
        let _: wire::DeletePipeRequest = request("DeletePipe", json!({"Name": name}))?;
        state.pipes().delete_pipe(&caller.account_id, &name).await
    };
    respond(run.await)
}

async fn start_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = async {
        let _: wire::StartPipeRequest = request("StartPipe", json!({"Name": name}))?;
        state.pipes().set_state(&caller.account_id, &name, true).await
    };
    respond(run.await)
}

async fn stop_pipe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = async {
        let _: wire::StopPipeRequest = request("StopPipe", json!({"Name": name}))?;
        state.pipes().set_state(&caller.account_id, &name, false).await
    };
    respond(run.await)
}

async fn list_pipes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let run = async {
        let mut value = json!({});
        for (key, text) in sluice_model::query_protocol::form_pairs(query.as_deref().unwrap_or_default()) {
            value[key.as_str()] = match key.as_str() {
                "Limit" => text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
                _ => Value::String(text),
            };
        }
        let input: wire::ListPipesRequest = request("ListPipes", value)?;
        state.pipes().list_pipes(&caller.account_id, &input).await
    };
    respond(run.await)
}

/// Whether a `/tags/{arn}` request names a pipe.
pub fn is_pipe_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:pipes:")
}

/// ListTagsForResource on a pipe.
pub async fn list_tags(state: &AppState, caller: &Caller, arn: &str) -> Response {
    let run = async {
        let _: wire::ListTagsForResourceRequest = request("ListTagsForResource", json!({"resourceArn": arn}))?;
        let tags = state.pipes().tags(&caller.account_id, arn).await?;
        Ok(json!({"tags": tags}))
    };
    respond(run.await)
}

/// TagResource on a pipe.
pub async fn tag(state: &AppState, caller: &Caller, arn: &str, body: &Bytes) -> Response {
    let run = async {
        let mut value = body_json(body).map_err(|p| PipesError::Validation(p.to_string()))?;
        value["resourceArn"] = Value::String(arn.to_string());
        let input: wire::TagResourceRequest = request("TagResource", value)?;
        let add = input.tags.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect();
        state.pipes().change_tags(&caller.account_id, arn, &add, &[]).await?;
        Ok(json!({}))
    };
    respond(run.await)
}

/// UntagResource on a pipe.
pub async fn untag(state: &AppState, caller: &Caller, arn: &str, keys: Vec<String>) -> Response {
    let run = async {
        let input: wire::UntagResourceRequest = request("UntagResource", json!({"resourceArn": arn, "tagKeys": keys}))?;
        state.pipes().change_tags(&caller.account_id, arn, &Default::default(), &input.tag_keys).await?;
        Ok(json!({}))
    };
    respond(run.await)
}
