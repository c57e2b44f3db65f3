//! Secrets Manager's JSON 1.1 error shape: HTTP 400 (500 for internal
//! faults) and `{"__type": CODE, "Message": ...}`; the one place secret
//! errors become Secrets Manager codes. Messages never hold a value.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_secrets::SecretsError;

use crate::error::ErrorCode;

/// The Secrets Manager code and status of an error.
pub fn code_of(error: &SecretsError) -> (&'static str, StatusCode) {
    let client = StatusCode::BAD_REQUEST;
    match error {
        SecretsError::NotFound(_) => ("ResourceNotFoundException", client),
        SecretsError::Exists(_) => ("ResourceExistsException", client),
        SecretsError::InvalidParameter(_) => ("InvalidParameterException", client),
        SecretsError::InvalidRequest(_) => ("InvalidRequestException", client),
        SecretsError::Validation(_) => ("ValidationException", client),
        SecretsError::LimitExceeded(_) => ("LimitExceededException", client),
        SecretsError::Decryption(_) => ("DecryptionFailure", client),
        SecretsError::Store(_) | SecretsError::Internal(_) => {
            ("InternalServiceError", StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The response for an error.
pub fn render(error: SecretsError) -> Response {
    let (code, status) = code_of(&error);
    let message = match &error {
        SecretsError::Store(inner) => {
            tracing::error!(error = %inner, "metadata store failure");
            "internal error in the metadata store; see the server log".to_string()
        }
        other => other.to_string(),
    };
    let mut response = (status, axum::Json(json!({"__type": code, "Message": message}))).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    response.extensions_mut().insert(ErrorCode(code));
    response
}
