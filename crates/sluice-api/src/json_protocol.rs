//! What AWS's JSON protocols (EventBridge's 1.1, SQS's and DynamoDB's 1.0) share: one
//! `POST /` whose `X-Amz-Target` names the operation, requests checked
//! against the botocore model, JSON answers.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sluice_model::shape_validator::{ServiceModel, UnknownMembers};
use sluice_model::ValidationProblems;

use sluice_iam::Caller;

use crate::auth::SigningService;
use crate::error::ApiError;
use crate::state::AppState;

/// The JSON body of a request; an empty body is `{}`.
pub fn body_json(body: &Bytes) -> Result<Value, ValidationProblems> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ValidationProblems::single("request body must be a JSON object")),
        Err(e) => Err(ValidationProblems::single(format!("request body is not valid JSON: {e}"))),
    }
}

/// Checks `value` against `operation`'s input shape (every problem listed)
/// and deserializes it.
pub fn parse<T: DeserializeOwned>(
    model: &ServiceModel,
    operation: &str,
    value: Value,
) -> Result<T, ValidationProblems> {
    let problems = model.validate_input(operation, &value, UnknownMembers::Ignore);
    if !problems.is_empty() {
        return Err(problems);
    }
    serde_json::from_value(value).map_err(|e| {
        tracing::warn!(operation, error = %e, "request passed model validation but did not deserialize");
        ValidationProblems::single(format!("request does not match the input shape of {operation}"))
    })
}

/// A JSON answer with the protocol's content type.
pub fn answer<T: Serialize>(content_type: &'static str, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = body.into_response();
            response.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
            response
        }
        Err(e) => ApiError::Internal(format!("response did not serialize: {e}")).into_response(),
    }
}

/// `POST /`: the JSON-protocol operation `X-Amz-Target` names.
/// (A form-encoded `POST /` without one is the query protocol: IAM, STS.)
pub async fn dispatch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(service): Extension<SigningService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if let Some(operation) = target.strip_prefix("AWSEvents.") {
        return crate::events_api::handle(&state, &caller, operation, &body).await;
    }
    if let Some(operation) = target.strip_prefix("AmazonSQS.") {
        let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        return crate::sqs_api::handle(&state, &caller, operation, &body, &format!("http://{host}")).await;
    }
    if let Some(operation) = target.strip_prefix("secretsmanager.") {
        return crate::secretsmanager_api::handle(&state, &caller, operation, &body).await;
    }
    if let Some(operation) = target.strip_prefix("DynamoDB_20120810.") {
        return crate::dynamodb_api::handle(&state, &caller, operation, &body).await;
    }
    if let Some(operation) = target.strip_prefix("DynamoDBStreams_20120810.") {
        return crate::dynamodb_api::handle_streams(&state, &caller, operation, &body).await;
    }
    if target.is_empty() && matches!(service.0, "sts" | "iam") {
        return crate::query_api::handle(&state, &caller, service.0, &body).await;
    }
    ApiError::UnknownOperation(format!("no operation for X-Amz-Target '{target}'")).into_response()
}
