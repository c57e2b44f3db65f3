//! Salesforce's error shapes: `[{"message", "errorCode", "fields"}]` for
//! REST calls, `{"statusCode", "message", "fields"}` inside collection
//! results, and `{"error", "error_description"}` for OAuth.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error as Salesforce reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfError {
    /// HTTP status of a single-record call.
    pub status: StatusCode,
    /// `errorCode`, e.g. `REQUIRED_FIELD_MISSING`.
    pub code: &'static str,
    /// Human message.
    pub message: String,
    /// Fields the error is about.
    pub fields: Vec<String>,
}

impl SfError {
    /// A 400 error with no fields.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code, message: message.into(), fields: Vec::new() }
    }

    /// Adds the fields the error is about.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    /// `NOT_FOUND` (404).
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "The requested resource does not exist".into(),
            fields: Vec::new(),
        }
    }

    /// `INVALID_SESSION_ID` (401).
    pub fn invalid_session() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "INVALID_SESSION_ID",
            message: "Session expired or invalid".into(),
            fields: Vec::new(),
        }
    }

    /// `INVALID_TYPE` for an unknown object.
    pub fn unknown_object(name: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: format!("The requested resource does not exist: sObject type '{name}' is not supported."),
            fields: Vec::new(),
        }
    }

    /// `INVALID_FIELD` for an unknown field of an object.
    pub fn unknown_field(object: &str, field: &str) -> Self {
        Self::bad_request("INVALID_FIELD", format!("No such column '{field}' on sobject of type {object}"))
    }

    /// The error as an element of a collection result.
    pub fn as_collection_error(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }

    /// The REST body: a one-element array.
    pub fn body(&self) -> Value {
        let mut error = json!({"message": self.message, "errorCode": self.code});
        if !self.fields.is_empty() {
            error["fields"] = json!(self.fields);
        }
        json!([error])
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// An OAuth token endpoint error (`{"error", "error_description"}`).
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status (400 or 401).
    pub status: StatusCode,
    /// `error`, e.g. `invalid_grant`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// A 400 OAuth error.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description: description.into() }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.error, "error_description": self.description}))).into_response()
    }
}
