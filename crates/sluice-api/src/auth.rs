//! Authentication middleware: every request must carry a valid SigV4
//! signature from a known access key. Also logs each request (method, path,
//! status, error code, latency), never bodies or credentials.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_iam::IamError;
use time::OffsetDateTime;

use crate::error::{ApiError, ErrorCode};
use crate::sigv4::{self, RequestParts, SignatureProblem};
use crate::state::AppState;

/// Largest request body accepted: DynamoDB's 16 MB (a BatchWriteItem of 25
/// items of 400 KB in JSON); the other APIs' requests are far smaller.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Which wire protocol a request speaks, from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AppFlow's REST-JSON.
    RestJson,
    /// EventBridge's, SQS's and Step Functions' JSON (`X-Amz-Target`).
    Json,
    /// IAM's and STS's query protocol (form-encoded `POST /`).
    Query,
}

/// The protocol of a request.
pub fn protocol_of(request: &Request) -> Protocol {
    let headers = request.headers();
    if headers.contains_key("x-amz-target") {
        return Protocol::Json;
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form && request.uri().path() == "/" {
        Protocol::Query
    } else {
        Protocol::RestJson
    }
}

/// The signing service a request must be scoped to, from its protocol (for
/// the query protocol, the one its credential scope names: `sts` or `iam`).
fn expected_service(request: &Request, scoped: &str) -> Result<&'static str, ApiError> {
    match request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) if target.starts_with("AWSEvents.") => Ok("events"),
        Some(target) if target.starts_with("AWSStepFunctions.") => Ok("states"),
        Some(target) if target.starts_with("AmazonSQS.") => Ok("sqs"),
        Some(target) if target.starts_with("secretsmanager.") => Ok("secretsmanager"),
        Some(target) if target.starts_with("DynamoDB_20120810.") || target.starts_with("DynamoDBStreams_20120810.") => {
            Ok("dynamodb")
        }
        Some(_) => Ok("appflow"),
        None if protocol_of(request) == Protocol::Query => match scoped {
            "sts" => Ok("sts"),
            "iam" => Ok("iam"),
            other => Err(ApiError::UnknownOperation(format!("this server has no query-protocol service {other:?}"))),
        },
        None if is_pipes_path(request.uri().path()) => Ok("pipes"),
        None => Ok("appflow"),
    }
}

/// Whether a REST path is EventBridge Pipes' (its operations, or the tags
/// of a pipe, which share `/tags/{arn}` with AppFlow's).
fn is_pipes_path(path: &str) -> bool {
    path.starts_with("/v1/pipes")
        || path.starts_with("/tags/arn:aws:pipes:")
        || path.to_ascii_lowercase().starts_with("/tags/arn%3aaws%3apipes%3a")
}

/// The service a query-protocol request was signed for (`sts`, `iam`).
#[derive(Debug, Clone, Copy)]
pub struct SigningService(pub &'static str);

/// Verifies the signature, resolves the caller, authorizes the call, then
/// runs the handler with the buffered body and the [`Caller`] as an
/// extension.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let protocol = protocol_of(&request);
    let (response, access_key_id) = match check(&state, request).await {
        Ok((request, access_key_id)) => (next.run(request).await, Some(access_key_id)),
        Err(error) if protocol == Protocol::Query => (crate::query_api::render_api_error(&error, &request_id), None),
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
    let authorization = request
        .headers()
        .get("authorization")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::IncompleteSignature("Authorization header is not valid text".into()))?
        .ok_or_else(|| ApiError::UnrecognizedClient("Request is missing Authentication Token".into()))?;
    let auth = sigv4::parse_authorization(&authorization).map_err(problem_to_error)?;
    let service = expected_service(&request, &auth.service)?;
    let (mut parts, body) = request.into_parts();
    let key = state.identity().resolve(&auth.access_key_id).await.map_err(identity_error)?;
    let session_token = parts.headers.get("x-amz-security-token").and_then(|v| v.to_str().ok());
    key.check(session_token, sluice_engine::now_ms()).map_err(identity_error)?;
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
    sigv4::verify(&auth, &request_parts, key.secret.expose(), state.region(), service, OffsetDateTime::now_utc())
        .map_err(problem_to_error)?;
    let caller = key.caller.clone();
    crate::authorize::authorize(state, &caller, service, &parts, &body).await?;
    parts.extensions.insert(caller);
    parts.extensions.insert(SigningService(service));
    Ok((Request::from_parts(parts, Body::from(body)), auth.access_key_id))
}

/// An identity failure as the API's error.
pub fn identity_error(error: IamError) -> ApiError {
    match error {
        IamError::InvalidClientTokenId => {
            ApiError::UnrecognizedClient("The security token included in the request is invalid.".into())
        }
        IamError::ExpiredToken => ApiError::ExpiredToken,
        IamError::AccessDenied(message) => ApiError::AccessDenied(message),
        other => {
            tracing::error!(error = %other, "resolving an access key failed");
            ApiError::Internal("internal error while checking credentials; see the server log".into())
        }
    }
}

fn problem_to_error(problem: SignatureProblem) -> ApiError {
    match problem {
        SignatureProblem::Missing => ApiError::UnrecognizedClient("Request is missing Authentication Token".into()),
        SignatureProblem::Malformed(message) => ApiError::IncompleteSignature(message),
        SignatureProblem::Invalid(message) => ApiError::InvalidSignature(message),
    }
}
