//! AWS's query protocol (IAM 2010-05-08, STS 2011-06-15): a form-encoded
//! `POST /` whose `Action` names the operation, checked against the
//! botocore model, answered in XML; the one place identity errors become
//! the query protocol's `<ErrorResponse>`.

mod iam;
mod sts;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sluice_iam::{Caller, IamError};
use sluice_model::query_protocol::{decode_input, encode_error, encode_output, form_pairs};
use sluice_model::shape_validator::{ServiceModel, UnknownMembers};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A query service's model and XML namespace.
pub(crate) struct QueryService {
    pub model: &'static ServiceModel,
    pub namespace: &'static str,
}

/// Runs one IAM or STS operation and renders its answer or error.
pub async fn handle(state: &AppState, caller: &Caller, service: &str, body: &Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let params = form_pairs(&String::from_utf8_lossy(body));
    let action = params.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
    let (service, result) = match service {
        "sts" => (sts::service(), sts::run(state, caller, &action, &params).await),
        _ => (iam::service(), iam::run(state, caller, &action, &params).await),
    };
    match result {
        Ok(output) => {
            let xml = encode_output(service.model, service.namespace, &action, &output, &request_id);
            xml_response(StatusCode::OK, xml)
        }
        Err(error) => render(service.namespace, &error, &request_id),
    }
}

/// The input of `action`, every problem reported as IAM reports them.
pub(crate) fn input<T: DeserializeOwned>(
    service: &QueryService,
    action: &str,
    params: &[(String, String)],
) -> Result<T, IamError> {
    if service.model.operation(action).is_none() {
        return Err(IamError::Validation(format!("Could not find operation {action}")));
    }
    let value = decode_input(service.model, action, params).map_err(|p| IamError::Validation(p.to_string()))?;
    let problems = service.model.validate_input(action, &value, UnknownMembers::Ignore);
    if !problems.is_empty() {
        return Err(IamError::Validation(problems.to_string()));
    }
    serde_json::from_value(value).map_err(|e| IamError::Validation(format!("request does not match {action}: {e}")))
}

/// An output as the JSON value the XML encoder walks.
pub(crate) fn output<T: Serialize>(value: &T) -> Result<serde_json::Value, IamError> {
    serde_json::to_value(value).map_err(|e| IamError::Internal(e.to_string()))
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    let mut response = (status, xml).into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("text/xml"));
    response
}

fn render(namespace: &str, error: &IamError, request_id: &str) -> Response {
    let message = match error {
        IamError::Internal(inner) => {
            tracing::error!(error = %inner, "identity service failure");
            "internal error; see the server log".to_string()
        }
        other => other.to_string(),
    };
    let sender = !matches!(error, IamError::Internal(_));
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = xml_response(status, encode_error(namespace, error.code(), &message, sender, request_id));
    response.extensions_mut().insert(ErrorCode(error.code()));
    response
}

/// An authentication or authorization failure of a query-protocol request,
/// in that protocol's shape.
pub fn render_api_error(error: &ApiError, request_id: &str) -> Response {
    let code = match error {
        ApiError::UnrecognizedClient(_) => "InvalidClientTokenId",
        ApiError::InvalidSignature(_) => "SignatureDoesNotMatch",
        ApiError::IncompleteSignature(_) => "IncompleteSignature",
        ApiError::ExpiredToken => "ExpiredToken",
        ApiError::AccessDenied(_) => "AccessDenied",
        ApiError::Internal(_) => "InternalFailure",
        _ => "InvalidAction",
    };
    let status = error.status();
    let xml = encode_error(
        "https://sts.amazonaws.com/doc/2011-06-15/",
        code,
        &error.to_string(),
        status.is_client_error(),
        request_id,
    );
    let mut response = xml_response(status, xml);
    response.extensions_mut().insert(ErrorCode(code));
    response
}
