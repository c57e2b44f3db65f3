//! DynamoDB's JSON error shape: HTTP 400 (500 for internal faults) and
//! `{"__type": "com.amazonaws.dynamodb.v20120810#NAME", "message": ...}`,
//! with the failed item of a `ConditionalCheckFailedException` and the
//! `CancellationReasons` of a `TransactionCanceledException`. The one place
//! table errors become DynamoDB (and DynamoDB Streams) codes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sluice_tables::value::item_to_wire;
use sluice_tables::TablesError;

use crate::error::ErrorCode;

/// The error name and status of an error.
pub fn code_of(error: &TablesError) -> (&'static str, StatusCode) {
    let client = StatusCode::BAD_REQUEST;
    match error {
        TablesError::Validation(_) => ("ValidationException", client),
        TablesError::ResourceNotFound(_) => ("ResourceNotFoundException", client),
        TablesError::ResourceInUse(_) => ("ResourceInUseException", client),
        TablesError::ConditionalCheckFailed { .. } => ("ConditionalCheckFailedException", client),
        TablesError::TransactionCanceled(_) => ("TransactionCanceledException", client),
        TablesError::LimitExceeded(_) => ("LimitExceededException", client),
        TablesError::ExpiredIterator(_) => ("ExpiredIteratorException", client),
        TablesError::TrimmedDataAccess(_) => ("TrimmedDataAccessException", client),
        TablesError::Store(_) | TablesError::Internal(_) => ("InternalServerError", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The response for an error.
pub fn render(error: TablesError) -> Response {
    let (code, status) = code_of(&error);
    let namespace =
        if code == "ValidationException" { "com.amazon.coral.validate#" } else { "com.amazonaws.dynamodb.v20120810#" };
    let message = match &error {
        TablesError::Store(inner) => {
            tracing::error!(error = %inner, "metadata store failure");
            "internal error in the metadata store; see the server log".to_string()
        }
        TablesError::Internal(inner) => {
            tracing::error!(error = %inner, "table service failure");
            inner.clone()
        }
        other => other.to_string(),
    };
    let mut body = json!({"__type": format!("{namespace}{code}"), "message": message});
    match &error {
        TablesError::ConditionalCheckFailed { item: Some(item) } => {
            body["Item"] = json!(item_to_wire(item));
        }
        TablesError::TransactionCanceled(reasons) => {
            body["Message"] = Value::String(message);
            body["CancellationReasons"] = reasons
                .iter()
                .map(|r| {
                    let mut reason = json!({"Code": r.code});
                    if let Some(m) = &r.message {
                        reason["Message"] = json!(m);
                    }
                    if let Some(item) = &r.item {
                        reason["Item"] = json!(item_to_wire(item));
                    }
                    reason
                })
                .collect();
        }
        _ => {}
    }
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    response.extensions_mut().insert(ErrorCode(code));
    response
}
