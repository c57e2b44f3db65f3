//! The API's one error type and the one place that renders errors the way
//! AWS services do: HTTP status, `x-amzn-ErrorType` header, JSON `message`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sluice_model::ValidationProblems;
use sluice_store::StoreError;

/// Every error the API returns to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request breaks the model or a semantic rule; lists every problem.
    #[error("{0}")]
    Validation(ValidationProblems),
    /// The request body is not JSON of the right top-level shape.
    #[error("{0}")]
    Serialization(String),
    /// A resource with that name exists, or the resource is in the wrong state.
    #[error("{0}")]
    Conflict(String),
    /// The named resource does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The operation does not apply to this resource.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// No credentials, or an access key the server does not know.
    #[error("{0}")]
    UnrecognizedClient(String),
    /// The signature or its scope does not check out.
    #[error("{0}")]
    InvalidSignature(String),
    /// The Authorization header is not a well-formed SigV4 header.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Policy evaluation refused the call.
    #[error("{0}")]
    AccessDenied(String),
    /// The session's temporary credentials have expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// No such operation on this endpoint.
    #[error("{0}")]
    UnknownOperation(String),
    /// The connector's credentials were refused.
    #[error("{0}")]
    ConnectorAuthentication(String),
    /// The connected application failed or refused the call.
    #[error("{0}")]
    ConnectorServer(String),
    /// Something failed inside Sluice; details are in the server log.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A validation error with a single problem.
    pub fn validation(problem: impl Into<String>) -> Self {
        let mut problems = ValidationProblems::new();
        problems.push(problem);
        Self::Validation(problems)
    }

    /// The AWS error code (`x-amzn-ErrorType`).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::Serialization(_) => "SerializationException",
            Self::Conflict(_) => "ConflictException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::UnsupportedOperation(_) => "UnsupportedOperationException",
            Self::UnrecognizedClient(_) => "UnrecognizedClientException",
            Self::InvalidSignature(_) => "InvalidSignatureException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::ConnectorAuthentication(_) => "ConnectorAuthenticationException",
            Self::ConnectorServer(_) => "ConnectorServerException",
            Self::Internal(_) => "InternalServerException",
        }
    }

    /// The HTTP status, as the AppFlow model assigns it to each error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::Serialization(_) | Self::UnsupportedOperation(_) => StatusCode::BAD_REQUEST,
            Self::IncompleteSignature(_) | Self::ConnectorServer(_) => StatusCode::BAD_REQUEST,
            Self::ConnectorAuthentication(_) => StatusCode::UNAUTHORIZED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::ResourceNotFound(_) | Self::UnknownOperation(_) => StatusCode::NOT_FOUND,
            Self::UnrecognizedClient(_) | Self::InvalidSignature(_) => StatusCode::FORBIDDEN,
            Self::AccessDenied(_) | Self::ExpiredToken => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists { .. } => Self::Conflict(error.to_string()),
            StoreError::NotFound { .. } => Self::ResourceNotFound(error.to_string()),
            StoreError::ProfileInUse { .. } => {
                Self::Conflict(format!("{error}; delete those flows first or pass forceDelete"))
            }
            StoreError::InvalidCursor => Self::validation("Invalid nextToken"),
            other => {
                tracing::error!(error = %other, "metadata store failure");
                Self::Internal("internal error in the metadata store; see the server log".into())
            }
        }
    }
}

impl From<sluice_service::ServiceError> for ApiError {
    fn from(error: sluice_service::ServiceError) -> Self {
        use sluice_service::ServiceError;
        match error {
            ServiceError::Validation(problems) => Self::Validation(problems),
            ServiceError::NotFound(message) => Self::ResourceNotFound(message),
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::UnsupportedOperation(message) => Self::UnsupportedOperation(message),
            ServiceError::ConnectorAuthentication(message) => Self::ConnectorAuthentication(message),
            ServiceError::ConnectorServer(message) => Self::ConnectorServer(message),
            ServiceError::Internal(message) => Self::Internal(message),
            ServiceError::Store(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.error_code();
        // `__type` for the JSON protocols' clients, which read the code from
        // the body; REST-JSON clients read the header.
        let body = serde_json::json!({ "__type": code, "message": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        response.headers_mut().insert("x-amzn-ErrorType", HeaderValue::from_static(code));
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// Marks a response as an error with this code, for request logging.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_aws_codes() {
        let e: ApiError = StoreError::AlreadyExists { kind: "flow", name: "f".into() }.into();
        assert_eq!((e.error_code(), e.status()), ("ConflictException", StatusCode::CONFLICT));
        let e: ApiError = StoreError::NotFound { kind: "flow", name: "f".into() }.into();
        assert_eq!((e.error_code(), e.status().as_u16()), ("ResourceNotFoundException", 404));
        let e: ApiError = StoreError::ProfileInUse { profile: "p".into(), flows: vec!["a".into()] }.into();
        assert_eq!(
            e.to_string(),
            "connector profile 'p' is used by flows: a; delete those flows first or pass forceDelete"
        );
    }
}
