//! Sluice's HTTP API on one port, behind AWS Signature V4: AppFlow's
//! REST-JSON protocol, EventBridge's JSON 1.1 and SQS's JSON 1.0 protocols
//! (both `POST /`, told apart by `X-Amz-Target`), and IAM's and STS's query
//! protocol (a form-encoded `POST /`, told apart by its signing scope).
//!
//! - [`sigv4`] signs and verifies requests; [`auth`] is the middleware that
//!   resolves the caller; [`authorize`] evaluates its policies per request.
//! - [`error::ApiError`] is the one error type; it renders AWS-style errors.
//! - [`appflow_api`] holds the AppFlow operations, [`events_api`] the
//!   EventBridge operations, [`sqs_api`] the SQS operations;
//!   [`json_protocol`] what the JSON protocols share; [`query_api`] the IAM
//!   and STS operations.

pub mod appflow_api;
pub mod auth;
pub mod authorize;
pub mod dynamodb_api;
pub mod error;
pub mod events_api;
pub mod json_protocol;
pub mod pipes_api;
pub mod query_api;
pub mod secretsmanager_api;
pub mod sigv4;
pub mod sqs_api;
pub mod state;

use axum::Router;

pub use error::ApiError;
pub use state::{AccessKey, AppState};

/// The complete HTTP application: every API, authenticated and logged.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(appflow_api::routes())
        .merge(pipes_api::routes())
        .route("/", axum::routing::post(json_protocol::dispatch))
        .fallback(unknown_operation)
        .layer(axum::extract::DefaultBodyLimit::max(auth::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .with_state(state)
}

async fn unknown_operation(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::UnknownOperation(format!("no operation at {method} {}", uri.path()))
}

/// Serves the application on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
