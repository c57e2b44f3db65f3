//! Sluice's HTTP API: AppFlow's REST-JSON protocol (and, later, EventBridge's
//! JSON 1.1 protocol) on one port, behind AWS Signature V4.
//!
//! - [`sigv4`] signs and verifies requests; [`auth`] is the middleware.
//! - [`error::ApiError`] is the one error type; it renders AWS-style errors.
//! - [`appflow_api`] holds the AppFlow operations.

pub mod appflow_api;
pub mod auth;
pub mod error;
pub mod sigv4;
pub mod state;

use axum::Router;

pub use error::ApiError;
pub use state::{AccessKey, AppState};

/// The complete HTTP application: every API, authenticated and logged.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(appflow_api::routes())
        .fallback(unknown_operation)
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
