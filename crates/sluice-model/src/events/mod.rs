//! The EventBridge API: generated wire types and the loaded botocore model,
//! plus the logic that needs no I/O: event patterns (matching events to
//! rules) and target input shaping (`InputPath`, `InputTransformer`).

pub mod input_transform;
pub mod pattern;
#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The EventBridge botocore model (`events` 2015-10-07) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/events-service-2.json");

/// The EventBridge service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled EventBridge model is valid"))
}
