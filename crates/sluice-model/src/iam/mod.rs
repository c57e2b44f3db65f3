//! IAM (query protocol): generated wire types for the operations Sluice serves (`models/iam-operations.txt`) and the loaded botocore model (copied from botocore 1.44.8, see
//! `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The IAM botocore model (`iam` 2010-05-08) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/iam-service-2.json");

/// The IAM service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled IAM model is valid"))
}
