//! AppFlow's REST-JSON API (botocore model `appflow` 2020-08-23).
//!
//! - [`rest_handler`]: one handler per operation.
//! - [`input`]: request parsing, model validation, paging tokens.

pub mod input;
pub mod rest_handler;

use axum::routing::post;
use axum::Router;

use crate::state::AppState;

/// Routes of every AppFlow operation, at the paths the model gives.
pub fn routes() -> Router<AppState> {
    use rest_handler::*;
    Router::new()
        .route("/create-connector-profile", post(create_connector_profile))
        .route("/describe-connector-profiles", post(describe_connector_profiles))
        .route("/update-connector-profile", post(update_connector_profile))
        .route("/delete-connector-profile", post(delete_connector_profile))
        .route("/create-flow", post(create_flow))
        .route("/describe-flow", post(describe_flow))
        .route("/list-flows", post(list_flows))
        .route("/update-flow", post(update_flow))
        .route("/delete-flow", post(delete_flow))
        .route("/start-flow", post(start_flow))
        .route("/stop-flow", post(stop_flow))
        .route("/describe-flow-execution-records", post(describe_flow_execution_records))
        .route("/cancel-flow-executions", post(cancel_flow_executions))
        .route("/describe-connectors", post(describe_connectors))
        .route("/describe-connector", post(describe_connector))
        .route("/list-connectors", post(list_connectors))
        // Sluice's own extension (not an AppFlow operation).
        .route("/preview-flow", post(preview_flow))
        .route("/backfill-flow", post(backfill_flow))
        .route("/list-connector-entities", post(list_connector_entities))
        .route("/describe-connector-entity", post(describe_connector_entity))
        .route("/register-connector", post(not_supported("RegisterConnector")))
        .route("/unregister-connector", post(not_supported("UnregisterConnector")))
        .route("/update-connector-registration", post(not_supported("UpdateConnectorRegistration")))
        .route("/reset-connector-metadata-cache", post(not_supported("ResetConnectorMetadataCache")))
        .route(
            "/tags/{*resource_arn}",
            axum::routing::get(list_tags_for_resource).post(tag_resource).delete(untag_resource),
        )
}
