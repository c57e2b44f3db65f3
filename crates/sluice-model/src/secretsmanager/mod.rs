//! Secrets Manager (JSON 1.1, `secretsmanager.*`):
//! generated wire types for the operations Sluice serves
//! (`models/secretsmanager-operations.txt`) and the loaded botocore model (copied
//! from botocore 1.44.18, see `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The Secrets Manager botocore model (`secretsmanager` 2017-10-17) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/secretsmanager-service-2.json");

/// The Secrets Manager service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled Secrets Manager model is valid"))
}
