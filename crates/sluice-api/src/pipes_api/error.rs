//! Pipes' REST-JSON error shape: the status of each error, the code in
//! `x-amzn-ErrorType` and `{"message": ...}`; the one place pipe errors
//! become Pipes codes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sluice_pipes::PipesError;

use crate::error::ErrorCode;

/// The Pipes code and status of an error.
pub fn code_of(error: &PipesError) -> (&'static str, StatusCode) {
    match error {
        PipesError::Validation(_) => ("ValidationException", StatusCode::BAD_REQUEST),
        PipesError::NotFound(_) => ("NotFoundException", StatusCode::NOT_FOUND),
        PipesError::Conflict(_) => ("ConflictException", StatusCode::CONFLICT),
        PipesError::QuotaExceeded(_) => ("ServiceQuotaExceededException", StatusCode::PAYMENT_REQUIRED),
        PipesError::Store(_) | PipesError::Internal(_) => ("InternalException", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The response for an error.
pub fn render(error: PipesError) -> Response {
    let (code, status) = code_of(&error);
    let message = match &error {
        PipesError::Store(inner) => {
            tracing::error!(error = %inner, "metadata store failure");
            "internal error in the metadata store; see the server log".to_string()
        }
        other => other.to_string(),
    };
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response.extensions_mut().insert(ErrorCode(code));
    response
}
