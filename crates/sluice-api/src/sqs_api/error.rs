//! SQS's JSON error shape: `{"__type": "com.amazonaws.sqs#NAME", "message":
//! ...}` plus `x-amzn-query-error: LEGACY_CODE;Sender`, the header botocore
//! reads to give clients the codes of SQS's older query protocol
//! (`AWS.SimpleQueueService.NonExistentQueue`, ...). The one place queue
//! errors become SQS codes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_bus::BusError;

use crate::error::ErrorCode;

/// (shape name for `__type`, legacy query code, status) of an error.
pub fn code_of(error: &BusError) -> (&'static str, &'static str, StatusCode) {
    let client = StatusCode::BAD_REQUEST;
    match error {
        BusError::QueueDoesNotExist(_) | BusError::NotFound(_) => {
            ("com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", client)
        }
        BusError::QueueNameExists(_) | BusError::AlreadyExists(_) => {
            ("com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", client)
        }
        BusError::InvalidAttributeName(_) => ("com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", client),
        BusError::InvalidAttributeValue(_) => {
            ("com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", client)
        }
        BusError::ReceiptHandleIsInvalid(_) => {
            ("com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", client)
        }
        BusError::MessageNotInflight(_) => {
            ("com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", client)
        }
        BusError::EmptyBatchRequest(_) => {
            ("com.amazonaws.sqs#EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", client)
        }
        BusError::TooManyEntriesInBatchRequest(_) => (
            "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            client,
        ),
        BusError::BatchEntryIdsNotDistinct(_) => {
            ("com.amazonaws.sqs#BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", client)
        }
        BusError::InvalidBatchEntryId(_) => {
            ("com.amazonaws.sqs#InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", client)
        }
        BusError::BatchRequestTooLong(_) => {
            ("com.amazonaws.sqs#BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", client)
        }
        BusError::InvalidMessageContents(_) => {
            ("com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents", client)
        }
        BusError::AccessDenied(_) => ("com.amazonaws.sqs#AccessDeniedException", "AccessDenied", client),
        BusError::UnknownOperation(_) => {
            ("com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", client)
        }
        BusError::Unsupported(_) => {
            ("com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", client)
        }
        BusError::Internal(_) | BusError::Store(_) => {
            ("com.amazonaws.sqs#InternalError", "InternalError", StatusCode::INTERNAL_SERVER_ERROR)
        }
        _ => ("com.amazon.coral.validate#ValidationException", "InvalidParameterValue", client),
    }
}

/// The response for an error.
pub fn render(error: BusError) -> Response {
    let (shape, legacy, status) = code_of(&error);
    let message = match &error {
        BusError::Store(inner) => {
            tracing::error!(error = %inner, "metadata store failure");
            "internal error in the metadata store; see the server log".to_string()
        }
        other => other.to_string(),
    };
    let fault = if status.is_server_error() { "Receiver" } else { "Sender" };
    let mut response = (status, axum::Json(json!({"__type": shape, "message": message}))).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("{legacy};{fault}")) {
        response.headers_mut().insert("x-amzn-query-error", value);
    }
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    let short = shape.rsplit('#').next().unwrap_or(shape);
    response.extensions_mut().insert(ErrorCode(short));
    response
}
