//! The AppFlow API: generated wire types, the loaded botocore model, the
//! catalog of connectors Sluice supports, and the semantic checks the model
//! alone cannot express.

pub mod catalog;
pub mod checks;
pub mod flow;
#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The AppFlow botocore model this crate was generated from.
pub const MODEL_JSON: &str = include_str!("../../models/appflow-service-2.json");

/// The AppFlow service model, loaded once. Everything under
/// `ConnectorProfileCredentials` counts as secret, not only the members the
/// model marks sensitive (a Salesforce refresh token is not marked there).
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut model = ServiceModel::from_json(MODEL_JSON).expect("bundled AppFlow model is valid");
        model.mark_sensitive("ConnectorProfileCredentials");
        model
    })
}

/// Names of the members that are set (not null) in a serializable
/// union-like structure such as `SourceConnectorProperties`.
pub fn set_members<T: serde::Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}
