//! Marketo's error shapes, rendered in one place: the REST envelope
//! `{"requestId", "success": false, "errors": [{"code", "message"}]}` (HTTP
//! 200, codes are strings), record-level `reasons` inside sync results, and
//! the identity endpoint's `{"error", "error_description"}` (HTTP 401).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A response-level or record-level error with Marketo's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MktoError {
    /// Marketo's error code, e.g. `601` or `1006`.
    pub code: &'static str,
    /// Human message, worded as Marketo words it.
    pub message: String,
}

/// Marks a response as a Marketo error, so the API guard can leave it out of
/// the rate limit and daily quota (as Marketo does) and count it by code.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl MktoError {
    /// An error with any code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// 601: no token, or one the simulator never issued.
    pub fn access_token_invalid() -> Self {
        Self::new("601", "Access token invalid")
    }

    /// 602: a token past its lifetime.
    pub fn access_token_expired() -> Self {
        Self::new("602", "Access token expired")
    }

    /// 605: the resource exists but not for this HTTP method.
    pub fn method_not_supported() -> Self {
        Self::new("605", "HTTP Method not supported")
    }

    /// 606: too many calls in the rate-limit window.
    pub fn rate_limited(calls: u64, window_secs: u64) -> Self {
        Self::new("606", format!("Max rate limit '{calls}' exceeded with in '{window_secs}' secs"))
    }

    /// 607: the daily call quota is used up.
    pub fn daily_quota_reached() -> Self {
        Self::new("607", "Daily quota reached")
    }

    /// 609: the body is not JSON.
    pub fn invalid_json() -> Self {
        Self::new("609", "Invalid JSON")
    }

    /// 610: no such REST resource.
    pub fn resource_not_found() -> Self {
        Self::new("610", "Requested resource not found")
    }

    /// 612: a body that is neither JSON nor a form.
    pub fn invalid_content_type() -> Self {
        Self::new("612", "Invalid Content Type")
    }

    /// 615: too many calls in flight at once.
    pub fn concurrent_limit() -> Self {
        Self::new("615", "Concurrent access limit reached")
    }

    /// 1001: a value of the wrong type.
    pub fn invalid_value(value: &str, type_name: &str) -> Self {
        Self::new("1001", format!("Invalid value '{value}'. Required of type '{type_name}'"))
    }

    /// 1002: a required parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new("1002", format!("Missing value for the required parameter '{name}'"))
    }

    /// 1003: data the endpoint cannot accept, with Marketo's generic message.
    pub fn invalid_data() -> Self {
        Self::new("1003", "Invalid data")
    }

    /// 1003 with a specific message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("1003", message)
    }

    /// 1003 for a paging token this simulator did not issue.
    pub fn invalid_paging_token(token: &str) -> Self {
        Self::new("1003", format!("Invalid nextPageToken '{token}'"))
    }

    /// 1004: updateOnly found no lead.
    pub fn lead_not_found() -> Self {
        Self::new("1004", "Lead not found")
    }

    /// 1005: createOnly found a lead.
    pub fn lead_already_exists() -> Self {
        Self::new("1005", "Lead already exists")
    }

    /// 1006: a field name that is not in the lead schema.
    pub fn field_not_found(name: &str) -> Self {
        Self::new("1006", format!("Field '{name}' not found"))
    }

    /// 1007: the lookup value matches several leads.
    pub fn multiple_leads_match() -> Self {
        Self::new("1007", "Multiple leads match the lookup criteria")
    }

    /// 1011: a field that cannot be used as filterType or lookupField.
    pub fn field_not_supported(name: &str) -> Self {
        Self::new("1011", format!("Field '{name}' not supported"))
    }

    /// The error as an element of `errors` or `reasons`.
    pub fn as_reason(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }

    /// The whole failure envelope.
    pub fn body(&self) -> Value {
        json!({"requestId": request_id(), "success": false, "errors": [self.as_reason()]})
    }
}

impl std::fmt::Display for MktoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl IntoResponse for MktoError {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// An identity endpoint error: HTTP 401 (or 400) with `{"error", "error_description"}`.
#[derive(Debug, Clone)]
pub struct IdentityError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error`, e.g. `unauthorized`.
    pub error: &'static str,
    /// `error_description`.
    pub description: &'static str,
}

impl IdentityError {
    /// Unknown client id or wrong secret.
    pub fn bad_credentials() -> Self {
        Self { status: StatusCode::UNAUTHORIZED, error: "unauthorized", description: "Bad client credentials" }
    }

    /// A grant type other than `client_credentials`.
    pub fn unsupported_grant_type() -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: "invalid_request", description: "Bad grant type" }
    }
}

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.error, "error_description": self.description}))).into_response()
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0x1000);

/// A request id in Marketo's shape: `<hex counter>#<hex milliseconds>`.
pub fn request_id() -> String {
    let counter = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("{counter:x}#{millis:x}")
}

/// A success envelope around `result` (`{"requestId", "result", "success": true}`).
pub fn success(result: Vec<Value>) -> Value {
    json!({"requestId": request_id(), "result": result, "success": true})
}

/// A success envelope without `result` (paging token, empty activity pages).
pub fn success_without_result() -> Value {
    json!({"requestId": request_id(), "success": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_has_string_code_and_no_result() {
        let body = MktoError::field_not_found("foo").body();
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["errors"], json!([{"code": "1006", "message": "Field 'foo' not found"}]));
        assert!(body.get("result").is_none());
        let id = body["requestId"].as_str().unwrap_or_default();
        assert!(id.contains('#'), "{id}");
    }

    #[test]
    fn rate_limit_message_matches_marketo_wording() {
        assert_eq!(MktoError::rate_limited(100, 20).message, "Max rate limit '100' exceeded with in '20' secs");
    }
}
