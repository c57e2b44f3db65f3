//! EventBridge's error shape: HTTP 400 (500 for internal faults) and
//! `{"__type": CODE, "message": ...}`; the one place bus errors become
//! EventBridge codes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_bus::BusError;

use crate::error::ErrorCode;

/// The EventBridge code and status of an error.
pub fn code_of(error: &BusError) -> (&'static str, StatusCode) {
    let client = StatusCode::BAD_REQUEST;
    match error {
        BusError::InvalidEventPattern(_) => ("InvalidEventPatternException", client),
        BusError::NotFound(_) | BusError::QueueDoesNotExist(_) => ("ResourceNotFoundException", client),
        BusError::AlreadyExists(_) | BusError::QueueNameExists(_) => ("ResourceAlreadyExistsException", client),
        BusError::LimitExceeded(_) => ("LimitExceededException", client),
        BusError::IllegalState(_) => ("IllegalStatusException", client),
        BusError::AccessDenied(_) => ("AccessDeniedException", client),
        BusError::UnknownOperation(_) => ("UnknownOperationException", client),
        BusError::Internal(_) | BusError::Store(_) => ("InternalException", StatusCode::INTERNAL_SERVER_ERROR),
        _ => ("ValidationException", client),
    }
}

/// The response for an error.
pub fn render(error: BusError) -> Response {
    let (code, status) = code_of(&error);
    let message = match &error {
        BusError::Store(inner) => {
            tracing::error!(error = %inner, "metadata store failure");
            "internal error in the metadata store; see the server log".to_string()
        }
        other => other.to_string(),
    };
    let mut response = (status, axum::Json(json!({"__type": code, "message": message}))).into_response();
    response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    response.extensions_mut().insert(ErrorCode(code));
    response
}
