//! STS (query protocol): generated wire types for the operations Sluice serves (`models/sts-operations.txt`) and the loaded botocore model (copied from botocore 1.44.8, see
//! `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The STS botocore model (`sts` 2011-06-15) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/sts-service-2.json");

/// The STS service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled STS model is valid"))
}
