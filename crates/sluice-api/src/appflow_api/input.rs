//! Request parsing: JSON body -> model validation (every problem) -> typed
//! request; and the opaque paging tokens.

use axum::body::Bytes;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_model::appflow::service_model;
use sluice_model::shape_validator::UnknownMembers;
use sluice_model::ValidationProblems;

use crate::error::ApiError;

/// Default page size when a request gives no `maxResults`.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Parses a request body; an empty body is an empty object.
pub fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::Serialization(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Serialization("request body must be a JSON object".into()));
    }
    Ok(value)
}

/// A request checked against the model: the typed value when it
/// deserializes, plus every problem found so far. Handlers add their
/// semantic problems and then call [`Checked::finish`].
pub struct Checked<T> {
    /// The typed request, if the JSON deserializes.
    pub request: Option<T>,
    /// Problems found.
    pub problems: ValidationProblems,
}

impl<T> Checked<T> {
    /// The request when no problem was found, otherwise a ValidationException
    /// listing all of them.
    pub fn finish(self) -> Result<T, ApiError> {
        match (self.request, self.problems.is_empty()) {
            (Some(request), true) => Ok(request),
            (_, false) => Err(ApiError::Validation(self.problems)),
            (None, true) => Err(ApiError::validation("request does not match the operation's input shape")),
        }
    }
}

/// Validates `value` against the input shape of `operation` and
/// deserializes it into `T`.
pub fn check<T: DeserializeOwned>(operation: &str, value: Value) -> Checked<T> {
    let problems = service_model().validate_input(operation, &value, UnknownMembers::Ignore);
    let request = match serde_json::from_value::<T>(value) {
        Ok(request) => Some(request),
        Err(e) => {
            if problems.is_empty() {
                tracing::warn!(operation, error = %e, "request passed model validation but did not deserialize");
            }
            None
        }
    };
    Checked { request, problems }
}

/// Validates and deserializes with no further checks.
pub fn parse<T: DeserializeOwned>(operation: &str, value: Value) -> Result<T, ApiError> {
    check(operation, value).finish()
}

/// Encodes a store cursor as an opaque `nextToken` bound to one operation.
pub fn encode_token(operation: &str, cursor: &str) -> String {
    B64.encode(format!("{operation}\n{cursor}"))
}

/// Decodes a `nextToken` made by [`encode_token`] for `operation`.
pub fn decode_token(operation: &str, token: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::validation(format!("Invalid nextToken for {operation}"));
    let bytes = B64.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (op, cursor) = text.split_once('\n').ok_or_else(invalid)?;
    if op != operation {
        return Err(invalid());
    }
    Ok(cursor.to_string())
}

/// The store page request for `maxResults`/`nextToken`.
pub fn page_request(
    operation: &str,
    max_results: Option<i32>,
    next_token: Option<&str>,
) -> Result<sluice_store::PageRequest, ApiError> {
    let cursor = next_token.map(|t| decode_token(operation, t)).transpose()?;
    let limit = max_results.map(|m| m.max(1) as usize).unwrap_or(DEFAULT_PAGE_SIZE);
    Ok(sluice_store::PageRequest { cursor, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_operation() {
        let token = encode_token("ListFlows", "flow-7");
        assert_eq!(decode_token("ListFlows", &token).unwrap(), "flow-7");
        assert!(decode_token("DescribeConnectorProfiles", &token).is_err());
        assert!(decode_token("ListFlows", "!!garbage!!").is_err());
    }

    #[test]
    fn empty_body_is_empty_object_and_arrays_are_refused() {
        assert_eq!(body_json(&Bytes::from_static(b"")).unwrap(), serde_json::json!({}));
        assert!(matches!(body_json(&Bytes::from_static(b"[1]")), Err(ApiError::Serialization(_))));
        assert!(matches!(body_json(&Bytes::from_static(b"{")), Err(ApiError::Serialization(_))));
    }
}
