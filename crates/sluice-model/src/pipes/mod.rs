//! EventBridge Pipes (REST-JSON, `/v1/pipes/...`, signing name `pipes`):
//! generated wire types for the operations Sluice serves
//! (`models/pipes-operations.txt`) and the loaded botocore model (copied
//! from botocore 1.44.18, see `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The Pipes botocore model (`pipes` 2015-10-07) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/pipes-service-2.json");

/// The Pipes service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled Pipes model is valid"))
}
