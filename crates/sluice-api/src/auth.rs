//! Authentication middleware: every request must carry a valid SigV4
//! signature from a known access key. Also logs each request (method, path,
//! status, error code, latency), never bodies or credentials.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::error::{ApiError, ErrorCode};
use crate::sigv4::{self, RequestParts, SignatureProblem};
use crate::state::AppState;

/// Largest request body accepted (AppFlow requests are small JSON documents).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The signing service a request must be scoped to, from its protocol.
fn expected_service(request: &Request) -> &'static str {
    match request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) if target.starts_with("AWSEvents.") => "events",
        Some(target) if target.starts_with("AWSStepFunctions.") => "states",
        Some(target) if target.starts_with("AmazonSQS.") => "sqs",
        _ => "appflow",
    }
}

/// Verifies the signature, then runs the handler with the buffered body.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let (response, access_key_id) = match check(&state, request).await {
        Ok((request, access_key_id)) => (next.run(request).await, Some(access_key_id)),
        Err(error) => (error.into_response(), None),
    };
    let mut response = response;
    let status = response.status().as_u16();
    let error_code = response.extensions().get::<ErrorCode>().map(|c| c.0).unwrap_or("");
    tracing::info!(
        %request_id,
        %method,
        %path,
        status,
        error_code,
        access_key_id = access_key_id.as_deref().unwrap_or("-"),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    response
}

async fn check(state: &AppState, request: Request) -> Result<(Request, String), ApiError> {
    let service = expected_service(&request);
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::IncompleteSignature("Authorization header is not valid text".into()))?
        .ok_or_else(|| ApiError::UnrecognizedClient("Request is missing Authentication Token".into()))?;
    let auth = sigv4::parse_authorization(&authorization).map_err(problem_to_error)?;
    let key = state
        .access_key(&auth.access_key_id)
        .ok_or_else(|| ApiError::UnrecognizedClient("The security token included in the request is invalid.".into()))?
        .clone();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::Serialization(format!("request body is larger than {MAX_BODY_BYTES} bytes")))?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let payload_hash = sigv4::sha256_hex(&body);
    let request_parts = RequestParts {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload_hash: &payload_hash,
    };
    sigv4::verify(
        &auth,
        &request_parts,
        key.secret_access_key.expose(),
        state.region(),
        service,
        OffsetDateTime::now_utc(),
    )
    .map_err(problem_to_error)?;
    Ok((Request::from_parts(parts, Body::from(Bytes::from(body))), key.access_key_id))
}

fn problem_to_error(problem: SignatureProblem) -> ApiError {
    match problem {
        SignatureProblem::Missing => ApiError::UnrecognizedClient("Request is missing Authentication Token".into()),
        SignatureProblem::Malformed(message) => ApiError::IncompleteSignature(message),
        SignatureProblem::Invalid(message) => ApiError::InvalidSignature(message),
    }
}
