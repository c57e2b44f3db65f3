//! The SQS API (JSON protocol): generated wire types and the loaded botocore
//! model (copied from botocore 1.44.8, see `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The SQS botocore model (`sqs` 2012-11-05) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/sqs-service-2.json");

/// The SQS service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled SQS model is valid"))
}
